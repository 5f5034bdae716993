//! Precedence and validation of the merged configuration.

use super::*;
use logflight_connector::quota::Api;

/// The configuration of `flags` over a config file of `text`.
fn merged(flags: SourceSettings, text: &str) -> Result<Config> {
    let file: FileConfig = toml::from_str(text).unwrap();
    let source = flags.or_file(&file);
    let serve = ServeSettings::default().or_file(&file);
    Config::from_settings(&source, &serve, &file)
}

#[test]
fn flags_beat_file_beats_defaults() {
    let file = r#"
        source = "demo"
        catalog = "prod"
        region = "eu-west-1"
        listen = "0.0.0.0:6000"
        cache_ttl_secs = 5
        api_tps = "GetLogEvents=50"
        max_attempts = 3
        insights_max_queries = 7
        pushdown = false
        scan_partitions = 9
        ipc_compression = "lz4"
        synthetic_events = 77
        "#;
    let args = SourceSettings {
        catalog: Some("cli".into()),
        ..Default::default()
    };
    let c = merged(args, file).unwrap();
    assert_eq!(c.catalogs.len(), 1);
    assert_eq!(c.catalogs[0].source, SourceKind::Demo);
    assert_eq!(c.catalogs[0].name, "cli");
    assert_eq!(c.catalogs[0].region.as_deref(), Some("eu-west-1"));
    assert_eq!(c.catalogs[0].role, None);
    assert_eq!(c.listen, "0.0.0.0:6000".parse().unwrap());
    assert_eq!(c.cache_ttl, Duration::from_secs(5));
    assert_eq!(c.quota.tps, vec![(Api::GetLogEvents, 50.0)]);
    assert_eq!(c.quota.max_attempts, 3);
    assert_eq!(c.quota.insights_max_queries, 7);
    assert_eq!(c.quota.insights_max_opensearch_queries, 10);
    assert_eq!(c.ipc_compression, IpcCompression::Lz4);
    assert_eq!(c.synthetic, (77, 10, 10));
    assert_eq!(
        c.scan,
        ScanOptions {
            pushdown: false,
            max_partitions: 9,
            ..ScanOptions::default()
        }
    );

    let d = merged(SourceSettings::default(), "").unwrap();
    assert_eq!(d.quota.max_attempts, QuotaConfig::default().max_attempts);
    assert_eq!(d.quota.insights_max_queries, 50);
    assert_eq!(d.catalogs[0].source, SourceKind::Cloudwatch);
    assert_eq!(d.catalogs[0].name, DEFAULT_CATALOG);
    assert_eq!(d.listen, DEFAULT_LISTEN.parse().unwrap());
}

#[test]
fn bad_tps_is_a_config_error() {
    let args = SourceSettings {
        api_tps: Some("GetLogEvents=fast".into()),
        ..Default::default()
    };
    let err = merged(args, "").unwrap_err();
    assert!(err.to_string().contains("api_tps"), "{err}");
}

#[test]
fn unknown_keys_are_rejected() {
    assert!(toml::from_str::<FileConfig>("regoin = \"x\"").is_err());
}

#[test]
fn catalog_entries_inherit_the_top_level() {
    let file = r#"
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
        "#;
    let c = merged(SourceSettings::default(), file).unwrap();
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
        let err = merged(SourceSettings::default(), text).unwrap_err();
        assert!(err.to_string().contains(want), "{text}: {err}");
    }
    assert!(toml::from_str::<FileConfig>("[[catalogs]]\nname = \"a\"\nregoin = \"x\"").is_err());
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
    let flags = ServeSettings {
        query_memory_mb: Some(64),
        query_timeout_secs: Some(5),
        ..Default::default()
    };
    let c = Config::resolve(&args, &flags).unwrap();
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
    let d = Config::resolve(&SourceArgs::default(), &ServeSettings::default()).unwrap();
    assert_eq!(d.limits, QueryLimits::default());
}

#[test]
fn retention_and_legal_holds_are_read_and_checked() {
    let c = merged(
        SourceSettings::default(),
        r#"
        [[retention]]
        log_groups = ["/aws/cloudtrail/*"]
        days = 2557

        [[retention]]
        log_groups = ["/ecs/*"]
        catalogs = ["prod"]
        days = 400

        [[legal_holds]]
        log_groups = ["/aws/lambda/payments-*"]
        reason = "litigation 2026-114"
        "#,
    )
    .unwrap();
    assert_eq!(c.retention.len(), 2);
    assert_eq!(c.retention[0].days, 2557);
    assert!(c.retention[0].covers("any"));
    assert!(c.retention[1].covers("prod") && !c.retention[1].covers("dev"));
    assert_eq!(c.legal_holds[0].reason, "litigation 2026-114");
    let refused = [
        (
            "[[retention]]\nlog_groups = []\ndays = 3",
            "names no log_groups",
        ),
        ("[[retention]]\nlog_groups = [\"*\"]\ndays = 0", "days = 0"),
        (
            "[[legal_holds]]\nlog_groups = [\"*\"]\nreason = \"  \"",
            "has no reason",
        ),
        (
            "[[legal_holds]]\nlog_groups = []\nreason = \"x\"",
            "names no log_groups",
        ),
    ];
    for (text, message) in refused {
        let err = merged(SourceSettings::default(), text)
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{text}: {err}");
    }
}

#[test]
fn listen_addresses_resolve_names() {
    let cases: [(&str, Option<&str>); 6] = [
        ("127.0.0.1:50051", Some("127.0.0.1:50051")),
        ("[::1]:7", Some("[::1]:7")),
        ("localhost:50051", Some("127.0.0.1:50051")),
        ("localhost", None),
        ("127.0.0.1:notaport", None),
        ("no-such-host.invalid:50051", None),
    ];
    for (text, want) in cases {
        let serve = ServeSettings {
            listen: Some(text.into()),
            ..Default::default()
        };
        let got = Config::from_settings(&SourceSettings::default(), &serve, &FileConfig::default());
        match want {
            Some(addr) => assert_eq!(got.unwrap().listen, addr.parse().unwrap(), "{text}"),
            None => {
                let err = got.unwrap_err().to_string();
                assert!(
                    err.contains("--listen") && err.contains(text),
                    "{text}: {err}"
                );
            }
        }
    }
}

#[test]
fn typed_table_rules_are_checked_and_scoped_to_catalogs() {
    let good = r#"
        cloudtrail_delivery_delay_secs = 600
        [[typed_tables]]
        log_groups = ["/org/trail*"]
        format = "CloudTrail"
        catalogs = ["prod"]
        [[typed_tables]]
        log_groups = ["/net/*"]
        format = "vpc_flow_logs"
        flow_log_format = "${version} ${srcaddr} ${dstport}"
        [[typed_tables]]
        log_groups = ["/aws/lambda/cloudtrail-*"]
        format = "none"
    "#;
    let c = merged(SourceSettings::default(), good).unwrap();
    assert_eq!(c.scan.delivery_delay_ms, 600_000);
    assert_eq!(c.scan.clock_skew_ms, ScanOptions::default().clock_skew_ms);
    let prod = c.format_rules("prod");
    assert_eq!(prod.len(), 3);
    assert_eq!(prod[0].format, Some(FormatKind::CloudTrail));
    assert_eq!(prod[2].format, None);
    let other = c.format_rules("dev");
    assert_eq!(other.len(), 2, "the first rule is prod's only");
    assert_eq!(
        other[0].flow_log_format.as_deref(),
        Some("${version} ${srcaddr} ${dstport}")
    );

    let bad = [
        (
            r#"log_groups = ["/x"]
            format = "cloudtrails""#,
            "not one logflight knows",
        ),
        (
            r#"log_groups = []
            format = "cloudtrail""#,
            "log_groups is empty",
        ),
        (
            r#"log_groups = ["/x"]
            format = "cloudtrail"
            flow_log_format = "${version}""#,
            "flow_log_format is for",
        ),
        (
            r#"log_groups = ["/x"]
            format = "vpc_flow_logs"
            flow_log_format = "${version} ${nope}""#,
            "nope",
        ),
    ];
    for (entry, want) in bad {
        let err = merged(
            SourceSettings::default(),
            &format!("[[typed_tables]]\n{entry}"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[[typed_tables]] entry 1") && err.contains(want),
            "{err}"
        );
    }
}

/// A cluster's config file serves `query` and `archive` too: only
/// `serve` joins the cluster (and needs its worker port).
#[test]
fn only_serve_joins_the_cluster_of_the_file() {
    let dir = std::env::temp_dir().join(format!("logflight-cluster-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.toml");
    std::fs::write(
        &path,
        "source = \"demo\"\n[cluster]\nnodes = [\"http://127.0.0.1:7001\", \"http://127.0.0.1:7002\"]\n",
    )
    .unwrap();
    let args = SourceArgs {
        config: Some(path),
        ..Default::default()
    };
    let c = Config::resolve(&args, &ServeSettings::default()).unwrap();
    assert_eq!(c.cluster, None);
    let no_port = Config::resolve_serving(
        &args,
        &ServeSettings::default(),
        &ClusterSettings::default(),
    );
    assert!(no_port.unwrap_err().to_string().contains("not listen"));
    let flags = ClusterSettings {
        cluster_listen: Some("127.0.0.1:7002".into()),
        ..Default::default()
    };
    let c = Config::resolve_serving(&args, &ServeSettings::default(), &flags).unwrap();
    let cluster = c.cluster.unwrap();
    assert_eq!(cluster.me, "http://127.0.0.1:7002/");
    assert_eq!(cluster.nodes.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
