//! Part files: Parquet of archived events, sorted by time, and the event
//! ids a day's parts already hold.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringBuilder, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use bytes::Bytes;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::arrow::async_writer::AsyncFileWriter;
use datafusion::parquet::arrow::{
    AsyncArrowWriter, ParquetRecordBatchStreamBuilder, ProjectionMask,
};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::statistics::Statistics;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::commit::{ContentHash, PartFile};
use super::store::ArchiveRoot;
use crate::error::{ConnectorError, Result};
use crate::model::{LogEvent, TimeRange};

/// Rows per row group: large enough for fast scans, small enough that a
/// time range reads little more than it needs.
pub const ROW_GROUP_ROWS: usize = 100_000;

pub const LOG_STREAM: usize = 0;
pub const TIME: usize = 1;
pub const EVENT_ID: usize = 4;

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The columns of a part (the group and day are in its path).
pub static PART_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("log_stream", DataType::Utf8, false),
        Field::new("time", timestamp(), false),
        Field::new("ingestion_time", timestamp(), true),
        Field::new("message", DataType::Utf8, false),
        Field::new("event_id", DataType::Utf8, false),
    ]))
});

/// An event with the id the archive knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedEvent {
    pub event: LogEvent,
    pub id: String,
}

/// Gives the events of one read their ids: CloudWatch's `eventId` where
/// the source gives one, else an id derived from the event's content,
/// numbered when the same content repeats. A repeat can only happen within
/// one millisecond of one stream, and reads are cut at millisecond
/// boundaries, so every read that holds one copy holds all of them and
/// numbers them alike.
#[derive(Debug, Default)]
pub struct IdMaker {
    seen: std::collections::HashMap<[u8; 16], u32>,
}

impl IdMaker {
    pub fn archived(&mut self, mut event: LogEvent) -> ArchivedEvent {
        // The id moves out of the event: it is kept once, in `id`.
        let id = match event.event_id.take() {
            Some(id) => id,
            None => {
                let mut h = Sha256::new();
                h.update(event.stream.as_bytes());
                h.update([0]);
                h.update(event.timestamp_ms.to_be_bytes());
                h.update(event.ingestion_ms.unwrap_or(-1).to_be_bytes());
                h.update(event.message.as_bytes());
                let mut key = [0u8; 16];
                key.copy_from_slice(&h.finalize()[..16]);
                let n = self.seen.entry(key).or_default();
                *n += 1;
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                format!("h{hex}-{n}")
            }
        };
        ArchivedEvent { event, id }
    }
}

/// The events of one read with their ids (see [`IdMaker`]).
pub fn with_ids(events: Vec<LogEvent>) -> Vec<ArchivedEvent> {
    let mut ids = IdMaker::default();
    events.into_iter().map(|e| ids.archived(e)).collect()
}

pub(super) fn batch_of(events: &[ArchivedEvent]) -> Result<RecordBatch> {
    let mut streams = StringBuilder::new();
    let mut messages = StringBuilder::new();
    let mut ids = StringBuilder::new();
    for e in events {
        streams.append_value(e.event.stream.as_ref());
        messages.append_value(&e.event.message);
        ids.append_value(&e.id);
    }
    let time =
        TimestampMillisecondArray::from_iter_values(events.iter().map(|e| e.event.timestamp_ms))
            .with_timezone("UTC");
    let ingestion = TimestampMillisecondArray::from(
        events
            .iter()
            .map(|e| e.event.ingestion_ms)
            .collect::<Vec<_>>(),
    )
    .with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        Arc::new(streams.finish()),
        Arc::new(time),
        Arc::new(ingestion),
        Arc::new(messages.finish()),
        Arc::new(ids.finish()),
    ];
    RecordBatch::try_new(Arc::clone(&PART_SCHEMA), columns)
        .map_err(|e| ConnectorError::Archive(format!("cannot build a part batch: {e}")))
}

/// The events of a batch of [`PART_SCHEMA`] (a spilled run read back).
pub(super) fn events_of(batch: &RecordBatch) -> Vec<ArchivedEvent> {
    let streams = batch.column(LOG_STREAM).as_string::<i32>();
    let times = batch
        .column(TIME)
        .as_primitive::<TimestampMillisecondType>();
    let ingestion = batch
        .column(TIME + 1)
        .as_primitive::<TimestampMillisecondType>();
    let messages = batch.column(TIME + 2).as_string::<i32>();
    let ids = batch.column(EVENT_ID).as_string::<i32>();
    // Runs hold one group's events: few stream names, shared again.
    let mut names: std::collections::HashMap<&str, Arc<str>> = Default::default();
    (0..batch.num_rows())
        .map(|row| {
            let stream = names
                .entry(streams.value(row))
                .or_insert_with(|| Arc::from(streams.value(row)));
            ArchivedEvent {
                event: LogEvent {
                    stream: Arc::clone(stream),
                    timestamp_ms: times.value(row),
                    ingestion_ms: ingestion.is_valid(row).then(|| ingestion.value(row)),
                    message: messages.value(row).to_string(),
                    event_id: None,
                },
                id: ids.value(row).to_string(),
            }
        })
        .collect()
}

/// The bytes and SHA-256 of what went through a writer.
#[derive(Debug, Default)]
struct Written {
    sha: Sha256,
    bytes: u64,
}

/// A writer to the store (a multipart upload past its buffer) that
/// hashes what it writes.
struct Hashing {
    inner: BufWriter,
    written: Arc<Mutex<Written>>,
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileWriter for Hashing {
    fn write(&mut self, bs: Bytes) -> BoxFuture<'_, Result<(), ParquetError>> {
        {
            let mut w = self.written.lock().expect("hash lock");
            w.sha.update(&bs);
            w.bytes += bs.len() as u64;
        }
        async move { self.inner.write_all(&bs).await.map_err(external) }.boxed()
    }

    fn complete(&mut self) -> BoxFuture<'_, Result<(), ParquetError>> {
        async move { self.inner.shutdown().await.map_err(external) }.boxed()
    }
}

/// Reads a part's byte ranges from the store.
struct PartReader {
    store: Arc<dyn ObjectStore>,
    location: Path,
    size: u64,
}

impl AsyncFileReader for PartReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        async move {
            self.store
                .get_range(&self.location, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>, ParquetError>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .load_and_finish(&mut *self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// One part being written: created on its first events, sorted by the
/// caller (slices come in time order, each sorted).
pub struct PartWriter {
    root: ArchiveRoot,
    staged: Path,
    final_path: Path,
    writer: Option<AsyncArrowWriter<Hashing>>,
    written: Arc<Mutex<Written>>,
    rows: u64,
    min_time: i64,
    max_time: i64,
    content: ContentHash,
}

impl PartWriter {
    pub fn new(root: &ArchiveRoot, staged: Path, final_path: Path) -> Self {
        Self {
            root: root.clone(),
            staged,
            final_path,
            writer: None,
            written: Arc::default(),
            rows: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
            content: ContentHash::default(),
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends events; they must be sorted by time and later than those
    /// written before.
    pub async fn write(&mut self, events: &[ArchivedEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        if self.writer.is_none() {
            let properties = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("level 3")))
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .build();
            let sink = Hashing {
                inner: BufWriter::new(Arc::clone(self.root.store()), self.staged.clone()),
                written: Arc::clone(&self.written),
            };
            let writer =
                AsyncArrowWriter::try_new(sink, Arc::clone(&PART_SCHEMA), Some(properties))
                    .map_err(|e| ConnectorError::Archive(format!("cannot start a part: {e}")))?;
            self.writer = Some(writer);
        }
        for e in events {
            self.content.add(&e.id);
            self.min_time = self.min_time.min(e.event.timestamp_ms);
            self.max_time = self.max_time.max(e.event.timestamp_ms);
        }
        self.rows += events.len() as u64;
        let batch = batch_of(events)?;
        self.writer
            .as_mut()
            .expect("just set")
            .write(&batch)
            .await
            .map_err(|e| ConnectorError::Archive(format!("cannot write a part: {e}")))
    }

    /// Closes the staged part; `None` when it received no events (nothing
    /// was created).
    pub async fn finish(self) -> Result<Option<(PartFile, ContentHash)>> {
        let Some(writer) = self.writer else {
            return Ok(None);
        };
        writer
            .close()
            .await
            .map_err(|e| ConnectorError::Archive(format!("cannot finish a part: {e}")))?;
        let written = std::mem::take(&mut *self.written.lock().expect("hash lock"));
        let sha256 = written
            .sha
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Some((
            PartFile {
                path: self.final_path.to_string(),
                staged: self.staged.to_string(),
                rows: self.rows,
                bytes: written.bytes,
                sha256,
                min_time_ms: self.min_time,
                max_time_ms: self.max_time,
            },
            self.content,
        )))
    }
}

/// Where a committed part can be read: its final path, or its staged copy
/// while a stopped run's copy is missing.
pub async fn readable(root: &ArchiveRoot, part: &PartFile) -> Result<Path> {
    let final_path = Path::parse(&part.path)
        .map_err(|e| ConnectorError::Archive(format!("bad part path {}: {e}", part.path)))?;
    match root.store().head(&final_path).await {
        Ok(_) => Ok(final_path),
        Err(object_store::Error::NotFound { .. }) => Path::parse(&part.staged)
            .map_err(|e| ConnectorError::Archive(format!("bad staged path {}: {e}", part.staged))),
        Err(e) => Err(root.error("look for a part", &e)),
    }
}

/// The ids of the events of `parts` whose time is in `range`; reads only
/// the row groups whose time statistics meet the range.
pub async fn ids_in(
    root: &ArchiveRoot,
    parts: &[PartFile],
    range: TimeRange,
) -> Result<HashSet<String>> {
    let mut ids = HashSet::new();
    for part in parts {
        let overlaps = range.start.is_none_or(|s| part.max_time_ms >= s)
            && range.end.is_none_or(|e| part.min_time_ms <= e);
        if !overlaps || part.rows == 0 {
            continue;
        }
        let location = readable(root, part).await?;
        let reader = PartReader {
            store: Arc::clone(root.store()),
            location,
            size: part.bytes,
        };
        let builder =
            ParquetRecordBatchStreamBuilder::new_with_options(reader, ArrowReaderOptions::new())
                .await
                .map_err(|e| {
                    ConnectorError::Archive(format!("cannot open part {}: {e}", part.path))
                })?;
        let metadata = builder.metadata().clone();
        let groups: Vec<usize> = (0..metadata.num_row_groups())
            .filter(|&i| match metadata.row_group(i).column(TIME).statistics() {
                Some(Statistics::Int64(s)) => {
                    let (min, max) = (s.min_opt().copied(), s.max_opt().copied());
                    range
                        .start
                        .is_none_or(|start| max.is_none_or(|m| m >= start))
                        && range.end.is_none_or(|end| min.is_none_or(|m| m <= end))
                }
                _ => true,
            })
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), [TIME, EVENT_ID]);
        let mut stream = builder
            .with_row_groups(groups)
            .with_projection(mask)
            .build()
            .map_err(|e| ConnectorError::Archive(format!("cannot read part {}: {e}", part.path)))?;
        while let Some(batch) = stream
            .try_next()
            .await
            .map_err(|e| ConnectorError::Archive(format!("cannot read part {}: {e}", part.path)))?
        {
            let times = batch.column(0).as_primitive::<TimestampMillisecondType>();
            let event_ids = batch.column(1).as_string::<i32>();
            for row in 0..batch.num_rows() {
                if range.contains(times.value(row)) {
                    ids.insert(event_ids.value(row).to_string());
                }
            }
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::layout::{part_path, staged_path, Day};

    fn event(stream: &str, ms: i64, message: &str, id: Option<&str>) -> LogEvent {
        LogEvent {
            stream: Arc::from(stream),
            timestamp_ms: ms,
            ingestion_ms: Some(ms + 5),
            message: message.into(),
            event_id: id.map(str::to_string),
        }
    }

    #[test]
    fn ids_come_from_cloudwatch_or_from_the_content() {
        let events = vec![
            event("s", 1, "a", Some("cw-1")),
            event("s", 2, "b", None),
            event("s", 2, "b", None),
            event("t", 2, "b", None),
        ];
        let ids: Vec<String> = with_ids(events.clone()).into_iter().map(|e| e.id).collect();
        assert_eq!(ids[0], "cw-1");
        assert!(ids[1].ends_with("-1") && ids[2].ends_with("-2"), "{ids:?}");
        assert_eq!(ids[1][..ids[1].len() - 2], ids[2][..ids[2].len() - 2]);
        assert_ne!(ids[1][..33], ids[3][..33], "another stream, another id");
        // The same events read again get the same ids.
        let again: Vec<String> = with_ids(events).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, again);
    }

    #[tokio::test]
    async fn a_part_holds_its_events_and_their_ids_by_time() {
        let root = ArchiveRoot::in_memory();
        let day = Day::parse("2026-11-24").unwrap();
        let staged = staged_path("c", "/g", day, "r1");
        let mut writer = PartWriter::new(&root, staged.clone(), part_path("c", "/g", day, "r1"));
        let start = day.start_ms();
        let first: Vec<_> = (0..10)
            .map(|i| event("s", start + i, "m", Some(&format!("id{i}"))))
            .collect();
        writer.write(&with_ids(first)).await.unwrap();
        let second: Vec<_> = (10..20)
            .map(|i| event("s", start + i, "m", Some(&format!("id{i}"))))
            .collect();
        writer.write(&with_ids(second)).await.unwrap();
        let (part, content) = writer.finish().await.unwrap().unwrap();
        assert_eq!(
            (part.rows, part.min_time_ms, part.max_time_ms),
            (20, start, start + 19)
        );
        assert_eq!(part.sha256.len(), 64);
        let mut expected = ContentHash::default();
        (0..20).for_each(|i| expected.add(&format!("id{i}")));
        assert_eq!(content, expected);
        // The final copy is missing: the staged one is read.
        let ids = ids_in(
            &root,
            std::slice::from_ref(&part),
            TimeRange::new(Some(start + 5), Some(start + 12)),
        )
        .await
        .unwrap();
        let mut ids: Vec<_> = ids.into_iter().collect();
        ids.sort();
        assert_eq!(
            ids,
            ["id10", "id11", "id12", "id5", "id6", "id7", "id8", "id9"]
        );
        let empty = PartWriter::new(&root, staged, part_path("c", "/g", day, "r2"));
        assert!(empty.finish().await.unwrap().is_none());
    }
}
