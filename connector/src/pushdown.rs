//! SQL predicates to CloudWatch read requests: pure functions, no I/O.
//!
//! Predicates on `message` become a filter pattern only as a pre-filter
//! (`Inexact`: DataFusion re-checks them). The pattern is the regex form
//! `%run%` of the longest run of ASCII letters and digits found in a
//! literal part of a `LIKE` or `=`: CloudWatch documents `%...%` as a
//! case-sensitive match anywhere in the message, and any message the SQL
//! predicate selects contains that run, so the pattern can never select
//! fewer events than SQL. Runs shorter than three characters are not worth
//! sending; ILIKE, NOT LIKE, and patterns with escapes are never pushed.
//!
//! A filter is reported to DataFusion as `Exact` only when it translates
//! completely into the [`Pushdown`]; the scan then guarantees it by checking
//! every event it emits against the same bounds (sources may over-read, e.g.
//! moto treats GetLogEvents' endTime as inclusive). That guarantee is what
//! lets DataFusion drop its own filter and push LIMIT into the scan. Anything
//! not understood is left to DataFusion, so pushdown can only ever save work,
//! never change an answer.

use std::collections::BTreeSet;

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

use crate::batch::Column;
use crate::model::{StreamSelection, TimeRange};

/// What a set of filters says about the events to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushdown {
    pub time: TimeRange,
    pub streams: StreamSelection,
    /// A filter can never be true (e.g. another log group's name): read nothing.
    pub impossible: bool,
    /// A CloudWatch filter pattern selecting a superset of the events.
    pub filter_pattern: Option<String>,
}

impl Default for Pushdown {
    fn default() -> Self {
        Self {
            time: TimeRange::ALL,
            streams: StreamSelection::All,
            impossible: false,
            filter_pattern: None,
        }
    }
}

/// Shortest run of letters and digits worth sending as a filter pattern.
const MIN_TERM_LEN: usize = 3;

impl Pushdown {
    fn and(mut self, other: Pushdown) -> Pushdown {
        self.time = self.time.intersect(&other.time);
        self.streams = self.streams.intersect(&other.streams);
        self.impossible |= other.impossible;
        self
    }

    /// The union of two pushdowns, when it is exact: only for sets of
    /// streams with no other constraint (a union of time ranges is not a range).
    fn or(self, other: Pushdown) -> Option<Pushdown> {
        let stream_only = |p: &Pushdown| p.time.is_unbounded() && !p.impossible;
        match (&self.streams, &other.streams) {
            (StreamSelection::Named(a), StreamSelection::Named(b))
                if stream_only(&self) && stream_only(&other) =>
            {
                Some(Pushdown {
                    streams: StreamSelection::Named(a.union(b).cloned().collect()),
                    ..Default::default()
                })
            }
            _ => None,
        }
    }

    /// True when no event can match.
    pub fn selects_nothing(&self) -> bool {
        self.impossible || self.time.is_empty() || self.streams.is_empty()
    }
}

/// How DataFusion should treat each filter for a table of `group`.
pub fn filter_support(filters: &[&Expr], group: &str) -> Vec<TableProviderFilterPushDown> {
    filters
        .iter()
        .map(|f| match translate_one(f, group) {
            Some(_) => TableProviderFilterPushDown::Exact,
            None if message_term(f).is_some() || json_condition(f).is_some() => {
                TableProviderFilterPushDown::Inexact
            }
            None => TableProviderFilterPushDown::Unsupported,
        })
        .collect()
}

/// Combines every filter that translates (the rest are DataFusion's to apply).
pub fn translate(filters: &[Expr], group: &str) -> Pushdown {
    let mut pushed = filters
        .iter()
        .filter_map(|f| translate_one(f, group))
        .fold(Pushdown::default(), Pushdown::and);
    // One pattern per request: conditions on JSON fields when there are
    // any (they name the field, so they select more sharply), else the
    // longest term, the most selective.
    let json: Vec<String> = filters.iter().filter_map(json_condition).collect();
    pushed.filter_pattern = json_pattern(&json).or_else(|| {
        filters
            .iter()
            .filter_map(message_term)
            .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.cmp(a)))
            // Any part of the term is in every message the term is in: a
            // term too long for the API's pattern limit is cut to fit.
            .map(|term| format!("%{}%", &term[..term.len().min(MAX_PATTERN_LEN - 2)]))
    });
    pushed
}

/// CloudWatch's longest filter pattern.
const MAX_PATTERN_LEN: usize = 1024;

/// `{ c }` or `{ (c1) && (c2) }`, as many conditions as fit the API's limit.
pub fn json_pattern(conditions: &[String]) -> Option<String> {
    let mut taken: Vec<&String> = Vec::new();
    let render = |c: &[&String]| match c {
        [] => None,
        [one] => Some(format!("{{ {one} }}")),
        many => Some(format!(
            "{{ {} }}",
            many.iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" && ")
        )),
    };
    for c in conditions {
        taken.push(c);
        if render(&taken).is_some_and(|p| p.len() > MAX_PATTERN_LEN) {
            taken.pop();
        }
    }
    render(&taken)
}

/// The JSON filter-pattern condition a predicate on a JSON field of
/// `message` implies, e.g. `json_get_str(message, 'eventName') =
/// 'ConsoleLogin'` gives `$.eventName = "ConsoleLogin"`. Only when every
/// event the predicate selects also matches the condition: string
/// equality, numeric comparisons (not `!=`, which CloudWatch may treat
/// differently for a missing field), and booleans. Values with quotes,
/// backslashes or `*` (a wildcard to CloudWatch) are not pushed.
pub fn json_condition(expr: &Expr) -> Option<String> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (call, op, value) = match (json_call(left), json_call(right)) {
                (Some(c), None) => (c, *op, literal(right)?),
                (None, Some(c)) => (c, op.swap()?, literal(left)?),
                _ => return None,
            };
            let (function, path) = call;
            let symbol = match op {
                Operator::Eq => "=",
                Operator::Lt => "<",
                Operator::LtEq => "<=",
                Operator::Gt => ">",
                Operator::GtEq => ">=",
                _ => return None,
            };
            match function {
                "json_get_str" | "json_as_text" if op == Operator::Eq => {
                    let text = string_value(value)?;
                    // json_as_text renders numbers, booleans and objects as
                    // text too; only a value that can be nothing but a
                    // string is safe to compare as one.
                    let ambiguous = text.parse::<f64>().is_ok()
                        || matches!(text.as_str(), "true" | "false" | "null")
                        || text.starts_with(['{', '[']);
                    if (function == "json_as_text" && ambiguous)
                        || text.contains(['"', '\\', '*'])
                        || text.chars().any(char::is_control)
                    {
                        return None;
                    }
                    Some(format!("{path} = \"{text}\""))
                }
                "json_get_int" | "json_get_float" => {
                    let number = match value {
                        ScalarValue::Int8(Some(v)) => v.to_string(),
                        ScalarValue::Int16(Some(v)) => v.to_string(),
                        ScalarValue::Int32(Some(v)) => v.to_string(),
                        ScalarValue::Int64(Some(v)) => v.to_string(),
                        ScalarValue::UInt8(Some(v)) => v.to_string(),
                        ScalarValue::UInt16(Some(v)) => v.to_string(),
                        ScalarValue::UInt32(Some(v)) => v.to_string(),
                        ScalarValue::UInt64(Some(v)) => v.to_string(),
                        ScalarValue::Float64(Some(v)) if v.is_finite() => v.to_string(),
                        ScalarValue::Float32(Some(v)) if v.is_finite() => v.to_string(),
                        _ => return None,
                    };
                    Some(format!("{path} {symbol} {number}"))
                }
                "json_get_bool" if op == Operator::Eq => match value {
                    ScalarValue::Boolean(Some(true)) => Some(format!("{path} IS TRUE")),
                    ScalarValue::Boolean(Some(false)) => Some(format!("{path} IS FALSE")),
                    _ => None,
                },
                _ => None,
            }
        }
        // WHERE json_get_bool(message, 'k'): true only when the field is true.
        other => match json_call(other)? {
            ("json_get_bool", path) => Some(format!("{path} IS TRUE")),
            _ => None,
        },
    }
}

/// `json_get_*(message, 'a', 0, 'b')`: the function and the selector `$.a[0].b`.
fn json_call(expr: &Expr) -> Option<(&'static str, String)> {
    let Expr::ScalarFunction(call) = expr else {
        return None;
    };
    let function = [
        "json_get_str",
        "json_as_text",
        "json_get_int",
        "json_get_float",
        "json_get_bool",
    ]
    .into_iter()
    .find(|f| *f == call.func.name())?;
    let (first, keys) = call.args.split_first()?;
    if !matches!(as_column(first)?, ColumnRef::Plain(Column::Message)) || keys.is_empty() {
        return None;
    }
    let mut path = String::from("$");
    for key in keys {
        match literal(key)? {
            ScalarValue::Int64(Some(i)) if *i >= 0 => path.push_str(&format!("[{i}]")),
            v => {
                let name = string_value(v)?;
                let plain = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !plain {
                    return None;
                }
                path.push('.');
                path.push_str(&name);
            }
        }
    }
    Some((function, path))
}

/// The term a `message` predicate guarantees every selected message holds.
pub fn message_term(expr: &Expr) -> Option<String> {
    let literal_text = match expr {
        Expr::Like(like)
            if !like.negated && !like.case_insensitive && like.escape_char.is_none() =>
        {
            if !matches!(as_column(&like.expr)?, ColumnRef::Plain(Column::Message)) {
                return None;
            }
            let pattern = string_value(literal(&like.pattern)?)?;
            if pattern.contains('\\') {
                return None;
            }
            pattern
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (as_column(left), as_column(right)) {
            (Some(ColumnRef::Plain(Column::Message)), None) => string_value(literal(right)?)?,
            (None, Some(ColumnRef::Plain(Column::Message))) => string_value(literal(left)?)?,
            _ => return None,
        },
        _ => return None,
    };
    literal_text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|run| run.len() >= MIN_TERM_LEN)
        .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.cmp(a)))
        .map(str::to_string)
}

/// `log_stream LIKE 'prefix%'`: the prefix, when that is all the pattern says.
fn stream_prefix(pattern: &str) -> Option<String> {
    let prefix = pattern.strip_suffix('%')?;
    if prefix.is_empty() || prefix.contains(['%', '_', '\\']) {
        return None;
    }
    Some(prefix.to_string())
}

/// The pushdown of one filter, if it can be expressed *exactly*.
pub fn translate_one(expr: &Expr, group: &str) -> Option<Pushdown> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if *op == Operator::And {
                let l = translate_one(left, group)?;
                let r = translate_one(right, group)?;
                return Some(l.and(r));
            }
            if *op == Operator::Or {
                // DataFusion rewrites short IN lists into ORs of equalities.
                return translate_one(left, group)?.or(translate_one(right, group)?);
            }
            // Put the column on the left.
            let (column, op, value) = match (as_column(left), as_column(right)) {
                (Some(c), None) => (c, *op, literal(right)?),
                (None, Some(c)) => (c, op.swap()?, literal(left)?),
                _ => return None,
            };
            compare(column, op, value, group)
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let column = as_column(expr)?;
            let low = compare(column, Operator::GtEq, literal(low)?, group)?;
            let high = compare(column, Operator::LtEq, literal(high)?, group)?;
            Some(low.and(high))
        }
        Expr::Like(like)
            if !like.negated && !like.case_insensitive && like.escape_char.is_none() =>
        {
            if !matches!(as_column(&like.expr)?, ColumnRef::Plain(Column::LogStream)) {
                return None;
            }
            let prefix = stream_prefix(&string_value(literal(&like.pattern)?)?)?;
            Some(Pushdown {
                streams: StreamSelection::Prefix(prefix),
                ..Default::default()
            })
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let column = as_column(expr)?;
            let values: Option<BTreeSet<String>> = list
                .iter()
                .map(|v| literal(v).and_then(string_value))
                .collect();
            let values = values?;
            match column {
                ColumnRef::Plain(Column::LogStream) => Some(Pushdown {
                    streams: StreamSelection::Named(values),
                    ..Default::default()
                }),
                ColumnRef::Plain(Column::LogGroup) => Some(Pushdown {
                    impossible: !values.contains(group),
                    ..Default::default()
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// What the conjunction of `filters` says about the names in `column` (the
/// `log_group` or `log_stream` of a metadata table): the names, or the
/// prefix, a listing can ask the API for. `All` when nothing narrows it;
/// callers leave every filter to DataFusion as well.
pub fn name_selection(filters: &[Expr], column: &str) -> StreamSelection {
    filters
        .iter()
        .filter_map(|f| name_selection_one(f, column))
        .fold(StreamSelection::All, |acc, s| acc.intersect(&s))
}

fn name_selection_one(expr: &Expr, column: &str) -> Option<StreamSelection> {
    let is_column = |e: &Expr| match e {
        Expr::Column(c) => c.name == column,
        Expr::Cast(cast) => {
            matches!(&*cast.expr, Expr::Column(c) if c.name == column)
                && matches!(
                    cast.field.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
        }
        _ => false,
    };
    let text = |e: &Expr| literal(e).and_then(string_value);
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (
                name_selection_one(left, column),
                name_selection_one(right, column),
            ) {
                (Some(l), Some(r)) => Some(l.intersect(&r)),
                (one, other) => one.or(other),
            },
            Operator::Or => match (
                name_selection_one(left, column)?,
                name_selection_one(right, column)?,
            ) {
                (StreamSelection::Named(mut l), StreamSelection::Named(r)) => {
                    l.extend(r);
                    Some(StreamSelection::Named(l))
                }
                _ => None,
            },
            Operator::Eq if is_column(left) => Some(StreamSelection::one(text(right)?)),
            Operator::Eq if is_column(right) => Some(StreamSelection::one(text(left)?)),
            _ => None,
        },
        Expr::Like(like)
            if !like.negated
                && !like.case_insensitive
                && like.escape_char.is_none()
                && is_column(&like.expr) =>
        {
            let pattern = text(&like.pattern)?;
            if !pattern.contains(['%', '_', '\\']) {
                return Some(StreamSelection::one(pattern));
            }
            stream_prefix(&pattern).map(StreamSelection::Prefix)
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) if is_column(expr) => {
            let names: Option<BTreeSet<String>> = list.iter().map(text).collect();
            Some(StreamSelection::Named(names?))
        }
        _ => None,
    }
}

/// A column reference, possibly behind a lossless cast.
#[derive(Debug, Clone, Copy)]
enum ColumnRef {
    Plain(Column),
    /// `time` cast to a timestamp of an equal or finer unit: the same instant.
    TimeCast,
}

fn as_column(expr: &Expr) -> Option<ColumnRef> {
    match expr {
        Expr::Column(c) => Column::from_name(&c.name).map(ColumnRef::Plain),
        Expr::Cast(cast) => cast_of_column(&cast.expr, cast.field.data_type()),
        Expr::TryCast(cast) => cast_of_column(&cast.expr, cast.field.data_type()),
        _ => None,
    }
}

fn cast_of_column(inner: &Expr, to: &DataType) -> Option<ColumnRef> {
    match (as_column(inner)?, to) {
        // Casting a timestamp to a finer unit multiplies exactly; to a
        // coarser one truncates, which would change comparisons: not pushed.
        (ColumnRef::Plain(Column::Time), DataType::Timestamp(unit, _))
            if unit_nanos(*unit) <= unit_nanos(TimeUnit::Millisecond) =>
        {
            Some(ColumnRef::TimeCast)
        }
        (
            ColumnRef::Plain(c @ (Column::LogStream | Column::LogGroup)),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
        ) => Some(ColumnRef::Plain(c)),
        _ => None,
    }
}

pub(crate) fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(v, _) if !v.is_null() => Some(v),
        _ => None,
    }
}

pub(crate) fn string_value(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        _ => None,
    }
}

fn unit_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// A timestamp literal as nanoseconds since the epoch (exact, in i128).
pub(crate) fn timestamp_nanos(v: &ScalarValue) -> Option<i128> {
    let (value, unit) = match v {
        ScalarValue::TimestampSecond(Some(x), _) => (*x, TimeUnit::Second),
        ScalarValue::TimestampMillisecond(Some(x), _) => (*x, TimeUnit::Millisecond),
        ScalarValue::TimestampMicrosecond(Some(x), _) => (*x, TimeUnit::Microsecond),
        ScalarValue::TimestampNanosecond(Some(x), _) => (*x, TimeUnit::Nanosecond),
        _ => return None,
    };
    Some(i128::from(value) * unit_nanos(unit))
}

/// Inclusive bounds in exact milliseconds as a [`TimeRange`] of the i64
/// milliseconds `time` can hold. A bound past that domain is not clamped
/// onto its edge (which would let `time > X` select `i64::MAX` for any
/// larger X): a start above it or an end below it selects nothing, a start
/// below it or an end above it does not bound.
fn ms_range(start: Option<i128>, end: Option<i128>) -> TimeRange {
    let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
    if start.is_some_and(|s| s > max) || end.is_some_and(|e| e < min) {
        return TimeRange::new(Some(i64::MAX), Some(i64::MIN));
    }
    let inside = |b: i128| i64::try_from(b).ok();
    TimeRange::new(start.and_then(inside), end.and_then(inside))
}

/// The inclusive millisecond range of `time <op> X`, X in nanoseconds.
///
/// `time` holds whole milliseconds `t`, so `t > X` is `t >= floor(X/1ms)+1`,
/// `t >= X` is `t >= ceil(X/1ms)`, `t < X` is `t <= ceil(X/1ms)-1`,
/// `t <= X` is `t <= floor(X/1ms)`; `t = X` is empty unless X is whole.
pub fn time_range_for(op: Operator, nanos: i128) -> Option<TimeRange> {
    let per_ms = unit_nanos(TimeUnit::Millisecond);
    let floor = nanos.div_euclid(per_ms);
    let ceil = -(-nanos).div_euclid(per_ms);
    let range = match op {
        Operator::Gt => ms_range(Some(floor + 1), None),
        Operator::GtEq => ms_range(Some(ceil), None),
        Operator::Lt => ms_range(None, Some(ceil - 1)),
        Operator::LtEq => ms_range(None, Some(floor)),
        Operator::Eq => ms_range(Some(ceil), Some(floor)),
        _ => return None,
    };
    Some(range)
}

fn compare(column: ColumnRef, op: Operator, value: &ScalarValue, group: &str) -> Option<Pushdown> {
    match column {
        ColumnRef::Plain(Column::Time) | ColumnRef::TimeCast => Some(Pushdown {
            time: time_range_for(op, timestamp_nanos(value)?)?,
            ..Default::default()
        }),
        ColumnRef::Plain(Column::LogStream) if op == Operator::Eq => Some(Pushdown {
            streams: StreamSelection::one(string_value(value)?),
            ..Default::default()
        }),
        ColumnRef::Plain(Column::LogGroup) if op == Operator::Eq => Some(Pushdown {
            impossible: string_value(value)? != group,
            ..Default::default()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{cast, col, lit};
    use datafusion::prelude::Expr;

    const G: &str = "/aws/lambda/orders";

    fn ms(v: i64) -> Expr {
        lit(ScalarValue::TimestampMillisecond(
            Some(v),
            Some("UTC".into()),
        ))
    }
    fn ns(v: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(Some(v), None))
    }
    fn range(s: Option<i64>, e: Option<i64>) -> Option<Pushdown> {
        Some(Pushdown {
            time: TimeRange::new(s, e),
            ..Default::default()
        })
    }
    fn streams(names: &[&str]) -> Option<Pushdown> {
        Some(Pushdown {
            streams: StreamSelection::Named(names.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        })
    }

    #[test]
    fn time_comparisons_get_exact_inclusive_bounds() {
        let t = || col("time");
        let cases: Vec<(Expr, Option<Pushdown>)> = vec![
            (t().eq(ms(1000)), range(Some(1000), Some(1000))),
            (t().lt_eq(ms(1000)), range(None, Some(1000))),
            (t().lt(ms(1000)), range(None, Some(999))),
            (t().gt(ms(1000)), range(Some(1001), None)),
            (t().gt_eq(ms(1000)), range(Some(1000), None)),
            (ms(1000).lt(t()), range(Some(1001), None)),
            (ms(1000).gt_eq(t()), range(None, Some(1000))),
            (t().between(ms(10), ms(20)), range(Some(10), Some(20))),
            (
                t().gt_eq(ms(10)).and(t().lt(ms(20))),
                range(Some(10), Some(19)),
            ),
            // Sub-millisecond literals round the right way.
            (t().gt(ns(1_000_500_000)), range(Some(1001), None)),
            (t().gt_eq(ns(1_000_500_000)), range(Some(1001), None)),
            (t().lt(ns(1_000_500_000)), range(None, Some(1000))),
            (t().lt_eq(ns(1_000_500_000)), range(None, Some(1000))),
            (t().eq(ns(1_000_500_000)), range(Some(1001), Some(1000))),
            (t().lt(ns(1_000_000_000)), range(None, Some(999))),
            // Negative times floor towards minus infinity.
            (t().lt_eq(ns(-1)), range(None, Some(-1))),
            // Past the milliseconds `time` holds: nothing, or no bound.
            (t().gt(ms(i64::MAX)), range(Some(i64::MAX), Some(i64::MIN))),
            (t().gt_eq(ms(i64::MAX)), range(Some(i64::MAX), None)),
            (t().lt(ms(i64::MIN)), range(Some(i64::MAX), Some(i64::MIN))),
            (t().gt(ms(i64::MIN)), range(Some(i64::MIN + 1), None)),
            (
                t().gt(lit(ScalarValue::TimestampSecond(Some(i64::MIN), None))),
                range(None, None),
            ),
            (
                t().lt_eq(lit(ScalarValue::TimestampSecond(Some(i64::MAX), None))),
                range(None, None),
            ),
            (
                t().eq(lit(ScalarValue::TimestampSecond(Some(i64::MAX), None))),
                range(Some(i64::MAX), Some(i64::MIN)),
            ),
            // A lossless cast of the column is still the column.
            (
                cast(t(), DataType::Timestamp(TimeUnit::Nanosecond, None)).gt(ns(5_000_000)),
                range(Some(6), None),
            ),
            // A truncating cast is not pushed.
            (
                cast(t(), DataType::Timestamp(TimeUnit::Second, None))
                    .eq(lit(ScalarValue::TimestampSecond(Some(1), None))),
                None,
            ),
            (t().not_eq(ms(1000)), None),
            (t().gt(ms(5)).or(t().lt(ms(1))), None),
            (t().not_between(ms(1), ms(2)), None),
            (col("ingestion_time").gt(ms(5)), None),
            (
                t().gt(lit(ScalarValue::TimestampMillisecond(None, None))),
                None,
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(translate_one(&expr, G), want, "{expr}");
        }
    }

    #[test]
    fn stream_and_group_predicates() {
        let cases: Vec<(Expr, Option<Pushdown>)> = vec![
            (col("log_stream").eq(lit("a")), streams(&["a"])),
            (lit("a").eq(col("log_stream")), streams(&["a"])),
            (
                col("log_stream").in_list(vec![lit("b"), lit("a")], false),
                streams(&["a", "b"]),
            ),
            (col("log_stream").in_list(vec![lit("a")], true), None),
            (
                col("log_stream")
                    .eq(lit("a"))
                    .or(col("log_stream").eq(lit("b"))),
                streams(&["a", "b"]),
            ),
            (
                col("log_stream").eq(lit("a")).or(col("time").gt(ms(1))),
                None,
            ),
            (
                col("log_stream")
                    .eq(lit("a"))
                    .or(col("message").eq(lit("b"))),
                None,
            ),
            (
                col("log_stream").like(lit("2026/11/%")),
                Some(Pushdown {
                    streams: StreamSelection::Prefix("2026/11/".into()),
                    ..Default::default()
                }),
            ),
            (col("log_stream").like(lit("a%b%")), None),
            (col("log_stream").like(lit("a_%")), None),
            (col("log_stream").like(lit("%a")), None),
            (col("log_stream").ilike(lit("a%")), None),
            (col("log_stream").not_like(lit("a%")), None),
            (col("log_stream").not_eq(lit("a")), None),
            (
                col("log_stream")
                    .eq(lit("a"))
                    .and(col("log_stream").eq(lit("b"))),
                streams(&[]),
            ),
            (col("log_group").eq(lit(G)), Some(Pushdown::default())),
            (
                col("log_group").eq(lit("/other")),
                Some(Pushdown {
                    impossible: true,
                    ..Default::default()
                }),
            ),
            (col("message").eq(lit("x")), None),
        ];
        for (expr, want) in cases {
            assert_eq!(translate_one(&expr, G), want, "{expr}");
        }
    }

    #[test]
    fn message_predicates_become_superset_terms() {
        let m = || col("message");
        let cases: Vec<(Expr, Option<&str>)> = vec![
            (m().like(lit("%ERROR%")), Some("ERROR")),
            (m().like(lit("%Failed password for%")), Some("password")),
            (m().like(lit("START RequestId%")), Some("RequestId")),
            (m().like(lit("%\"level\":\"ERROR\"%")), Some("ERROR")),
            (m().like(lit("%a_bcd%")), Some("bcd")),
            (m().eq(lit("user=alice id=42")), Some("alice")),
            (lit("user=alice").eq(m()), Some("alice")),
            (m().like(lit("%ab%")), None),
            (m().like(lit("%%")), None),
            (m().like(lit("%ünïcödé%")), None),
            (m().ilike(lit("%ERROR%")), None),
            (m().not_like(lit("%ERROR%")), None),
            (m().like(lit("%a\\%b%")), None),
            (m().not_eq(lit("ERROR")), None),
            (col("log_stream").like(lit("%ERROR%")), None),
        ];
        for (expr, want) in cases {
            assert_eq!(message_term(&expr).as_deref(), want, "{expr}");
        }
        let filters = vec![
            m().like(lit("%ERROR%")),
            m().like(lit("%payment%")),
            col("time").gt(ms(1)),
        ];
        let pushed = translate(&filters, G);
        assert_eq!(pushed.filter_pattern.as_deref(), Some("%payment%"));
        // A term longer than CloudWatch's 1024-byte pattern limit is cut to fit.
        let long = translate(&[m().eq(lit("x".repeat(5000)))], G);
        assert_eq!(long.filter_pattern, Some(format!("%{}%", "x".repeat(1022))));
        let refs: Vec<&Expr> = filters.iter().collect();
        assert_eq!(
            filter_support(&refs, G),
            vec![
                TableProviderFilterPushDown::Inexact,
                TableProviderFilterPushDown::Inexact,
                TableProviderFilterPushDown::Exact
            ]
        );
    }

    #[test]
    fn translate_combines_and_skips_unsupported() {
        let filters = vec![
            col("time").gt_eq(ms(100)),
            col("message").like(lit("%E%")),
            col("time").lt(ms(200)),
            col("log_stream").eq(lit("s")),
        ];
        let got = translate(&filters, G);
        assert_eq!(got.time, TimeRange::new(Some(100), Some(199)));
        assert_eq!(got.streams, StreamSelection::one("s"));
        assert_eq!(got.filter_pattern, None);
        let refs: Vec<&Expr> = filters.iter().collect();
        assert_eq!(
            filter_support(&refs, G),
            vec![
                TableProviderFilterPushDown::Exact,
                TableProviderFilterPushDown::Unsupported,
                TableProviderFilterPushDown::Exact,
                TableProviderFilterPushDown::Exact,
            ]
        );
        assert!(translate(&[col("time").gt(ms(5)), col("time").lt(ms(5))], G).selects_nothing());
    }

    #[test]
    fn name_predicates_become_listing_selections() {
        use StreamSelection::{All, Named, Prefix};
        let named = |n: &[&str]| Named(n.iter().map(|s| s.to_string()).collect());
        let g = || col("log_group");
        let cases: Vec<(Vec<Expr>, StreamSelection)> = vec![
            (vec![], All),
            (vec![g().eq(lit("/a"))], named(&["/a"])),
            (vec![lit("/a").eq(g())], named(&["/a"])),
            (vec![g().like(lit("/aws/%"))], Prefix("/aws/".into())),
            // No wildcard: a LIKE is an equality.
            (vec![g().like(lit("/exact"))], named(&["/exact"])),
            // Wildcards inside, ILIKE and NOT LIKE say nothing a prefix can.
            (vec![g().like(lit("/a_b%"))], All),
            (vec![g().ilike(lit("/aws/%"))], All),
            (vec![g().not_like(lit("/aws/%"))], All),
            (
                vec![g().in_list(vec![lit("/a"), lit("/b")], false)],
                named(&["/a", "/b"]),
            ),
            (vec![g().in_list(vec![lit("/a")], true)], All),
            (
                vec![g().eq(lit("/a")).or(g().eq(lit("/b")))],
                named(&["/a", "/b"]),
            ),
            // An OR with anything else cannot narrow the listing.
            (
                vec![g().eq(lit("/a")).or(col("log_stream").eq(lit("s")))],
                All,
            ),
            (vec![g().eq(lit("/a")).or(g().like(lit("/b%")))], All),
            // Conjunctions intersect, across filters and inside one.
            (
                vec![g().like(lit("/aws/%")), g().eq(lit("/aws/x"))],
                named(&["/aws/x"]),
            ),
            (
                vec![g().like(lit("/aws/%")).and(g().eq(lit("/gcp/x")))],
                named(&[]),
            ),
            (
                vec![g()
                    .like(lit("/aws/%"))
                    .and(col("retention_in_days").gt(lit(3)))],
                Prefix("/aws/".into()),
            ),
            (
                vec![g().like(lit("/aws/%")), g().like(lit("/aws/lambda/%"))],
                Prefix("/aws/lambda/".into()),
            ),
            // Other columns, and non-literals, are not name predicates.
            (vec![col("log_stream").eq(lit("s"))], All),
            (vec![g().eq(col("arn"))], All),
            (
                vec![cast(g(), DataType::Utf8).eq(lit("/a"))],
                named(&["/a"]),
            ),
        ];
        for (filters, want) in cases {
            assert_eq!(name_selection(&filters, "log_group"), want, "{filters:?}");
        }
    }

    #[test]
    fn json_field_predicates_become_json_patterns() {
        use datafusion::logical_expr::ScalarUDF;
        use datafusion::logical_expr::{ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
        // Stand-ins with the names of datafusion-functions-json's functions:
        // translation looks at names and arguments only.
        #[derive(Debug, PartialEq, Eq, Hash)]
        struct Named(&'static str, Signature);
        impl ScalarUDFImpl for Named {
            fn name(&self) -> &str {
                self.0
            }
            fn signature(&self) -> &Signature {
                &self.1
            }
            fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
                Ok(DataType::Utf8)
            }
            fn invoke_with_args(
                &self,
                _: ScalarFunctionArgs,
            ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
                unimplemented!("never run")
            }
        }
        let f = |name: &'static str, args: Vec<Expr>| {
            ScalarUDF::new_from_impl(Named(name, Signature::variadic_any(Volatility::Immutable)))
                .call(args)
        };
        let m = || col("message");
        let s = |k: &str| lit(k);
        let cases: Vec<(Expr, Option<&str>)> = vec![
            (
                f("json_get_str", vec![m(), s("eventName")]).eq(lit("ConsoleLogin")),
                Some(r#"$.eventName = "ConsoleLogin""#),
            ),
            (
                lit("Root").eq(f("json_get_str", vec![m(), s("userIdentity"), s("type")])),
                Some(r#"$.userIdentity.type = "Root""#),
            ),
            (
                f("json_get_str", vec![m(), s("a"), lit(2i64), s("b")]).eq(lit("x")),
                Some(r#"$.a[2].b = "x""#),
            ),
            (
                f("json_get_int", vec![m(), s("status")]).gt_eq(lit(500i64)),
                Some("$.status >= 500"),
            ),
            (
                lit(500i64).gt(f("json_get_int", vec![m(), s("status")])),
                Some("$.status < 500"),
            ),
            (
                f("json_get_float", vec![m(), s("latency")]).lt(lit(2.5f64)),
                Some("$.latency < 2.5"),
            ),
            (
                f("json_get_bool", vec![m(), s("readOnly")]).eq(lit(false)),
                Some("$.readOnly IS FALSE"),
            ),
            (
                f("json_get_bool", vec![m(), s("readOnly")]),
                Some("$.readOnly IS TRUE"),
            ),
            (
                f("json_as_text", vec![m(), s("eventName")]).eq(lit("CreateUser")),
                Some(r#"$.eventName = "CreateUser""#),
            ),
            // Not pushed: `!=` and missing fields, text that may be a number
            // or a literal for json_as_text, quotes, wildcards, odd keys,
            // other columns, functions and non-literals.
            (
                f("json_get_int", vec![m(), s("status")]).not_eq(lit(500i64)),
                None,
            ),
            (
                f("json_as_text", vec![m(), s("status")]).eq(lit("500")),
                None,
            ),
            (f("json_as_text", vec![m(), s("ok")]).eq(lit("true")), None),
            (
                f("json_get_str", vec![m(), s("k")]).eq(lit("say \"hi\"")),
                None,
            ),
            (f("json_get_str", vec![m(), s("k")]).eq(lit("a*")), None),
            (
                f("json_get_str", vec![m(), s("user-agent")]).eq(lit("x")),
                None,
            ),
            (f("json_get_str", vec![m()]).eq(lit("x")), None),
            (
                f("json_get_str", vec![col("log_stream"), s("k")]).eq(lit("x")),
                None,
            ),
            (f("json_get", vec![m(), s("k")]).eq(lit("x")), None),
            (
                f("json_get_str", vec![m(), s("k")]).eq(col("log_stream")),
                None,
            ),
            (f("json_get_str", vec![m(), s("k")]).lt(lit("x")), None),
            (f("json_get_int", vec![m(), s("k")]).eq(lit(f64::NAN)), None),
        ];
        for (expr, want) in cases {
            assert_eq!(json_condition(&expr).as_deref(), want, "{expr}");
        }
        // Several conditions, one pattern; the JSON one wins over a term.
        let both = translate(
            &[
                f("json_get_str", vec![m(), s("a")]).eq(lit("x")),
                f("json_get_int", vec![m(), s("n")]).gt(lit(1i64)),
                col("message").like(lit("%something long%")),
            ],
            G,
        );
        assert_eq!(
            both.filter_pattern.as_deref(),
            Some(r#"{ ($.a = "x") && ($.n > 1) }"#)
        );
        let long: Vec<String> = (0..100)
            .map(|i| format!("$.field{i} = \"value\""))
            .collect();
        let pattern = json_pattern(&long).unwrap();
        assert!(
            pattern.len() <= MAX_PATTERN_LEN && pattern.contains("$.field0 "),
            "{pattern}"
        );
        assert_eq!(json_pattern(&[]), None);
    }
}
