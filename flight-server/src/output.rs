//! Printing results of `logflight query`.

use std::io::Write;

use arrow::array::RecordBatch;
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

pub fn write_batches(
    out: &mut dyn Write,
    format: Format,
    batches: &[RecordBatch],
) -> Result<(), ArrowError> {
    match format {
        Format::Table => {
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(batches)?
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
    use std::sync::Arc;

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
        for (format, want) in cases {
            let mut out = Vec::new();
            write_batches(&mut out, format, &[batch()]).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        let mut out = Vec::new();
        write_batches(&mut out, Format::Table, &[batch()]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("| /a | 1 |"), "{text}");
    }
}
