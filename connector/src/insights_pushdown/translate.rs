//! An SQL aggregation (a DataFusion `Aggregate` over a log table) to a
//! Logs Insights query, when, and only when, Insights computes the same
//! answer: a pure function of the plan, no I/O.
//!
//! Pushed: `count(*)` and `count` of a column that is never NULL; `GROUP
//! BY` on `log_stream`, `log_group` (one value per table), `date_trunc`
//! to a second, minute, hour or day, and `date_bin` of a whole number of
//! milliseconds aligned to the epoch; conditions on `time` and the stream
//! (those [`crate::pushdown`] translates exactly) and `message LIKE` /
//! `NOT LIKE` patterns that start anchored or with `%` and end with `%`.
//! Everything else keeps the scan: `count(DISTINCT)` (approximate in
//! Insights), sums and averages (Insights' number rules for text values
//! are not documented), `ILIKE` (case folding), patterns that must match
//! the end of the message (`$` also matches before a final newline in some
//! regex engines), `date_trunc` to weeks and months (calendar units).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::expr::{AggregateFunction, Cast, Like, ScalarFunction, TryCast};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};

use super::query::{plain_text, regex_literal, Agg, AggQuery, Cond, Key};
use super::{InsightsPushdown, RangeEnd};
use crate::batch::{LOG_GROUP, LOG_STREAM, MESSAGE, TIME};
use crate::model::{StreamSelection, TimeRange};
use crate::pushdown::translate_one;
use crate::table::{LogTable, TableScope};

/// What one output column of the aggregation is.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The value of the query's `i`th key.
    Key(usize),
    /// The value of the query's `i`th aggregate.
    Agg(usize),
    /// The same for every group (the table's log group).
    Const(ScalarValue),
}

/// An aggregation Logs Insights answers exactly.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub table: Arc<dyn TableProvider>,
    pub query: AggQuery,
    /// The events counted, inclusive milliseconds.
    pub time: TimeRange,
    /// The streams counted (also in `query.filters`), for reads of the
    /// range's edge seconds.
    pub streams: StreamSelection,
    /// No event can match: nothing is asked of CloudWatch.
    pub impossible: bool,
    pub outputs: Vec<Output>,
    /// The SQL has a GROUP BY: no events make no rows (without one, a row
    /// of zero counts).
    pub grouped: bool,
    pub range_end: RangeEnd,
}

/// The log table under an aggregation, and its conditions and columns in
/// terms of that table's own columns.
struct Input {
    provider: Arc<dyn TableProvider>,
    filters: Vec<Expr>,
    /// Output column of the nodes between the table and the aggregation
    /// to its expression over the table's columns.
    columns: HashMap<Column, Expr>,
}

fn resolve(expr: &Expr, columns: &HashMap<Column, Expr>) -> Option<Expr> {
    if columns.is_empty() {
        return Some(expr.clone());
    }
    expr.clone()
        .transform(|e| match &e {
            Expr::Column(c) => match columns.get(c) {
                Some(r) => Ok(Transformed::yes(r.clone())),
                None => Ok(Transformed::no(e)),
            },
            _ => Ok(Transformed::no(e)),
        })
        .ok()
        .map(|t| t.data)
}

/// Walks down through filters, projections and aliases to a log table.
fn input_of(plan: &LogicalPlan) -> Option<Input> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            if scan.fetch.is_some() {
                return None;
            }
            let provider = source_as_provider(&scan.source).ok()?;
            provider.downcast_ref::<LogTable>()?;
            Some(Input {
                provider,
                filters: scan.filters.clone(),
                columns: HashMap::new(),
            })
        }
        LogicalPlan::Filter(filter) => {
            let mut input = input_of(&filter.input)?;
            let predicate = resolve(&filter.predicate, &input.columns)?;
            input.filters.push(predicate);
            Some(input)
        }
        LogicalPlan::Projection(projection) => {
            let mut input = input_of(&projection.input)?;
            let mut columns = HashMap::new();
            for (expr, (qualifier, field)) in projection.expr.iter().zip(projection.schema.iter()) {
                let column = Column::new(qualifier.cloned(), field.name());
                columns.insert(
                    column,
                    resolve(expr.clone().unalias_nested().data.as_ref(), &input.columns)?,
                );
            }
            input.columns = columns;
            Some(input)
        }
        LogicalPlan::SubqueryAlias(alias) => {
            let mut input = input_of(&alias.input)?;
            let mut columns = HashMap::new();
            for ((qualifier, field), (inner_q, inner_f)) in
                alias.schema.iter().zip(alias.input.schema().iter())
            {
                let inner = Expr::Column(Column::new(inner_q.cloned(), inner_f.name()));
                columns.insert(
                    Column::new(qualifier.cloned(), field.name()),
                    resolve(&inner, &input.columns)?,
                );
            }
            input.columns = columns;
            Some(input)
        }
        _ => None,
    }
}

fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(c) => Some(c.name.as_str()),
        _ => None,
    }
}

fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

/// Epoch milliseconds of a timestamp literal.
fn timestamp_ms(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1000),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMicrosecond(Some(v), _) if v % 1000 == 0 => Some(v / 1000),
        ScalarValue::TimestampNanosecond(Some(v), _) if v % 1_000_000 == 0 => Some(v / 1_000_000),
        _ => None,
    }
}

/// Width in milliseconds of a fixed-length interval literal.
fn interval_ms(value: &ScalarValue) -> Option<i64> {
    let ms = match value {
        ScalarValue::IntervalDayTime(Some(v)) => {
            i64::from(v.days) * 86_400_000 + i64::from(v.milliseconds)
        }
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            if v.nanoseconds % 1_000_000 != 0 {
                return None;
            }
            i64::from(v.days) * 86_400_000 + v.nanoseconds / 1_000_000
        }
        _ => return None,
    };
    (ms > 0).then_some(ms)
}

/// `time`, or `time` cast to another timestamp unit (as `date_bin`'s
/// signature asks for nanoseconds) in UTC or no zone: the same instants,
/// truncated in UTC as Insights' `bin()` does. A cast to another zone
/// (`AT TIME ZONE`, a session time zone) truncates in that zone: not pushed.
fn is_time(expr: &Expr) -> bool {
    match expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            let utc = match field.data_type() {
                DataType::Timestamp(_, None) => true,
                DataType::Timestamp(_, Some(tz)) => {
                    matches!(tz.as_ref(), "UTC" | "utc" | "+00:00" | "Z" | "Etc/UTC")
                }
                _ => false,
            };
            utc && column_name(expr) == Some(TIME)
        }
        _ => column_name(expr) == Some(TIME),
    }
}

/// What a `GROUP BY` expression is in Insights.
enum GroupBy {
    Key(Key),
    Const(ScalarValue),
}

fn group_by(expr: &Expr, group: &str) -> Option<GroupBy> {
    if let Some(name) = column_name(expr) {
        return match name {
            LOG_STREAM => Some(GroupBy::Key(Key::Stream)),
            LOG_GROUP => Some(GroupBy::Const(ScalarValue::Utf8(Some(group.to_string())))),
            _ => None,
        };
    }
    let Expr::ScalarFunction(ScalarFunction { func, args }) = expr else {
        return None;
    };
    match (func.name(), args.as_slice()) {
        ("date_trunc", [unit, time]) if is_time(time) => {
            let unit = match literal(unit)? {
                ScalarValue::Utf8(Some(u)) | ScalarValue::Utf8View(Some(u)) => u.to_lowercase(),
                _ => return None,
            };
            let ms = match unit.as_str() {
                "second" => 1000,
                "minute" => 60_000,
                "hour" => 3_600_000,
                "day" => 86_400_000,
                _ => return None,
            };
            Some(GroupBy::Key(Key::Bin(ms)))
        }
        ("date_bin", [width, time, rest @ ..]) if is_time(time) => {
            let ms = interval_ms(literal(width)?)?;
            // Buckets start at the origin; one a whole number of widths
            // from the epoch gives Insights' epoch-aligned buckets.
            let aligned = match rest {
                [] => true,
                [origin] => timestamp_ms(literal(origin)?)?.rem_euclid(ms) == 0,
                _ => false,
            };
            aligned.then_some(GroupBy::Key(Key::Bin(ms)))
        }
        _ => None,
    }
}

fn aggregate(expr: &Expr) -> Option<Agg> {
    let Expr::AggregateFunction(AggregateFunction { func, params }) = expr else {
        return None;
    };
    if func.name() != "count"
        || params.distinct
        || params.filter.is_some()
        || !params.order_by.is_empty()
    {
        return None;
    }
    match params.args.as_slice() {
        // count(*) is count(1); a column no row has NULL counts the same.
        [arg] => match (literal(arg), column_name(arg)) {
            (Some(v), _) if !v.is_null() => Some(Agg::CountAll),
            (_, Some(LOG_GROUP | LOG_STREAM | TIME | MESSAGE)) => Some(Agg::CountAll),
            _ => None,
        },
        _ => None,
    }
}

/// A SQL `LIKE` pattern as an Insights regex, when it has one that
/// matches exactly the same messages.
pub fn like_regex(pattern: &str) -> Option<String> {
    if !plain_text(pattern) {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    // Must end with `%`: matching the end of the message would need `$`.
    let (&last, body) = chars.split_last()?;
    if last != '%' {
        return None;
    }
    let mut body = body;
    let anchored = body.first() != Some(&'%');
    while let Some(('%', rest)) = body.split_first() {
        body = rest;
    }
    while let Some(('%', rest)) = body.split_last() {
        body = rest;
    }
    let mut regex = String::from(if anchored { "^" } else { "" });
    let mut literal = String::new();
    for &c in body {
        match c {
            '%' | '_' => {
                regex.push_str(&regex_literal(&std::mem::take(&mut literal)));
                regex.push_str(if c == '%' { r"[\s\S]*" } else { r"[\s\S]" });
            }
            c => literal.push(c),
        }
    }
    regex.push_str(&regex_literal(&literal));
    Some(regex)
}

/// A condition on the message as an Insights filter; `Ok(None)` when it
/// selects every event.
fn message_condition(expr: &Expr) -> Option<Option<Cond>> {
    let Expr::Like(Like {
        negated,
        expr,
        pattern,
        escape_char: None,
        case_insensitive: false,
    }) = expr
    else {
        return None;
    };
    if column_name(expr) != Some(MESSAGE) {
        return None;
    }
    let pattern = match literal(pattern)? {
        ScalarValue::Utf8(Some(p)) | ScalarValue::Utf8View(Some(p)) => p,
        _ => return None,
    };
    if pattern.chars().all(|c| c == '%') && !pattern.is_empty() {
        // Every message (messages are never NULL), or none of them.
        return (!*negated).then_some(None);
    }
    let regex = like_regex(pattern)?;
    Some(Some(Cond::MessageRegex {
        regex,
        negated: *negated,
    }))
}

/// The Logs Insights form of an aggregation, or `None` when any part of it
/// would not give exactly the SQL answer.
pub fn translate(aggregate_plan: &Aggregate) -> Option<Pushed> {
    let input = input_of(&aggregate_plan.input)?;
    let table = input.provider.downcast_ref::<LogTable>()?;
    let group = table.group().name.clone();
    let options = table.options();
    if !options.pushdown
        || options.insights_pushdown == InsightsPushdown::Off
        || table.has_archive()
        || !table.source().has_insights()
    {
        return None;
    }
    let mut streams = match table.scope() {
        TableScope::AllStreams => StreamSelection::All,
        TableScope::Stream(name) => StreamSelection::one(name.clone()),
        TableScope::Typed(_) => return None,
    };
    let mut time = TimeRange::ALL;
    let mut impossible = false;
    let mut filters = Vec::new();
    let mut seen = BTreeSet::new();
    for expr in input.filters.iter().flat_map(|f| split_conjunction(f)) {
        // A filter both pushed to the scan and kept above it appears twice.
        if !seen.insert(expr.to_string()) {
            continue;
        }
        if let Some(pushed) = translate_one(expr, &group) {
            time = time.intersect(&pushed.time);
            streams = streams.intersect(&pushed.streams);
            impossible |= pushed.impossible;
        } else {
            filters.extend(message_condition(expr)?);
        }
    }
    let mut query = AggQuery {
        filters: Vec::new(),
        aggs: Vec::new(),
        keys: Vec::new(),
    };
    match &streams {
        StreamSelection::All => {}
        StreamSelection::Named(names) => {
            if names.iter().any(|n| !plain_text(n)) {
                return None;
            }
            if names.is_empty() {
                impossible = true;
            } else {
                query.filters.push(Cond::StreamIn(names.clone()));
            }
        }
        StreamSelection::Prefix(prefix) => {
            if !plain_text(prefix) {
                return None;
            }
            query.filters.push(Cond::StreamPrefix(prefix.clone()));
        }
    }
    query.filters.extend(filters);
    let mut outputs = Vec::new();
    for expr in aggregate_plan.group_expr.iter() {
        let expr = resolve(expr.clone().unalias_nested().data.as_ref(), &input.columns)?;
        match group_by(&expr, &group)? {
            GroupBy::Key(key) => {
                let i = match query.keys.iter().position(|k| *k == key) {
                    Some(i) => i,
                    None => {
                        query.keys.push(key);
                        query.keys.len() - 1
                    }
                };
                outputs.push(Output::Key(i));
            }
            GroupBy::Const(v) => outputs.push(Output::Const(v)),
        }
    }
    for expr in aggregate_plan.aggr_expr.iter() {
        let expr = resolve(expr.clone().unalias_nested().data.as_ref(), &input.columns)?;
        query.aggs.push(aggregate(&expr)?);
        outputs.push(Output::Agg(query.aggs.len() - 1));
    }
    if query.aggs.is_empty() {
        // SELECT DISTINCT log_stream: no aggregate to ask for; the scan
        // (or the stream listing) answers it.
        return None;
    }
    Some(Pushed {
        table: Arc::clone(&input.provider),
        query,
        time,
        streams,
        impossible: impossible || time.is_empty(),
        outputs,
        grouped: !aggregate_plan.group_expr.is_empty(),
        range_end: options.insights_range_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::LogCatalog;
    use crate::insights_pushdown::exec::InsightsAggregateTable;
    use crate::insights_pushdown::rule::InsightsAggregatePushdown;
    use crate::source::demo::DemoSource;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use std::time::Duration;

    /// The Insights text the optimized plan of `sql` runs, if any.
    async fn pushed_text(ctx: &SessionContext, sql: &str) -> Option<String> {
        let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
        let mut found = None;
        plan.apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                if let Ok(p) = source_as_provider(&scan.source) {
                    if let Some(t) = p.downcast_ref::<InsightsAggregateTable>() {
                        found = Some(t.query_text());
                    }
                }
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
        .unwrap();
        found
    }

    #[tokio::test]
    async fn sql_aggregations_to_insights_queries() {
        let source = Arc::new(DemoSource::generate(1_795_600_800_000));
        let catalog = LogCatalog::new("cw", source, Duration::from_secs(60));
        let group = "/var/log/secure";
        catalog
            .prepare_table(group, "all_log_streams")
            .await
            .unwrap();
        let config = SessionConfig::new()
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema("cw", group);
        let ctx = SessionContext::new_with_config(config);
        ctx.register_catalog("cw", Arc::new(catalog));
        ctx.add_optimizer_rule(Arc::new(InsightsAggregatePushdown));
        let t = "all_log_streams";
        let cases: Vec<(String, Option<&str>)> = vec![
            (format!("SELECT count(*) FROM {t}"), Some("stats count(*) as c0")),
            (
                format!("SELECT log_stream, count(*), count(message) FROM {t} GROUP BY 1"),
                Some("stats count(*) as c0, count(*) as c1 by @logStream"),
            ),
            (
                format!("SELECT date_bin(INTERVAL '5 minutes', time) b, log_group, count(1) FROM {t} \
                         WHERE log_stream IN ('a', 'b') AND message NOT LIKE 'x_y%' GROUP BY 1, 2"),
                Some(r#"filter @logStream in ["a", "b"] | filter @message not like /^x[\s\S]y/ | stats count(*) as c0 by bin(5m)"#),
            ),
            (
                format!("SELECT date_trunc('DAY', time), count(*) FROM {t} WHERE log_stream LIKE 'ip-%' GROUP BY 1"),
                Some("filter @logStream like /^ip-/ | stats count(*) as c0 by bin(24h)"),
            ),
            // Not exact in Insights: the scan answers.
            (format!("SELECT count(DISTINCT log_stream) FROM {t}"), None),
            (format!("SELECT sum(length(message)) FROM {t}"), None),
            (format!("SELECT count(ingestion_time) FROM {t}"), None),
            (format!("SELECT count(*) FROM {t} WHERE message ILIKE '%x%'"), None),
            (format!("SELECT count(*) FROM {t} WHERE message LIKE '%x'"), None),
            (format!("SELECT count(*) FROM {t} WHERE length(message) > 3"), None),
            (format!("SELECT date_trunc('week', time), count(*) FROM {t} GROUP BY 1"), None),
            (format!("SELECT date_bin(INTERVAL '1 month', time), count(*) FROM {t} GROUP BY 1"), None),
            (
                format!("SELECT date_bin(INTERVAL '1 hour', time, TIMESTAMP '2026-01-01 00:30:00'), count(*) FROM {t} GROUP BY 1"),
                None,
            ),
            (format!("SELECT count(*) FROM (SELECT * FROM {t} LIMIT 5)"), None),
            (format!("SELECT message, count(*) FROM {t} GROUP BY 1"), None),
            (format!("SELECT DISTINCT log_stream FROM {t}"), None),
            // Truncated in another zone than UTC, which Insights' bin() uses.
            (
                format!("SELECT date_trunc('hour', time AT TIME ZONE 'Asia/Kolkata'), count(*) FROM {t} GROUP BY 1"),
                None,
            ),
            (
                format!("SELECT date_trunc('hour', time AT TIME ZONE 'UTC'), count(*) FROM {t} GROUP BY 1"),
                Some("stats count(*) as c0 by bin(1h)"),
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(pushed_text(&ctx, &sql).await.as_deref(), want, "{sql}");
        }
    }

    #[test]
    fn like_patterns_to_regexes() {
        let cases = [
            ("%ERROR%", Some("ERROR")),
            ("ERROR%", Some("^ERROR")),
            ("%a.b%", Some(r"a\.b")),
            ("%GET /api%", Some(r"GET \/api")),
            ("%a_b%", Some(r"a[\s\S]b")),
            ("%a%b%", Some(r"a[\s\S]*b")),
            ("START%id=_%", Some(r"^START[\s\S]*id=[\s\S]")),
            ("%%x%%", Some("x")),
            ("%ERROR", None),
            ("ERROR", None),
            ("", None),
            (r"%a\%b%", None),
            ("%say \"hi\"%", None),
        ];
        for (pattern, want) in cases {
            assert_eq!(like_regex(pattern).as_deref(), want, "{pattern}");
        }
    }
}
