//! The `logflight$meta` schema of every catalog: tables that list the log
//! groups and log streams themselves, for the questions an audit asks of the
//! logs' settings (retention, encryption, tags, which streams went silent).
//!
//! `$` never occurs in a log group name, so this schema can never hide a
//! group. Name predicates (`=`, `IN`, `LIKE 'prefix%'`) on `log_group` and
//! `log_stream` become DescribeLogGroups / DescribeLogStreams name prefixes
//! ([`pushdown::name_selection`]); DataFusion still applies every filter.
//! The listings are read when the query runs, never from the catalog's
//! cache: an audit wants the settings as they are now.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Int32Array, Int64Array, MapBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::ExecutionPlan;
use futures::{stream, StreamExt, TryStreamExt};

use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::model::{LogGroup, LogStream, StreamSelection};
use crate::pushdown::name_selection;
use crate::source::SharedSource;

/// The schema holding the metadata tables in every catalog.
pub const META_SCHEMA: &str = "logflight$meta";
pub const LOG_GROUPS: &str = "log_groups";
pub const LOG_STREAMS: &str = "log_streams";
pub const META_TABLES: [&str; 2] = [LOG_GROUPS, LOG_STREAMS];

/// Stream listings of this many groups are read at once.
const GROUP_CONCURRENCY: usize = 4;

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

static GROUPS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let tags = arrow::array::Array::data_type(
        &MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()).finish(),
    )
    .clone();
    Arc::new(Schema::new(vec![
        Field::new("log_group", DataType::Utf8, false),
        Field::new("arn", DataType::Utf8, true),
        Field::new("creation_time", timestamp(), true),
        // NULL: the events never expire.
        Field::new("retention_in_days", DataType::Int32, true),
        Field::new("stored_bytes", DataType::Int64, true),
        Field::new("log_group_class", DataType::Utf8, false),
        Field::new("kms_key_id", DataType::Utf8, true),
        Field::new("data_protection_status", DataType::Utf8, true),
        Field::new("tags", tags, false),
    ]))
});

static STREAMS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("log_group", DataType::Utf8, false),
        Field::new("log_stream", DataType::Utf8, false),
        Field::new("creation_time", timestamp(), true),
        Field::new("first_event_time", timestamp(), true),
        Field::new("last_event_time", timestamp(), true),
        Field::new("last_ingestion_time", timestamp(), true),
    ]))
});

/// Which metadata table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaTableKind {
    Groups,
    Streams,
}

impl MetaTableKind {
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case(LOG_GROUPS) {
            Some(MetaTableKind::Groups)
        } else if name.eq_ignore_ascii_case(LOG_STREAMS) {
            Some(MetaTableKind::Streams)
        } else {
            None
        }
    }

    pub fn schema(self) -> SchemaRef {
        match self {
            MetaTableKind::Groups => Arc::clone(&GROUPS_SCHEMA),
            MetaTableKind::Streams => Arc::clone(&STREAMS_SCHEMA),
        }
    }
}

/// True when `name` is the metadata schema (as SQL may spell it).
pub fn is_meta_schema(name: &str) -> bool {
    name.eq_ignore_ascii_case(META_SCHEMA)
}

/// Checks a table name of the metadata schema, with an error listing them.
pub fn check_meta_table(name: &str) -> Result<MetaTableKind> {
    MetaTableKind::from_name(name).ok_or_else(|| {
        ConnectorError::InvalidRequest(format!(
            "no table {name:?} in {META_SCHEMA}; its tables are {}",
            META_TABLES.join(", ")
        ))
    })
}

/// The metadata schema of one catalog.
#[derive(Debug)]
pub struct MetaSchema {
    source: SharedSource,
}

impl MetaSchema {
    pub fn new(source: SharedSource) -> Self {
        Self { source }
    }
}

#[async_trait]
impl SchemaProvider for MetaSchema {
    fn table_names(&self) -> Vec<String> {
        META_TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(MetaTableKind::from_name(name).map(|kind| {
            Arc::new(MetaTable {
                kind,
                source: Arc::clone(&self.source),
            }) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        MetaTableKind::from_name(name).is_some()
    }
}

/// `log_groups` or `log_streams` of one catalog.
#[derive(Debug)]
pub struct MetaTable {
    kind: MetaTableKind,
    source: SharedSource,
}

#[async_trait]
impl TableProvider for MetaTable {
    fn schema(&self) -> SchemaRef {
        self.kind.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Name predicates narrow the listing; DataFusion re-checks them all.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let schema = self.kind.schema();
        let tags = schema.index_of("tags").ok();
        let listing = MetaListing {
            kind: self.kind,
            source: Arc::clone(&self.source),
            groups: name_selection(filters, "log_group"),
            streams: name_selection(filters, "log_stream"),
            with_tags: match (projection, tags) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(p), Some(t)) => p.contains(&t),
            },
            schema: Arc::clone(&schema),
        };
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            vec![Arc::new(listing)],
            projection,
            [],
            false,
            limit,
        )?))
    }
}

/// One run of a metadata table: what to list, decided at planning.
#[derive(Debug)]
struct MetaListing {
    kind: MetaTableKind,
    source: SharedSource,
    groups: StreamSelection,
    streams: StreamSelection,
    with_tags: bool,
    schema: SchemaRef,
}

impl PartitionStream for MetaListing {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let source = Arc::clone(&self.source);
        let groups = self.groups.clone();
        let batches = match self.kind {
            MetaTableKind::Groups => {
                let with_tags = self.with_tags;
                stream::once(async move {
                    let groups = list_groups(&source, &groups).await?;
                    let tags: Vec<BTreeMap<String, String>> = if with_tags {
                        stream::iter(groups.iter().cloned().map(|g| {
                            let source = Arc::clone(&source);
                            async move { source.group_tags(&g).await }
                        }))
                        .buffered(GROUP_CONCURRENCY)
                        .try_collect()
                        .await?
                    } else {
                        vec![BTreeMap::new(); groups.len()]
                    };
                    let batch: DfResult<RecordBatch> = Ok(groups_batch(&groups, &tags)?);
                    batch
                })
                .boxed()
            }
            MetaTableKind::Streams => {
                let streams = self.streams.clone();
                let lister = Arc::clone(&source);
                stream::once(async move {
                    list_groups(&lister, &groups)
                        .await
                        .map_err(DataFusionError::from)
                })
                .map_ok(move |groups| {
                    let source = Arc::clone(&source);
                    let streams = streams.clone();
                    stream::iter(groups)
                        .map(move |g| {
                            let source = Arc::clone(&source);
                            let streams = streams.clone();
                            async move {
                                let listed = list_streams(&source, &g.name, &streams).await?;
                                DfResult::Ok(streams_batch(&g.name, &listed)?)
                            }
                        })
                        .buffered(GROUP_CONCURRENCY)
                })
                .try_flatten()
                .boxed()
            }
        };
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        ))
    }
}

/// The groups a selection names, with one prefixed DescribeLogGroups per
/// named group or prefix (all groups otherwise), sorted by name.
async fn list_groups(source: &SharedSource, selection: &StreamSelection) -> Result<Vec<LogGroup>> {
    let mut groups = match selection {
        StreamSelection::All => source.list_groups().await?,
        StreamSelection::Prefix(p) => source.list_groups_with_prefix(p).await?,
        StreamSelection::Named(names) => {
            let mut found = Vec::new();
            for name in names {
                let listed = source.list_groups_with_prefix(name).await?;
                found.extend(listed.into_iter().filter(|g| &g.name == name));
            }
            found
        }
    };
    groups.retain(|g| selection.contains(&g.name));
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// A group's streams the selection names, listed by prefix where it can.
async fn list_streams(
    source: &SharedSource,
    group: &str,
    selection: &StreamSelection,
) -> Result<Vec<LogStream>> {
    let counters = ReadCounters::default();
    let prefixes: Vec<Option<&str>> = match selection {
        StreamSelection::All => vec![None],
        StreamSelection::Prefix(p) => vec![Some(p.as_str())],
        StreamSelection::Named(names) => names.iter().map(|n| Some(n.as_str())).collect(),
    };
    let mut streams = Vec::new();
    for prefix in prefixes {
        let pages: Vec<Vec<LogStream>> = source
            .list_streams(group, prefix, &counters)
            .try_collect()
            .await?;
        streams.extend(
            pages
                .into_iter()
                .flatten()
                .filter(|s| selection.contains(&s.name)),
        );
    }
    streams.sort_by(|a, b| a.name.cmp(&b.name));
    streams.dedup_by(|a, b| a.name == b.name);
    Ok(streams)
}

fn times(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter(values).with_timezone("UTC"))
}

fn groups_batch(
    groups: &[LogGroup],
    tags: &[BTreeMap<String, String>],
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let mut tag_map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for group_tags in tags {
        for (k, v) in group_tags {
            tag_map.keys().append_value(k);
            tag_map.values().append_value(v);
        }
        tag_map.append(true)?;
    }
    let strings = |f: fn(&LogGroup) -> Option<&str>| -> ArrayRef {
        Arc::new(groups.iter().map(f).collect::<StringArray>())
    };
    RecordBatch::try_new(
        Arc::clone(&GROUPS_SCHEMA),
        vec![
            strings(|g| Some(&g.name)),
            strings(|g| g.arn.as_deref()),
            times(groups.iter().map(|g| g.creation_time_ms)),
            Arc::new(
                groups
                    .iter()
                    .map(|g| g.retention_in_days)
                    .collect::<Int32Array>(),
            ),
            Arc::new(
                groups
                    .iter()
                    .map(|g| g.stored_bytes)
                    .collect::<Int64Array>(),
            ),
            strings(|g| Some(g.class.name())),
            strings(|g| g.kms_key_id.as_deref()),
            strings(|g| g.data_protection_status.as_deref()),
            Arc::new(tag_map.finish()),
        ],
    )
}

fn streams_batch(
    group: &str,
    streams: &[LogStream],
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    RecordBatch::try_new(
        Arc::clone(&STREAMS_SCHEMA),
        vec![
            Arc::new(StringArray::from(vec![group; streams.len()])),
            Arc::new(
                streams
                    .iter()
                    .map(|s| Some(s.name.as_str()))
                    .collect::<StringArray>(),
            ),
            times(streams.iter().map(|s| s.creation_time_ms)),
            times(streams.iter().map(|s| s.first_event_ms)),
            times(streams.iter().map(|s| s.last_event_ms)),
            times(streams.iter().map(|s| s.last_ingestion_ms)),
        ],
    )
}
