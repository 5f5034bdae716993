//! The CloudWatch source against a scripted CloudWatch Logs endpoint: for
//! what neither moto nor a test account can show cheaply. Moto has no
//! Infrequent Access class, never answers FilterLogEvents' `logStreamNames`
//! with "not found", and a group of 10^5 streams would take it minutes to
//! create. The endpoint here is a small HTTP server speaking the AWS JSON 1.1
//! protocol for the calls logflight makes, with synthetic streams
//! computed from their index (so 10^5 of them cost nothing), and a record of
//! every request. The SDK client, quota, cursor, listing and scan code under
//! test are the real ones.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use datafusion::arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use datafusion::prelude::SessionContext;
use logflight_connector::insights::{run_complete, InsightsRequest, QueryLanguage};
use logflight_connector::quota::QuotaConfig;
use logflight_connector::LogSource;
use logflight_connector::{CloudWatchSource, LogCatalog, ScanOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Stream `i` holds one event, at `T0 + i minutes`.
const T0: i64 = 1_790_000_000_000;
const MINUTE: i64 = 60_000;
/// DescribeLogStreams' largest (and default) page.
const PAGE: usize = 50;
const PARTITIONS: usize = 4;

#[derive(Clone)]
struct FakeGroup {
    name: &'static str,
    class: &'static str,
    streams: usize,
}

fn stream_name(i: usize) -> String {
    format!("s{i:06}")
}

fn stream_index(name: &str) -> Option<usize> {
    name.strip_prefix('s')
        .filter(|d| d.len() == 6)
        .and_then(|d| d.parse().ok())
}

fn event_time(i: usize) -> i64 {
    T0 + i as i64 * MINUTE
}

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
struct Seen {
    op: String,
    body: Value,
    /// GetLogEvents only: streams listed so far minus streams whose first
    /// GetLogEvents had arrived, when this request arrived.
    lookahead: usize,
    /// Requests being answered at once when this one arrived.
    in_flight: usize,
}

#[derive(Default)]
struct Record {
    seen: Vec<Seen>,
    listed: usize,
    started: BTreeSet<String>,
}

struct Fake {
    groups: Vec<FakeGroup>,
    record: Mutex<Record>,
    in_flight: AtomicUsize,
    insights: Mutex<InsightsScript>,
}

/// How each Logs Insights query of a test goes: `running` polls answer
/// Running (`usize::MAX`: it never ends), then `status` with `rows` rows
/// (or, when `per_second` is set, that many rows for each second of the
/// query's range, newest first, at most its limit), in pages of the
/// request's maxItems. The first `refusals` StartQuery calls fail with
/// LimitExceededException; `repeat_token` answers the last page with the
/// token it was asked with, as some endpoints do.
#[derive(Clone)]
struct InsightsScript {
    running: usize,
    status: &'static str,
    rows: usize,
    per_second: Option<usize>,
    refusals: usize,
    repeat_token: bool,
}

impl Default for InsightsScript {
    fn default() -> Self {
        Self {
            running: 0,
            status: "Complete",
            rows: 0,
            per_second: None,
            refusals: 0,
            repeat_token: false,
        }
    }
}

/// One row of a scripted query: the event's time, its index, a message
/// Logs Insights truncated and its pointer.
fn insights_row(i: usize, second: Option<i64>) -> Value {
    let timestamp = match second {
        Some(s) => (s * 1000).to_string(),
        None => format!("2026-11-25 10:{:02}:{:02}.000", i / 60 % 60, i % 60),
    };
    json!([
        {"field": "@timestamp", "value": timestamp},
        {"field": "n", "value": i.to_string()},
        {"field": "@message", "value": format!("message {i} trunc")},
        {"field": "@ptr", "value": format!("ptr-{i}")},
    ])
}

impl Fake {
    fn group(&self, name: &str) -> Option<&FakeGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    fn seen(&self, op: &str) -> Vec<Seen> {
        let record = self.record.lock().unwrap();
        record.seen.iter().filter(|s| s.op == op).cloned().collect()
    }

    /// (HTTP status, body) for one request.
    fn answer(&self, op: &str, body: &Value) -> (u16, Value) {
        let not_found = |what: &str| {
            (
                400,
                json!({"__type": "ResourceNotFoundException", "message": format!("The specified {what} does not exist.")}),
            )
        };
        let group = body["logGroupName"].as_str().unwrap_or_default();
        match op {
            "DescribeLogGroups" => (
                200,
                json!({"logGroups": self.groups.iter().map(|g| json!({
                    "logGroupName": g.name,
                    "creationTime": T0 - 86_400_000,
                    "arn": format!("arn:aws:logs:us-east-1:123456789012:log-group:{}:*", g.name),
                    "logGroupClass": g.class,
                })).collect::<Vec<_>>()}),
            ),
            "DescribeLogStreams" => {
                let Some(g) = self.group(group) else {
                    return not_found("log group");
                };
                let prefix = body["logStreamNamePrefix"].as_str().unwrap_or("");
                // Names sort like indexes; a prefix selects a contiguous run.
                let matching: Vec<usize> = if prefix.is_empty() {
                    (0..g.streams).collect()
                } else {
                    (0..g.streams)
                        .filter(|&i| stream_name(i).starts_with(prefix))
                        .collect()
                };
                let from: usize = body["nextToken"].as_str().map_or(0, |t| t.parse().unwrap());
                let page: Vec<usize> = matching.iter().copied().skip(from).take(PAGE).collect();
                self.record.lock().unwrap().listed += page.len();
                let mut out = json!({"logStreams": page.iter().map(|&i| json!({
                    "logStreamName": stream_name(i),
                    "creationTime": event_time(i) - 1000,
                    "firstEventTimestamp": event_time(i),
                    "lastEventTimestamp": event_time(i),
                    "lastIngestionTime": event_time(i) + 1000,
                })).collect::<Vec<_>>()});
                if from + page.len() < matching.len() {
                    out["nextToken"] = json!((from + page.len()).to_string());
                }
                (200, out)
            }
            "GetLogEvents" => {
                let Some(g) = self.group(group) else {
                    return not_found("log group");
                };
                let name = body["logStreamName"].as_str().unwrap_or_default();
                let Some(i) = stream_index(name).filter(|&i| i < g.streams) else {
                    return not_found("log stream");
                };
                if body["nextToken"].as_str() == Some("f/end") {
                    return (
                        200,
                        json!({"events": [], "nextForwardToken": "f/end", "nextBackwardToken": "b/0"}),
                    );
                }
                let t = event_time(i);
                let after_start = body["startTime"].as_i64().is_none_or(|s| t >= s);
                // GetLogEvents' endTime is exclusive.
                let before_end = body["endTime"].as_i64().is_none_or(|e| t < e);
                let events = if after_start && before_end {
                    vec![
                        json!({"timestamp": t, "ingestionTime": t + 1000, "message": format!("event of {name}")}),
                    ]
                } else {
                    vec![]
                };
                (
                    200,
                    json!({"events": events, "nextForwardToken": "f/end", "nextBackwardToken": "b/0"}),
                )
            }
            "FilterLogEvents" => {
                let Some(g) = self.group(group) else {
                    return not_found("log group");
                };
                if g.class == "INFREQUENT_ACCESS" {
                    return (
                        400,
                        json!({"__type": "InvalidParameterException", "message": "FilterLogEvents is not supported for log groups of the INFREQUENT_ACCESS class."}),
                    );
                }
                if g.name == "/vanishing" {
                    // Deleted between two pages of one read.
                    if body["nextToken"].as_str() == Some("page-2") {
                        return not_found("log group");
                    }
                    return (
                        200,
                        json!({"events": [{"logStreamName": stream_name(0), "timestamp": event_time(0),
                            "ingestionTime": event_time(0), "message": "first page", "eventId": "0"}],
                            "nextToken": "page-2"}),
                    );
                }
                let names: Vec<&str> = body["logStreamNames"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if names.len() > 100 {
                    return (
                        400,
                        json!({"__type": "InvalidParameterException", "message": "logStreamNames: at most 100 names"}),
                    );
                }
                let mut indexes = Vec::new();
                for name in &names {
                    match stream_index(name).filter(|&i| i < g.streams) {
                        Some(i) => indexes.push(i),
                        None => return not_found("log stream"),
                    }
                }
                if names.is_empty() {
                    indexes = (0..g.streams).collect();
                }
                let start = body["startTime"].as_i64();
                let end = body["endTime"].as_i64();
                let events: Vec<Value> = indexes
                    .into_iter()
                    .filter(|&i| {
                        let t = event_time(i);
                        start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
                    })
                    .map(|i| {
                        json!({"logStreamName": stream_name(i), "timestamp": event_time(i),
                            "ingestionTime": event_time(i) + 1000,
                            "message": format!("event of {}", stream_name(i)), "eventId": i.to_string()})
                    })
                    .collect();
                (200, json!({"events": events}))
            }
            "StartQuery" if body["queryString"] == "bad |" => (
                400,
                json!({"__type": "MalformedQueryException", "message": "unexpected symbol found | at line 1"}),
            ),
            "StartQuery" if body["logGroupNames"] == json!(["/gone"]) => not_found("log group"),
            "StartQuery" => {
                let starts = self.seen("StartQuery").len();
                if starts <= self.insights.lock().unwrap().refusals {
                    return (
                        400,
                        json!({"__type": "LimitExceededException", "message": "Account maximum query concurrency limit of [100] reached."}),
                    );
                }
                (200, json!({"queryId": format!("q-{starts}")}))
            }
            "StopQuery" => (200, json!({"success": true})),
            "GetLogRecord" => {
                let ptr = body["logRecordPointer"].as_str().unwrap_or_default();
                if ptr == "ptr-13" {
                    return (
                        400,
                        json!({"__type": "ResourceNotFoundException", "message": "The log record does not exist."}),
                    );
                }
                (
                    200,
                    json!({"logRecord": {"@message": format!("the whole message of {ptr}"), "@ptr": ptr}}),
                )
            }
            "GetQueryResults" => self.query_results(body),
            other => (
                400,
                json!({"__type": "UnknownOperationException", "message": other}),
            ),
        }
    }

    /// GetQueryResults of one scripted query (see [`InsightsScript`]).
    fn query_results(&self, body: &Value) -> (u16, Value) {
        let script = self.insights.lock().unwrap().clone();
        let id = body["queryId"].as_str().unwrap_or_default();
        let polls = self
            .seen("GetQueryResults")
            .iter()
            .filter(|s| s.body["queryId"] == id && s.body.get("nextToken").is_none())
            .count();
        if polls <= script.running {
            return (200, json!({"status": "Running", "results": []}));
        }
        // The StartQuery this id answered (ids count the calls from 1).
        let n: usize = id.trim_start_matches("q-").parse().unwrap_or(1);
        let start = self.seen("StartQuery")[n - 1].body.clone();
        let (matched, rows): (usize, Vec<Value>) = match script.per_second {
            None => (
                script.rows * 3,
                (0..script.rows).map(|i| insights_row(i, None)).collect(),
            ),
            Some(per_second) => {
                let (from, to) = (
                    start["startTime"].as_i64().unwrap(),
                    start["endTime"].as_i64().unwrap(),
                );
                let limit = start["limit"].as_u64().unwrap() as usize;
                let matched = (to - from + 1) as usize * per_second;
                let rows = (from..=to)
                    .rev()
                    .flat_map(|s| (0..per_second).map(move |k| (s, k)))
                    .take(limit)
                    .map(|(s, k)| insights_row((s - T0 / 1000) as usize * per_second + k, Some(s)))
                    .collect();
                (matched, rows)
            }
        };
        let offset: usize = body["nextToken"]
            .as_str()
            .map_or(0, |t| t.trim_start_matches("page-").parse().unwrap());
        let page = body["maxItems"].as_u64().map_or(rows.len(), |m| m as usize);
        let end = (offset + page).min(rows.len());
        let mut out = json!({"status": script.status, "results": rows[offset..end],
            "statistics": {"recordsMatched": matched as f64, "recordsScanned": 1e6, "bytesScanned": 1e8}});
        if end < rows.len() {
            out["nextToken"] = json!(format!("page-{end}"));
        } else if script.repeat_token {
            if let Some(token) = body.get("nextToken") {
                out["nextToken"] = token.clone();
            }
        }
        (200, out)
    }

    fn note(&self, op: &str, body: &Value) {
        let mut record = self.record.lock().unwrap();
        if op == "GetLogEvents" {
            let name = body["logStreamName"].as_str().unwrap_or_default();
            record.started.insert(name.to_string());
        }
        let lookahead = record.listed.saturating_sub(record.started.len());
        let in_flight = self.in_flight.load(Ordering::SeqCst);
        record.seen.push(Seen {
            op: op.to_string(),
            body: body.clone(),
            lookahead,
            in_flight,
        });
    }
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body).
async fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Value)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let mut length = 0;
            let mut op = String::new();
            for line in head.lines().skip(1) {
                let (k, v) = line.split_once(':')?;
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().ok()?,
                    "x-amz-target" => op = v.trim().rsplit('.').next()?.to_string(),
                    _ => {}
                }
            }
            while buf.len() < end + 4 + length {
                let mut chunk = [0u8; 8192];
                let n = conn.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body: Value = serde_json::from_slice(&buf[end + 4..end + 4 + length]).ok()?;
            buf.drain(..end + 4 + length);
            return Some((op, body));
        }
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve_connection(fake: Arc<Fake>, mut conn: TcpStream) {
    let mut buf = Vec::new();
    while let Some((op, body)) = read_request(&mut conn, &mut buf).await {
        fake.in_flight.fetch_add(1, Ordering::SeqCst);
        fake.note(&op, &body);
        // A little latency, as a real endpoint has: lets parallel readers overlap.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let (status, answer) = fake.answer(&op, &body);
        fake.in_flight.fetch_sub(1, Ordering::SeqCst);
        let text = answer.to_string();
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nx-amzn-requestid: test\r\n\r\n{text}",
            text.len()
        );
        if conn.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn start(groups: Vec<FakeGroup>) -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake {
        groups,
        record: Mutex::default(),
        in_flight: AtomicUsize::new(0),
        insights: Mutex::default(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = Arc::clone(&fake);
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve_connection(Arc::clone(&server), conn));
        }
    });
    (fake, url)
}

fn source(url: &str) -> CloudWatchSource {
    source_with(url, |_| {})
}

/// A source over the endpoint with its quota changed by `change`.
fn source_with(url: &str, change: impl FnOnce(&mut QuotaConfig)) -> CloudWatchSource {
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    let quota = QuotaConfig {
        tps: logflight_connector::quota::Api::ALL
            .iter()
            .map(|&api| (api, 10_000.0))
            .collect(),
        max_attempts: 1,
        ..QuotaConfig::default()
    };
    let mut quota = quota;
    change(&mut quota);
    CloudWatchSource::from_client(
        aws_sdk_cloudwatchlogs::Client::from_conf(config),
        "us-east-1",
        quota,
    )
}

/// A session over the endpoint, with `group`'s `all_log_streams` resolved
/// (as the server does for each statement's references before planning).
async fn context(url: &str, group: &str) -> SessionContext {
    let source = source(url);
    let catalog = LogCatalog::with_scan_options(
        "cw",
        Arc::new(source),
        Duration::from_secs(600),
        ScanOptions {
            pushdown: true,
            max_partitions: PARTITIONS,
            ..ScanOptions::default()
        },
    );
    catalog
        .prepare_table(group, logflight_connector::ALL_LOG_STREAMS)
        .await
        .unwrap();
    let ctx = SessionContext::new();
    ctx.register_catalog("cw", Arc::new(catalog));
    ctx
}

async fn query(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// (log_stream, time) of every row, sorted.
async fn rows(ctx: &SessionContext, sql: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for batch in query(ctx, sql).await {
        let streams = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("log_stream first");
        let times = datafusion::arrow::compute::cast(
            batch.column(1),
            &datafusion::arrow::datatypes::DataType::Int64,
        )
        .unwrap();
        let times = times.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..batch.num_rows() {
            out.push((streams.value(i).to_string(), times.value(i)));
        }
    }
    out.sort();
    out
}

async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = query(ctx, sql).await;
    let column = batches[0].column(0);
    assert_eq!(column.len(), 1);
    column
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("a count")
        .value(0)
}

/// `time` is stored as a timestamp in milliseconds; select it as epoch ms.
fn ms(column: &str) -> String {
    format!("CAST(to_unixtime({column}) * 1000 AS BIGINT)")
}

fn ts_literal(ms: i64) -> String {
    format!("to_timestamp_millis({ms})")
}

fn group(name: &'static str, class: &'static str, streams: usize) -> FakeGroup {
    FakeGroup {
        name,
        class,
        streams,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_listing_is_pipelined_with_reading_bounded_and_parallel() {
    let (fake, url) = start(vec![group("/many", "STANDARD", 1_000)]).await;
    let ctx = context(&url, "/many").await;
    let n = count(
        &ctx,
        r#"SELECT count(*) FROM cw."/many".all_log_streams WHERE log_stream LIKE 's0%'"#,
    )
    .await;
    assert_eq!(n, 1_000);

    let lists = fake.seen("DescribeLogStreams");
    assert_eq!(lists.len(), 1_000 / PAGE, "each page listed once");
    assert!(lists.iter().all(|l| l.body["logStreamNamePrefix"] == "s0"));
    let reads = fake.seen("GetLogEvents");
    let read_streams: BTreeSet<_> = reads
        .iter()
        .map(|r| r.body["logStreamName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(read_streams.len(), 1_000, "every stream read");
    assert!(fake.seen("FilterLogEvents").is_empty());

    // Pipelined: reading starts after the first page, not after the listing.
    let record = fake.record.lock().unwrap();
    let first_read = record
        .seen
        .iter()
        .position(|s| s.op == "GetLogEvents")
        .unwrap();
    let lists_before = record.seen[..first_read]
        .iter()
        .filter(|s| s.op == "DescribeLogStreams")
        .count();
    assert_eq!(lists_before, 1, "the first stream is read after one page");
    drop(record);
    // Bounded: never more than one page listed ahead of the readers.
    let max_ahead = reads.iter().map(|r| r.lookahead).max().unwrap();
    assert!(
        max_ahead <= PAGE + PARTITIONS,
        "listed {max_ahead} streams ahead"
    );
    // Parallel: the partitions' reads overlap.
    let max_parallel = reads.iter().map(|r| r.in_flight).max().unwrap();
    assert!(max_parallel > 1, "reads never overlapped");
    assert!(max_parallel <= PARTITIONS, "{max_parallel} reads at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_time_range_over_100k_streams_reads_only_the_streams_that_overlap() {
    const STREAMS: usize = 100_000;
    let (fake, url) = start(vec![group("/huge", "INFREQUENT_ACCESS", STREAMS)]).await;
    let ctx = context(&url, "/huge").await;
    // The last ten streams' events; everything listed before is pruned.
    let lo = event_time(STREAMS - 10);
    let got = rows(
        &ctx,
        &format!(
            r#"SELECT log_stream, {} FROM cw."/huge".all_log_streams WHERE time >= {}"#,
            ms("time"),
            ts_literal(lo)
        ),
    )
    .await;
    let want: Vec<(String, i64)> = (STREAMS - 10..STREAMS)
        .map(|i| (stream_name(i), event_time(i)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(fake.seen("DescribeLogStreams").len(), STREAMS / PAGE);
    assert!(fake.seen("FilterLogEvents").is_empty(), "Infrequent Access");
    // The ingestion margin (2 h 5 min) keeps a few streams before `lo`, whose
    // events GetLogEvents' time bounds then exclude; nothing further back.
    let read: BTreeSet<usize> = fake
        .seen("GetLogEvents")
        .iter()
        .map(|r| stream_index(r.body["logStreamName"].as_str().unwrap()).unwrap())
        .collect();
    let margin_streams = (2 * 60 + 5) as usize;
    assert!(read.len() <= 10 + margin_streams + 1, "{} read", read.len());
    assert!(read.iter().all(|&i| i >= STREAMS - 10 - margin_streams - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limit_over_a_listing_stops_after_the_first_page() {
    let (fake, url) = start(vec![group("/many", "STANDARD", 5_000)]).await;
    let ctx = context(&url, "/many").await;
    let got = rows(
        &ctx,
        &format!(
            r#"SELECT log_stream, {} FROM cw."/many".all_log_streams WHERE log_stream LIKE 's00%' LIMIT 5"#,
            ms("time")
        ),
    )
    .await;
    assert_eq!(got.len(), 5);
    assert!(got
        .iter()
        .all(|(s, t)| stream_index(s).map(event_time) == Some(*t)));
    assert_eq!(fake.seen("DescribeLogStreams").len(), 1);
    assert!(fake.seen("GetLogEvents").len() <= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_infrequent_access_group_is_never_read_with_filter_log_events() {
    let (fake, url) = start(vec![group("/ia", "INFREQUENT_ACCESS", 120)]).await;
    let ctx = context(&url, "/ia").await;
    let all: Vec<(String, i64)> = (0..120).map(|i| (stream_name(i), event_time(i))).collect();
    let cases = [
        (String::new(), all.clone()),
        (" LIMIT 7".to_string(), vec![]),
        (
            " WHERE message LIKE '%event of s00001%'".to_string(),
            all[10..20].to_vec(),
        ),
        (
            format!(
                " WHERE log_stream IN ('s000003', 's000077', 'nope') AND time <= {}",
                ts_literal(event_time(50))
            ),
            vec![all[3].clone()],
        ),
        (
            " WHERE log_stream LIKE 's00011%'".to_string(),
            all[110..120].to_vec(),
        ),
    ];
    for (tail, want) in cases {
        let sql = format!(
            r#"SELECT log_stream, {} FROM cw."/ia".all_log_streams{tail}"#,
            ms("time")
        );
        let got = rows(&ctx, &sql).await;
        if tail.contains("LIMIT") {
            assert_eq!(got.len(), 7, "{sql}");
            assert!(got.iter().all(|r| all.contains(r)), "{sql}");
        } else {
            assert_eq!(got, want, "{sql}");
        }
    }
    assert!(fake.seen("FilterLogEvents").is_empty());
    assert!(!fake.seen("GetLogEvents").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn named_streams_one_missing_are_read_one_by_one() {
    let (fake, url) = start(vec![group("/std", "STANDARD", 30)]).await;
    let ctx = context(&url, "/std").await;
    // LIMIT makes the plan read the names with FilterLogEvents; the endpoint
    // answers "not found" for the set, and the read falls back per stream.
    let got = rows(
        &ctx,
        &format!(
            r#"SELECT log_stream, {} FROM cw."/std".all_log_streams WHERE log_stream IN ('s000004', 'gone', 's000021') LIMIT 100"#,
            ms("time")
        ),
    )
    .await;
    assert_eq!(
        got,
        vec![
            (stream_name(4), event_time(4)),
            (stream_name(21), event_time(21))
        ]
    );
    assert_eq!(fake.seen("FilterLogEvents").len(), 1);
    let per_stream: BTreeSet<String> = fake
        .seen("GetLogEvents")
        .iter()
        .map(|r| r.body["logStreamName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        per_stream,
        BTreeSet::from(["gone".into(), stream_name(4), stream_name(21)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_100_named_streams_are_split_over_filter_calls() {
    let (fake, url) = start(vec![group("/std", "STANDARD", 400)]).await;
    let ctx = context(&url, "/std").await;
    let chosen: Vec<usize> = (0..400).step_by(2).take(230).collect(); // 200 names
    let names: Vec<String> = chosen
        .iter()
        .map(|&i| format!("'{}'", stream_name(i)))
        .collect();
    let got = rows(
        &ctx,
        &format!(
            r#"SELECT log_stream, {} FROM cw."/std".all_log_streams WHERE log_stream IN ({}) AND message LIKE '%event%'"#,
            ms("time"),
            names.join(", ")
        ),
    )
    .await;
    let want: Vec<(String, i64)> = chosen
        .iter()
        .map(|&i| (stream_name(i), event_time(i)))
        .collect();
    assert_eq!(got, want);
    let calls = fake.seen("FilterLogEvents");
    assert_eq!(calls.len(), 2, "200 names, 100 per call");
    let mut asked: Vec<String> = Vec::new();
    for call in &calls {
        let names = call.body["logStreamNames"].as_array().unwrap();
        assert!(names.len() <= 100);
        asked.extend(names.iter().map(|n| n.as_str().unwrap().to_string()));
        assert_eq!(call.body["filterPattern"], "%event%");
    }
    asked.sort();
    let mut want_names: Vec<String> = chosen.iter().map(|&i| stream_name(i)).collect();
    want_names.sort();
    assert_eq!(asked, want_names, "every name asked for exactly once");
    assert!(fake.seen("GetLogEvents").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_deleted_during_a_filtered_read_fail_the_query_not_repeat_it() {
    let (fake, url) = start(vec![group("/vanishing", "STANDARD", 5)]).await;
    let ctx = context(&url, "/vanishing").await;
    // Named streams with a LIMIT: one FilterLogEvents sequence; its second
    // page is "not found". Falling back to per-stream reads then would return
    // the first page's events twice; the query must fail instead.
    let sql = r#"SELECT log_stream FROM cw."/vanishing".all_log_streams WHERE log_stream IN ('s000000', 's000001') LIMIT 100"#;
    let err = ctx
        .sql(sql)
        .await
        .unwrap()
        .collect()
        .await
        .expect_err("a read cut short must fail");
    let message = err.to_string();
    assert!(
        message.contains("deleted while the query read it") && message.contains("FilterLogEvents"),
        "{message}"
    );
    assert_eq!(fake.seen("FilterLogEvents").len(), 2);
    assert!(
        fake.seen("GetLogEvents").is_empty(),
        "no fallback after the first page"
    );
}

// Logs Insights: the states moto cannot produce (it finishes every query at
// once, never fails one, and has no StopQuery).

fn insights_request(limit: Option<usize>) -> InsightsRequest {
    InsightsRequest {
        query: "fields @timestamp, n".into(),
        language: QueryLanguage::LogsInsights,
        groups: vec!["/app".into()],
        start_s: 1_795_000_000,
        end_s: 1_795_003_600,
        limit,
        whole_messages: false,
    }
}

async fn scripted(script: InsightsScript) -> (Arc<Fake>, CloudWatchSource) {
    let (fake, url) = start(vec![group("/app", "STANDARD", 1)]).await;
    *fake.insights.lock().unwrap() = script;
    (fake, source(&url))
}

#[tokio::test]
async fn insights_polls_until_complete_and_types_the_rows() {
    let (fake, source) = scripted(InsightsScript {
        running: 2,
        rows: 3,
        ..Default::default()
    })
    .await;
    let out = source.run_insights(&insights_request(None)).await.unwrap();
    assert_eq!(out.query_id, "q-1");
    assert_eq!(out.rows.len(), 3);
    assert_eq!(out.stats.records_matched, 9.0);
    assert_eq!(
        fake.seen("GetQueryResults").len(),
        3,
        "two Running polls, then Complete"
    );
    let start = &fake.seen("StartQuery")[0].body;
    assert_eq!(start["queryString"], "fields @timestamp, n");
    assert_eq!(
        (start["startTime"].as_i64(), start["endTime"].as_i64()),
        (Some(1_795_000_000), Some(1_795_003_600))
    );
    assert_eq!(start["logGroupNames"], json!(["/app"]));
    // Without a limit, ask for all the API can return, not its smaller default.
    assert_eq!(start["limit"], 100_000);
    assert!(start.get("queryLanguage").is_none());
    assert!(fake.seen("StopQuery").is_empty());
    let batch = logflight_connector::insights::to_batch(&out.rows).unwrap();
    assert_eq!(
        batch.schema().field(0).data_type().to_string(),
        "Timestamp(ms, \"UTC\")"
    );
    assert_eq!(
        batch.schema().field(1).data_type(),
        &datafusion::arrow::datatypes::DataType::Int64
    );
}

#[tokio::test]
async fn insights_failed_cancelled_and_timed_out_queries_end_at_once() {
    for status in ["Failed", "Cancelled", "Timeout", "Unknown"] {
        let (fake, source) = scripted(InsightsScript {
            running: 1,
            status,
            ..Default::default()
        })
        .await;
        let err = source
            .run_insights(&insights_request(None))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                logflight_connector::ConnectorError::InsightsEnded { .. }
            ) && text.contains(&format!("query q-1 ended with status {status}")),
            "{status}: {text}"
        );
        assert_eq!(
            fake.seen("GetQueryResults").len(),
            2,
            "{status}: no poll after the end"
        );
        assert!(
            fake.seen("StopQuery").is_empty(),
            "{status}: an ended query is not stopped"
        );
    }
}

#[tokio::test]
async fn insights_at_the_row_cap_is_reported_unless_asked_for() {
    // PPL returns at most 10,000 rows and is never split.
    let (fake, source) = scripted(InsightsScript {
        rows: 10_000,
        ..Default::default()
    })
    .await;
    let ppl = |limit| InsightsRequest {
        language: QueryLanguage::OpenSearchPpl,
        ..insights_request(limit)
    };
    let err = run_complete(&source, &ppl(None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "OpenSearch PPL query q-1 reached its cap of 10000 rows (it matched 30000 log events)"
        ),
        "{err}"
    );
    assert_eq!(fake.seen("StartQuery")[0].body["limit"], 10_000);
    run_complete(&source, &ppl(Some(10_000))).await.unwrap();
    assert_eq!(fake.seen("StartQuery").len(), 2, "never split");
}

#[tokio::test]
async fn insights_results_are_read_page_by_page() {
    for repeat_token in [false, true] {
        let (fake, source) = scripted(InsightsScript {
            rows: 25_000,
            repeat_token,
            ..Default::default()
        })
        .await;
        let out = source.run_insights(&insights_request(None)).await.unwrap();
        let n: Vec<&str> = out.rows.iter().map(|r| r[1].1.as_str()).collect();
        assert_eq!(n.len(), 25_000);
        assert_eq!((n[0], n[10_000], n[24_999]), ("0", "10000", "24999"));
        let calls = fake.seen("GetQueryResults");
        let tokens: Vec<Option<&str>> =
            calls.iter().map(|s| s.body["nextToken"].as_str()).collect();
        assert_eq!(
            tokens,
            [None, Some("page-10000"), Some("page-20000")],
            "{repeat_token}"
        );
        assert!(calls.iter().all(|s| s.body["maxItems"] == 10_000));
        assert_eq!(out.stats.api_calls, 4, "StartQuery and three pages");
        assert_eq!(out.stats.queries, 1);
        assert_eq!(
            (out.stats.records_scanned, out.stats.bytes_scanned),
            (1e6, 1e8)
        );
    }
}

#[tokio::test]
async fn insights_at_the_cap_is_split_and_the_parts_statistics_summed() {
    // 40,000 matching events a second over three seconds: the whole range
    // fills the 100,000-row cap; the two slices, which share their middle
    // second, do not.
    let (fake, source) = scripted(InsightsScript {
        per_second: Some(40_000),
        ..Default::default()
    })
    .await;
    let t0 = T0 / 1000;
    let request = InsightsRequest {
        start_s: t0,
        end_s: t0 + 2,
        ..insights_request(None)
    };
    let out = run_complete(&source, &request).await.unwrap();
    let starts: Vec<(i64, i64)> = fake
        .seen("StartQuery")
        .iter()
        .map(|s| {
            (
                s.body["startTime"].as_i64().unwrap(),
                s.body["endTime"].as_i64().unwrap(),
            )
        })
        .collect();
    // The capped query, then the newest slice first.
    assert_eq!(starts, [(t0, t0 + 2), (t0 + 1, t0 + 2), (t0, t0 + 1)]);
    assert_eq!(out.rows.len(), 120_000);
    let n: Vec<usize> = out.rows.iter().map(|r| r[1].1.parse().unwrap()).collect();
    let want: Vec<usize> = (80_000..120_000)
        .chain(40_000..80_000)
        .chain(0..40_000)
        .collect();
    assert!(
        n == want,
        "every event once (the shared second's events kept once, by @ptr), newest first"
    );
    assert_eq!(out.stats.queries, 3);
    assert_eq!(
        out.stats.records_matched, 120_000.0,
        "the parts' events, once each"
    );
    assert_eq!(out.stats.bytes_scanned, 3e8, "every query's bytes");
    let totals = source.quota().unwrap().query_slots().totals();
    assert_eq!(totals.queries.load(std::sync::atomic::Ordering::Relaxed), 3);
}

#[tokio::test]
async fn insights_over_the_account_quota_retries_then_says_so() {
    let (fake, url) = start(vec![group("/app", "STANDARD", 1)]).await;
    fake.insights.lock().unwrap().refusals = 2;
    let source = source_with(&url, |q| {
        q.max_attempts = 3;
        q.base_backoff = Duration::from_millis(5);
    });
    let out = source.run_insights(&insights_request(None)).await.unwrap();
    assert_eq!(out.query_id, "q-3", "two refusals, then started");
    assert_eq!(out.stats.api_calls, 4);

    let (fake, url) = start(vec![group("/app", "STANDARD", 1)]).await;
    fake.insights.lock().unwrap().refusals = 10;
    let source = source_with(&url, |q| {
        q.max_attempts = 3;
        q.base_backoff = Duration::from_millis(5);
    });
    let err = source
        .run_insights(&insights_request(None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("StartQuery kept throttling past the retry budget (3 attempts)")
            && err.contains("the account's concurrent Logs Insights query quota was exceeded")
            && err.contains("Account maximum query concurrency limit of [100] reached."),
        "{err}"
    );
    assert_eq!(fake.seen("StartQuery").len(), 3);
    assert!(fake.seen("GetQueryResults").is_empty());
}

#[tokio::test]
async fn insights_queries_past_the_queue_wait_for_a_slot() {
    let (fake, url) = start(vec![group("/app", "STANDARD", 1)]).await;
    fake.insights.lock().unwrap().running = 2;
    let source = source_with(&url, |q| q.insights_max_queries = 1);
    let request = insights_request(None);
    let (a, b) = tokio::join!(source.run_insights(&request), source.run_insights(&request));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (first, second) = if a.query_id == "q-1" { (a, b) } else { (b, a) };
    assert!(first.stats.queued < Duration::from_millis(50));
    // Two Running polls (100 ms, 200 ms) of the first, then the second starts.
    assert!(
        second.stats.queued >= Duration::from_millis(250),
        "{:?}",
        second.stats.queued
    );
    let ops: Vec<String> = fake
        .record
        .lock()
        .unwrap()
        .seen
        .iter()
        .map(|s| format!("{} {}", s.op, s.body["queryId"].as_str().unwrap_or("")))
        .collect();
    let second_start = ops
        .iter()
        .rposition(|o| o.starts_with("StartQuery"))
        .unwrap();
    let first_end = ops
        .iter()
        .rposition(|o| o == "GetQueryResults q-1")
        .unwrap();
    assert!(first_end < second_start, "one query at a time: {ops:?}");
    // A PPL query has its own queue.
    let ppl = InsightsRequest {
        language: QueryLanguage::OpenSearchPpl,
        ..insights_request(None)
    };
    let queued = source.run_insights(&ppl).await.unwrap().stats.queued;
    assert!(queued < Duration::from_millis(50), "{queued:?}");
}

#[tokio::test]
async fn insights_whole_messages_come_from_get_log_record() {
    let (fake, source) = scripted(InsightsScript {
        rows: 3,
        ..Default::default()
    })
    .await;
    let request = InsightsRequest {
        whole_messages: true,
        ..insights_request(None)
    };
    let out = run_complete(&source, &request).await.unwrap();
    let messages: Vec<&str> = out.rows.iter().map(|r| r[2].1.as_str()).collect();
    assert_eq!(
        messages,
        [
            "the whole message of ptr-0",
            "the whole message of ptr-1",
            "the whole message of ptr-2"
        ]
    );
    assert_eq!(fake.seen("GetLogRecord").len(), 3);
    assert_eq!(out.stats.api_calls, 2 + 3);
    // Without the option, no GetLogRecord.
    run_complete(&source, &insights_request(None))
        .await
        .unwrap();
    assert_eq!(fake.seen("GetLogRecord").len(), 3);
    // A record that cannot be fetched fails the query, naming the call.
    fake.insights.lock().unwrap().rows = 20;
    let err = run_complete(&source, &request)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GetLogRecord") && err.contains("The log record does not exist."),
        "{err}"
    );
}

#[tokio::test]
async fn insights_dropped_by_its_client_is_stopped() {
    let (fake, source) = scripted(InsightsScript {
        running: usize::MAX,
        ..Default::default()
    })
    .await;
    let run = tokio::time::timeout(
        Duration::from_millis(400),
        source.run_insights(&insights_request(None)),
    )
    .await;
    assert!(run.is_err(), "the query never ends: the wait times out");
    let polls = fake.seen("GetQueryResults").len();
    assert!(polls >= 2, "polled {polls} times");
    for _ in 0..100 {
        if !fake.seen("StopQuery").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stops = fake.seen("StopQuery");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].body["queryId"], "q-1");
}

#[tokio::test]
async fn insights_refusals_name_their_cause() {
    let (fake, source) = scripted(InsightsScript::default()).await;
    let bad = InsightsRequest {
        query: "bad |".into(),
        ..insights_request(None)
    };
    let err = source.run_insights(&bad).await.unwrap_err();
    assert!(
        matches!(&err, logflight_connector::ConnectorError::InvalidRequest(m)
            if m == "Logs Insights refused the query: unexpected symbol found | at line 1"),
        "{err}"
    );
    let gone = InsightsRequest {
        groups: vec!["/gone".into()],
        ..insights_request(None)
    };
    let err = source.run_insights(&gone).await.unwrap_err();
    assert!(
        matches!(&err, logflight_connector::ConnectorError::GroupNotFound { name, .. } if name == "/gone"),
        "{err}"
    );
    assert!(fake.seen("GetQueryResults").is_empty());
}

#[tokio::test]
async fn insights_languages_and_arns_reach_start_query() {
    let (fake, source) = scripted(InsightsScript::default()).await;
    let sql = InsightsRequest {
        query: "SELECT count(*) FROM `/app`".into(),
        language: QueryLanguage::OpenSearchSql,
        groups: vec![],
        ..insights_request(Some(5))
    };
    source.run_insights(&sql).await.unwrap();
    let ppl = InsightsRequest {
        query: "fields n".into(),
        language: QueryLanguage::OpenSearchPpl,
        groups: vec!["arn:aws:logs:us-east-1:111111111111:log-group:/app".into()],
        ..insights_request(None)
    };
    source.run_insights(&ppl).await.unwrap();
    let starts = fake.seen("StartQuery");
    assert_eq!(starts[0].body["queryLanguage"], "SQL");
    assert!(starts[0].body.get("logGroupNames").is_none());
    assert_eq!(starts[0].body["limit"], 5);
    assert_eq!(starts[1].body["queryLanguage"], "PPL");
    assert_eq!(
        starts[1].body["logGroupIdentifiers"],
        json!(["arn:aws:logs:us-east-1:111111111111:log-group:/app"])
    );
}
