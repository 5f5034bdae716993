//! Events to Arrow: the one place that knows the column layout.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::model::LogEvent;

pub const LOG_GROUP: &str = "log_group";
pub const LOG_STREAM: &str = "log_stream";
pub const TIME: &str = "time";
pub const INGESTION_TIME: &str = "ingestion_time";
pub const MESSAGE: &str = "message";

/// The columns of every log table, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    LogGroup,
    LogStream,
    Time,
    IngestionTime,
    Message,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::LogGroup,
        Column::LogStream,
        Column::Time,
        Column::IngestionTime,
        Column::Message,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::LogGroup => LOG_GROUP,
            Column::LogStream => LOG_STREAM,
            Column::Time => TIME,
            Column::IngestionTime => INGESTION_TIME,
            Column::Message => MESSAGE,
        }
    }

    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == name)
    }
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(LOG_GROUP, DataType::Utf8, false),
        Field::new(LOG_STREAM, DataType::Utf8, false),
        Field::new(TIME, timestamp_type(), false),
        Field::new(INGESTION_TIME, timestamp_type(), true),
        Field::new(MESSAGE, DataType::Utf8, false),
    ]))
});

/// The schema shared by every stream table and `all_log_streams`.
pub fn log_schema() -> SchemaRef {
    Arc::clone(&SCHEMA)
}

/// Builds batches of a projection of the log schema.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    group: Arc<str>,
    columns: Vec<Column>,
    schema: SchemaRef,
}

impl BatchBuilder {
    /// `projection` holds indices into [`log_schema`]; `None` means all columns.
    pub fn new(group: &str, projection: Option<&[usize]>) -> Result<Self, ArrowError> {
        let full = log_schema();
        let indices: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..Column::ALL.len()).collect(),
        };
        let schema = Arc::new(full.project(&indices)?);
        let columns = indices.iter().map(|&i| Column::ALL[i]).collect();
        Ok(Self {
            group: Arc::from(group),
            columns,
            schema,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// One batch from `events`; only the projected columns are built.
    ///
    /// Columns are written straight into exactly sized buffers rather than
    /// through array builders: the non-null columns need no validity bitmap,
    /// and a full scan spends much of its CPU here (docs/benchmarks.md).
    pub fn build(&self, events: &[&LogEvent]) -> Result<RecordBatch, ArrowError> {
        let len = events.len();
        let arrays = self
            .columns
            .iter()
            .map(|column| -> Result<ArrayRef, ArrowError> {
                Ok(match column {
                    Column::LogGroup => Arc::new(repeated_string(&self.group, len)?),
                    Column::LogStream => Arc::new(strings(events, |e| &e.stream)?),
                    Column::Time => Arc::new(
                        TimestampMillisecondArray::from_iter_values(
                            events.iter().map(|e| e.timestamp_ms),
                        )
                        .with_timezone("UTC"),
                    ),
                    Column::IngestionTime => {
                        let values: Vec<i64> =
                            events.iter().map(|e| e.ingestion_ms.unwrap_or(0)).collect();
                        let nulls = events.iter().any(|e| e.ingestion_ms.is_none()).then(|| {
                            NullBuffer::from_iter(events.iter().map(|e| e.ingestion_ms.is_some()))
                        });
                        Arc::new(
                            TimestampMillisecondArray::new(ScalarBuffer::from(values), nulls)
                                .with_timezone("UTC"),
                        )
                    }
                    Column::Message => Arc::new(strings(events, |e| &e.message)?),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(len));
        RecordBatch::try_new_with_options(self.schema(), arrays, &options)
    }
}

fn offset(bytes: usize) -> Result<i32, ArrowError> {
    i32::try_from(bytes).map_err(|_| {
        ArrowError::ComputeError(format!(
            "a batch of {bytes} bytes of text is over the 2 GiB of a string column"
        ))
    })
}

/// A non-null string column of `field(e)` for each event.
fn strings(
    events: &[&LogEvent],
    field: impl Fn(&LogEvent) -> &str,
) -> Result<StringArray, ArrowError> {
    let total = events.iter().map(|e| field(e).len()).sum();
    offset(total)?;
    let mut values = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(events.len() + 1);
    offsets.push(0i32);
    for e in events {
        values.extend_from_slice(field(e).as_bytes());
        // Cannot overflow: the total was checked above.
        offsets.push(values.len() as i32);
    }
    // SAFETY: offsets start at 0, never decrease and end at values.len(); every
    // slice between them is one whole `&str`, so valid UTF-8.
    Ok(unsafe {
        StringArray::new_unchecked(
            OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
            Buffer::from_vec(values),
            None,
        )
    })
}

/// A non-null string column holding `value` `len` times.
fn repeated_string(value: &str, len: usize) -> Result<StringArray, ArrowError> {
    let width = value.len();
    offset(width.saturating_mul(len))?;
    let offsets: Vec<i32> = (0..=len).map(|i| (i * width) as i32).collect();
    let values = value.as_bytes().repeat(len);
    // SAFETY: as in `strings`: each slice is a copy of `value`.
    Ok(unsafe {
        StringArray::new_unchecked(
            OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
            Buffer::from_vec(values),
            None,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::TimestampMillisecondType;

    fn event(stream: &str, ts: i64, msg: &str) -> LogEvent {
        LogEvent {
            stream: Arc::from(stream),
            timestamp_ms: ts,
            ingestion_ms: if ts % 2 == 0 { Some(ts + 5) } else { None },
            message: msg.into(),
            event_id: None,
        }
    }

    #[test]
    fn builds_projected_columns_only() {
        let events = [event("a", 10, "x"), event("b", 11, "yy")];
        let all = BatchBuilder::new("/g", None).unwrap();
        let batch = all.build(&events.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(batch.schema(), log_schema());
        assert_eq!(batch.column(0).as_string::<i32>().value(1), "/g");
        assert_eq!(batch.column(1).as_string::<i32>().value(1), "b");
        let ing = batch.column(3).as_primitive::<TimestampMillisecondType>();
        assert_eq!(ing.value(0), 15);
        assert!(ing.is_null(1));

        let only_time = BatchBuilder::new("/g", Some(&[2])).unwrap();
        let batch = only_time.build(&events.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(batch.num_columns(), 1);
        assert_eq!(batch.schema().field(0).name(), TIME);

        let none = BatchBuilder::new("/g", Some(&[])).unwrap();
        assert_eq!(
            none.build(&events.iter().collect::<Vec<_>>())
                .unwrap()
                .num_rows(),
            2
        );
    }

    #[test]
    fn columns_equal_arrow_built_arrays() {
        // Multi-byte text, empty strings, and ingestion times with and without nulls.
        let events = [
            event("s-é", 10, "ünïcödé ✓"),
            event("", 12, ""),
            event("s-2", 13, "plain"),
        ];
        let refs: Vec<&LogEvent> = events.iter().collect();
        let batch = BatchBuilder::new("/grüppe", None)
            .unwrap()
            .build(&refs)
            .unwrap();
        batch.column(4).to_data().validate_full().unwrap();
        let want = |v: Vec<&str>| StringArray::from(v);
        assert_eq!(
            batch.column(0).as_string::<i32>(),
            &want(vec!["/grüppe"; 3])
        );
        assert_eq!(
            batch.column(1).as_string::<i32>(),
            &want(vec!["s-é", "", "s-2"])
        );
        assert_eq!(
            batch.column(4).as_string::<i32>(),
            &want(vec!["ünïcödé ✓", "", "plain"])
        );
        let ing = batch.column(3).as_primitive::<TimestampMillisecondType>();
        assert_eq!(
            ing.iter().collect::<Vec<_>>(),
            vec![Some(15), Some(17), None]
        );
        let all_set = [event("a", 2, "x"), event("b", 4, "y")];
        let refs: Vec<&LogEvent> = all_set.iter().collect();
        let batch = BatchBuilder::new("/g", None).unwrap().build(&refs).unwrap();
        assert_eq!(batch.column(3).null_count(), 0);
        for c in batch.columns() {
            c.to_data().validate_full().unwrap();
        }
        let empty = BatchBuilder::new("/g", None).unwrap().build(&[]).unwrap();
        assert_eq!(empty.num_rows(), 0);
        for c in empty.columns() {
            c.to_data().validate_full().unwrap();
        }
    }
}
