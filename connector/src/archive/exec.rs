//! `ArchiveScan` in a plan: which days of a group the archive answers.
//!
//! The Parquet read below it lists its files, but a reader of EXPLAIN
//! asks a simpler question, the one the `LogScan` beside it answers for
//! CloudWatch: which time range comes from where. This node says it and
//! passes the batches of its one child through untouched.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::TryStreamExt;

use super::layout::Day;
use crate::cluster::NodeName;

/// What the archive side of a scan reads, for EXPLAIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRead {
    pub group: String,
    /// The days read, sorted.
    pub days: Vec<Day>,
    pub parts: usize,
    /// Rows of those parts, before any filter.
    pub rows: u64,
}

impl fmt::Display for ArchiveRead {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "group={:?}, days=[{}] ({} days, {} parts, {} rows)",
            self.group,
            day_ranges(&self.days, 4),
            self.days.len(),
            self.parts,
            self.rows
        )
    }
}

/// Days as runs of consecutive days (`2026-11-01..2026-11-05`), at most
/// `most` runs and then how many more.
pub fn day_ranges(days: &[Day], most: usize) -> String {
    let mut runs: Vec<(Day, Day)> = Vec::new();
    for &day in days {
        match runs.last_mut() {
            Some((_, last)) if last.next() == day => *last = day,
            _ => runs.push((day, day)),
        }
    }
    let mut shown: Vec<String> = runs
        .iter()
        .take(most)
        .map(|(a, b)| {
            if a == b {
                a.text()
            } else {
                format!("{}..{}", a.text(), b.text())
            }
        })
        .collect();
    if runs.len() > most {
        shown.push(format!("and {} more runs", runs.len() - most));
    }
    shown.join(", ")
}

#[derive(Debug)]
pub struct ArchiveScanExec {
    read: ArchiveRead,
    input: Arc<dyn ExecutionPlan>,
    metrics: ExecutionPlanMetricsSet,
}

impl ArchiveScanExec {
    pub fn new(read: ArchiveRead, input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            read,
            input,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub fn read(&self) -> &ArchiveRead {
        &self.read
    }
}

impl DisplayAs for ArchiveScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ArchiveScan: {}", self.read)
    }
}

impl ExecutionPlan for ArchiveScanExec {
    fn name(&self) -> &str {
        "ArchiveScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => Ok(Arc::new(Self::new(self.read.clone(), input))),
            _ => Err(datafusion::error::DataFusionError::Internal(
                "ArchiveScan takes one child".into(),
            )),
        }
    }

    /// On a node of a cluster, the rows each node read are counted under
    /// its name (`rows_read[10.0.0.2:50052]`): EXPLAIN ANALYZE shows how
    /// the archive's files were spread over the nodes.
    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let node = context.session_config().get_extension::<NodeName>();
        let input = self.input.execute(partition, context)?;
        let Some(node) = node else {
            return Ok(input);
        };
        let rows = MetricBuilder::new(&self.metrics).counter(node.metric("rows_read"), partition);
        let schema = input.schema();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            input.inspect_ok(move |batch| rows.add(batch.num_rows())),
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_show_as_runs() {
        let d = |s: &str| Day::parse(s).unwrap();
        let days = [
            d("2026-11-01"),
            d("2026-11-02"),
            d("2026-11-03"),
            d("2026-11-05"),
            d("2026-11-07"),
            d("2026-11-08"),
        ];
        assert_eq!(
            day_ranges(&days, 4),
            "2026-11-01..2026-11-03, 2026-11-05, 2026-11-07..2026-11-08"
        );
        assert_eq!(
            day_ranges(&days, 1),
            "2026-11-01..2026-11-03, and 2 more runs"
        );
        assert_eq!(day_ranges(&[], 4), "");
    }
}
