//! The account's concurrent Logs Insights queries.
//!
//! Logs Insights runs at most a fixed number of queries at once per account
//! and region (100 in its own language, 15 in OpenSearch PPL and SQL),
//! shared with consoles, dashboards and scheduled queries; one more fails
//! StartQuery with LimitExceededException. A source keeps two queues below
//! those numbers, so that many clients of one server wait their turn
//! instead of failing, and counts what went through them for the metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::insights::{InsightsStats, QueryLanguage};

/// Queries of one source running at once, per language family.
#[derive(Debug)]
pub struct QuerySlots {
    logs_insights: Semaphore,
    opensearch: Semaphore,
    totals: InsightsTotals,
}

/// Every Logs Insights query a source ran, since start (for Prometheus;
/// counted when a query runs, so a reused result is not counted again).
#[derive(Debug, Default)]
pub struct InsightsTotals {
    pub queries: AtomicU64,
    pub bytes_scanned: AtomicU64,
    pub records_scanned: AtomicU64,
    /// Microseconds spent waiting for a slot.
    pub queued_micros: AtomicU64,
}

impl InsightsTotals {
    /// Adds one query's figures.
    pub fn add(&self, stats: &InsightsStats) {
        self.queries.fetch_add(stats.queries, Ordering::Relaxed);
        self.bytes_scanned
            .fetch_add(stats.bytes_scanned as u64, Ordering::Relaxed);
        self.records_scanned
            .fetch_add(stats.records_scanned as u64, Ordering::Relaxed);
        self.queued_micros
            .fetch_add(stats.queued.as_micros() as u64, Ordering::Relaxed);
    }
}

impl QuerySlots {
    /// Queues of `logs_insights` and `opensearch` slots (at least one each).
    pub fn new(logs_insights: usize, opensearch: usize) -> Self {
        Self {
            logs_insights: Semaphore::new(logs_insights.max(1)),
            opensearch: Semaphore::new(opensearch.max(1)),
            totals: InsightsTotals::default(),
        }
    }

    /// Waits for a slot for a query in `language`; the slot is held until
    /// the permit is dropped. Returns it and the time waited.
    pub async fn acquire(&self, language: QueryLanguage) -> (SemaphorePermit<'_>, Duration) {
        let queue = if language.is_opensearch() {
            &self.opensearch
        } else {
            &self.logs_insights
        };
        let waited = Instant::now();
        let permit = queue.acquire().await.expect("query slots are never closed");
        (permit, waited.elapsed())
    }

    pub fn totals(&self) -> &InsightsTotals {
        &self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_language_family_queues_apart() {
        let slots = QuerySlots::new(1, 1);
        let (held, waited) = slots.acquire(QueryLanguage::LogsInsights).await;
        assert_eq!(waited, Duration::ZERO);
        // PPL and SQL share the other queue: not blocked by the held slot.
        let (ppl, _) = slots.acquire(QueryLanguage::OpenSearchPpl).await;
        drop(ppl);
        let (sql, _) = slots.acquire(QueryLanguage::OpenSearchSql).await;
        drop(sql);
        let release = async {
            tokio::time::sleep(Duration::from_millis(250)).await;
            drop(held);
        };
        let ((_, waited), ()) = tokio::join!(slots.acquire(QueryLanguage::LogsInsights), release);
        assert_eq!(waited, Duration::from_millis(250));
    }

    #[test]
    fn totals_add_up() {
        let slots = QuerySlots::new(0, 0);
        for _ in 0..2 {
            slots.totals().add(&InsightsStats {
                queries: 3,
                bytes_scanned: 1.5e6,
                records_scanned: 10.0,
                queued: Duration::from_millis(2),
                ..Default::default()
            });
        }
        let t = slots.totals();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        assert_eq!(
            (
                load(&t.queries),
                load(&t.bytes_scanned),
                load(&t.records_scanned),
                load(&t.queued_micros)
            ),
            (6, 3_000_000, 20, 4000)
        );
    }
}
