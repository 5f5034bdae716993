//! Flags, environment and the TOML config file merged into one [`Config`].
//!
//! Precedence: a command-line flag, then its `LOGFLIGHT_*` environment
//! variable (both handled by clap), then the config file, then the default.
//! Each setting is declared once, in [`settings`]; the file is read once;
//! unknown keys are errors, so a misspelt setting is never silently ignored.

pub mod cluster;
pub mod security;
pub mod settings;
pub mod tables;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;
use serde::Deserialize;

use logflight_connector::archive::ArchiveOptions;
use logflight_connector::formats::detect::{FormatKind, FormatRule};
use logflight_connector::formats::instantiate;
use logflight_connector::insights_pushdown::{InsightsPushdown, RangeEnd};
use logflight_connector::quota::{parse_tps_list, QuotaConfig};
use logflight_connector::{AssumeRole, NamePattern, ScanOptions};

pub use cluster::{ClusterConfig, ClusterSettings, ClusterTls};
pub use security::{Security, TlsFiles};
pub use settings::{FileConfig, ServeSettings, SourceSettings};
pub use tables::{CatalogEntry, GrantConfig, LegalHoldConfig, RetentionConfig, TypedTableConfig};

use crate::error::{Result, ServerError};
use crate::logging::LogFormat;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_CATALOG: &str = "cloudwatch";
const DEFAULT_CACHE_TTL_SECS: u64 = 60;
const DEFAULT_SYNTHETIC_EVENTS: u64 = 1_000_000;
const DEFAULT_SYNTHETIC_STREAMS: u64 = 10;

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

/// Whether SQL aggregations are pushed into Logs Insights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InsightsPushdownMode {
    /// Every aggregation is computed by a scan.
    Off,
    /// Aggregations Logs Insights computes exactly as SQL does
    /// (docs/insights-pushdown.md).
    Exact,
}

/// Which events Logs Insights' endTime (whole seconds) takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InsightsRangeEnd {
    /// Found out per query by a one-second probe, when it matters.
    Auto,
    /// Up to endTime*1000 milliseconds, as AWS stated in 2022.
    Instant,
    /// The whole end second, as some emulators (fakecloud) apply it.
    Second,
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

/// The limits a query runs under (flags, variables or the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Planning and running together, and the longest wait for a run slot.
    pub timeout: Duration,
    pub max_rows: Option<u64>,
    /// The memory pool of one query (sorts, joins, aggregations).
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

/// Where logs come from, on the command line of `serve` and `query`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    /// TOML config file; its keys are the flag names with underscores
    #[arg(long, env = "LOGFLIGHT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SourceSettings,
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
    pub archive: Option<ArchiveConfig>,
    /// This catalog's own `insights_pushdown` and `insights_range_end`.
    pub insights_pushdown: Option<InsightsPushdownMode>,
    pub insights_range_end: Option<InsightsRangeEnd>,
}

impl CatalogConfig {
    /// The scan options of this catalog: the server's, with its own
    /// Logs Insights settings.
    pub fn scan_options(&self, server: ScanOptions) -> ScanOptions {
        let mut scan = server;
        if let Some(mode) = self.insights_pushdown {
            scan.insights_pushdown = insights_pushdown(mode);
        }
        if let Some(end) = self.insights_range_end {
            scan.insights_range_end = insights_range_end(end);
        }
        scan
    }
}

fn insights_pushdown(mode: InsightsPushdownMode) -> InsightsPushdown {
    match mode {
        InsightsPushdownMode::Off => InsightsPushdown::Off,
        InsightsPushdownMode::Exact => InsightsPushdown::Exact,
    }
}

fn insights_range_end(end: InsightsRangeEnd) -> RangeEnd {
    match end {
        InsightsRangeEnd::Auto => RangeEnd::Auto,
        InsightsRangeEnd::Instant => RangeEnd::Instant,
        InsightsRangeEnd::Second => RangeEnd::WholeSecond,
    }
}

/// Where a catalog's archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    pub root: String,
    pub options: ArchiveOptions,
}

/// The merged configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// At least one; the first is the default catalog of unqualified names.
    pub catalogs: Vec<CatalogConfig>,
    pub quota: QuotaConfig,
    pub scan: ScanOptions,
    pub cache_ttl: Duration,
    /// (events, streams, milliseconds between events) of the synthetic source.
    pub synthetic: (u64, u64, u64),
    pub log_level: Option<String>,
    pub log_format: LogFormat,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub ipc_compression: IpcCompression,
    pub limits: QueryLimits,
    pub security: Security,
    /// `[[retention]]` and `[[legal_holds]]`, for `archive prune`.
    pub retention: Vec<RetentionConfig>,
    pub legal_holds: Vec<LegalHoldConfig>,
    /// `[[typed_tables]]`, checked.
    pub typed_tables: Vec<TypedTableConfig>,
    /// `[cluster]` (only `serve` joins one).
    pub cluster: Option<ClusterConfig>,
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

impl Config {
    /// The configuration of the command line `args` and `serve` settings
    /// over the config file they name (read once) and the defaults.
    /// The commands other than `serve` never join a cluster: a cluster's
    /// config file serves them too.
    pub fn resolve(args: &SourceArgs, serve: &ServeSettings) -> Result<Self> {
        Ok(Self::resolve_with_file(args, serve)?.0)
    }

    /// [`Self::resolve`] and the cluster of `serve`: its flags over the
    /// file's `[cluster]` table.
    pub fn resolve_serving(
        args: &SourceArgs,
        serve: &ServeSettings,
        cluster: &ClusterSettings,
    ) -> Result<Self> {
        let (mut config, file) = Self::resolve_with_file(args, serve)?;
        config.cluster = cluster.resolve(&file.cluster)?;
        Ok(config)
    }

    fn resolve_with_file(args: &SourceArgs, serve: &ServeSettings) -> Result<(Self, FileConfig)> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let source = args.settings.clone().or_file(&file);
        let serve = serve.clone().or_file(&file);
        let config = Self::from_settings(&source, &serve, &file)?;
        Ok((config, file))
    }

    /// From merged settings: the defaults are applied here, once.
    pub fn from_settings(
        source: &SourceSettings,
        serve: &ServeSettings,
        file: &FileConfig,
    ) -> Result<Self> {
        tables::check_archive_policy(&file.retention, &file.legal_holds)
            .map_err(ServerError::Config)?;
        Ok(Self {
            catalogs: catalogs(source, &file.catalogs)?,
            quota: quota(source)?,
            scan: scan(source),
            cache_ttl: Duration::from_secs(source.cache_ttl_secs.unwrap_or(DEFAULT_CACHE_TTL_SECS)),
            synthetic: (
                source.synthetic_events.unwrap_or(DEFAULT_SYNTHETIC_EVENTS),
                source
                    .synthetic_streams
                    .unwrap_or(DEFAULT_SYNTHETIC_STREAMS)
                    .max(1),
                source.synthetic_step_ms.unwrap_or(10).max(1),
            ),
            log_level: source.log_level.clone(),
            log_format: source.log_format.unwrap_or_default(),
            listen: socket_addr(
                "--listen",
                serve.listen.as_deref().unwrap_or(DEFAULT_LISTEN),
            )?,
            metrics_listen: serve
                .metrics_listen
                .as_deref()
                .map(|a| socket_addr("--metrics-listen", a))
                .transpose()?,
            ipc_compression: serve.ipc_compression.unwrap_or_default(),
            limits: limits(serve),
            security: Security::resolve(serve, file)?,
            retention: file.retention.clone(),
            legal_holds: file.legal_holds.clone(),
            typed_tables: checked_typed_tables(&file.typed_tables)?,
            cluster: None,
        })
    }
}

/// The address a listen setting names: `IP:PORT`, or `HOST:PORT` with the
/// host resolved (`localhost:50051`). Of several addresses an IPv4 one is
/// taken, as clients given `localhost` mostly try 127.0.0.1.
fn socket_addr(setting: &str, text: &str) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let bad = |why: String| {
        ServerError::Config(format!(
            "{setting} {text:?}: {why}; expected HOST:PORT, e.g. 127.0.0.1:50051 or localhost:50051"
        ))
    };
    if !text.contains(':') {
        return Err(bad("no port".into()));
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| bad("the name resolves to no address".into()))
}

fn quota(source: &SourceSettings) -> Result<QuotaConfig> {
    let mut quota = QuotaConfig::default();
    if let Some(text) = &source.api_tps {
        quota.tps =
            parse_tps_list(text).map_err(|e| ServerError::Config(format!("api_tps: {e}")))?;
    }
    if let Some(n) = source.max_concurrent_calls {
        quota.max_concurrency = n.max(1);
    }
    if let Some(n) = source.max_attempts {
        quota.max_attempts = n.max(1);
    }
    if let Some(n) = source.insights_max_queries {
        quota.insights_max_queries = n.max(1);
    }
    if let Some(n) = source.insights_max_opensearch_queries {
        quota.insights_max_opensearch_queries = n.max(1);
    }
    Ok(quota)
}

/// Refuses `[[typed_tables]]` entries that would not do what they say: an
/// unknown format, a flow-log format on another format or one that does
/// not parse, no group pattern.
fn checked_typed_tables(entries: &[TypedTableConfig]) -> Result<Vec<TypedTableConfig>> {
    for (i, entry) in entries.iter().enumerate() {
        let bad =
            |why: String| ServerError::Config(format!("[[typed_tables]] entry {}: {why}", i + 1));
        if entry.log_groups.is_empty() {
            return Err(bad(
                "log_groups is empty; name the groups (patterns with * and ?)".into(),
            ));
        }
        let kind = format_of(&entry.format).map_err(bad)?;
        if let Some(text) = &entry.flow_log_format {
            if kind != Some(FormatKind::FlowLogs) {
                return Err(bad(format!(
                    "flow_log_format is for format = \"vpc_flow_logs\", not {:?}",
                    entry.format
                )));
            }
            instantiate(FormatKind::FlowLogs, Some(text))
                .map_err(|e| bad(format!("flow_log_format: {e}")))?;
        }
    }
    Ok(entries.to_vec())
}

fn format_of(name: &str) -> std::result::Result<Option<FormatKind>, String> {
    if name.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    FormatKind::from_name(name).map(Some).ok_or_else(|| {
        format!(
            "format {name:?} is not one logflight knows; formats are: {}, none",
            FormatKind::ALL.map(FormatKind::name).join(", ")
        )
    })
}

impl Config {
    /// The `[[typed_tables]]` rules of one catalog.
    pub fn format_rules(&self, catalog: &str) -> Vec<FormatRule> {
        self.typed_tables
            .iter()
            .filter(|t| t.covers(catalog))
            .map(|t| FormatRule {
                log_groups: t.log_groups.iter().map(|p| NamePattern::new(p)).collect(),
                format: format_of(&t.format).ok().flatten(),
                flow_log_format: t.flow_log_format.clone(),
            })
            .collect()
    }
}

fn scan(source: &SourceSettings) -> ScanOptions {
    let mut scan = ScanOptions::default();
    if let Some(s) = source.cloudtrail_delivery_delay_secs {
        scan.delivery_delay_ms = i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    }
    if let Some(s) = source.cloudtrail_clock_skew_secs {
        scan.clock_skew_ms = i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    }
    if let Some(on) = source.pushdown {
        scan.pushdown = on;
    }
    if let Some(n) = source.scan_partitions {
        scan.max_partitions = n.max(1);
    }
    // insights_pushdown and insights_range_end are each catalog's own
    // (CatalogConfig::scan_options), the top-level value inherited there.
    scan
}

fn limits(serve: &ServeSettings) -> QueryLimits {
    let defaults = QueryLimits::default();
    QueryLimits {
        timeout: serve
            .query_timeout_secs
            .map_or(defaults.timeout, |s| Duration::from_secs(s.max(1))),
        max_rows: serve.max_result_rows,
        memory_bytes: serve
            .query_memory_mb
            .map_or(defaults.memory_bytes, |mb| mb.max(1) << 20),
        max_concurrent: serve
            .max_concurrent_queries
            .unwrap_or(defaults.max_concurrent)
            .max(1),
        max_queued: serve.max_queued_queries.unwrap_or(defaults.max_queued),
    }
}

/// The catalogs: each `[[catalogs]]` entry over the top-level settings, or
/// one catalog of the top-level settings alone.
fn catalogs(source: &SourceSettings, entries: &[CatalogEntry]) -> Result<Vec<CatalogConfig>> {
    let top = CatalogEntry {
        name: source
            .catalog
            .clone()
            .unwrap_or_else(|| DEFAULT_CATALOG.into()),
        source: source.source,
        region: source.region.clone(),
        profile: source.profile.clone(),
        endpoint_url: source.endpoint_url.clone(),
        role_arn: source.role_arn.clone(),
        external_id: source.external_id.clone(),
        role_session_name: source.role_session_name.clone(),
        archive_root: source.archive_root.clone(),
        archive_endpoint_url: source.archive_endpoint_url.clone(),
        archive_kms_key_id: source.archive_kms_key_id.clone(),
        insights_pushdown: source.insights_pushdown,
        insights_range_end: source.insights_range_end,
    };
    if entries.is_empty() {
        return Ok(vec![resolve_entry(&top, &top)?]);
    }
    if source.catalog.is_some() {
        return Err(ServerError::Config(
            "`catalog` names the only catalog; with [[catalogs]] in the config file, give each its `name` there".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    entries
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
        archive: pick(&entry.archive_root, &top.archive_root).map(|root| ArchiveConfig {
            root,
            options: ArchiveOptions {
                region: pick(&entry.region, &top.region),
                profile: pick(&entry.profile, &top.profile),
                endpoint_url: pick(&entry.archive_endpoint_url, &top.archive_endpoint_url),
                sse_kms_key_id: pick(&entry.archive_kms_key_id, &top.archive_kms_key_id),
            },
        }),
        insights_pushdown: entry.insights_pushdown.or(top.insights_pushdown),
        insights_range_end: entry.insights_range_end.or(top.insights_range_end),
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
