//! Part files: Parquet of archived events, sorted by time, and the event
//! ids a day's parts already hold.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use bytes::Bytes;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::arrow::async_writer::AsyncFileWriter;
use datafusion::parquet::arrow::{
    AsyncArrowWriter, ParquetRecordBatchStreamBuilder, ProjectionMask,
};
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::file::statistics::Statistics;
use datafusion::parquet::schema::types::ColumnPath;
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
/// And at most this many encoded bytes.
pub const ROW_GROUP_BYTES: usize = 128 << 20;

pub const LOG_STREAM: usize = 0;
pub const TIME: usize = 1;
pub const MESSAGE: usize = 3;
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

/// The id the archive knows `event` by: CloudWatch's `eventId` where the
/// source gives one (FilterLogEvents), else the base of an id derived from
/// the event's content (GetLogEvents, for Infrequent Access groups), which
/// the day's merge numbers (`-1`, `-2`, ...) to tell identical copies
/// apart. Copies can only share one millisecond of one stream, so every
/// read of a day holds all of them and numbers them alike.
pub fn archive_id(event: &LogEvent) -> Cow<'_, str> {
    if let Some(id) = &event.event_id {
        return Cow::Borrowed(id);
    }
    let mut h = Sha256::new();
    h.update(event.stream.as_bytes());
    h.update([0]);
    h.update(event.timestamp_ms.to_be_bytes());
    h.update(event.ingestion_ms.unwrap_or(-1).to_be_bytes());
    h.update(event.message.as_bytes());
    let mut id = String::with_capacity(DERIVED_LEN);
    id.push('h');
    for b in &h.finalize()[..16] {
        let _ = write!(id, "{b:02x}");
    }
    Cow::Owned(id)
}

/// Length of a derived base id: `h` and 32 hex digits. CloudWatch's ids
/// are decimal digits, so the two never meet.
const DERIVED_LEN: usize = 33;

/// True for the base of a derived id (not yet numbered).
pub fn is_derived_id(id: &str) -> bool {
    id.len() == DERIVED_LEN && id.starts_with('h') && id[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The ids of a day's events as a run gives them: CloudWatch's, or
/// derived and numbered among their copies.
pub fn event_ids(events: &[LogEvent]) -> Vec<String> {
    let mut copies: std::collections::HashMap<String, u32> = Default::default();
    events
        .iter()
        .map(|event| match archive_id(event) {
            Cow::Borrowed(id) => id.to_string(),
            Cow::Owned(base) => {
                let n = copies.entry(base.clone()).or_default();
                *n += 1;
                format!("{base}-{n}")
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

/// How parts are encoded. Times, messages and event ids are nearly all
/// distinct: a dictionary for them is built and then thrown away at every
/// row group, so it is off, and the min/max statistics of messages and ids
/// prune nothing (`LIKE '%x%'` cannot use them), so those are off too. What zstd is given is
/// made small first, since compressing is most of what writing a part
/// costs: times (sorted) as packed deltas, messages as their bytes with
/// the lengths packed apart, event ids (CloudWatch's are 56 digits, and
/// neighbours share most of them) as what each adds to the one before.
/// `log_stream` (few values) keeps its dictionary, and the time columns
/// their statistics, which prune row groups and pages. Every encoding is
/// one of Parquet's own, read by Athena, Trino, Spark, DuckDB and pyarrow.
fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        // The writer holds a row group until it is full: large events end
        // it sooner, so memory stays bounded whatever they weigh.
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES));
    let encodings = [
        ("time", Encoding::DELTA_BINARY_PACKED),
        ("ingestion_time", Encoding::DELTA_BINARY_PACKED),
        ("message", Encoding::PLAIN),
        ("event_id", Encoding::DELTA_BYTE_ARRAY),
    ];
    for (column, encoding) in encodings {
        // A dictionary, where enabled, comes before the encoding set here.
        builder = builder
            .set_column_encoding(ColumnPath::from(column), encoding)
            .set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for column in ["message", "event_id"] {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    builder.build()
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

    /// Appends a batch of [`PART_SCHEMA`]; its rows must be sorted by time
    /// and later than those written before.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.writer.is_none() {
            let properties = writer_properties();
            let sink = Hashing {
                inner: BufWriter::new(Arc::clone(self.root.store()), self.staged.clone()),
                written: Arc::clone(&self.written),
            };
            let writer =
                AsyncArrowWriter::try_new(sink, Arc::clone(&PART_SCHEMA), Some(properties))
                    .map_err(|e| ConnectorError::Archive(format!("cannot start a part: {e}")))?;
            self.writer = Some(writer);
        }
        let ids = batch.column(EVENT_ID).as_string::<i32>();
        for id in ids.iter().flatten() {
            self.content.add(id);
        }
        let times = batch
            .column(TIME)
            .as_primitive::<TimestampMillisecondType>();
        self.min_time = self.min_time.min(times.value(0));
        self.max_time = self.max_time.max(times.value(times.len() - 1));
        self.rows += batch.num_rows() as u64;
        self.writer
            .as_mut()
            .expect("just set")
            .write(batch)
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

    /// A part batch of events with CloudWatch ids.
    fn batch(events: &[LogEvent]) -> RecordBatch {
        use arrow::array::{ArrayRef, StringArray, TimestampMillisecondArray};
        let strings = |f: &dyn Fn(&LogEvent) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(events.iter().map(f)))
        };
        let times = |f: &dyn Fn(&LogEvent) -> Option<i64>| -> ArrayRef {
            Arc::new(
                TimestampMillisecondArray::from_iter(events.iter().map(f)).with_timezone("UTC"),
            )
        };
        RecordBatch::try_new(
            Arc::clone(&PART_SCHEMA),
            vec![
                strings(&|e| e.stream.to_string()),
                times(&|e| Some(e.timestamp_ms)),
                times(&|e| e.ingestion_ms),
                strings(&|e| e.message.clone()),
                strings(&|e| e.event_id.clone().unwrap()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn ids_come_from_cloudwatch_or_from_the_content() {
        let events = vec![
            event("s", 1, "a", Some("cw-1")),
            event("s", 2, "b", None),
            event("s", 2, "b", None),
            event("t", 2, "b", None),
        ];
        let ids = event_ids(&events);
        assert_eq!(ids[0], "cw-1");
        assert!(ids[1].ends_with("-1") && ids[2].ends_with("-2"), "{ids:?}");
        assert_eq!(ids[1][..ids[1].len() - 2], ids[2][..ids[2].len() - 2]);
        assert_ne!(ids[1][..33], ids[3][..33], "another stream, another id");
        // The same events read again get the same ids.
        assert_eq!(ids, event_ids(&events));
        assert!(is_derived_id(&archive_id(&events[1])));
        assert!(!is_derived_id("cw-1") && !is_derived_id(&ids[1]));
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
        writer.write(&batch(&first)).await.unwrap();
        let second: Vec<_> = (10..20)
            .map(|i| event("s", start + i, "m", Some(&format!("id{i}"))))
            .collect();
        writer.write(&batch(&second)).await.unwrap();
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
