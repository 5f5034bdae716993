//! Every setting, declared once.
//!
//! One line of [`settings!`] gives a setting its flag (`--field-name`), its
//! environment variable (clap reads it when the flag is absent), its TOML
//! key (`field_name`) and its `--help` text. The macro makes a clap
//! argument group per section and the config file's one struct (unknown
//! keys are errors), so the three can never drift apart.

use std::path::PathBuf;

use super::tables::{
    CatalogEntry, GrantConfig, LegalHoldConfig, RetentionConfig, TokenConfig, TypedTableConfig,
    UserConfig,
};
use super::{AuditSql, InsightsPushdownMode, InsightsRangeEnd, IpcCompression, SourceKind};
use crate::logging::LogFormat;

macro_rules! settings {
    (
        $(#[doc = $file_doc:literal])*
        file {
            $( $(#[doc = $tdoc:literal])* $table:ident: $tty:ty; )*
        }
        $(
            $(#[doc = $section_doc:literal])*
            section $section:ident {
                $(
                    $(#[doc = $doc:literal])*
                    $field:ident: $ty:ty = $env:literal $(, $arg:ident $(= $value:expr)?)*;
                )*
            }
        )*
    ) => {
        $(
            $(#[doc = $section_doc])*
            #[derive(Debug, Clone, Default, PartialEq, clap::Args)]
            pub struct $section {
                $(
                    $(#[doc = $doc])*
                    #[arg(long, env = $env $(, $arg $(= $value)?)*)]
                    pub $field: Option<$ty>,
                )*
            }

            impl $section {
                /// Each setting given here (a flag or its variable), else the file's.
                pub fn or_file(self, file: &FileConfig) -> Self {
                    Self { $( $field: self.$field.or_else(|| file.$field.clone()), )* }
                }
            }
        )*

        $(#[doc = $file_doc])*
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $( $( pub $field: Option<$ty>, )* )*
            $( $(#[doc = $tdoc])* #[serde(default)] pub $table: $tty, )*
        }
    };
}

settings! {
    /// The config file: every setting below under its own name, and the
    /// tables that only a file can hold.
    file {
        /// Several catalogs (accounts, regions) in one server.
        catalogs: Vec<CatalogEntry>;
        /// Who may connect (see docs/security.md); authentication is on
        /// when there is at least one user or token.
        users: Vec<UserConfig>;
        tokens: Vec<TokenConfig>;
        /// Which log groups each user or role may see.
        grants: Vec<GrantConfig>;
        /// How long `archive prune` keeps each group's archive.
        retention: Vec<RetentionConfig>;
        /// Groups `archive prune` never deletes.
        legal_holds: Vec<LegalHoldConfig>;
        /// Which typed table (CloudTrail, flow logs, Lambda) groups get.
        typed_tables: Vec<TypedTableConfig>;
        /// The nodes of a cluster (docs/cluster.md).
        cluster: super::cluster::ClusterTable;
    }

    /// Where logs come from: the settings of `serve` and `query`.
    section SourceSettings {
        /// Log source [default: cloudwatch]
        source: SourceKind = "LOGFLIGHT_SOURCE", value_enum;
        /// Name of the SQL catalog holding the log groups [default: cloudwatch]
        catalog: String = "LOGFLIGHT_CATALOG";
        /// AWS region (else AWS_REGION or the profile's region)
        region: String = "LOGFLIGHT_REGION";
        /// AWS shared-config profile (else AWS_PROFILE)
        profile: String = "LOGFLIGHT_PROFILE";
        /// CloudWatch Logs endpoint, e.g. a local emulator (else AWS_ENDPOINT_URL)
        endpoint_url: String = "LOGFLIGHT_ENDPOINT_URL";
        /// IAM role to assume for reading (another account's logs), e.g.
        /// arn:aws:iam::111122223333:role/LogReader
        role_arn: String = "LOGFLIGHT_ROLE_ARN";
        /// External id the role's trust policy requires
        external_id: String = "LOGFLIGHT_EXTERNAL_ID";
        /// Session name of the assumed role, seen in the role account's CloudTrail [default: logflight]
        role_session_name: String = "LOGFLIGHT_ROLE_SESSION_NAME";
        /// Attempts per API call before a throttled or failing call fails the query [default: 8]
        max_attempts: u32 = "LOGFLIGHT_MAX_ATTEMPTS";
        /// CloudWatch API calls per second, e.g. GetLogEvents=10,FilterLogEvents=5
        /// [default: the published quotas: DescribeLogGroups=10, DescribeLogStreams=25,
        /// GetLogEvents=10, FilterLogEvents=5, and EC2 DescribeFlowLogs=5]
        api_tps: String = "LOGFLIGHT_API_TPS";
        /// CloudWatch API calls in flight at once, across all queries [default: 16]
        max_concurrent_calls: usize = "LOGFLIGHT_MAX_CONCURRENT_CALLS";
        /// Logs Insights queries (insights()) running at once; more wait their turn.
        /// The account allows 100, shared with consoles and dashboards [default: 50]
        insights_max_queries: usize = "LOGFLIGHT_INSIGHTS_MAX_QUERIES";
        /// OpenSearch SQL and PPL queries (insights_sql(), insights_ppl()) running
        /// at once; the account allows 15 [default: 10]
        insights_max_opensearch_queries: usize = "LOGFLIGHT_INSIGHTS_MAX_OPENSEARCH_QUERIES";
        /// Push filters and LIMIT down to CloudWatch (false: read everything and
        /// let SQL filter; for comparisons and as an escape hatch) [default: true]
        pushdown: bool = "LOGFLIGHT_PUSHDOWN", value_name = "true|false";
        /// Answer SQL aggregations (count by stream and time bucket, ...) with one
        /// Logs Insights query where it gives exactly the SQL answer
        /// (docs/insights-pushdown.md) [default: exact]
        insights_pushdown: InsightsPushdownMode = "LOGFLIGHT_INSIGHTS_PUSHDOWN", value_enum;
        /// Which events Logs Insights' endTime takes in: `auto` (found out per query
        /// by a one-second probe when it matters), `instant` (up to endTime*1000 ms, as AWS
        /// stated) or `second` (the whole second, fakecloud) [default: auto]
        insights_range_end: InsightsRangeEnd = "LOGFLIGHT_INSIGHTS_RANGE_END", value_enum;
        /// Parallel reads per scan [default: 4]
        scan_partitions: usize = "LOGFLIGHT_SCAN_PARTITIONS";
        /// Seconds CloudWatch may stamp a CloudTrail event after its eventTime;
        /// an eventtime condition reads CloudWatch this much later (docs/typed-tables.md) [default: 86400]
        cloudtrail_delivery_delay_secs: u64 = "LOGFLIGHT_CLOUDTRAIL_DELIVERY_DELAY_SECS";
        /// Seconds CloudWatch may stamp a CloudTrail event before its eventTime [default: 3600]
        cloudtrail_clock_skew_secs: u64 = "LOGFLIGHT_CLOUDTRAIL_CLOCK_SKEW_SECS";
        /// Seconds a log group or stream listing is reused [default: 60]
        cache_ttl_secs: u64 = "LOGFLIGHT_CACHE_TTL_SECS";
        /// Events in the synthetic source's group [default: 1000000]
        synthetic_events: u64 = "LOGFLIGHT_SYNTHETIC_EVENTS";
        /// Streams in the synthetic source's group [default: 10]
        synthetic_streams: u64 = "LOGFLIGHT_SYNTHETIC_STREAMS";
        /// Milliseconds between the synthetic source's events [default: 10]
        synthetic_step_ms: u64 = "LOGFLIGHT_SYNTHETIC_STEP_MS";
        /// Log filter, e.g. info or logflight=debug (else RUST_LOG) [default: info]
        log_level: String = "LOGFLIGHT_LOG_LEVEL";
        /// Log lines as text, or as one JSON object each for log shippers [default: text]
        log_format: LogFormat = "LOGFLIGHT_LOG_FORMAT", value_enum;
        /// The archive of the catalog: a directory or s3://bucket/prefix
        /// (see docs/archive.md) [default: none]
        archive_root: String = "LOGFLIGHT_ARCHIVE_ROOT";
        /// S3-compatible endpoint of the archive, e.g. a local emulator (else AWS_ENDPOINT_URL_S3)
        archive_endpoint_url: String = "LOGFLIGHT_ARCHIVE_ENDPOINT_URL";
        /// KMS key that encrypts archived objects (SSE-KMS) [default: the bucket's own encryption]
        archive_kms_key_id: String = "LOGFLIGHT_ARCHIVE_KMS_KEY_ID";
    }

    /// The settings only `serve` has: listening, limits and security.
    section ServeSettings {
        /// Address to listen on, HOST:PORT (a name such as localhost is resolved) [default: 127.0.0.1:50051]
        listen: String = "LOGFLIGHT_LISTEN";
        /// Serve Prometheus metrics at http://HOST:PORT/metrics [default: off]
        metrics_listen: String = "LOGFLIGHT_METRICS_LISTEN";
        /// Compress result batches (Arrow IPC body compression) [default: none]
        ipc_compression: IpcCompression = "LOGFLIGHT_IPC_COMPRESSION", value_enum;
        /// Fail a query that runs longer than this, with DEADLINE_EXCEEDED [default: 600]
        query_timeout_secs: u64 = "LOGFLIGHT_QUERY_TIMEOUT_SECS";
        /// Fail a query whose result grows past this many rows, with RESOURCE_EXHAUSTED [default: no limit]
        max_result_rows: u64 = "LOGFLIGHT_MAX_RESULT_ROWS";
        /// Memory a query may hold for sorts, joins and aggregations, in MiB [default: 1024]
        query_memory_mb: usize = "LOGFLIGHT_QUERY_MEMORY_MB";
        /// Queries running at once [default: 16]
        max_concurrent_queries: usize = "LOGFLIGHT_MAX_CONCURRENT_QUERIES";
        /// Queries waiting for a slot; more are refused with RESOURCE_EXHAUSTED [default: 64]
        max_queued_queries: usize = "LOGFLIGHT_MAX_QUEUED_QUERIES";
        /// Serve on a non-loopback address without authentication (anyone who
        /// can reach the port can query every log group logflight can read)
        allow_anonymous: bool = "LOGFLIGHT_ALLOW_ANONYMOUS", num_args = 0..=1,
            default_missing_value = "true", value_name = "true|false",
            value_parser = clap::builder::FalseyValueParser::new();
        /// Lifetime of the bearer tokens Handshake issues, in seconds [default: 3600]
        token_ttl_secs: u64 = "LOGFLIGHT_TOKEN_TTL_SECS";
        /// TLS certificate chain (PEM); with --tls-key, serves grpc+tls
        tls_cert: PathBuf = "LOGFLIGHT_TLS_CERT";
        /// TLS private key (PEM)
        tls_key: PathBuf = "LOGFLIGHT_TLS_KEY";
        /// CA bundle (PEM) that client certificates must chain to (mutual TLS)
        tls_client_ca: PathBuf = "LOGFLIGHT_TLS_CLIENT_CA";
        /// Append one JSON line per query to this file [default: off]
        audit_log: PathBuf = "LOGFLIGHT_AUDIT_LOG";
        /// Record statements in the audit log as text or as a SHA-256 [default: text]
        audit_sql: AuditSql = "LOGFLIGHT_AUDIT_SQL", value_enum;
    }

}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Args;

    /// The variable of every flag is `LOGFLIGHT_` and the flag's name.
    #[test]
    fn every_setting_has_its_variable() {
        let command =
            super::super::cluster::ClusterSettings::augment_args(ServeSettings::augment_args(
                SourceSettings::augment_args(clap::Command::new("logflight")),
            ));
        let mut seen = 0;
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(
                env,
                Some(format!("LOGFLIGHT_{}", id.to_uppercase())),
                "--{id}"
            );
            assert_eq!(arg.get_long(), Some(id.replace('_', "-").as_str()));
            seen += 1;
        }
        assert_eq!(seen, 49);
    }

    #[test]
    fn file_keys_are_the_settings_names() {
        let file: FileConfig = toml::from_str(
            "source = \"demo\"\nmax_result_rows = 7\nallow_anonymous = true\n[[catalogs]]\nname = \"a\"",
        )
        .unwrap();
        let source = SourceSettings::default().or_file(&file);
        let serve = ServeSettings::default().or_file(&file);
        assert_eq!(source.source, Some(SourceKind::Demo));
        assert_eq!(serve.max_result_rows, Some(7));
        assert_eq!(serve.allow_anonymous, Some(true));
        assert_eq!(file.catalogs.len(), 1);
        assert!(toml::from_str::<FileConfig>("regoin = \"x\"").is_err());
    }
}
