//! Lambda functions in both log formats Lambda writes: the text format
//! (START/END/REPORT around the function's lines) and the JSON format
//! (`platform.*` records), each with cold and warm invocations, so the
//! typed `lambda_invocations` table has both kinds to decode.

use super::{DemoGroup, Generator, SampleIds, StreamBuilder};
use crate::rng::SplitMix64;
use crate::time::{civil_from_days, iso8601, DAY_MS, HOUR_MS};

/// Lambda names a stream after the day its execution environment started,
/// the version it runs and a random id.
fn stream_name(start: i64, version: &str, rng: &mut SplitMix64) -> String {
    let (y, m, d) = civil_from_days(start.div_euclid(DAY_MS));
    format!("{y:04}/{m:02}/{d:02}/[{version}]{}", rng.hex(32))
}

/// An X-Ray trace id: `1-` the epoch seconds in hex, `-` 24 random hex.
fn trace_id(at: i64, rng: &mut SplitMix64) -> String {
    format!("1-{:08x}-{}", at / 1000, rng.hex(24))
}

/// Since August 2025 Lambda bills the init phase of on-demand cold starts
/// too: billed duration is the rounded-up sum.
fn billed(duration: f64, init: Option<f64>) -> i64 {
    (duration + init.unwrap_or(0.0)).ceil() as i64
}

impl Generator {
    /// orders-api, text format: one stream per execution environment, for
    /// `$LATEST` (the test stage) and for published version 7 (behind the
    /// production alias, with active tracing).
    pub(super) fn lambda_orders(&mut self) -> DemoGroup {
        let name = "/aws/lambda/orders-api";
        self.reseed(name);
        let runtime_arn = format!("arn:aws:lambda:us-east-1::runtime:{}", self.rng.hex(64));
        let mut streams = Vec::new();
        let window = 8 * HOUR_MS;
        let mut environments: Vec<(i64, i64, &str)> = (0..6)
            .map(|k| (self.anchor - 48 * HOUR_MS + k * window, window, "$LATEST"))
            .collect();
        environments.push((self.anchor - 30 * HOUR_MS, 6 * HOUR_MS, "7"));
        environments.push((self.anchor - 9 * HOUR_MS, 6 * HOUR_MS, "7"));
        for (start, span, version) in environments {
            let mut s = StreamBuilder::new(stream_name(start, version, &mut self.rng));
            let traced = version != "$LATEST";
            let mut t = start + self.rng.range(0, 60_000);
            let mut memory = self.rng.range(70, 90);
            let mut cold = true;
            while t < start + span - 60_000 {
                let req = self.rng.uuid();
                let init = cold.then(|| self.rng.range(18_000, 42_000) as f64 / 100.0);
                if let Some(init_ms) = init {
                    s.push(
                        t - init_ms as i64 - 5,
                        40,
                        format!("INIT_START Runtime Version: nodejs:20.v43\tRuntime Version ARN: {runtime_arn}"),
                    );
                }
                s.push(t, 40, format!("START RequestId: {req} Version: {version}"));
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
                let duration = (at - t) as f64 + self.rng.range(5, 99) as f64 / 100.0;
                at += 2;
                s.push(at, 70, format!("END RequestId: {req}"));
                if self.rng.chance(3) {
                    memory = (memory + self.rng.range(1, 4)).min(230);
                }
                let mut report = format!(
                    "REPORT RequestId: {req}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {memory} MB\t",
                    billed(duration, init),
                );
                if let Some(init_ms) = init {
                    report.push_str(&format!("Init Duration: {init_ms:.2} ms\t"));
                }
                if traced || self.rng.chance(5) {
                    report.push_str(&format!(
                        "\nXRAY TraceId: {}\tSegmentId: {}\tSampled: true\t",
                        trace_id(t, &mut self.rng),
                        self.rng.hex(16)
                    ));
                }
                s.push(at, 70, report);
                cold = false;
                t += self.rng.range(5_000, 25_000);
            }
            streams.push(s);
        }
        self.group(name, Some(30), 400, streams)
    }

    /// inventory-sync, JSON format (Python, system log level DEBUG so that
    /// `platform.runtimeDone` is written): EventBridge Scheduler runs it
    /// every two minutes; environments are recycled every hour or two, and
    /// a timed-out run restarts the runtime, so cold starts recur.
    pub(super) fn lambda_inventory(&mut self) -> DemoGroup {
        let name = "/aws/lambda/inventory-sync";
        self.reseed(name);
        let runtime_arn = format!("arn:aws:lambda:us-east-1::runtime:{}", self.rng.hex(64));
        let mut streams = Vec::new();
        let mut t = self.anchor - 48 * HOUR_MS + self.rng.range(0, 120_000);
        while t < self.anchor - 120_000 {
            let retire = t + self.rng.range(40 * 60_000, 150 * 60_000);
            let mut s = StreamBuilder::new(stream_name(t, "$LATEST", &mut self.rng));
            let mut cold = true;
            let mut memory = self.rng.range(95, 110);
            while t < retire && t < self.anchor - 120_000 {
                let req = self.rng.uuid();
                let json = |time: i64, kind: &str, record: String| {
                    format!(
                        r#"{{"time":"{}","type":"{kind}","record":{record}}}"#,
                        iso8601(time)
                    )
                };
                let init = cold.then(|| self.rng.range(45_000, 120_000) as f64 / 100.0);
                let mut at = t;
                if let Some(init_ms) = init {
                    s.push(at, 30, json(at, "platform.initStart", format!(
                        r#"{{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:3.12.v38","runtimeVersionArn":"{runtime_arn}","functionName":"inventory-sync","functionVersion":"$LATEST"}}"#
                    )));
                    at += init_ms as i64 + 1;
                }
                let started = at;
                s.push(
                    at,
                    30,
                    json(
                        at,
                        "platform.start",
                        format!(r#"{{"requestId":"{req}","version":"$LATEST"}}"#),
                    ),
                );
                let outcome = match self.rng.below(100) {
                    0..=1 => "timeout",
                    2..=5 => "error",
                    _ => "success",
                };
                let warehouse = *self.rng.pick(&["eu-1", "us-2", "us-3"]);
                let log = |at: i64, level: &str, message: &str| {
                    format!(
                        r#"{{"timestamp":"{}","level":"{level}","message":"{message}","logger":"root","requestId":"{req}"}}"#,
                        iso8601(at)
                    )
                };
                at += self.rng.range(20, 400);
                let skus = self.rng.range(40, 900);
                s.push(
                    at,
                    35,
                    log(
                        at,
                        "INFO",
                        &format!("Fetched {skus} SKUs from warehouse {warehouse}"),
                    ),
                );
                let duration = match outcome {
                    "timeout" => 60_000.0,
                    _ => {
                        self.rng.range(800, 9_000) as f64
                            + self.rng.range(0, 1_000) as f64 / 1_000.0
                    }
                };
                match outcome {
                    "error" => {
                        at += self.rng.range(100, 800);
                        s.push(at, 35, format!(
                            r#"{{"timestamp":"{}","level":"ERROR","message":"Upstream warehouse API returned 503","errorType":"HTTPError","errorMessage":"503 Server Error: Service Unavailable for url: https://wms.example.com/{warehouse}/stock","requestId":"{req}","stackTrace":["  File \"/var/task/app.py\", line 41, in handler\n    stock = fetch_stock(warehouse)\n","  File \"/var/task/wms.py\", line 18, in fetch_stock\n    response.raise_for_status()\n"]}}"#,
                            iso8601(at)
                        ));
                    }
                    "timeout" => {
                        at += self.rng.range(1_000, 5_000);
                        s.push(
                            at,
                            35,
                            log(
                                at,
                                "WARNING",
                                &format!("Warehouse {warehouse} slow, retrying page 3"),
                            ),
                        );
                    }
                    _ => {
                        at += self.rng.range(100, 800);
                        let changed = self.rng.range(0, skus / 4);
                        s.push(
                            at,
                            35,
                            log(
                                at,
                                "INFO",
                                &format!("Updated {changed} stock levels in table inventory"),
                            ),
                        );
                    }
                }
                let end = started + duration as i64;
                let errors = match outcome {
                    "timeout" => r#","errorType":"Sandbox.Timedout""#,
                    "error" => r#","errorType":"Runtime.Unknown""#,
                    _ => "",
                };
                let spans = if outcome == "success" {
                    format!(
                        r#","spans":[{{"name":"responseLatency","start":"{}","durationMs":{:.3}}},{{"name":"responseDuration","start":"{}","durationMs":{:.3}}}]"#,
                        iso8601(end - 1),
                        duration - 0.5,
                        iso8601(end),
                        self.rng.range(10, 90) as f64 / 1_000.0
                    )
                } else {
                    String::new()
                };
                s.push(end, 40, json(end, "platform.runtimeDone", format!(
                    r#"{{"requestId":"{req}","status":"{outcome}"{errors},"metrics":{{"durationMs":{duration:.3},"producedBytes":{}}}{spans}}}"#,
                    if outcome == "success" { self.rng.range(40, 400) } else { 0 }
                )));
                if self.rng.chance(2) {
                    memory = (memory + self.rng.range(1, 6)).min(256);
                }
                let init_metric = init
                    .map(|i| format!(r#","initDurationMs":{i:.3}"#))
                    .unwrap_or_default();
                let tracing = if self.rng.chance(10) {
                    format!(
                        r#","tracing":{{"spanId":"{}","type":"X-Amzn-Trace-Id","value":"Root={};Parent={};Sampled=1"}}"#,
                        self.rng.hex(16),
                        trace_id(started, &mut self.rng),
                        self.rng.hex(16)
                    )
                } else {
                    String::new()
                };
                s.push(end + 1, 40, json(end + 1, "platform.report", format!(
                    r#"{{"requestId":"{req}","metrics":{{"durationMs":{duration:.3},"billedDurationMs":{},"memorySizeMB":256,"maxMemoryUsedMB":{memory}{init_metric}}}{tracing},"status":"{outcome}"{errors}}}"#,
                    billed(duration, init)
                )));
                cold = outcome == "timeout";
                t += 120_000;
            }
            streams.push(s);
        }
        self.group(name, Some(14), 200, streams)
    }
}
