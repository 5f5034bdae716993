//! `logflight`: SQL over AWS CloudWatch Logs, served over Arrow Flight SQL.

mod access;
mod allocator;
mod audit;
mod auth;
mod config;
mod error;
mod insights;
mod metadata;
mod metrics;
mod output;
mod progress;
mod service;
mod session;
mod tickets;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use clap::{Args, Parser, Subcommand};
use futures::{StreamExt, TryStreamExt};
use logflight_connector::{
    CloudWatchOptions, CloudWatchSource, DemoSource, LogCatalog, SharedSource, SyntheticSource,
};
use tracing_subscriber::EnvFilter;

use crate::access::Engines;
use crate::audit::AuditLog;
use crate::auth::{Authenticator, TokenEntry, UserEntry};
use crate::config::{
    CatalogConfig, Config, IpcCompression, LimitFlags, Security, SecurityFlags, ServeFlags,
    SourceArgs, SourceKind,
};
use crate::error::{Result, ServerError};
use crate::metrics::QueryMetrics;
use crate::output::Format;
use crate::service::{FlightEndpoint, Guard};
use crate::session::QueryEngine;

/// Flight messages can be large (a 10,000-event page of long lines).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "logflight",
    version,
    about = "SQL over AWS CloudWatch Logs, served over Arrow Flight SQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the log groups over Arrow Flight SQL (and plain Flight)
    Serve(Box<ServeArgs>),
    /// Run one SQL statement in-process and print the result
    Query(Box<QueryArgs>),
    /// Read a password from standard input and print its Argon2 hash, for
    /// a [[users]] entry's password_hash
    HashPassword,
    /// Print a new random bearer token and the SHA-256 a [[tokens]] entry
    /// stores
    NewToken,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Address to listen on [default: 127.0.0.1:50051]
    #[arg(long, env = "LOGFLIGHT_LISTEN")]
    listen: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics [default: off]
    #[arg(long, env = "LOGFLIGHT_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Compress result batches (Arrow IPC body compression) [default: none]
    #[arg(long, env = "LOGFLIGHT_IPC_COMPRESSION", value_enum)]
    ipc_compression: Option<IpcCompression>,
    #[command(flatten)]
    limits: LimitFlags,
    #[command(flatten)]
    security: SecurityFlags,
}

#[derive(Debug, Args)]
struct QueryArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Output format
    #[arg(long, env = "LOGFLIGHT_FORMAT", value_enum, default_value = "table")]
    format: Format,
    /// The SQL statement
    sql: String,
}

/// The AWS credential chain logs a warning for every provider it tries;
/// our own start-up error says what is missing, so keep those quiet.
const QUIET_AWS: &str = "aws_config=error";

fn init_tracing(level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::try_new(format!("{l},{QUIET_AWS}")),
        None => EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(format!("info,{QUIET_AWS}"))),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
fn build_authenticator(security: &Security) -> Result<Option<Arc<Authenticator>>> {
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
            auth::parse_hex32(&t.token_sha256)
                .map(|sha256| TokenEntry {
                    name: t.name.clone(),
                    sha256,
                    roles: t.roles.clone(),
                })
                .ok_or_else(|| {
                    ServerError::Config(format!(
                        "token {:?}: token_sha256 must be 64 hex digits (from `logflight new-token`)",
                        t.name
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Authenticator::new(users, tokens, security.token_ttl)
        .map(|a| Some(Arc::new(a)))
        .map_err(ServerError::Config)
}

/// tonic's TLS settings from the configured PEM files.
fn tls_config(files: &config::TlsFiles) -> Result<tonic::transport::ServerTlsConfig> {
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
        tls = tls.client_ca_root(tonic::transport::Certificate::from_pem(read(
            ca,
            "client CA",
        )?));
    }
    Ok(tls)
}

async fn build_engine(config: &Config) -> Result<QueryEngine> {
    // Every catalog's source is set up (and its credentials checked) at
    // once: a server with several accounts starts as fast as with one.
    let sources = futures::future::try_join_all(
        config
            .catalogs
            .iter()
            .map(|catalog| build_source(config, catalog)),
    )
    .await?;
    QueryEngine::new(
        config
            .catalogs
            .iter()
            .zip(sources)
            .map(|(catalog, source)| {
                LogCatalog::with_scan_options(
                    catalog.name.clone(),
                    source,
                    config.cache_ttl,
                    config.scan,
                )
            })
            .collect(),
    )
}

async fn build_source(config: &Config, catalog: &CatalogConfig) -> Result<SharedSource> {
    Ok(match catalog.source {
        SourceKind::Demo => Arc::new(DemoSource::new()),
        SourceKind::Synthetic => {
            Arc::new(SyntheticSource::new(config.synthetic.0, config.synthetic.1))
        }
        SourceKind::Cloudwatch => {
            let options = CloudWatchOptions {
                region: catalog.region.clone(),
                profile: catalog.profile.clone(),
                endpoint_url: catalog.endpoint_url.clone(),
                role: catalog.role.clone(),
                quota: config.quota.clone(),
            };
            let source = CloudWatchSource::connect(&options)
                .await
                .map_err(|e| ServerError::Config(format!("catalog {:?}: {e}", catalog.name)))?;
            Arc::new(source)
        }
    })
}

async fn serve(args: ServeArgs) -> Result<()> {
    let (config, security) = Config::resolve_serve(
        &args.source,
        ServeFlags {
            listen: args.listen,
            metrics_listen: args.metrics_listen,
            ipc_compression: args.ipc_compression,
            limits: args.limits,
        },
        &args.security,
    )?;
    init_tracing(config.log_level.as_deref());
    check_exposure(config.listen, &security)?;
    let auth = build_authenticator(&security)?;
    let audit = match &security.audit_log {
        Some(path) => Some(Arc::new(AuditLog::open(path, security.audit_sql)?)),
        None => None,
    };
    let tls = match &security.tls {
        Some(files) => {
            // The AWS SDK and tonic both link rustls; name the provider
            // once so neither has to guess.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            Some(tls_config(files)?)
        }
        None => None,
    };
    let engine = build_engine(&config).await?;
    let engines = match &auth {
        None => Engines::open(engine.clone()),
        Some(auth) => {
            let catalogs: Vec<LogCatalog> = engine.catalogs().cloned().collect();
            Engines::restricted(
                engine.clone(),
                &catalogs,
                auth.principals(),
                &security.grants,
            )?
        }
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServerError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let source = engine
        .catalogs()
        .map(|c| format!("{} = {}", c.name(), c.source().describe()))
        .collect::<Vec<_>>()
        .join(", ");
    let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
    let access = match &auth {
        None => "no authentication".to_string(),
        Some(a) => format!(
            "authentication on: {} principals, tokens valid {} s",
            a.principals().count(),
            a.ttl().as_secs()
        ),
    };
    println!(
        "logflight {} listening on {scheme}://{addr} (catalog {source}; {access})",
        env!("CARGO_PKG_VERSION")
    );
    if auth.is_none() && tls.is_none() {
        println!(
            "connect: python -c \"import adbc_driver_flightsql.dbapi as f; c = f.connect('grpc://{addr}'); cur = c.cursor(); cur.execute('SELECT schema_name FROM information_schema.schemata'); print(cur.fetchall())\""
        );
    }
    std::io::stdout().flush().ok();

    let metrics = Arc::new(QueryMetrics::default());
    if let Some(addr) = config.metrics_listen {
        let listener = metrics::bind(addr)
            .await
            .map_err(|e| ServerError::Config(format!("cannot serve metrics on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        println!("metrics: http://{bound}/metrics");
        tokio::spawn(metrics::serve(
            listener,
            Arc::clone(&metrics),
            engine.clone(),
        ));
    }
    let service = FlightServiceServer::new(FlightEndpoint::new(
        Arc::new(engines),
        Guard { auth, audit },
        metrics,
        config.ipc_compression,
        config.limits,
    )?)
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // Without TCP_NODELAY, Nagle's algorithm holds back the small frames
    // that end a response (trailers) until the client's delayed ACK.
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|c| {
            let _ = c.set_nodelay(true);
        })
    });
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        server = server
            .tls_config(tls)
            .map_err(|e| ServerError::Config(format!("TLS: {e}")))?;
    }
    server
        .trace_fn(|req| tracing::info_span!("rpc", method = %req.uri().path()))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await
        .map_err(|e| ServerError::Internal(format!("server failed: {e}")))
}

async fn query(args: QueryArgs) -> Result<()> {
    let config = Config::resolve(&args.source, ServeFlags::default())?;
    init_tracing(Some(config.log_level.as_deref().unwrap_or("warn")));
    let engine = build_engine(&config).await?;
    let progress = progress::Progress::start(&engine, std::io::stderr().is_terminal());
    let result = run_to_end(&engine, &args.sql).await;
    progress.finish().await;
    let (schema, batches) = result?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    output::write_batches(&mut out, args.format, &schema, &batches)?;
    out.flush().ok();
    Ok(())
}

async fn run_to_end(
    engine: &QueryEngine,
    sql: &str,
) -> Result<(arrow::datatypes::SchemaRef, Vec<arrow::array::RecordBatch>)> {
    let plan = engine.plan(sql, None).await?;
    let batches = plan.execute()?.try_collect().await?;
    Ok((plan.schema, batches))
}

/// `logflight hash-password`: the password is read from standard input
/// (one line), never from the command line, where `ps` and shell history
/// would keep it.
fn hash_password() -> Result<()> {
    if std::io::stdin().is_terminal() {
        eprint!("password (echoed): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| ServerError::Config(format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(ServerError::Config("empty password".into()));
    }
    println!(
        "{}",
        auth::hash_password(password).map_err(ServerError::Config)?
    );
    Ok(())
}

/// `logflight new-token`: the token for the client, and the config entry
/// that stores only its digest.
fn new_token() -> Result<()> {
    let token = auth::new_token().map_err(ServerError::Config)?;
    println!("token (give it to the client; it is not stored): {token}");
    println!();
    println!("[[tokens]]");
    println!("name = \"CHANGE-ME\"");
    println!(
        "token_sha256 = \"{}\"",
        auth::hex(&auth::token_digest(&token))
    );
    println!("roles = []");
    Ok(())
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    // Planning recurses over a statement's expressions (at most
    // session::MAX_EXPRESSION_DEPTH deep) and dropping a parsed tree
    // recurses too: a larger stack than tokio's 2 MiB keeps both safe.
    // It is virtual memory, touched only as deep as a thread goes.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(64 << 20)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Query(args) => query(*args).await,
            Command::HashPassword => hash_password(),
            Command::NewToken => new_token(),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", tonic::Status::from(e).message());
            ExitCode::FAILURE
        }
    }
}
