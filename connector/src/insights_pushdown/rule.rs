//! The optimizer rule that hands an aggregation to Logs Insights.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use super::exec::InsightsAggregateTable;
use super::translate::translate;

/// The name the replacement scan is known by inside the plan.
const SCAN: &str = "insights_aggregate";

/// Replaces an `Aggregate` that [`translate`] can push with a scan of its
/// result, under a projection that gives each column the aggregation's
/// own name and qualifier, so nothing above can tell the difference.
#[derive(Debug, Default)]
pub struct InsightsAggregatePushdown;

impl OptimizerRule for InsightsAggregatePushdown {
    fn name(&self) -> &str {
        "insights_aggregate_pushdown"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some(pushed) = translate(aggregate) else {
            return Ok(Transformed::no(plan));
        };
        let end = pushed.range_end;
        let out = aggregate.schema.as_ref();
        let fields: Vec<Field> = out
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| Field::new(format!("c{i}"), f.data_type().clone(), f.is_nullable()))
            .collect();
        let table = InsightsAggregateTable::new(pushed, Arc::new(Schema::new(fields)), end);
        let scan = LogicalPlanBuilder::scan(SCAN, provider_as_source(Arc::new(table)), None)?;
        let names: Vec<Expr> = out
            .iter()
            .enumerate()
            .map(|(i, (qualifier, field))| {
                Expr::Column(Column::new(Some(SCAN), format!("c{i}")))
                    .alias_qualified(qualifier.cloned(), field.name())
            })
            .collect();
        Ok(Transformed::yes(scan.project(names)?.build()?))
    }
}
