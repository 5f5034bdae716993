//! Pushdown can only save work, never change an answer: thousands of
//! generated predicates give the same results with pushdown on as with it
//! off (where the scan reads everything and DataFusion filters), on the
//! demo source.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use logflight_connector::counters::ReadCounters;
use logflight_connector::model::ReadRequest;
use logflight_connector::rng::SplitMix64;
use logflight_connector::source::LogSource;
use logflight_connector::{DemoSource, LogCatalog, ScanOptions};

const ANCHOR: i64 = 1_795_000_000_000;
const GROUPS: [&str; 3] = ["/vpc/flow-logs", "/var/log/secure", "/ecs/Payments-Service"];

/// What a group holds, to aim predicates at real boundaries.
struct GroupFacts {
    name: String,
    times: Vec<i64>,
    streams: Vec<String>,
}

async fn facts(source: &DemoSource, group: &str) -> GroupFacts {
    let pages: Vec<_> = source
        .read_events(&ReadRequest::whole_group(group), &ReadCounters::default())
        .try_collect()
        .await
        .unwrap();
    let mut times: Vec<i64> = pages
        .iter()
        .flat_map(|p| p.events.iter().map(|e| e.timestamp_ms))
        .collect();
    times.sort();
    let mut streams: Vec<String> = pages
        .iter()
        .flat_map(|p| p.events.iter().map(|e| e.stream.to_string()))
        .collect();
    streams.sort();
    streams.dedup();
    GroupFacts {
        name: group.to_string(),
        times,
        streams,
    }
}

fn ts(ms: i64) -> String {
    format!("to_timestamp_millis({ms})")
}

fn time_predicate(rng: &mut SplitMix64, g: &GroupFacts) -> String {
    let mut x = *rng.pick(&g.times) + *rng.pick(&[-1, 0, 0, 1]);
    if rng.below(10) == 0 {
        x = *rng.pick(&[-1_000, 0, ANCHOR + 3_600_000, 4_102_444_800_000]);
    }
    match rng.below(7) {
        0 => format!("time = {}", ts(x)),
        1 => format!("time < {}", ts(x)),
        2 => format!("time <= {}", ts(x)),
        3 => format!("time > {}", ts(x)),
        4 => format!("time >= {}", ts(x)),
        5 => {
            let y = *rng.pick(&g.times);
            format!("time BETWEEN {} AND {}", ts(x.min(y)), ts(x.max(y)))
        }
        // Sub-millisecond literals round the right way.
        _ => format!(
            "time {} arrow_cast({}000500, 'Timestamp(Nanosecond, None)')",
            rng.pick(&["<", "<=", ">", ">=", "="]),
            x
        ),
    }
}

fn stream_predicate(rng: &mut SplitMix64, g: &GroupFacts) -> String {
    let s = rng.pick(&g.streams).clone();
    match rng.below(6) {
        0 => format!("log_stream = '{s}'"),
        1 => format!(
            "log_stream IN ('{s}', '{}', 'no-such-stream')",
            rng.pick(&g.streams)
        ),
        2 => format!(
            "log_stream LIKE '{}%'",
            &s[..1 + rng.below(s.len() as u64) as usize]
        ),
        3 => format!("log_stream = '{s}' OR log_stream = 'nope'"),
        4 => format!("log_stream <> '{s}'"),
        _ => format!("log_group = '{}'", rng.pick(&[g.name.as_str(), "/other"])),
    }
}

fn message_predicate(rng: &mut SplitMix64) -> String {
    let terms = [
        "ERROR",
        "WARN",
        "REJECT",
        "Failed password",
        "invalid user",
        "443",
        "Charge",
        "ssh2",
        "zzz-none",
        "ec2-user",
    ];
    let t = rng.pick(&terms);
    match rng.below(4) {
        0 => format!("message LIKE '%{t}%'"),
        1 => format!("message NOT LIKE '%{t}%'"),
        2 => format!("message LIKE '%{t}%{}%'", rng.pick(&terms)),
        _ => format!("message ILIKE '%{}%'", t.to_lowercase()),
    }
}

fn predicate(rng: &mut SplitMix64, g: &GroupFacts, depth: u32) -> String {
    match rng.below(if depth > 1 { 3 } else { 6 }) {
        0 => time_predicate(rng, g),
        1 => stream_predicate(rng, g),
        2 => message_predicate(rng),
        3 => format!(
            "({} AND {})",
            predicate(rng, g, depth + 1),
            predicate(rng, g, depth + 1)
        ),
        4 => format!(
            "({} OR {})",
            predicate(rng, g, depth + 1),
            predicate(rng, g, depth + 1)
        ),
        _ => format!("NOT ({})", predicate(rng, g, depth + 1)),
    }
}

async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches: Vec<RecordBatch> = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pretty_format_batches(&batches).unwrap().to_string()
}

/// The same demo source as two catalogs: `on` pushes filters down, `off`
/// reads everything and leaves the filtering to DataFusion.
async fn register_on_and_off(ctx: &SessionContext, source: &Arc<DemoSource>) {
    for (name, pushdown) in [("on", true), ("off", false)] {
        let catalog = LogCatalog::with_scan_options(
            name,
            source.clone(),
            Duration::from_secs(600),
            ScanOptions {
                pushdown,
                max_partitions: 3,
                ..ScanOptions::default()
            },
        );
        catalog.prepare_listing().await.unwrap();
        ctx.register_catalog(name, Arc::new(catalog));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_on_and_off_agree() {
    let source = Arc::new(DemoSource::generate(ANCHOR));
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    register_on_and_off(&ctx, &source).await;
    let mut groups = Vec::new();
    for g in GROUPS {
        groups.push(facts(&source, g).await);
    }
    let mut rng = SplitMix64::new(7);
    let mut checked = 0;
    let mut non_empty = 0;
    for _ in 0..1_500 {
        let g = rng.pick(&groups);
        let table = if rng.below(4) == 0 {
            format!("\"{}\"", rng.pick(&g.streams))
        } else {
            "all_log_streams".to_string()
        };
        let p = predicate(&mut rng, g, 0);
        let query = |catalog: &str| {
            match rng_shape(checked) {
            0 => format!(
                "SELECT count(*) AS n, min(time) AS first, max(time) AS last, count(DISTINCT log_stream) AS streams, sum(length(message)) AS bytes FROM {catalog}.\"{}\".{table} WHERE {p}",
                g.name
            ),
            1 => format!(
                "SELECT count(*) AS n FROM (SELECT * FROM {catalog}.\"{}\".{table} WHERE {p} LIMIT 17)",
                g.name
            ),
            _ => format!(
                "SELECT log_stream, time, message FROM {catalog}.\"{}\".{table} WHERE {p} ORDER BY time, log_stream, message LIMIT 5",
                g.name
            ),
        }
        };
        let on = run(&ctx, &query("on")).await;
        let off = run(&ctx, &query("off")).await;
        assert_eq!(on, off, "pushdown changed the answer of: {}", query("on"));
        checked += 1;
        if !on.contains("| 0 ") && on.lines().count() > 4 {
            non_empty += 1;
        }
    }
    assert_eq!(checked, 1_500);
    // The generator must reach both empty and non-empty answers to mean anything.
    assert!(non_empty > 300, "only {non_empty} non-empty answers");
}

fn rng_shape(i: usize) -> usize {
    i % 3
}

/// A predicate on a JSON field of the CloudTrail or Lambda demo messages,
/// pushed as a JSON filter pattern that the demo source evaluates.
fn json_predicate(rng: &mut SplitMix64) -> String {
    let events = [
        "ConsoleLogin",
        "CreateUser",
        "StopLogging",
        "GetSecretValue",
        "Nope",
    ];
    let who = ["IAMUser", "AssumedRole", "Root", "Nobody"];
    let n = *rng.pick(&[0, 199, 200, 201, 500, 126_595, 250_000]);
    match rng.below(12) {
        0 => format!("json_get_str(message, 'eventName') = '{}'", rng.pick(&events)),
        1 => format!("'{}' = json_get_str(message, 'userIdentity', 'type')", rng.pick(&who)),
        2 => format!("(message->>'eventName') = '{}'", rng.pick(&events)),
        3 => format!("json_get_str(message, 'level') = '{}'", rng.pick(&["ERROR", "INFO"])),
        4 => format!(
            "json_get_int(message, 'status') {} {}",
            rng.pick(&["=", "<", "<=", ">", ">=", "<>"]),
            rng.pick(&[200, 500, 404])
        ),
        5 => format!(
            "json_get_int(message, 'amountCents') {} {n}",
            rng.pick(&["<", ">=", "="])
        ),
        6 => format!(
            "json_get_float(message, 'latencyMs') {} {}.5",
            rng.pick(&["<", ">"]),
            rng.below(900)
        ),
        7 => format!("json_get_bool(message, 'readOnly') = {}", rng.pick(&["true", "false"])),
        8 => "json_get_bool(message, 'readOnly')".to_string(),
        // Not pushed (a number as text, a key CloudWatch cannot select), still answered.
        9 => "(message->>'status') = '500'".to_string(),
        10 => "json_get_str(message, 'user-agent') = 'x'".to_string(),
        _ => format!(
            "(json_get_str(message, 'eventName') = '{}' OR json_get_str(message, 'level') = 'ERROR')",
            rng.pick(&events)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_pushdown_on_and_off_agree() {
    let source = Arc::new(DemoSource::generate(ANCHOR));
    let mut ctx = SessionContext::new();
    datafusion_functions_json::register_all(&mut ctx).unwrap();
    register_on_and_off(&ctx, &source).await;
    let mut rng = SplitMix64::new(11);
    let mut non_empty = 0;
    let mut pushed = 0;
    for i in 0..300 {
        let group = rng.pick(&["/aws/cloudtrail/management", "/aws/lambda/orders-api"]);
        let mut p = json_predicate(&mut rng);
        if rng.below(3) == 0 {
            p = format!("{p} AND {}", json_predicate(&mut rng));
        }
        let query = |catalog: &str| {
            format!(
                "SELECT count(*) AS n, min(time) AS first, max(time) AS last, sum(length(message)) AS bytes FROM {catalog}.\"{group}\".all_log_streams WHERE {p}"
            )
        };
        let on = run(&ctx, &query("on")).await;
        let off = run(&ctx, &query("off")).await;
        assert_eq!(
            on,
            off,
            "JSON pushdown changed the answer of: {}",
            query("on")
        );
        if !on.contains("| 0 ") {
            non_empty += 1;
        }
        if i % 10 == 0 {
            let plan = run(&ctx, &format!("EXPLAIN {}", query("on"))).await;
            if plan.contains("filter_pattern=\"{") {
                pushed += 1;
            }
        }
    }
    assert!(non_empty > 75, "only {non_empty} non-empty answers");
    assert!(
        pushed > 15,
        "JSON patterns were pushed in only {pushed} of 30 plans"
    );
}
