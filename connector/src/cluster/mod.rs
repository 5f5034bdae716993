//! logflight on several nodes (docs/cluster.md), on datafusion-distributed.
//!
//! The node a client talks to plans the query; each CloudWatch scan runs
//! on the node that owns its account and region ([`owner`]), so that one
//! pacer governs every read of that account-region however many nodes
//! plan queries; archive scans (Parquet) are spread over every node.
//!
//! - [`owner`]: which node owns an account-region (pure).
//! - [`placement`]: the physical optimizer rule that cuts the plan into
//!   stages (a scan and the row-wise work above it run remotely) and the
//!   routing of each stage's tasks to its owner.
//! - [`codec`]: logflight's plans as plain data (catalog, group, read plan,
//!   projection), never credentials or clients: each node rebuilds the scan
//!   over its own source, made from its own configuration.
//! - [`wire`]: connector errors across the network, keeping their type.
//! - [`admit`]: what a node runs for others (scans only), checked.

pub mod admit;
pub mod codec;
pub mod owner;
pub mod placement;
pub mod wire;

use std::collections::BTreeMap;

use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::TryStreamExt;

use crate::catalog::LogCatalog;

/// This node's name in the cluster (its worker URL), in the session
/// config of every query it plans or runs: labels the scan metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeName(pub String);

impl NodeName {
    /// `10.0.0.2:50052` of `https://10.0.0.2:50052/`: what metrics show.
    pub fn short(&self) -> &str {
        let s = self.0.as_str();
        let s = s.split_once("://").map_or(s, |(_, rest)| rest);
        s.trim_end_matches('/')
    }

    /// `metric` counted on this node (`api_calls[10.0.0.2:50052]`): a
    /// name of its own, so EXPLAIN ANALYZE shows which node did what
    /// (labels would be summed away).
    pub fn metric(&self, metric: &str) -> String {
        format!("{metric}[{}]", self.short())
    }
}

/// Present in the session of the tasks a node runs for another node: their
/// errors are made ready for the network ([`wire`]).
#[derive(Debug, Clone, Copy)]
pub struct RemoteTask;

/// The catalogs of this node, by name: what a scan that arrives from
/// another node is rebuilt over (its own sources, its own credentials).
#[derive(Debug, Clone, Default)]
pub struct NodeCatalogs(pub BTreeMap<String, LogCatalog>);

impl NodeCatalogs {
    pub fn new(catalogs: impl IntoIterator<Item = LogCatalog>) -> Self {
        Self(
            catalogs
                .into_iter()
                .map(|c| (c.name().to_string(), c))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Result<&LogCatalog, DataFusionError> {
        self.0.get(name).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "this node has no catalog {name:?}: every node of a cluster needs the same [[catalogs]]"
            ))
        })
    }
}

/// `stream` with its errors ready for the network when it runs as a task
/// for another node.
pub fn for_transport(
    stream: SendableRecordBatchStream,
    context: &TaskContext,
) -> SendableRecordBatchStream {
    if context
        .session_config()
        .get_extension::<RemoteTask>()
        .is_none()
    {
        return stream;
    }
    let schema = stream.schema();
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        stream.map_err(wire::for_transport),
    ))
}
