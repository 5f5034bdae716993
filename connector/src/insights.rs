//! Logs Insights passthrough: a query in CloudWatch's own languages (Logs
//! Insights QL, OpenSearch SQL or PPL), run by StartQuery and read back as a
//! typed Arrow table.
//!
//! Logs Insights answers with rows of (field, text) pairs and at most 10,000
//! rows. Types are inferred here, from every value: `@timestamp` is a
//! timestamp, a field whose values all parse as integers is Int64, as
//! numbers Float64, anything else text. A result that reaches the row cap
//! without the caller having asked for that many rows is an error, never a
//! silently shorter answer.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::TimestampMillisecondArray;
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::error::ArrowError;

use crate::error::{ConnectorError, Result};
use crate::time::{civil_from_days, DAY_MS};

/// GetQueryResults returns at most this many rows.
pub const MAX_ROWS: usize = 10_000;

/// The language of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryLanguage {
    /// CloudWatch Logs Insights query language (`fields ... | filter ...`).
    LogsInsights,
    /// OpenSearch SQL; the log groups are named in the query's FROM.
    OpenSearchSql,
    /// OpenSearch PPL.
    OpenSearchPpl,
}

impl QueryLanguage {
    pub fn name(self) -> &'static str {
        match self {
            QueryLanguage::LogsInsights => "Logs Insights QL",
            QueryLanguage::OpenSearchSql => "OpenSearch SQL",
            QueryLanguage::OpenSearchPpl => "OpenSearch PPL",
        }
    }
}

/// One Logs Insights query, as StartQuery takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InsightsRequest {
    pub query: String,
    pub language: QueryLanguage,
    /// Log group names or ARNs; empty for OpenSearch SQL, which names them
    /// in the query.
    pub groups: Vec<String>,
    /// Epoch seconds, both inclusive (StartQuery's unit).
    pub start_s: i64,
    pub end_s: i64,
    /// Rows asked for; `None` means all of them, up to [`MAX_ROWS`].
    pub limit: Option<usize>,
}

impl InsightsRequest {
    /// Checks what StartQuery would refuse, with messages that say how to fix it.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ConnectorError::InvalidRequest(m));
        if self.query.trim().is_empty() {
            return bad("insights(): the query text is empty".into());
        }
        if self.start_s > self.end_s {
            return bad(format!(
                "insights(): the start ({}) is after the end ({})",
                self.start_s, self.end_s
            ));
        }
        if self.start_s < 0 {
            return bad("insights(): the start is before 1970".into());
        }
        if self.groups.is_empty() && self.language != QueryLanguage::OpenSearchSql {
            return bad(format!(
                "insights(): {} needs at least one log group",
                self.language.name()
            ));
        }
        if self.groups.len() > 50 {
            return bad(format!(
                "insights(): {} log groups; Logs Insights queries at most 50",
                self.groups.len()
            ));
        }
        if let Some(limit) = self.limit {
            if limit == 0 || limit > MAX_ROWS {
                return bad(format!(
                    "insights(): limit {limit} is outside 1..={MAX_ROWS}, what Logs Insights returns"
                ));
            }
        }
        Ok(())
    }
}

/// What a finished query returned: rows of (field, value) pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightsOutput {
    pub query_id: String,
    pub rows: Vec<Vec<(String, String)>>,
    /// Log events the query matched, when the API reports it.
    pub records_matched: Option<f64>,
}

/// Fails when the result was cut at the API's row cap rather than being
/// the whole answer (or the rows the caller asked for).
pub fn check_complete(request: &InsightsRequest, output: &InsightsOutput) -> Result<()> {
    if request.limit.is_none() && output.rows.len() >= MAX_ROWS {
        let matched = output
            .records_matched
            .map(|m| format!(" (it matched {m:.0} log events)"))
            .unwrap_or_default();
        return Err(ConnectorError::InvalidRequest(format!(
            "Logs Insights query {} reached its cap of {MAX_ROWS} rows{matched}, so its answer may be incomplete; \
             aggregate with stats, narrow the time range, or pass a limit of at most {MAX_ROWS} to accept the first rows",
            output.query_id
        )));
    }
    Ok(())
}

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

    fn request(limit: Option<usize>) -> InsightsRequest {
        InsightsRequest {
            query: "fields @message".into(),
            language: QueryLanguage::LogsInsights,
            groups: vec!["/g".into()],
            start_s: 0,
            end_s: 10,
            limit,
        }
    }

    #[test]
    fn the_row_cap_is_reported_not_hidden() {
        let full = InsightsOutput {
            query_id: "q-1".into(),
            rows: vec![row(&[("a", "1")]); MAX_ROWS],
            records_matched: Some(25_000.0),
        };
        let err = check_complete(&request(None), &full)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cap of 10000 rows") && err.contains("25000"),
            "{err}"
        );
        // Asking for the first 10,000 rows is an answer, not a truncation.
        check_complete(&request(Some(MAX_ROWS)), &full).unwrap();
        let short = InsightsOutput {
            rows: vec![row(&[("a", "1")]); 5],
            ..full
        };
        check_complete(&request(None), &short).unwrap();
    }

    #[test]
    fn requests_are_checked_before_any_call() {
        let cases: Vec<(InsightsRequest, &str)> = vec![
            (
                InsightsRequest {
                    query: " ".into(),
                    ..request(None)
                },
                "query text is empty",
            ),
            (
                InsightsRequest {
                    start_s: 20,
                    ..request(None)
                },
                "is after the end",
            ),
            (
                InsightsRequest {
                    groups: vec![],
                    ..request(None)
                },
                "needs at least one log group",
            ),
            (
                InsightsRequest {
                    groups: vec!["/g".into(); 51],
                    ..request(None)
                },
                "at most 50",
            ),
            (request(Some(0)), "outside 1..=10000"),
            (request(Some(10_001)), "outside 1..=10000"),
        ];
        for (req, want) in cases {
            let err = req.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        request(Some(5)).validate().unwrap();
        InsightsRequest {
            groups: vec![],
            language: QueryLanguage::OpenSearchSql,
            ..request(None)
        }
        .validate()
        .unwrap();
    }
}
