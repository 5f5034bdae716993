//! This node in a cluster (docs/cluster.md): the worker port it serves,
//! the other nodes it sends work to, and the session settings that make a
//! query it plans run its scans on their owners.
//!
//! The placement itself (which node runs what) and the plan's form on the
//! wire are the connector's (`logflight_connector::cluster`); this module
//! is the network: the node list, TLS, the channels and the worker.

pub mod channels;
pub mod worker;

use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SessionStateBuilder;
use datafusion_distributed::{DistributedExt, SessionStateBuilderExt, WorkerResolver};
use logflight_connector::cluster::codec::LogflightCodec;
use logflight_connector::cluster::placement::{ClusterLayout, ClusterPlacement, OwnerRouting};
use logflight_connector::cluster::NodeCatalogs;
use tokio::net::TcpListener;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};
use url::Url;

use self::channels::NodeChannels;
use crate::config::{ClusterConfig, ClusterTls};
use crate::error::{Result, ServerError};

/// How often an idle connection between nodes is checked, and how long an
/// answer may take: a node that froze, or a network that dropped it, fails
/// the query within seconds instead of at the query's time limit.
pub const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(10);
pub const KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// The largest plan another node may send.
const MAX_PLAN_BYTES: usize = 64 * 1024 * 1024;

/// The nodes, as configured: the same list on every node, so every node
/// finds the same owner for an account.
#[derive(Debug, Clone)]
struct ConfiguredNodes(Vec<Url>);

impl WorkerResolver for ConfiguredNodes {
    fn get_urls(&self) -> std::result::Result<Vec<Url>, DataFusionError> {
        Ok(self.0.clone())
    }
}

/// This node's part in the cluster.
pub struct Cluster {
    config: ClusterConfig,
    /// The nodes' URLs, parsed once (the config checked them).
    nodes: ConfiguredNodes,
    layout: Arc<ClusterLayout>,
    channels: NodeChannels,
    server_tls: Option<ServerTlsConfig>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn read_pem(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        ServerError::Config(format!(
            "cluster: cannot read the {what} {}: {e}",
            path.display()
        ))
    })
}

/// Mutual TLS: this node's identity as server and client, and the CA
/// the other nodes' certificates must chain to.
fn tls(files: &ClusterTls) -> Result<(ServerTlsConfig, ClientTlsConfig)> {
    let identity = Identity::from_pem(
        read_pem(&files.cert, "certificate")?,
        read_pem(&files.key, "key")?,
    );
    let ca = Certificate::from_pem(read_pem(&files.ca, "CA")?);
    let server = ServerTlsConfig::new()
        .identity(identity.clone())
        .client_ca_root(ca.clone());
    let client = ClientTlsConfig::new().identity(identity).ca_certificate(ca);
    Ok((server, client))
}

impl Cluster {
    pub fn new(config: &ClusterConfig) -> Result<Self> {
        let (server_tls, client_tls) = match &config.tls {
            Some(files) => {
                let (s, c) = tls(files)?;
                (Some(s), Some(c))
            }
            None => (None, None),
        };
        let nodes = config
            .nodes
            .iter()
            .map(|n| {
                Url::parse(n).map_err(|e| ServerError::Config(format!("cluster: node {n}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            nodes: ConfiguredNodes(nodes),
            layout: Arc::new(ClusterLayout::new(config.nodes.clone(), config.me.clone())),
            config: config.clone(),
            channels: NodeChannels::new(client_tls),
            server_tls,
        })
    }

    pub fn me(&self) -> &str {
        self.layout.me()
    }

    pub fn layout(&self) -> &Arc<ClusterLayout> {
        &self.layout
    }

    /// The session settings of a query this node plans: scans placed on
    /// their owners, nothing else distributed.
    pub fn coordinating(
        &self,
        builder: SessionStateBuilder,
    ) -> std::result::Result<SessionStateBuilder, DataFusionError> {
        builder
            .with_physical_optimizer_rule(Arc::new(ClusterPlacement::new(Arc::clone(&self.layout))))
            .with_distributed_planner()
            .with_distributed_worker_resolver(self.nodes.clone())
            .with_distributed_channel_resolver(self.channels.clone())
            .with_distributed_user_codec(LogflightCodec)
            .with_distributed_route_tasks_handler(OwnerRouting(Arc::clone(&self.layout)))
            // Stages are placed by ClusterPlacement only.
            .with_distributed_max_tasks_per_stage(1)
    }

    /// Binds the worker port (before any call to AWS, like the others).
    pub async fn bind(&self) -> Result<TcpListener> {
        TcpListener::bind(self.config.listen).await.map_err(|e| {
            ServerError::Config(format!(
                "--cluster-listen {}: {e}; stop what uses the port or choose another",
                self.config.listen
            ))
        })
    }

    /// Serves the worker port until the process ends.
    pub async fn serve(
        &self,
        listener: TcpListener,
        catalogs: NodeCatalogs,
        runtime: Arc<RuntimeEnv>,
    ) -> Result<()> {
        let worker = worker::worker(catalogs, Arc::clone(&self.layout), runtime);
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = &self.server_tls {
            server = server
                .tls_config(tls.clone())
                .map_err(|e| ServerError::Config(format!("cluster TLS: {e}")))?;
        }
        server
            .trace_fn(|req| tracing::info_span!("worker", method = %req.uri().path()))
            .http2_keepalive_interval(Some(KEEPALIVE))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            // Plans are small; the results flow the other way.
            .add_service(
                worker
                    .into_worker_server()
                    .max_decoding_message_size(MAX_PLAN_BYTES),
            )
            .serve_with_incoming(incoming)
            .await
            .map_err(|e| ServerError::Internal(format!("worker port failed: {e}")))
    }
}
