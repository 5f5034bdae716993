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

use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::prelude::{col, lit};

use crate::archive::table::{archived_days, live_ranges, ArchiveView};
use crate::batch::{log_schema, LOG_STREAM};
use crate::formats::detect::FormatKind;
use crate::insights_pushdown::{InsightsPushdown, RangeEnd};
use crate::model::{LogGroup, ReadRequest, StreamSelection};
use crate::pushdown::{filter_support, translate};
use crate::read_plan::{plan_reads, PlanOptions};
use crate::scan::{LogScanExec, ScanTotals};
use crate::source::SharedSource;

/// What a table covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableScope {
    Stream(String),
    AllStreams,
    /// The typed table of a format: every stream, decoded.
    Typed(FormatKind),
}

/// How tables of a catalog scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Off: every filter and LIMIT is left to DataFusion and scans read
    /// everything (for differential testing and as an escape hatch).
    pub pushdown: bool,
    /// Upper bound on parallel reads per scan.
    pub max_partitions: usize,
    /// How much later than a record's own time (CloudTrail's `eventTime`)
    /// CloudWatch may stamp its event: the delivery delay. A condition on
    /// the record's time reads CloudWatch this much later.
    pub delivery_delay_ms: i64,
    /// How much earlier than the record's own time CloudWatch may stamp
    /// the event (the clocks of two services).
    pub clock_skew_ms: i64,
    /// Whether aggregations go to Logs Insights (see [`crate::insights_pushdown`]).
    pub insights_pushdown: InsightsPushdown,
    /// Which events StartQuery's endTime takes in.
    pub insights_range_end: RangeEnd,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            pushdown: true,
            max_partitions: 4,
            delivery_delay_ms: 24 * 3_600_000,
            clock_skew_ms: 3_600_000,
            insights_pushdown: InsightsPushdown::default(),
            insights_range_end: RangeEnd::default(),
        }
    }
}

#[derive(Debug)]
pub struct LogTable {
    /// The catalog's name, which the scan carries to other nodes.
    catalog: String,
    source: SharedSource,
    totals: Arc<ScanTotals>,
    group: LogGroup,
    scope: TableScope,
    options: ScanOptions,
    /// The catalog's archive, which answers the days it holds final.
    archive: Option<Arc<ArchiveView>>,
}

impl LogTable {
    pub fn new(
        catalog: &str,
        source: SharedSource,
        totals: Arc<ScanTotals>,
        group: LogGroup,
        scope: TableScope,
        options: ScanOptions,
    ) -> Self {
        Self {
            catalog: catalog.to_string(),
            source,
            totals,
            group,
            scope,
            options,
            archive: None,
        }
    }

    pub fn with_archive(mut self, archive: Option<Arc<ArchiveView>>) -> Self {
        self.archive = archive;
        self
    }

    /// The scan of CloudWatch for `request`.
    pub(crate) fn live_scan(
        &self,
        request: ReadRequest,
        projection: Option<&Vec<usize>>,
        now_ms: i64,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let reads = plan_reads(
            request.clone(),
            &self.group,
            PlanOptions {
                max_partitions: self.options.max_partitions,
                now_ms,
            },
        );
        Ok(Arc::new(LogScanExec::try_new(
            &self.catalog,
            Arc::clone(&self.source),
            Arc::clone(&self.totals),
            request,
            reads,
            projection.map(Vec::as_slice),
        )?))
    }

    /// The days the archive holds come from it, the rest from CloudWatch,
    /// as one plan; `None` when the archive holds none of the range.
    async fn archive_and_live(
        &self,
        archive: &ArchiveView,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        exact: &[Expr],
        request: &ReadRequest,
        now_ms: i64,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let days = archive.days(&self.group.name).await?;
        let archived = archived_days(request.time, &days, self.group.retention_in_days, now_ms);
        if archived.is_empty() {
            return Ok(None);
        }
        let mut exact = exact.to_vec();
        if let TableScope::Stream(name) = &self.scope {
            exact.push(col(LOG_STREAM).eq(lit(name.clone())));
        }
        let chosen: Vec<_> = archived.iter().map(|d| (*d, days[d].clone())).collect();
        let mut inputs = vec![
            archive
                .scan(
                    state,
                    &self.group.name,
                    &chosen,
                    projection,
                    &exact,
                    self.options.max_partitions,
                )
                .await?,
        ];
        for range in live_ranges(request.time, &archived) {
            let mut live = request.clone();
            live.time = range;
            inputs.push(self.live_scan(live, projection, now_ms)?);
        }
        let union = UnionExec::try_new(inputs)?;
        Ok(Some(match request.limit {
            Some(limit) => Arc::new(GlobalLimitExec::new(
                Arc::new(CoalescePartitionsExec::new(union)),
                0,
                Some(limit),
            )),
            None => union,
        }))
    }

    /// The plan reading `request`: the archive's days from the archive
    /// (with `exact` applied to its rows, as the live read applies the
    /// request), the rest from CloudWatch.
    pub async fn plan_request(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        exact: &[Expr],
        request: ReadRequest,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let now_ms = crate::time::now_ms();
        if let Some(archive) = &self.archive {
            let both = self
                .archive_and_live(archive, state, projection, exact, &request, now_ms)
                .await?;
            if let Some(plan) = both {
                return Ok(plan);
            }
        }
        self.live_scan(request, projection, now_ms)
    }

    pub fn group(&self) -> &LogGroup {
        &self.group
    }

    pub fn options(&self) -> ScanOptions {
        self.options
    }

    pub fn scope(&self) -> &TableScope {
        &self.scope
    }

    pub fn source(&self) -> &SharedSource {
        &self.source
    }

    /// Whether the catalog has an archive, which may hold days CloudWatch
    /// no longer has (so only a scan sees every event).
    pub fn has_archive(&self) -> bool {
        self.archive.is_some()
    }

    /// The request a scan with these filters and limit will send.
    pub fn read_request(&self, filters: &[Expr], limit: Option<usize>) -> ReadRequest {
        let (filters, limit) = if self.options.pushdown {
            (filters, limit)
        } else {
            (&[][..], None)
        };
        let pushed = translate(filters, &self.group.name);
        let base = match &self.scope {
            TableScope::Stream(name) => StreamSelection::one(name.clone()),
            TableScope::AllStreams | TableScope::Typed(_) => StreamSelection::All,
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
            filter_pattern: pushed.filter_pattern,
            limit,
            require_streams: matches!(self.scope, TableScope::Stream(_)),
            api: Default::default(),
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
        if !self.options.pushdown {
            return Ok(vec![
                TableProviderFilterPushDown::Unsupported;
                filters.len()
            ]);
        }
        Ok(filter_support(filters, &self.group.name))
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let request = self.read_request(filters, limit);
        // Every filter given to the scan is applied to archived rows: those
        // pushed exactly are not checked again above the scan.
        let exact = if self.options.pushdown { filters } else { &[] };
        self.plan_request(state, projection, exact, request).await
    }
}
