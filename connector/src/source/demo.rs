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
use crate::model::{EventPage, LogEvent, LogGroup, LogGroupClass, LogStream, ReadRequest};
use crate::rng::SplitMix64;
use crate::source::LogSource;
use crate::time::{civil_from_days, iso8601, DAY_MS, HOUR_MS};

const PAGE_SIZE: usize = 10_000;
const STREAM_PAGE_SIZE: usize = 50;
const DEMO_ACCOUNT: &str = "111122223333";
const DEMO_REGION: &str = "us-east-1";

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
            gen.cloudtrail(),
            gen.vpc_flow_logs(),
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

impl Generator {
    fn new(anchor: i64) -> Self {
        Self {
            rng: SplitMix64::new(0x6c6f_6766_6c69_6768),
            anchor,
        }
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

    /// A Lambda function: one stream per execution environment, named the
    /// way Lambda names them, with START/END/REPORT and JSON app lines.
    fn lambda_orders(&mut self) -> DemoGroup {
        let mut streams = Vec::new();
        let window = 8 * HOUR_MS;
        for k in 0..6 {
            let start = self.anchor - 48 * HOUR_MS + k * window;
            let (y, m, d) = civil_from_days(start.div_euclid(DAY_MS));
            let mut s = StreamBuilder::new(format!(
                "{y:04}/{m:02}/{d:02}/[$LATEST]{}",
                self.rng.hex(32)
            ));
            let mut t = start + self.rng.range(0, 60_000);
            while t < start + window - 60_000 {
                let req = self.rng.uuid();
                s.push(t, 40, format!("START RequestId: {req} Version: $LATEST"));
                let order = self.rng.below(100_000);
                let customer = self.rng.below(500);
                let amount = self.rng.range(199, 250_000);
                let mut at = t + self.rng.range(1, 20);
                if self.rng.chance(6) {
                    let error = *self
                        .rng
                        .pick(&["CardDeclined", "InsufficientFunds", "Timeout"]);
                    s.push(at, 55, format!(
                        r#"{{"level":"ERROR","msg":"payment failed","orderId":"ord-{order:06}","customerId":"cus-{customer:04}","amountCents":{amount},"error":"{error}","requestId":"{req}"}}"#
                    ));
                } else {
                    s.push(at, 55, format!(
                        r#"{{"level":"INFO","msg":"order created","orderId":"ord-{order:06}","customerId":"cus-{customer:04}","amountCents":{amount},"requestId":"{req}"}}"#
                    ));
                }
                at += self.rng.range(1, 30);
                let latency = self.rng.range(3, 900);
                s.push(at, 61, format!(
                    r#"{{"level":"INFO","msg":"response sent","status":{},"latencyMs":{latency},"requestId":"{req}"}}"#,
                    if self.rng.chance(4) { 500 } else { 200 }
                ));
                let duration = (at - t) as f64 + 1.37;
                at += 2;
                s.push(at, 70, format!("END RequestId: {req}"));
                s.push(at, 70, format!(
                    "REPORT RequestId: {req}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {} MB",
                    duration.ceil() as i64,
                    self.rng.range(80, 200)
                ));
                t += self.rng.range(5_000, 25_000);
            }
            streams.push(s);
        }
        self.group("/aws/lambda/orders-api", Some(30), 400, streams)
    }

    /// CloudTrail management events delivered to CloudWatch Logs, several
    /// accounts and regions, one stream per account and region.
    fn cloudtrail(&mut self) -> DemoGroup {
        const ACTIONS: [(&str, &str, bool); 14] = [
            ("ConsoleLogin", "signin.amazonaws.com", false),
            ("AssumeRole", "sts.amazonaws.com", false),
            ("DescribeInstances", "ec2.amazonaws.com", true),
            ("RunInstances", "ec2.amazonaws.com", false),
            ("TerminateInstances", "ec2.amazonaws.com", false),
            ("CreateUser", "iam.amazonaws.com", false),
            ("CreateAccessKey", "iam.amazonaws.com", false),
            ("AttachRolePolicy", "iam.amazonaws.com", false),
            ("ListBuckets", "s3.amazonaws.com", true),
            ("PutBucketPolicy", "s3.amazonaws.com", false),
            ("DeleteBucket", "s3.amazonaws.com", false),
            ("StopLogging", "cloudtrail.amazonaws.com", false),
            ("GetSecretValue", "secretsmanager.amazonaws.com", true),
            ("PutRetentionPolicy", "logs.amazonaws.com", false),
        ];
        const USERS: [(&str, &str); 5] = [
            ("IAMUser", "alice"),
            ("IAMUser", "bob"),
            ("AssumedRole", "ci-deployer"),
            ("AssumedRole", "AWSReservedSSO_Admin/carol"),
            ("Root", "root"),
        ];
        let mut streams = Vec::new();
        for account in ["111122223333", "444455556666", "777788889999"] {
            for region in ["us-east-1", "eu-west-1"] {
                let mut s = StreamBuilder::new(format!("{account}_CloudTrail_{region}"));
                let ips: Vec<String> = (0..6).map(|_| self.rng.ipv4_public()).collect();
                for _ in 0..1_400 {
                    let ts = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                    let (name, source, read_only) = *self.rng.pick(&ACTIONS);
                    // Root activity is rare, as it should be.
                    let (kind, user) = if self.rng.chance(1) {
                        USERS[4]
                    } else {
                        *self.rng.pick(&USERS[..4])
                    };
                    let arn = match kind {
                        "Root" => format!("arn:aws:iam::{account}:root"),
                        "AssumedRole" => format!("arn:aws:sts::{account}:assumed-role/{user}"),
                        _ => format!("arn:aws:iam::{account}:user/{user}"),
                    };
                    let error = if self.rng.chance(7) {
                        r#","errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation""#
                    } else {
                        ""
                    };
                    let ip = self.rng.pick(&ips).clone();
                    s.push(ts, self.rng.range(60_000, 600_000), format!(
                        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"{kind}","principalId":"AIDA{}","arn":"{arn}","accountId":"{account}","userName":"{user}"}},"eventTime":"{}Z","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.17.0","readOnly":{read_only}{error},"eventID":"{}","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}"}}"#,
                        self.rng.hex(16).to_uppercase(),
                        &iso8601(ts)[..19],
                        self.rng.uuid(),
                    ));
                }
                streams.push(s);
            }
        }
        self.group("/aws/cloudtrail/management", None, 900, streams)
    }

    /// VPC flow logs in the default space-delimited format, one stream per ENI.
    fn vpc_flow_logs(&mut self) -> DemoGroup {
        let mut streams = Vec::new();
        for _ in 0..4 {
            let eni = format!("eni-0{}", self.rng.hex(16));
            let mut s = StreamBuilder::new(format!("{eni}-all"));
            let local = format!("10.0.{}.{}", self.rng.below(4), self.rng.range(4, 250));
            for _ in 0..2_000 {
                let end = self.anchor - self.rng.range(60_000, 48 * HOUR_MS);
                let start = end - 60_000;
                let remote = if self.rng.chance(70) {
                    format!("10.0.{}.{}", self.rng.below(4), self.rng.range(4, 250))
                } else {
                    self.rng.ipv4_public()
                };
                let port = *self.rng.pick(&[443, 443, 80, 22, 5432, 6379, 3389]);
                let (src, dst, sport, dport) = if self.rng.chance(50) {
                    (
                        local.as_str(),
                        remote.as_str(),
                        self.rng.range(32_768, 61_000),
                        port,
                    )
                } else {
                    (
                        remote.as_str(),
                        local.as_str(),
                        port,
                        self.rng.range(32_768, 61_000),
                    )
                };
                let packets = self.rng.range(1, 400);
                let action = if dport == 22 || dport == 3389 || self.rng.chance(5) {
                    "REJECT"
                } else {
                    "ACCEPT"
                };
                s.push(end, 90_000, format!(
                    "2 {DEMO_ACCOUNT} {eni} {src} {dst} {sport} {dport} 6 {packets} {} {} {} {action} OK",
                    packets * self.rng.range(40, 1_500),
                    start / 1000,
                    end / 1000,
                ));
            }
            streams.push(s);
        }
        self.group("/vpc/flow-logs", Some(14), 200, streams)
    }

    /// A Java service on ECS with an upper-case group name.
    fn ecs_payments(&mut self) -> DemoGroup {
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
        assert!(lambda.streams.keys().all(|s| s.contains("/[$LATEST]")));
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
