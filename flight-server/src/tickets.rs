//! Stateless tickets and prepared-statement handles.
//!
//! A handle carries everything DoGet needs (the SQL and any bound parameter
//! row as Arrow IPC), so the server keeps no per-statement state: nothing to
//! leak, nothing lost on restart, and any replica can serve a ticket. The
//! statement is planned again in DoGet, which is cheap next to reading logs.

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use datafusion::common::{ParamValues, ScalarValue};
use prost::Message;

use crate::error::{Result, ServerError};

/// Marks our handles so foreign or corrupted bytes are refused early.
const MAGIC: &[u8] = b"logflight.v1:";
/// Refuse absurd handles before decoding them.
const MAX_HANDLE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, PartialEq, Message)]
pub struct QueryHandle {
    #[prost(string, tag = "1")]
    pub sql: String,
    /// One row of parameter values, Arrow IPC stream encoded.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub params: Option<Vec<u8>>,
}

impl QueryHandle {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: None,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        self.encode(&mut out).expect("a Vec grows as needed");
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_HANDLE_BYTES {
            return Err(ServerError::InvalidTicket(format!(
                "handle of {} bytes is larger than the {MAX_HANDLE_BYTES} allowed",
                bytes.len()
            )));
        }
        let body = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| ServerError::InvalidTicket("not a logflight statement handle".into()))?;
        QueryHandle::decode(body)
            .map_err(|e| ServerError::InvalidTicket(format!("corrupted statement handle: {e}")))
    }

    /// Binds the parameters of a DoPut: exactly one row.
    pub fn with_params(mut self, batches: &[RecordBatch]) -> Result<Self> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows != 1 {
            return Err(ServerError::InvalidParameters(format!(
                "a query takes exactly one row of parameters, got {rows}"
            )));
        }
        let batch = batches
            .iter()
            .find(|b| b.num_rows() == 1)
            .expect("one row in total");
        let mut out = Vec::new();
        let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref())?;
        writer.write(batch)?;
        writer.finish()?;
        drop(writer);
        self.params = Some(out);
        Ok(self)
    }

    /// The bound parameters as DataFusion positional values (`$1`, `$2`, ...).
    pub fn param_values(&self) -> Result<Option<ParamValues>> {
        let Some(bytes) = &self.params else {
            return Ok(None);
        };
        let reader = StreamReader::try_new(bytes.as_slice(), None)
            .map_err(|e| ServerError::InvalidTicket(format!("corrupted parameters: {e}")))?;
        let mut values = Vec::new();
        if let Some(batch) = reader.into_iter().next() {
            let batch = batch
                .map_err(|e| ServerError::InvalidTicket(format!("corrupted parameters: {e}")))?;
            for column in batch.columns() {
                values.push(ScalarValue::try_from_array(column.as_ref(), 0)?);
            }
        }
        Ok(Some(ParamValues::from(values)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn handles_round_trip_with_parameters() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("$1", DataType::Utf8, true),
            Field::new("$2", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(Int64Array::from(vec![7])),
            ],
        )
        .unwrap();
        let handle = QueryHandle::new("SELECT $1, $2")
            .with_params(&[batch])
            .unwrap();
        let back = QueryHandle::from_bytes(&handle.to_bytes()).unwrap();
        assert_eq!(back, handle);
        let ParamValues::List(values) = back.param_values().unwrap().unwrap() else {
            panic!("positional values expected")
        };
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].value, ScalarValue::Utf8(Some("a".into())));
        assert_eq!(values[1].value, ScalarValue::Int64(Some(7)));
    }

    #[test]
    fn foreign_or_broken_bytes_are_refused() {
        for bytes in [
            &b""[..],
            b"SELECT 1",
            b"logflight.v1:\xff\xff\xff",
            &[0u8; 40],
        ] {
            assert!(matches!(
                QueryHandle::from_bytes(bytes),
                Err(ServerError::InvalidTicket(_))
            ));
        }
    }
}
