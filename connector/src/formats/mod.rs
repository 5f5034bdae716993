//! Typed tables over log formats AWS services write: CloudTrail records,
//! VPC Flow Logs, Lambda reports. Each format turns the `message` of an
//! event into typed columns and turns SQL conditions on those columns into
//! a CloudWatch filter pattern that selects at least every event SQL
//! would (DataFusion re-applies every condition above the scan, so a
//! pattern can only save reads, never change an answer).
//!
//! A format module knows its own columns only; the columns every typed
//! table shares (`log_group`, `log_stream`, `time`) and where the events
//! come from (CloudWatch, the archive) are the typed table's business.

pub mod cloudtrail;
pub mod detect;

use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::Fields;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::model::TimeRange;

pub mod flow_logs;
pub mod lambda;

/// One format's decoding and pushdown.
pub trait RecordFormat: Debug + Send + Sync {
    /// The typed table's name in the group's schema, e.g. `cloudtrail_events`.
    fn table_name(&self) -> &'static str;

    /// The format's own columns, in table order (lower-case names).
    fn fields(&self) -> Fields;

    /// A decoder building the columns at `projection` (indices into
    /// [`RecordFormat::fields`], in that order).
    fn decoder(&self, projection: &[usize]) -> Box<dyn RecordDecoder>;

    /// What `filters` (conditions on this table's columns, as DataFusion
    /// hands them to a scan) let CloudWatch select.
    fn pushdown(&self, filters: &[&Expr]) -> FormatPushdown;

    /// The format as plain data, which [`FormatSpec::build`] makes again:
    /// how a typed table's decoding travels to another node of a cluster,
    /// which cannot ask EC2 for a flow log's layout while it decodes a plan.
    fn spec(&self) -> FormatSpec;
}

/// A format as plain data (see [`RecordFormat::spec`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FormatSpec {
    CloudTrail,
    /// A flow log's layout as EC2 writes it (`${version} ${account-id} ...`).
    FlowLogs {
        layout: String,
    },
    Lambda,
}

impl FormatSpec {
    pub fn kind(&self) -> detect::FormatKind {
        match self {
            FormatSpec::CloudTrail => detect::FormatKind::CloudTrail,
            FormatSpec::FlowLogs { .. } => detect::FormatKind::FlowLogs,
            FormatSpec::Lambda => detect::FormatKind::Lambda,
        }
    }

    pub fn build(&self) -> Result<Arc<dyn RecordFormat>, String> {
        Ok(match self {
            FormatSpec::CloudTrail => Arc::new(cloudtrail::CloudTrail),
            FormatSpec::Lambda => Arc::new(lambda::LambdaReportFormat),
            FormatSpec::FlowLogs { layout } => Arc::new(flow_logs::FlowLogFormat::new(
                flow_logs::FlowLogLayout::parse(layout)?,
            )),
        })
    }
}

/// Decodes messages into rows; one decoder per scan partition.
pub trait RecordDecoder: Send {
    /// Appends the row of one message. `Ok(false)`: the message holds no
    /// record of the format and is not a row (e.g. Lambda's START lines);
    /// an error: it should hold one and cannot be read as one.
    fn push(&mut self, message: &str) -> Result<bool, DecodeError>;

    /// The projected columns of the rows pushed since the last call.
    fn finish(&mut self) -> Vec<ArrayRef>;
}

/// Why a message that should be a record of the format is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a format's filters push to CloudWatch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormatPushdown {
    /// A filter pattern selecting a superset of the rows the filters keep.
    pub filter_pattern: Option<String>,
    /// For each filter: whether it contributed to the pattern or the range
    /// (DataFusion is told `Inexact` for those, `Unsupported` for the rest).
    pub used: Vec<bool>,
    /// Bounds on the record's own time (CloudTrail's `eventtime`), not yet
    /// widened to CloudWatch's event time: the typed table does that.
    pub record_time: TimeRange,
}

/// The conditions ANDed in `expr` (`a AND (b AND c)` gives a, b, c).
pub(crate) fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        other => vec![other],
    }
}

/// DataFusion's verdict on `filter` for the one row in `batch`: the
/// property tests' stand-in for SQL.
#[cfg(test)]
pub(crate) fn sql_keeps(batch: &arrow::array::RecordBatch, filter: &Expr) -> bool {
    use arrow::array::{Array, AsArray};
    use datafusion::common::DFSchema;
    use datafusion::logical_expr::execution_props::ExecutionProps;
    use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
    use datafusion::physical_expr::create_physical_expr;
    let schema = DFSchema::try_from(batch.schema().as_ref().clone()).unwrap();
    let physical = create_physical_expr(
        filter,
        &schema,
        &ExecutionProps::new(),
        &PhysicalPlanningContext::default(),
    )
    .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let result = physical.evaluate(batch).unwrap().into_array(1).unwrap();
    let result = result.as_boolean();
    result.is_valid(0) && result.value(0)
}

/// The format of a typed table; `flow_log_format` is a flow log's
/// `LogFormat` (the default version 2 format when `None`).
pub fn instantiate(
    kind: detect::FormatKind,
    flow_log_format: Option<&str>,
) -> Result<Arc<dyn RecordFormat>, String> {
    use detect::FormatKind;
    match kind {
        FormatKind::CloudTrail => Ok(Arc::new(cloudtrail::CloudTrail)),
        FormatKind::FlowLogs => {
            let layout = match flow_log_format {
                Some(text) => flow_logs::FlowLogLayout::parse(text)?,
                None => flow_logs::FlowLogLayout::default_v2(),
            };
            Ok(Arc::new(flow_logs::FlowLogFormat::new(layout)))
        }
        FormatKind::Lambda => Ok(Arc::new(lambda::LambdaReportFormat)),
    }
}
