//! Which API each scan uses and how it is split into partitions: a pure
//! function of the pushed-down request and what is known of the group.
//!
//! - Named streams are read with GetLogEvents, spread over partitions; with
//!   a LIMIT or a filter pattern they are read by one FilterLogEvents
//!   sequence (at most 100 names a call), which filters on the server and
//!   lets the first page end the query.
//! - A whole group is read with FilterLogEvents, which searches by time on
//!   the server without listing streams (groups with 10^5-10^6 streams cost
//!   no more than small ones). Without a LIMIT the time range is cut into
//!   slices read in parallel.
//! - A stream prefix, and any read of an Infrequent Access group (where
//!   FilterLogEvents is not allowed), lists the streams page by page
//!   (DescribeLogStreams with the prefix), prunes them by time span, and
//!   reads each with GetLogEvents, starting after the first listing page;
//!   the partitions share the listing and take streams from it in turn.

use crate::model::{LogGroup, LogGroupClass, ReadApi, ReadRequest, StreamSelection, TimeRange};

/// A slice narrower than this is not worth its own API calls.
const MIN_SLICE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Upper bound on partitions (parallel reads) per scan.
    pub max_partitions: usize,
    /// "Now", for bounding open time ranges when slicing.
    pub now_ms: i64,
}

/// One read request per partition.
pub fn plan_reads(
    request: ReadRequest,
    group: &LogGroup,
    options: PlanOptions,
) -> Vec<ReadRequest> {
    let partitions = options.max_partitions.max(1);
    if request.selects_nothing() {
        return vec![request];
    }
    let infrequent = group.class == LogGroupClass::InfrequentAccess;
    match &request.streams {
        StreamSelection::Named(names) => {
            if (request.limit.is_some() || request.filter_pattern.is_some()) && !infrequent {
                return vec![ReadRequest {
                    api: ReadApi::FilterLogEvents,
                    ..request
                }];
            }
            let n = if request.limit.is_some() {
                1
            } else {
                partitions.min(names.len())
            };
            let mut buckets = vec![std::collections::BTreeSet::new(); n];
            for (i, name) in names.iter().enumerate() {
                buckets[i % n].insert(name.clone());
            }
            buckets
                .into_iter()
                .map(|b| ReadRequest {
                    streams: StreamSelection::Named(b),
                    api: ReadApi::GetLogEvents,
                    ..request.clone()
                })
                .collect()
        }
        StreamSelection::All if !infrequent => {
            let slices = if request.limit.is_some() {
                vec![request.time]
            } else {
                time_slices(
                    request.time,
                    group.creation_time_ms,
                    options.now_ms,
                    partitions,
                )
            };
            slices
                .into_iter()
                .map(|time| ReadRequest {
                    time,
                    api: ReadApi::FilterLogEvents,
                    ..request.clone()
                })
                .collect()
        }
        // A prefix selects streams by name: list them (DescribeLogStreams
        // takes the prefix), prune by time span, read each. This also avoids
        // FilterLogEvents' logStreamNamePrefix, which emulators get wrong.
        // The partitions share one listing (`listing.rs`); with a LIMIT one
        // reader is enough, and stops at the first page that fills it.
        StreamSelection::Prefix(_) | StreamSelection::All => {
            let n = if request.limit.is_some() {
                1
            } else {
                partitions
            };
            vec![
                ReadRequest {
                    api: ReadApi::GetLogEvents,
                    ..request
                };
                n
            ]
        }
    }
}

/// Cuts `range` into up to `n` contiguous, non-overlapping slices that
/// together cover exactly `range`. An open start is bounded by the group's
/// creation time and an open end by now for placing the cuts only: the first
/// and last slices keep the range's own bounds.
pub fn time_slices(
    range: TimeRange,
    created_ms: Option<i64>,
    now_ms: i64,
    n: usize,
) -> Vec<TimeRange> {
    let (Some(lo), hi) = (range.start.or(created_ms), range.end.unwrap_or(now_ms)) else {
        return vec![range];
    };
    let span = hi.saturating_sub(lo);
    let n = (n as i64).min(span / MIN_SLICE_MS).max(1);
    if n == 1 {
        return vec![range];
    }
    let cut = |i: i64| lo + (span as i128 * i as i128 / n as i128) as i64;
    (0..n)
        .map(|i| TimeRange {
            start: if i == 0 { range.start } else { Some(cut(i)) },
            end: if i == n - 1 {
                range.end
            } else {
                Some(cut(i + 1) - 1)
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn group(class: LogGroupClass) -> LogGroup {
        LogGroup {
            class,
            creation_time_ms: Some(NOW - 24 * HOUR),
            ..LogGroup::named("/g")
        }
    }

    fn options(p: usize) -> PlanOptions {
        PlanOptions {
            max_partitions: p,
            now_ms: NOW,
        }
    }

    fn named(names: &[&str]) -> StreamSelection {
        StreamSelection::Named(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn slices_cover_the_range_exactly_once() {
        let cases = [
            (
                TimeRange::new(Some(NOW - HOUR), Some(NOW)),
                Some(NOW - 24 * HOUR),
                4,
            ),
            (TimeRange::new(None, None), Some(NOW - 24 * HOUR), 4),
            (TimeRange::new(Some(NOW - 10 * HOUR), None), None, 3),
            (
                TimeRange::new(None, Some(NOW - HOUR)),
                Some(NOW - 2 * HOUR),
                8,
            ),
        ];
        for (range, created, n) in cases {
            let slices = time_slices(range, created, NOW, n);
            assert_eq!(slices.len(), n, "{range:?}");
            assert_eq!(slices[0].start, range.start);
            assert_eq!(slices[n - 1].end, range.end);
            for w in slices.windows(2) {
                assert_eq!(w[0].end.unwrap() + 1, w[1].start.unwrap(), "contiguous");
                assert!(!w[0].is_empty());
            }
        }
        // Too narrow, or nothing to place cuts by: one slice.
        let narrow = TimeRange::new(Some(NOW), Some(NOW + 1000));
        assert_eq!(time_slices(narrow, None, NOW, 8), vec![narrow]);
        assert_eq!(
            time_slices(TimeRange::ALL, None, NOW, 8),
            vec![TimeRange::ALL]
        );
    }

    #[test]
    fn api_and_partitions_follow_the_query() {
        let base = ReadRequest::whole_group("/g");
        // Whole group: FilterLogEvents, sliced by time without a limit.
        let plan = plan_reads(base.clone(), &group(LogGroupClass::Standard), options(4));
        assert_eq!(plan.len(), 4);
        assert!(plan.iter().all(|r| r.api == ReadApi::FilterLogEvents));
        // ... and in one sequence with a limit.
        let limited = ReadRequest {
            limit: Some(10),
            ..base.clone()
        };
        let plan = plan_reads(limited.clone(), &group(LogGroupClass::Standard), options(4));
        assert_eq!(
            plan,
            vec![ReadRequest {
                api: ReadApi::FilterLogEvents,
                ..limited.clone()
            }]
        );
        // Named streams: GetLogEvents spread over partitions.
        let three = ReadRequest {
            streams: named(&["a", "b", "c"]),
            ..base.clone()
        };
        let plan = plan_reads(three.clone(), &group(LogGroupClass::Standard), options(2));
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].streams, named(&["a", "c"]));
        assert_eq!(plan[1].streams, named(&["b"]));
        assert!(plan.iter().all(|r| r.api == ReadApi::GetLogEvents));
        // Infrequent Access never uses FilterLogEvents.
        for request in [base.clone(), limited, three] {
            let plan = plan_reads(request, &group(LogGroupClass::InfrequentAccess), options(4));
            assert!(
                plan.iter().all(|r| r.api == ReadApi::GetLogEvents),
                "{plan:?}"
            );
        }
        // A prefix is listed and read stream by stream, by every partition
        // (they share the listing); with a LIMIT, by one.
        let prefixed = ReadRequest {
            streams: StreamSelection::Prefix("2026/".into()),
            ..base.clone()
        };
        let plan = plan_reads(
            prefixed.clone(),
            &group(LogGroupClass::Standard),
            options(4),
        );
        assert_eq!(plan.len(), 4);
        assert!(plan.iter().all(|r| r.api == ReadApi::GetLogEvents
            && r.streams == prefixed.streams
            && r.time == prefixed.time));
        let prefixed_limited = ReadRequest {
            limit: Some(10),
            ..prefixed
        };
        let plan = plan_reads(
            prefixed_limited,
            &group(LogGroupClass::Standard),
            options(4),
        );
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].api, ReadApi::GetLogEvents);
        // Nothing to read: one empty partition.
        let none = ReadRequest {
            streams: named(&[]),
            ..base
        };
        assert_eq!(
            plan_reads(none.clone(), &group(LogGroupClass::Standard), options(4)),
            vec![none]
        );
    }
}
