//! Printing results of `logflight query`.

use std::io::Write;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table for people
    Table,
    /// CSV with a header row
    Csv,
    /// One JSON object per line
    Json,
}

/// Writes a result; an empty one still shows its columns (a table header,
/// a CSV header row), so "no rows" never looks like "no answer".
pub fn write_batches(
    out: &mut dyn Write,
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), ArrowError> {
    let empty;
    let batches = if batches.iter().all(|b| b.num_rows() == 0) {
        empty = [RecordBatch::new_empty(Arc::clone(schema))];
        &empty[..]
    } else {
        batches
    };
    match format {
        Format::Table => {
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches_with_schema(
                    Arc::clone(schema),
                    batches
                )?
            )?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::LineDelimitedWriter::new(out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch() -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("g", DataType::Utf8, false),
                Field::new("n", DataType::Int64, false),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["/a", "/b"])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn formats() {
        let cases = [
            (Format::Csv, "g,n\n/a,1\n/b,2\n"),
            (
                Format::Json,
                "{\"g\":\"/a\",\"n\":1}\n{\"g\":\"/b\",\"n\":2}\n",
            ),
        ];
        let schema = batch().schema();
        for (format, want) in cases {
            let mut out = Vec::new();
            write_batches(&mut out, format, &schema, &[batch()]).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        let mut out = Vec::new();
        write_batches(&mut out, Format::Table, &schema, &[batch()]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("| /a | 1 |"), "{text}");
    }

    #[test]
    fn empty_results_show_their_columns() {
        let schema = batch().schema();
        let empty = RecordBatch::new_empty(Arc::clone(&schema));
        for batches in [vec![], vec![empty]] {
            let mut out = Vec::new();
            write_batches(&mut out, Format::Table, &schema, &batches).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("| g | n |"), "{text}");
            let mut out = Vec::new();
            write_batches(&mut out, Format::Csv, &schema, &batches).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), "g,n\n");
            let mut out = Vec::new();
            write_batches(&mut out, Format::Json, &schema, &batches).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), "");
        }
    }
}
