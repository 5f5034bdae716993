//! The `logflight$archive` schema of a catalog with an archive: one table
//! per archived group, named as the group and answered by the archive
//! alone, so groups already deleted from CloudWatch stay searchable.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;

use super::table::ArchiveView;
use crate::batch::log_schema;
use crate::error::{ConnectorError, Result};
use crate::model::TimeRange;
use crate::names::{not_found_hint, resolve_name, similar_names, NameMatch};
use crate::pushdown::translate;
use crate::table::ScanOptions;

/// `$` cannot occur in a log group's name, so this never hides a group.
pub const ARCHIVE_SCHEMA: &str = "logflight$archive";

pub fn is_archive_schema(name: &str) -> bool {
    name.eq_ignore_ascii_case(ARCHIVE_SCHEMA)
}

/// The archived group a SQL table name of the schema names.
pub async fn resolve_archived(archive: &ArchiveView, name: &str) -> Result<String> {
    let groups = archive.groups().await?;
    match resolve_name(name, groups.keys().map(String::as_str)) {
        NameMatch::Exact(n) | NameMatch::CaseInsensitive(n) => Ok(n),
        NameMatch::Ambiguous(candidates) => Err(ConnectorError::AmbiguousName {
            kind: "archived log group",
            name: name.to_string(),
            candidates,
        }),
        NameMatch::NotFound => {
            let similar = similar_names(name, groups.keys().map(String::as_str), 5);
            Err(ConnectorError::GroupNotFound {
                name: name.to_string(),
                hint: not_found_hint(
                    &similar,
                    &format!("the archive has {} groups; list them with SHOW TABLES FROM \"{ARCHIVE_SCHEMA}\"", groups.len()),
                ),
            })
        }
    }
}

#[derive(Debug)]
pub struct ArchiveSchema {
    archive: Arc<ArchiveView>,
    scan: ScanOptions,
}

impl ArchiveSchema {
    pub fn new(archive: Arc<ArchiveView>, scan: ScanOptions) -> Self {
        Self { archive, scan }
    }
}

#[async_trait]
impl SchemaProvider for ArchiveSchema {
    fn table_names(&self) -> Vec<String> {
        self.archive
            .cached_groups()
            .map(|g| g.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let group = resolve_archived(&self.archive, name).await?;
        Ok(Some(Arc::new(ArchivedGroup {
            archive: Arc::clone(&self.archive),
            group,
            scan: self.scan,
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.archive.cached_groups().is_some_and(|g| {
            matches!(
                resolve_name(name, g.keys().map(String::as_str)),
                NameMatch::Exact(_) | NameMatch::CaseInsensitive(_)
            )
        })
    }
}

/// One archived group as a table: every day it holds, final or not.
#[derive(Debug)]
pub struct ArchivedGroup {
    archive: Arc<ArchiveView>,
    group: String,
    scan: ScanOptions,
}

#[async_trait]
impl TableProvider for ArchivedGroup {
    fn schema(&self) -> SchemaRef {
        log_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Time predicates pick the days and every filter prunes row
        // groups; DataFusion checks them all again.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let (filters, time) = if self.scan.pushdown {
            (filters, translate(filters, &self.group).time)
        } else {
            (&[][..], TimeRange::ALL)
        };
        let days = self.archive.days(&self.group).await?;
        let chosen: Vec<_> = days
            .iter()
            .filter(|(day, record)| {
                !record.pruned
                    && !TimeRange::new(Some(day.start_ms()), Some(day.end_ms()))
                        .intersect(&time)
                        .is_empty()
            })
            .map(|(d, r)| (*d, r.clone()))
            .collect();
        if chosen.iter().all(|(_, r)| r.parts.is_empty()) {
            let schema = match projection {
                Some(p) => Arc::new(log_schema().project(p)?),
                None => log_schema(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        self.archive
            .scan(
                state,
                &self.group,
                &chosen,
                projection,
                filters,
                self.scan.max_partitions,
            )
            .await
    }
}
