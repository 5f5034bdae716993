//! The execution plan of a typed table: decodes the `message` of the
//! events its input (a log scan, or archive and live scans) yields into the
//! format's columns, one output batch per input batch.
//!
//! Decoding above the log scan rather than inside it is what lets typed
//! tables read the archive's days like `all_log_streams` does, and keeps
//! the pushed CloudWatch request visible in EXPLAIN on the LogScan below.

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, StringArray, UInt32Array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, SchemaRef, TimestampMillisecondType};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::stream::{self, StreamExt};

use crate::error::ConnectorError;
use crate::formats::detect::lambda_version;
use crate::formats::{RecordDecoder, RecordFormat};
use crate::time::iso8601;

/// The log-schema columns a typed table's input carries, in this order.
pub const INPUT_COLUMNS: [&str; 4] = ["log_group", "log_stream", "time", "message"];

/// Where an output column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputColumn {
    /// The format's own column at this index.
    Format(usize),
    /// The function version in a Lambda stream's name.
    LambdaVersion,
    /// An input column (index into [`INPUT_COLUMNS`]).
    Input(usize),
}

#[derive(Debug)]
pub struct TypedDecodeExec {
    input: Arc<dyn ExecutionPlan>,
    format: Arc<dyn RecordFormat>,
    group: String,
    columns: Vec<OutputColumn>,
    schema: SchemaRef,
    /// Stop each partition after this many rows (LIMIT with every filter exact).
    limit: Option<usize>,
    /// What was pushed, for EXPLAIN.
    pushed: Vec<String>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl TypedDecodeExec {
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        format: Arc<dyn RecordFormat>,
        group: String,
        columns: Vec<OutputColumn>,
        schema: SchemaRef,
        limit: Option<usize>,
        pushed: Vec<String>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            input.properties().output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            input,
            format,
            group,
            columns,
            schema,
            limit,
            pushed,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub fn pushed(&self) -> &[String] {
        &self.pushed
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn format(&self) -> &Arc<dyn RecordFormat> {
        &self.format
    }

    pub fn limit(&self) -> Option<usize> {
        self.limit
    }
}

impl DisplayAs for TypedDecodeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "TypedDecode: table={}", self.format.table_name())?;
        if !self.pushed.is_empty() {
            write!(f, ", pushed=[{}]", self.pushed.join(", "))?;
        }
        if let Some(l) = self.limit {
            write!(f, ", limit={l}")?;
        }
        let names: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(f, ", projection=[{}]", names.join(", "))
    }
}

/// One running partition.
struct Decoding {
    input: SendableRecordBatchStream,
    decoder: Box<dyn RecordDecoder>,
    columns: Vec<OutputColumn>,
    schema: SchemaRef,
    group: String,
    table: &'static str,
    remaining: Option<usize>,
    baseline: BaselineMetrics,
    skipped: Count,
}

impl Decoding {
    fn decode(&mut self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let _timer = self.baseline.elapsed_compute().timer();
        let message = batch.column(3);
        let message = if message.data_type() == &DataType::Utf8 {
            Arc::clone(message)
        } else {
            cast(message, &DataType::Utf8)?
        };
        let messages: &StringArray = message.as_string::<i32>();
        let mut kept: Vec<u32> = Vec::new();
        for i in 0..messages.len() {
            if self.remaining.is_some_and(|r| kept.len() >= r) {
                break;
            }
            match self.decoder.push(messages.value(i)) {
                Ok(true) => kept.push(i as u32),
                Ok(false) => self.skipped.add(1),
                Err(e) => return Err(self.unreadable(batch, i, &e.0)),
            }
        }
        if let Some(r) = &mut self.remaining {
            *r -= kept.len();
        }
        let decoded = self.decoder.finish();
        if kept.is_empty() {
            return Ok(None);
        }
        let indices = UInt32Array::from(kept);
        let mut decoded = decoded.into_iter();
        let arrays = self
            .columns
            .iter()
            .map(|c| -> Result<ArrayRef> {
                Ok(match c {
                    OutputColumn::Format(_) => decoded.next().expect("one array per format column"),
                    OutputColumn::Input(i) => take(batch.column(*i), &indices, None)?,
                    OutputColumn::LambdaVersion => {
                        let streams = take(batch.column(1), &indices, None)?;
                        let streams = cast(&streams, &DataType::Utf8)?;
                        let versions: StringArray = streams
                            .as_string::<i32>()
                            .iter()
                            .map(|s| s.and_then(lambda_version))
                            .collect();
                        Arc::new(versions)
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(indices.len()));
        let out = RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)?;
        self.baseline.record_output(out.num_rows());
        Ok(Some(out))
    }

    /// The error of a message that is not a record of the format, naming
    /// where it is so the user can look at it.
    fn unreadable(&self, batch: &RecordBatch, row: usize, why: &str) -> DataFusionError {
        let stream = cast(batch.column(1), &DataType::Utf8)
            .ok()
            .and_then(|s| (!s.is_null(row)).then(|| s.as_string::<i32>().value(row).to_string()))
            .unwrap_or_default();
        let time = batch
            .column(2)
            .as_primitive_opt::<TimestampMillisecondType>()
            .filter(|t| !t.is_null(row))
            .map(|t| iso8601(t.value(row)))
            .unwrap_or_default();
        ConnectorError::UnreadableRecord(format!(
            "the event at {time} in stream {stream:?} of log group {:?} is not a record {} can read: {why}; \
             {} reads only that format, so the query stops rather than leave the event out \
             (query all_log_streams for the raw events, or set the group's format in [[typed_tables]])",
            self.group, self.table, self.table
        ))
        .into_datafusion()
    }
}

impl ExecutionPlan for TypedDecodeExec {
    fn name(&self) -> &str {
        "TypedDecode"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
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

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!("TypedDecode takes one input, got {}", c.len()))
        })?;
        Ok(Arc::new(TypedDecodeExec::new(
            input,
            Arc::clone(&self.format),
            self.group.clone(),
            self.columns.clone(),
            Arc::clone(&self.schema),
            self.limit,
            self.pushed.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let format_columns: Vec<usize> = self
            .columns
            .iter()
            .filter_map(|c| match c {
                OutputColumn::Format(i) => Some(*i),
                _ => None,
            })
            .collect();
        let state = Decoding {
            input,
            decoder: self.format.decoder(&format_columns),
            columns: self.columns.clone(),
            schema: Arc::clone(&self.schema),
            group: self.group.clone(),
            table: self.format.table_name(),
            remaining: self.limit,
            baseline: BaselineMetrics::new(&self.metrics, partition),
            skipped: MetricBuilder::new(&self.metrics).counter("events_not_records", partition),
        };
        let batches = stream::try_unfold(state, |mut state| async move {
            loop {
                if state.remaining == Some(0) {
                    return Ok(None);
                }
                let Some(batch) = state.input.next().await.transpose()? else {
                    return Ok(None);
                };
                if let Some(out) = state.decode(&batch)? {
                    return Ok(Some((out, state)));
                }
            }
        });
        Ok(crate::cluster::for_transport(
            Box::pin(RecordBatchStreamAdapter::new(
                Arc::clone(&self.schema),
                batches,
            )),
            &context,
        ))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
