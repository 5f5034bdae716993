//! Flags, environment and the TOML config file merged into one [`Config`].
//!
//! Precedence: a command-line flag, then its `LOGFLIGHT_*` environment
//! variable (both handled by clap), then the config file, then the default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use logflight_connector::quota::{parse_tps_list, QuotaConfig};
use logflight_connector::{AssumeRole, ScanOptions};

use crate::error::{Result, ServerError};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_CATALOG: &str = "cloudwatch";
const DEFAULT_CACHE_TTL_SECS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// AWS CloudWatch Logs through the standard AWS credential chain.
    Cloudwatch,
    /// Built-in sample log groups: no AWS account, no network.
    Demo,
    /// One group of generated events of any size (`/synthetic/app`), for
    /// benchmarks and load tests.
    Synthetic,
}

/// Compression of the Arrow IPC record batches sent to clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpcCompression {
    /// Uncompressed: fastest on a fast network, what every client reads.
    #[default]
    None,
    /// LZ4 frames: cheap to compress, about halves log text.
    Lz4,
    /// Zstandard: smaller than LZ4, more CPU; for slow links.
    Zstd,
}

/// The settings only `serve` has (flags or environment; `None` defers to the
/// config file, then the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeFlags {
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub ipc_compression: Option<IpcCompression>,
    pub limits: LimitFlags,
}

/// Security settings of `serve` (flags and environment).
#[derive(Debug, Clone, Default, Args)]
pub struct SecurityFlags {
    /// Serve on a non-loopback address without authentication (anyone who
    /// can reach the port can query every log group logflight can read)
    #[arg(long, env = "LOGFLIGHT_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// Lifetime of the bearer tokens Handshake issues, in seconds [default: 3600]
    #[arg(long, env = "LOGFLIGHT_TOKEN_TTL_SECS")]
    pub token_ttl_secs: Option<u64>,
    /// TLS certificate chain (PEM); with --tls-key, serves grpc+tls
    #[arg(long, env = "LOGFLIGHT_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, env = "LOGFLIGHT_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// CA bundle (PEM) that client certificates must chain to (mutual TLS)
    #[arg(long, env = "LOGFLIGHT_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// Append one JSON line per query to this file [default: off]
    #[arg(long, env = "LOGFLIGHT_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Record statements in the audit log as text or as a SHA-256 [default: text]
    #[arg(long, env = "LOGFLIGHT_AUDIT_SQL", value_enum)]
    pub audit_sql: Option<AuditSql>,
}

/// TLS files of `serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// The merged security settings.
#[derive(Debug, Clone, Default)]
pub struct Security {
    pub allow_anonymous: bool,
    pub token_ttl: Duration,
    pub tls: Option<TlsFiles>,
    pub audit_log: Option<PathBuf>,
    pub audit_sql: AuditSql,
    pub users: Vec<UserConfig>,
    pub tokens: Vec<TokenConfig>,
    pub grants: Vec<GrantConfig>,
}

impl Security {
    /// Authentication is on as soon as one user or token is configured.
    pub fn auth_enabled(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    /// Flags over the file; checks that TLS files come in pairs.
    pub fn resolve(flags: &SecurityFlags, file: &FileConfig) -> Result<Self> {
        let cert = flags.tls_cert.clone().or(file.tls_cert.clone());
        let key = flags.tls_key.clone().or(file.tls_key.clone());
        let client_ca = flags.tls_client_ca.clone().or(file.tls_client_ca.clone());
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                client_ca,
            }),
            (None, None) if client_ca.is_none() => None,
            (None, None) => {
                return Err(ServerError::Config(
                    "tls_client_ca needs tls_cert and tls_key: mutual TLS is TLS first".into(),
                ))
            }
            _ => {
                return Err(ServerError::Config(
                    "tls_cert and tls_key go together: give both or neither".into(),
                ))
            }
        };
        for grant in &file.grants {
            if grant.users.is_empty() && grant.roles.is_empty() {
                return Err(ServerError::Config(
                    "a [[grants]] entry names no users and no roles".into(),
                ));
            }
            if grant.log_groups.is_empty() && grant.tags.is_empty() {
                return Err(ServerError::Config(format!(
                    "the [[grants]] entry for {} has neither log_groups nor tags; write log_groups = [\"*\"] to grant every group",
                    grant.users.iter().chain(&grant.roles).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(Self {
            allow_anonymous: flags.allow_anonymous || file.allow_anonymous.unwrap_or(false),
            token_ttl: Duration::from_secs(
                flags
                    .token_ttl_secs
                    .or(file.token_ttl_secs)
                    .unwrap_or(3600)
                    .max(1),
            ),
            tls,
            audit_log: flags.audit_log.clone().or(file.audit_log.clone()),
            audit_sql: flags.audit_sql.or(file.audit_sql).unwrap_or_default(),
            users: file.users.clone(),
            tokens: file.tokens.clone(),
            grants: file.grants.clone(),
        })
    }
}

/// Per-query limits of `serve` (flags and environment).
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct LimitFlags {
    /// Fail a query that runs longer than this, with DEADLINE_EXCEEDED [default: 600]
    #[arg(long, env = "LOGFLIGHT_QUERY_TIMEOUT_SECS")]
    pub query_timeout_secs: Option<u64>,
    /// Fail a query whose result grows past this many rows, with RESOURCE_EXHAUSTED [default: no limit]
    #[arg(long, env = "LOGFLIGHT_MAX_RESULT_ROWS")]
    pub max_result_rows: Option<u64>,
    /// Memory a query may hold for sorts, joins and aggregations, in MiB [default: 1024]
    #[arg(long, env = "LOGFLIGHT_QUERY_MEMORY_MB")]
    pub query_memory_mb: Option<usize>,
    /// Queries running at once [default: 16]
    #[arg(long, env = "LOGFLIGHT_MAX_CONCURRENT_QUERIES")]
    pub max_concurrent_queries: Option<usize>,
    /// Queries waiting for a slot; more are refused with RESOURCE_EXHAUSTED [default: 64]
    #[arg(long, env = "LOGFLIGHT_MAX_QUEUED_QUERIES")]
    pub max_queued_queries: Option<usize>,
}

/// The merged limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub timeout: Duration,
    pub max_rows: Option<u64>,
    pub memory_bytes: usize,
    pub max_concurrent: usize,
    pub max_queued: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            max_rows: None,
            memory_bytes: 1024 << 20,
            max_concurrent: 16,
            max_queued: 64,
        }
    }
}

/// Where logs come from: shared by `serve` and `query`.
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// Log source [default: cloudwatch]
    #[arg(long, env = "LOGFLIGHT_SOURCE", value_enum)]
    pub source: Option<SourceKind>,
    /// Name of the SQL catalog holding the log groups [default: cloudwatch]
    #[arg(long, env = "LOGFLIGHT_CATALOG")]
    pub catalog: Option<String>,
    /// AWS region (else AWS_REGION or the profile's region)
    #[arg(long, env = "LOGFLIGHT_REGION")]
    pub region: Option<String>,
    /// AWS shared-config profile (else AWS_PROFILE)
    #[arg(long, env = "LOGFLIGHT_PROFILE")]
    pub profile: Option<String>,
    /// CloudWatch Logs endpoint, e.g. a local emulator (else AWS_ENDPOINT_URL)
    #[arg(long, env = "LOGFLIGHT_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// IAM role to assume for reading (another account's logs), e.g.
    /// arn:aws:iam::111122223333:role/LogReader
    #[arg(long, env = "LOGFLIGHT_ROLE_ARN")]
    pub role_arn: Option<String>,
    /// External id the role's trust policy requires
    #[arg(long, env = "LOGFLIGHT_EXTERNAL_ID")]
    pub external_id: Option<String>,
    /// Session name of the assumed role, seen in the role account's CloudTrail [default: logflight]
    #[arg(long, env = "LOGFLIGHT_ROLE_SESSION_NAME")]
    pub role_session_name: Option<String>,
    /// Attempts per API call before a throttled or failing call fails the query [default: 8]
    #[arg(long, env = "LOGFLIGHT_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
    /// CloudWatch API calls per second, e.g. GetLogEvents=10,FilterLogEvents=5
    /// [default: the published quotas: DescribeLogGroups=10, DescribeLogStreams=25,
    /// GetLogEvents=10, FilterLogEvents=5]
    #[arg(long, env = "LOGFLIGHT_API_TPS")]
    pub api_tps: Option<String>,
    /// CloudWatch API calls in flight at once, across all queries [default: 16]
    #[arg(long, env = "LOGFLIGHT_MAX_CONCURRENT_CALLS")]
    pub max_concurrent_calls: Option<usize>,
    /// Push filters and LIMIT down to CloudWatch (false: read everything and
    /// let SQL filter; for comparisons and as an escape hatch) [default: true]
    #[arg(long, env = "LOGFLIGHT_PUSHDOWN", value_name = "true|false")]
    pub pushdown: Option<bool>,
    /// Parallel reads per scan [default: 4]
    #[arg(long, env = "LOGFLIGHT_SCAN_PARTITIONS")]
    pub scan_partitions: Option<usize>,
    /// Seconds a log group or stream listing is reused [default: 60]
    #[arg(long, env = "LOGFLIGHT_CACHE_TTL_SECS")]
    pub cache_ttl_secs: Option<u64>,
    /// Events in the synthetic source's group [default: 1000000]
    #[arg(long, env = "LOGFLIGHT_SYNTHETIC_EVENTS")]
    pub synthetic_events: Option<u64>,
    /// Streams in the synthetic source's group [default: 10]
    #[arg(long, env = "LOGFLIGHT_SYNTHETIC_STREAMS")]
    pub synthetic_streams: Option<u64>,
    /// TOML config file; its keys are the flag names with underscores
    #[arg(long, env = "LOGFLIGHT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. info or logflight=debug (else RUST_LOG) [default: info]
    #[arg(long, env = "LOGFLIGHT_LOG_LEVEL")]
    pub log_level: Option<String>,
}

/// The config file: every key optional, the same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub source: Option<SourceKind>,
    pub catalog: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub role_session_name: Option<String>,
    /// Several catalogs (accounts, regions) in one server; see [`CatalogEntry`].
    #[serde(default)]
    pub catalogs: Vec<CatalogEntry>,
    pub max_attempts: Option<u32>,
    pub api_tps: Option<String>,
    pub max_concurrent_calls: Option<usize>,
    pub pushdown: Option<bool>,
    pub scan_partitions: Option<usize>,
    pub cache_ttl_secs: Option<u64>,
    pub synthetic_events: Option<u64>,
    pub synthetic_streams: Option<u64>,
    pub log_level: Option<String>,
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub ipc_compression: Option<IpcCompression>,
    pub query_timeout_secs: Option<u64>,
    pub max_result_rows: Option<u64>,
    pub query_memory_mb: Option<usize>,
    pub max_concurrent_queries: Option<usize>,
    pub max_queued_queries: Option<usize>,
    pub allow_anonymous: Option<bool>,
    pub token_ttl_secs: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub audit_log: Option<PathBuf>,
    pub audit_sql: Option<AuditSql>,
    /// Who may connect (see docs/security.md); authentication is on when
    /// there is at least one user or token.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Which log groups each user or role may see.
    #[serde(default)]
    pub grants: Vec<GrantConfig>,
}

/// One `[[users]]` table: a login for the Flight Handshake.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// Argon2 PHC string from `logflight hash-password`.
    pub password_hash: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// One `[[tokens]]` table: a static bearer token for a service.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    /// Hex SHA-256 of the token, from `logflight new-token`.
    pub token_sha256: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

// Hashes stay out of debug output (and so out of any log).
impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// One `[[grants]]` table: log groups some users or roles may read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// Principals (user or token names) the grant is for.
    #[serde(default)]
    pub users: Vec<String>,
    /// Roles the grant is for.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Catalogs it covers; every catalog when empty.
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// Log group name patterns (`*`, `?`); any group when empty.
    #[serde(default)]
    pub log_groups: Vec<String>,
    /// Tags a group must all carry; no condition when empty.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// How the audit log records a statement's text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditSql {
    /// The SQL as sent.
    #[default]
    Text,
    /// Only its SHA-256, for statements that may hold sensitive literals.
    Hash,
}

/// One `[[catalogs]]` table of the config file: a catalog over one account
/// and region. Unset keys take the top-level value (flag, environment, file).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub name: String,
    pub source: Option<SourceKind>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub role_session_name: Option<String>,
}

/// One catalog of the merged configuration: its name and where its logs are.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogConfig {
    pub name: String,
    pub source: SourceKind,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub role: Option<AssumeRole>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ServerError::Config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        toml::from_str(&text).map_err(|e| {
            ServerError::Config(format!("invalid config file {}: {e}", path.display()))
        })
    }
}

/// The merged configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// At least one; the first is the default catalog of unqualified names.
    pub catalogs: Vec<CatalogConfig>,
    pub quota: QuotaConfig,
    pub scan: ScanOptions,
    pub cache_ttl: Duration,
    /// (events, streams) of the synthetic source.
    pub synthetic: (u64, u64),
    pub log_level: Option<String>,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub ipc_compression: IpcCompression,
    pub limits: QueryLimits,
}

impl Config {
    /// The configuration and the security settings of `serve`.
    pub fn resolve_serve(
        args: &SourceArgs,
        serve: ServeFlags,
        security: &SecurityFlags,
    ) -> Result<(Self, Security)> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let security = Security::resolve(security, &file)?;
        Ok((Self::resolve(args, serve)?, security))
    }

    pub fn resolve(args: &SourceArgs, serve: ServeFlags) -> Result<Self> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let limits = serve.limits;
        let defaults = QueryLimits::default();
        let query_limits = QueryLimits {
            timeout: limits
                .query_timeout_secs
                .or(file.query_timeout_secs)
                .map_or(defaults.timeout, |s| Duration::from_secs(s.max(1))),
            max_rows: limits.max_result_rows.or(file.max_result_rows),
            memory_bytes: limits
                .query_memory_mb
                .or(file.query_memory_mb)
                .map_or(defaults.memory_bytes, |mb| mb.max(1) << 20),
            max_concurrent: limits
                .max_concurrent_queries
                .or(file.max_concurrent_queries)
                .unwrap_or(defaults.max_concurrent)
                .max(1),
            max_queued: limits
                .max_queued_queries
                .or(file.max_queued_queries)
                .unwrap_or(defaults.max_queued),
        };
        let mut config = Self::merge(args, serve.listen, file)?;
        config.limits = query_limits;
        config.metrics_listen = serve.metrics_listen.or(config.metrics_listen);
        config.ipc_compression = serve.ipc_compression.unwrap_or(config.ipc_compression);
        Ok(config)
    }

    fn merge(args: &SourceArgs, listen: Option<SocketAddr>, file: FileConfig) -> Result<Self> {
        let mut quota = QuotaConfig::default();
        if let Some(text) = args.api_tps.as_ref().or(file.api_tps.as_ref()) {
            quota.tps =
                parse_tps_list(text).map_err(|e| ServerError::Config(format!("api_tps: {e}")))?;
        }
        if let Some(n) = args.max_concurrent_calls.or(file.max_concurrent_calls) {
            quota.max_concurrency = n.max(1);
        }
        let mut scan = ScanOptions::default();
        if let Some(on) = args.pushdown.or(file.pushdown) {
            scan.pushdown = on;
        }
        if let Some(n) = args.scan_partitions.or(file.scan_partitions) {
            scan.max_partitions = n.max(1);
        }
        if let Some(n) = args.max_attempts.or(file.max_attempts) {
            quota.max_attempts = n.max(1);
        }
        let catalogs = catalogs(args, &file)?;
        Ok(Self {
            catalogs,
            quota,
            scan,
            cache_ttl: Duration::from_secs(
                args.cache_ttl_secs
                    .or(file.cache_ttl_secs)
                    .unwrap_or(DEFAULT_CACHE_TTL_SECS),
            ),
            synthetic: (
                args.synthetic_events
                    .or(file.synthetic_events)
                    .unwrap_or(1_000_000),
                args.synthetic_streams
                    .or(file.synthetic_streams)
                    .unwrap_or(10)
                    .max(1),
            ),
            log_level: args.log_level.clone().or(file.log_level),
            listen: listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            metrics_listen: file.metrics_listen,
            ipc_compression: file.ipc_compression.unwrap_or_default(),
            limits: QueryLimits::default(),
        })
    }
}

/// The catalogs: each `[[catalogs]]` entry over the top-level settings, or
/// one catalog of the top-level settings alone.
fn catalogs(args: &SourceArgs, file: &FileConfig) -> Result<Vec<CatalogConfig>> {
    let top = CatalogEntry {
        name: args
            .catalog
            .clone()
            .or(file.catalog.clone())
            .unwrap_or_else(|| DEFAULT_CATALOG.into()),
        source: args.source.or(file.source),
        region: args.region.clone().or(file.region.clone()),
        profile: args.profile.clone().or(file.profile.clone()),
        endpoint_url: args.endpoint_url.clone().or(file.endpoint_url.clone()),
        role_arn: args.role_arn.clone().or(file.role_arn.clone()),
        external_id: args.external_id.clone().or(file.external_id.clone()),
        role_session_name: args
            .role_session_name
            .clone()
            .or(file.role_session_name.clone()),
    };
    if file.catalogs.is_empty() {
        return Ok(vec![resolve_entry(&top, &top)?]);
    }
    if args.catalog.is_some() || file.catalog.is_some() {
        return Err(ServerError::Config(
            "`catalog` names the only catalog; with [[catalogs]] in the config file, give each its `name` there".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    file.catalogs
        .iter()
        .map(|entry| {
            if entry.name.is_empty() {
                return Err(ServerError::Config(
                    "a [[catalogs]] entry has an empty name".into(),
                ));
            }
            if !seen.insert(entry.name.as_str()) {
                return Err(ServerError::Config(format!(
                    "two [[catalogs]] entries are named {:?}",
                    entry.name
                )));
            }
            resolve_entry(entry, &top)
        })
        .collect()
}

fn resolve_entry(entry: &CatalogEntry, top: &CatalogEntry) -> Result<CatalogConfig> {
    let pick = |own: &Option<String>, inherited: &Option<String>| own.clone().or(inherited.clone());
    let role_arn = pick(&entry.role_arn, &top.role_arn);
    let external_id = pick(&entry.external_id, &top.external_id);
    let session_name = pick(&entry.role_session_name, &top.role_session_name);
    let role = match role_arn {
        Some(role_arn) => Some(AssumeRole {
            role_arn,
            external_id,
            session_name: session_name.unwrap_or_else(|| "logflight".into()),
        }),
        None if external_id.is_some() || session_name.is_some() => {
            return Err(ServerError::Config(format!(
                "catalog {:?}: external_id and role_session_name need a role_arn",
                entry.name
            )))
        }
        None => None,
    };
    Ok(CatalogConfig {
        name: entry.name.clone(),
        source: entry
            .source
            .or(top.source)
            .unwrap_or(SourceKind::Cloudwatch),
        region: pick(&entry.region, &top.region),
        profile: pick(&entry.profile, &top.profile),
        endpoint_url: pick(&entry.endpoint_url, &top.endpoint_url),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use logflight_connector::quota::Api;

    #[test]
    fn flags_beat_file_beats_defaults() {
        let file: FileConfig = toml::from_str(
            r#"
            source = "demo"
            catalog = "prod"
            region = "eu-west-1"
            listen = "0.0.0.0:6000"
            cache_ttl_secs = 5
            api_tps = "GetLogEvents=50"
            max_attempts = 3
            pushdown = false
            scan_partitions = 9
            ipc_compression = "lz4"
            synthetic_events = 77
            "#,
        )
        .unwrap();
        let args = SourceArgs {
            catalog: Some("cli".into()),
            ..Default::default()
        };
        let c = Config::merge(&args, None, file).unwrap();
        assert_eq!(c.catalogs.len(), 1);
        assert_eq!(c.catalogs[0].source, SourceKind::Demo);
        assert_eq!(c.catalogs[0].name, "cli");
        assert_eq!(c.catalogs[0].region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.catalogs[0].role, None);
        assert_eq!(c.listen, "0.0.0.0:6000".parse().unwrap());
        assert_eq!(c.cache_ttl, Duration::from_secs(5));
        assert_eq!(c.quota.tps, vec![(Api::GetLogEvents, 50.0)]);
        assert_eq!(c.quota.max_attempts, 3);
        assert_eq!(c.ipc_compression, IpcCompression::Lz4);
        assert_eq!(c.synthetic, (77, 10));
        assert_eq!(
            c.scan,
            ScanOptions {
                pushdown: false,
                max_partitions: 9
            }
        );

        let d = Config::merge(&SourceArgs::default(), None, FileConfig::default()).unwrap();
        assert_eq!(d.quota.max_attempts, QuotaConfig::default().max_attempts);
        assert_eq!(d.catalogs[0].source, SourceKind::Cloudwatch);
        assert_eq!(d.catalogs[0].name, DEFAULT_CATALOG);
        assert_eq!(d.listen, DEFAULT_LISTEN.parse().unwrap());
    }

    #[test]
    fn bad_tps_is_a_config_error() {
        let args = SourceArgs {
            api_tps: Some("GetLogEvents=fast".into()),
            ..Default::default()
        };
        let err = Config::merge(&args, None, FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("api_tps"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<FileConfig>("regoin = \"x\"").is_err());
    }

    #[test]
    fn catalog_entries_inherit_the_top_level() {
        let file: FileConfig = toml::from_str(
            r#"
            region = "us-east-1"
            endpoint_url = "http://127.0.0.1:5000"

            [[catalogs]]
            name = "us"

            [[catalogs]]
            name = "eu"
            region = "eu-west-1"
            role_arn = "arn:aws:iam::111111111111:role/LogReader"
            external_id = "x-1"

            [[catalogs]]
            name = "sample"
            source = "demo"
            "#,
        )
        .unwrap();
        let c = Config::merge(&SourceArgs::default(), None, file).unwrap();
        let names: Vec<&str> = c.catalogs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["us", "eu", "sample"]);
        assert_eq!(c.catalogs[0].region.as_deref(), Some("us-east-1"));
        assert_eq!(c.catalogs[0].role, None);
        assert_eq!(c.catalogs[1].region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            c.catalogs[1].endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            c.catalogs[1].role,
            Some(AssumeRole {
                role_arn: "arn:aws:iam::111111111111:role/LogReader".into(),
                external_id: Some("x-1".into()),
                session_name: "logflight".into(),
            })
        );
        assert_eq!(c.catalogs[2].source, SourceKind::Demo);
        assert_eq!(c.catalogs[0].source, SourceKind::Cloudwatch);
    }

    #[test]
    fn bad_catalog_lists_are_config_errors() {
        let cases = [
            (
                "[[catalogs]]\nname = \"a\"\n[[catalogs]]\nname = \"a\"",
                "two [[catalogs]]",
            ),
            ("[[catalogs]]\nname = \"\"", "empty name"),
            (
                "catalog = \"x\"\n[[catalogs]]\nname = \"a\"",
                "give each its `name`",
            ),
            (
                "[[catalogs]]\nname = \"a\"\nexternal_id = \"e\"",
                "need a role_arn",
            ),
        ];
        for (text, want) in cases {
            let file: FileConfig = toml::from_str(text).unwrap();
            let err = Config::merge(&SourceArgs::default(), None, file).unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
        assert!(
            toml::from_str::<FileConfig>("[[catalogs]]\nname = \"a\"\nregoin = \"x\"").is_err()
        );
    }

    #[test]
    fn limits_come_from_flags_then_file_then_defaults() {
        let dir = std::env::temp_dir().join(format!("logflight-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("limits.toml");
        std::fs::write(
            &path,
            "source = \"demo\"\nquery_timeout_secs = 30\nmax_result_rows = 7\nmax_queued_queries = 0\n",
        )
        .unwrap();
        let args = SourceArgs {
            config: Some(path),
            ..Default::default()
        };
        let flags = ServeFlags {
            limits: LimitFlags {
                query_memory_mb: Some(64),
                query_timeout_secs: Some(5),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = Config::resolve(&args, flags).unwrap();
        assert_eq!(
            c.limits,
            QueryLimits {
                timeout: Duration::from_secs(5),
                max_rows: Some(7),
                memory_bytes: 64 << 20,
                max_concurrent: QueryLimits::default().max_concurrent,
                max_queued: 0,
            }
        );
        let d = Config::resolve(&SourceArgs::default(), ServeFlags::default()).unwrap();
        assert_eq!(d.limits, QueryLimits::default());
    }

    #[test]
    fn security_settings_and_their_errors() {
        let file: FileConfig = toml::from_str(
            r#"
            token_ttl_secs = 90
            tls_cert = "c.pem"
            tls_key = "k.pem"
            audit_log = "audit.jsonl"
            audit_sql = "hash"

            [[users]]
            name = "alice"
            password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
            roles = ["payments"]

            [[tokens]]
            name = "dashboard"
            token_sha256 = "00"

            [[grants]]
            roles = ["payments"]
            log_groups = ["/ecs/*"]
            tags = { team = "payments" }
            "#,
        )
        .unwrap();
        let s = Security::resolve(&SecurityFlags::default(), &file).unwrap();
        assert!(s.auth_enabled());
        assert_eq!(s.token_ttl, Duration::from_secs(90));
        assert_eq!(s.audit_sql, AuditSql::Hash);
        assert_eq!(
            s.tls,
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into(),
                client_ca: None
            })
        );
        assert_eq!(s.grants[0].tags["team"], "payments");
        // Secrets stay out of debug output.
        let debug = format!("{:?}", s.users);
        assert!(
            debug.contains("alice") && !debug.contains("argon2"),
            "{debug}"
        );

        let flags = SecurityFlags {
            token_ttl_secs: Some(5),
            audit_sql: Some(AuditSql::Text),
            ..Default::default()
        };
        let s = Security::resolve(&flags, &file).unwrap();
        assert_eq!(
            (s.token_ttl, s.audit_sql),
            (Duration::from_secs(5), AuditSql::Text)
        );

        let off = Security::resolve(&SecurityFlags::default(), &FileConfig::default()).unwrap();
        assert!(!off.auth_enabled() && off.tls.is_none());

        let cases = [
            ("tls_cert = \"c\"", "go together"),
            ("tls_client_ca = \"ca\"", "mutual TLS is TLS first"),
            (
                "[[grants]]\nlog_groups = [\"*\"]",
                "names no users and no roles",
            ),
            ("[[grants]]\nusers = [\"a\"]", "neither log_groups nor tags"),
        ];
        for (text, want) in cases {
            let file: FileConfig = toml::from_str(text).unwrap();
            let err = Security::resolve(&SecurityFlags::default(), &file).unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
        assert!(toml::from_str::<FileConfig>("[[users]]\nname = \"a\"\npassword = \"x\"").is_err());
    }
}
