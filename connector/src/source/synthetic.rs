//! A source of any size for benchmarks and load tests: one log group whose
//! events are computed from their index as they are read, never stored.
//!
//! The demo source keeps its ~80k events in memory, and moto holds a few
//! hundred thousand at most; measuring transfer speed and memory on ten
//! million rows needs events that cost nothing until asked for. Event `i`
//! belongs to stream `i % streams` and is stamped `START + i * step`, so a
//! time range maps to an index range and reads are exact, like CloudWatch's.
//! Messages look like application access logs (about 100 bytes), 4,096
//! distinct ones in turn.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::model::{
    EventPage, LogEvent, LogGroup, LogGroupClass, LogStream, ReadRequest, StreamSelection,
};
use crate::source::LogSource;

/// The one group's name.
pub const SYNTHETIC_GROUP: &str = "/synthetic/app";
/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;
/// One event every 10 ms across the group, unless told otherwise (a
/// month of ten million events is one every 259 ms).
const STEP_MS: i64 = 10;
/// Events per page, as the read APIs.
const PAGE_SIZE: usize = 10_000;
const STREAM_PAGE_SIZE: usize = 50;

const LEVELS: [&str; 4] = ["INFO", "INFO", "WARN", "ERROR"];
const PATHS: [&str; 5] = [
    "/api/orders",
    "/api/payments",
    "/api/users",
    "/health",
    "/api/cart",
];

/// Distinct messages; event `i` gets message `i % MESSAGES`. Formatting a
/// message per event would cost more than everything downstream of the
/// source, and the benchmarks measure what is downstream.
const MESSAGES: u64 = 4096;

#[derive(Debug, Clone)]
pub struct SyntheticSource {
    events: u64,
    streams: u64,
    step_ms: i64,
    messages: Arc<[String]>,
}

impl SyntheticSource {
    pub fn new(events: u64, streams: u64) -> Self {
        let messages = (0..MESSAGES)
            .map(|i| {
                let mut text = String::with_capacity(112);
                message(i, &mut text);
                text
            })
            .collect();
        Self {
            events,
            streams: streams.max(1),
            step_ms: STEP_MS,
            messages,
        }
    }

    /// Events `step_ms` apart (at least 1 ms).
    pub fn with_step_ms(mut self, step_ms: i64) -> Self {
        self.step_ms = step_ms.max(1);
        self
    }

    fn time_of(&self, i: u64) -> i64 {
        time_at(i, self.step_ms)
    }

    pub fn stream_name(&self, k: u64) -> String {
        format!("stream-{k:05}")
    }

    fn stream_index(&self, name: &str) -> Option<u64> {
        let k: u64 = name.strip_prefix("stream-")?.parse().ok()?;
        (k < self.streams && self.stream_name(k) == name).then_some(k)
    }

    fn check_group(&self, group: &str) -> Result<()> {
        if group == SYNTHETIC_GROUP {
            Ok(())
        } else {
            Err(ConnectorError::GroupNotFound {
                name: group.to_string(),
                hint: format!(" (the synthetic source has one group, {SYNTHETIC_GROUP:?})"),
            })
        }
    }

    fn stream_meta(&self, k: u64) -> LogStream {
        // The first and last events of stream k.
        let first = (k < self.events).then(|| self.time_of(k));
        let last = (k < self.events).then(|| {
            let n = (self.events - 1 - k) / self.streams;
            self.time_of(k + n * self.streams)
        });
        LogStream {
            name: self.stream_name(k),
            creation_time_ms: Some(START_MS),
            first_event_ms: first,
            last_event_ms: last,
            last_ingestion_ms: last,
        }
    }
}

fn time_at(i: u64, step_ms: i64) -> i64 {
    START_MS + i as i64 * step_ms
}

/// The message of event `i` (deterministic, varied, cheap to build).
fn message(i: u64, out: &mut String) {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let level = LEVELS[(h >> 60) as usize % LEVELS.len()];
    let path = PATHS[(h >> 56) as usize % PATHS.len()];
    let status = match level {
        "ERROR" => 500,
        "WARN" => 404,
        _ => 200,
    };
    let _ = write!(
        out,
        "{level} request_id={:016x} method=GET path={path}/{} status={status} latency_ms={} bytes={}",
        h,
        (h >> 20) % 10_000,
        (h >> 8) % 900 + 3,
        (h >> 32) % 50_000
    );
}

/// Which streams a read covers, as stream indexes (`None`: all).
fn selected_streams(
    source: &SyntheticSource,
    selection: &StreamSelection,
) -> Option<BTreeSet<u64>> {
    match selection {
        StreamSelection::All => None,
        StreamSelection::Named(names) => Some(
            names
                .iter()
                .filter_map(|n| source.stream_index(n))
                .collect(),
        ),
        StreamSelection::Prefix(p) => Some(
            (0..source.streams)
                .filter(|&k| source.stream_name(k).starts_with(p.as_str()))
                .collect(),
        ),
    }
}

#[async_trait]
impl LogSource for SyntheticSource {
    fn describe(&self) -> String {
        format!(
            "synthetic({} events, {} streams)",
            self.events, self.streams
        )
    }

    async fn list_groups(&self) -> Result<Vec<LogGroup>> {
        Ok(vec![LogGroup {
            creation_time_ms: Some(START_MS),
            retention_in_days: None,
            class: LogGroupClass::Standard,
            ..LogGroup::named(SYNTHETIC_GROUP)
        }])
    }

    fn list_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<Vec<LogStream>>> {
        if let Err(e) = self.check_group(group) {
            return stream::once(async move { Err(e) }).boxed();
        }
        let source = self.clone();
        let prefix = prefix.map(str::to_string);
        let counters = counters.clone();
        // Pages of 50, computed as asked for (a million streams cost nothing).
        stream::unfold(Some(0u64), move |next| {
            let source = source.clone();
            let prefix = prefix.clone();
            let counters = counters.clone();
            async move {
                let mut k = next?;
                counters.api_calls.add(1);
                let mut page = Vec::new();
                while k < source.streams && page.len() < STREAM_PAGE_SIZE {
                    let meta = source.stream_meta(k);
                    if prefix.as_deref().is_none_or(|p| meta.name.starts_with(p)) {
                        page.push(meta);
                    }
                    k += 1;
                }
                counters.streams_listed.add(page.len());
                let more = (k < source.streams).then_some(k);
                Some((Ok(page), more))
            }
        })
        .boxed()
    }

    fn read_events(
        &self,
        request: &ReadRequest,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<EventPage>> {
        if let Err(e) = self.check_group(&request.group) {
            return stream::once(async move { Err(e) }).boxed();
        }
        if request.selects_nothing() {
            return stream::empty().boxed();
        }
        // The index range of the time range.
        let lo = request.time.start.map_or(0, |s| {
            ((s - START_MS).max(0) as u64).div_ceil(self.step_ms as u64)
        });
        let hi = request.time.end.map_or(self.events, |e| {
            if e < START_MS {
                0
            } else {
                (((e - START_MS) / self.step_ms) as u64 + 1).min(self.events)
            }
        });
        let streams = selected_streams(self, &request.streams);
        let names: Arc<[Arc<str>]> = (0..self.streams)
            .map(|k| Arc::from(self.stream_name(k).as_str()))
            .collect();
        let limit = request.limit.unwrap_or(usize::MAX);
        let n_streams = self.streams;
        let step_ms = self.step_ms;
        let messages = Arc::clone(&self.messages);
        let counters = counters.clone();
        // State: (next index, events still wanted).
        stream::unfold((lo, limit), move |(mut i, remaining)| {
            let streams = streams.clone();
            let names = Arc::clone(&names);
            let messages = Arc::clone(&messages);
            let counters = counters.clone();
            let want = remaining.min(PAGE_SIZE);
            async move {
                if i >= hi || want == 0 {
                    return None;
                }
                counters.api_calls.add(1);
                let mut events = Vec::with_capacity(want.min((hi - i) as usize));
                while i < hi && events.len() < want {
                    let k = i % n_streams;
                    if streams.as_ref().is_none_or(|s| s.contains(&k)) {
                        let t = time_at(i, step_ms);
                        events.push(LogEvent {
                            stream: Arc::clone(&names[k as usize]),
                            timestamp_ms: t,
                            ingestion_ms: Some(t + 500),
                            message: messages[(i % MESSAGES) as usize].clone(),
                            event_id: None,
                        });
                    }
                    i += 1;
                }
                let left = remaining - events.len();
                Some((Ok(EventPage::new(events)), (i, left)))
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeRange;
    use futures::TryStreamExt;

    async fn read(source: &SyntheticSource, request: ReadRequest) -> Vec<LogEvent> {
        source
            .read_events(&request, &ReadCounters::default())
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .into_iter()
            .flat_map(|p| p.events)
            .collect()
    }

    #[tokio::test]
    async fn a_wider_step_spreads_the_same_events_over_more_time() {
        let source = SyntheticSource::new(1_000, 3).with_step_ms(259_000);
        let all = read(&source, ReadRequest::whole_group(SYNTHETIC_GROUP)).await;
        assert_eq!(all.len(), 1_000);
        assert_eq!(all[999].timestamp_ms - all[0].timestamp_ms, 999 * 259_000);
        let some = ReadRequest {
            time: TimeRange::new(Some(source.time_of(10)), Some(source.time_of(19))),
            ..ReadRequest::whole_group(SYNTHETIC_GROUP)
        };
        let got = read(&source, some).await;
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].timestamp_ms, START_MS + 10 * 259_000);
    }

    #[tokio::test]
    async fn reads_are_exact_for_time_streams_and_limits() {
        let source = SyntheticSource::new(25_000, 7);
        let all = read(&source, ReadRequest::whole_group(SYNTHETIC_GROUP)).await;
        assert_eq!(all.len(), 25_000);
        assert!(all
            .windows(2)
            .all(|w| w[0].timestamp_ms < w[1].timestamp_ms));

        type Keep = Box<dyn Fn(&LogEvent) -> bool>;
        let cases: Vec<(ReadRequest, Keep)> = vec![
            (
                ReadRequest {
                    time: TimeRange::new(Some(source.time_of(100) + 1), Some(source.time_of(200))),
                    ..ReadRequest::whole_group(SYNTHETIC_GROUP)
                },
                Box::new(move |e| {
                    e.timestamp_ms > time_at(100, STEP_MS)
                        && e.timestamp_ms <= time_at(200, STEP_MS)
                }),
            ),
            (
                ReadRequest {
                    streams: StreamSelection::Named(BTreeSet::from([
                        "stream-00003".to_string(),
                        "stream-00005".to_string(),
                        "nope".to_string(),
                    ])),
                    ..ReadRequest::whole_group(SYNTHETIC_GROUP)
                },
                Box::new(|e| &*e.stream == "stream-00003" || &*e.stream == "stream-00005"),
            ),
            (
                ReadRequest {
                    time: TimeRange::new(None, Some(START_MS - 1)),
                    ..ReadRequest::whole_group(SYNTHETIC_GROUP)
                },
                Box::new(|_| false),
            ),
        ];
        for (request, keep) in cases {
            let got = read(&source, request.clone()).await;
            let want: Vec<LogEvent> = all.iter().filter(|e| keep(e)).cloned().collect();
            assert_eq!(got, want, "{request:?}");
        }

        let limited = read(
            &source,
            ReadRequest {
                limit: Some(12_345),
                ..ReadRequest::whole_group(SYNTHETIC_GROUP)
            },
        )
        .await;
        assert_eq!(limited, all[..12_345].to_vec());
    }

    #[tokio::test]
    async fn streams_list_their_real_spans() {
        let source = SyntheticSource::new(1_000, 120);
        let pages: Vec<Vec<LogStream>> = source
            .list_streams(SYNTHETIC_GROUP, None, &ReadCounters::default())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(pages.len(), 3);
        let streams: Vec<LogStream> = pages.into_iter().flatten().collect();
        assert_eq!(streams.len(), 120);
        let all = read(&source, ReadRequest::whole_group(SYNTHETIC_GROUP)).await;
        for s in &streams {
            let times: Vec<i64> = all
                .iter()
                .filter(|e| *e.stream == s.name)
                .map(|e| e.timestamp_ms)
                .collect();
            assert_eq!(s.first_event_ms, times.first().copied(), "{}", s.name);
            assert_eq!(s.last_event_ms, times.last().copied(), "{}", s.name);
        }
        let err = read_err(&source).await;
        assert!(err.contains("synthetic source has one group"), "{err}");
    }

    async fn read_err(source: &SyntheticSource) -> String {
        source
            .read_events(
                &ReadRequest::whole_group("/other"),
                &ReadCounters::default(),
            )
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err()
            .to_string()
    }
}
