//! `--format table`: an aligned table for people, printed as rows arrive.
//!
//! Column widths come from the first [`LAYOUT_ROWS`] rows (fewer if their
//! text passes [`LAYOUT_BYTES`], or if the caller releases them early): those rows are held, then printed with the
//! header, and every later row is printed as it arrives with the same
//! widths. So a table of any length needs bounded memory and its first
//! lines appear before the query ends; the price is that a later cell wider
//! than its column is cut to it (when cutting) or pushes the rest of its
//! line to the right (when not). Rows of a slow query are not held for
//! long: the caller releases them after a while ([`ResultWriter::release`]).
//!
//! NULL prints as `NULL` (inside lists and structs too) and an empty
//! string as nothing; tabs, newlines and other control characters print as
//! escapes (`\t`, `\n`, `\x1b`) so each row is one line. On a terminal,
//! cells are cut with `…` so a line fits its width
//! ([`TableOptions::max_width`]); to a file or a pipe nothing is cut.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Instant;

use arrow::array::{Array, RecordBatch};
use arrow::buffer::NullBuffer;
use arrow::datatypes::SchemaRef;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::text::{self, escape_into, pad, push_cut};
use super::{arrow_error, output_error, ResultWriter};
use crate::error::Result;

/// Rows held to size the columns.
pub const LAYOUT_ROWS: usize = 1000;
/// Bytes of cell text held to size the columns: a thousand 1 MiB messages
/// must not be held.
pub const LAYOUT_BYTES: usize = 1 << 20;

/// What a NULL prints as, unlike an empty string (which prints as nothing).
const NULL: &str = "NULL";

/// Columns each cell costs beyond its text: `| ` before, ` ` after.
const CELL_OVERHEAD: usize = 3;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// Cut cells so every line fits this many columns (a terminal's
    /// width); `None` prints every cell in full.
    pub max_width: Option<usize>,
}

pub struct TableWriter<W> {
    out: W,
    options: TableOptions,
    /// The column names, escaped.
    header: Vec<String>,
    /// Rows held until the widths are known, their cells escaped.
    held: Vec<Vec<String>>,
    held_bytes: usize,
    /// When the first held row came.
    held_since: Option<Instant>,
    /// Known once the held rows are printed.
    widths: Option<Vec<usize>>,
    line: String,
    scratch: String,
}

impl<W: Write> TableWriter<W> {
    pub fn new(out: W, schema: SchemaRef, options: TableOptions) -> Self {
        let header = schema
            .fields()
            .iter()
            .map(|f| {
                let mut name = String::new();
                escape_into(f.name(), &mut name);
                name
            })
            .collect();
        TableWriter {
            out,
            options,
            header,
            held: Vec::new(),
            held_bytes: 0,
            held_since: None,
            widths: None,
            line: String::new(),
            scratch: String::new(),
        }
    }

    /// Fixes the widths from the header and the held rows, and prints both.
    fn lay_out(&mut self) -> Result<()> {
        let mut natural: Vec<usize> = self.header.iter().map(|h| text::width(h)).collect();
        for row in &self.held {
            for (w, cell) in natural.iter_mut().zip(row) {
                *w = (*w).max(text::width(cell));
            }
        }
        let widths = match self.options.max_width {
            Some(total) => text::fit(&natural, total, CELL_OVERHEAD),
            None => natural,
        };
        self.widths = Some(widths);
        self.border()?;
        let header = std::mem::take(&mut self.header);
        self.row(&header)?;
        self.border()?;
        for row in std::mem::take(&mut self.held) {
            self.row(&row)?;
        }
        self.held_bytes = 0;
        self.held_since = None;
        Ok(())
    }

    fn border(&mut self) -> Result<()> {
        let widths = self.widths.as_deref().unwrap_or_default();
        self.line.clear();
        self.line.push('+');
        for w in widths {
            self.line.extend(std::iter::repeat_n('-', w + 2));
            self.line.push('+');
        }
        self.line.push('\n');
        self.out
            .write_all(self.line.as_bytes())
            .map_err(output_error)
    }

    fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<()> {
        let widths = self.widths.as_deref().unwrap_or_default();
        self.line.clear();
        self.line.push('|');
        for (cell, &w) in cells.iter().zip(widths) {
            let cell = cell.as_ref();
            self.line.push(' ');
            if self.options.max_width.is_some() {
                push_cut(&mut self.line, cell, w);
            } else {
                self.line.push_str(cell);
                pad(&mut self.line, w.saturating_sub(text::width(cell)));
            }
            self.line.push_str(" |");
        }
        self.line.push('\n');
        self.out
            .write_all(self.line.as_bytes())
            .map_err(output_error)
    }
}

/// Appends the text of `row` of one column: `NULL`, or the value escaped.
fn push_cell(
    out: &mut String,
    scratch: &mut String,
    formatter: &ArrayFormatter<'_>,
    nulls: Option<&NullBuffer>,
    row: usize,
) -> Result<()> {
    if nulls.is_some_and(|n| n.is_null(row)) {
        out.push_str(NULL);
        return Ok(());
    }
    scratch.clear();
    write!(scratch, "{}", formatter.value(row)).map_err(|_| {
        arrow_error(arrow::error::ArrowError::CastError(format!(
            "cannot format the value of row {row}"
        )))
    })?;
    escape_into(scratch, out);
    Ok(())
}

impl<W: Write> ResultWriter for TableWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        // NULL inside lists and structs too: `[1, NULL]`, not `[1, ]`.
        let options = FormatOptions::new().with_null(NULL);
        let formatters = batch
            .columns()
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options).map_err(arrow_error))
            .collect::<Result<Vec<_>>>()?;
        let nulls: Vec<Option<NullBuffer>> =
            batch.columns().iter().map(|a| a.logical_nulls()).collect();
        let mut cells = vec![String::new(); formatters.len()];
        for row in 0..batch.num_rows() {
            for (c, cell) in cells.iter_mut().enumerate() {
                cell.clear();
                push_cell(
                    cell,
                    &mut self.scratch,
                    &formatters[c],
                    nulls[c].as_ref(),
                    row,
                )?;
            }
            if self.widths.is_some() {
                self.row(&cells)?;
                continue;
            }
            self.held_since.get_or_insert_with(Instant::now);
            self.held_bytes += cells.iter().map(String::len).sum::<usize>();
            self.held.push(cells.clone());
            if self.held.len() >= LAYOUT_ROWS || self.held_bytes >= LAYOUT_BYTES {
                self.lay_out()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.widths.is_none() {
            self.lay_out()?;
        }
        self.border()?;
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(output_error)
    }

    fn holding_since(&self) -> Option<Instant> {
        self.held_since
    }

    fn release(&mut self) -> Result<()> {
        if self.widths.is_none() && !self.held.is_empty() {
            self.lay_out()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, Int64Builder, ListBuilder, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::super::tests::write_all;
    use super::super::Format;
    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let schema = Schema::new(
            columns
                .iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    fn table(batches: &[RecordBatch], max_width: Option<usize>) -> String {
        write_all(
            Format::Table,
            &batches[0].schema(),
            batches,
            TableOptions { max_width },
        )
    }

    #[test]
    fn null_and_empty_string_differ() {
        let b = batch(vec![
            (
                "s",
                Arc::new(StringArray::from(vec![Some(""), None, Some("x")])),
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![None, Some(1), Some(22)])),
            ),
        ]);
        assert_eq!(
            table(&[b], None),
            "+------+------+\n\
             | s    | n    |\n\
             +------+------+\n\
             |      | NULL |\n\
             | NULL | 1    |\n\
             | x    | 22   |\n\
             +------+------+\n"
        );
    }

    #[test]
    fn null_inside_a_list_is_null_too() {
        let mut list = ListBuilder::new(Int64Builder::new());
        list.values().append_value(1);
        list.values().append_null();
        list.append(true);
        let b = batch(vec![("l", Arc::new(list.finish()))]);
        assert!(table(&[b], None).contains("| [1, NULL] |"));
    }

    #[test]
    fn control_characters_keep_rows_on_one_line() {
        let b = batch(vec![
            (
                "message",
                Arc::new(StringArray::from(vec!["a\tb", "line1\nline2", "\x1b[2J"])),
            ),
            ("n", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        ]);
        assert_eq!(
            table(&[b], None),
            "+--------------+---+\n\
             | message      | n |\n\
             +--------------+---+\n\
             | a\\tb         | 1 |\n\
             | line1\\nline2 | 2 |\n\
             | \\x1b[2J      | 3 |\n\
             +--------------+---+\n"
        );
    }

    #[test]
    fn cuts_cells_to_the_width_only_when_asked() {
        let long = "x".repeat(50);
        let b = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1]))),
            ("message", Arc::new(StringArray::from(vec![long.as_str()]))),
        ]);
        let cut = table(std::slice::from_ref(&b), Some(30));
        let dashes = "-".repeat(23);
        assert_eq!(
            cut,
            format!(
                "+----+{dashes}+\n| id | message{} |\n+----+{dashes}+\n| 1  | {}… |\n+----+{dashes}+\n",
                " ".repeat(14),
                "x".repeat(20)
            )
        );
        for line in cut.lines() {
            assert_eq!(text::width(line), 30, "{line}");
        }
        let full = table(&[b], None);
        assert!(full.contains(&format!("| 1  | {long} |")), "{full}");
    }

    #[test]
    fn later_rows_keep_the_widths_of_the_first() {
        let first: Vec<String> = (0..LAYOUT_ROWS).map(|i| format!("r{}", i % 10)).collect();
        let b1 = batch(vec![("m", Arc::new(StringArray::from(first)))]);
        let b2 = batch(vec![(
            "m",
            Arc::new(StringArray::from(vec!["much longer"])),
        )]);
        let cut = table(&[b1.clone(), b2.clone()], Some(80));
        assert!(cut.starts_with("+----+\n| m  |\n+----+\n| r0 |\n"), "{cut}");
        assert!(cut.ends_with("| r9 |\n| m… |\n+----+\n"), "{cut}");
        let full = table(&[b1, b2], None);
        assert!(
            full.ends_with("| r9 |\n| much longer |\n+----+\n"),
            "{full}"
        );
    }

    #[test]
    fn released_rows_fix_the_widths() {
        let b1 = batch(vec![("m", Arc::new(StringArray::from(vec!["ab"])))]);
        let b2 = batch(vec![("m", Arc::new(StringArray::from(vec!["abcd"])))]);
        let mut out = Vec::new();
        {
            let mut w = TableWriter::new(&mut out, b1.schema(), TableOptions::default());
            assert!(w.holding_since().is_none());
            w.write(&b1).unwrap();
            assert!(w.holding_since().is_some());
            w.release().unwrap();
            assert!(w.holding_since().is_none());
            w.write(&b2).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "+----+\n| m  |\n+----+\n| ab |\n| abcd |\n+----+\n"
        );
    }

    #[test]
    fn held_rows_are_bounded_in_bytes() {
        let big = "y".repeat(LAYOUT_BYTES / 2);
        let b = batch(vec![(
            "m",
            Arc::new(StringArray::from(vec![big.as_str(), big.as_str(), "z"])),
        )]);
        let mut out = Vec::new();
        let mut w = TableWriter::new(&mut out, b.schema(), TableOptions::default());
        w.write(&b).unwrap();
        assert!(
            w.widths.is_some(),
            "two half-MiB cells must end the holding"
        );
        assert!(w.held.is_empty());
    }
}
