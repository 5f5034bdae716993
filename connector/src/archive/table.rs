//! Reading the archive: which days of a query it answers, and the plan
//! that reads their parts.
//!
//! The plan reads exactly the files the newest commit records name (no
//! directory listing decides what a day holds), as Parquet with the
//! query's filters for row-group pruning, and re-applies every filter
//! the table pushed down exactly, so archived rows are held to the same
//! predicates as live ones.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileGroupPartitioner, FileScanConfigBuilder, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::Column as ColumnExpr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::ObjectMeta;

use super::commit::{self, CommitRecord};
use super::exec::{ArchiveRead, ArchiveScanExec};
use super::groups::{self, GroupRecord};
use super::layout::{commits_of, Day};
use super::part::PART_SCHEMA;
use super::store::ArchiveRoot;
use crate::access::GroupAccess;
use crate::batch::log_schema;
use crate::error::{ConnectorError, Result};
use crate::model::TimeRange;
use crate::time::DAY_MS;

/// The partition column a part's group comes from.
static GROUP_FIELD: LazyLock<FieldRef> =
    LazyLock::new(|| Arc::new(Field::new("log_group", DataType::Utf8, false)));

/// The days of a query's range the archive answers: those whose newest
/// record is final, and those CloudWatch no longer holds in full (older
/// than the group's retention). Pruned days are CloudWatch's, if anyone's.
pub fn archived_days(
    range: TimeRange,
    days: &BTreeMap<Day, CommitRecord>,
    retention_in_days: Option<i32>,
    now: i64,
) -> Vec<Day> {
    let expired_before = retention_in_days
        .filter(|d| *d > 0)
        .map(|d| now - i64::from(d) * DAY_MS);
    days.iter()
        .filter(|(day, record)| {
            let span = TimeRange::new(Some(day.start_ms()), Some(day.end_ms()));
            !record.pruned
                && !span.intersect(&range).is_empty()
                && (record.is_final || expired_before.is_some_and(|t| day.start_ms() < t))
        })
        .map(|(day, _)| *day)
        .collect()
}

/// `range` without the archived days: what CloudWatch answers, as ranges.
pub fn live_ranges(range: TimeRange, archived: &[Day]) -> Vec<TimeRange> {
    let mut out = Vec::new();
    let mut start = range.start;
    for day in archived {
        let before = TimeRange::new(start, Some(day.start_ms() - 1)).intersect(&range);
        if !before.is_empty() {
            out.push(before);
        }
        start = Some(day.end_ms() + 1);
    }
    let rest = TimeRange::new(start, range.end).intersect(&range);
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[derive(Debug)]
struct Cached<T> {
    at: Instant,
    value: Arc<T>,
}

/// A catalog's archive as one principal sees it.
#[derive(Debug)]
pub struct ArchiveView {
    root: ArchiveRoot,
    catalog: String,
    /// `None`: every archived group.
    access: Option<GroupAccess>,
    ttl: Duration,
    groups: RwLock<Option<Cached<BTreeMap<String, GroupRecord>>>>,
    days: RwLock<HashMap<String, Cached<BTreeMap<Day, CommitRecord>>>>,
    published: RwLock<HashMap<String, Cached<HashSet<String>>>>,
}

impl ArchiveView {
    pub fn new(root: ArchiveRoot, catalog: impl Into<String>, ttl: Duration) -> Self {
        Self {
            root,
            catalog: catalog.into(),
            access: None,
            ttl,
            groups: RwLock::default(),
            days: RwLock::default(),
            published: RwLock::default(),
        }
    }

    /// The same archive through `access` (tags as archived).
    pub fn restricted(&self, access: GroupAccess) -> Self {
        Self {
            access: Some(access),
            ..Self::new(self.root.clone(), self.catalog.clone(), self.ttl)
        }
    }

    pub fn root(&self) -> &ArchiveRoot {
        &self.root
    }

    fn fresh<T>(&self, cached: Option<&Cached<T>>) -> Option<Arc<T>> {
        cached
            .filter(|c| c.at.elapsed() < self.ttl)
            .map(|c| Arc::clone(&c.value))
    }

    /// The archived groups this view may see.
    pub async fn groups(&self) -> Result<Arc<BTreeMap<String, GroupRecord>>> {
        if let Some(g) = self.fresh(self.groups.read().expect("lock").as_ref()) {
            return Ok(g);
        }
        let mut all = groups::list(&self.root, &self.catalog).await?;
        if let Some(access) = &self.access {
            all.retain(|name, record| access.allows(name, &record.tags));
        }
        let all = Arc::new(all);
        *self.groups.write().expect("lock") = Some(Cached {
            at: Instant::now(),
            value: Arc::clone(&all),
        });
        Ok(all)
    }

    /// The groups as last listed, for DataFusion's sync calls.
    pub fn cached_groups(&self) -> Option<Arc<BTreeMap<String, GroupRecord>>> {
        self.groups
            .read()
            .expect("lock")
            .as_ref()
            .map(|c| Arc::clone(&c.value))
    }

    /// The newest record of each day of a group; empty for a group this
    /// view may not see.
    pub async fn days(&self, group: &str) -> Result<Arc<BTreeMap<Day, CommitRecord>>> {
        if self.access.is_some() && !self.groups().await?.contains_key(group) {
            return Ok(Arc::default());
        }
        if let Some(d) = self.fresh(self.days.read().expect("lock").get(group)) {
            return Ok(d);
        }
        let days = Arc::new(commit::latest(&self.root, &self.catalog, group).await?);
        self.days.write().expect("lock").insert(
            group.to_string(),
            Cached {
                at: Instant::now(),
                value: Arc::clone(&days),
            },
        );
        Ok(days)
    }

    /// The part files at their final paths (one listing of the group's
    /// data folder), so parts a stopped run did not publish yet are read
    /// from their staged copies.
    async fn published(&self, group: &str) -> Result<Arc<HashSet<String>>> {
        if let Some(p) = self.fresh(self.published.read().expect("lock").get(group)) {
            return Ok(p);
        }
        let commits = commits_of(&self.catalog, group);
        // catalog=.../log_group=... under the root: the commit folder without its first two segments.
        let data = Path::parse(commits.as_ref().splitn(3, '/').nth(2).unwrap_or_default())
            .map_err(|e| ConnectorError::Archive(format!("bad data path: {e}")))?;
        let listed: Vec<ObjectMeta> = self
            .root
            .store()
            .list(Some(&data))
            .try_collect()
            .await
            .map_err(|e| self.root.error("list the archived parts", &e))?;
        let found = Arc::new(listed.into_iter().map(|m| m.location.to_string()).collect());
        self.published.write().expect("lock").insert(
            group.to_string(),
            Cached {
                at: Instant::now(),
                value: Arc::clone(&found),
            },
        );
        Ok(found)
    }

    /// The plan reading `days` of `group` with the log table's schema
    /// (projected), `filters` applied exactly. The Parquet read takes only
    /// the columns the output and the filters name (a `GROUP BY
    /// log_stream` never decodes a message), and its files are split into
    /// `partitions` byte ranges, so one big day is read by every core.
    pub async fn scan(
        &self,
        state: &dyn Session,
        group: &str,
        days: &[(Day, CommitRecord)],
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        partitions: usize,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let published = self.published(group).await?;
        let mut files = Vec::new();
        let mut read = ArchiveRead {
            group: group.to_string(),
            days: Vec::new(),
            parts: 0,
            rows: 0,
        };
        for (day, record) in days {
            read.days.push(*day);
            for part in &record.parts {
                read.parts += 1;
                read.rows += part.rows;
                let path = if published.contains(&part.path) {
                    &part.path
                } else {
                    &part.staged
                };
                let location = Path::parse(path)
                    .map_err(|e| ConnectorError::Archive(format!("bad part path {path}: {e}")))?;
                // A part never changes once written, so its time is not
                // looked at; the epoch, because a cluster sends the file
                // list to other nodes and the plan's form cannot carry
                // chrono's minimum.
                let meta = ObjectMeta {
                    location,
                    last_modified: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                    size: part.bytes,
                    e_tag: None,
                    version: None,
                };
                files.push(
                    PartitionedFile::new_from_meta(meta)
                        .with_partition_values(vec![ScalarValue::Utf8(Some(group.to_string()))]),
                );
            }
        }
        read.days.sort();
        let groups = file_groups(files, partitions.max(1));
        let table_schema = TableSchema::builder(Arc::clone(&PART_SCHEMA))
            .with_table_partition_cols(vec![Arc::clone(&GROUP_FIELD)])
            .build();
        let filter = conjunction(filters.iter().cloned());
        let full = log_schema();
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..full.fields().len()).collect());
        let needed = needed_columns(&full, &wanted, filters);
        let mut source = ParquetSource::new(table_schema.clone());
        if let Some(filter) = &filter {
            // Row groups are pruned by `time` statistics; the columns are
            // bound by position, so against the files' own schema.
            let files = DFSchema::try_from(table_schema.table_schema().as_ref().clone())?;
            source = source.with_predicate(state.create_physical_expr(filter.clone(), &files)?);
        }
        let scan_indices = needed
            .iter()
            .map(|&i| table_schema.table_schema().index_of(full.field(i).name()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let config = FileScanConfigBuilder::new(self.root.url().clone(), Arc::new(source))
            .with_file_groups(groups)
            .with_projection_indices(Some(scan_indices))?
            .build();
        let files: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        let files: Arc<dyn ExecutionPlan> = Arc::new(ArchiveScanExec::new(read, files));
        let filtered = match filter {
            Some(filter) => {
                let scanned = DFSchema::try_from(files.schema().as_ref().clone())?;
                let predicate = state.create_physical_expr(filter, &scanned)?;
                Arc::new(FilterExec::try_new(predicate, files)?) as Arc<dyn ExecutionPlan>
            }
            None => files,
        };
        let names: Vec<String> = wanted
            .iter()
            .map(|&i| full.field(i).name().clone())
            .collect();
        project(filtered, &names)
    }
}

/// Below this, files are read whole, one partition each in turn; above
/// it they are cut into byte ranges (row groups go by their midpoint), so
/// one large day is read by every partition.
const SPLIT_BYTES: usize = 1 << 20;

/// The parts spread over `n` partitions.
fn file_groups(files: Vec<PartitionedFile>, n: usize) -> Vec<FileGroup> {
    let whole = vec![FileGroup::new(files)];
    if let Some(split) = FileGroupPartitioner::new()
        .with_target_partitions(n)
        .with_repartition_file_min_size(SPLIT_BYTES)
        .repartition_file_groups(&whole)
    {
        return split;
    }
    let files: Vec<PartitionedFile> = whole.into_iter().flat_map(|g| g.into_inner()).collect();
    let mut groups: Vec<Vec<PartitionedFile>> =
        (0..n.min(files.len()).max(1)).map(|_| Vec::new()).collect();
    let count = groups.len();
    for (i, file) in files.into_iter().enumerate() {
        groups[i % count].push(file);
    }
    groups.into_iter().map(FileGroup::new).collect()
}

/// The columns of `schema` that `wanted` and `filters` name, in order.
fn needed_columns(schema: &Schema, wanted: &[usize], filters: &[Expr]) -> Vec<usize> {
    let mut needed: BTreeSet<usize> = wanted.iter().copied().collect();
    for filter in filters {
        for column in filter.column_refs() {
            if let Ok(i) = schema.index_of(&column.name) {
                needed.insert(i);
            }
        }
    }
    needed.into_iter().collect()
}

/// The columns of `input` named `names`, in that order.
fn project(input: Arc<dyn ExecutionPlan>, names: &[String]) -> DfResult<Arc<dyn ExecutionPlan>> {
    let schema = input.schema();
    let exprs = names
        .iter()
        .map(|name| {
            let column: Arc<dyn PhysicalExpr> =
                Arc::new(ColumnExpr::new(name, schema.index_of(name)?));
            Ok((column, name.clone()))
        })
        .collect::<DfResult<Vec<_>>>()?;
    Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(is_final: bool, pruned: bool) -> CommitRecord {
        let mut r = CommitRecord::empty("c", "/g", Day(0));
        r.version = 1;
        r.is_final = is_final;
        r.pruned = pruned;
        r
    }

    #[test]
    fn small_parts_are_read_whole_and_a_large_one_by_every_partition() {
        let small: Vec<_> = (0..5)
            .map(|i| PartitionedFile::new(format!("day-{i}.parquet"), 2_000))
            .collect();
        let groups = file_groups(small, 2);
        assert_eq!(groups.len(), 2);
        assert!(groups
            .iter()
            .flat_map(|g| g.iter())
            .all(|f| f.range.is_none()));
        assert_eq!(groups.iter().map(|g| g.len()).sum::<usize>(), 5);
        let large = vec![PartitionedFile::new("day.parquet", 40 << 20)];
        let groups = file_groups(large, 4);
        assert_eq!(groups.len(), 4);
        assert!(groups
            .iter()
            .flat_map(|g| g.iter())
            .all(|f| f.range.is_some()));
        assert_eq!(file_groups(Vec::new(), 4).len(), 1);
    }

    #[test]
    fn final_days_come_from_the_archive_and_the_rest_is_live() {
        let d = |s: &str| Day::parse(s).unwrap();
        let days = BTreeMap::from([
            (d("2026-11-01"), record(true, false)),
            (d("2026-11-02"), record(true, false)),
            (d("2026-11-03"), record(false, false)),
            (d("2026-11-04"), record(true, true)),
            (d("2026-11-05"), record(true, false)),
        ]);
        let now = d("2026-12-01").start_ms();
        let all = TimeRange::ALL;
        let archived = archived_days(all, &days, None, now);
        assert_eq!(
            archived,
            [d("2026-11-01"), d("2026-11-02"), d("2026-11-05")]
        );
        let live = live_ranges(all, &archived);
        assert_eq!(
            live,
            [
                TimeRange::new(None, Some(d("2026-11-01").start_ms() - 1)),
                TimeRange::new(
                    Some(d("2026-11-03").start_ms()),
                    Some(d("2026-11-04").end_ms())
                ),
                TimeRange::new(Some(d("2026-11-06").start_ms()), None),
            ]
        );
        // A range inside one archived day has no live part.
        let inside = TimeRange::new(
            Some(d("2026-11-02").start_ms() + 5),
            Some(d("2026-11-02").start_ms() + 9),
        );
        let archived = archived_days(inside, &days, None, now);
        assert_eq!(archived, [d("2026-11-02")]);
        assert!(live_ranges(inside, &archived).is_empty());
        // A day CloudWatch no longer holds whole comes from the archive,
        // final or not.
        let short = archived_days(all, &days, Some(20), now);
        assert!(short.contains(&d("2026-11-03")));
    }
}
