//! Printing the result of `logflight query`, batch by batch as it arrives.
//!
//! A result can be larger than memory (a month of a busy group), and a
//! reader can stop early (`| head`): each format writes a batch and lets it
//! go, so memory stays bounded and the query stops as soon as a write finds
//! the reader gone. Only the table holds rows back, a bounded number, to
//! size its columns (see [`table`]).

mod csv;
mod jsonl;
mod table;
mod text;

use std::io::Write;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use clap::ValueEnum;

use crate::error::{Result, ServerError};

pub use table::TableOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table for people (NULL shows as NULL, an empty string as nothing)
    Table,
    /// CSV with a header row; lists, maps and structs as JSON in the cell
    Csv,
    /// One JSON object per line, NULL as null
    Json,
}

/// A result being written: [`ResultWriter::write`] each batch, then
/// [`ResultWriter::finish`] once.
pub trait ResultWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Ends the result. An empty one still shows its columns (a table
    /// header, a CSV header row), so "no rows" never looks like "no answer".
    fn finish(&mut self) -> Result<()>;
    /// Hands what was written so far to the reader: rows appear as their
    /// batches arrive, and a reader that left is noticed at once.
    fn flush(&mut self) -> Result<()>;
    /// Since when rows are held back unprinted (the table's first rows,
    /// while its widths are unknown); `None` when nothing is held.
    fn holding_since(&self) -> Option<Instant> {
        None
    }
    /// Prints what is held now, so a slow query's first rows are not kept
    /// from the reader until a thousand more arrive.
    fn release(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The writer of `format` over `out`.
pub fn writer<'a, W: Write + 'a>(
    format: Format,
    schema: SchemaRef,
    out: W,
    table: TableOptions,
) -> Box<dyn ResultWriter + 'a> {
    match format {
        Format::Table => Box::new(table::TableWriter::new(out, schema, table)),
        Format::Csv => Box::new(csv::CsvWriter::new(out, schema)),
        Format::Json => Box::new(jsonl::JsonLinesWriter::new(out)),
    }
}

/// A failed write to the output, kept as such so a closed pipe is told
/// apart from a bad value.
fn output_error(err: std::io::Error) -> ServerError {
    ServerError::Output(err)
}

/// Arrow's writers report a failed write as an `IoError`; that one is the
/// output's, any other is about the data.
fn arrow_error(err: ArrowError) -> ServerError {
    match err {
        ArrowError::IoError(_, io) => ServerError::Output(io),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    pub(super) fn write_all(
        format: Format,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        table: TableOptions,
    ) -> String {
        let mut out = Vec::new();
        {
            let mut w = writer(format, Arc::clone(schema), &mut out, table);
            for b in batches {
                w.write(b).unwrap();
                w.flush().unwrap();
            }
            w.finish().unwrap();
        }
        String::from_utf8(out).unwrap()
    }

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
        let schema = batch().schema();
        let cases = [
            (Format::Csv, "g,n\n/a,1\n/b,2\n"),
            (
                Format::Json,
                "{\"g\":\"/a\",\"n\":1}\n{\"g\":\"/b\",\"n\":2}\n",
            ),
            (
                Format::Table,
                "+----+---+\n| g  | n |\n+----+---+\n| /a | 1 |\n| /b | 2 |\n+----+---+\n",
            ),
        ];
        for (format, want) in cases {
            let got = write_all(format, &schema, &[batch()], TableOptions::default());
            assert_eq!(got, want, "{format:?}");
        }
    }

    #[test]
    fn empty_results_show_their_columns() {
        let schema = batch().schema();
        let empty = RecordBatch::new_empty(Arc::clone(&schema));
        for batches in [vec![], vec![empty]] {
            let cases = [
                (
                    Format::Table,
                    "+---+---+\n| g | n |\n+---+---+\n+---+---+\n",
                ),
                (Format::Csv, "g,n\n"),
                (Format::Json, ""),
            ];
            for (format, want) in cases {
                let got = write_all(format, &schema, &batches, TableOptions::default());
                assert_eq!(got, want, "{format:?}");
            }
        }
    }

    /// A writer that fails as a pipe whose reader has gone.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_closed_pipe_is_reported_as_one() {
        let schema = batch().schema();
        for format in [Format::Table, Format::Csv, Format::Json] {
            let mut w = writer(
                format,
                Arc::clone(&schema),
                ClosedPipe,
                TableOptions::default(),
            );
            let err = w
                .write(&batch())
                .and_then(|()| w.flush())
                .and_then(|()| w.finish())
                .unwrap_err();
            assert!(err.is_closed_pipe(), "{format:?}: {err}");
        }
    }
}
