//! Where each part of a plan runs in a cluster.
//!
//! [`ClusterPlacement`] is the last physical optimizer rule. It finds each
//! scan pipeline, a scan and the row-wise work above it (projections,
//! filters, typed decoding, partial aggregation), and puts it in a stage
//! of its own behind a network boundary:
//!
//! - a CloudWatch scan goes to the node owning its account and region
//!   ([`super::owner`]), on two tasks there (one task would be folded back
//!   into the planning node by datafusion-distributed), which split its
//!   partitions between them; when the planning node is the owner the scan
//!   stays where it is;
//! - an archive scan (Parquet) is spread over every node, its files split
//!   between the tasks.
//!
//! Joins, final aggregation, sorting and limits stay on the planning node.
//! With boundaries placed here, datafusion-distributed distributes nothing
//! else by itself (its own planning is capped at one task per stage), so a
//! CloudWatch read never runs on a node that does not own its account.
//!
//! [`OwnerRouting`] sends every task of a stage holding a CloudWatch scan to
//! the scan's owner; other stages keep the engine's round-robin.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    ReplaceChildrenOptions,
};
use datafusion_distributed::{
    NetworkBoundaryExt, NetworkCoalesceExec, RouteTasksEvent, RouteTasksEventResponse,
    RouteTasksHandler,
};
use url::Url;

use super::owner::owner;
use crate::archive::exec::ArchiveScanExec;
use crate::scan::LogScanExec;
use crate::typed_scan::TypedDecodeExec;

/// Tasks a CloudWatch scan's stage runs on (all on its owner).
const OWNED_TASKS: usize = 2;

/// The nodes of the cluster and which one this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterLayout {
    /// Every node's worker URL, sorted.
    nodes: Vec<String>,
    me: String,
}

impl ClusterLayout {
    /// `nodes` are the worker URLs of every node (this one included), as
    /// `Url` prints them; `me` is this node's.
    pub fn new(mut nodes: Vec<String>, me: String) -> Self {
        nodes.sort();
        nodes.dedup();
        Self { nodes, me }
    }

    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    /// The node owning a source's account and region.
    pub fn owner_of(&self, account_key: &str) -> &str {
        owner(account_key, &self.nodes).unwrap_or(&self.me)
    }

    /// The node owning the account and region `scan` reads.
    fn owner_of_scan(&self, scan: &LogScanExec) -> String {
        self.owner_of(&scan.source().account_key()).to_string()
    }
}

/// Where a scan pipeline runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pipeline {
    /// On this node of the cluster (a CloudWatch scan's owner).
    Owned(String),
    /// Over every node.
    Spread,
}

/// Nodes that work row by row (or partition by partition) and may run in
/// the scan's stage; anything else ends the pipeline.
pub(crate) fn passes_through(plan: &dyn ExecutionPlan) -> bool {
    if let Some(agg) = plan.downcast_ref::<AggregateExec>() {
        return *agg.mode() == AggregateMode::Partial;
    }
    if let Some(repartition) = plan.downcast_ref::<RepartitionExec>() {
        return matches!(repartition.partitioning(), Partitioning::RoundRobinBatch(_));
    }
    plan.is::<ProjectionExec>()
        || plan.is::<FilterExec>()
        || plan.is::<TypedDecodeExec>()
        || plan.is::<ArchiveScanExec>()
        || plan.is::<CooperativeExec>()
        || plan.is::<LocalLimitExec>()
}

/// Nodes whose fetch is met by any `fetch` rows of their input.
fn takes_any_rows(plan: &dyn ExecutionPlan) -> bool {
    plan.is::<CoalescePartitionsExec>()
        || plan.is::<GlobalLimitExec>()
        || plan.is::<LocalLimitExec>()
}

fn pipeline_of(plan: &Arc<dyn ExecutionPlan>, layout: &ClusterLayout) -> Option<Pipeline> {
    if let Some(scan) = plan.downcast_ref::<LogScanExec>() {
        return Some(Pipeline::Owned(layout.owner_of_scan(scan)));
    }
    if let Some(source) = plan.downcast_ref::<DataSourceExec>() {
        return source
            .data_source()
            .downcast_ref::<FileScanConfig>()
            .map(|_| Pipeline::Spread);
    }
    match plan.children().as_slice() {
        [child] if passes_through(plan.as_ref()) => pipeline_of(child, layout),
        _ => None,
    }
}

/// `plan` behind a network boundary on `tasks` tasks; a single partition
/// stays single (a parent may need it).
fn behind_boundary(plan: Arc<dyn ExecutionPlan>, tasks: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let single = plan.output_partitioning().partition_count() == 1;
    let remote: Arc<dyn ExecutionPlan> = Arc::new(NetworkCoalesceExec::try_new(plan, tasks, 1)?);
    Ok(if single {
        Arc::new(CoalescePartitionsExec::new(remote))
    } else {
        remote
    })
}

fn place(plan: Arc<dyn ExecutionPlan>, layout: &ClusterLayout) -> Result<Arc<dyn ExecutionPlan>> {
    match pipeline_of(&plan, layout) {
        Some(Pipeline::Owned(node)) if node == layout.me => return Ok(plan),
        Some(Pipeline::Owned(_)) => return behind_boundary(plan, OWNED_TASKS),
        Some(Pipeline::Spread) if layout.nodes.len() > 1 => {
            return behind_boundary(plan, layout.nodes.len())
        }
        Some(Pipeline::Spread) => return Ok(plan),
        None => {}
    }
    let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
    if children.is_empty() {
        return Ok(plan);
    }
    let mut placed = children
        .iter()
        .map(|c| place(Arc::clone(c), layout))
        .collect::<Result<Vec<_>>>()?;
    if placed.iter().zip(&children).all(|(a, b)| Arc::ptr_eq(a, b)) {
        return Ok(plan);
    }
    // datafusion-distributed pushes the fetch of a node right above a
    // boundary into the remote stage, as a limit on each of its
    // partitions: right under a limit or a coalesce, not under a top-k
    // sort or a join, whose first rows are not any rows. A node without a
    // fetch in between keeps the remote stage whole.
    if plan.fetch().is_some() && !takes_any_rows(plan.as_ref()) {
        for (new, old) in placed.iter_mut().zip(&children) {
            if !Arc::ptr_eq(new, old) && new.is::<NetworkCoalesceExec>() {
                *new = Arc::new(CooperativeExec::new(Arc::clone(new)));
            }
        }
    }
    plan.replace_children(
        placed,
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )
}

/// The rule; see the module's documentation.
#[derive(Debug)]
pub struct ClusterPlacement {
    layout: Arc<ClusterLayout>,
}

impl ClusterPlacement {
    pub fn new(layout: Arc<ClusterLayout>) -> Self {
        Self { layout }
    }
}

impl PhysicalOptimizerRule for ClusterPlacement {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        place(plan, &self.layout)
    }

    fn name(&self) -> &str {
        "ClusterPlacement"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The owners of the CloudWatch scans in a stage (not looking into the
/// stages below it).
fn scan_owners(stage: &Arc<dyn ExecutionPlan>, layout: &ClusterLayout) -> Result<Vec<String>> {
    let mut owners: Vec<String> = Vec::new();
    stage.apply(|node| {
        if node.is_network_boundary() {
            return Ok(TreeNodeRecursion::Jump);
        }
        if let Some(scan) = node.downcast_ref::<LogScanExec>() {
            let o = layout.owner_of_scan(scan);
            if !owners.contains(&o) {
                owners.push(o);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(owners)
}

/// Sends the tasks of a stage holding a CloudWatch scan to its owner.
#[derive(Debug, Clone)]
pub struct OwnerRouting(pub Arc<ClusterLayout>);

impl RouteTasksHandler for OwnerRouting {
    fn handle(&self, event: RouteTasksEvent) -> Option<Result<RouteTasksEventResponse>> {
        route_tasks(&self.0, event)
    }
}

fn route_tasks(
    layout: &ClusterLayout,
    event: RouteTasksEvent,
) -> Option<Result<RouteTasksEventResponse>> {
    let owners = match scan_owners(event.plan, layout) {
        Ok(o) => o,
        Err(e) => return Some(Err(e)),
    };
    match owners.as_slice() {
        [] => None,
        [one] => Some(
            Url::parse(one)
                .map(|url| RouteTasksEventResponse::new(vec![url; event.task_count]))
                .map_err(|e| DataFusionError::Plan(format!("node URL {one:?}: {e}"))),
        ),
        several => Some(Err(DataFusionError::Internal(format!(
            "a stage holds CloudWatch scans owned by several nodes ({}); each must run on its own owner",
            several.join(", ")
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ReadRequest, StreamSelection};
    use crate::scan::ScanTotals;
    use crate::source::synthetic::SyntheticSource;
    use crate::source::SharedSource;
    use datafusion::execution::TaskContext;
    use datafusion::physical_expr::expressions::{col, lit};
    use datafusion::physical_plan::union::UnionExec;

    const NODES: [&str; 3] = [
        "http://10.0.0.1:7001/",
        "http://10.0.0.2:7001/",
        "http://10.0.0.3:7001/",
    ];

    /// A source whose account key differs with `n` (the synthetic
    /// source's description names its size).
    fn source(n: u64) -> SharedSource {
        Arc::new(SyntheticSource::new(100 + n, 2))
    }

    fn scan(source: &SharedSource, partitions: usize) -> Arc<dyn ExecutionPlan> {
        let request = ReadRequest::whole_group("g");
        let reads = (0..partitions)
            .map(|i| ReadRequest {
                streams: StreamSelection::one(format!("s{i}")),
                ..request.clone()
            })
            .collect();
        Arc::new(
            LogScanExec::try_new(
                "c",
                Arc::clone(source),
                Arc::new(ScanTotals::default()),
                request,
                reads,
                None,
            )
            .unwrap(),
        )
    }

    fn layout_as(me: &str) -> ClusterLayout {
        ClusterLayout::new(NODES.iter().map(|s| s.to_string()).collect(), me.into())
    }

    fn owner_of(source: &SharedSource) -> String {
        layout_as(NODES[0])
            .owner_of(&source.account_key())
            .to_string()
    }

    /// The plan's node names, indented by depth.
    fn shape(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
        fn walk(plan: &Arc<dyn ExecutionPlan>, depth: usize, out: &mut Vec<String>) {
            out.push(format!("{}{}", "  ".repeat(depth), plan.name()));
            for child in plan.children() {
                walk(child, depth + 1, out);
            }
        }
        let mut out = Vec::new();
        walk(plan, 0, &mut out);
        out
    }

    #[test]
    fn a_scan_on_its_owner_stays_where_it_is() {
        let s = source(1);
        let plan = scan(&s, 4);
        let placed = place(Arc::clone(&plan), &layout_as(&owner_of(&s))).unwrap();
        assert!(Arc::ptr_eq(&plan, &placed));
    }

    /// Table: a pipeline (scan and row-wise work) goes behind one
    /// boundary on two tasks; a single partition stays single above it.
    #[test]
    fn a_scan_elsewhere_goes_behind_a_boundary_with_its_row_wise_work() {
        let s = source(2);
        let other = NODES.iter().find(|n| **n != owner_of(&s)).unwrap();
        let layout = layout_as(other);
        let four = scan(&s, 4);
        let filtered: Arc<dyn ExecutionPlan> =
            Arc::new(FilterExec::try_new(lit(true), Arc::clone(&four)).unwrap());
        let projected: Arc<dyn ExecutionPlan> = Arc::new(
            ProjectionExec::try_new(
                vec![(col("message", &four.schema()).unwrap(), "m".to_string())],
                Arc::clone(&filtered),
            )
            .unwrap(),
        );
        let cases: Vec<(Arc<dyn ExecutionPlan>, Vec<&str>)> = vec![
            (four, vec!["NetworkCoalesceExec", "  LogScan"]),
            (
                scan(&s, 1),
                vec![
                    "CoalescePartitionsExec",
                    "  NetworkCoalesceExec",
                    "    LogScan",
                ],
            ),
            (
                projected,
                vec![
                    "NetworkCoalesceExec",
                    "  ProjectionExec",
                    "    FilterExec",
                    "      LogScan",
                ],
            ),
        ];
        for (plan, want) in cases {
            let placed = place(plan, &layout).unwrap();
            assert_eq!(shape(&placed), want);
            let boundary = placed
                .downcast_ref::<NetworkCoalesceExec>()
                .map(|_| &placed)
                .unwrap_or_else(|| placed.children()[0]);
            // Two tasks of all the pipeline's partitions.
            let inner = boundary.children()[0]
                .output_partitioning()
                .partition_count();
            assert_eq!(
                boundary.output_partitioning().partition_count(),
                OWNED_TASKS * inner
            );
        }
    }

    /// The scans under a union are placed one by one: each on its own
    /// owner, the one this node owns left here.
    #[test]
    fn each_scan_of_a_union_goes_to_its_own_owner() {
        let sources: Vec<SharedSource> = (10..40).map(source).collect();
        let me = NODES[0];
        let mine = sources.iter().find(|s| owner_of(s) == me).unwrap();
        let theirs = sources.iter().find(|s| owner_of(s) != me).unwrap();
        let union = UnionExec::try_new(vec![scan(mine, 2), scan(theirs, 2)]).unwrap();
        let placed = place(union, &layout_as(me)).unwrap();
        assert_eq!(
            shape(&placed),
            vec![
                "UnionExec",
                "  LogScan",
                "  NetworkCoalesceExec",
                "    LogScan"
            ]
        );
    }

    /// A top-k sort right above a boundary: the engine would push its
    /// fetch into the remote stage as a per-partition limit (the first
    /// rows, not the top ones); a node without a fetch stands between.
    #[test]
    fn a_fetch_that_is_not_any_rows_stays_out_of_the_remote_stage() {
        use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
        use datafusion::physical_plan::sorts::sort::SortExec;
        let s = source(5);
        let other = NODES.iter().find(|n| **n != owner_of(&s)).unwrap();
        let input = scan(&s, 4);
        let order = LexOrdering::new(vec![PhysicalSortExpr::new_default(
            col("time", &input.schema()).unwrap(),
        )])
        .unwrap();
        let topk: Arc<dyn ExecutionPlan> = Arc::new(
            SortExec::new(order, input)
                .with_preserve_partitioning(true)
                .with_fetch(Some(10)),
        );
        let placed = place(topk, &layout_as(other)).unwrap();
        assert_eq!(
            shape(&placed),
            vec![
                "SortExec(TopK)",
                "  CooperativeExec",
                "    NetworkCoalesceExec",
                "      LogScan"
            ]
        );
        // Under a limit, the fetch may go down: any rows are the rows.
        let limited: Arc<dyn ExecutionPlan> =
            Arc::new(GlobalLimitExec::new(scan(&s, 1), 0, Some(5)));
        let placed = place(limited, &layout_as(other)).unwrap();
        assert_eq!(
            shape(&placed),
            vec![
                "GlobalLimitExec",
                "  CoalescePartitionsExec",
                "    NetworkCoalesceExec",
                "      LogScan"
            ]
        );
    }

    #[test]
    fn stages_with_a_scan_are_routed_to_its_owner() {
        let s = source(3);
        let layout = layout_as(NODES[1]);
        let task_ctx = Arc::new(TaskContext::default());
        let plan = scan(&s, 2);
        let routed = route_tasks(
            &layout,
            RouteTasksEvent {
                task_ctx: Arc::clone(&task_ctx),
                plan: &plan,
                task_count: 2,
            },
        )
        .unwrap()
        .unwrap();
        let owner = owner_of(&s);
        assert_eq!(
            routed
                .urls
                .iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>(),
            vec![owner.clone(), owner]
        );
        // Two owners in one stage cannot both be served.
        let sources: Vec<SharedSource> = (40..80).map(source).collect();
        let a = &sources[0];
        let b = sources.iter().find(|x| owner_of(x) != owner_of(a)).unwrap();
        let union = UnionExec::try_new(vec![scan(a, 1), scan(b, 1)]).unwrap();
        let Some(Err(err)) = route_tasks(
            &layout,
            RouteTasksEvent {
                task_ctx,
                plan: &union,
                task_count: 2,
            },
        ) else {
            panic!("a stage with two owners was routed");
        };
        assert!(err.to_string().contains("several nodes"), "{err}");
    }
}
