//! A window's events in bounded memory: held per day in Arrow columns,
//! and past [`SPILL_BYTES`] sorted and written to local run files, then
//! given back per day in (time, id) order by merging the runs.
//!
//! FilterLogEvents interleaves streams as it likes (moto returns them
//! stream by stream), so a day is only known whole when the last page of
//! the read that covers it is in. Holding what came, within a memory bound,
//! is what lets one paginated read span many days: empty days cost no call
//! of their own and pages stay full across day boundaries.
//!
//! Events are copied into column builders as they arrive, so a page's
//! strings are freed with the page and the window costs its bytes and no
//! allocation per event; a day with no run on disk reaches the part writer
//! as slices of one sorted batch.
//!
//! Runs live in a directory under the system's temporary directory
//! (`TMPDIR`), removed when the buffers are dropped. They are never part
//! of the archive: a run killed while holding them loses nothing committed.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder, UInt32Array,
};
use arrow::buffer::ScalarBuffer;
use arrow::compute::{interleave_record_batch, take_record_batch};
use arrow::datatypes::TimestampMillisecondType;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use super::layout::Day;
use super::part::{is_derived_id, EVENT_ID, LOG_STREAM, MESSAGE, PART_SCHEMA, TIME};
use crate::error::{ConnectorError, Result};
use crate::model::LogEvent;

/// Bytes of events held in memory before they are spilled to runs. A
/// bound in bytes, not events: CloudWatch events run from a few bytes to
/// 1 MiB, and a count that suits the one is gigabytes for the other.
pub const SPILL_BYTES: usize = 64 << 20;
/// Rows per batch of a run file; a day's merge holds one batch per run.
const RUN_BATCH_ROWS: usize = 8_192;
/// What an event costs besides its strings: its times and offsets.
const ROW_OVERHEAD: usize = 40;

fn spill_error(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Archive(format!(
        "cannot {what} (a spill file under {}): {e}",
        std::env::temp_dir().display()
    ))
}

/// The temporary directory of one buffer's runs.
struct SpillDir(PathBuf);

const PREFIX: &str = "logflight-archive-";

impl SpillDir {
    fn create(tag: &str) -> Result<Self> {
        let mut random = [0u8; 4];
        let _ = getrandom::fill(&mut random);
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{PREFIX}{tag}-{}-{suffix}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| spill_error("create a directory", e))?;
        Ok(Self(dir))
    }
}

/// Removes the spill directories killed runs left: those of processes
/// that no longer run (where `/proc` tells), and any a day old.
pub fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        let gone = pid.is_some_and(|pid| {
            pid != std::process::id()
                && std::path::Path::new("/proc/self").exists()
                && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 86_400);
        if gone || old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One day's events as they arrive, in column builders.
struct DayBuilder {
    streams: StringBuilder,
    time: Vec<i64>,
    ingestion: TimestampMillisecondBuilder,
    message: StringBuilder,
    id: StringBuilder,
}

impl DayBuilder {
    fn new() -> Self {
        Self {
            streams: StringBuilder::new(),
            time: Vec::new(),
            ingestion: TimestampMillisecondBuilder::new(),
            message: StringBuilder::new(),
            id: StringBuilder::new(),
        }
    }

    fn push(&mut self, event: &LogEvent, id: &str) {
        self.streams.append_value(event.stream.as_ref());
        self.time.push(event.timestamp_ms);
        self.ingestion.append_option(event.ingestion_ms);
        self.message.append_value(&event.message);
        self.id.append_value(id);
    }

    /// The events so far, in (time, id) order; the builder is empty after.
    fn finish_sorted(&mut self) -> Result<Sorted> {
        let time = TimestampMillisecondArray::from(std::mem::take(&mut self.time));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.streams.finish()),
            Arc::new(time.with_timezone("UTC")),
            Arc::new(self.ingestion.finish().with_timezone("UTC")),
            Arc::new(self.message.finish()),
            Arc::new(self.id.finish()),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&PART_SCHEMA), columns)
            .map_err(|e| ConnectorError::Archive(format!("cannot build a day's batch: {e}")))?;
        Ok(Sorted::of(batch))
    }
}

/// The bytes the events `start..end` of `batch` hold, for memory bounds.
fn range_bytes(batch: &RecordBatch, start: usize, end: usize) -> usize {
    let strings = |column: usize| {
        let offsets = batch.column(column).as_string::<i32>().value_offsets();
        (offsets[end] - offsets[start]) as usize
    };
    strings(LOG_STREAM) + strings(MESSAGE) + strings(EVENT_ID) + ROW_OVERHEAD * (end - start)
}

/// The (time, id) key of a row.
#[derive(Clone)]
struct Keys {
    times: ScalarBuffer<i64>,
    ids: StringArray,
}

impl Keys {
    fn of(batch: &RecordBatch) -> Self {
        Self {
            times: batch
                .column(TIME)
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .clone(),
            ids: batch.column(EVENT_ID).as_string::<i32>().clone(),
        }
    }

    fn cmp(&self, a: usize, other: &Keys, b: usize) -> Ordering {
        self.times[a]
            .cmp(&other.times[b])
            .then_with(|| self.ids.value(a).cmp(other.ids.value(b)))
    }
}

/// A batch of [`PART_SCHEMA`] in (time, id) order: the rows as they are,
/// or an order to read them in. Sorting by an order rather than into a
/// copy keeps a day's events in memory once; rows are copied out in
/// order a chunk at a time.
struct Sorted {
    batch: RecordBatch,
    keys: Keys,
    order: Option<Vec<u32>>,
}

impl Sorted {
    /// Sorts `batch`. The sort is stable and so finds the runs already in
    /// order (each stream's events, or CloudWatch's time-ordered pages)
    /// and merges them.
    fn of(batch: RecordBatch) -> Self {
        let keys = Keys::of(&batch);
        let n = batch.num_rows();
        let order = if (1..n).all(|i| keys.cmp(i - 1, &keys, i) != Ordering::Greater) {
            None
        } else {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_by(|&a, &b| keys.cmp(a as usize, &keys, b as usize));
            Some(order)
        };
        Self { batch, keys, order }
    }

    /// Already in order (a run read back from its file).
    fn in_order(batch: RecordBatch) -> Self {
        Self {
            keys: Keys::of(&batch),
            batch,
            order: None,
        }
    }

    fn len(&self) -> usize {
        self.batch.num_rows()
    }

    /// Where the `i`th row in order is in the batch.
    fn row(&self, i: usize) -> usize {
        self.order.as_ref().map_or(i, |o| o[i] as usize)
    }

    /// The bytes of rows `start..end` in order.
    fn bytes(&self, start: usize, end: usize) -> usize {
        match &self.order {
            None => range_bytes(&self.batch, start, end),
            Some(order) => order[start..end]
                .iter()
                .map(|&r| range_bytes(&self.batch, r as usize, r as usize + 1))
                .sum(),
        }
    }

    /// Rows `start..end` in order: a slice, or a copy in order.
    fn take(&self, start: usize, end: usize) -> Result<RecordBatch> {
        match &self.order {
            None => Ok(self.batch.slice(start, end - start)),
            Some(order) => {
                take_record_batch(&self.batch, &UInt32Array::from(order[start..end].to_vec()))
                    .map_err(|e| {
                        ConnectorError::Archive(format!("cannot sort a day's events: {e}"))
                    })
            }
        }
    }
}

/// The events of one read, by day.
pub struct DayBuffers {
    tag: String,
    dir: Option<Arc<SpillDir>>,
    open: BTreeMap<Day, DayBuilder>,
    held: usize,
    runs: BTreeMap<Day, Vec<PathBuf>>,
    counts: BTreeMap<Day, u64>,
    files: usize,
    limit: usize,
}

impl DayBuffers {
    /// `tag` names the spill directory (the run id, for an operator who
    /// finds one left by a killed run).
    pub fn new(tag: &str) -> Self {
        Self::with_limit(tag, SPILL_BYTES)
    }

    fn with_limit(tag: &str, limit: usize) -> Self {
        Self {
            tag: tag.to_string(),
            dir: None,
            open: BTreeMap::new(),
            held: 0,
            runs: BTreeMap::new(),
            counts: BTreeMap::new(),
            files: 0,
            limit: limit.max(1),
        }
    }

    /// Holds `event` under `id` (CloudWatch's, or the base of a derived
    /// one: see [`super::part::archive_id`]).
    pub fn push(&mut self, event: &LogEvent, id: &str) -> Result<()> {
        let day = Day::of_ms(event.timestamp_ms);
        self.open
            .entry(day)
            .or_insert_with(DayBuilder::new)
            .push(event, id);
        *self.counts.entry(day).or_default() += 1;
        self.held += event.stream.len() + event.message.len() + id.len() + ROW_OVERHEAD;
        if self.held >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Events pushed, in all days.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Run files written so far.
    pub fn spilled_files(&self) -> usize {
        self.files
    }

    /// Sorts what memory holds and writes it as one run per day. The
    /// file I/O is local and short, so it runs on the caller's thread.
    fn spill(&mut self) -> Result<()> {
        if self.dir.is_none() {
            self.dir = Some(Arc::new(SpillDir::create(&self.tag)?));
        }
        let dir = Arc::clone(self.dir.as_ref().expect("just set"));
        for (day, mut builder) in std::mem::take(&mut self.open) {
            let sorted = builder.finish_sorted()?;
            let path = dir.0.join(format!("{}-{}.arrow", day.text(), self.files));
            self.files += 1;
            let file = File::create(&path).map_err(|e| spill_error("create", e))?;
            let mut writer = FileWriter::try_new(BufWriter::new(file), &PART_SCHEMA)
                .map_err(|e| spill_error("start", e))?;
            let mut offset = 0;
            while offset < sorted.len() {
                let end = sorted.len().min(offset + RUN_BATCH_ROWS);
                writer
                    .write(&sorted.take(offset, end)?)
                    .map_err(|e| spill_error("write", e))?;
                offset = end;
            }
            writer.finish().map_err(|e| spill_error("finish", e))?;
            self.runs.entry(day).or_default().push(path);
        }
        self.held = 0;
        Ok(())
    }

    /// The events of `day`, in (time, id) order; the day's runs are
    /// deleted as its merge is dropped.
    pub fn take_day(&mut self, day: Day) -> Result<DayEvents> {
        let mut cursors = Vec::new();
        if let Some(mut builder) = self.open.remove(&day) {
            let sorted = builder.finish_sorted()?;
            self.held = self
                .held
                .saturating_sub(range_bytes(&sorted.batch, 0, sorted.len()));
            cursors.push(Cursor::new(sorted, None, None));
        }
        for path in self.runs.remove(&day).unwrap_or_default() {
            let file = File::open(&path).map_err(|e| spill_error("open", e))?;
            let reader = FileReader::try_new(BufReader::new(file), None)
                .map_err(|e| spill_error("read", e))?;
            let empty = Sorted::in_order(RecordBatch::new_empty(Arc::clone(&PART_SCHEMA)));
            let mut cursor = Cursor::new(empty, Some(Box::new(reader)), Some(path));
            cursor.refill()?;
            cursors.push(cursor);
        }
        cursors.retain(|c| !c.done());
        Ok(DayEvents {
            cursors,
            last_derived: None,
            _dir: self.dir.clone(),
        })
    }
}

/// A sorted run being merged: its current batch and place in it.
struct Cursor {
    sorted: Sorted,
    row: usize,
    /// Boxed: an IPC reader is ten times a batch.
    reader: Option<Box<FileReader<BufReader<File>>>>,
    path: Option<PathBuf>,
}

impl Cursor {
    fn new(
        sorted: Sorted,
        reader: Option<Box<FileReader<BufReader<File>>>>,
        path: Option<PathBuf>,
    ) -> Self {
        Self {
            sorted,
            row: 0,
            reader,
            path,
        }
    }

    fn done(&self) -> bool {
        self.row >= self.sorted.len()
    }

    /// The key of the current row.
    fn cmp(&self, other: &Cursor) -> Ordering {
        self.sorted.keys.cmp(
            self.sorted.row(self.row),
            &other.sorted.keys,
            other.sorted.row(other.row),
        )
    }

    /// Loads the run's next batch once the current one is read.
    fn refill(&mut self) -> Result<()> {
        while self.done() {
            let Some(reader) = &mut self.reader else {
                return Ok(());
            };
            match reader.next() {
                Some(read) => {
                    self.sorted = Sorted::in_order(read.map_err(|e| spill_error("read", e))?);
                    self.row = 0;
                }
                None => {
                    self.reader = None;
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One day's events, merged from memory and its runs.
pub struct DayEvents {
    cursors: Vec<Cursor>,
    /// The derived id given last: (time, base id, number), so copies of
    /// one event are numbered across chunks.
    last_derived: Option<(i64, String, u32)>,
    /// Keeps the spill directory until the day's runs are read.
    _dir: Option<Arc<SpillDir>>,
}

impl DayEvents {
    /// Up to `max` more events in order, stopping once they hold
    /// `max_bytes` (at least one event); `None` at the end. A day has a
    /// run per spill, few enough that a linear pick of the least head is
    /// cheaper than a heap's bookkeeping; a day with one run is sliced.
    pub fn next_chunk(&mut self, max: usize, max_bytes: usize) -> Result<Option<RecordBatch>> {
        self.cursors.retain(|c| !c.done());
        let chunk = match self.cursors.len() {
            0 => return Ok(None),
            1 => self.slice(max.max(1), max_bytes)?,
            _ => self.merge(max.max(1), max_bytes)?,
        };
        self.number_derived(chunk).map(Some)
    }

    /// The next rows of the one run left: a slice, or a chunk copied in
    /// order.
    fn slice(&mut self, max: usize, max_bytes: usize) -> Result<RecordBatch> {
        let cursor = &mut self.cursors[0];
        let start = cursor.row;
        let mut end = cursor.sorted.len().min(start + max);
        if cursor.sorted.bytes(start, end) > max_bytes {
            // The fewest rows (at least one) that reach the bound.
            let (mut lo, mut hi) = (start + 1, end);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if cursor.sorted.bytes(start, mid) >= max_bytes {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            end = lo;
        }
        cursor.row = end;
        let chunk = cursor.sorted.take(start, end)?;
        cursor.refill()?;
        Ok(chunk)
    }

    fn merge(&mut self, max: usize, max_bytes: usize) -> Result<RecordBatch> {
        let mut batches: Vec<RecordBatch> = Vec::new();
        // Where each cursor's current batch is in `batches`.
        let mut slot: Vec<Option<usize>> = vec![None; self.cursors.len()];
        let mut picks: Vec<(usize, usize)> = Vec::new();
        let mut bytes = 0;
        while picks.len() < max && bytes < max_bytes {
            let mut least: Option<usize> = None;
            for (i, c) in self.cursors.iter().enumerate() {
                if c.done() {
                    continue;
                }
                if least.is_none_or(|l| c.cmp(&self.cursors[l]) == Ordering::Less) {
                    least = Some(i);
                }
            }
            let Some(i) = least else { break };
            let cursor = &mut self.cursors[i];
            let index = *slot[i].get_or_insert_with(|| {
                batches.push(cursor.sorted.batch.clone());
                batches.len() - 1
            });
            let row = cursor.sorted.row(cursor.row);
            picks.push((index, row));
            bytes += range_bytes(&cursor.sorted.batch, row, row + 1);
            cursor.row += 1;
            if cursor.done() {
                cursor.refill()?;
                slot[i] = None;
            }
        }
        let sources: Vec<&RecordBatch> = batches.iter().collect();
        interleave_record_batch(&sources, &picks)
            .map_err(|e| ConnectorError::Archive(format!("cannot merge a day's runs: {e}")))
    }

    /// Numbers the derived ids of `chunk`: copies of one event (same
    /// stream, time, ingestion time and message) share a base id and are
    /// told apart by their place among the copies, `-1`, `-2`, ... Copies
    /// sort next to each other, so a day's copies are numbered alike by
    /// every run that reads the day.
    fn number_derived(&mut self, chunk: RecordBatch) -> Result<RecordBatch> {
        let ids = chunk.column(EVENT_ID).as_string::<i32>();
        if !ids.iter().flatten().any(is_derived_id) {
            return Ok(chunk);
        }
        let times = chunk
            .column(TIME)
            .as_primitive::<TimestampMillisecondType>();
        let mut numbered =
            StringBuilder::with_capacity(ids.len(), ids.values().len() + 4 * ids.len());
        for row in 0..ids.len() {
            let id = ids.value(row);
            if !is_derived_id(id) {
                numbered.append_value(id);
                continue;
            }
            let time = times.value(row);
            let n = match &mut self.last_derived {
                Some((t, base, n)) if *t == time && base == id => {
                    *n += 1;
                    *n
                }
                last => {
                    *last = Some((time, id.to_string(), 1));
                    1
                }
            };
            let _ = write!(numbered, "{id}-{n}");
            numbered.append_value("");
        }
        let mut columns = chunk.columns().to_vec();
        columns[EVENT_ID] = Arc::new(numbered.finish());
        RecordBatch::try_new(chunk.schema(), columns)
            .map_err(|e| ConnectorError::Archive(format!("cannot number derived ids: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn event(stream: &str, ms: i64) -> LogEvent {
        LogEvent {
            stream: Arc::from(stream),
            timestamp_ms: ms,
            ingestion_ms: (ms % 3 != 0).then_some(ms + 1),
            message: format!("m{ms}"),
            event_id: None,
        }
    }

    fn read_all(merge: &mut DayEvents, max: usize) -> Vec<RecordBatch> {
        let mut chunks = Vec::new();
        while let Some(chunk) = merge.next_chunk(max, usize::MAX).unwrap() {
            assert!(chunk.num_rows() <= max && chunk.num_rows() > 0);
            chunks.push(chunk);
        }
        chunks
    }

    #[test]
    fn days_come_back_whole_and_in_order_across_spills() {
        let day = Day::parse("2026-11-24").unwrap();
        let next = day.next();
        let one = event("s0", 0);
        let mut buffers =
            DayBuffers::with_limit("test", 7 * (one.message.len() + 2 + 2 + ROW_OVERHEAD));
        let mut expected: BTreeMap<Day, Vec<(i64, String)>> = BTreeMap::new();
        // Stream by stream, as moto returns them: each stream in order,
        // the streams interleaving the days.
        for s in 0..5 {
            for i in (0..30).rev() {
                let ms = if i % 2 == 0 {
                    day.start_ms()
                } else {
                    next.start_ms()
                } + i * 1000;
                let id = format!("{s}-{i}");
                buffers.push(&event(&format!("s{s}"), ms), &id).unwrap();
                expected.entry(Day::of_ms(ms)).or_default().push((ms, id));
            }
        }
        assert_eq!(buffers.total(), 150);
        assert!(buffers.spilled_files() >= 20, "{}", buffers.spilled_files());
        for (d, mut want) in expected {
            want.sort();
            let mut merge = buffers.take_day(d).unwrap();
            let mut got = Vec::new();
            for chunk in read_all(&mut merge, 4) {
                let times = chunk
                    .column(TIME)
                    .as_primitive::<TimestampMillisecondType>();
                let ids = chunk.column(EVENT_ID).as_string::<i32>();
                let messages = chunk.column(MESSAGE).as_string::<i32>();
                let streams = chunk.column(LOG_STREAM).as_string::<i32>();
                let ingestion = chunk
                    .column(TIME + 1)
                    .as_primitive::<TimestampMillisecondType>();
                for row in 0..chunk.num_rows() {
                    let ms = times.value(row);
                    let id = ids.value(row).to_string();
                    // What was spilled reads back as it was written.
                    assert_eq!(messages.value(row), format!("m{ms}"));
                    assert_eq!(streams.value(row), format!("s{}", &id[..1]));
                    assert_eq!(ingestion.is_valid(row), ms % 3 != 0);
                    got.push((ms, id));
                }
            }
            assert_eq!(got, want);
        }
        assert!(buffers
            .take_day(day.next().next())
            .unwrap()
            .next_chunk(10, usize::MAX)
            .unwrap()
            .is_none());
    }

    #[test]
    fn chunks_stop_at_their_byte_bound() {
        let day = Day::parse("2026-11-24").unwrap();
        let mut buffers = DayBuffers::new("bytes");
        for i in 0..10 {
            buffers
                .push(&event("s", day.start_ms() + i), &format!("{i:02}"))
                .unwrap();
        }
        let mut merge = buffers.take_day(day).unwrap();
        let first = merge.next_chunk(100, 1).unwrap().unwrap();
        assert_eq!(first.num_rows(), 1, "at least one event, then the bound");
        let rest = merge.next_chunk(100, usize::MAX).unwrap().unwrap();
        assert_eq!(rest.num_rows(), 9);
    }

    #[test]
    fn copies_of_an_event_are_numbered_across_chunks_and_spills() {
        let day = Day::parse("2026-11-24").unwrap();
        let base = format!("h{}", "ab".repeat(16));
        assert!(is_derived_id(&base));
        let mut buffers = DayBuffers::with_limit("copies", 3 * (base.len() + 10 + ROW_OVERHEAD));
        let t = day.start_ms() + 7;
        // Five copies in one millisecond, a CloudWatch id between them.
        for _ in 0..5 {
            buffers.push(&event("s", t), &base).unwrap();
        }
        buffers.push(&event("s", t + 1), "123").unwrap();
        assert!(buffers.spilled_files() > 0);
        let mut merge = buffers.take_day(day).unwrap();
        let ids: Vec<String> = read_all(&mut merge, 2)
            .iter()
            .flat_map(|c| {
                let ids = c.column(EVENT_ID).as_string::<i32>();
                (0..c.num_rows())
                    .map(|r| ids.value(r).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let want: Vec<String> = (1..=5)
            .map(|n| format!("{base}-{n}"))
            .chain(["123".to_string()])
            .collect();
        assert_eq!(ids, want);
    }

    #[test]
    fn the_spill_directory_goes_with_the_buffers() {
        let day = Day::parse("2026-11-24").unwrap();
        let mut buffers = DayBuffers::with_limit("gone", 1);
        for i in 0..5 {
            buffers
                .push(&event("s", day.start_ms() + i), &i.to_string())
                .unwrap();
        }
        let dir = buffers.dir.as_ref().unwrap().0.clone();
        assert!(dir.exists());
        let merge = buffers.take_day(day).unwrap();
        drop(buffers);
        assert!(dir.exists(), "a day being merged keeps its runs");
        drop(merge);
        assert!(!dir.exists());
    }
}
