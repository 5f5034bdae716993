//! Reads driven by a stream listing: a stream prefix, or a whole Infrequent
//! Access group (where FilterLogEvents is not allowed).
//!
//! A group can hold 10^5-10^6 streams, so the listing is never collected
//! first. One [`ListingHub`] per scan owns the DescribeLogStreams pages; every
//! partition of the scan takes the next stream from it and reads that stream
//! with GetLogEvents. The hub holds at most one listing page of streams not
//! yet taken, so memory stays flat however many streams the group has, the
//! first rows arrive after the first page, and the partitions read streams in
//! parallel while later pages are still to be listed.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tokio::sync::Mutex;

use crate::counters::ReadCounters;
use crate::error::Result;
use crate::model::{EventPage, LogStream, ReadApi, ReadRequest, StreamSelection, TimeRange};
use crate::source::SharedSource;

/// Events can be stamped up to two hours after they are ingested; a stream
/// whose last ingestion is older than the range start by more than this has
/// nothing in the range. (lastEventTimestamp would be tighter but lags by up
/// to an hour, so it is not trusted.)
const INGESTION_MARGIN_MS: i64 = 2 * 3_600_000 + 300_000;

/// True when a stream's listed time span cannot overlap `range`.
pub fn stream_outside(stream: &LogStream, range: &TimeRange) -> bool {
    let starts_after =
        matches!((stream.first_event_ms, range.end), (Some(first), Some(end)) if first > end);
    let ended_before = matches!(
        (stream.last_ingestion_ms, range.start),
        (Some(last), Some(start)) if last.saturating_add(INGESTION_MARGIN_MS) < start
    );
    starts_after || ended_before
}

/// True when `request` is read by listing streams (see the module comment).
pub fn is_listing_read(request: &ReadRequest) -> bool {
    request.api == ReadApi::GetLogEvents && !matches!(request.streams, StreamSelection::Named(_))
}

struct HubState {
    pages: BoxStream<'static, Result<Vec<LogStream>>>,
    /// Listed, kept after pruning, not yet taken by a partition.
    ready: VecDeque<String>,
    done: bool,
}

/// The shared listing of one scan.
pub struct ListingHub {
    request: ReadRequest,
    counters: ReadCounters,
    state: Mutex<HubState>,
}

impl std::fmt::Debug for ListingHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListingHub")
            .field("group", &self.request.group)
            .finish_non_exhaustive()
    }
}

impl ListingHub {
    /// Starts nothing yet: the first page is asked for by the first taker.
    pub fn new(source: &SharedSource, request: &ReadRequest, counters: &ReadCounters) -> Self {
        let prefix = match &request.streams {
            StreamSelection::Prefix(p) => Some(p.as_str()),
            _ => None,
        };
        Self {
            request: request.clone(),
            counters: counters.clone(),
            state: Mutex::new(HubState {
                pages: source.list_streams(&request.group, prefix, counters),
                ready: VecDeque::new(),
                done: false,
            }),
        }
    }

    /// The next stream to read, listing the next page when none is ready.
    /// Takers wait on each other while a page is listed: they would have
    /// nothing to do meanwhile anyway.
    pub async fn next_stream(&self) -> Result<Option<String>> {
        let mut state = self.state.lock().await;
        loop {
            if let Some(name) = state.ready.pop_front() {
                return Ok(Some(name));
            }
            if state.done {
                return Ok(None);
            }
            match state.pages.try_next().await {
                Ok(Some(page)) => {
                    for stream in page {
                        if stream_outside(&stream, &self.request.time)
                            || !self.request.streams.contains(&stream.name)
                        {
                            self.counters.streams_pruned.add(1);
                        } else {
                            state.ready.push_back(stream.name);
                        }
                    }
                }
                Ok(None) => state.done = true,
                Err(e) => {
                    // The taker that saw it fails the query; the others end.
                    state.done = true;
                    return Err(e);
                }
            }
        }
    }
}

/// One partition of a listing read: streams taken from `hub`, each read with
/// GetLogEvents by `source`, page after page.
pub fn read_listed(
    source: SharedSource,
    hub: Arc<ListingHub>,
    counters: ReadCounters,
) -> BoxStream<'static, Result<EventPage>> {
    let template = hub.request.clone();
    stream::try_unfold(hub, |hub| async move {
        Ok(hub.next_stream().await?.map(|name| (name, hub)))
    })
    .map_ok(move |name| {
        let request = ReadRequest {
            streams: StreamSelection::Named(BTreeSet::from([name])),
            api: ReadApi::GetLogEvents,
            // Listed a moment ago; if it is gone now, it has no events.
            require_streams: false,
            ..template.clone()
        };
        source.read_events(&request, &counters)
    })
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DemoSource;

    fn stream(first: Option<i64>, last_ingestion: Option<i64>) -> LogStream {
        LogStream {
            first_event_ms: first,
            last_ingestion_ms: last_ingestion,
            ..LogStream::named("s")
        }
    }

    #[test]
    fn streams_are_pruned_only_when_they_cannot_overlap() {
        let h = 3_600_000;
        let range = TimeRange::new(Some(10 * h), Some(20 * h));
        let cases = [
            // (first event, last ingestion, outside?)
            (None, None, false),
            (Some(21 * h), None, true),
            (Some(20 * h), None, false),
            (Some(20 * h + 1), Some(30 * h), true),
            // Ingested long before the range: nothing can be stamped in it.
            (Some(0), Some(10 * h - INGESTION_MARGIN_MS - 1), true),
            // Within the margin: an event may still carry a later stamp.
            (Some(0), Some(10 * h - INGESTION_MARGIN_MS), false),
            (Some(0), Some(8 * h), false),
            (Some(5 * h), Some(15 * h), false),
        ];
        for (first, last, outside) in cases {
            assert_eq!(
                stream_outside(&stream(first, last), &range),
                outside,
                "first={first:?} last_ingestion={last:?}"
            );
        }
        assert!(!stream_outside(&stream(Some(0), Some(0)), &TimeRange::ALL));
    }

    #[tokio::test]
    async fn partitions_sharing_a_hub_read_every_stream_once() {
        let demo = DemoSource::new();
        let source: SharedSource = Arc::new(demo);
        let group = "/aws/lambda/orders-api";
        let request = ReadRequest {
            api: ReadApi::GetLogEvents,
            ..ReadRequest::whole_group(group)
        };
        let counters = ReadCounters::default();
        let hub = Arc::new(ListingHub::new(&source, &request, &counters));
        let partitions: Vec<_> = (0..3)
            .map(|_| read_listed(Arc::clone(&source), Arc::clone(&hub), counters.clone()))
            .collect();
        let pages: Vec<Vec<EventPage>> =
            futures::future::try_join_all(partitions.into_iter().map(|p| p.try_collect()))
                .await
                .unwrap();
        let mut got: Vec<(String, i64, String)> = pages
            .iter()
            .flatten()
            .flat_map(|p| &p.events)
            .map(|e| (e.stream.to_string(), e.timestamp_ms, e.message.clone()))
            .collect();
        got.sort();
        let mut want: Vec<(String, i64, String)> = source
            .read_events(&ReadRequest::whole_group(group), &ReadCounters::default())
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .iter()
            .flat_map(|p| &p.events)
            .map(|e| (e.stream.to_string(), e.timestamp_ms, e.message.clone()))
            .collect();
        want.sort();
        assert!(!want.is_empty());
        assert_eq!(got, want);
    }
}
