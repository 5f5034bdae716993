//! Typing Logs Insights rows: Logs Insights answers with (field, text)
//! pairs, so each column's type is inferred from every one of its values.
//! `@timestamp` is a timestamp, a field whose values all parse as integers is
//! Int64, as numbers Float64, anything else text.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::TimestampMillisecondArray;
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::error::ArrowError;

use crate::time::{civil_from_days, DAY_MS};

/// The inferred type of one result field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Timestamp,
    Int,
    Float,
    Text,
}

/// `@timestamp` as Logs Insights prints it (`2026-11-25 10:00:00.123`, UTC)
/// or as epoch milliseconds (what emulators send).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let (date, time) = text.trim().split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.trim_end_matches('Z');
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let days = days_from_civil(y, mo, day);
    // Round-trip check: refuses dates such as February 30.
    if civil_from_days(days) != (y, mo as u32, day as u32) {
        return None;
    }
    Some(days * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000 + ms)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn kind_of<'a>(field: &str, values: impl Iterator<Item = &'a str> + Clone) -> Kind {
    let mut present = values.clone().peekable();
    if present.peek().is_none() {
        return Kind::Text;
    }
    if field == "@timestamp" && values.clone().all(|v| parse_timestamp(v).is_some()) {
        return Kind::Timestamp;
    }
    if values.clone().all(|v| v.parse::<i64>().is_ok()) {
        return Kind::Int;
    }
    if values
        .clone()
        .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite))
    {
        return Kind::Float;
    }
    Kind::Text
}

/// The rows as one batch: a column per field in order of first appearance
/// (`@ptr`, an opaque handle, left out), NULL where a row lacks the field.
pub fn to_batch(rows: &[Vec<(String, String)>]) -> std::result::Result<RecordBatch, ArrowError> {
    let mut names: Vec<&str> = Vec::new();
    let mut by_row: Vec<HashMap<&str, &str>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut map = HashMap::with_capacity(row.len());
        for (field, value) in row {
            if field == "@ptr" {
                continue;
            }
            if !names.contains(&field.as_str()) {
                names.push(field);
            }
            map.insert(field.as_str(), value.as_str());
        }
        by_row.push(map);
    }
    let mut fields = Vec::with_capacity(names.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(names.len());
    for name in &names {
        let cells: Vec<Option<&str>> = by_row.iter().map(|r| r.get(name).copied()).collect();
        let values = cells.iter().flatten().copied();
        let (data_type, column): (DataType, ArrayRef) = match kind_of(name, values) {
            Kind::Timestamp => (
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                Arc::new(
                    cells
                        .iter()
                        .map(|c| c.and_then(parse_timestamp))
                        .collect::<TimestampMillisecondArray>()
                        .with_timezone("UTC"),
                ),
            ),
            Kind::Int => (
                DataType::Int64,
                Arc::new(
                    cells
                        .iter()
                        .map(|c| c.and_then(|v| v.parse::<i64>().ok()))
                        .collect::<Int64Array>(),
                ),
            ),
            Kind::Float => (
                DataType::Float64,
                Arc::new(
                    cells
                        .iter()
                        .map(|c| c.and_then(|v| v.parse::<f64>().ok()))
                        .collect::<Float64Array>(),
                ),
            ),
            Kind::Text => (
                DataType::Utf8,
                Arc::new(cells.iter().copied().collect::<StringArray>()),
            ),
        };
        fields.push(Field::new(*name, data_type, true));
        columns.push(column);
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};

    fn row(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn timestamps_in_both_notations() {
        let cases = [
            ("2026-11-25 10:00:00.123", Some(1_795_600_800_123)),
            ("2026-11-25 10:00:00.000", Some(1_795_600_800_000)),
            ("2026-11-25T10:00:00Z", Some(1_795_600_800_000)),
            ("2026-11-25 10:00:00.5", Some(1_795_600_800_500)),
            ("1795600800123", Some(1_795_600_800_123)),
            ("1970-01-01 00:00:00.000", Some(0)),
            ("2024-02-29 00:00:00.000", Some(1_709_164_800_000)),
            ("2026-02-30 00:00:00.000", None),
            ("2026-13-01 00:00:00.000", None),
            ("2026-11-25 25:00:00.000", None),
            ("yesterday", None),
            ("", None),
            ("2026-11-25", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), want, "{text}");
        }
    }

    #[test]
    fn columns_are_typed_by_every_value() {
        let rows = vec![
            row(&[
                ("@timestamp", "2026-11-25 10:00:00.000"),
                ("count", "3"),
                ("avg", "2.5"),
                ("user", "alice"),
                ("@ptr", "xyz"),
            ]),
            row(&[
                ("@timestamp", "2026-11-25 10:00:01.000"),
                ("count", "12"),
                ("avg", "7"),
                ("user", "42"),
                ("late", "1"),
            ]),
        ];
        let batch = to_batch(&rows).unwrap();
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["@timestamp", "count", "avg", "user", "late"]);
        let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
        assert_eq!(ts.value(1) - ts.value(0), 1000);
        assert_eq!(
            batch.column(1).as_primitive::<Int64Type>().values(),
            &[3, 12]
        );
        assert_eq!(
            batch.column(2).as_primitive::<Float64Type>().values(),
            &[2.5, 7.0]
        );
        // One value is not a number: the whole column is text.
        assert_eq!(batch.column(3).as_string::<i32>().value(1), "42");
        // A field only some rows have is NULL in the others.
        let late = batch.column(4).as_primitive::<Int64Type>();
        assert!(late.is_null(0) && late.value(1) == 1);
    }

    #[test]
    fn empty_and_odd_results() {
        let batch = to_batch(&[]).unwrap();
        assert_eq!((batch.num_rows(), batch.num_columns()), (0, 0));
        let batch = to_batch(&[row(&[("x", "NaN")]), row(&[("x", "inf")])]).unwrap();
        assert_eq!(batch.schema().field(0).data_type(), &DataType::Utf8);
        let batch = to_batch(&[row(&[("@timestamp", "not a time")])]).unwrap();
        assert_eq!(batch.schema().field(0).data_type(), &DataType::Utf8);
    }
}
