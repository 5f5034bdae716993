//! The embedded default source: realistic sample log groups generated in
//! process, so that logflight runs with no AWS account and no network.
//!
//! The content is deterministic for a given anchor time; timestamps are
//! placed in the 48 hours before the anchor (by default: start-up time), so
//! "last hour" style queries have something to find.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::insights::{InsightsOutput, InsightsRequest, InsightsStats, QueryLanguage};
use crate::insights_pushdown::eval::{to_rows, Evaluator, Groups};
use crate::insights_pushdown::query::AggQuery;
use crate::model::{EventPage, LogEvent, LogGroup, LogGroupClass, LogStream, ReadRequest};
use crate::rng::SplitMix64;
use crate::source::LogSource;
use crate::time::{iso8601, DAY_MS, HOUR_MS};

mod cloudtrail;
mod flow;
mod lambda;

const PAGE_SIZE: usize = 10_000;
const STREAM_PAGE_SIZE: usize = 50;
const DEMO_ACCOUNT: &str = "111122223333";
const DEMO_REGION: &str = "us-east-1";
const SEED: u64 = 0x6c6f_6766_6c69_6768;

#[derive(Debug)]
struct DemoStream {
    meta: LogStream,
    /// Sorted by timestamp.
    events: Vec<LogEvent>,
}

#[derive(Debug)]
struct DemoGroup {
    meta: LogGroup,
    tags: BTreeMap<String, String>,
    streams: BTreeMap<String, DemoStream>,
}

/// In-process sample data.
#[derive(Debug)]
pub struct DemoSource {
    groups: BTreeMap<String, DemoGroup>,
}

impl DemoSource {
    /// Sample data ending at the current minute.
    pub fn new() -> Self {
        let now = crate::time::now_ms();
        Self::generate(now - now.rem_euclid(60_000))
    }

    /// Sample data ending at `anchor_ms`; the same anchor gives the same data.
    pub fn generate(anchor_ms: i64) -> Self {
        let mut gen = Generator::new(anchor_ms);
        let mut groups = BTreeMap::new();
        for group in [
            gen.lambda_orders(),
            gen.lambda_inventory(),
            gen.cloudtrail_management(),
            gen.cloudtrail_data(),
            gen.vpc_flow_logs(),
            gen.vpc_flow_logs_custom(),
            gen.ecs_payments(),
            gen.secure_log(),
        ] {
            groups.insert(group.meta.name.clone(), with_governance(group));
        }
        Self { groups }
    }

    /// Total number of events across all groups.
    pub fn event_count(&self) -> usize {
        self.groups
            .values()
            .flat_map(|g| g.streams.values())
            .map(|s| s.events.len())
            .sum()
    }

    fn group(&self, name: &str) -> Result<&DemoGroup> {
        self.groups
            .get(name)
            .ok_or_else(|| ConnectorError::GroupNotFound {
                name: name.to_string(),
                hint: String::new(),
            })
    }
}

impl Default for DemoSource {
    fn default() -> Self {
        Self::new()
    }
}

/// Tags, KMS keys and data protection as an organisation might have set
/// them, some of it missing: what the audit queries of docs/audit.md find.
fn with_governance(mut group: DemoGroup) -> DemoGroup {
    let key = |id: &str| format!("arn:aws:kms:{DEMO_REGION}:{DEMO_ACCOUNT}:key/{id}");
    let (tags, kms, protection): (&[(&str, &str)], Option<String>, Option<&str>) =
        match group.meta.name.as_str() {
            "/aws/lambda/orders-api" => (&[("team", "orders"), ("env", "prod")], None, None),
            "/aws/cloudtrail/management" => (
                &[("team", "security"), ("compliance", "pci")],
                Some(key("0b7f3c52-audit")),
                None,
            ),
            "/ecs/Payments-Service" => (
                &[("team", "payments"), ("compliance", "pci"), ("env", "prod")],
                Some(key("5d1e9a07-payments")),
                Some("ACTIVATED"),
            ),
            "/var/log/secure" => (&[("team", "security")], None, None),
            _ => (&[], None, None),
        };
    group.tags = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    group.meta.kms_key_id = kms;
    group.meta.data_protection_status = protection.map(str::to_string);
    group
}

/// Filter patterns as far as the demo needs them: the `%run%` regex form
/// logflight sends (a case-sensitive substring search), JSON patterns, and
/// terms and field lists as `pattern_match` models them. Anything else
/// matches every event: a source may select more than the pattern, never less.
fn matches_pattern(pattern: Option<&str>, message: &str) -> bool {
    let Some(pattern) = pattern else {
        return true;
    };
    if pattern.trim_start().starts_with('{') {
        return matches_json_pattern(pattern, message);
    }
    if let Some(inner) = pattern.strip_prefix('%').and_then(|p| p.strip_suffix('%')) {
        return !inner.chars().all(|c| c.is_ascii_alphanumeric()) || message.contains(inner);
    }
    super::pattern_match::matches(pattern, message).unwrap_or(true)
}

/// JSON patterns as logflight sends them: `{ $.a.b[0] OP value }` or
/// `{ (c1) && (c2) }`, OP one of = < <= > >= with a "string" or a number,
/// or `IS TRUE` / `IS FALSE`. Like CloudWatch, only events that are JSON
/// and hold a value of the compared type can match. A pattern outside that
/// subset matches every event.
fn matches_json_pattern(pattern: &str, message: &str) -> bool {
    let Some(inner) = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
    else {
        return true;
    };
    let Ok(event) = serde_json::from_str::<serde_json::Value>(message) else {
        return false;
    };
    inner.split("&&").all(|condition| {
        let c = condition.trim();
        let c = c
            .strip_prefix('(')
            .and_then(|c| c.strip_suffix(')'))
            .unwrap_or(c)
            .trim();
        json_condition_holds(c, &event).unwrap_or(true)
    })
}

/// `None`: not a condition this evaluator knows (treated as a match).
fn json_condition_holds(condition: &str, event: &serde_json::Value) -> Option<bool> {
    let (path, rest) = condition.split_once(' ')?;
    let mut value = event;
    let mut selector = path.strip_prefix('$')?;
    let missing = Some(false);
    while !selector.is_empty() {
        if let Some(after) = selector.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            match value.get(&after[..end]) {
                Some(v) => value = v,
                None => return missing,
            }
            selector = &after[end..];
        } else if let Some(after) = selector.strip_prefix('[') {
            let (index, tail) = after.split_once(']')?;
            match value.get(index.parse::<usize>().ok()?) {
                Some(v) => value = v,
                None => return missing,
            }
            selector = tail;
        } else {
            return None;
        }
    }
    let rest = rest.trim();
    match rest {
        "IS TRUE" => return Some(value.as_bool() == Some(true)),
        "IS FALSE" => return Some(value.as_bool() == Some(false)),
        _ => {}
    }
    let (op, operand) = rest.split_once(' ')?;
    if !["=", "<", "<=", ">", ">="].contains(&op) {
        return None;
    }
    let operand = operand.trim();
    if let Some(text) = operand.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
        return (op == "=").then(|| value.as_str() == Some(text));
    }
    let (Some(have), Ok(want)) = (value.as_f64(), operand.parse::<f64>()) else {
        return Some(false);
    };
    Some(match op {
        "=" => have == want,
        "<" => have < want,
        "<=" => have <= want,
        ">" => have > want,
        ">=" => have >= want,
        _ => return None,
    })
}

#[async_trait]
impl LogSource for DemoSource {
    fn describe(&self) -> String {
        "demo".into()
    }

    async fn list_groups(&self) -> Result<Vec<LogGroup>> {
        Ok(self.groups.values().map(|g| g.meta.clone()).collect())
    }

    async fn group_tags(&self, group: &LogGroup) -> Result<BTreeMap<String, String>> {
        Ok(self.group(&group.name)?.tags.clone())
    }

    async fn flow_log_format(&self, group: &str) -> Result<Option<String>> {
        Ok((group == flow::CUSTOM_GROUP).then(|| flow::CUSTOM_FORMAT.to_string()))
    }

    fn list_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<Vec<LogStream>>> {
        counters.api_calls.add(1);
        let listed = self.group(group).map(|g| {
            g.streams
                .values()
                .filter(|s| prefix.is_none_or(|p| s.meta.name.starts_with(p)))
                .map(|s| s.meta.clone())
                .collect::<Vec<_>>()
        });
        match listed {
            Err(e) => stream::once(async move { Err(e) }).boxed(),
            Ok(all) => {
                let pages: Vec<Result<Vec<LogStream>>> = if all.is_empty() {
                    vec![Ok(Vec::new())]
                } else {
                    all.chunks(STREAM_PAGE_SIZE)
                        .map(|c| Ok(c.to_vec()))
                        .collect()
                };
                stream::iter(pages).boxed()
            }
        }
    }

    fn has_insights(&self) -> bool {
        true
    }

    /// The aggregations logflight pushes into Logs Insights, evaluated
    /// here (see [`crate::insights_pushdown::eval`]); other Insights
    /// queries are refused with a message naming what is not understood.
    async fn run_insights(&self, request: &InsightsRequest) -> Result<InsightsOutput> {
        request.validate()?;
        if request.language != QueryLanguage::LogsInsights {
            return Err(ConnectorError::InvalidRequest(format!(
                "the demo source runs only Logs Insights QL, not {}",
                request.language.name()
            )));
        }
        let query = AggQuery::parse(&request.query)?;
        let evaluator = Evaluator::new(&query)?;
        // StartQuery's range as AWS applies it: endTime * 1000 is the last
        // millisecond (see RangeEnd::Instant).
        let (start, end) = (request.start_s * 1000, request.end_s * 1000);
        let mut groups = Groups::new();
        let (mut scanned, mut matched, mut bytes) = (0usize, 0usize, 0usize);
        for name in &request.groups {
            for stream in self.group(name)?.streams.values() {
                let from = stream.events.partition_point(|e| e.timestamp_ms < start);
                let to = stream.events.partition_point(|e| e.timestamp_ms <= end);
                for event in &stream.events[from..to.max(from)] {
                    scanned += 1;
                    bytes += event.message.len();
                    matched += usize::from(evaluator.add(
                        &mut groups,
                        &event.stream,
                        event.timestamp_ms,
                        &event.message,
                    ));
                }
            }
        }
        let mut rows = to_rows(&query, &groups);
        if let Some(limit) = request.limit {
            rows.truncate(limit);
        }
        Ok(InsightsOutput {
            query_id: format!("demo-{:016x}", fnv1a(&request.query)),
            rows,
            stats: InsightsStats {
                records_matched: matched as f64,
                records_scanned: scanned as f64,
                bytes_scanned: bytes as f64,
                queries: 1,
                // As CloudWatch would: one StartQuery, one GetQueryResults.
                api_calls: 2,
                queued: Default::default(),
            },
        })
    }

    fn read_events(
        &self,
        request: &ReadRequest,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<EventPage>> {
        let group = match self.group(&request.group) {
            Ok(g) => g,
            Err(e) => return stream::once(async move { Err(e) }).boxed(),
        };
        if request.selects_nothing() {
            return stream::empty().boxed();
        }
        let mut selected = Vec::new();
        for (name, s) in &group.streams {
            if !request.streams.contains(name) {
                continue;
            }
            let from = match request.time.start {
                Some(start) => s.events.partition_point(|e| e.timestamp_ms < start),
                None => 0,
            };
            let to = match request.time.end {
                Some(end) => s.events.partition_point(|e| e.timestamp_ms <= end),
                None => s.events.len(),
            };
            selected.extend(
                s.events[from..to.max(from)]
                    .iter()
                    .filter(|e| matches_pattern(request.filter_pattern.as_deref(), &e.message))
                    .cloned(),
            );
            if request.limit.is_some_and(|l| selected.len() >= l) {
                break;
            }
        }
        if let Some(limit) = request.limit {
            selected.truncate(limit);
        }
        let mut pages = Vec::new();
        counters
            .api_calls
            .add(selected.len().div_ceil(PAGE_SIZE).max(1));
        let mut rest = selected.into_iter().peekable();
        while rest.peek().is_some() {
            let page: Vec<LogEvent> = rest.by_ref().take(PAGE_SIZE).collect();
            pages.push(Ok(EventPage::new(page)));
        }
        stream::iter(pages).boxed()
    }
}

/// The identifiers the sample logs are full of (request ids, ENIs, client
/// addresses), drawn from the shared sequence.
trait SampleIds {
    fn hex(&mut self, len: usize) -> String;
    fn uuid(&mut self) -> String;
    fn ipv4_public(&mut self) -> String;
}

impl SampleIds for SplitMix64 {
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next_u64());
        }
        s.truncate(len);
        s
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
    fn ipv4_public(&mut self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.range(11, 223),
            self.below(256),
            self.below(256),
            self.range(1, 255)
        )
    }
}

struct Generator {
    rng: SplitMix64,
    anchor: i64,
}

struct StreamBuilder {
    name: Arc<str>,
    events: Vec<LogEvent>,
}

impl StreamBuilder {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: Arc::from(name.into()),
            events: Vec::new(),
        }
    }
    fn push(&mut self, ts: i64, delay: i64, message: String) {
        self.events.push(LogEvent {
            stream: Arc::clone(&self.name),
            timestamp_ms: ts,
            ingestion_ms: Some(ts + delay),
            message,
            event_id: None,
        });
    }
    fn finish(mut self) -> DemoStream {
        self.events.sort_by_key(|e| e.timestamp_ms);
        let first = self.events.first().map(|e| e.timestamp_ms);
        let last = self.events.last().map(|e| e.timestamp_ms);
        let last_ingestion = self.events.iter().filter_map(|e| e.ingestion_ms).max();
        DemoStream {
            meta: LogStream {
                name: self.name.to_string(),
                creation_time_ms: first.map(|f| f - 1_000),
                first_event_ms: first,
                last_event_ms: last,
                last_ingestion_ms: last_ingestion,
            },
            events: self.events,
        }
    }
}

/// An id that stays the same wherever the same principal appears (an IAM
/// user's `AIDA...`, a role's `AROA...`), as AWS's do: derived from the
/// account and name rather than drawn from the sequence.
fn stable_id(prefix: &str, account: &str, name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = SplitMix64::new(fnv1a(&format!("{account}/{name}")));
    let mut id = prefix.to_string();
    for _ in 0..17 {
        id.push(ALPHABET[rng.below(32) as usize] as char);
    }
    id
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Generator {
    fn new(anchor: i64) -> Self {
        Self {
            rng: SplitMix64::new(SEED),
            anchor,
        }
    }

    /// Each group draws from its own sequence, so that reworking one
    /// generator leaves the other groups' events (and the tests computed
    /// from them) as they were.
    fn reseed(&mut self, group: &str) {
        self.rng = SplitMix64::new(SEED ^ fnv1a(group));
    }

    fn group(
        &self,
        name: &str,
        retention: Option<i32>,
        age_days: i64,
        streams: Vec<StreamBuilder>,
    ) -> DemoGroup {
        let streams: BTreeMap<String, DemoStream> = streams
            .into_iter()
            .map(|s| {
                let s = s.finish();
                (s.meta.name.clone(), s)
            })
            .collect();
        let stored = streams
            .values()
            .flat_map(|s| &s.events)
            .map(|e| e.message.len() as i64 + 26)
            .sum();
        DemoGroup {
            meta: LogGroup {
                name: name.to_string(),
                arn: Some(format!(
                    "arn:aws:logs:{DEMO_REGION}:{DEMO_ACCOUNT}:log-group:{name}:*"
                )),
                creation_time_ms: Some(self.anchor - age_days * DAY_MS),
                retention_in_days: retention,
                stored_bytes: Some(stored),
                class: LogGroupClass::Standard,
                kms_key_id: None,
                data_protection_status: None,
            },
            tags: BTreeMap::new(),
            streams,
        }
    }

    /// A Java service on ECS with an upper-case group name.
    fn ecs_payments(&mut self) -> DemoGroup {
        self.reseed("/ecs/Payments-Service");
        let mut streams = Vec::new();
        let names = [
            format!("payments/api/{}", self.rng.hex(32)),
            format!("payments/api/{}", self.rng.hex(32)),
            "Payments-Worker".to_string(),
        ];
        for name in names {
            let mut s = StreamBuilder::new(name);
            for _ in 0..1_300 {
                let ts = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                let thread = self.rng.range(1, 12);
                let (level, line) = match self.rng.below(100) {
                    0..=3 => (
                        "ERROR",
                        format!(
                            "c.e.payments.Gateway - Charge failed id=ch_{} reason=upstream_timeout",
                            self.rng.hex(12)
                        ),
                    ),
                    4..=11 => (
                        "WARN",
                        format!(
                            "c.e.payments.RetryPolicy - Retrying charge id=ch_{} attempt={}",
                            self.rng.hex(12),
                            self.rng.range(2, 5)
                        ),
                    ),
                    _ => (
                        "INFO",
                        format!(
                            "c.e.payments.Controller - Charge accepted id=ch_{} amount={}",
                            self.rng.hex(12),
                            self.rng.range(100, 90_000)
                        ),
                    ),
                };
                let stamp = iso8601(ts).replace('T', " ").replace('.', ",");
                s.push(
                    ts,
                    250,
                    format!(
                        "{} {level} [http-nio-8080-exec-{thread}] {line}",
                        stamp.trim_end_matches('Z')
                    ),
                );
            }
            streams.push(s);
        }
        self.group("/ecs/Payments-Service", Some(90), 120, streams)
    }

    /// sshd authentication logs, the classic audit trail of a Linux host.
    fn secure_log(&mut self) -> DemoGroup {
        self.reseed("/var/log/secure");
        let mut streams = Vec::new();
        for host in ["ip-10-0-1-12", "ip-10-0-2-34"] {
            let mut s = StreamBuilder::new(host);
            let attackers: Vec<String> = (0..5).map(|_| self.rng.ipv4_public()).collect();
            for _ in 0..2_000 {
                let ts = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                let pid = self.rng.range(1_000, 32_000);
                let port = self.rng.range(30_000, 65_000);
                let msg = match self.rng.below(10) {
                    0..=5 => format!(
                        "sshd[{pid}]: Failed password for invalid user {} from {} port {port} ssh2",
                        self.rng.pick(&["admin", "test", "oracle", "ubuntu", "git"]),
                        self.rng.pick(&attackers)
                    ),
                    6 => format!("sshd[{pid}]: Failed password for root from {} port {port} ssh2", self.rng.pick(&attackers)),
                    7 => format!("sshd[{pid}]: Accepted publickey for ec2-user from 10.0.0.{} port {port} ssh2", self.rng.range(2, 40)),
                    8 => format!("sshd[{pid}]: pam_unix(sshd:session): session opened for user ec2-user by (uid=0)"),
                    _ => format!("sshd[{pid}]: Received disconnect from {} port {port}:11: Bye Bye [preauth]", self.rng.pick(&attackers)),
                };
                s.push(ts, 1_000, format!("{host} {msg}"));
            }
            streams.push(s);
        }
        // A host taken out of service 41 days ago: its stream went silent,
        // which docs/audit.md's "streams silent for 30 days" finds.
        let mut retired = StreamBuilder::new("ip-10-0-3-99");
        for _ in 0..50 {
            let ts = self.anchor - self.rng.range(41 * DAY_MS, 90 * DAY_MS);
            let pid = self.rng.range(1_000, 32_000);
            retired.push(
                ts,
                1_000,
                format!(
                    "ip-10-0-3-99 sshd[{pid}]: Accepted publickey for ec2-user from 10.0.0.{} port {} ssh2",
                    self.rng.range(2, 40),
                    self.rng.range(30_000, 65_000)
                ),
            );
        }
        streams.push(retired);
        self.group("/var/log/secure", Some(365), 700, streams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeRange;
    use futures::TryStreamExt;

    #[test]
    fn json_patterns_select_as_cloudwatch_does() {
        let event = r#"{"eventName":"ConsoleLogin","status":503,"latency":2.5,"readOnly":false,
                        "userIdentity":{"type":"Root"},"list":[{"k":"v"}]}"#;
        let cases = [
            (r#"{ $.eventName = "ConsoleLogin" }"#, true),
            (r#"{ $.eventName = "CreateUser" }"#, false),
            (
                r#"{ ($.userIdentity.type = "Root") && ($.status >= 500) }"#,
                true,
            ),
            (
                r#"{ ($.userIdentity.type = "Root") && ($.status < 500) }"#,
                false,
            ),
            (r#"{ $.list[0].k = "v" }"#, true),
            (r#"{ $.list[1].k = "v" }"#, false),
            ("{ $.latency > 2 }", true),
            ("{ $.latency <= 2 }", false),
            ("{ $.readOnly IS FALSE }", true),
            ("{ $.readOnly IS TRUE }", false),
            // A number is not a string, a missing field matches nothing.
            (r#"{ $.status = "503" }"#, false),
            (r#"{ $.missing = "x" }"#, false),
            // Outside the subset: everything matches (a superset is safe).
            ("{ $.eventName != 1 }", true),
            ("{ garbage }", true),
        ];
        for (pattern, want) in cases {
            assert_eq!(matches_pattern(Some(pattern), event), want, "{pattern}");
        }
        assert!(!matches_pattern(Some(r#"{ $.a = "b" }"#), "not json"));
    }

    const ANCHOR: i64 = 1_795_000_000_000;

    #[test]
    fn generation_is_deterministic_and_large_enough() {
        let a = DemoSource::generate(ANCHOR);
        let b = DemoSource::generate(ANCHOR);
        assert_eq!(a.event_count(), b.event_count());
        assert!(a.event_count() > 20_000, "{}", a.event_count());
        let names: Vec<_> = a.groups.keys().cloned().collect();
        assert!(names.contains(&"/aws/lambda/orders-api".to_string()));
        assert!(names
            .iter()
            .any(|n| n.chars().any(|c| c.is_ascii_uppercase())));
        let lambda = &a.groups["/aws/lambda/orders-api"];
        assert!(lambda
            .streams
            .keys()
            .all(|s| s.contains("/[$LATEST]") || s.contains("/[7]")));
        for g in a.groups.values() {
            for s in g.streams.values() {
                assert!(s
                    .events
                    .windows(2)
                    .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
                assert!(s.events.iter().all(|e| e.timestamp_ms < ANCHOR));
            }
        }
    }

    #[test]
    fn filter_patterns_never_under_select() {
        let cases = [
            (None, "anything", true),
            (Some("%ERROR%"), "[ERROR] boom", true),
            (Some("%ERROR%"), "[error] boom", false),
            (Some("%a.b%"), "no match but unknown regex", true),
            (Some("ERROR boom"), "[ERROR] boom", true),
            (Some("ERROR bang"), "[ERROR] boom", false),
        ];
        for (pattern, message, want) in cases {
            assert_eq!(
                matches_pattern(pattern, message),
                want,
                "{pattern:?} {message}"
            );
        }
    }

    #[tokio::test]
    async fn reads_honour_time_streams_and_limit() {
        let source = DemoSource::generate(ANCHOR);
        let group = "/vpc/flow-logs";
        let all: Vec<LogEvent> = source
            .read_events(&ReadRequest::whole_group(group), &ReadCounters::default())
            .map_ok(|p| p.events)
            .try_concat()
            .await
            .unwrap();
        let pivot = all[all.len() / 2].timestamp_ms;
        let mut req = ReadRequest::whole_group(group);
        req.time = TimeRange::new(Some(pivot), Some(pivot));
        let exact: Vec<LogEvent> = source
            .read_events(&req, &ReadCounters::default())
            .map_ok(|p| p.events)
            .try_concat()
            .await
            .unwrap();
        let want = all.iter().filter(|e| e.timestamp_ms == pivot).count();
        assert!(want >= 1);
        assert_eq!(exact.len(), want);
        req.time = TimeRange::ALL;
        req.limit = Some(3);
        let pages: Vec<EventPage> = source
            .read_events(&req, &ReadCounters::default())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(pages.iter().map(|p| p.events.len()).sum::<usize>(), 3);
        let missing = source
            .read_events(&ReadRequest::whole_group("/nope"), &ReadCounters::default())
            .try_collect::<Vec<_>>()
            .await;
        assert!(matches!(missing, Err(ConnectorError::GroupNotFound { .. })));
    }
}

/// Every shape of record the typed tables decode is in the demo.
#[cfg(test)]
mod shape_tests {
    use super::*;
    use serde_json::Value;

    const ANCHOR: i64 = 1_795_000_000_000;

    fn messages<'a>(source: &'a DemoSource, group: &str) -> Vec<&'a LogEvent> {
        source.groups[group]
            .streams
            .values()
            .flat_map(|s| &s.events)
            .collect()
    }

    fn records(source: &DemoSource, group: &str) -> Vec<(i64, Value)> {
        messages(source, group)
            .into_iter()
            .map(|e| {
                let v: Value = serde_json::from_str(&e.message)
                    .unwrap_or_else(|err| panic!("{err}: {}", e.message));
                (e.timestamp_ms, v)
            })
            .collect()
    }

    /// Epoch milliseconds of CloudTrail's `YYYY-MM-DDTHH:MM:SSZ`.
    fn parse_time(text: &str) -> i64 {
        let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
        let (y, m, d) = (n(0..4), n(5..7), n(8..10));
        // Days from civil, the inverse of civil_from_days.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * DAY_MS + n(11..13) * HOUR_MS + n(14..16) * 60_000 + n(17..19) * 1_000
    }

    #[test]
    fn the_demo_stays_modest_and_deterministic() {
        let a = DemoSource::generate(ANCHOR);
        let b = DemoSource::generate(ANCHOR);
        let n = a.event_count();
        assert!((60_000..=160_000).contains(&n), "{n}");
        for (name, g) in &a.groups {
            let other = &b.groups[name];
            for (s, stream) in &g.streams {
                let same = &other.streams[s].events;
                assert_eq!(stream.events.len(), same.len());
                assert!(stream
                    .events
                    .iter()
                    .zip(same)
                    .all(|(x, y)| x.message == y.message && x.timestamp_ms == y.timestamp_ms));
            }
        }
    }

    #[test]
    fn cloudtrail_has_every_shape() {
        let source = DemoSource::generate(ANCHOR);
        let mut all = records(&source, "/aws/cloudtrail/management");
        let data = records(&source, "/aws/cloudtrail/workloads");
        for (_, r) in &data {
            assert_eq!(r["eventCategory"], "Data");
            assert_eq!(r["managementEvent"], false);
            assert!(r["resources"].is_array(), "{r}");
        }
        all.extend(data);
        let any = |what: &str, f: &dyn Fn(&Value) -> bool| {
            assert!(all.iter().any(|(_, r)| f(r)), "no record with {what}");
        };
        let ui = |r: &Value, k: &str| r["userIdentity"][k].clone();
        for kind in [
            "IAMUser",
            "AssumedRole",
            "Root",
            "AWSService",
            "SAMLUser",
            "WebIdentityUser",
            "IdentityCenterUser",
        ] {
            any(kind, &|r| ui(r, "type") == kind);
        }
        any("an access key", &|r| {
            ui(r, "accessKeyId")
                .as_str()
                .is_some_and(|k| k.starts_with("AKIA"))
        });
        any("a sessionIssuer", &|r| {
            ui(r, "sessionContext")["sessionIssuer"]["type"] == "Role"
        });
        any("mfaAuthenticated true", &|r| {
            ui(r, "sessionContext")["attributes"]["mfaAuthenticated"] == "true"
        });
        any("mfaAuthenticated false", &|r| {
            ui(r, "sessionContext")["attributes"]["mfaAuthenticated"] == "false"
        });
        any("webIdFederationData", &|r| {
            ui(r, "sessionContext")["webIdFederationData"]["federatedProvider"].is_string()
        });
        any("sourceIdentity", &|r| {
            ui(r, "sessionContext")["sourceIdentity"].is_string()
        });
        any("ec2RoleDelivery", &|r| {
            ui(r, "sessionContext")["ec2IssuedInVPC"].is_string()
        });
        any("invokedBy", &|r| ui(r, "invokedBy").is_string());
        any("identityProvider", &|r| {
            ui(r, "identityProvider").is_string()
        });
        any("onBehalfOf", &|r| {
            ui(r, "onBehalfOf")["identityStoreArn"].is_string()
        });
        any("inScopeOf", &|r| {
            ui(r, "inScopeOf")["credentialsIssuedTo"].is_string()
        });
        for (kind, mfa) in [("MFA", "Yes"), ("no MFA", "No")] {
            any(kind, &|r| {
                r["eventName"] == "ConsoleLogin"
                    && r["additionalEventData"]["MFAUsed"] == mfa
                    && r["responseElements"]["ConsoleLogin"] == "Success"
            });
        }
        any("a failed login", &|r| {
            r["eventName"] == "ConsoleLogin" && r["errorMessage"] == "Failed authentication"
        });
        any("AccessDenied", &|r| r["errorCode"] == "AccessDenied");
        any("another error", &|r| {
            r["errorCode"].as_str().is_some_and(|c| c != "AccessDenied")
        });
        for t in ["AwsApiCall", "AwsConsoleSignIn", "AwsServiceEvent"] {
            any(t, &|r| r["eventType"] == t);
        }
        any("serviceEventDetails", &|r| {
            r["serviceEventDetails"].is_object()
        });
        for ro in [true, false] {
            any("a data event", &|r| {
                r["eventCategory"] == "Data" && r["readOnly"] == ro
            });
        }
        for source in [
            "s3.amazonaws.com",
            "lambda.amazonaws.com",
            "dynamodb.amazonaws.com",
        ] {
            any(source, &|r| {
                r["eventCategory"] == "Data" && r["eventSource"] == source
            });
        }
        any("ARNPrefix", &|r| r["resources"][0]["ARNPrefix"].is_string());
        any("tlsDetails", &|r| r["tlsDetails"]["tlsVersion"].is_string());
        any("no tlsDetails", &|r| r.get("tlsDetails").is_none());
        any("a cross-account call", &|r| {
            ui(r, "accountId").is_string() && ui(r, "accountId") != r["recipientAccountId"]
        });
        any("sharedEventID", &|r| r["sharedEventID"].is_string());
        any("vpcEndpointId", &|r| r["vpcEndpointId"].is_string());
        any("sessionCredentialFromConsole", &|r| {
            r["sessionCredentialFromConsole"] == "true"
        });
        any("an addendum", &|r| r["addendum"]["reason"].is_string());
        any("null responseElements", &|r| {
            r["responseElements"].is_null()
        });
        any("nested request", &|r| {
            r["requestParameters"]["blockDeviceMapping"]["items"][0]["ebs"]["volumeSize"]
                .is_number()
        });
        let accounts: std::collections::BTreeSet<_> = all
            .iter()
            .map(|(_, r)| r["recipientAccountId"].to_string())
            .collect();
        assert!(accounts.len() >= 3, "{accounts:?}");
        for (ts, r) in &all {
            let event_time = parse_time(r["eventTime"].as_str().unwrap());
            let delay = ts - event_time;
            assert!(
                (0..cloudtrail::MAX_DELIVERY_DELAY_MS).contains(&delay),
                "{delay} ms: {r}"
            );
        }
        for (name, g) in [(
            "/aws/cloudtrail/management",
            &source.groups["/aws/cloudtrail/management"],
        )] {
            for s in g.streams.keys() {
                let (account, region) = s
                    .split_once("_CloudTrail_")
                    .unwrap_or_else(|| panic!("{name}: {s}"));
                assert!(cloudtrail::ACCOUNTS.contains(&account), "{s}");
                assert!(records(&source, name).iter().all(|_| true));
                assert!(
                    g.streams[s]
                        .events
                        .iter()
                        .all(|e| e.message.contains(&format!("\"awsRegion\":\"{region}\""))),
                    "{s}"
                );
            }
        }
    }

    /// A custom-format record's field by name.
    type Field<'a> = &'a dyn Fn(&str) -> String;

    #[test]
    fn flow_logs_have_every_shape() {
        let source = DemoSource::generate(ANCHOR);
        let default = messages(&source, "/vpc/flow-logs");
        let fields = |m: &str| m.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert!(
            default.iter().all(|e| fields(&e.message).len() == 14),
            "default format has 14 fields"
        );
        let has = |what: &str, f: &dyn Fn(&[String]) -> bool| {
            assert!(default.iter().any(|e| f(&fields(&e.message))), "no {what}");
        };
        has("NODATA", &|f| {
            f[13] == "NODATA" && f[3] == "-" && f[12] == "-"
        });
        has("SKIPDATA", &|f| f[13] == "SKIPDATA");
        has("ICMP", &|f| f[7] == "1" && f[5] == "0" && f[6] == "0");
        has("UDP", &|f| f[7] == "17");
        has("a rejected SSH probe", &|f| {
            f[6] == "22" && f[12] == "REJECT" && !f[3].starts_with("10.")
        });
        has("a rejected RDP probe", &|f| {
            f[6] == "3389" && f[12] == "REJECT"
        });
        has("ACCEPT", &|f| f[12] == "ACCEPT");

        let custom = messages(&source, flow::CUSTOM_GROUP);
        let names: Vec<&str> = flow::CUSTOM_FORMAT
            .split(' ')
            .map(|f| f.trim_start_matches("${").trim_end_matches('}'))
            .collect();
        assert_eq!(names.len(), 27);
        let at = |name: &str| names.iter().position(|n| *n == name).unwrap();
        for e in &custom {
            let f = fields(&e.message);
            assert_eq!(f.len(), names.len(), "{}", e.message);
            assert_eq!(f[at("version")], "5");
            if f[at("log-status")] == "OK" {
                let protocol = &f[at("protocol")];
                if protocol != "6" {
                    assert_eq!(f[at("tcp-flags")], "0", "{}", e.message);
                }
                if f[at("flow-direction")] == "ingress" {
                    assert_eq!(f[at("traffic-path")], "-", "{}", e.message);
                }
            }
        }
        let chas = |what: &str, f: &dyn Fn(Field) -> bool| {
            assert!(
                custom.iter().any(|e| {
                    let v = fields(&e.message);
                    f(&|n: &str| v[at(n)].clone())
                }),
                "no custom {what}"
            );
        };
        chas("NODATA", &|g| {
            g("log-status") == "NODATA" && g("srcaddr") == "-"
        });
        chas("NAT translation", &|g| {
            g("instance-id") == "-" && g("srcaddr") != g("pkt-srcaddr")
        });
        chas("an AWS service", &|g| {
            g("pkt-dst-aws-service") == "S3" && g("traffic-path") == "7"
        });
        chas("ingress", &|g| g("flow-direction") == "ingress");
        chas("egress via the internet gateway", &|g| {
            g("traffic-path") == "8"
        });
        chas("TCP flags", &|g| g("tcp-flags") == "19");
    }

    #[tokio::test]
    async fn the_custom_flow_log_group_reports_its_format() {
        let source = DemoSource::generate(ANCHOR);
        assert_eq!(
            source
                .flow_log_format("/vpc/flow-logs-custom")
                .await
                .unwrap()
                .as_deref(),
            Some(flow::CUSTOM_FORMAT)
        );
        assert_eq!(
            source.flow_log_format("/vpc/flow-logs").await.unwrap(),
            None
        );
        assert_eq!(
            source.flow_log_format("/var/log/secure").await.unwrap(),
            None
        );
    }

    #[test]
    fn lambda_text_reports_have_cold_and_warm_starts() {
        let source = DemoSource::generate(ANCHOR);
        let g = &source.groups["/aws/lambda/orders-api"];
        assert!(g.streams.keys().any(|s| s.contains("/[$LATEST]")));
        assert!(g.streams.keys().any(|s| s.contains("/[7]")));
        for s in g.streams.values() {
            let reports: Vec<&str> = s
                .events
                .iter()
                .map(|e| e.message.as_str())
                .filter(|m| m.starts_with("REPORT RequestId: "))
                .collect();
            assert!(reports.len() > 10);
            // The first invocation of an environment is its cold start.
            assert!(reports[0].contains("\tInit Duration: "), "{}", reports[0]);
            assert!(reports[1..].iter().all(|r| !r.contains("Init Duration")));
            for r in &reports {
                let line = r.lines().next().unwrap();
                assert!(line.ends_with(" MB\t") || line.ends_with(" ms\t"), "{r:?}");
                let parts: Vec<&str> = line.trim_end_matches('\t').split('\t').collect();
                assert!(
                    parts[1].starts_with("Duration: ") && parts[2].starts_with("Billed Duration: ")
                );
                assert_eq!(parts[3], "Memory Size: 512 MB");
                assert!(parts[4].starts_with("Max Memory Used: "));
            }
            assert!(s.events[0]
                .message
                .starts_with("INIT_START Runtime Version: "));
        }
        assert!(messages(&source, "/aws/lambda/orders-api")
            .iter()
            .any(|e| e.message.contains("\nXRAY TraceId: 1-")));
    }

    #[test]
    fn lambda_json_records_have_every_status() {
        let source = DemoSource::generate(ANCHOR);
        let all = records(&source, "/aws/lambda/inventory-sync");
        let reports: Vec<&Value> = all
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r["type"] == "platform.report")
            .collect();
        for status in ["success", "timeout", "error"] {
            assert!(
                reports.iter().any(|r| r["record"]["status"] == status),
                "{status}"
            );
        }
        let cold = |r: &&&Value| r["record"]["metrics"]["initDurationMs"].is_number();
        assert!(reports.iter().any(|r| cold(&r)));
        assert!(reports.iter().any(|r| !cold(&r)));
        for r in &reports {
            let m = &r["record"]["metrics"];
            for k in [
                "durationMs",
                "billedDurationMs",
                "memorySizeMB",
                "maxMemoryUsedMB",
            ] {
                assert!(m[k].is_number(), "{k}: {r}");
            }
        }
        for kind in [
            "platform.initStart",
            "platform.start",
            "platform.runtimeDone",
        ] {
            assert!(all.iter().any(|(_, r)| r["type"] == kind), "{kind}");
        }
        assert!(all
            .iter()
            .any(|(_, r)| r["record"]["tracing"]["type"] == "X-Amzn-Trace-Id"));
        assert!(all
            .iter()
            .any(|(_, r)| r["level"] == "INFO" && r["requestId"].is_string()));
        // Each stream opens with the environment's initialisation.
        for s in source.groups["/aws/lambda/inventory-sync"].streams.values() {
            assert!(s.events[0]
                .message
                .contains("\"type\":\"platform.initStart\""));
        }
    }
}
