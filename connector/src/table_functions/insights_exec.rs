//! The plan node of an `insights(...)` call: the rows of a finished Logs
//! Insights query, with what it cost in its metrics (EXPLAIN ANALYZE, the
//! server's audit log) and what it asked in its EXPLAIN line.
//!
//! The query ran before planning (its columns are only known then), so the
//! node only hands its rows out; the metrics are set when it executes, so
//! they belong to the statement that ran, also when the rows were reused
//! from the same call moments before (the Flight SQL GetFlightInfo/DoGet
//! pair). The server's Prometheus totals are counted apart, when a query
//! really runs.

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::stream;

use crate::insights::{InsightsRequest, InsightsStats};
use crate::time::iso8601;

/// A finished call: what was asked, the typed rows, what it cost.
#[derive(Debug, Clone)]
pub struct InsightsResult {
    pub request: InsightsRequest,
    pub batch: RecordBatch,
    pub stats: InsightsStats,
}

/// The table an `insights(...)` call stands for.
#[derive(Debug)]
pub struct InsightsTable {
    result: Arc<InsightsResult>,
}

impl InsightsTable {
    pub fn new(result: InsightsResult) -> Self {
        Self {
            result: Arc::new(result),
        }
    }
}

#[async_trait]
impl TableProvider for InsightsTable {
    fn schema(&self) -> SchemaRef {
        self.result.batch.schema()
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
        Ok(Arc::new(InsightsExec::new(
            Arc::clone(&self.result),
            projection.cloned(),
        )?))
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct InsightsExec {
    result: Arc<InsightsResult>,
    /// The rows, projected.
    batch: RecordBatch,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl InsightsExec {
    pub fn new(result: Arc<InsightsResult>, projection: Option<Vec<usize>>) -> Result<Self> {
        let batch = match &projection {
            Some(columns) => result.batch.project(columns)?,
            None => result.batch.clone(),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(batch.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            result,
            batch,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// Sets the metrics from the query's statistics.
    fn record_stats(&self, partition: usize) {
        record_stats(&self.metrics, partition, &self.result.stats);
        MetricBuilder::new(&self.metrics)
            .output_rows(partition)
            .add(self.batch.num_rows());
    }
}

/// A Logs Insights query's statistics as plan metrics (EXPLAIN ANALYZE,
/// and the audit log, which reads them from the plan).
pub fn record_stats(metrics: &ExecutionPlanMetricsSet, partition: usize, stats: &InsightsStats) {
    let counter = |name: &'static str, value: f64| {
        MetricBuilder::new(metrics)
            .counter(name, partition)
            .add(value.max(0.0) as usize);
    };
    counter("insights_queries", stats.queries as f64);
    counter("insights_records_matched", stats.records_matched);
    counter("insights_records_scanned", stats.records_scanned);
    counter("insights_bytes_scanned", stats.bytes_scanned);
    counter("api_calls", stats.api_calls as f64);
    MetricBuilder::new(metrics)
        .subset_time("insights_queue_time", partition)
        .add_duration(stats.queued);
}

impl DisplayAs for InsightsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let r = &self.result.request;
        write!(
            f,
            "InsightsExec: language={}, query={:?}, groups=[{}], time=[{}, {}], rows={}",
            r.language.name(),
            r.query,
            r.groups.join(", "),
            iso8601(r.start_s * 1000),
            iso8601(r.end_s * 1000 + 999),
            self.batch.num_rows()
        )?;
        if let Some(limit) = r.limit {
            write!(f, ", limit={limit}")?;
        }
        if r.whole_messages {
            write!(f, ", whole_messages")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for InsightsExec {
    fn name(&self) -> &str {
        "InsightsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "InsightsExec has one partition, asked for {partition}"
            )));
        }
        self.record_stats(partition);
        let batch = self.batch.clone();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            batch.schema(),
            stream::iter([Ok(batch)]),
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::QueryLanguage;
    use datafusion::physical_plan::{collect, displayable};
    use std::time::Duration;

    #[tokio::test]
    async fn rows_are_handed_out_with_their_costs() {
        let rows = vec![
            vec![("a".to_string(), "1".to_string()), ("b".into(), "x".into())],
            vec![("a".to_string(), "2".to_string()), ("b".into(), "y".into())],
        ];
        let result = Arc::new(InsightsResult {
            request: InsightsRequest {
                query: "fields a, b".into(),
                language: QueryLanguage::LogsInsights,
                groups: vec!["/g".into(), "/h".into()],
                start_s: 0,
                end_s: 59,
                limit: None,
                whole_messages: true,
            },
            batch: crate::insights::to_batch(&rows).unwrap(),
            stats: InsightsStats {
                records_matched: 2.0,
                records_scanned: 100.0,
                bytes_scanned: 4096.0,
                queries: 3,
                api_calls: 7,
                queued: Duration::from_millis(5),
            },
        });
        let exec = Arc::new(InsightsExec::new(result, Some(vec![1])).unwrap());
        let line = displayable(exec.as_ref()).one_line().to_string();
        assert_eq!(
            line.trim(),
            "InsightsExec: language=Logs Insights QL, query=\"fields a, b\", groups=[/g, /h], \
             time=[1970-01-01T00:00:00.000Z, 1970-01-01T00:00:59.999Z], rows=2, whole_messages"
        );
        let batches = collect(exec.clone(), Arc::new(TaskContext::default()))
            .await
            .unwrap();
        assert_eq!(batches[0].schema().field(0).name(), "b");
        let metrics = exec.metrics().unwrap();
        let sum = |name| metrics.sum_by_name(name).unwrap().as_usize();
        assert_eq!(sum("insights_queries"), 3);
        assert_eq!(sum("insights_records_matched"), 2);
        assert_eq!(sum("insights_records_scanned"), 100);
        assert_eq!(sum("insights_bytes_scanned"), 4096);
        assert_eq!(sum("api_calls"), 7);
        assert_eq!(sum("insights_queue_time"), 5_000_000);
    }
}
