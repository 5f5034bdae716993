//! The plain data a source lists and reads: groups, streams, the request a
//! scan pushes down, and the pages of events that come back. Kept apart from
//! the [`crate::source::LogSource`] trait so that modules which only handle
//! this data (pushdown, planning, batches) need not know where it comes from.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::time::iso8601;

/// One log group, as DescribeLogGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
    pub arn: Option<String>,
    pub creation_time_ms: Option<i64>,
    /// `None` means the events never expire.
    pub retention_in_days: Option<i32>,
    pub stored_bytes: Option<i64>,
    pub class: LogGroupClass,
    pub kms_key_id: Option<String>,
    /// `ACTIVATED`, `DELETED`, ... when a data protection policy was ever set.
    pub data_protection_status: Option<String>,
}

impl LogGroup {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            arn: None,
            creation_time_ms: None,
            retention_in_days: None,
            stored_bytes: None,
            class: LogGroupClass::Standard,
            kms_key_id: None,
            data_protection_status: None,
        }
    }
}

impl LogGroupClass {
    pub fn name(&self) -> &str {
        match self {
            LogGroupClass::Standard => "STANDARD",
            LogGroupClass::InfrequentAccess => "INFREQUENT_ACCESS",
            LogGroupClass::Other(other) => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogGroupClass {
    Standard,
    /// FilterLogEvents is not allowed on these groups.
    InfrequentAccess,
    Other(String),
}

/// One log stream, as DescribeLogStreams reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub name: String,
    pub creation_time_ms: Option<i64>,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
}

impl LogStream {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            creation_time_ms: None,
            first_event_ms: None,
            last_event_ms: None,
            last_ingestion_ms: None,
        }
    }
}

/// A time range in epoch milliseconds with both bounds *inclusive*.
///
/// SQL predicates and the two read APIs disagree on bounds (GetLogEvents'
/// endTime is exclusive, FilterLogEvents' inclusive); keeping one canonical
/// form and converting at the API edge is what keeps `time = X` and
/// `time <= X` from losing events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange {
        start: None,
        end: None,
    };

    pub fn new(start: Option<i64>, end: Option<i64>) -> Self {
        Self { start, end }
    }

    /// True when no millisecond can satisfy the range.
    pub fn is_empty(&self) -> bool {
        matches!((self.start, self.end), (Some(s), Some(e)) if s > e)
    }

    pub fn is_unbounded(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }

    pub fn contains(&self, ms: i64) -> bool {
        self.start.is_none_or(|s| ms >= s) && self.end.is_none_or(|e| ms <= e)
    }

    pub fn intersect(&self, other: &TimeRange) -> TimeRange {
        let start = match (self.start, other.start) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let end = match (self.end, other.end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        TimeRange { start, end }
    }

    /// Bounds for GetLogEvents: startTime inclusive, endTime exclusive.
    /// Bounds below zero are clamped: the API rejects negative times and no
    /// event can be older than the epoch.
    pub fn get_log_events_bounds(&self) -> (Option<i64>, Option<i64>) {
        (
            self.start.map(|s| s.max(0)),
            self.end.map(|e| e.saturating_add(1).max(0)),
        )
    }

    /// Bounds for FilterLogEvents: startTime and endTime both inclusive.
    pub fn filter_log_events_bounds(&self) -> (Option<i64>, Option<i64>) {
        (self.start.map(|s| s.max(0)), self.end.map(|e| e.max(0)))
    }
}

impl std::fmt::Display for TimeRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bound = |b: Option<i64>| b.map(iso8601).unwrap_or_else(|| "..".into());
        write!(f, "[{}, {}]", bound(self.start), bound(self.end))
    }
}

/// Which streams of a group a read covers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StreamSelection {
    All,
    /// Exactly these streams (possibly none: then nothing is read).
    Named(BTreeSet<String>),
    /// Streams whose name starts with this (case-sensitive, as the API).
    Prefix(String),
}

impl StreamSelection {
    pub fn one(name: impl Into<String>) -> Self {
        StreamSelection::Named(BTreeSet::from([name.into()]))
    }

    pub fn contains(&self, stream: &str) -> bool {
        match self {
            StreamSelection::All => true,
            StreamSelection::Named(names) => names.contains(stream),
            StreamSelection::Prefix(prefix) => stream.starts_with(prefix.as_str()),
        }
    }

    pub fn intersect(&self, other: &StreamSelection) -> StreamSelection {
        use StreamSelection::{All, Named, Prefix};
        match (self, other) {
            (All, x) | (x, All) => x.clone(),
            (Named(a), Named(b)) => Named(a.intersection(b).cloned().collect()),
            (Named(names), Prefix(p)) | (Prefix(p), Named(names)) => Named(
                names
                    .iter()
                    .filter(|n| n.starts_with(p.as_str()))
                    .cloned()
                    .collect(),
            ),
            (Prefix(a), Prefix(b)) if a.starts_with(b.as_str()) => Prefix(a.clone()),
            (Prefix(a), Prefix(b)) if b.starts_with(a.as_str()) => Prefix(b.clone()),
            (Prefix(_), Prefix(_)) => Named(BTreeSet::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, StreamSelection::Named(n) if n.is_empty())
    }
}

/// The API a read uses; chosen per scan by [`crate::read_plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ReadApi {
    /// Server-side search over the group, a stream prefix or up to 100
    /// named streams per call; pages by time across streams.
    #[default]
    FilterLogEvents,
    /// One stream at a time, in order; streams of a whole group or prefix
    /// are listed first (page by page) and pruned by their time span.
    GetLogEvents,
}

impl ReadApi {
    pub fn name(self) -> &'static str {
        match self {
            ReadApi::FilterLogEvents => "FilterLogEvents",
            ReadApi::GetLogEvents => "GetLogEvents",
        }
    }
}

/// Everything a source needs to read events: the result of pushdown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadRequest {
    pub group: String,
    pub streams: StreamSelection,
    pub time: TimeRange,
    /// A CloudWatch filter pattern; sources may over-select, never under-select.
    pub filter_pattern: Option<String>,
    /// Stop after this many events (only set when every SQL filter was pushed exactly).
    pub limit: Option<usize>,
    /// True when the streams were named as tables, so a missing one is an
    /// error; false when they come from a WHERE filter, where a stream that
    /// does not exist simply has no events.
    pub require_streams: bool,
    pub api: ReadApi,
}

impl ReadRequest {
    pub fn whole_group(group: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            streams: StreamSelection::All,
            time: TimeRange::ALL,
            filter_pattern: None,
            limit: None,
            require_streams: false,
            api: ReadApi::default(),
        }
    }

    /// True when the request can be answered without any API call.
    pub fn selects_nothing(&self) -> bool {
        self.time.is_empty() || self.streams.is_empty() || self.limit == Some(0)
    }
}

/// One log event. The stream name is shared between the events of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub stream: Arc<str>,
    pub timestamp_ms: i64,
    pub ingestion_ms: Option<i64>,
    pub message: String,
    /// CloudWatch's id of the event; FilterLogEvents returns it,
    /// GetLogEvents does not. The archive tells events apart by it.
    pub event_id: Option<String>,
}

/// One page of events as a read API returned it (it may be empty while more
/// pages follow).
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub events: Vec<LogEvent>,
    /// Bytes of message text in the page, for metrics.
    pub bytes: usize,
}

impl EventPage {
    pub fn new(events: Vec<LogEvent>) -> Self {
        let bytes = events.iter().map(|e| e.message.len()).sum();
        Self { events, bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_range_bounds_per_api() {
        // (range, GetLogEvents bounds, FilterLogEvents bounds)
        let cases = [
            (TimeRange::ALL, (None, None), (None, None)),
            (
                TimeRange::new(Some(10), Some(10)),
                (Some(10), Some(11)),
                (Some(10), Some(10)),
            ),
            (
                TimeRange::new(Some(10), Some(19)),
                (Some(10), Some(20)),
                (Some(10), Some(19)),
            ),
            (
                TimeRange::new(None, Some(5)),
                (None, Some(6)),
                (None, Some(5)),
            ),
            (
                TimeRange::new(Some(-5), None),
                (Some(0), None),
                (Some(0), None),
            ),
            (
                TimeRange::new(None, Some(i64::MAX)),
                (None, Some(i64::MAX)),
                (None, Some(i64::MAX)),
            ),
        ];
        for (range, gle, fle) in cases {
            assert_eq!(range.get_log_events_bounds(), gle, "{range:?}");
            assert_eq!(range.filter_log_events_bounds(), fle, "{range:?}");
        }
    }

    #[test]
    fn time_range_emptiness_and_intersection() {
        let a = TimeRange::new(Some(10), Some(20));
        let b = TimeRange::new(Some(15), None);
        assert_eq!(a.intersect(&b), TimeRange::new(Some(15), Some(20)));
        assert!(TimeRange::new(Some(21), Some(20)).is_empty());
        assert!(!TimeRange::new(Some(20), Some(20)).is_empty());
        assert!(a.contains(10) && a.contains(20) && !a.contains(21) && !a.contains(9));
    }

    #[test]
    fn time_range_displays_its_bounds() {
        assert_eq!(
            TimeRange::new(Some(0), None).to_string(),
            "[1970-01-01T00:00:00.000Z, ..]"
        );
    }

    #[test]
    fn stream_selection_intersection() {
        let all = StreamSelection::All;
        let ab = StreamSelection::Named(["a".into(), "b".into()].into());
        let bc = StreamSelection::Named(["b".into(), "c".into()].into());
        assert_eq!(all.intersect(&ab), ab);
        assert_eq!(ab.intersect(&bc), StreamSelection::one("b"));
        assert!(ab.intersect(&StreamSelection::one("z")).is_empty());
        let p = |s: &str| StreamSelection::Prefix(s.into());
        assert_eq!(ab.intersect(&p("a")), StreamSelection::one("a"));
        assert_eq!(p("ab").intersect(&p("a")), p("ab"));
        assert_eq!(p("a").intersect(&p("ab")), p("ab"));
        assert!(p("a").intersect(&p("b")).is_empty());
        assert!(p("2026/").contains("2026/11/24/[$LATEST]x") && !p("2026/").contains("2025/"));
    }
}
