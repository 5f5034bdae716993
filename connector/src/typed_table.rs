//! The typed table of a log group (`cloudtrail_events`, `flow_log_records`,
//! `lambda_invocations`): the group's events read as `all_log_streams`
//! reads them, decoded by the group's [`RecordFormat`].
//!
//! Pushdown has two parts. Conditions on the columns every table shares
//! (`log_group`, `log_stream`, `time`) go through the same translator as
//! `all_log_streams` and are exact. Conditions on the format's columns
//! become the format's filter pattern (and, for CloudTrail's `eventtime`,
//! a CloudWatch time range widened by the delivery bounds of
//! [`ScanOptions`]); those are `Inexact`, so DataFusion checks every row
//! again and a pattern can only save reads.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::batch::log_schema;
use crate::formats::detect::FormatKind;
use crate::formats::RecordFormat;
use crate::model::TimeRange;
use crate::pushdown::translate_one;
use crate::table::LogTable;
use crate::typed_scan::{OutputColumn, TypedDecodeExec};

/// The column of `lambda_invocations` holding the function version.
pub const LAMBDA_VERSION: &str = "version";

/// Indices into the log schema of [`INPUT_COLUMNS`].
const INPUT_PROJECTION: [usize; 4] = [0, 1, 2, 4];

#[derive(Debug)]
pub struct TypedTable {
    log: LogTable,
    format: Arc<dyn RecordFormat>,
    schema: SchemaRef,
    columns: Vec<OutputColumn>,
}

/// A typed table's schema (the format's columns, Lambda's `version`, then
/// `log_group`, `log_stream`, `time`) and where each column comes from.
pub fn typed_schema(kind: FormatKind, format: &dyn RecordFormat) -> (SchemaRef, Vec<OutputColumn>) {
    let mut fields: Vec<Field> = format.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<OutputColumn> = (0..fields.len()).map(OutputColumn::Format).collect();
    if kind == FormatKind::Lambda {
        fields.push(Field::new(LAMBDA_VERSION, DataType::Utf8, true));
        columns.push(OutputColumn::LambdaVersion);
    }
    let logs = log_schema();
    for (i, &at) in INPUT_PROJECTION[..3].iter().enumerate() {
        fields.push(logs.field(at).clone());
        columns.push(OutputColumn::Input(i));
    }
    (Arc::new(Schema::new(fields)), columns)
}

impl TypedTable {
    /// `log` is the group's `all_log_streams` table.
    pub fn new(log: LogTable, kind: FormatKind, format: Arc<dyn RecordFormat>) -> Self {
        let (schema, columns) = typed_schema(kind, format.as_ref());
        Self {
            log,
            format,
            schema,
            columns,
        }
    }

    fn group(&self) -> &str {
        &self.log.group().name
    }

    /// Filters on the shared columns that translate exactly.
    fn is_exact(&self, filter: &Expr) -> bool {
        translate_one(filter, self.group()).is_some()
    }

    /// The CloudWatch range that holds every event whose record time is in
    /// `record`: later by up to the delivery delay, earlier by the skew.
    fn widened(&self, record: TimeRange) -> TimeRange {
        let o = self.log.options();
        TimeRange::new(
            record.start.map(|s| s.saturating_sub(o.clock_skew_ms)),
            record.end.map(|e| e.saturating_add(o.delivery_delay_ms)),
        )
    }
}

#[async_trait]
impl TableProvider for TypedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        if !self.log.options().pushdown {
            return Ok(vec![
                TableProviderFilterPushDown::Unsupported;
                filters.len()
            ]);
        }
        let pushed = self.format.pushdown(filters);
        Ok(filters
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if self.is_exact(f) {
                    TableProviderFilterPushDown::Exact
                } else if pushed.used.get(i).copied().unwrap_or(false) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let pushdown = self.log.options().pushdown;
        let (exact, others): (Vec<Expr>, Vec<Expr>) = if pushdown {
            filters.iter().cloned().partition(|f| self.is_exact(f))
        } else {
            (Vec::new(), Vec::new())
        };
        let mut request = self.log.read_request(&exact, None);
        let mut shown = Vec::new();
        if pushdown {
            let refs: Vec<&Expr> = others.iter().collect();
            let format = self.format.pushdown(&refs);
            request.filter_pattern = format.filter_pattern;
            if !format.record_time.is_unbounded() {
                let widened = self.widened(format.record_time);
                shown.push(format!(
                    "record time {} → time {widened}",
                    format.record_time
                ));
                request.time = request.time.intersect(&widened);
            }
            shown.extend(
                refs.iter()
                    .zip(&format.used)
                    .filter(|(_, used)| **used)
                    .map(|(f, _)| f.to_string()),
            );
        }
        let input = self
            .log
            .plan_request(state, Some(&INPUT_PROJECTION.to_vec()), &exact, request)
            .await?;
        let indices: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.columns.len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&indices)?);
        let columns = indices.iter().map(|&i| self.columns[i]).collect();
        // A LIMIT reaches a scan only when every filter is exact.
        let limit = if pushdown { limit } else { None };
        Ok(Arc::new(TypedDecodeExec::new(
            input,
            Arc::clone(&self.format),
            self.group().to_string(),
            columns,
            schema,
            limit,
            shown,
        )))
    }
}
