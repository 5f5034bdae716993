//! The program assembled from one [`Config`]: sources and catalogs, the
//! engines, authentication and the audit log, TLS, the metrics endpoint
//! and the Flight service, all built in [`Application::build`] and served
//! by [`Application::run_until_stopped`]. Nothing else builds them.

use std::net::SocketAddr;
use std::sync::Arc;

use arrow::ipc::writer::IpcWriteOptions;
use arrow::ipc::CompressionType;
use arrow_flight::flight_service_server::FlightServiceServer;
use futures::StreamExt;
use logflight_connector::archive::table::ArchiveView;
use logflight_connector::archive::ArchiveRoot;
use logflight_connector::cluster::NodeCatalogs;
use logflight_connector::{
    CloudWatchOptions, CloudWatchSource, DemoSource, LogCatalog, SharedSource, SyntheticSource,
};
use tokio::net::TcpListener;

use crate::access::PrincipalEngines;
use crate::audit::AuditLog;
use crate::auth::layer::{AuthLayer, Gate};
use crate::auth::secrets::parse_hex32;
use crate::auth::{Authenticator, TokenEntry, UserEntry};
use crate::cluster::Cluster;
use crate::config::{CatalogConfig, Config, IpcCompression, Security, SourceKind, TlsFiles};
use crate::error::{Result, ServerError};
use crate::flight::handshake::Handshake;
use crate::flight::router::Router;
use crate::flight::statements::Statements;
use crate::flight::LogflightService;
use crate::metrics::{self, QueryMetrics};
use crate::query::log::QueryLog;
use crate::query::QueryEngine;

/// Flight messages can be large (a 10,000-event page of long lines).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The engine over every configured catalog, each source set up (and its
/// credentials checked) at once: a server with several accounts starts as
/// fast as with one.
pub async fn engine(config: &Config) -> Result<QueryEngine> {
    engine_in(config, None).await
}

/// [`engine`] on a node of `cluster`.
async fn engine_in(config: &Config, cluster: Option<Arc<Cluster>>) -> Result<QueryEngine> {
    // Demo catalogs share one set of sample data: generated once, and the
    // same events in each (it is anchored to the minute it is made in).
    let demo: Option<SharedSource> = config
        .catalogs
        .iter()
        .any(|c| c.source == SourceKind::Demo)
        .then(|| Arc::new(DemoSource::new()) as SharedSource);
    let sources = futures::future::try_join_all(
        config
            .catalogs
            .iter()
            .map(|c| source(config, c, demo.clone())),
    )
    .await?;
    let mut catalogs = Vec::new();
    for (catalog, source) in config.catalogs.iter().zip(sources) {
        let mut log_catalog = LogCatalog::with_scan_options(
            catalog.name.clone(),
            source,
            config.cache_ttl,
            catalog.scan_options(config.scan),
        )
        .with_format_rules(config.format_rules(&catalog.name));
        if let Some(root) = archive_root(catalog).await? {
            let view = ArchiveView::new(root, catalog.name.clone(), config.cache_ttl);
            log_catalog = log_catalog.with_archive(view);
        }
        catalogs.push(log_catalog);
    }
    QueryEngine::new_in(catalogs, cluster)
}

/// The archive root of a catalog, opened; `None` without one.
pub async fn archive_root(catalog: &CatalogConfig) -> Result<Option<ArchiveRoot>> {
    let Some(archive) = &catalog.archive else {
        return Ok(None);
    };
    let root = ArchiveRoot::open(&archive.root, &archive.options)
        .await
        .map_err(|e| ServerError::Config(format!("catalog {:?}: {e}", catalog.name)))?;
    Ok(Some(root))
}

async fn source(
    config: &Config,
    catalog: &CatalogConfig,
    demo: Option<SharedSource>,
) -> Result<SharedSource> {
    Ok(match catalog.source {
        SourceKind::Demo => demo.unwrap_or_else(|| Arc::new(DemoSource::new())),
        SourceKind::Synthetic => {
            let (events, streams, step_ms) = config.synthetic;
            // At most a day apart: times stay far from overflowing.
            let step_ms = step_ms.clamp(1, 86_400_000) as i64;
            Arc::new(SyntheticSource::new(events, streams).with_step_ms(step_ms))
        }
        SourceKind::Cloudwatch => {
            // In a cluster, scans of an account run on its owner alone, at
            // the full rate of the read APIs; the calls planning makes
            // (listings, Logs Insights) come from any node, each taking
            // its share (docs/cluster.md).
            let quota = match &config.cluster {
                Some(cluster) => config.quota.clone().planning_share(cluster.nodes.len()),
                None => config.quota.clone(),
            };
            let options = CloudWatchOptions {
                region: catalog.region.clone(),
                profile: catalog.profile.clone(),
                endpoint_url: catalog.endpoint_url.clone(),
                role: catalog.role.clone(),
                quota,
            };
            let source = CloudWatchSource::connect(&options)
                .await
                .map_err(|e| ServerError::Config(format!("catalog {:?}: {e}", catalog.name)))?;
            Arc::new(source)
        }
    })
}

/// A server without authentication that other hosts can reach would give
/// everyone what logflight's AWS identity can read, so that takes an
/// explicit `--allow-anonymous`.
fn check_exposure(listen: SocketAddr, security: &Security) -> Result<()> {
    if listen.ip().is_loopback() || security.allow_anonymous || security.auth_enabled() {
        return Ok(());
    }
    Err(ServerError::Config(format!(
        "refusing to listen on {listen} without authentication: anyone who can reach it could query every log group this server can read; \
         add [[users]] or [[tokens]] to the config file (see docs/security.md), listen on 127.0.0.1, \
         or pass --allow-anonymous (LOGFLIGHT_ALLOW_ANONYMOUS=true) if the network in front of it is trusted"
    )))
}

/// The authenticator of the configured users and tokens; `None` when
/// there are none (authentication off).
fn authenticator(security: &Security) -> Result<Option<Arc<Authenticator>>> {
    if !security.auth_enabled() {
        return Ok(None);
    }
    let users = security
        .users
        .iter()
        .map(|u| UserEntry {
            name: u.name.clone(),
            password_hash: u.password_hash.clone(),
            roles: u.roles.clone(),
        })
        .collect();
    let tokens = security
        .tokens
        .iter()
        .map(|t| {
            let sha256 = parse_hex32(&t.token_sha256).ok_or_else(|| {
                ServerError::Config(format!(
                    "token {:?}: token_sha256 must be 64 hex digits (from `logflight new-token`)",
                    t.name
                ))
            })?;
            Ok(TokenEntry {
                name: t.name.clone(),
                sha256,
                roles: t.roles.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Authenticator::new(users, tokens, security.token_ttl)
        .map(|a| Some(Arc::new(a)))
        .map_err(ServerError::Config)
}

/// One engine for everyone without authentication, else one per principal.
fn principal_engines(
    engine: &QueryEngine,
    auth: &Option<Arc<Authenticator>>,
    security: &Security,
) -> Result<PrincipalEngines> {
    let Some(auth) = auth else {
        return Ok(PrincipalEngines::open(engine.clone()));
    };
    let catalogs: Vec<LogCatalog> = engine.catalogs().cloned().collect();
    PrincipalEngines::restricted(
        engine.clone(),
        &catalogs,
        auth.principals(),
        &security.grants,
    )
}

/// tonic's TLS settings from the configured PEM files.
fn tls(files: &TlsFiles) -> Result<tonic::transport::ServerTlsConfig> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|e| {
            ServerError::Config(format!(
                "cannot read the TLS {what} {}: {e}",
                path.display()
            ))
        })
    };
    let identity = tonic::transport::Identity::from_pem(
        read(&files.cert, "certificate")?,
        read(&files.key, "key")?,
    );
    let mut tls = tonic::transport::ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &files.client_ca {
        let ca = tonic::transport::Certificate::from_pem(read(ca, "client CA")?);
        tls = tls.client_ca_root(ca);
    }
    Ok(tls)
}

fn ipc_options(compression: IpcCompression) -> Result<IpcWriteOptions> {
    let codec = match compression {
        IpcCompression::None => None,
        IpcCompression::Lz4 => Some(CompressionType::LZ4_FRAME),
        IpcCompression::Zstd => Some(CompressionType::ZSTD),
    };
    Ok(IpcWriteOptions::default().try_with_compression(codec)?)
}

/// The server, built and bound, ready to serve.
pub struct Application {
    listener: TcpListener,
    service: LogflightService,
    gate: Gate,
    tls: Option<tonic::transport::ServerTlsConfig>,
    metrics: Option<(TcpListener, Arc<QueryMetrics>, Vec<LogCatalog>)>,
    /// The worker port of a node of a cluster, and what it serves.
    worker: Option<(
        Arc<Cluster>,
        TcpListener,
        QueryEngine,
        Arc<datafusion::execution::runtime_env::RuntimeEnv>,
    )>,
    /// The start-up lines `run_until_stopped` prints first.
    banner: Vec<String>,
}

impl Application {
    /// Builds everything `config` asks for and binds its ports; any
    /// misconfiguration fails here, before the first client.
    pub async fn build(config: Config) -> Result<Self> {
        let security = &config.security;
        check_exposure(config.listen, security)?;
        let auth = authenticator(security)?;
        let audit = match &security.audit_log {
            Some(path) => Some(Arc::new(AuditLog::open(path, security.audit_sql)?)),
            None => None,
        };
        let tls = security.tls.as_ref().map(tls).transpose()?;
        // Ports first: a busy one fails before any call to AWS.
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            ServerError::Config(format!(
                "--listen {}: {e}; stop what uses the port or choose another",
                config.listen
            ))
        })?;
        let metrics_listener = match config.metrics_listen {
            None => None,
            Some(at) => Some(TcpListener::bind(at).await.map_err(|e| {
                ServerError::Config(format!(
                    "--metrics-listen {at}: {e}; stop what uses the port or choose another"
                ))
            })?),
        };
        if let Some(cluster) = &config.cluster {
            // Without TLS the worker port is open to whoever is on this
            // host, and it answers without the Flight port's
            // authentication or grants.
            if cluster.tls.is_none() && security.auth_enabled() {
                return Err(ServerError::Config(
                    "cluster: with authentication on, the nodes must talk over mutual TLS (set [cluster] tls_cert, tls_key and tls_ca): \
                     the worker port would otherwise let anyone on this host read past the [[grants]]; see docs/cluster.md"
                        .into(),
                ));
            }
        }
        let cluster = config
            .cluster
            .as_ref()
            .map(Cluster::new)
            .transpose()?
            .map(Arc::new);
        let worker_listener = match &cluster {
            Some(c) => Some(c.bind().await?),
            None => None,
        };
        let engine = engine_in(&config, cluster.clone()).await?;
        let engines = principal_engines(&engine, &auth, security)?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        let mut banner = vec![banner(&engine, addr, &auth, tls.is_some())];
        let worker = match (cluster, worker_listener) {
            (Some(cluster), Some(listener)) => {
                let at = listener
                    .local_addr()
                    .map_err(|e| ServerError::Internal(e.to_string()))?;
                banner.push(format!(
                    "cluster: node {} of {} (worker port {at}, {})",
                    cluster.me(),
                    cluster.layout().nodes().len(),
                    if config.cluster.as_ref().is_some_and(|c| c.tls.is_some()) {
                        "mutual TLS"
                    } else {
                        "loopback, no TLS"
                    }
                ));
                // The tasks other nodes send: as much memory as this
                // node's own queries may hold together, and no disk.
                let limits = &config.limits;
                let runtime = engine.bounded_runtime(
                    limits
                        .memory_bytes
                        .saturating_mul(limits.max_concurrent.max(1)),
                )?;
                Some((cluster, listener, engine.clone(), runtime))
            }
            _ => None,
        };
        let query_metrics = Arc::new(QueryMetrics::default());
        let metrics = match metrics_listener {
            None => None,
            Some(listener) => {
                let bound = listener
                    .local_addr()
                    .map_err(|e| ServerError::Internal(e.to_string()))?;
                banner.push(format!("metrics: http://{bound}/metrics"));
                Some((
                    listener,
                    Arc::clone(&query_metrics),
                    engine.catalogs().cloned().collect(),
                ))
            }
        };
        let log = QueryLog::new(query_metrics, audit.clone());
        let statements = Statements::new(
            Arc::new(engines),
            log.clone(),
            config.limits,
            ipc_options(config.ipc_compression)?,
        );
        let service =
            LogflightService::new(Router::new(statements), Handshake::new(auth.clone(), log));
        Ok(Self {
            listener,
            service,
            gate: Gate::new(auth, audit),
            tls,
            metrics,
            worker,
            banner,
        })
    }

    /// Prints the start-up lines, then serves until SIGINT (Ctrl-C) or
    /// SIGTERM (what systemd and Kubernetes send), either of which stops
    /// it the same way.
    pub async fn run_until_stopped(self) -> Result<()> {
        {
            // A closed stdout (`serve | head -1`) must not stop the server.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for line in &self.banner {
                let _ = writeln!(out, "{line}");
            }
            let _ = out.flush();
        }
        if let Some((listener, metrics, catalogs)) = self.metrics {
            let render: metrics::Render = Arc::new(move || metrics.render(&catalogs));
            tokio::spawn(metrics::serve(listener, render));
        }
        if let Some((cluster, listener, engine, runtime)) = self.worker {
            let catalogs = NodeCatalogs::new(engine.catalogs().cloned());
            tokio::spawn(async move {
                if let Err(e) = cluster.serve(listener, catalogs, runtime).await {
                    tracing::error!(error = %e, "the worker port stopped");
                }
            });
        }
        let service = FlightServiceServer::new(self.service)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        // Without TCP_NODELAY, Nagle's algorithm holds back the small frames
        // that end a response (trailers) until the client's delayed ACK.
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(self.listener).map(|conn| {
            conn.inspect(|c| {
                let _ = c.set_nodelay(true);
            })
        });
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = self.tls {
            server = server
                .tls_config(tls)
                .map_err(|e| ServerError::Config(format!("TLS: {e}")))?;
        }
        server
            .trace_fn(|req| tracing::info_span!("rpc", method = %req.uri().path()))
            .layer(AuthLayer::new(self.gate))
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let signal = stop_signal().await;
                tracing::info!(
                    signal,
                    "shutting down: no new connections, finishing the calls in flight"
                );
            })
            .await
            .map_err(|e| ServerError::Internal(format!("server failed: {e}")))
    }
}

/// Waits for SIGINT or SIGTERM and says which came. Without a handler,
/// SIGTERM would kill the process at once, mid-response, with no log line.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGTERM; stop with SIGINT");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// The first line `serve` prints, which scripts wait for: where it
/// listens, over what, and who may connect; and, when anyone on loopback
/// may, a command that connects.
fn banner(
    engine: &QueryEngine,
    addr: SocketAddr,
    auth: &Option<Arc<Authenticator>>,
    tls: bool,
) -> String {
    let source = engine
        .catalogs()
        .map(|c| format!("{} = {}", c.name(), c.source().describe()))
        .collect::<Vec<_>>()
        .join(", ");
    let scheme = if tls { "grpc+tls" } else { "grpc" };
    let access = match auth {
        None => "no authentication".to_string(),
        Some(a) => format!(
            "authentication on: {} principals, tokens valid {} s",
            a.principals().count(),
            a.ttl().as_secs()
        ),
    };
    let mut line = format!(
        "logflight {} listening on {scheme}://{addr} (catalog {source}; {access})",
        env!("CARGO_PKG_VERSION")
    );
    if auth.is_none() && !tls {
        line.push_str(&format!(
            "\nconnect: python -c \"import adbc_driver_flightsql.dbapi as f; c = f.connect('grpc://{addr}', autocommit=True).cursor(); c.execute('SHOW SCHEMAS'); print(c.fetchall())\""
        ));
    }
    line
}
