//! Prometheus metrics on `--metrics-listen` (off by default), of `serve`
//! and of `archive run`.
//!
//! Query counters and the duration histogram are kept here; API calls come
//! from each source's shared quota, events/bytes from each catalog's scan
//! totals and an archive run's figures from its progress counters, read
//! when scraped, so nothing is counted twice.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use logflight_connector::archive::run::Progress;
use logflight_connector::query_slots::InsightsTotals;
use logflight_connector::LogCatalog;

/// Upper bounds of the query duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0];

/// How a query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    /// The client went away before the end.
    Cancelled,
}

#[derive(Debug, Default)]
pub struct QueryMetrics {
    ok: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    rows: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl QueryMetrics {
    pub fn record(&self, outcome: Outcome, rows: u64, started: Instant) {
        match outcome {
            Outcome::Ok => &self.ok,
            Outcome::Failed => &self.failed,
            Outcome::Cancelled => &self.cancelled,
        }
        .fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
        let seconds = started.elapsed().as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of these and the engine's counters.
    pub fn render(&self, catalogs: &[LogCatalog]) -> String {
        let mut out = Exposition::default();
        self.render_queries(&mut out);
        render_scans(&mut out, catalogs);
        render_api_calls(&mut out, catalogs);
        render_insights(&mut out, catalogs);
        out.text
    }

    fn render_queries(&self, out: &mut Exposition) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.family(
            "logflight_queries_total",
            "counter",
            "Queries run, by outcome.",
        );
        for (outcome, c) in [
            ("ok", &self.ok),
            ("failed", &self.failed),
            ("cancelled", &self.cancelled),
        ] {
            out.sample(
                "logflight_queries_total",
                &format!("outcome=\"{outcome}\""),
                load(c),
            );
        }
        out.family(
            "logflight_rows_returned_total",
            "counter",
            "Rows sent to clients.",
        );
        out.sample("logflight_rows_returned_total", "", load(&self.rows));
        let histogram = "logflight_query_duration_seconds";
        out.family(
            histogram,
            "histogram",
            "Time from planning to the last row.",
        );
        for (bound, c) in BUCKETS.iter().zip(&self.buckets) {
            out.sample(
                &format!("{histogram}_bucket"),
                &format!("le=\"{bound}\""),
                load(c),
            );
        }
        out.sample(
            &format!("{histogram}_bucket"),
            "le=\"+Inf\"",
            load(&self.count),
        );
        out.sample(
            &format!("{histogram}_sum"),
            "",
            load(&self.sum_micros) as f64 / 1e6,
        );
        out.sample(&format!("{histogram}_count"), "", load(&self.count));
    }
}

/// Events and bytes the catalogs' scans fetched.
fn render_scans(out: &mut Exposition, catalogs: &[LogCatalog]) {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    out.family(
        "logflight_events_scanned_total",
        "counter",
        "Log events fetched from the source.",
    );
    for c in catalogs {
        let events = load(&c.scan_totals().events_fetched);
        out.sample("logflight_events_scanned_total", &catalog_label(c), events);
    }
    out.family(
        "logflight_bytes_scanned_total",
        "counter",
        "Message bytes fetched from the source.",
    );
    for c in catalogs {
        let bytes = load(&c.scan_totals().bytes_fetched);
        out.sample("logflight_bytes_scanned_total", &catalog_label(c), bytes);
    }
}

/// The CloudWatch calls of the catalogs' sources, from their quotas.
fn render_api_calls(out: &mut Exposition, catalogs: &[LogCatalog]) {
    out.family(
        "logflight_api_calls_total",
        "counter",
        "CloudWatch Logs API calls, by API and outcome.",
    );
    for c in catalogs {
        for (api, outcome, n) in c
            .source()
            .quota()
            .map(|q| q.call_counts())
            .unwrap_or_default()
        {
            let labels = format!(
                "{},api=\"{}\",outcome=\"{outcome}\"",
                catalog_label(c),
                api.name()
            );
            out.sample("logflight_api_calls_total", &labels, n);
        }
    }
    out.family(
        "logflight_api_retries_total",
        "counter",
        "CloudWatch Logs API calls retried.",
    );
    for c in catalogs {
        if let Some(quota) = c.source().quota() {
            out.sample(
                "logflight_api_retries_total",
                &catalog_label(c),
                quota.retry_count(),
            );
        }
    }
}

/// The Logs Insights queries of the catalogs' sources, counted when they
/// ran (a result reused for the same call is not counted again).
fn render_insights(out: &mut Exposition, catalogs: &[LogCatalog]) {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    type Field = fn(&InsightsTotals) -> &AtomicU64;
    let families: [(&str, &str, Field); 3] = [
        (
            "logflight_insights_queries_total",
            "Logs Insights queries run (split parts included).",
            |t| &t.queries,
        ),
        (
            "logflight_insights_bytes_scanned_total",
            "Bytes Logs Insights scanned (what it bills).",
            |t| &t.bytes_scanned,
        ),
        (
            "logflight_insights_records_scanned_total",
            "Log events Logs Insights scanned.",
            |t| &t.records_scanned,
        ),
    ];
    for (name, help, field) in families {
        out.family(name, "counter", help);
        for c in catalogs {
            if let Some(quota) = c.source().quota() {
                out.sample(
                    name,
                    &catalog_label(c),
                    load(field(quota.query_slots().totals())),
                );
            }
        }
    }
    let name = "logflight_insights_queue_seconds_total";
    out.family(
        name,
        "counter",
        "Time Logs Insights queries waited for a slot of the account's concurrent queries.",
    );
    for c in catalogs {
        if let Some(quota) = c.source().quota() {
            let micros = load(&quota.query_slots().totals().queued_micros);
            out.sample(name, &catalog_label(c), micros as f64 / 1e6);
        }
    }
}

/// What an `archive run` exposes: each catalog's progress and API calls,
/// when the run began, and (once it ends) whether it succeeded.
#[derive(Default)]
pub struct ArchiveMetrics {
    runs: Mutex<Vec<(LogCatalog, Arc<Progress>)>>,
    started: Mutex<Option<f64>>,
    ended: Mutex<Option<(bool, f64)>>,
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl ArchiveMetrics {
    pub fn new() -> Self {
        Self {
            started: Mutex::new(Some(unix_seconds())),
            ..Default::default()
        }
    }

    /// A catalog's run begins.
    pub fn add(&self, catalog: &LogCatalog, progress: Arc<Progress>) {
        self.runs
            .lock()
            .expect("metrics lock")
            .push((catalog.clone(), progress));
    }

    /// The whole run ended, `ok` or not.
    pub fn end(&self, ok: bool) {
        *self.ended.lock().expect("metrics lock") = Some((ok, unix_seconds()));
    }

    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        let runs = self.runs.lock().expect("metrics lock").clone();
        /// name, type, help, the counter it reads
        type Counter = (
            &'static str,
            &'static str,
            &'static str,
            fn(&Progress) -> &AtomicU64,
        );
        let counters: [Counter; 7] = [
            (
                "logflight_archive_days_planned",
                "gauge",
                "Days the run has to read.",
                |p| &p.days_total,
            ),
            (
                "logflight_archive_days_done_total",
                "counter",
                "Days read and committed (or found unchanged).",
                |p| &p.days_done,
            ),
            (
                "logflight_archive_events_read_total",
                "counter",
                "Events read from CloudWatch.",
                |p| &p.events_read,
            ),
            (
                "logflight_archive_events_written_total",
                "counter",
                "Events written to new parts (not in the archive before).",
                |p| &p.events_written,
            ),
            (
                "logflight_archive_bytes_written_total",
                "counter",
                "Parquet bytes written.",
                |p| &p.bytes_written,
            ),
            (
                "logflight_archive_commits_total",
                "counter",
                "Commit records created.",
                |p| &p.commits,
            ),
            (
                "logflight_archive_conflicts_total",
                "counter",
                "Days another run committed first (read again).",
                |p| &p.conflicts,
            ),
        ];
        for (name, kind, help, field) in counters {
            out.family(name, kind, help);
            for (catalog, progress) in &runs {
                let value = field(progress).load(Ordering::Relaxed);
                out.sample(name, &catalog_label(catalog), value);
            }
        }
        let catalogs: Vec<LogCatalog> = runs.into_iter().map(|(c, _)| c).collect();
        render_api_calls(&mut out, &catalogs);
        let name = "logflight_archive_run_start_timestamp_seconds";
        out.family(name, "gauge", "When this archive run began.");
        out.sample(
            name,
            "",
            self.started
                .lock()
                .expect("metrics lock")
                .unwrap_or_default(),
        );
        if let Some((ok, at)) = *self.ended.lock().expect("metrics lock") {
            let name = "logflight_archive_run_end_timestamp_seconds";
            out.family(name, "gauge", "When this archive run ended.");
            out.sample(name, "", at);
            let name = "logflight_archive_run_success";
            out.family(
                name,
                "gauge",
                "1 when the run ended without an error, else 0.",
            );
            out.sample(name, "", u8::from(ok));
        }
        out.text
    }

    /// Writes the exposition to `path` for a textfile collector (node
    /// exporter's), atomically: written beside it, then renamed over it.
    pub fn write_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut staged = path.as_os_str().to_owned();
        staged.push(".tmp");
        std::fs::write(&staged, self.render())?;
        std::fs::rename(&staged, path)
    }
}

fn catalog_label(catalog: &LogCatalog) -> String {
    format!("catalog=\"{}\"", catalog.name())
}

/// The Prometheus text format, line by line.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.text, "{name} {value}");
        } else {
            let _ = writeln!(self.text, "{name}{{{labels}}} {value}");
        }
    }
}

/// What `GET /metrics` answers, made when scraped.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `GET /metrics` (any other path is 404) until the process ends.
pub async fn serve(listener: TcpListener, render: Render) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let render = Arc::clone(&render);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let n = match tokio::time::timeout(
                std::time::Duration::from_secs(5),
                socket.read(&mut buf),
            )
            .await
            {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, body) =
                if request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?") {
                    ("200 OK", render())
                } else {
                    ("404 Not Found", "try GET /metrics\n".to_string())
                };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logflight_connector::{DemoSource, LogCatalog};
    use std::time::Duration;

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn the_exposition_counts_outcomes_rows_and_durations() {
        let catalogs = vec![LogCatalog::new(
            "cloudwatch",
            std::sync::Arc::new(DemoSource::new()),
            Duration::from_secs(60),
        )];
        let metrics = QueryMetrics::default();
        let now = Instant::now();
        metrics.record(Outcome::Ok, 10, now);
        metrics.record(Outcome::Ok, 5, now);
        metrics.record(Outcome::Failed, 0, now - Duration::from_secs(3));
        let text = metrics.render(&catalogs);
        assert_eq!(value(&text, "logflight_queries_total{outcome=\"ok\"}"), 2.0);
        assert_eq!(
            value(&text, "logflight_queries_total{outcome=\"failed\"}"),
            1.0
        );
        assert_eq!(
            value(&text, "logflight_queries_total{outcome=\"cancelled\"}"),
            0.0
        );
        assert_eq!(value(&text, "logflight_rows_returned_total"), 15.0);
        // Buckets are cumulative: the 3 s query is in le=10 but not le=2.5.
        assert_eq!(
            value(&text, "logflight_query_duration_seconds_bucket{le=\"2.5\"}"),
            2.0
        );
        assert_eq!(
            value(&text, "logflight_query_duration_seconds_bucket{le=\"10\"}"),
            3.0
        );
        assert_eq!(
            value(
                &text,
                "logflight_query_duration_seconds_bucket{le=\"+Inf\"}"
            ),
            3.0
        );
        assert_eq!(value(&text, "logflight_query_duration_seconds_count"), 3.0);
        assert!(value(&text, "logflight_query_duration_seconds_sum") >= 3.0);
        assert_eq!(
            value(
                &text,
                "logflight_events_scanned_total{catalog=\"cloudwatch\"}"
            ),
            0.0
        );
        // Every series has its HELP and TYPE lines.
        for name in [
            "queries_total",
            "rows_returned_total",
            "query_duration_seconds",
            "events_scanned_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE logflight_{name} ")),
                "{name}"
            );
        }
    }
}
