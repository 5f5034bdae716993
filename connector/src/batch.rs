//! Events to Arrow: the one place that knows the column layout.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMillisecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::source::LogEvent;

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
    pub fn build(&self, events: &[&LogEvent]) -> Result<RecordBatch, ArrowError> {
        let len = events.len();
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|column| -> ArrayRef {
                match column {
                    Column::LogGroup => {
                        let mut b = StringBuilder::with_capacity(len, len * self.group.len());
                        for _ in events {
                            b.append_value(&*self.group);
                        }
                        Arc::new(b.finish())
                    }
                    Column::LogStream => {
                        // Exact sizes up front: no regrowth of the value buffer.
                        let bytes = events.iter().map(|e| e.stream.len()).sum();
                        let mut b = StringBuilder::with_capacity(len, bytes);
                        for e in events {
                            b.append_value(&*e.stream);
                        }
                        Arc::new(b.finish())
                    }
                    Column::Time => {
                        let mut b =
                            TimestampMillisecondBuilder::with_capacity(len).with_timezone("UTC");
                        for e in events {
                            b.append_value(e.timestamp_ms);
                        }
                        Arc::new(b.finish())
                    }
                    Column::IngestionTime => {
                        let mut b =
                            TimestampMillisecondBuilder::with_capacity(len).with_timezone("UTC");
                        for e in events {
                            b.append_option(e.ingestion_ms);
                        }
                        Arc::new(b.finish())
                    }
                    Column::Message => {
                        let bytes = events.iter().map(|e| e.message.len()).sum();
                        let mut b = StringBuilder::with_capacity(len, bytes);
                        for e in events {
                            b.append_value(&e.message);
                        }
                        Arc::new(b.finish())
                    }
                }
            })
            .collect();
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(len));
        RecordBatch::try_new_with_options(self.schema(), arrays, &options)
    }
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
}
