//! Prometheus metrics on `--metrics-listen` (off by default).
//!
//! Query counters and the duration histogram are kept here; API calls come
//! from each source's shared quota and events/bytes from each catalog's scan
//! totals, read when scraped, so nothing is counted twice.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::session::QueryEngine;

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
    pub fn render(&self, engine: &QueryEngine) -> String {
        let mut out = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP logflight_queries_total Queries run, by outcome."
        );
        let _ = writeln!(out, "# TYPE logflight_queries_total counter");
        for (outcome, c) in [
            ("ok", &self.ok),
            ("failed", &self.failed),
            ("cancelled", &self.cancelled),
        ] {
            let _ = writeln!(
                out,
                "logflight_queries_total{{outcome=\"{outcome}\"}} {}",
                load(c)
            );
        }
        let _ = writeln!(
            out,
            "# HELP logflight_rows_returned_total Rows sent to clients."
        );
        let _ = writeln!(out, "# TYPE logflight_rows_returned_total counter");
        let _ = writeln!(out, "logflight_rows_returned_total {}", load(&self.rows));
        let _ = writeln!(
            out,
            "# HELP logflight_query_duration_seconds Time from planning to the last row."
        );
        let _ = writeln!(out, "# TYPE logflight_query_duration_seconds histogram");
        for (bound, c) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "logflight_query_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(c)
            );
        }
        let _ = writeln!(
            out,
            "logflight_query_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            load(&self.count)
        );
        let _ = writeln!(
            out,
            "logflight_query_duration_seconds_sum {}",
            load(&self.sum_micros) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "logflight_query_duration_seconds_count {}",
            load(&self.count)
        );

        let _ = writeln!(
            out,
            "# HELP logflight_events_scanned_total Log events fetched from the source."
        );
        let _ = writeln!(out, "# TYPE logflight_events_scanned_total counter");
        for c in engine.catalogs() {
            let t = c.scan_totals();
            let _ = writeln!(
                out,
                "logflight_events_scanned_total{{catalog=\"{}\"}} {}",
                c.name(),
                load(&t.events_fetched)
            );
        }
        let _ = writeln!(
            out,
            "# HELP logflight_bytes_scanned_total Message bytes fetched from the source."
        );
        let _ = writeln!(out, "# TYPE logflight_bytes_scanned_total counter");
        for c in engine.catalogs() {
            let t = c.scan_totals();
            let _ = writeln!(
                out,
                "logflight_bytes_scanned_total{{catalog=\"{}\"}} {}",
                c.name(),
                load(&t.bytes_fetched)
            );
        }
        let _ = writeln!(
            out,
            "# HELP logflight_api_calls_total CloudWatch Logs API calls, by API and outcome."
        );
        let _ = writeln!(out, "# TYPE logflight_api_calls_total counter");
        for c in engine.catalogs() {
            if let Some(quota) = c.source().quota() {
                for (api, outcome, n) in quota.call_counts() {
                    let _ = writeln!(
                        out,
                        "logflight_api_calls_total{{catalog=\"{}\",api=\"{}\",outcome=\"{outcome}\"}} {n}",
                        c.name(),
                        api.name()
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP logflight_api_retries_total CloudWatch Logs API calls retried."
        );
        let _ = writeln!(out, "# TYPE logflight_api_retries_total counter");
        for c in engine.catalogs() {
            if let Some(quota) = c.source().quota() {
                let _ = writeln!(
                    out,
                    "logflight_api_retries_total{{catalog=\"{}\"}} {}",
                    c.name(),
                    quota.retry_count()
                );
            }
        }
        out
    }
}

/// Serves `GET /metrics` (any other path is 404) until the process ends.
pub async fn serve(listener: TcpListener, metrics: Arc<QueryMetrics>, engine: QueryEngine) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let engine = engine.clone();
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
                    ("200 OK", metrics.render(&engine))
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

/// Binds the metrics listener (a clear error when the address is taken).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
