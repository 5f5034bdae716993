//! A window's events in bounded memory: held per day, and past
//! [`SPILL_EVENTS`] sorted and written to local run files, then given back
//! per day in (time, id) order by merging the runs.
//!
//! FilterLogEvents interleaves streams as it likes (moto returns them
//! stream by stream), so a day is only known whole when the last page of
//! the read that covers it is in. Holding what came, within a memory bound,
//! is what lets one paginated read span many days: empty days cost no call
//! of their own and pages stay full across day boundaries.
//!
//! Runs live in a directory under the system's temporary directory
//! (`TMPDIR`), removed when the buffers are dropped. They are never part
//! of the archive: a run killed while holding them loses nothing committed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use super::layout::Day;
use super::part::{batch_of, events_of, ArchivedEvent, PART_SCHEMA};
use crate::error::{ConnectorError, Result};

/// Events held in memory before they are spilled to runs.
pub const SPILL_EVENTS: usize = 50_000;
/// Rows per batch of a run file; a day's merge holds one batch per run.
const RUN_BATCH_ROWS: usize = 1_024;

fn sort(events: &mut [ArchivedEvent]) {
    events
        .sort_unstable_by(|a, b| (a.event.timestamp_ms, &a.id).cmp(&(b.event.timestamp_ms, &b.id)));
}

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

/// The events of one read, by day.
pub struct DayBuffers {
    tag: String,
    dir: Option<Arc<SpillDir>>,
    memory: BTreeMap<Day, Vec<ArchivedEvent>>,
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
        Self::with_limit(tag, SPILL_EVENTS)
    }

    fn with_limit(tag: &str, limit: usize) -> Self {
        Self {
            tag: tag.to_string(),
            dir: None,
            memory: BTreeMap::new(),
            held: 0,
            runs: BTreeMap::new(),
            counts: BTreeMap::new(),
            files: 0,
            limit: limit.max(1),
        }
    }

    pub fn push(&mut self, event: ArchivedEvent) -> Result<()> {
        let day = Day::of_ms(event.event.timestamp_ms);
        self.memory.entry(day).or_default().push(event);
        *self.counts.entry(day).or_default() += 1;
        self.held += 1;
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
        for (day, mut events) in std::mem::take(&mut self.memory) {
            sort(&mut events);
            let path = dir.0.join(format!("{}-{}.arrow", day.text(), self.files));
            self.files += 1;
            let file = File::create(&path).map_err(|e| spill_error("create", e))?;
            let mut writer = FileWriter::try_new(BufWriter::new(file), &PART_SCHEMA)
                .map_err(|e| spill_error("start", e))?;
            for chunk in events.chunks(RUN_BATCH_ROWS) {
                writer
                    .write(&batch_of(chunk)?)
                    .map_err(|e| spill_error("write", e))?;
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
        let mut memory = self.memory.remove(&day).unwrap_or_default();
        self.held -= memory.len();
        sort(&mut memory);
        let mut sources = vec![Source::Memory(memory.into_iter())];
        for path in self.runs.remove(&day).unwrap_or_default() {
            let file = File::open(&path).map_err(|e| spill_error("open", e))?;
            let reader = FileReader::try_new(BufReader::new(file), None)
                .map_err(|e| spill_error("read", e))?;
            sources.push(Source::Run {
                reader: Box::new(reader),
                batch: Vec::new().into_iter(),
                path,
            });
        }
        let mut merge = DayEvents {
            heads: Vec::with_capacity(sources.len()),
            sources,
            _dir: self.dir.clone(),
        };
        for i in 0..merge.sources.len() {
            let head = merge.sources[i].next()?;
            merge.heads.push(head);
        }
        Ok(merge)
    }
}

enum Source {
    Memory(std::vec::IntoIter<ArchivedEvent>),
    Run {
        /// Boxed: an IPC reader is ten times an in-memory iterator.
        reader: Box<FileReader<BufReader<File>>>,
        batch: std::vec::IntoIter<ArchivedEvent>,
        path: PathBuf,
    },
}

impl Source {
    fn next(&mut self) -> Result<Option<ArchivedEvent>> {
        match self {
            Source::Memory(events) => Ok(events.next()),
            Source::Run { reader, batch, .. } => loop {
                if let Some(event) = batch.next() {
                    return Ok(Some(event));
                }
                match reader.next() {
                    Some(read) => {
                        let read = read.map_err(|e| spill_error("read", e))?;
                        *batch = events_of(&read).into_iter();
                    }
                    None => return Ok(None),
                }
            },
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Source::Run { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One day's events, merged from memory and its runs.
pub struct DayEvents {
    sources: Vec<Source>,
    heads: Vec<Option<ArchivedEvent>>,
    /// Keeps the spill directory until the day's runs are read.
    _dir: Option<Arc<SpillDir>>,
}

impl DayEvents {
    /// Up to `max` more events, in order; empty at the end. A day has a
    /// run per spill, few enough that a linear pick of the least head is
    /// cheaper than a heap's bookkeeping.
    pub fn next_chunk(&mut self, max: usize) -> Result<Vec<ArchivedEvent>> {
        let mut out = Vec::with_capacity(max.min(RUN_BATCH_ROWS * 8));
        while out.len() < max {
            let mut least: Option<usize> = None;
            for (i, head) in self.heads.iter().enumerate() {
                let Some(event) = head else { continue };
                let better = least.is_none_or(|l| {
                    let other = self.heads[l].as_ref().expect("a head");
                    (event.event.timestamp_ms, &event.id) < (other.event.timestamp_ms, &other.id)
                });
                if better {
                    least = Some(i);
                }
            }
            let Some(i) = least else { break };
            let next = self.sources[i].next()?;
            let event = std::mem::replace(&mut self.heads[i], next).expect("a head");
            out.push(event);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogEvent;

    fn event(stream: &str, ms: i64, id: &str) -> ArchivedEvent {
        ArchivedEvent {
            event: LogEvent {
                stream: Arc::from(stream),
                timestamp_ms: ms,
                ingestion_ms: (ms % 3 != 0).then_some(ms + 1),
                message: format!("m{ms}"),
                event_id: None,
            },
            id: id.to_string(),
        }
    }

    #[test]
    fn days_come_back_whole_and_in_order_across_spills() {
        let day = Day::parse("2026-11-24").unwrap();
        let next = day.next();
        let mut buffers = DayBuffers::with_limit("test", 7);
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
                buffers.push(event(&format!("s{s}"), ms, &id)).unwrap();
                expected.entry(Day::of_ms(ms)).or_default().push((ms, id));
            }
        }
        assert_eq!(buffers.total(), 150);
        assert!(buffers.spilled_files() >= 20, "{}", buffers.spilled_files());
        for (d, mut want) in expected {
            want.sort();
            let mut merge = buffers.take_day(d).unwrap();
            let mut got = Vec::new();
            loop {
                let chunk = merge.next_chunk(4).unwrap();
                if chunk.is_empty() {
                    break;
                }
                assert!(chunk.len() <= 4);
                got.extend(chunk);
            }
            let keys: Vec<(i64, String)> = got
                .iter()
                .map(|e| (e.event.timestamp_ms, e.id.clone()))
                .collect();
            assert_eq!(keys, want);
            // What was spilled reads back as it was written.
            for e in &got {
                assert_eq!(e.event.message, format!("m{}", e.event.timestamp_ms));
                let ms = e.event.timestamp_ms;
                assert_eq!(e.event.ingestion_ms, (ms % 3 != 0).then_some(ms + 1));
                assert_eq!(e.event.stream.as_ref(), format!("s{}", &e.id[..1]));
            }
        }
        let empty = buffers
            .take_day(day.next().next())
            .unwrap()
            .next_chunk(10)
            .unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn the_spill_directory_goes_with_the_buffers() {
        let day = Day::parse("2026-11-24").unwrap();
        let mut buffers = DayBuffers::with_limit("gone", 2);
        for i in 0..5 {
            buffers
                .push(event("s", day.start_ms() + i, &i.to_string()))
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
