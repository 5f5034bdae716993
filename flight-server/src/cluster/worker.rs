//! The worker port: where the other nodes send the parts of their queries
//! this node runs (datafusion-distributed's `Worker`).
//!
//! Each task's session gets this node's own catalogs (so a scan is rebuilt
//! over this node's sources and credentials), its name (for the metrics),
//! the marker that makes its errors ready for the network, logflight's
//! codec and SQL functions. Access was decided by the node the client
//! talks to; the port itself only takes other nodes (mutual TLS).

use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use datafusion_distributed::{DistributedExt, Worker, WorkerQueryContext};
use logflight_connector::cluster::admit::AdmitScansOnly;
use logflight_connector::cluster::codec::LogflightCodec;
use logflight_connector::cluster::placement::ClusterLayout;
use logflight_connector::cluster::{NodeCatalogs, NodeName, RemoteTask};

/// What every task's session on this node starts from.
#[derive(Clone)]
struct NodeSession {
    catalogs: Arc<NodeCatalogs>,
    layout: Arc<ClusterLayout>,
    admit: AdmitScansOnly,
}

impl NodeSession {
    async fn build(&self, ctx: WorkerQueryContext) -> Result<SessionState, DataFusionError> {
        let mut builder = ctx
            .builder
            .with_distributed_user_codec(LogflightCodec)
            .with_distributed_worker_plan_rewrite_handler(self.admit.clone());
        let config = builder.config().get_or_insert_default();
        config.set_extension(Arc::clone(&self.catalogs));
        config.set_extension(Arc::clone(&self.layout));
        config.set_extension(Arc::new(NodeName(self.layout.me().to_string())));
        config.set_extension(Arc::new(RemoteTask));
        // The plan names logflight's and the JSON functions; they decode
        // from this session's registry.
        let mut session = SessionContext::new_with_state(builder.build());
        datafusion_functions_json::register_all(&mut session)?;
        logflight_connector::sql_functions::register(&session);
        Ok(session.state())
    }
}

/// The worker of this node over `catalogs`, reading the archives through
/// `runtime`'s object stores, running only scans (see `admit.rs`).
pub fn worker(
    catalogs: NodeCatalogs,
    layout: Arc<ClusterLayout>,
    runtime: Arc<RuntimeEnv>,
) -> Worker {
    let archives = catalogs
        .0
        .values()
        .filter_map(|c| c.archive().map(|a| a.root().url().clone()))
        .collect();
    let session = NodeSession {
        catalogs: Arc::new(catalogs),
        layout,
        admit: AdmitScansOnly { archives },
    };
    Worker::from_session_builder(move |ctx: WorkerQueryContext| {
        let session = session.clone();
        async move { session.build(ctx).await }
    })
    .with_runtime_env(runtime)
    .with_version(env!("CARGO_PKG_VERSION"))
}
