//! The table of one log stream or of a whole group (`all_log_streams`):
//! decides what is pushed down and builds the scan.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::batch::log_schema;
use crate::pushdown::{filter_support, translate};
use crate::scan::LogScanExec;
use crate::source::{LogGroup, ReadRequest, SharedSource, StreamSelection};

/// What a table covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableScope {
    Stream(String),
    AllStreams,
}

#[derive(Debug)]
pub struct LogTable {
    source: SharedSource,
    group: LogGroup,
    scope: TableScope,
}

impl LogTable {
    pub fn new(source: SharedSource, group: LogGroup, scope: TableScope) -> Self {
        Self {
            source,
            group,
            scope,
        }
    }

    /// The request a scan with these filters and limit will send.
    pub fn read_request(&self, filters: &[Expr], limit: Option<usize>) -> ReadRequest {
        let pushed = translate(filters, &self.group.name);
        let base = match &self.scope {
            TableScope::Stream(name) => StreamSelection::one(name.clone()),
            TableScope::AllStreams => StreamSelection::All,
        };
        let streams = if pushed.impossible {
            StreamSelection::Named(Default::default())
        } else {
            base.intersect(&pushed.streams)
        };
        ReadRequest {
            group: self.group.name.clone(),
            streams,
            time: pushed.time,
            filter_pattern: None,
            limit,
            require_streams: matches!(self.scope, TableScope::Stream(_)),
        }
    }
}

#[async_trait]
impl TableProvider for LogTable {
    fn schema(&self) -> SchemaRef {
        log_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filter_support(filters, &self.group.name))
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let request = self.read_request(filters, limit);
        Ok(Arc::new(LogScanExec::try_new(
            Arc::clone(&self.source),
            request,
            projection.map(Vec::as_slice),
        )?))
    }
}
