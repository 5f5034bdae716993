//! What a read counts as it goes, for the scan's metrics.

use datafusion::physical_plan::metrics::Count;

/// Counters a read reports into; shared with the scan's EXPLAIN ANALYZE
/// metrics (DataFusion's `Count` is a shared atomic).
#[derive(Debug, Clone, Default)]
pub struct ReadCounters {
    pub api_calls: Count,
    pub throttled: Count,
    pub retries: Count,
    pub streams_listed: Count,
    pub streams_pruned: Count,
}
