//! SQL aggregations answered by Logs Insights: `count(*) ... GROUP BY
//! date_trunc('hour', time)` over a month is one Insights query, scanned
//! server-side in parallel, instead of every event read through
//! FilterLogEvents.
//!
//! The flow stays one way: [`rule`] (a logical optimizer rule) asks
//! [`translate`] whether an `Aggregate` over a log table has an exact
//! Insights form ([`query::AggQuery`]); if so it is replaced by a scan of
//! [`exec::InsightsAggregateTable`], whose plan runs the query over the
//! range's whole seconds and counts the edge milliseconds itself
//! ([`eval`]). docs/insights-pushdown.md lists what is pushed and why.

pub mod eval;
pub mod exec;
pub mod query;
pub mod rule;
pub mod translate;

/// Whether aggregations are pushed into Logs Insights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InsightsPushdown {
    /// Every aggregation is computed by a scan.
    Off,
    /// Aggregations Insights computes exactly as SQL does.
    #[default]
    Exact,
}

/// Which events StartQuery's endTime (whole seconds) takes in.
///
/// The CloudWatch team stated that a query ends at `endTime * 1000`
/// exactly, the rest of that second outside it
/// (github.com/aws/aws-sdk/issues/280, 2022, with a fix "ticketed");
/// emulators such as fakecloud take the whole second in. Counting the edge
/// milliseconds in-process needs to know which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RangeEnd {
    /// Found out per query: when the last second holds matching events
    /// after its first millisecond, a one-second probe query tells which
    /// rule the service applies (see [`exec`]).
    #[default]
    Auto,
    /// Up to `endTime * 1000` (AWS as documented in 2022).
    Instant,
    /// Up to `endTime * 1000 + 999`.
    WholeSecond,
}
