//! Reads of events: a queue of work items worked on front first, each a
//! stream read with GetLogEvents until the token sent comes back, or a
//! FilterLogEvents scope (the group, a prefix, or up to 100 named streams)
//! read until no token follows. Pages may be empty while a token still
//! follows, so the end is only ever the token, never an empty page.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use futures::stream::{self, BoxStream, StreamExt};

use super::connect::CloudWatchSource;
use super::errors::{call_error, is_not_found};
use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::model::{EventPage, LogEvent, ReadApi, ReadRequest, StreamSelection};
use crate::quota::Api;
use crate::source::listing::{self, ListingHub};
use crate::source::SharedSource;

/// Both read APIs return at most this many events per page.
const MAX_EVENTS_PER_PAGE: usize = 10_000;

/// FilterLogEvents accepts at most this many stream names per call.
const MAX_STREAMS_PER_FILTER_CALL: usize = 100;

/// Which streams one FilterLogEvents sequence covers.
#[derive(Debug, Clone)]
enum FilterScope {
    Group,
    Prefix(String),
    Names(Vec<String>),
}

/// One unit of work of a read; the front item is worked on until done.
#[derive(Debug, Clone)]
enum Work {
    /// GetLogEvents over one stream.
    Stream(Arc<str>),
    /// FilterLogEvents over a scope.
    Filter(FilterScope),
}

/// Cut up front: the cursor works on the front item only, so a met limit
/// drops the rest at once.
fn work_of(request: &ReadRequest) -> VecDeque<Work> {
    let mut work = VecDeque::new();
    match (&request.api, &request.streams) {
        (ReadApi::GetLogEvents, StreamSelection::Named(names)) => {
            work.extend(names.iter().map(|n| Work::Stream(Arc::from(n.as_str()))));
        }
        // Listing reads are driven by `listing.rs`, which hands
        // this cursor one named stream at a time.
        (ReadApi::GetLogEvents, StreamSelection::All | StreamSelection::Prefix(_)) => {}
        (ReadApi::FilterLogEvents, StreamSelection::All) => {
            work.push_back(Work::Filter(FilterScope::Group))
        }
        (ReadApi::FilterLogEvents, StreamSelection::Prefix(p)) => {
            work.push_back(Work::Filter(FilterScope::Prefix(p.clone())))
        }
        (ReadApi::FilterLogEvents, StreamSelection::Named(names)) => {
            let names: Vec<String> = names.iter().cloned().collect();
            work.extend(
                names
                    .chunks(MAX_STREAMS_PER_FILTER_CALL)
                    .map(|c| Work::Filter(FilterScope::Names(c.to_vec()))),
            );
        }
    }
    work
}

struct ReadCursor {
    source: CloudWatchSource,
    counters: ReadCounters,
    request: ReadRequest,
    work: VecDeque<Work>,
    /// The token to send for the front work item.
    token: Option<String>,
    /// Events still wanted when a limit was pushed.
    remaining: Option<usize>,
    /// Stream names seen in FilterLogEvents pages, shared by their events.
    stream_names: HashSet<Arc<str>>,
}

impl ReadCursor {
    fn new(source: CloudWatchSource, request: ReadRequest, counters: ReadCounters) -> Self {
        let work = if request.selects_nothing() {
            VecDeque::new()
        } else {
            work_of(&request)
        };
        let remaining = request.limit;
        Self {
            source,
            counters,
            request,
            work,
            token: None,
            remaining,
            stream_names: HashSet::new(),
        }
    }

    fn page_limit(&self) -> Option<i32> {
        self.remaining
            .map(|r| r.clamp(1, MAX_EVENTS_PER_PAGE) as i32)
    }

    /// The front item is done: move on.
    fn finish_front(&mut self) {
        self.work.pop_front();
        self.token = None;
    }

    /// Makes the next API call. `Ok(None)` means the read is complete.
    async fn next_page(&mut self) -> Result<Option<EventPage>> {
        if self.remaining == Some(0) {
            self.work.clear();
        }
        let Some(item) = self.work.front().cloned() else {
            return Ok(None);
        };
        let page = match item {
            Work::Stream(stream) => self.get_log_events(stream).await?,
            Work::Filter(scope) => self.filter_log_events(scope).await?,
        };
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(page.events.len());
        }
        Ok(Some(page))
    }

    async fn get_log_events(&mut self, stream: Arc<str>) -> Result<EventPage> {
        let (start, end) = self.request.time.get_log_events_bounds();
        let sent_token = self.token.clone();
        let page_limit = self.page_limit();
        let client = &self.source.client;
        let group = &self.request.group;
        let result = self
            .source
            .quota
            .call(Api::GetLogEvents, &self.counters, || {
                client
                    .get_log_events()
                    .log_group_name(group)
                    .log_stream_name(stream.as_ref())
                    .start_from_head(true)
                    .set_start_time(start)
                    .set_end_time(end)
                    .set_limit(page_limit)
                    .set_next_token(sent_token.clone())
                    .send()
            })
            .await;
        let out = match result {
            Ok(out) => out,
            // A stream named only in a WHERE filter that does not exist
            // simply has no events.
            Err(err) if is_not_found(&err) && !self.request.require_streams => {
                self.finish_front();
                return Ok(EventPage::default());
            }
            Err(err) if is_not_found(&err) => {
                return Err(ConnectorError::StreamNotFound {
                    group: self.request.group.clone(),
                    stream: stream.to_string(),
                    hint: " (it may have been deleted)".into(),
                })
            }
            Err(err) => return Err(call_error(&self.source.endpoint, Api::GetLogEvents, err)),
        };
        let mut out = out;
        let next = out.next_forward_token.take();
        // Owned: the messages move out of the response, uncopied.
        let events: Vec<LogEvent> = out
            .events
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|e| LogEvent {
                stream: Arc::clone(&stream),
                timestamp_ms: e.timestamp.unwrap_or_default(),
                ingestion_ms: e.ingestion_time,
                message: e.message.unwrap_or_default(),
                event_id: None,
            })
            .collect();
        // The end of a stream: no token, or the token we sent came back.
        if next.is_none() || next == sent_token {
            self.finish_front();
        } else {
            self.token = next;
        }
        Ok(EventPage::new(events))
    }

    async fn filter_log_events(&mut self, scope: FilterScope) -> Result<EventPage> {
        let (start, end) = self.request.time.filter_log_events_bounds();
        let page_limit = self.page_limit();
        let sent_token = self.token.take();
        let (names, prefix) = match &scope {
            FilterScope::Group => (None, None),
            FilterScope::Prefix(p) => (None, Some(p.clone())),
            FilterScope::Names(n) => (Some(n.clone()), None),
        };
        let client = &self.source.client;
        let request = &self.request;
        let result = self
            .source
            .quota
            .call(Api::FilterLogEvents, &self.counters, || {
                client
                    .filter_log_events()
                    .log_group_name(&request.group)
                    .set_log_stream_names(names.clone())
                    .set_log_stream_name_prefix(prefix.clone())
                    .set_start_time(start)
                    .set_end_time(end)
                    .set_filter_pattern(request.filter_pattern.clone())
                    .set_limit(page_limit)
                    .set_next_token(sent_token.clone())
                    .send()
            })
            .await;
        let mut out = match result {
            Ok(out) => out,
            Err(err) if is_not_found(&err) => {
                return self.filter_not_found(scope, sent_token, err.error.message())
            }
            Err(err) => return Err(call_error(&self.source.endpoint, Api::FilterLogEvents, err)),
        };
        let next = out.next_token.take();
        let events = shared_stream_names(
            out.events.take().unwrap_or_default(),
            &mut self.stream_names,
        );
        match next {
            Some(next) if Some(&next) != sent_token.as_ref() => self.token = Some(next),
            _ => self.finish_front(),
        }
        Ok(EventPage::new(events))
    }

    /// FilterLogEvents said "not found" (`message`) for the front scope.
    fn filter_not_found(
        &mut self,
        scope: FilterScope,
        sent_token: Option<String>,
        message: Option<&str>,
    ) -> Result<EventPage> {
        match scope {
            // One of the named streams may not exist: read them one by one,
            // where a missing stream is simply empty. Only before the first
            // page: after it, events already returned would be read again.
            FilterScope::Names(names) if sent_token.is_none() => {
                self.finish_front();
                for name in names.into_iter().rev() {
                    self.work.push_front(Work::Stream(Arc::from(name)));
                }
                Ok(EventPage::default())
            }
            _ if sent_token.is_some() => Err(ConnectorError::Api {
                api: Api::FilterLogEvents.name(),
                message: format!(
                    "a log group or stream of {:?} was deleted while the query read it: {}",
                    self.request.group,
                    message.unwrap_or("not found")
                ),
            }),
            _ => Err(ConnectorError::GroupNotFound {
                name: self.request.group.clone(),
                hint: " (it may have been deleted while the query ran)".into(),
            }),
        }
    }
}

/// The events of a FilterLogEvents page, with one shared name per stream
/// (pages interleave streams, so the names are kept across pages).
fn shared_stream_names(
    events: Vec<FilteredLogEvent>,
    names: &mut HashSet<Arc<str>>,
) -> Vec<LogEvent> {
    events
        .into_iter()
        .map(|e| {
            let name = e.log_stream_name.unwrap_or_default();
            let stream = match names.get(name.as_str()) {
                Some(s) => Arc::clone(s),
                None => {
                    let s: Arc<str> = Arc::from(name);
                    names.insert(Arc::clone(&s));
                    s
                }
            };
            LogEvent {
                stream,
                timestamp_ms: e.timestamp.unwrap_or_default(),
                ingestion_ms: e.ingestion_time,
                message: e.message.unwrap_or_default(),
                event_id: e.event_id,
            }
        })
        .collect()
}

/// The pages of a read: a listing read goes through a [`ListingHub`] of its
/// own (a scan shares one between its partitions instead), any other read
/// through a cursor.
pub(super) fn read_events(
    source: &CloudWatchSource,
    request: &ReadRequest,
    counters: &ReadCounters,
) -> BoxStream<'static, Result<EventPage>> {
    if listing::is_listing_read(request) {
        let source: SharedSource = Arc::new(source.clone());
        let hub = Arc::new(ListingHub::new(&source, request, counters));
        return listing::read_listed(source, hub, counters.clone());
    }
    let cursor = ReadCursor::new(source.clone(), request.clone(), counters.clone());
    stream::try_unfold(cursor, |mut cursor| async move {
        Ok(cursor.next_page().await?.map(|page| (page, cursor)))
    })
    .boxed()
}
