//! `--format json`: one JSON object per row (JSON lines).
//!
//! Every column is a key of every object, NULL written as `null`: a reader
//! that finds a key missing cannot tell a NULL from a column it did not ask
//! for, and tools like `jq` treat the two differently.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::json::writer::{LineDelimited, Writer, WriterBuilder};

use super::{arrow_error, output_error, ResultWriter};
use crate::error::Result;

pub struct JsonLinesWriter<W: Write> {
    inner: Writer<W, LineDelimited>,
}

impl<W: Write> JsonLinesWriter<W> {
    pub fn new(out: W) -> Self {
        JsonLinesWriter {
            inner: WriterBuilder::new().with_explicit_nulls(true).build(out),
        }
    }
}

impl<W: Write> ResultWriter for JsonLinesWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.inner.write(batch).map_err(arrow_error)
    }

    fn finish(&mut self) -> Result<()> {
        self.inner.finish().map_err(arrow_error)?;
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        self.inner.get_mut().flush().map_err(output_error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int32Array, ListBuilder, StringArray, StringBuilder};
    use arrow::datatypes::{Field, Schema};

    use super::super::tests::write_all;
    use super::super::{Format, TableOptions};
    use super::*;

    #[test]
    fn nulls_are_written_as_null() {
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("9");
        list.values().append_null();
        list.append(true);
        list.append(false);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some(""), None])),
            Arc::new(Int32Array::from(vec![None, Some(30)])),
            Arc::new(list.finish()),
        ];
        let schema = Arc::new(Schema::new(
            ["s", "n", "r"]
                .iter()
                .zip(&columns)
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        assert_eq!(
            write_all(Format::Json, &schema, &[batch], TableOptions::default()),
            "{\"s\":\"\",\"n\":null,\"r\":[\"9\",null]}\n{\"s\":null,\"n\":30,\"r\":null}\n"
        );
    }
}
