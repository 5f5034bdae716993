//! Staying within CloudWatch Logs' API quotas.
//!
//! Quotas are per account and region and shared with every other caller, so
//! one [`ApiQuota`] is shared by every query of a source: a paced rate
//! limiter per API (adaptive: a throttle halves the rate, successes win it
//! back slowly), a cap on calls in flight, and jittered exponential backoff
//! up to a retry budget. Past the budget the call fails with an error naming
//! the API, so a query fails whole rather than returning part of its rows.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::counters::ReadCounters;
use crate::query_slots::QuerySlots;

/// The CloudWatch Logs APIs logflight calls, and EC2's DescribeFlowLogs,
/// which a flow-log typed table asks for its group's log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    DescribeLogGroups,
    DescribeLogStreams,
    GetLogEvents,
    FilterLogEvents,
    ListTagsForResource,
    StartQuery,
    GetQueryResults,
    StopQuery,
    GetLogRecord,
    DescribeFlowLogs,
}

impl std::str::FromStr for Api {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Api::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Api::ALL.iter().map(|a| a.name()).collect();
                format!("unknown API {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// Parses `GetLogEvents=10,FilterLogEvents=5` (a flag or config value).
pub fn parse_tps_list(text: &str) -> Result<Vec<(Api, f64)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (api, tps) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected API=TPS, got {pair:?}"))?;
            let tps: f64 = tps
                .trim()
                .parse()
                .map_err(|_| format!("{tps:?} is not a number of calls per second"))?;
            if !(tps > 0.0 && tps.is_finite()) {
                return Err(format!("calls per second must be positive, got {tps}"));
            }
            Ok((api.trim().parse()?, tps))
        })
        .collect()
}

impl Api {
    pub const ALL: [Api; 10] = [
        Api::DescribeLogGroups,
        Api::DescribeLogStreams,
        Api::GetLogEvents,
        Api::FilterLogEvents,
        Api::ListTagsForResource,
        Api::StartQuery,
        Api::GetQueryResults,
        Api::StopQuery,
        Api::GetLogRecord,
        Api::DescribeFlowLogs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Api::DescribeLogGroups => "DescribeLogGroups",
            Api::DescribeLogStreams => "DescribeLogStreams",
            Api::GetLogEvents => "GetLogEvents",
            Api::FilterLogEvents => "FilterLogEvents",
            Api::ListTagsForResource => "ListTagsForResource",
            Api::StartQuery => "StartQuery",
            Api::GetQueryResults => "GetQueryResults",
            Api::StopQuery => "StopQuery",
            Api::GetLogRecord => "GetLogRecord",
            Api::DescribeFlowLogs => "DescribeFlowLogs",
        }
    }

    /// Default transactions per second per account and region, from the
    /// published service quotas (FilterLogEvents' 5 TPS is a hard limit).
    pub fn default_tps(self) -> f64 {
        match self {
            Api::DescribeLogGroups => 10.0,
            Api::DescribeLogStreams => 25.0,
            Api::GetLogEvents => 10.0,
            Api::FilterLogEvents => 5.0,
            Api::ListTagsForResource => 10.0,
            Api::StartQuery => 5.0,
            Api::GetQueryResults => 5.0,
            Api::StopQuery => 5.0,
            // One call per row whose whole message was asked for; the
            // published quota is higher, this leaves room for consoles.
            Api::GetLogRecord => 25.0,
            // EC2 paces its describe actions apart from CloudWatch Logs;
            // one call per flow-log group and catalog TTL needs little.
            Api::DescribeFlowLogs => 5.0,
        }
    }
}

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// The service asked us to slow down.
    Throttled,
    /// A 5xx, a timeout or a dropped connection: worth another try.
    Transient,
    /// Retrying cannot help (bad request, not found, access denied).
    Fatal,
}

/// Errors that know whether retrying them can help.
pub trait Retryable {
    fn retry_class(&self) -> RetryClass;
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuotaConfig {
    /// Calls per second per API; unset APIs use [`Api::default_tps`].
    pub tps: Vec<(Api, f64)>,
    /// Calls in flight at once, across all APIs and queries.
    pub max_concurrency: usize,
    /// Attempts per call, including the first.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Logs Insights queries (its own language) running at once; the
    /// account allows 100, shared with consoles and dashboards.
    pub insights_max_queries: usize,
    /// OpenSearch PPL and SQL queries running at once (the account: 15).
    pub insights_max_opensearch_queries: usize,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            tps: Vec::new(),
            max_concurrency: 16,
            max_attempts: 8,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            insights_max_queries: 50,
            insights_max_opensearch_queries: 10,
        }
    }
}

impl QuotaConfig {
    /// This quota with every API's rate cut to `share` of it (0 < share
    /// <= 1): what a long job takes, leaving the rest to other callers of
    /// the account, such as the queries a `serve` answers.
    pub fn share(mut self, share: f64) -> Self {
        let share = if share > 0.0 && share.is_finite() {
            share.min(1.0)
        } else {
            1.0
        };
        self.tps = Api::ALL
            .iter()
            .map(|&a| (a, self.tps_of(a) * share))
            .collect();
        self
    }

    /// This quota on one of `nodes` nodes of a cluster. Scans of an
    /// account run on its owner alone, so the read APIs (GetLogEvents,
    /// FilterLogEvents) keep their whole rate; every other call can come
    /// from any node (listings while planning, Logs Insights), so each
    /// node takes `1 / nodes` of those rates and of the Insights queries.
    pub fn planning_share(mut self, nodes: usize) -> Self {
        let nodes = nodes.max(1);
        self.tps = Api::ALL
            .iter()
            .map(|&a| match a {
                Api::GetLogEvents | Api::FilterLogEvents => (a, self.tps_of(a)),
                _ => (a, self.tps_of(a) / nodes as f64),
            })
            .collect();
        self.insights_max_queries = (self.insights_max_queries / nodes).max(1);
        self.insights_max_opensearch_queries =
            (self.insights_max_opensearch_queries / nodes).max(1);
        self
    }

    fn tps_of(&self, api: Api) -> f64 {
        self.tps
            .iter()
            .rev()
            .find(|(a, _)| *a == api)
            .map_or(api.default_tps(), |(_, t)| *t)
    }
}

/// A call that failed for good.
#[derive(Debug)]
pub struct CallFailure<E> {
    pub error: E,
    pub class: RetryClass,
    pub attempts: u32,
}

/// Paces calls of one API: at most `rate` per second, evenly spaced.
#[derive(Debug)]
struct Pacer {
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    rate: f64,
    max_rate: f64,
    next_slot: Instant,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        let rate = rate.max(0.01);
        Self {
            state: Mutex::new(PacerState {
                rate,
                max_rate: rate,
                next_slot: Instant::now(),
            }),
        }
    }

    /// Reserves the next slot and returns how long to wait for it.
    fn reserve(&self) -> Duration {
        let mut s = self.state.lock().expect("pacer lock");
        let now = Instant::now();
        let slot = s.next_slot.max(now);
        s.next_slot = slot + Duration::from_secs_f64(1.0 / s.rate);
        slot - now
    }

    fn on_throttle(&self) {
        let mut s = self.state.lock().expect("pacer lock");
        s.rate = (s.rate / 2.0).max(s.max_rate / 64.0).max(0.01);
    }

    fn on_success(&self) {
        let mut s = self.state.lock().expect("pacer lock");
        s.rate = (s.rate + s.max_rate / 20.0).min(s.max_rate);
    }

    fn rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").rate
    }
}

/// How a call ended, for the server's metrics.
pub const OUTCOMES: [&str; 4] = ["ok", "throttled", "transient_error", "error"];

fn outcome_index(result: Option<RetryClass>) -> usize {
    match result {
        None => 0,
        Some(RetryClass::Throttled) => 1,
        Some(RetryClass::Transient) => 2,
        Some(RetryClass::Fatal) => 3,
    }
}

/// The shared quota of one account and region.
#[derive(Debug)]
pub struct ApiQuota {
    pacers: Vec<(Api, Pacer)>,
    /// Calls per API and outcome (see [`OUTCOMES`]), since start.
    calls: Vec<(Api, [AtomicU64; 4])>,
    retries: AtomicU64,
    in_flight: Semaphore,
    config: QuotaConfig,
    jitter: AtomicU64,
    /// The account's concurrent Logs Insights queries.
    query_slots: QuerySlots,
}

impl ApiQuota {
    pub fn new(config: QuotaConfig) -> Self {
        Self {
            pacers: Api::ALL
                .iter()
                .map(|&api| (api, Pacer::new(config.tps_of(api))))
                .collect(),
            calls: Api::ALL
                .iter()
                .map(|&api| (api, Default::default()))
                .collect(),
            retries: AtomicU64::new(0),
            in_flight: Semaphore::new(config.max_concurrency.max(1)),
            jitter: AtomicU64::new(0),
            query_slots: QuerySlots::new(
                config.insights_max_queries,
                config.insights_max_opensearch_queries,
            ),
            config,
        }
    }

    /// The queues of Logs Insights queries (see [`QuerySlots`]).
    pub fn query_slots(&self) -> &QuerySlots {
        &self.query_slots
    }

    pub fn max_attempts(&self) -> u32 {
        self.config.max_attempts.max(1)
    }

    fn pacer(&self, api: Api) -> &Pacer {
        &self
            .pacers
            .iter()
            .find(|(a, _)| *a == api)
            .expect("a pacer per API")
            .1
    }

    fn record(&self, api: Api, result: Option<RetryClass>) {
        if let Some((_, counts)) = self.calls.iter().find(|(a, _)| *a == api) {
            counts[outcome_index(result)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Calls made since start: (API, outcome, count) for every pair.
    pub fn call_counts(&self) -> Vec<(Api, &'static str, u64)> {
        self.calls
            .iter()
            .flat_map(|(api, counts)| {
                OUTCOMES
                    .iter()
                    .zip(counts)
                    .map(move |(outcome, n)| (*api, *outcome, n.load(Ordering::Relaxed)))
            })
            .collect()
    }

    /// Retries made since start.
    pub fn retry_count(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// The current (adaptive) rate of an API, calls per second.
    pub fn current_rate(&self, api: Api) -> f64 {
        self.pacer(api).rate()
    }

    /// Full-jitter exponential backoff: uniform in [0, min(max, base * 2^n)).
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .config
            .base_backoff
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.config.max_backoff);
        let n = self.jitter.fetch_add(1, Ordering::Relaxed);
        let random = RandomState::new().hash_one(n);
        cap.mul_f64((random % 10_000) as f64 / 10_000.0)
    }

    /// Runs `call` within the quota, retrying what is worth retrying.
    pub async fn call<T, E, F, Fut>(
        &self,
        api: Api,
        counters: &ReadCounters,
        mut call: F,
    ) -> Result<T, CallFailure<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Retryable,
    {
        let pacer = self.pacer(api);
        let mut attempt = 0;
        loop {
            attempt += 1;
            tokio::time::sleep(pacer.reserve()).await;
            let result = {
                let _permit = self
                    .in_flight
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                counters.api_calls.add(1);
                call().await
            };
            match result {
                Ok(value) => {
                    pacer.on_success();
                    self.record(api, None);
                    return Ok(value);
                }
                Err(error) => {
                    let class = error.retry_class();
                    self.record(api, Some(class));
                    if class == RetryClass::Throttled {
                        counters.throttled.add(1);
                        pacer.on_throttle();
                    }
                    if class == RetryClass::Fatal || attempt >= self.max_attempts() {
                        return Err(CallFailure {
                            error,
                            class,
                            attempts: attempt,
                        });
                    }
                    counters.retries.add(1);
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(api = api.name(), attempt, ?class, "retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    #[derive(Debug, PartialEq)]
    struct Fake(RetryClass);
    impl Retryable for Fake {
        fn retry_class(&self) -> RetryClass {
            self.0
        }
    }

    #[test]
    fn a_share_cuts_every_rate_given_or_default() {
        let config = QuotaConfig {
            tps: vec![(Api::FilterLogEvents, 8.0)],
            ..Default::default()
        };
        let half = config.clone().share(0.5);
        assert_eq!(half.tps_of(Api::FilterLogEvents), 4.0);
        assert_eq!(half.tps_of(Api::DescribeLogGroups), 5.0);
        assert_eq!(half.tps_of(Api::GetLogEvents), 5.0);
        // Out of range means the whole quota, never more or nothing.
        for share in [0.0, -1.0, f64::NAN, 7.0] {
            let whole = config.clone().share(share);
            assert_eq!(whole.tps_of(Api::FilterLogEvents), 8.0, "{share}");
        }
    }

    /// A cluster of three: reads keep their rate (the owner alone makes
    /// them), planning calls and Insights queries are split three ways.
    #[test]
    fn a_cluster_node_keeps_the_read_rates_and_shares_the_rest() {
        let config = QuotaConfig {
            tps: vec![(Api::FilterLogEvents, 8.0), (Api::DescribeLogStreams, 24.0)],
            insights_max_queries: 50,
            insights_max_opensearch_queries: 2,
            ..Default::default()
        };
        let node = config.clone().planning_share(3);
        assert_eq!(node.tps_of(Api::FilterLogEvents), 8.0);
        assert_eq!(
            node.tps_of(Api::GetLogEvents),
            Api::GetLogEvents.default_tps()
        );
        assert_eq!(node.tps_of(Api::DescribeLogStreams), 8.0);
        assert_eq!(
            node.tps_of(Api::StartQuery),
            Api::StartQuery.default_tps() / 3.0
        );
        assert_eq!(node.insights_max_queries, 16);
        // Never none at all.
        assert_eq!(node.insights_max_opensearch_queries, 1);
        assert_eq!(
            config.clone().planning_share(1),
            config.clone().planning_share(0)
        );
    }

    fn quota(max_attempts: u32, tps: f64) -> ApiQuota {
        ApiQuota::new(QuotaConfig {
            tps: Api::ALL.iter().map(|&a| (a, tps)).collect(),
            max_concurrency: 4,
            max_attempts,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            ..Default::default()
        })
    }

    /// A call that fails with `failures` in order, then succeeds.
    fn scripted(
        failures: Vec<RetryClass>,
    ) -> impl FnMut() -> std::future::Ready<Result<u32, Fake>> {
        let n = Arc::new(AtomicU32::new(0));
        move || {
            let i = n.fetch_add(1, Ordering::SeqCst) as usize;
            std::future::ready(match failures.get(i) {
                Some(class) => Err(Fake(*class)),
                None => Ok(i as u32),
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_throttling_and_transient_errors_then_succeeds() {
        let q = quota(5, 1000.0);
        let counters = ReadCounters::default();
        let got = q
            .call(
                Api::FilterLogEvents,
                &counters,
                scripted(vec![
                    RetryClass::Throttled,
                    RetryClass::Transient,
                    RetryClass::Throttled,
                ]),
            )
            .await
            .unwrap();
        assert_eq!(got, 3);
        assert_eq!(counters.api_calls.value(), 4);
        assert_eq!(counters.throttled.value(), 2);
        assert_eq!(counters.retries.value(), 3);
        let counts = q.call_counts();
        let count = |outcome: &str| {
            counts
                .iter()
                .find(|(a, o, _)| *a == Api::FilterLogEvents && *o == outcome)
                .unwrap()
                .2
        };
        assert_eq!(
            (count("ok"), count("throttled"), count("transient_error")),
            (1, 2, 1)
        );
        assert_eq!(q.retry_count(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_budget_and_never_retries_fatal_errors() {
        let q = quota(3, 1000.0);
        let counters = ReadCounters::default();
        let err = q
            .call(
                Api::GetLogEvents,
                &counters,
                scripted(vec![RetryClass::Throttled; 10]),
            )
            .await
            .unwrap_err();
        assert_eq!((err.class, err.attempts), (RetryClass::Throttled, 3));
        assert_eq!(counters.api_calls.value(), 3);

        let counters = ReadCounters::default();
        let err = q
            .call(
                Api::GetLogEvents,
                &counters,
                scripted(vec![RetryClass::Fatal]),
            )
            .await
            .unwrap_err();
        assert_eq!((err.class, err.attempts), (RetryClass::Fatal, 1));
        assert_eq!(counters.retries.value(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn paces_calls_at_the_configured_rate() {
        let q = quota(1, 10.0);
        let counters = ReadCounters::default();
        let start = Instant::now();
        for _ in 0..21 {
            q.call(Api::GetLogEvents, &counters, scripted(vec![]))
                .await
                .unwrap();
        }
        // 21 calls at 10 per second: the last one starts 2 s after the first.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1990), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(2100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_slows_the_shared_rate_and_success_restores_it() {
        let q = quota(2, 8.0);
        let counters = ReadCounters::default();
        let _ = q
            .call(
                Api::FilterLogEvents,
                &counters,
                scripted(vec![RetryClass::Throttled; 2]),
            )
            .await;
        assert_eq!(q.current_rate(Api::FilterLogEvents), 2.0);
        assert_eq!(
            q.current_rate(Api::GetLogEvents),
            8.0,
            "other APIs keep their rate"
        );
        for _ in 0..40 {
            q.call(Api::FilterLogEvents, &counters, scripted(vec![]))
                .await
                .unwrap();
        }
        assert_eq!(q.current_rate(Api::FilterLogEvents), 8.0);
    }

    #[test]
    fn tps_lists_parse_or_explain() {
        assert_eq!(
            parse_tps_list("GetLogEvents=10, filterlogevents=2.5").unwrap(),
            vec![(Api::GetLogEvents, 10.0), (Api::FilterLogEvents, 2.5)]
        );
        for bad in [
            "GetLogEvents",
            "Nope=1",
            "GetLogEvents=x",
            "GetLogEvents=0",
            "GetLogEvents=-1",
        ] {
            assert!(parse_tps_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_stays_within_its_cap() {
        let q = quota(5, 1.0);
        for attempt in 1..30 {
            let cap = Duration::from_millis(10)
                .saturating_mul(1 << attempt.min(20))
                .min(Duration::from_millis(100));
            assert!(q.backoff(attempt) <= cap);
        }
    }
}
