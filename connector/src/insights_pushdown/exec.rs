//! Running a pushed aggregation: one Logs Insights query over the whole
//! seconds of the range, the edge milliseconds StartQuery cannot bound
//! read and counted here, the two merged and typed as the SQL plan types
//! the aggregation.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{SchemaRef, TimestampMillisecondType};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{project_schema, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{stream, TryStreamExt};
use tracing::Instrument;

use super::eval::{from_rows, merge, Evaluator, Groups, KeyValue};
use super::query::{Agg, AggQuery};
use super::translate::{Output, Pushed};
use super::RangeEnd;
use crate::batch::{LOG_STREAM, MESSAGE, TIME};
use crate::error::ConnectorError;
use crate::insights::{InsightsRequest, QueryLanguage};
use crate::model::{ReadRequest, TimeRange};
use crate::table::LogTable;
use crate::table_functions::insights_exec::record_stats;

/// Rows a pushed aggregation may return: StartQuery's largest limit. A
/// result this long may have been cut, so it fails instead.
fn max_groups() -> usize {
    QueryLanguage::LogsInsights.max_rows()
}

/// How a range is answered: StartQuery's whole seconds, and the
/// milliseconds around them read and counted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSplit {
    /// StartQuery's startTime and endTime, epoch seconds.
    pub core: Option<(i64, i64)>,
    /// Inclusive millisecond ranges outside the core.
    pub edges: Vec<TimeRange>,
    /// With [`RangeEnd::Auto`]: the core's last second and the range's last
    /// millisecond. That second is read whole, since whether the core took
    /// it in past its first millisecond is found out per query.
    pub zone: Option<(i64, i64)>,
}

/// Splits `time` (inclusive milliseconds; an open end is `horizon_ms`)
/// into the seconds Logs Insights counts and the edges it cannot.
pub fn split_range(time: TimeRange, horizon_ms: i64, end: RangeEnd) -> RangeSplit {
    let a = time.start.unwrap_or(0).max(0);
    let b = time.end.unwrap_or(horizon_ms);
    let nothing = RangeSplit {
        core: None,
        edges: vec![],
        zone: None,
    };
    if a > b {
        return nothing;
    }
    // The last millisecond StartQuery counts for an endTime of `e`, under
    // the rule the edge after the core assumes.
    let covered_to = |e: i64| match end {
        RangeEnd::Instant | RangeEnd::Auto => e * 1000,
        RangeEnd::WholeSecond => e * 1000 + 999,
    };
    let s = a.div_euclid(1000) + i64::from(a.rem_euclid(1000) != 0);
    let e = match (time.end, end) {
        // Nothing is stored past the horizon: a second beyond it needs no edge.
        (None, _) => b.div_euclid(1000) + 1,
        (Some(_), RangeEnd::Instant | RangeEnd::Auto) => b.div_euclid(1000),
        (Some(_), RangeEnd::WholeSecond) => b.saturating_add(1).div_euclid(1000) - 1,
    };
    if s > e {
        return RangeSplit {
            edges: vec![TimeRange::new(Some(a), Some(b))],
            ..nothing
        };
    }
    let mut edges = Vec::new();
    if a < s * 1000 {
        edges.push(TimeRange::new(Some(a), Some(s * 1000 - 1)));
    }
    let mut zone = None;
    if time.end.is_some() {
        if end == RangeEnd::Auto {
            zone = Some((e, b));
        } else if covered_to(e) < b {
            edges.push(TimeRange::new(Some(covered_to(e) + 1), Some(b)));
        }
    }
    RangeSplit {
        core: Some((s, e)),
        edges,
        zone,
    }
}

/// The table DataFusion scans in place of the aggregation: its columns are
/// the aggregation's output columns.
#[derive(Debug)]
pub struct InsightsAggregateTable {
    pushed: Pushed,
    schema: SchemaRef,
    end: RangeEnd,
}

impl InsightsAggregateTable {
    pub fn new(pushed: Pushed, schema: SchemaRef, end: RangeEnd) -> Self {
        Self {
            pushed,
            schema,
            end,
        }
    }

    /// The Logs Insights text the aggregation runs as.
    pub fn query_text(&self) -> String {
        self.pushed.query.render()
    }
}

#[async_trait]
impl TableProvider for InsightsAggregateTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table = self
            .pushed
            .table
            .downcast_ref::<LogTable>()
            .ok_or_else(|| {
                DataFusionError::Internal("pushed aggregation without its log table".into())
            })?;
        let horizon = crate::time::now_ms() + HORIZON_MS;
        let split = if self.pushed.impossible {
            RangeSplit {
                core: None,
                edges: vec![],
                zone: None,
            }
        } else {
            split_range(self.pushed.time, horizon, self.end)
        };
        let read = |range: TimeRange| {
            let request = ReadRequest {
                group: table.group().name.clone(),
                streams: self.pushed.streams.clone(),
                time: range,
                filter_pattern: None,
                limit: None,
                require_streams: false,
                api: Default::default(),
            };
            table.live_scan(request, None, crate::time::now_ms())
        };
        let mut edges = Vec::new();
        for range in &split.edges {
            edges.push(read(*range)?);
        }
        // The core's last second, read whole (RangeEnd::Auto).
        if let Some((second, _)) = split.zone {
            edges.push(read(TimeRange::new(
                Some(second * 1000),
                Some((second * 1000).saturating_add(999)),
            ))?);
        }
        Ok(Arc::new(InsightsAggregateExec::new(
            self.pushed.clone(),
            Arc::clone(table.source()),
            table.group().name.clone(),
            split,
            edges,
            Arc::clone(&self.schema),
            projection,
        )?))
    }
}

/// How far past now an open range reaches: CloudWatch refuses events more
/// than two hours in the future.
const HORIZON_MS: i64 = 3 * 3_600_000;

#[derive(Debug)]
pub struct InsightsAggregateExec {
    pushed: Pushed,
    source: crate::source::SharedSource,
    group: String,
    split: RangeSplit,
    /// Scans of the edge milliseconds (read with the log table's scan).
    edges: Vec<Arc<dyn ExecutionPlan>>,
    /// The aggregation's columns, before `projection`.
    full_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl InsightsAggregateExec {
    fn new(
        pushed: Pushed,
        source: crate::source::SharedSource,
        group: String,
        split: RangeSplit,
        edges: Vec<Arc<dyn ExecutionPlan>>,
        full_schema: SchemaRef,
        projection: Option<&Vec<usize>>,
    ) -> Result<Self> {
        let schema = project_schema(&full_schema, projection)?;
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(Self {
            pushed,
            source,
            group,
            split,
            edges,
            full_schema,
            projection: projection.cloned(),
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The query's text, as sent to StartQuery.
    pub fn query_text(&self) -> String {
        self.pushed.query.render()
    }
}

impl DisplayAs for InsightsAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "InsightsAggregate: source={}, group={:?}",
            self.source.describe(),
            self.group
        )?;
        match self.split.core {
            Some((s, e)) => write!(f, ", query=\"{}\", start={s}, end={e}", self.query_text())?,
            None => write!(f, ", query=none")?,
        }
        if !self.split.edges.is_empty() {
            let edges: Vec<String> = self.split.edges.iter().map(|r| r.to_string()).collect();
            write!(f, ", edges read by scan={}", edges.join(" "))?;
        }
        if let Some((second, last_ms)) = self.split.zone {
            write!(
                f,
                ", last second read by scan={second} (range ends {})",
                crate::time::iso8601(last_ms)
            )?;
        }
        Ok(())
    }
}

impl ExecutionPlan for InsightsAggregateExec {
    fn name(&self) -> &str {
        "InsightsAggregate"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// The edge scans are children, so that a plan rule sees them: in a
    /// cluster they run on the node owning the account, like every scan.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.edges.iter().collect()
    }

    /// Edge scans are read whole, partition after partition.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.edges.len()]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != self.edges.len() {
            return Err(DataFusionError::Internal(format!(
                "InsightsAggregate has {} edge scans, given {}",
                self.edges.len(),
                children.len()
            )));
        }
        Ok(Arc::new(InsightsAggregateExec::new(
            self.pushed.clone(),
            Arc::clone(&self.source),
            self.group.clone(),
            self.split.clone(),
            children,
            Arc::clone(&self.full_schema),
            self.projection.as_ref(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "InsightsAggregate has one partition, asked for {partition}"
            )));
        }
        let metric = |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, 0);
        let run = Run {
            pushed: self.pushed.clone(),
            source: Arc::clone(&self.source),
            group: self.group.clone(),
            core: self.split.core,
            zone: self.split.zone,
            edges: self.edges.clone(),
            context,
            schema: Arc::clone(&self.full_schema),
            projection: self.projection.clone(),
            metrics: self.metrics.clone(),
            edge_events: metric("events_fetched"),
            api_calls: metric("api_calls"),
        };
        let span = tracing::info_span!("insights_aggregate", group = %self.group, query = %self.query_text());
        let schema = self.schema();
        let batch = stream::once(async move { run.batch().await }.instrument(span));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batch)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One execution's inputs.
struct Run {
    pushed: Pushed,
    source: crate::source::SharedSource,
    group: String,
    core: Option<(i64, i64)>,
    /// See [`RangeSplit::zone`]; its scan is the last of `edges`.
    zone: Option<(i64, i64)>,
    edges: Vec<Arc<dyn ExecutionPlan>>,
    context: Arc<TaskContext>,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    metrics: ExecutionPlanMetricsSet,
    edge_events: datafusion::physical_plan::metrics::Count,
    api_calls: datafusion::physical_plan::metrics::Count,
}

impl Run {
    async fn batch(self) -> Result<RecordBatch> {
        let query = &self.pushed.query;
        let mut groups = Groups::new();
        if let Some((start_s, end_s)) = self.core {
            let request = InsightsRequest {
                query: query.render(),
                language: QueryLanguage::LogsInsights,
                groups: vec![self.group.clone()],
                start_s,
                end_s,
                limit: Some(max_groups()),
                whole_messages: false,
            };
            let output = self.source.run_insights(&request).await?;
            record_stats(&self.metrics, 0, &output.stats);
            if output.rows.len() >= max_groups() {
                return Err(ConnectorError::InvalidRequest(format!(
                    "the aggregation pushed into Logs Insights (query {}) returned {} groups, \
                     the most Logs Insights returns, so some may be missing; \
                     group more coarsely, or run it as a scan with --insights-pushdown off",
                    output.query_id,
                    max_groups()
                ))
                .into_datafusion());
            }
            groups = from_rows(query, &output.rows)?;
        }
        let evaluator = Evaluator::new(query)?;
        let zone_scan = self.zone.and_then(|_| self.edges.last());
        let plain = self.edges.len() - usize::from(zone_scan.is_some());
        for edge in &self.edges[..plain] {
            self.each_event(edge, |stream, time, message| {
                evaluator.add(&mut groups, stream, time, message);
            })
            .await?;
        }
        if let (Some((second, last_ms)), Some(scan)) = (self.zone, zone_scan) {
            self.count_zone(&evaluator, &mut groups, scan, second, last_ms)
                .await?;
        }
        if self.pushed.grouped {
            // A group with no events is no group in SQL, whatever a
            // `stats count(*)` without `by` returns over no events.
            groups.retain(|_, counts| counts.first() != Some(&0));
        } else if groups.is_empty() {
            groups.insert(vec![], vec![0; query.aggs.len()]);
        }
        // The edge scans are this node's own: their calls are its calls.
        for edge in &self.edges {
            if let Some(calls) = edge.metrics().and_then(|m| m.sum_by_name("api_calls")) {
                self.api_calls.add(calls.as_usize());
            }
        }
        let batch = to_batch(&self.pushed.outputs, &groups, &self.schema)?;
        match &self.projection {
            Some(p) => Ok(batch.project(p)?),
            None => Ok(batch),
        }
    }
}

impl Run {
    /// Calls `f` with (stream, time, message) of every event an edge scan reads.
    async fn each_event(
        &self,
        scan: &Arc<dyn ExecutionPlan>,
        mut f: impl FnMut(&str, i64, &str),
    ) -> Result<()> {
        for partition in 0..scan.properties().partitioning.partition_count() {
            let mut batches = scan.execute(partition, Arc::clone(&self.context))?;
            while let Some(batch) = batches.try_next().await? {
                self.edge_events.add(batch.num_rows());
                let column = |name: &str| {
                    batch.column_by_name(name).cloned().ok_or_else(|| {
                        DataFusionError::Internal(format!("edge scan without {name}"))
                    })
                };
                let (streams, times, messages) =
                    (column(LOG_STREAM)?, column(TIME)?, column(MESSAGE)?);
                let streams = streams.as_string::<i32>();
                let times = times.as_primitive::<TimestampMillisecondType>();
                let messages = messages.as_string::<i32>();
                for i in 0..batch.num_rows() {
                    f(streams.value(i), times.value(i), messages.value(i));
                }
            }
        }
        Ok(())
    }

    /// The core's last second, under [`RangeEnd::Auto`]: its first
    /// millisecond is in the core either way; the rest of it is in the core
    /// only if the service takes an endTime's whole second in. If that rest
    /// holds matching events, a one-second probe query counts what the
    /// service takes in: as many as at the first millisecond (AWS's stated
    /// rule) and the events up to the range's end are added; as many as the
    /// whole second and those past the range's end are taken back out.
    async fn count_zone(
        &self,
        evaluator: &Evaluator,
        groups: &mut Groups,
        scan: &Arc<dyn ExecutionPlan>,
        second: i64,
        last_ms: i64,
    ) -> Result<()> {
        let first_ms = second * 1000;
        let (mut inside, mut past) = (Groups::new(), Groups::new());
        let mut at_first = 0i64;
        self.each_event(scan, |stream, time, message| {
            if time == first_ms {
                at_first += i64::from(evaluator.matches(stream, message));
            } else if time <= last_ms {
                evaluator.add(&mut inside, stream, time, message);
            } else {
                evaluator.add(&mut past, stream, time, message);
            }
        })
        .await?;
        let rest = total(&inside) + total(&past);
        if rest == 0 {
            return Ok(());
        }
        let probe = AggQuery {
            filters: self.pushed.query.filters.clone(),
            aggs: vec![Agg::CountAll],
            keys: vec![],
        };
        let request = InsightsRequest {
            query: probe.render(),
            language: QueryLanguage::LogsInsights,
            groups: vec![self.group.clone()],
            start_s: second,
            end_s: second,
            limit: Some(1),
            whole_messages: false,
        };
        let output = self.source.run_insights(&request).await?;
        record_stats(&self.metrics, 0, &output.stats);
        let counted = total(&from_rows(&probe, &output.rows)?);
        if counted == at_first {
            merge(groups, inside);
        } else if counted == at_first + rest {
            subtract(groups, past)?;
        } else {
            return Err(ConnectorError::InvalidRequest(format!(
                "Logs Insights counted {counted} events in second {second} (query {}), where logflight read \
                 {at_first} at its first millisecond and {} in the whole second, so the end of the range \
                 cannot be made exact (events still arriving?); retry, or set --insights-range-end",
                output.query_id,
                at_first + rest
            ))
            .into_datafusion());
        }
        Ok(())
    }
}

/// Events counted in `groups` (every aggregate is a count of the same events).
fn total(groups: &Groups) -> i64 {
    groups
        .values()
        .map(|v| v.first().copied().unwrap_or(0))
        .sum()
}

/// Takes `other`'s counts out of `from`; a group left with none is gone.
fn subtract(from: &mut Groups, other: Groups) -> Result<()> {
    for (key, values) in other {
        let have = from
            .get_mut(&key)
            .filter(|h| h.iter().zip(&values).all(|(a, b)| a >= b));
        let Some(have) = have else {
            return Err(DataFusionError::Internal(format!(
                "the Insights result lacks events logflight read in its last second ({key:?})"
            )));
        };
        have.iter_mut().zip(&values).for_each(|(a, b)| *a -= b);
        if have.first() == Some(&0) {
            from.remove(&key);
        }
    }
    Ok(())
}

/// The groups as the aggregation's columns, typed as its schema says.
fn to_batch(outputs: &[Output], groups: &Groups, schema: &SchemaRef) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(outputs.len());
    for (output, field) in outputs.iter().zip(schema.fields()) {
        let values = groups.iter().map(|(key, aggs)| match output {
            Output::Key(i) => match &key[*i] {
                KeyValue::Stream(s) => ScalarValue::Utf8(Some(s.clone())),
                KeyValue::Time(ms) => {
                    ScalarValue::TimestampMillisecond(Some(*ms), Some("UTC".into()))
                }
            },
            Output::Agg(i) => ScalarValue::Int64(Some(aggs[*i])),
            Output::Const(v) => v.clone(),
        });
        if groups.is_empty() {
            columns.push(arrow::array::new_empty_array(field.data_type()));
        } else {
            let array = ScalarValue::iter_to_array(values)?;
            columns.push(arrow::compute::cast(&array, field.data_type())?);
        }
    }
    let options = RecordBatchOptions::new().with_row_count(Some(groups.len()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(a: Option<i64>, b: Option<i64>) -> TimeRange {
        TimeRange::new(a, b)
    }

    #[test]
    fn ranges_split_into_seconds_and_edges() {
        use RangeEnd::{Instant, WholeSecond};
        let cases = [
            // [10:00:00.000, 10:00:59.999]: AWS counts up to endTime*1000.
            (
                range(Some(0), Some(59_999)),
                Instant,
                Some((0, 59)),
                vec![range(Some(59_001), Some(59_999))],
            ),
            (
                range(Some(0), Some(59_999)),
                WholeSecond,
                Some((0, 59)),
                vec![],
            ),
            // time >= X AND time < Y on whole seconds.
            (
                range(Some(1000), Some(4999)),
                WholeSecond,
                Some((1, 4)),
                vec![],
            ),
            (range(Some(1000), Some(5000)), Instant, Some((1, 5)), vec![]),
            // Milliseconds at both ends.
            (
                range(Some(1500), Some(7250)),
                WholeSecond,
                Some((2, 6)),
                vec![range(Some(1500), Some(1999)), range(Some(7000), Some(7250))],
            ),
            (
                range(Some(1500), Some(7250)),
                Instant,
                Some((2, 7)),
                vec![range(Some(1500), Some(1999)), range(Some(7001), Some(7250))],
            ),
            // Less than a second: all of it read.
            (
                range(Some(1200), Some(1800)),
                WholeSecond,
                None,
                vec![range(Some(1200), Some(1800))],
            ),
            (
                range(Some(1200), Some(1800)),
                Instant,
                None,
                vec![range(Some(1200), Some(1800))],
            ),
            // Open ends: from the epoch, to the horizon.
            (range(None, None), Instant, Some((0, 101)), vec![]),
            (
                range(Some(1500), None),
                WholeSecond,
                Some((2, 101)),
                vec![range(Some(1500), Some(1999))],
            ),
            (
                range(Some(-5), Some(999)),
                Instant,
                Some((0, 0)),
                vec![range(Some(1), Some(999))],
            ),
            (range(Some(10), Some(5)), Instant, None, vec![]),
        ];
        for (time, end, core, edges) in cases {
            let got = split_range(time, 100_000, end);
            let want = RangeSplit {
                core,
                edges,
                zone: None,
            };
            assert_eq!(got, want, "{time} {end:?}");
        }
        // Auto: the core's last second is read whole; the rest as Instant.
        let auto = |a, b| split_range(range(a, b), 100_000, RangeEnd::Auto);
        assert_eq!(
            auto(Some(1500), Some(7250)),
            RangeSplit {
                core: Some((2, 7)),
                edges: vec![range(Some(1500), Some(1999))],
                zone: Some((7, 7250)),
            }
        );
        assert_eq!(
            auto(Some(1000), None).zone,
            None,
            "an open end has no last second"
        );
        assert_eq!(auto(Some(1200), Some(1800)).core, None);
    }
}
