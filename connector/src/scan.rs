//! The execution plan of a log scan: streams pages from the source through
//! the batch builder, enforcing exactly what was pushed down.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricValue, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::stream::{self, BoxStream, StreamExt};
use tracing::{debug, Instrument};

use datafusion_distributed::DistributedTaskContext;

use crate::batch::BatchBuilder;
use crate::cluster::NodeName;
use crate::counters::ReadCounters;
use crate::error::ConnectorError;
use crate::model::{EventPage, LogEvent, ReadRequest, StreamSelection};
use crate::source::listing::{is_listing_read, read_listed, ListingHub};
use crate::source::SharedSource;

/// Totals over every scan of a catalog since start, for the server's metrics.
#[derive(Debug, Default)]
pub struct ScanTotals {
    pub events_fetched: AtomicU64,
    pub bytes_fetched: AtomicU64,
    pub pages: AtomicU64,
}

#[derive(Debug)]
pub struct LogScanExec {
    /// The catalog whose source this reads: what names the source on
    /// another node of a cluster (see `crate::cluster::codec`).
    catalog: String,
    totals: Arc<ScanTotals>,
    source: SharedSource,
    /// What pushdown asked for (shown by EXPLAIN).
    request: ReadRequest,
    /// One read per partition (see `read_plan.rs`).
    reads: Vec<ReadRequest>,
    builder: BatchBuilder,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    /// The listing shared by the partitions of a listing read, and which
    /// partitions have taken it (a partition executed again gets a new one).
    hub: Mutex<Option<(Arc<ListingHub>, Vec<bool>)>>,
}

impl LogScanExec {
    pub fn try_new(
        catalog: &str,
        source: SharedSource,
        totals: Arc<ScanTotals>,
        request: ReadRequest,
        reads: Vec<ReadRequest>,
        projection: Option<&[usize]>,
    ) -> Result<Self> {
        let builder = BatchBuilder::new(&request.group, projection)?;
        let reads = if reads.is_empty() {
            vec![request.clone()]
        } else {
            reads
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(builder.schema()),
            Partitioning::UnknownPartitioning(reads.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            catalog: catalog.to_string(),
            totals,
            source,
            request,
            reads,
            builder,
            projection: projection.map(<[usize]>::to_vec),
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
            hub: Mutex::new(None),
        })
    }

    pub fn request(&self) -> &ReadRequest {
        &self.request
    }

    pub fn reads(&self) -> &[ReadRequest] {
        &self.reads
    }

    pub fn catalog(&self) -> &str {
        &self.catalog
    }

    pub fn source(&self) -> &SharedSource {
        &self.source
    }

    /// Indices into the log schema; `None` for every column.
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    /// Whether this task of a distributed stage reads `partition`. A stage
    /// of a cluster runs on several tasks (all on the owner of the
    /// account, see `crate::cluster`), each executing every partition:
    /// each partition is read by one task, and a listing read, whose
    /// partitions share one listing, by the first task alone.
    fn reads_partition(&self, partition: usize, context: &TaskContext) -> bool {
        let task = context
            .session_config()
            .get_extension::<DistributedTaskContext>();
        let Some(task) = task else {
            return true;
        };
        if task.task_count <= 1 {
            return true;
        }
        if is_listing_read(&self.reads[partition]) {
            return task.task_index == 0;
        }
        partition % task.task_count == task.task_index
    }

    /// The listing `partition` takes its streams from.
    fn hub_for(
        &self,
        partition: usize,
        request: &ReadRequest,
        counters: &ReadCounters,
    ) -> Arc<ListingHub> {
        let mut slot = self.hub.lock().expect("hub lock");
        let fresh = match &*slot {
            Some((_, taken)) => taken[partition],
            None => true,
        };
        if fresh {
            let hub = Arc::new(ListingHub::new(&self.source, request, counters));
            *slot = Some((hub, vec![false; self.reads.len()]));
        }
        let (hub, taken) = slot.as_mut().expect("hub just set");
        taken[partition] = true;
        Arc::clone(hub)
    }
}

impl DisplayAs for LogScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let r = &self.request;
        write!(
            f,
            "LogScan: source={}, group={:?}",
            self.source.describe(),
            r.group
        )?;
        if !r.selects_nothing() {
            write!(f, ", api={}", self.reads[0].api.name())?;
        }
        if self.reads.len() > 1 {
            write!(f, ", partitions={}", self.reads.len())?;
        }
        match &r.streams {
            StreamSelection::All => write!(f, ", streams=all")?,
            StreamSelection::Prefix(p) => write!(f, ", stream_prefix={p:?}")?,
            StreamSelection::Named(names) => {
                let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                write!(f, ", streams=[{}]", quoted.join(", "))?
            }
        }
        write!(f, ", time={}", r.time)?;
        if let Some(p) = &r.filter_pattern {
            write!(f, ", filter_pattern={p:?}")?;
        }
        if let Some(l) = r.limit {
            write!(f, ", limit={l}")?;
        }
        let columns: Vec<String> = self
            .builder
            .schema()
            .fields()
            .iter()
            .map(|c| c.name().clone())
            .collect();
        write!(f, ", projection=[{}]", columns.join(", "))?;
        if r.selects_nothing() {
            write!(f, ", reads=nothing")?;
        }
        Ok(())
    }
}

struct ScanMetrics {
    baseline: BaselineMetrics,
    pages: Count,
    empty_pages: Count,
    events_fetched: Count,
    bytes_fetched: Count,
}

/// State of one running scan.
struct ScanState {
    totals: Arc<ScanTotals>,
    pages: BoxStream<'static, crate::error::Result<EventPage>>,
    request: ReadRequest,
    builder: BatchBuilder,
    remaining: Option<usize>,
    metrics: ScanMetrics,
}

impl ScanState {
    /// The next non-empty batch, or `None` at the end of the read.
    async fn next_batch(&mut self) -> Result<Option<arrow::array::RecordBatch>> {
        loop {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            let Some(page) = self.pages.next().await else {
                return Ok(None);
            };
            let page = page.map_err(ConnectorError::into_datafusion)?;
            self.metrics.pages.add(1);
            self.metrics.events_fetched.add(page.events.len());
            self.metrics.bytes_fetched.add(page.bytes);
            self.totals.pages.fetch_add(1, Ordering::Relaxed);
            self.totals
                .events_fetched
                .fetch_add(page.events.len() as u64, Ordering::Relaxed);
            self.totals
                .bytes_fetched
                .fetch_add(page.bytes as u64, Ordering::Relaxed);
            if page.events.is_empty() {
                self.metrics.empty_pages.add(1);
                continue;
            }
            // Sources may over-read (moto's inclusive endTime, coarse pattern
            // matching); the scan promised DataFusion exact results.
            let time = self.request.time;
            let streams = &self.request.streams;
            // Filtered once into a list the builder walks per column.
            let mut wanted: Vec<&LogEvent> = page
                .events
                .iter()
                .filter(|e| time.contains(e.timestamp_ms) && streams.contains(&e.stream))
                .collect();
            if let Some(r) = self.remaining {
                wanted.truncate(r);
            }
            let take = wanted.len();
            if take == 0 {
                continue;
            }
            if let Some(r) = &mut self.remaining {
                *r -= take;
            }
            let _timer = self.metrics.baseline.elapsed_compute().timer();
            let batch = self.builder.build(&wanted)?;
            self.metrics.baseline.record_output(batch.num_rows());
            return Ok(Some(batch));
        }
    }
}

impl ExecutionPlan for LogScanExec {
    fn name(&self) -> &str {
        "LogScan"
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
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema: SchemaRef = self.builder.schema();
        let request = self.reads.get(partition).cloned().ok_or_else(|| {
            datafusion::error::DataFusionError::Internal(format!(
                "LogScan has {} partitions, asked for {partition}",
                self.reads.len()
            ))
        })?;
        let mine = self.reads_partition(partition, &context);
        debug!(?request, partition, mine, "scan starts");
        let metric =
            |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, partition);
        let metrics = ScanMetrics {
            baseline: BaselineMetrics::new(&self.metrics, partition),
            pages: metric("pages"),
            empty_pages: metric("empty_pages"),
            events_fetched: metric("events_fetched"),
            bytes_fetched: metric("bytes_fetched"),
        };
        let counters = ReadCounters {
            api_calls: metric("api_calls"),
            throttled: metric("throttled"),
            retries: metric("retries"),
            streams_listed: metric("streams_listed"),
            streams_pruned: metric("streams_pruned"),
        };
        // On a node of a cluster, what the partition read is also counted
        // under the node's name (see `NodeName::metric`).
        if let Some(node) = context.session_config().get_extension::<NodeName>() {
            let same = |name: &str, count: &Count| {
                MetricBuilder::new(&self.metrics)
                    .with_partition(partition)
                    .build(MetricValue::Count {
                        name: node.metric(name).into(),
                        count: count.clone(),
                    });
            };
            same("api_calls", &counters.api_calls);
            same("events_fetched", &metrics.events_fetched);
            if mine && !request.selects_nothing() {
                let read = Count::new();
                read.add(1);
                same("partitions_read", &read);
            }
        }
        let pages = if request.selects_nothing() || !mine {
            stream::empty().boxed()
        } else if is_listing_read(&request) {
            let hub = self.hub_for(partition, &request, &counters);
            read_listed(Arc::clone(&self.source), hub, counters)
        } else {
            self.source.read_events(&request, &counters)
        };
        let span =
            tracing::info_span!("scan", group = %request.group, partition, time = %request.time);
        let state = ScanState {
            totals: Arc::clone(&self.totals),
            pages,
            remaining: request.limit,
            request,
            builder: self.builder.clone(),
            metrics,
        };
        let batches = stream::try_unfold(state, move |mut state| {
            let span = span.clone();
            async move {
                let next = state.next_batch().instrument(span).await?;
                Ok(next.map(|b| (b, state)))
            }
        });
        Ok(crate::cluster::for_transport(
            Box::pin(RecordBatchStreamAdapter::new(schema, batches)),
            &context,
        ))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
