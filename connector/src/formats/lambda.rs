//! Lambda invocation reports: one row per `REPORT RequestId: ...` line of
//! the text log format, or per `platform.report` record of the JSON log
//! format; every other line (START, END, the function's own output, other
//! platform records) is not a row.
//!
//! The pushed pattern is made of terms, and the decoder holds up its side:
//! a text report starts with `REPORT RequestId`, a JSON one holds
//! `platform.report` verbatim (one whose type is spelled with JSON escapes
//! is not taken for a report), and a JSON report's request id must appear
//! verbatim too, so a term for the id or the kind of line is in every
//! message that decodes into a row.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use serde_json::Value;

use super::{conjuncts, DecodeError, FormatPushdown, RecordDecoder, RecordFormat};
use crate::model::TimeRange;

const TEXT_PREFIX: &str = "REPORT RequestId: ";
const JSON_TYPE: &str = "platform.report";
/// Selects both kinds of report line when no request id narrows the read.
const REPORTS_PATTERN: &str = "?\"REPORT RequestId\" ?\"platform.report\"";
/// CloudWatch's longest filter pattern.
const MAX_PATTERN_LEN: usize = 1024;

const REQUEST_ID: usize = 0;
const DURATION: usize = 1;
const BILLED_DURATION: usize = 2;
const MEMORY_SIZE: usize = 3;
const MAX_MEMORY_USED: usize = 4;
const INIT_DURATION: usize = 5;
const RESTORE_DURATION: usize = 6;
const BILLED_RESTORE_DURATION: usize = 7;
const STATUS: usize = 8;
const ERROR_TYPE: usize = 9;
const XRAY_TRACE_ID: usize = 10;

/// The columns, in table order. SnapStart's restore durations and the
/// error type come with the reports at no cost and answer "what did cold
/// starts / failures cost"; the trace id joins a report to its X-Ray trace.
const COLUMNS: &[(&str, DataType)] = &[
    ("request_id", DataType::Utf8),
    ("duration_ms", DataType::Float64),
    ("billed_duration_ms", DataType::Int64),
    ("memory_size_mb", DataType::Int64),
    ("max_memory_used_mb", DataType::Int64),
    ("init_duration_ms", DataType::Float64),
    ("restore_duration_ms", DataType::Float64),
    ("billed_restore_duration_ms", DataType::Int64),
    ("status", DataType::Utf8),
    ("error_type", DataType::Utf8),
    ("xray_trace_id", DataType::Utf8),
];

/// The `lambda_invocations` table of a Lambda function's log group.
#[derive(Debug, Clone, Copy, Default)]
pub struct LambdaReportFormat;

impl RecordFormat for LambdaReportFormat {
    fn table_name(&self) -> &'static str {
        "lambda_invocations"
    }

    fn spec(&self) -> super::FormatSpec {
        super::FormatSpec::Lambda
    }

    fn fields(&self) -> Fields {
        COLUMNS
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect()
    }

    fn decoder(&self, projection: &[usize]) -> Box<dyn RecordDecoder> {
        Box::new(ReportDecoder {
            builders: projection.iter().map(|&c| (c, Builder::new(c))).collect(),
        })
    }

    fn pushdown(&self, filters: &[&Expr]) -> FormatPushdown {
        pushdown(filters)
    }
}

// Decoding ------------------------------------------------------------------------------

/// One report, whichever format it came in.
#[derive(Debug, Default, PartialEq)]
struct Report<'a> {
    request_id: std::borrow::Cow<'a, str>,
    duration_ms: f64,
    billed_duration_ms: i64,
    memory_size_mb: i64,
    max_memory_used_mb: i64,
    init_duration_ms: Option<f64>,
    restore_duration_ms: Option<f64>,
    billed_restore_duration_ms: Option<i64>,
    status: Option<String>,
    error_type: Option<String>,
    xray_trace_id: Option<String>,
}

enum Builder {
    Text(StringBuilder),
    Float(Float64Builder),
    Int(Int64Builder),
}

impl Builder {
    fn new(column: usize) -> Self {
        match COLUMNS[column].1 {
            DataType::Float64 => Builder::Float(Float64Builder::new()),
            DataType::Int64 => Builder::Int(Int64Builder::new()),
            _ => Builder::Text(StringBuilder::new()),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
        }
    }
}

struct ReportDecoder {
    builders: Vec<(usize, Builder)>,
}

impl ReportDecoder {
    fn append(&mut self, r: &Report<'_>) {
        for (column, builder) in &mut self.builders {
            match (builder, *column) {
                (Builder::Text(b), REQUEST_ID) => b.append_value(&r.request_id),
                (Builder::Text(b), STATUS) => b.append_option(r.status.as_deref()),
                (Builder::Text(b), ERROR_TYPE) => b.append_option(r.error_type.as_deref()),
                (Builder::Text(b), XRAY_TRACE_ID) => b.append_option(r.xray_trace_id.as_deref()),
                (Builder::Float(b), DURATION) => b.append_value(r.duration_ms),
                (Builder::Float(b), INIT_DURATION) => b.append_option(r.init_duration_ms),
                (Builder::Float(b), RESTORE_DURATION) => b.append_option(r.restore_duration_ms),
                (Builder::Int(b), BILLED_DURATION) => b.append_value(r.billed_duration_ms),
                (Builder::Int(b), MEMORY_SIZE) => b.append_value(r.memory_size_mb),
                (Builder::Int(b), MAX_MEMORY_USED) => b.append_value(r.max_memory_used_mb),
                (Builder::Int(b), BILLED_RESTORE_DURATION) => {
                    b.append_option(r.billed_restore_duration_ms)
                }
                (b, _) => unreachable!("column {column} has builder {}", b.kind()),
            }
        }
    }
}

impl Builder {
    fn kind(&self) -> &'static str {
        match self {
            Builder::Text(_) => "text",
            Builder::Float(_) => "float",
            Builder::Int(_) => "int",
        }
    }
}

impl RecordDecoder for ReportDecoder {
    fn push(&mut self, message: &str) -> Result<bool, DecodeError> {
        let report = if message.starts_with(TEXT_PREFIX) {
            text_report(message)?
        } else if message.trim_start().starts_with('{') && message.contains(JSON_TYPE) {
            match json_report(message)? {
                Some(report) => report,
                None => return Ok(false),
            }
        } else {
            return Ok(false);
        };
        self.append(&report);
        Ok(true)
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.builders.iter_mut().map(|(_, b)| b.finish()).collect()
    }
}

fn error(message: &str, what: impl std::fmt::Display) -> DecodeError {
    let mut shown: String = message.chars().take(120).collect();
    if shown.len() < message.len() {
        shown.push('…');
    }
    DecodeError(format!("unreadable Lambda report ({what}): {shown:?}"))
}

/// `REPORT RequestId: id\tDuration: 1.5 ms\tBilled Duration: 2 ms\t...`;
/// parts Lambda may add later are skipped.
fn text_report(message: &str) -> Result<Report<'_>, DecodeError> {
    let mut report = Report::default();
    let mut seen = [false; 5];
    for part in message["REPORT ".len()..].split(['\t', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let number = |unit: &str| {
            value
                .strip_suffix(unit)
                .map(str::trim_end)
                .ok_or_else(|| error(message, format_args!("{key} is not in {unit}")))
        };
        let float = |unit: &str| -> Result<f64, DecodeError> {
            number(unit)?
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| error(message, format_args!("{key} is not a number")))
        };
        let int = |unit: &str| -> Result<i64, DecodeError> {
            number(unit)?
                .parse::<i64>()
                .map_err(|_| error(message, format_args!("{key} is not a whole number")))
        };
        match key {
            "RequestId" => {
                report.request_id = value.into();
                seen[0] = true;
            }
            "Duration" => {
                report.duration_ms = float("ms")?;
                seen[1] = true;
            }
            "Billed Duration" => {
                report.billed_duration_ms = int("ms")?;
                seen[2] = true;
            }
            "Memory Size" => {
                report.memory_size_mb = int("MB")?;
                seen[3] = true;
            }
            "Max Memory Used" => {
                report.max_memory_used_mb = int("MB")?;
                seen[4] = true;
            }
            "Init Duration" => report.init_duration_ms = Some(float("ms")?),
            "Restore Duration" => report.restore_duration_ms = Some(float("ms")?),
            "Billed Restore Duration" => report.billed_restore_duration_ms = Some(int("ms")?),
            "Status" => report.status = Some(value.to_string()),
            "Error Type" => report.error_type = Some(value.to_string()),
            "XRAY TraceId" => report.xray_trace_id = Some(value.to_string()),
            _ => {}
        }
    }
    const NAMES: [&str; 5] = [
        "RequestId",
        "Duration",
        "Billed Duration",
        "Memory Size",
        "Max Memory Used",
    ];
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(error(message, format_args!("no {}", NAMES[missing])));
    }
    if report.request_id.is_empty() {
        return Err(error(message, "empty RequestId"));
    }
    Ok(report)
}

/// A `platform.report` record of the JSON log format; `None` for other
/// JSON lines.
fn json_report(message: &str) -> Result<Option<Report<'static>>, DecodeError> {
    let event: Value = match serde_json::from_str(message) {
        Ok(event) => event,
        Err(e) if message.contains("\"type\":\"platform.report\"") => {
            return Err(error(message, e));
        }
        Err(_) => return Ok(None),
    };
    if event.get("type").and_then(Value::as_str) != Some(JSON_TYPE) {
        return Ok(None);
    }
    let record = event
        .get("record")
        .ok_or_else(|| error(message, "no record"))?;
    let request_id = record
        .get("requestId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| error(message, "no requestId"))?;
    if !message.contains(request_id) {
        return Err(error(message, "requestId written with JSON escapes"));
    }
    let metrics = record
        .get("metrics")
        .ok_or_else(|| error(message, "no metrics"))?;
    let float = |name: &str| -> Result<Option<f64>, DecodeError> {
        match metrics.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| error(message, format_args!("{name} is not a number"))),
        }
    };
    let int = |name: &str| -> Result<Option<i64>, DecodeError> {
        match metrics.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| error(message, format_args!("{name} is not a whole number"))),
        }
    };
    fn required<T>(v: Option<T>, message: &str, name: &str) -> Result<T, DecodeError> {
        v.ok_or_else(|| error(message, format_args!("no {name}")))
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let trace = record
        .get("tracing")
        .and_then(|t| t.get("value"))
        .and_then(Value::as_str)
        .and_then(|v| v.split(';').find_map(|p| p.strip_prefix("Root=")))
        .map(str::to_string);
    Ok(Some(Report {
        request_id: request_id.to_string().into(),
        duration_ms: required(float("durationMs")?, message, "durationMs")?,
        billed_duration_ms: required(int("billedDurationMs")?, message, "billedDurationMs")?,
        memory_size_mb: required(int("memorySizeMB")?, message, "memorySizeMB")?,
        max_memory_used_mb: required(int("maxMemoryUsedMB")?, message, "maxMemoryUsedMB")?,
        init_duration_ms: float("initDurationMs")?,
        restore_duration_ms: float("restoreDurationMs")?,
        billed_restore_duration_ms: int("billedRestoreDurationMs")?,
        status: text(record.get("status")),
        error_type: text(record.get("errorType")),
        xray_trace_id: trace,
    }))
}

// Pushdown ------------------------------------------------------------------------------

fn pushdown(filters: &[&Expr]) -> FormatPushdown {
    let mut used = vec![false; filters.len()];
    let mut pattern = None;
    for (i, filter) in filters.iter().enumerate() {
        let Some(ids) = conjuncts(filter).into_iter().find_map(request_ids) else {
            continue;
        };
        let terms = match ids.as_slice() {
            [one] => format!("\"{one}\""),
            many => many
                .iter()
                .map(|id| format!("?\"{id}\""))
                .collect::<Vec<_>>()
                .join(" "),
        };
        if terms.len() <= MAX_PATTERN_LEN {
            pattern = Some(terms);
            used[i] = true;
            break;
        }
    }
    FormatPushdown {
        filter_pattern: Some(pattern.unwrap_or_else(|| REPORTS_PATTERN.to_string())),
        used,
        record_time: TimeRange::ALL,
    }
}

/// The request ids one of which every row `expr` keeps has: from
/// `request_id = 'x'`, `request_id IN (...)` or ORs of those.
fn request_ids(expr: &Expr) -> Option<Vec<String>> {
    let mut ids: Vec<String> = match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut ids = request_ids(left)?;
            ids.extend(request_ids(right)?);
            ids
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let value = if is_request_id(left) {
                right
            } else if is_request_id(right) {
                left
            } else {
                return None;
            };
            vec![id_literal(value)?]
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) if is_request_id(expr) => list.iter().map(id_literal).collect::<Option<_>>()?,
        _ => return None,
    };
    ids.sort();
    ids.dedup();
    (!ids.is_empty()).then_some(ids)
}

fn is_request_id(expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => c.name == COLUMNS[REQUEST_ID].0,
        Expr::Cast(c) => {
            matches!(
                c.field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) && is_request_id(&c.expr)
        }
        Expr::TryCast(c) => {
            matches!(
                c.field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) && is_request_id(&c.expr)
        }
        _ => false,
    }
}

/// An id a quoted term can carry and that stands in a report as a whole
/// word (ids are UUIDs; anything unusual is left to DataFusion).
fn id_literal(expr: &Expr) -> Option<String> {
    let Expr::Literal(
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)),
        _,
    ) = expr
    else {
        return None;
    };
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    plain.then(|| s.clone())
}

#[cfg(test)]
mod tests;
