//! One archiving run: for each group, every day that is not final yet is
//! read again, its new events written to one part, and committed. See
//! docs/archive.md for the protocol and why it is exactly-once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::TimestampMillisecondType;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use tracing::{debug, info, warn};

use super::commit::{self, CommitRecord, ContentHash, Created};
use super::groups::{self, GroupRecord};
use super::layout::{part_path, staged_path, staging, Day};
use super::part::{archive_id, ids_in, PartWriter, EVENT_ID, ROW_GROUP_ROWS, TIME};
use super::spill::{DayBuffers, DayEvents};
use super::store::ArchiveRoot;
use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::model::{LogGroup, LogGroupClass, ReadApi, ReadRequest, StreamSelection, TimeRange};
use crate::read_plan::time_slices;
use crate::source::SharedSource;
use crate::time::{iso8601, now_ms, DAY_MS, HOUR_MS};

/// CloudWatch accepts events this old at most (PutLogEvents).
pub const MAX_LATENESS_MS: i64 = 14 * DAY_MS;
/// Kept on top of the lateness, for clocks and slow ingestion.
pub const MARGIN_MS: i64 = HOUR_MS;
/// A window (days read by one paginated request) is sized to hold about
/// this many events: big enough that pages stay full and empty days cost
/// nothing, small enough that a killed run loses little reading.
pub const WINDOW_EVENTS: u64 = 1_000_000;
/// The widest window, in days; windows grow at most fourfold at a time.
pub const MAX_WINDOW_DAYS: usize = 64;
/// A window expected to hold more than this is read by parallel requests
/// over time slices, so that the calls, not their latency, bound a run.
const EVENTS_PER_READ: u64 = 50_000;
const MAX_READS: usize = 4;
/// Events diffed against the previous commit and written at a time, and
/// the bytes that stop a chunk sooner (large events).
const WRITE_CHUNK: usize = ROW_GROUP_ROWS;
const WRITE_CHUNK_BYTES: usize = 64 << 20;
const CONFLICT_RETRIES: usize = 3;
/// Staged parts no commit names are removed once this old.
const ORPHAN_AGE_MS: i64 = DAY_MS;

/// What a run covers.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Days starting before this are not read (a backfill's start).
    pub since_ms: Option<i64>,
    /// Days ending after this are not read.
    pub until_ms: Option<i64>,
}

/// Counters a run keeps as it goes, for progress and metrics.
#[derive(Debug, Default)]
pub struct Progress {
    pub days_total: AtomicU64,
    pub days_done: AtomicU64,
    pub events_read: AtomicU64,
    pub events_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub commits: AtomicU64,
    pub conflicts: AtomicU64,
}

/// A day that could not be archived whole, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    pub log_group: String,
    pub day: Day,
    pub reason: String,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct RunReport {
    pub groups: usize,
    pub days_read: u64,
    pub events_written: u64,
    pub incomplete: Vec<Incomplete>,
    /// Days left to a later run because other runs kept committing them.
    pub contended: Vec<(String, Day)>,
}

/// Archives groups of one catalog's source into a root.
pub struct Archiver {
    root: ArchiveRoot,
    catalog: String,
    source: SharedSource,
    run: String,
    progress: Arc<Progress>,
    counters: ReadCounters,
}

/// A run id: sortable by start time, unique between runs.
fn run_id(started: i64) -> String {
    let mut random = [0u8; 4];
    // Collisions need two runs in one millisecond drawing the same 32 bits.
    let _ = getrandom::fill(&mut random);
    format!(
        "{}-{}",
        iso8601(started).replace([':', '.', '-'], ""),
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The latest time an event of `day` may still arrive.
fn final_after(day: Day, group: &LogGroup) -> i64 {
    day.end_ms() + lateness(group) + MARGIN_MS
}

fn lateness(group: &LogGroup) -> i64 {
    match group.retention_in_days {
        Some(days) if days > 0 => (i64::from(days) * DAY_MS).min(MAX_LATENESS_MS),
        _ => MAX_LATENESS_MS,
    }
}

/// The first day that can hold events: none are older than the group,
/// less the lateness CloudWatch allows. Retention does not bound it:
/// CloudWatch deletes expired events some time after they expire, and
/// what it still holds is archived.
fn first_day(group: &LogGroup, since: Option<i64>) -> Day {
    let created = group.creation_time_ms.unwrap_or(0) - MAX_LATENESS_MS;
    Day::of_ms(created.max(since.unwrap_or(i64::MIN)).max(0))
}

impl Archiver {
    pub fn new(root: ArchiveRoot, catalog: impl Into<String>, source: SharedSource) -> Self {
        Self {
            root,
            catalog: catalog.into(),
            source,
            run: run_id(now_ms()),
            progress: Arc::default(),
            counters: ReadCounters::default(),
        }
    }

    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// The API calls the run has made.
    pub fn api_calls(&self) -> usize {
        self.counters.api_calls.value()
    }

    /// Archives `groups`; a group's failure ends the run with that error
    /// (what was committed before stays committed).
    pub async fn run(&self, groups: &[LogGroup], options: &RunOptions) -> Result<RunReport> {
        let started = now_ms();
        super::spill::remove_stale();
        self.finish_stopped_runs(started).await?;
        let mut report = RunReport {
            groups: groups.len(),
            ..Default::default()
        };
        let mut plans = Vec::new();
        for group in groups {
            let latest = commit::latest(&self.root, &self.catalog, &group.name).await?;
            let days = self.days_to_read(group, &latest, started, options);
            self.progress
                .days_total
                .fetch_add(days.len() as u64, Ordering::Relaxed);
            plans.push((group, latest, days));
        }
        for (group, latest, days) in plans {
            self.remember(group).await?;
            self.archive_days(group, &days, &latest, started, &mut report)
                .await?;
        }
        report.events_written = self.progress.events_written.load(Ordering::Relaxed);
        Ok(report)
    }

    fn days_to_read(
        &self,
        group: &LogGroup,
        latest: &BTreeMap<Day, CommitRecord>,
        now: i64,
        options: &RunOptions,
    ) -> Vec<Day> {
        let mut day = first_day(group, options.since_ms);
        let last = Day::of_ms(options.until_ms.unwrap_or(now).min(now));
        let mut days = Vec::new();
        while day <= last {
            if latest.get(&day).is_none_or(|r| !r.is_final && !r.pruned) {
                days.push(day);
            }
            day = day.next();
        }
        days
    }

    /// Writes what the archive remembers of a group (its tags for grants).
    async fn remember(&self, group: &LogGroup) -> Result<()> {
        let tags = self.source.group_tags(group).await?;
        groups::write(&self.root, &GroupRecord::of(&self.catalog, group, tags)).await
    }

    /// Reads `days` in windows of consecutive days, each one paginated
    /// read (or a few in parallel), sized by the density the previous
    /// window showed.
    async fn archive_days(
        &self,
        group: &LogGroup,
        days: &[Day],
        latest: &BTreeMap<Day, CommitRecord>,
        started: i64,
        report: &mut RunReport,
    ) -> Result<()> {
        let mut width = first_width(group, days);
        let mut per_day = 0;
        for consecutive in consecutive_runs(days) {
            let mut rest = consecutive;
            while !rest.is_empty() {
                let (window, tail) = rest.split_at(width.min(rest.len()));
                let reads = parallel_reads(per_day * window.len() as u64);
                let events = self
                    .archive_window(group, window, latest, reads, started, report)
                    .await?;
                (width, per_day) = next_window(width, window.len(), events);
                rest = tail;
            }
        }
        Ok(())
    }

    /// Reads one window, then commits its days in order; returns the
    /// events the window held.
    async fn archive_window(
        &self,
        group: &LogGroup,
        window: &[Day],
        latest: &BTreeMap<Day, CommitRecord>,
        reads: usize,
        started: i64,
        report: &mut RunReport,
    ) -> Result<u64> {
        let (Some(first), Some(last)) = (window.first(), window.last()) else {
            return Ok(0);
        };
        let range = TimeRange::new(Some(first.start_ms()), Some(last.end_ms()));
        let mut buffers = self.read_window(group, range, reads).await?;
        let events = buffers.total();
        debug!(group = %group.name, from = %first.text(), to = %last.text(), events, reads, spilled = buffers.spilled_files(), "window read");
        for &day in window {
            let held = buffers.take_day(day)?;
            self.settle_day(group, day, latest.get(&day).cloned(), held, started, report)
                .await?;
            report.days_read += 1;
            self.progress.days_done.fetch_add(1, Ordering::Relaxed);
        }
        Ok(events)
    }

    /// Commits what a day has new, reading the day again (alone) when
    /// another run committed it first.
    async fn settle_day(
        &self,
        group: &LogGroup,
        day: Day,
        mut previous: Option<CommitRecord>,
        mut events: DayEvents,
        started: i64,
        report: &mut RunReport,
    ) -> Result<()> {
        for attempt in 0..=CONFLICT_RETRIES {
            let base = previous
                .clone()
                .unwrap_or_else(|| CommitRecord::empty(&self.catalog, &group.name, day));
            match self.commit_day(group, day, &base, events, started).await? {
                (Created::Yes, rows) => {
                    return self.note_incomplete(group, day, &base, rows, started, report)
                }
                (Created::Taken, _) => {
                    self.progress.conflicts.fetch_add(1, Ordering::Relaxed);
                    info!(group = %group.name, day = %day.text(), attempt, "another run committed the day first; reading it again");
                    let latest = commit::latest(&self.root, &self.catalog, &group.name).await?;
                    previous = latest.get(&day).cloned();
                    if previous.as_ref().is_some_and(|r| r.is_final) {
                        return Ok(());
                    }
                    if attempt == CONFLICT_RETRIES {
                        break;
                    }
                    let range = TimeRange::new(Some(day.start_ms()), Some(day.end_ms()));
                    events = self.read_window(group, range, 1).await?.take_day(day)?;
                }
            }
        }
        report.contended.push((group.name.clone(), day));
        Ok(())
    }

    fn note_incomplete(
        &self,
        group: &LogGroup,
        day: Day,
        base: &CommitRecord,
        rows: u64,
        started: i64,
        report: &mut RunReport,
    ) -> Result<()> {
        // A day past retention that held nothing when read has nothing
        // known to be lost; one that held events may have lost older ones.
        if base.version == 0 && rows > 0 && !first_read_complete(group, day, started) {
            let reason = format!(
                "CloudWatch keeps this group's events {} days and had begun expiring them before the first archive run",
                group.retention_in_days.unwrap_or_default()
            );
            info!(group = %group.name, day = %day.text(), "{reason}");
            report.incomplete.push(Incomplete {
                log_group: group.name.clone(),
                day,
                reason,
            });
        }
        Ok(())
    }

    /// One attempt: read, diff, stage, commit, publish.
    async fn commit_day(
        &self,
        group: &LogGroup,
        day: Day,
        base: &CommitRecord,
        mut events: DayEvents,
        started: i64,
    ) -> Result<(Created, u64)> {
        let staged = staged_path(&self.catalog, &group.name, day, &self.run);
        let final_path = part_path(&self.catalog, &group.name, day, &self.run);
        let mut part = PartWriter::new(&self.root, staged.clone(), final_path.clone());
        while let Some(chunk) = events.next_chunk(WRITE_CHUNK, WRITE_CHUNK_BYTES)? {
            // Chunks come in time order: the ids the previous commit holds
            // in the chunk's span are all it needs, read from the parts'
            // row groups that meet the span.
            let new = if base.parts.is_empty() {
                chunk
            } else {
                let times = chunk
                    .column(TIME)
                    .as_primitive::<TimestampMillisecondType>();
                let span = TimeRange::new(Some(times.value(0)), Some(times.value(times.len() - 1)));
                let known = ids_in(&self.root, &base.parts, span).await?;
                let ids = chunk.column(EVENT_ID).as_string::<i32>();
                let fresh: BooleanArray = ids
                    .iter()
                    .map(|id| Some(!id.is_some_and(|id| known.contains(id))))
                    .collect();
                filter_record_batch(&chunk, &fresh).map_err(|e| {
                    ConnectorError::Archive(format!("cannot drop the events already archived: {e}"))
                })?
            };
            self.progress
                .events_written
                .fetch_add(new.num_rows() as u64, Ordering::Relaxed);
            part.write(&new).await?;
        }
        let written = part.finish().await?;
        let rows = written.as_ref().map_or(0, |(file, _)| file.rows);
        let is_final = started > final_after(day, group);
        if written.is_none() && base.version > 0 && !is_final {
            return Ok((Created::Yes, 0)); // nothing new, still open: no new version
        }
        let mut record = base.clone();
        record.format = commit::FORMAT;
        record.version = base.version + 1;
        record.read_started_ms = started;
        record.is_final = is_final;
        record.run = self.run.clone();
        record.committed_at = iso8601(now_ms());
        if base.version == 0 {
            record.complete = first_read_complete(group, day, started);
        }
        if let Some((file, content)) = &written {
            record.rows += file.rows;
            record.content_hash = self.base_hash(base).await?.combine(*content).hex();
            record.parts.push(file.clone());
            self.progress
                .bytes_written
                .fetch_add(file.bytes, Ordering::Relaxed);
        }
        match commit::create(&self.root, &record).await? {
            Created::Yes => {
                self.progress.commits.fetch_add(1, Ordering::Relaxed);
                debug!(group = %group.name, day = %day.text(), version = record.version, rows = record.rows, "committed");
                if written.is_some() {
                    self.publish(&staged, &final_path).await?;
                }
                Ok((Created::Yes, rows))
            }
            Created::Taken => {
                if written.is_some() {
                    self.delete_quietly(&staged).await;
                }
                Ok((Created::Taken, 0))
            }
        }
    }

    /// The content hash of what `base` holds, in this format: a record of
    /// an older format hashed its ids otherwise, so they are read again.
    async fn base_hash(&self, base: &CommitRecord) -> Result<ContentHash> {
        if base.format >= commit::FORMAT || base.parts.is_empty() {
            return Ok(ContentHash::parse(&base.content_hash).unwrap_or_default());
        }
        let ids = ids_in(&self.root, &base.parts, TimeRange::ALL).await?;
        Ok(ContentHash::of(ids.iter().map(String::as_str)))
    }

    /// Reads a range with event ids into per-day buffers, by `reads`
    /// paginated requests over time slices at once. Derived ids are
    /// numbered when the day is merged, where its copies of an event meet.
    async fn read_window(
        &self,
        group: &LogGroup,
        range: TimeRange,
        reads: usize,
    ) -> Result<DayBuffers> {
        let slices = if reads > 1 {
            time_slices(range, None, now_ms(), reads)
        } else {
            vec![range]
        };
        let pages = slices.iter().enumerate().map(|(i, slice)| {
            let request = ReadRequest {
                group: group.name.clone(),
                streams: StreamSelection::All,
                time: *slice,
                filter_pattern: None,
                limit: None,
                require_streams: false,
                // FilterLogEvents returns event ids; Infrequent Access groups
                // only allow GetLogEvents (ids are then derived).
                api: match group.class {
                    LogGroupClass::InfrequentAccess => ReadApi::GetLogEvents,
                    _ => ReadApi::FilterLogEvents,
                },
            };
            self.source
                .read_events(&request, &self.counters)
                .map_ok(move |page| (i, page))
        });
        let mut pages = futures::stream::select_all(pages);
        let mut buffers = DayBuffers::new(&self.run);
        while let Some((i, page)) = pages.try_next().await? {
            self.progress
                .events_read
                .fetch_add(page.events.len() as u64, Ordering::Relaxed);
            for event in &page.events {
                if slices[i].contains(event.timestamp_ms) {
                    buffers.push(event, &archive_id(event))?;
                }
            }
        }
        Ok(buffers)
    }

    /// Copies a committed part to its final path, then drops the staged copy.
    async fn publish(&self, staged: &Path, final_path: &Path) -> Result<()> {
        self.root.publish(staged, final_path).await?;
        self.delete_quietly(staged).await;
        Ok(())
    }

    async fn delete_quietly(&self, location: &Path) {
        if let Err(e) = self.root.store().delete(location).await {
            warn!(path = %location, error = %e, "could not delete a staged part; a later run removes it");
        }
    }

    /// Finishes what stopped runs left: staged parts a commit names are
    /// published; staged parts no commit names are removed once a day old.
    async fn finish_stopped_runs(&self, now: i64) -> Result<()> {
        let staged: Vec<_> = self
            .root
            .store()
            .list(Some(&staging()))
            .try_collect()
            .await
            .map_err(|e| self.root.error("list staged parts", &e))?;
        let mut commits: BTreeMap<(String, String), BTreeMap<Day, CommitRecord>> = BTreeMap::new();
        for meta in staged {
            let Some((catalog, group, day)) = parse_staged(&meta.location) else {
                continue;
            };
            let key = (catalog.clone(), group.clone());
            if !commits.contains_key(&key) {
                let latest = commit::latest(&self.root, &catalog, &group).await?;
                commits.insert(key.clone(), latest);
            }
            let named = commits[&key].get(&day).and_then(|record| {
                record
                    .parts
                    .iter()
                    .find(|p| p.staged == meta.location.as_ref())
                    .cloned()
            });
            match named {
                Some(part) => {
                    info!(part = %part.path, "publishing a part a stopped run committed");
                    let final_path = Path::parse(&part.path)
                        .map_err(|e| ConnectorError::Archive(format!("bad part path: {e}")))?;
                    self.publish(&meta.location, &final_path).await?;
                }
                None if now - meta.last_modified.timestamp_millis() > ORPHAN_AGE_MS => {
                    self.delete_quietly(&meta.location).await;
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// The days of `days` (sorted) in runs of consecutive days: a window
/// never spans a day that is not read (a final one).
fn consecutive_runs(days: &[Day]) -> Vec<&[Day]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=days.len() {
        if i == days.len() || days[i] != days[i - 1].next() {
            if i > start {
                runs.push(&days[start..i]);
            }
            start = i;
        }
    }
    runs
}

/// The first window's width: every day up to the group's creation day
/// when the run starts before it (days before a group existed hold only
/// backdated events, so a new group's first run reads its fourteen days
/// of them and its first day of events in one request, not one call a
/// day), else one day, to learn the density.
fn first_width(group: &LogGroup, days: &[Day]) -> usize {
    let Some(created) = group.creation_time_ms.map(Day::of_ms) else {
        return 1;
    };
    days.iter()
        .take_while(|d| **d <= created)
        .count()
        .clamp(1, MAX_WINDOW_DAYS)
}

/// The next window's width in days, and the events per day it expects,
/// from what the last window (`days` wide, up to `width`) held.
fn next_window(width: usize, days: usize, events: u64) -> (usize, u64) {
    let per_day = events / days.max(1) as u64;
    let grown = (width * 4).min(MAX_WINDOW_DAYS);
    let fits = (WINDOW_EVENTS / per_day.max(1)) as usize;
    (fits.clamp(1, grown), per_day)
}

/// Parallel requests for a window expected to hold `events`.
fn parallel_reads(events: u64) -> usize {
    ((events / EVENTS_PER_READ) as usize).clamp(1, MAX_READS)
}

/// False when CloudWatch may already have expired events of `day` when
/// the run that first read it started.
fn first_read_complete(group: &LogGroup, day: Day, started: i64) -> bool {
    match group.retention_in_days {
        Some(days) if days > 0 => started < day.start_ms() + i64::from(days) * DAY_MS,
        _ => true,
    }
}

/// (catalog, group, day) of a staged part's path.
fn parse_staged(location: &Path) -> Option<(String, String, Day)> {
    use super::layout::decode_name;
    let parts: Vec<&str> = location.as_ref().split('/').collect();
    let [_, _, _run, catalog, group, day] = parts.as_slice() else {
        return None;
    };
    Some((
        decode_name(catalog.strip_prefix("catalog=")?)?,
        decode_name(group.strip_prefix("log_group=")?)?,
        Day::parse(day.strip_prefix("day=")?.strip_suffix(".parquet")?)?,
    ))
}

/// The groups a run covers, by name pattern and tags.
pub async fn select_groups(
    source: &SharedSource,
    matches: impl Fn(&str, &BTreeMap<String, String>) -> bool,
    need_tags: bool,
) -> Result<Vec<LogGroup>> {
    let groups = source.list_groups().await?;
    let mut selected = Vec::new();
    let checked = futures::stream::iter(groups)
        .map(|group| async move {
            let tags = if need_tags {
                source.group_tags(&group).await?
            } else {
                BTreeMap::new()
            };
            Ok::<_, ConnectorError>((group, tags))
        })
        .buffered(4)
        .try_collect::<Vec<_>>()
        .await?;
    for (group, tags) in checked {
        if matches(&group.name, &tags) {
            selected.push(group);
        }
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::layout::Day;

    #[test]
    fn days_close_after_their_lateness() {
        let mut group = LogGroup::named("/g");
        let day = Day::parse("2026-11-01").unwrap();
        assert_eq!(
            final_after(day, &group),
            day.end_ms() + 14 * DAY_MS + HOUR_MS
        );
        group.retention_in_days = Some(3);
        assert_eq!(
            final_after(day, &group),
            day.end_ms() + 3 * DAY_MS + HOUR_MS
        );
        assert!(first_read_complete(
            &group,
            day,
            day.start_ms() + 2 * DAY_MS
        ));
        assert!(!first_read_complete(
            &group,
            day,
            day.start_ms() + 3 * DAY_MS
        ));
        group.retention_in_days = None;
        assert!(first_read_complete(&group, day, i64::MAX));
    }

    #[test]
    fn the_first_day_is_bounded_by_creation_and_since() {
        let mut group = LogGroup::named("/g");
        group.creation_time_ms = Some(Day::parse("2026-11-20").unwrap().start_ms());
        assert_eq!(first_day(&group, None).text(), "2026-11-06");
        group.retention_in_days = Some(1);
        assert_eq!(first_day(&group, None).text(), "2026-11-06");
        let since = Day::parse("2026-11-29").unwrap().start_ms();
        assert_eq!(first_day(&group, Some(since)).text(), "2026-11-29");
    }

    #[test]
    fn windows_span_consecutive_days_and_follow_the_density() {
        let d = |text: &str| Day::parse(text).unwrap();
        let days = [
            d("2026-11-01"),
            d("2026-11-02"),
            d("2026-11-04"),
            d("2026-11-05"),
            d("2026-11-09"),
        ];
        let runs: Vec<Vec<String>> = consecutive_runs(&days)
            .into_iter()
            .map(|r| r.iter().map(|d| d.text()).collect())
            .collect();
        assert_eq!(
            runs,
            [
                vec!["2026-11-01", "2026-11-02"],
                vec!["2026-11-04", "2026-11-05"],
                vec!["2026-11-09"]
            ]
        );
        assert!(consecutive_runs(&[]).is_empty());
        // Empty windows grow fourfold up to the cap.
        assert_eq!(next_window(1, 1, 0), (4, 0));
        assert_eq!(next_window(32, 32, 0), (MAX_WINDOW_DAYS, 0));
        // Dense ones shrink to what holds WINDOW_EVENTS, never below a day.
        assert_eq!(next_window(16, 16, 16 * 100_000), (10, 100_000));
        assert_eq!(next_window(4, 2, 2 * 5_000_000), (1, 5_000_000));
        // Sparse ones grow, but at most fourfold.
        assert_eq!(next_window(2, 2, 20), (8, 10));
        // A new group's first window reaches its creation day.
        let mut group = LogGroup::named("/g");
        assert_eq!(first_width(&group, &days), 1);
        group.creation_time_ms = Some(d("2026-11-04").start_ms() + 5);
        assert_eq!(first_width(&group, &days), 3);
        group.creation_time_ms = Some(d("2026-10-01").start_ms());
        assert_eq!(first_width(&group, &days), 1);
        assert_eq!(parallel_reads(0), 1);
        assert_eq!(parallel_reads(120_000), 2);
        assert_eq!(parallel_reads(10_000_000), MAX_READS);
    }

    #[tokio::test]
    async fn a_day_of_an_older_format_is_hashed_again_when_extended() {
        use crate::archive::layout::part_path;
        use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray};
        let root = ArchiveRoot::in_memory();
        let day = Day::parse("2026-11-24").unwrap();
        let ids = ["17", "18", "19"];
        let strings = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let times: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![day.start_ms(); 3]).with_timezone("UTC"));
        let ingestion: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![None::<i64>; 3]).with_timezone("UTC"));
        let batch = RecordBatch::try_new(
            Arc::clone(&super::super::part::PART_SCHEMA),
            vec![
                strings(vec!["s"; 3]),
                times,
                ingestion,
                strings(vec!["m"; 3]),
                strings(ids.to_vec()),
            ],
        )
        .unwrap();
        let mut part = PartWriter::new(
            &root,
            staged_path("c", "/g", day, "r0"),
            part_path("c", "/g", day, "r0"),
        );
        part.write(&batch).await.unwrap();
        let (file, content) = part.finish().await.unwrap().unwrap();
        assert_eq!(content, ContentHash::of(ids));
        let mut old = CommitRecord::empty("c", "/g", day);
        old.format = 1;
        old.version = 1;
        old.parts.push(file);
        old.content_hash = "00000000000000000000000000000abc".into();
        let source: SharedSource = Arc::new(crate::DemoSource::generate(0));
        let archiver = Archiver::new(root, "c", source);
        assert_eq!(
            archiver.base_hash(&old).await.unwrap(),
            ContentHash::of(ids)
        );
        old.format = commit::FORMAT;
        assert_eq!(
            archiver.base_hash(&old).await.unwrap().hex(),
            old.content_hash
        );
    }

    #[test]
    fn staged_paths_parse_back() {
        let day = Day::parse("2026-11-24").unwrap();
        let path = staged_path("c", "/a/B$", day, "r1");
        assert_eq!(parse_staged(&path), Some(("c".into(), "/a/B$".into(), day)));
    }
}
