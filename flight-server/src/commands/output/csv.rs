//! `--format csv`: RFC 4180 CSV, one record per row, a header row first.
//!
//! Arrow's CSV writer refuses lists, maps and structs, and a query on
//! `tags` or `regexp_match(...)` is ordinary here; such a value is written
//! as its JSON text in the cell (the same JSON as `--format json`), so any
//! CSV reader plus a JSON parser gets it back. Scalars are formatted as
//! Arrow's own writers format them (timestamps as RFC 3339). NULL is an
//! empty field and an empty string is `""`, as PostgreSQL's CSV does.

use std::fmt::Write as _;
use std::io::Write;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use arrow::json::writer::{make_encoder, EncoderOptions, NullableEncoder};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{arrow_error, output_error, ResultWriter};
use crate::error::Result;

pub struct CsvWriter<W> {
    out: W,
    schema: SchemaRef,
    header_written: bool,
    /// One record's bytes, reused from row to row.
    line: Vec<u8>,
    /// One cell's text, reused.
    cell: String,
    json: Vec<u8>,
}

/// How one column's values become cell text.
enum Column<'a> {
    Scalar(ArrayFormatter<'a>),
    Json(NullableEncoder<'a>),
}

impl<W: Write> CsvWriter<W> {
    pub fn new(out: W, schema: SchemaRef) -> Self {
        CsvWriter {
            out,
            schema,
            header_written: false,
            line: Vec::new(),
            cell: String::new(),
            json: Vec::new(),
        }
    }

    fn header(&mut self) -> Result<()> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        self.line.clear();
        for (i, field) in self.schema.fields().iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            push_field(&mut self.line, field.name());
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(output_error)
    }
}

impl<W: Write> ResultWriter for CsvWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.header()?;
        let json_options = EncoderOptions::default().with_explicit_nulls(true);
        let format = FormatOptions::new();
        let fields = batch.schema_ref().fields().clone();
        let mut columns = Vec::with_capacity(batch.num_columns());
        let mut nulls = Vec::with_capacity(batch.num_columns());
        for (field, array) in fields.iter().zip(batch.columns()) {
            nulls.push(array.logical_nulls());
            columns.push(if array.data_type().is_nested() {
                Column::Json(
                    make_encoder(field, array.as_ref(), &json_options).map_err(arrow_error)?,
                )
            } else {
                Column::Scalar(
                    ArrayFormatter::try_new(array.as_ref(), &format).map_err(arrow_error)?,
                )
            });
        }
        for row in 0..batch.num_rows() {
            self.line.clear();
            for (i, column) in columns.iter_mut().enumerate() {
                if i > 0 {
                    self.line.push(b',');
                }
                if nulls[i].as_ref().is_some_and(|n| n.is_null(row)) {
                    continue;
                }
                match column {
                    Column::Scalar(f) => {
                        self.cell.clear();
                        write!(self.cell, "{}", f.value(row))
                            .map_err(|_| arrow_error(format_failed(row)))?;
                        push_field(&mut self.line, &self.cell);
                    }
                    Column::Json(encoder) => {
                        self.json.clear();
                        encoder.encode(row, &mut self.json);
                        // The encoder writes UTF-8 JSON text.
                        push_field(&mut self.line, &String::from_utf8_lossy(&self.json));
                    }
                }
            }
            self.line.push(b'\n');
            self.out.write_all(&self.line).map_err(output_error)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.header()?;
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(output_error)
    }
}

fn format_failed(row: usize) -> arrow::error::ArrowError {
    arrow::error::ArrowError::CastError(format!("cannot format the value of row {row}"))
}

/// Appends one field, quoted when it holds a comma, a quote or a line
/// break (quotes doubled), or when it is the empty string.
fn push_field(line: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let needs_quotes = bytes.is_empty()
        || memchr::memchr3(b',', b'"', b'\n', bytes).is_some()
        || memchr::memchr(b'\r', bytes).is_some();
    if !needs_quotes {
        line.extend_from_slice(text.as_bytes());
        return;
    }
    line.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            line.push(b'"');
        }
        line.push(b);
    }
    line.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Int32Array, ListBuilder, MapBuilder, StringArray, StringBuilder,
        TimestampMillisecondArray,
    };
    use arrow::datatypes::{Field, Schema};

    use super::super::tests::write_all;
    use super::super::{Format, TableOptions};
    use super::*;

    fn one_column(name: &str, array: ArrayRef) -> RecordBatch {
        let field = Field::new(name, array.data_type().clone(), true);
        RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![array]).unwrap()
    }

    fn csv(batch: RecordBatch) -> String {
        write_all(
            Format::Csv,
            &batch.schema(),
            &[batch],
            TableOptions::default(),
        )
    }

    #[test]
    fn quotes_only_what_needs_it() {
        let values = StringArray::from(vec![
            Some("plain"),
            Some("a,b"),
            Some("say \"hi\""),
            Some("two\nlines"),
            Some(""),
            None,
            Some(" padded "),
        ]);
        assert_eq!(
            csv(one_column("m", Arc::new(values))),
            "m\nplain\n\"a,b\"\n\"say \"\"hi\"\"\"\n\"two\nlines\"\n\"\"\n\n padded \n"
        );
    }

    #[test]
    fn header_names_are_quoted_too() {
        let batch = one_column("count(a,b)", Arc::new(Int32Array::from(vec![1])));
        assert_eq!(csv(batch), "\"count(a,b)\"\n1\n");
    }

    #[test]
    fn nested_values_are_json_in_the_cell() {
        let mut tags = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        tags.keys().append_value("team");
        tags.values().append_value("a,b");
        tags.keys().append_value("env");
        tags.values().append_null();
        tags.append(true).unwrap();
        tags.append(true).unwrap(); // {}
        tags.append(false).unwrap(); // NULL
        assert_eq!(
            csv(one_column("tags", Arc::new(tags.finish()))),
            "tags\n\"{\"\"team\"\":\"\"a,b\"\",\"\"env\"\":null}\"\n{}\n\n"
        );

        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("9");
        list.values().append_null();
        list.append(true);
        list.append(false);
        assert_eq!(
            csv(one_column("r", Arc::new(list.finish()))),
            "r\n\"[\"\"9\"\",null]\"\n\n"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_as_before() {
        let times = TimestampMillisecondArray::from(vec![1_764_800_613_771, 1_764_800_613_000])
            .with_timezone("UTC");
        assert_eq!(
            csv(one_column("time", Arc::new(times))),
            "time\n2025-12-03T22:23:33.771Z\n2025-12-03T22:23:33Z\n"
        );
    }
}
