//! Property tests of the pushdown translator (`pushdown.rs`) on generated
//! DataFusion expressions over the log table's columns, with hostile
//! literals (extreme timestamps in every unit, i64::MIN/MAX, NaN, empty,
//! unicode and NUL strings, NULLs, LIKE patterns full of wildcards).
//!
//! Two kinds of checks:
//! - nothing panics, on raw (uncoerced, often ill-typed) expressions, and
//!   the functions agree with each other (`Exact` exactly when
//!   `translate_one` translates, `translate` is the conjunction of the
//!   filters that translate);
//! - DataFusion itself is the oracle: the expression, coerced (and then
//!   simplified) as the planner would before handing it to the table, is
//!   evaluated over a batch of events built around its literals. A filter
//!   reported `Exact` must select exactly the events the scan keeps (time
//!   range, stream selection, impossible); a message term or JSON pattern
//!   must hold for every event the filter selects; a name selection must
//!   contain every name the filter selects.

use std::cell::Cell;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{
    cast, col, lit, try_cast, BinaryExpr, Expr, Operator, TableProviderFilterPushDown,
};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::prelude::SessionContext;
use datafusion_functions_json::udfs;
use logflight_connector::batch::log_schema;
use logflight_connector::pushdown::{
    filter_support, json_condition, json_pattern, message_term, name_selection, time_range_for,
    translate, translate_one, Pushdown,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const G: &str = "/aws/lambda/orders-api";
const NANOS_PER_MS: i128 = 1_000_000;
/// Event times the oracle uses: those `CAST(time AS Timestamp(ns))` can
/// represent (years 1677-2262; CloudWatch holds nothing outside them).
const SAFE_MS: i64 = i64::MAX / 1_000_000 - 1;

fn cases(n: u32) -> Config {
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

// Strategies --------------------------------------------------------------------------

fn hostile_i64() -> BoxedStrategy<i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MIN + 1),
        Just(i64::MAX),
        Just(i64::MAX - 1),
        Just(0),
        Just(-1),
        Just(1),
        Just(SAFE_MS),
        Just(-SAFE_MS),
        1_600_000_000_000i64..1_900_000_000_000,
        -5_000i64..5_000,
        any::<i64>(),
    ]
    .boxed()
}

fn hostile_text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(G.to_string()),
        Just("/other".to_string()),
        Just("ERROR".to_string()),
        Just("2026/11/".to_string()),
        Just("\0".to_string()),
        Just("a\nb".to_string()),
        Just("ünïcödé".to_string()),
        Just("x".repeat(2000)),
        "[ab%_\\\\]{0,6}",
        "[a-zA-Z0-9/ .=:-]{0,12}%?",
        "%?[a-zA-Z0-9 ]{0,8}%",
        "\\PC{0,6}",
        "[\"{}*$\\\\]{0,4}",
    ]
    .boxed()
}

fn time_unit() -> BoxedStrategy<TimeUnit> {
    prop_oneof![
        Just(TimeUnit::Second),
        Just(TimeUnit::Millisecond),
        Just(TimeUnit::Microsecond),
        Just(TimeUnit::Nanosecond),
    ]
    .boxed()
}

fn time_zone() -> BoxedStrategy<Option<Arc<str>>> {
    prop_oneof![
        Just(None),
        Just(Some("UTC".into())),
        Just(Some("+05:00".into()))
    ]
    .boxed()
}

fn timestamp(unit: TimeUnit, v: Option<i64>, tz: Option<Arc<str>>) -> ScalarValue {
    match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(v, tz),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(v, tz),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(v, tz),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(v, tz),
    }
}

fn scalar() -> BoxedStrategy<ScalarValue> {
    prop_oneof![
        4 => (time_unit(), hostile_i64(), time_zone())
            .prop_map(|(u, v, tz)| timestamp(u, Some(v), tz)),
        4 => hostile_text().prop_map(|s| ScalarValue::Utf8(Some(s))),
        1 => hostile_text().prop_map(|s| ScalarValue::LargeUtf8(Some(s))),
        1 => hostile_text().prop_map(|s| ScalarValue::Utf8View(Some(s))),
        1 => hostile_i64().prop_map(|v| ScalarValue::Int64(Some(v))),
        1 => any::<i32>().prop_map(|v| ScalarValue::Int32(Some(v))),
        1 => any::<u64>().prop_map(|v| ScalarValue::UInt64(Some(v))),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(2.5),
            any::<f64>()
        ]
        .prop_map(|v| ScalarValue::Float64(Some(v))),
        1 => any::<bool>().prop_map(|v| ScalarValue::Boolean(Some(v))),
        1 => any::<i32>().prop_map(|v| ScalarValue::Date32(Some(v))),
        1 => prop_oneof![
            Just(ScalarValue::Null),
            Just(ScalarValue::Utf8(None)),
            Just(ScalarValue::Int64(None)),
            Just(ScalarValue::Boolean(None)),
            time_unit().prop_map(|u| timestamp(u, None, Some("UTC".into()))),
        ],
    ]
    .boxed()
}

fn column() -> BoxedStrategy<Expr> {
    prop_oneof![
        4 => Just(col("time")),
        3 => Just(col("log_stream")),
        2 => Just(col("log_group")),
        2 => Just(col("message")),
        1 => Just(col("ingestion_time")),
        1 => Just(col("no_such_column")),
        2 => (time_unit(), time_zone())
            .prop_map(|(u, tz)| cast(col("time"), DataType::Timestamp(u, tz))),
        1 => (time_unit(), time_zone())
            .prop_map(|(u, tz)| try_cast(col("time"), DataType::Timestamp(u, tz))),
        1 => Just(cast(col("time"), DataType::Int64)),
        1 => prop_oneof![
            Just(DataType::Utf8),
            Just(DataType::LargeUtf8),
            Just(DataType::Utf8View),
            Just(DataType::Int64)
        ]
        .prop_flat_map(|t| prop_oneof![
            Just(cast(col("log_stream"), t.clone())),
            Just(cast(col("log_group"), t)),
        ]),
    ]
    .boxed()
}

fn operand() -> BoxedStrategy<Expr> {
    prop_oneof![3 => column(), 3 => scalar().prop_map(lit)].boxed()
}

fn operator() -> BoxedStrategy<Operator> {
    prop_oneof![
        4 => Just(Operator::Eq),
        1 => Just(Operator::NotEq),
        2 => Just(Operator::Lt),
        2 => Just(Operator::LtEq),
        2 => Just(Operator::Gt),
        2 => Just(Operator::GtEq),
        1 => Just(Operator::IsDistinctFrom),
        1 => Just(Operator::IsNotDistinctFrom),
        1 => Just(Operator::Plus),
        1 => Just(Operator::LikeMatch),
    ]
    .boxed()
}

/// A JSON path argument list: keys and indexes, some of them odd.
fn json_keys() -> BoxedStrategy<Vec<Expr>> {
    let key = prop_oneof![
        3 => prop_oneof![Just("a"), Just("n"), Just("ok"), Just("user-agent"), Just(""), Just("é")]
            .prop_map(lit),
        1 => (-2i64..3).prop_map(lit),
        1 => Just(col("log_stream")),
    ];
    proptest::collection::vec(key, 0..3).boxed()
}

fn json_call() -> BoxedStrategy<Expr> {
    let function = prop_oneof![
        Just(udfs::json_get_str_udf()),
        Just(udfs::json_as_text_udf()),
        Just(udfs::json_get_int_udf()),
        Just(udfs::json_get_float_udf()),
        Just(udfs::json_get_bool_udf()),
        Just(udfs::json_get_udf()),
    ];
    let first = prop_oneof![4 => Just(col("message")), 1 => Just(col("log_stream"))];
    (function, first, json_keys())
        .prop_map(|(f, first, mut keys)| {
            keys.insert(0, first);
            f.call(keys)
        })
        .boxed()
}

fn like_pattern() -> BoxedStrategy<Expr> {
    prop_oneof![
        4 => hostile_text().prop_map(lit),
        1 => Just(lit(ScalarValue::Utf8(None))),
        1 => Just(col("message")),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Expr> {
    prop_oneof![
        6 => (operand(), operator(), operand())
            .prop_map(|(l, op, r)| Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))),
        2 => (column(), scalar(), scalar(), any::<bool>()).prop_map(|(c, lo, hi, negated)| {
            if negated {
                c.not_between(lit(lo), lit(hi))
            } else {
                c.between(lit(lo), lit(hi))
            }
        }),
        3 => (
            column(),
            like_pattern(),
            any::<bool>(),
            any::<bool>(),
            prop_oneof![4 => Just(None), 1 => Just(Some('\\')), 1 => Just(Some('%'))]
        )
            .prop_map(|(c, p, negated, ci, escape)| {
                Expr::Like(datafusion::logical_expr::Like::new(
                    negated,
                    Box::new(c),
                    Box::new(p),
                    escape,
                    ci,
                ))
            }),
        2 => (
            column(),
            proptest::collection::vec(scalar().prop_map(lit), 0..5),
            any::<bool>()
        )
            .prop_map(|(c, list, negated)| c.in_list(list, negated)),
        1 => column().prop_map(Expr::is_null),
        1 => column().prop_map(Expr::is_not_null),
        2 => (json_call(), operator(), scalar()).prop_map(|(call, op, v)| {
            Expr::BinaryExpr(BinaryExpr::new(Box::new(call), op, Box::new(lit(v))))
        }),
        1 => (scalar(), operator(), json_call()).prop_map(|(v, op, call)| {
            Expr::BinaryExpr(BinaryExpr::new(Box::new(lit(v)), op, Box::new(call)))
        }),
        1 => json_call(),
        1 => column(),
        1 => scalar().prop_map(lit),
    ]
    .boxed()
}

/// Columns and literals of matching kinds, so that most filters plan and
/// the oracle judges them (odd units, zones, casts and values included).
fn time_column() -> BoxedStrategy<Expr> {
    prop_oneof![
        4 => Just(col("time")),
        2 => (time_unit(), time_zone())
            .prop_map(|(u, tz)| cast(col("time"), DataType::Timestamp(u, tz))),
        1 => (time_unit(), time_zone())
            .prop_map(|(u, tz)| try_cast(col("time"), DataType::Timestamp(u, tz))),
        1 => Just(col("ingestion_time")),
    ]
    .boxed()
}

fn time_literal() -> BoxedStrategy<Expr> {
    prop_oneof![
        6 => (time_unit(), hostile_i64(), time_zone())
            .prop_map(|(u, v, tz)| lit(timestamp(u, Some(v), tz))),
        1 => Just(lit("2026-11-14T12:00:00Z")),
        1 => time_unit().prop_map(|u| lit(timestamp(u, None, Some("UTC".into())))),
    ]
    .boxed()
}

fn name_column() -> BoxedStrategy<Expr> {
    prop_oneof![
        4 => Just(col("log_stream")),
        2 => Just(col("log_group")),
        2 => Just(col("message")),
        1 => Just(cast(col("log_stream"), DataType::Utf8View)),
        1 => Just(cast(col("log_group"), DataType::LargeUtf8)),
    ]
    .boxed()
}

fn text_literal() -> BoxedStrategy<Expr> {
    prop_oneof![
        8 => hostile_text().prop_map(lit),
        1 => hostile_text().prop_map(|s| lit(ScalarValue::Utf8View(Some(s)))),
        1 => Just(lit(ScalarValue::Utf8(None))),
    ]
    .boxed()
}

fn comparison() -> BoxedStrategy<Operator> {
    prop_oneof![
        Just(Operator::Eq),
        Just(Operator::NotEq),
        Just(Operator::Lt),
        Just(Operator::LtEq),
        Just(Operator::Gt),
        Just(Operator::GtEq),
        Just(Operator::IsNotDistinctFrom),
    ]
    .boxed()
}

fn binary(l: Expr, op: Operator, r: Expr, swap: bool) -> Expr {
    let (l, r) = if swap { (r, l) } else { (l, r) };
    Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
}

fn typed_leaf() -> BoxedStrategy<Expr> {
    prop_oneof![
        6 => (time_column(), comparison(), time_literal(), any::<bool>())
            .prop_map(|(c, op, v, swap)| binary(c, op, v, swap)),
        2 => (time_column(), time_literal(), time_literal(), any::<bool>()).prop_map(|(c, lo, hi, negated)| {
            if negated { c.not_between(lo, hi) } else { c.between(lo, hi) }
        }),
        4 => (name_column(), comparison(), text_literal(), any::<bool>())
            .prop_map(|(c, op, v, swap)| binary(c, op, v, swap)),
        2 => (name_column(), proptest::collection::vec(text_literal(), 0..5), any::<bool>())
            .prop_map(|(c, list, negated)| c.in_list(list, negated)),
        3 => (
            name_column(),
            hostile_text(),
            any::<bool>(),
            any::<bool>(),
            prop_oneof![6 => Just(None), 1 => Just(Some('\\'))]
        )
            .prop_map(|(c, p, negated, ci, escape)| {
                Expr::Like(datafusion::logical_expr::Like::new(
                    negated,
                    Box::new(c),
                    Box::new(lit(p)),
                    escape,
                    ci,
                ))
            }),
        3 => (json_call(), comparison(), scalar(), any::<bool>())
            .prop_map(|(call, op, v, swap)| binary(call, op, lit(v), swap)),
        1 => json_call(),
        1 => Just(col("ingestion_time").is_null()),
    ]
    .boxed()
}

/// Predicates on `message` that should give a term or a JSON condition.
fn message_leaf() -> BoxedStrategy<Expr> {
    let key = prop_oneof![
        4 => prop_oneof![Just("a"), Just("n"), Just("ok")].prop_map(lit),
        1 => (0i64..2).prop_map(lit),
    ];
    let keys = proptest::collection::vec(key, 1..3);
    let m = || col("message");
    let with = |f: Arc<datafusion::logical_expr::ScalarUDF>, mut keys: Vec<Expr>| {
        keys.insert(0, col("message"));
        f.call(keys)
    };
    prop_oneof![
        3 => "%?[a-zA-Z0-9 _%]{0,12}%?".prop_map(move |p| m().like(lit(p))),
        1 => hostile_text().prop_map(move |t| m().eq(lit(t))),
        2 => (keys.clone(), hostile_text(), any::<bool>()).prop_map(move |(k, t, as_text)| {
            let f = if as_text { udfs::json_as_text_udf() } else { udfs::json_get_str_udf() };
            with(f, k).eq(lit(t))
        }),
        2 => (keys.clone(), comparison(), hostile_i64(), any::<bool>()).prop_map(move |(k, op, v, swap)| {
            binary(with(udfs::json_get_int_udf(), k), op, lit(v), swap)
        }),
        1 => (keys.clone(), comparison(), any::<f64>()).prop_map(move |(k, op, v)| {
            binary(with(udfs::json_get_float_udf(), k), op, lit(v), false)
        }),
        1 => (keys.clone(), any::<bool>()).prop_map(move |(k, v)| with(udfs::json_get_bool_udf(), k).eq(lit(v))),
        1 => keys.prop_map(move |k| with(udfs::json_get_bool_udf(), k)),
    ]
    .boxed()
}

fn typed_filter() -> BoxedStrategy<Expr> {
    typed_leaf()
        .prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
                inner.prop_map(|a| !a),
            ]
        })
        .boxed()
}

fn filter() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
                inner.prop_map(|a| !a),
            ]
        })
        .boxed()
}

// The oracle ---------------------------------------------------------------------------

fn df_schema() -> DFSchema {
    DFSchema::try_from(log_schema().as_ref().clone()).unwrap()
}

/// What the planner does to a filter before the table sees it: coercion,
/// then (second form) simplification. Ill-typed expressions give nothing.
fn planned_forms(expr: &Expr) -> Vec<Expr> {
    let schema = Arc::new(df_schema());
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(Arc::clone(&schema))
            .build(),
    );
    let Ok(coerced) = simplifier.coerce(expr.clone(), &schema) else {
        return vec![];
    };
    let mut forms = vec![coerced.clone()];
    if let Ok(simplified) = simplifier.simplify(coerced) {
        forms.push(simplified);
    }
    forms
}

struct Events {
    batch: RecordBatch,
    groups: Vec<String>,
    streams: Vec<String>,
    times: Vec<i64>,
    messages: Vec<String>,
}

fn nanos_of(v: &ScalarValue) -> Option<i128> {
    let per = |u: TimeUnit| match u {
        TimeUnit::Second => 1_000_000_000i128,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    match v {
        ScalarValue::TimestampSecond(Some(x), _) => Some(i128::from(*x) * per(TimeUnit::Second)),
        ScalarValue::TimestampMillisecond(Some(x), _) => {
            Some(i128::from(*x) * per(TimeUnit::Millisecond))
        }
        ScalarValue::TimestampMicrosecond(Some(x), _) => {
            Some(i128::from(*x) * per(TimeUnit::Microsecond))
        }
        ScalarValue::TimestampNanosecond(Some(x), _) => Some(i128::from(*x)),
        ScalarValue::Int64(Some(x)) => Some(i128::from(*x) * NANOS_PER_MS),
        _ => None,
    }
}

fn json_value(v: &ScalarValue) -> Option<String> {
    Some(match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => serde_json::Value::String(s.clone()).to_string(),
        ScalarValue::Int64(Some(i)) => i.to_string(),
        ScalarValue::Int32(Some(i)) => i.to_string(),
        ScalarValue::UInt64(Some(i)) => i.to_string(),
        ScalarValue::Float64(Some(f)) if f.is_finite() => format!("{f:?}"),
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        _ => return None,
    })
}

/// Events around the expression's literals: times at and next to each
/// boundary, names and messages equal to, containing, and near each string.
fn events_for(exprs: &[Expr]) -> Events {
    let mut times: Vec<i64> = vec![0, -1, 1, 1_795_000_000_000, SAFE_MS, -SAFE_MS];
    let mut texts: Vec<String> = vec![G.into(), "a".into(), String::new()];
    let mut json_values: Vec<String> =
        vec!["3".into(), "3.7".into(), "true".into(), "\"x\"".into()];
    for expr in exprs {
        expr.apply(|e| {
            if let Expr::Literal(v, _) = e {
                if let Some(ns) = nanos_of(v) {
                    let floor = ns.div_euclid(NANOS_PER_MS);
                    for t in [floor - 1, floor, floor + 1, floor + 2] {
                        times.push(t.clamp(-(SAFE_MS as i128), SAFE_MS as i128) as i64);
                    }
                }
                if let Some(s) = match v {
                    ScalarValue::Utf8(Some(s))
                    | ScalarValue::LargeUtf8(Some(s))
                    | ScalarValue::Utf8View(Some(s)) => Some(s),
                    _ => None,
                } {
                    texts.push(s.clone());
                    texts.push(s.replace(['%', '_'], ""));
                    texts.push(s.replace('%', "xyz").replace('_', "q"));
                    texts.push(format!("{s}z"));
                    let mut shorter = s.clone();
                    shorter.pop();
                    texts.push(shorter);
                }
                if let Some(j) = json_value(v) {
                    json_values.push(j);
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
    }
    // JSON messages for the keys the expression uses.
    for value in json_values.iter().take(6) {
        texts.push(format!(r#"{{"a":{value},"n":{value},"ok":{value}}}"#));
        texts.push(format!(r#"{{"a":[{value},{{"n":{value}}}]}}"#));
        texts.push(format!(r#"{{"a":{{"a":{value},"n":{value}}}}}"#));
    }
    times.sort();
    times.dedup();
    texts.sort();
    texts.dedup();
    times.truncate(24);
    texts.truncate(40);

    let (mut groups, mut streams, mut ts, mut messages, mut ingestion) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (i, t) in times.iter().enumerate() {
        for (j, s) in texts.iter().enumerate() {
            if (i * 7 + j * 3) % 4 != 0 && j > 2 {
                continue; // a sample of the product keeps the batch small
            }
            groups.push(if (i + j) % 5 == 0 {
                s.clone()
            } else {
                G.to_string()
            });
            streams.push(s.clone());
            ts.push(*t);
            messages.push(texts[(i * 5 + j) % texts.len()].clone());
            ingestion.push(((i + j) % 2 == 0).then_some(*t));
        }
    }
    let batch = RecordBatch::try_new(
        log_schema(),
        vec![
            Arc::new(StringArray::from(groups.clone())),
            Arc::new(StringArray::from(streams.clone())),
            Arc::new(TimestampMillisecondArray::from(ts.clone()).with_timezone("UTC")),
            Arc::new(TimestampMillisecondArray::from(ingestion).with_timezone("UTC")),
            Arc::new(StringArray::from(messages.clone())),
        ],
    )
    .unwrap();
    Events {
        batch,
        groups,
        streams,
        times: ts,
        messages,
    }
}

/// Which events DataFusion selects (NULL is not selected); None when it
/// cannot evaluate the expression as a predicate.
fn selected(ctx: &SessionContext, expr: &Expr, events: &Events) -> Option<Vec<bool>> {
    let physical = ctx.create_physical_expr(expr.clone(), &df_schema()).ok()?;
    let value = physical.evaluate(&events.batch).ok()?;
    let array = value.into_array(events.batch.num_rows()).ok()?;
    let booleans = array.as_any().downcast_ref::<BooleanArray>()?;
    Some(
        (0..booleans.len())
            .map(|i| booleans.is_valid(i) && booleans.value(i))
            .collect(),
    )
}

fn scan_keeps(p: &Pushdown, events: &Events, i: usize) -> bool {
    !p.impossible && p.time.contains(events.times[i]) && p.streams.contains(&events.streams[i])
}

/// A JSON path as logflight writes them (`$.a[0].b`) applied to a value.
fn follow<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let mut rest = path.strip_prefix('$')?;
    let mut at = value;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            at = at.as_object()?.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            at = at.as_array()?.get(r[..end].parse::<usize>().ok()?)?;
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(at)
}

/// CloudWatch's reading of one JSON condition on one message, as far as
/// logflight writes them: `path = "text"`, `path OP number`, `path IS TRUE`.
fn json_condition_holds(condition: &str, message: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(message) else {
        return false;
    };
    let (path, rest) = condition.split_once(' ').expect("path then operator");
    let Some(value) = follow(&doc, path) else {
        return false;
    };
    match rest {
        "IS TRUE" => value == &serde_json::Value::Bool(true),
        "IS FALSE" => value == &serde_json::Value::Bool(false),
        _ => {
            let (op, operand) = rest.split_once(' ').expect("operator then value");
            if let Some(text) = operand.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                assert_eq!(op, "=", "{condition}");
                return value.as_str() == Some(text);
            }
            let (Some(have), Ok(want)) = (value.as_f64(), operand.parse::<f64>()) else {
                return false;
            };
            // serde_json (without float_roundtrip) may read a float one ulp
            // off, and CloudWatch's float reading is not specified that
            // finely: values that close count as matching either way.
            if (have - want).abs() <= 1e-12 * have.abs().max(want.abs()) {
                return true;
            }
            match op {
                "=" => have == want,
                "<" => have < want,
                "<=" => have <= want,
                ">" => have > want,
                ">=" => have >= want,
                other => panic!("unexpected operator {other:?} in {condition}"),
            }
        }
    }
}

/// Whether a message matches a filter pattern as `translate` writes them.
fn pattern_matches(pattern: &str, message: &str) -> bool {
    if let Some(term) = pattern.strip_prefix('%').and_then(|p| p.strip_suffix('%')) {
        return message.contains(term);
    }
    let inner = pattern
        .strip_prefix("{ ")
        .and_then(|p| p.strip_suffix(" }"))
        .unwrap_or_else(|| panic!("neither %term% nor a JSON pattern: {pattern}"));
    if inner.starts_with('(') {
        inner
            .strip_prefix('(')
            .and_then(|p| p.strip_suffix(')'))
            .expect("parenthesised conditions")
            .split(") && (")
            .all(|c| json_condition_holds(c, message))
    } else {
        json_condition_holds(inner, message)
    }
}

#[derive(Default)]
struct Tally {
    forms: Cell<usize>,
    evaluated: Cell<usize>,
    exact: Cell<usize>,
    terms: Cell<usize>,
    json: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

/// Everything the oracle checks about one planned filter.
fn check_one(ctx: &SessionContext, expr: &Expr, tally: &Tally) -> Result<(), TestCaseError> {
    bump(&tally.forms);
    let events = events_for(std::slice::from_ref(expr));
    let Some(sel) = selected(ctx, expr, &events) else {
        return Ok(());
    };
    bump(&tally.evaluated);
    let exact = translate_one(expr, G);
    let support = filter_support(&[expr], G);
    prop_assert_eq!(
        support[0] == TableProviderFilterPushDown::Exact,
        exact.is_some(),
        "{}",
        expr
    );
    if let Some(p) = &exact {
        bump(&tally.exact);
        for (i, &s) in sel.iter().enumerate() {
            if events.groups[i] != G {
                continue; // a log table only holds its own group's events
            }
            prop_assert_eq!(
                s,
                scan_keeps(p, &events, i),
                "filter {} reported Exact as {:?}, but DataFusion {} the event (stream {:?}, time {})",
                expr,
                p,
                if s { "selects" } else { "rejects" },
                events.streams[i],
                events.times[i]
            );
        }
    }
    if let Some(term) = message_term(expr) {
        bump(&tally.terms);
        prop_assert!(
            term.len() >= 3 && term.chars().all(|c| c.is_ascii_alphanumeric()),
            "{}",
            term
        );
        for (i, &s) in sel.iter().enumerate() {
            prop_assert!(
                !s || events.messages[i].contains(&term),
                "filter {} selects message {:?}, which lacks its term {:?}",
                expr,
                events.messages[i],
                term
            );
        }
    }
    if let Some(condition) = json_condition(expr) {
        bump(&tally.json);
        for (i, &s) in sel.iter().enumerate() {
            prop_assert!(
                !s || json_condition_holds(&condition, &events.messages[i]),
                "filter {} selects message {:?}, which fails its JSON condition {:?}",
                expr,
                events.messages[i],
                condition
            );
        }
    }
    if let Some(pattern) = translate(std::slice::from_ref(expr), G).filter_pattern {
        prop_assert!(pattern.len() <= 1024, "{}", pattern);
        for (i, &s) in sel.iter().enumerate() {
            prop_assert!(
                !s || pattern_matches(&pattern, &events.messages[i]),
                "filter {} selects message {:?}, which its pattern {:?} would not read",
                expr,
                events.messages[i],
                pattern
            );
        }
    }
    for (column, names) in [
        ("log_group", &events.groups),
        ("log_stream", &events.streams),
    ] {
        let selection = name_selection(std::slice::from_ref(expr), column);
        for (i, &s) in sel.iter().enumerate() {
            prop_assert!(
                !s || selection.contains(&names[i]),
                "filter {} selects {} {:?}, outside its name selection {:?}",
                expr,
                column,
                names[i],
                selection
            );
        }
    }
    Ok(())
}

#[test]
fn exact_and_inexact_pushdown_agree_with_datafusion() {
    let ctx = SessionContext::new();
    let tally = Tally::default();
    let mut runner = TestRunner::new(cases(3000));
    let expressions = prop_oneof![
        4 => typed_leaf(),
        2 => message_leaf(),
        3 => typed_filter(),
        1 => filter(),
    ];
    runner
        .run(&expressions, |expr| {
            for form in planned_forms(&expr) {
                check_one(&ctx, &form, &tally)?;
            }
            Ok(())
        })
        .unwrap();
    // The oracle must actually have judged translations, not skipped them.
    let (forms, evaluated, exact) = (tally.forms.get(), tally.evaluated.get(), tally.exact.get());
    eprintln!(
        "{forms} planned filters, {evaluated} evaluated, {exact} exact, {} terms, {} JSON conditions",
        tally.terms.get(),
        tally.json.get()
    );
    assert!(
        evaluated * 4 >= forms,
        "only {evaluated} of {forms} filters evaluated"
    );
    assert!(exact >= 150, "only {exact} exact translations checked");
    assert!(
        tally.terms.get() >= 50,
        "only {} message terms checked",
        tally.terms.get()
    );
    assert!(
        tally.json.get() >= 100,
        "only {} JSON conditions checked",
        tally.json.get()
    );
}

/// Several filters at once, as DataFusion pushes a WHERE's conjuncts.
#[test]
fn combined_filters_agree_with_datafusion() {
    let ctx = SessionContext::new();
    let mut runner = TestRunner::new(cases(1500));
    let checked = Cell::new(0usize);
    runner
        .run(&proptest::collection::vec(typed_filter(), 1..4), |raw| {
            let filters: Vec<Expr> = raw.iter().filter_map(|e| planned_forms(e).pop()).collect();
            let events = events_for(&filters);
            let mut all = vec![true; events.batch.num_rows()];
            let mut exact_all = all.clone();
            for f in &filters {
                let Some(sel) = selected(&ctx, f, &events) else {
                    return Ok(());
                };
                let exact = translate_one(f, G).is_some();
                for i in 0..all.len() {
                    all[i] &= sel[i];
                    if exact {
                        exact_all[i] &= sel[i];
                    }
                }
            }
            checked.set(checked.get() + 1);
            let pushed = translate(&filters, G);
            for i in 0..all.len() {
                if events.groups[i] != G {
                    continue;
                }
                prop_assert_eq!(
                    exact_all[i],
                    scan_keeps(&pushed, &events, i),
                    "filters {:?} pushed as {:?}: event (stream {:?}, time {})",
                    filters,
                    pushed,
                    events.streams[i],
                    events.times[i]
                );
                if let Some(pattern) = &pushed.filter_pattern {
                    prop_assert!(
                        !all[i] || pattern_matches(pattern, &events.messages[i]),
                        "filters {:?} select message {:?} that pattern {:?} would not read",
                        filters,
                        events.messages[i],
                        pattern
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        checked.get() >= 300,
        "only {} filter sets evaluated",
        checked.get()
    );
}

/// Raw generated expressions, most of them ill-typed: nothing panics, and
/// the functions agree with one another.
#[test]
fn raw_expressions_never_panic_and_stay_consistent() {
    let mut runner = TestRunner::new(cases(4000));
    runner
        .run(&proptest::collection::vec(filter(), 0..4), |filters| {
            let refs: Vec<&Expr> = filters.iter().collect();
            let support = filter_support(&refs, G);
            prop_assert_eq!(support.len(), filters.len());
            let mut folded = Pushdown::default();
            for (f, s) in filters.iter().zip(&support) {
                let one = translate_one(f, G);
                let inexact = message_term(f).is_some() || json_condition(f).is_some();
                let want = match (&one, inexact) {
                    (Some(_), _) => TableProviderFilterPushDown::Exact,
                    (None, true) => TableProviderFilterPushDown::Inexact,
                    (None, false) => TableProviderFilterPushDown::Unsupported,
                };
                prop_assert_eq!(s, &want, "{}", f);
                if let Some(p) = one {
                    prop_assert_eq!(
                        p.filter_pattern,
                        None,
                        "translate_one sets no pattern: {}",
                        f
                    );
                    folded.time = folded.time.intersect(&p.time);
                    folded.streams = folded.streams.intersect(&p.streams);
                    folded.impossible |= p.impossible;
                }
                // AND of a filter with itself says the same.
                if let Some(p) = translate_one(f, G) {
                    let twice = translate_one(&f.clone().and(f.clone()), G);
                    prop_assert_eq!(twice, Some(p), "{}", f);
                }
            }
            let pushed = translate(&filters, G);
            prop_assert_eq!(pushed.time, folded.time);
            prop_assert_eq!(&pushed.streams, &folded.streams);
            prop_assert_eq!(pushed.impossible, folded.impossible);
            if let Some(pattern) = &pushed.filter_pattern {
                prop_assert!(pattern.len() <= 1024, "{}", pattern);
            }
            for column in ["log_group", "log_stream", "time", "message"] {
                let _ = name_selection(&filters, column);
            }
            Ok(())
        })
        .unwrap();
}

/// `time <op> X` for every X a timestamp literal can hold (any unit) and
/// every millisecond `t`: the range contains `t` exactly when `t <op> X`
/// holds, computed exactly in i128.
#[test]
fn time_ranges_hold_exactly_the_times_that_compare_true() {
    let nanos = prop_oneof![
        (time_unit(), hostile_i64())
            .prop_map(|(u, v)| { nanos_of(&timestamp(u, Some(v), None)).unwrap() }),
        any::<i64>().prop_map(i128::from),
    ];
    let ops = prop_oneof![
        Just(Operator::Eq),
        Just(Operator::Lt),
        Just(Operator::LtEq),
        Just(Operator::Gt),
        Just(Operator::GtEq),
    ];
    let mut runner = TestRunner::new(cases(5000));
    runner
        .run(&(ops, nanos, hostile_i64()), |(op, x, extra)| {
            let range = time_range_for(op, x).expect("a comparison operator");
            let near = x.div_euclid(NANOS_PER_MS);
            let mut probes = vec![i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, 0, extra];
            for d in -2..=2 {
                if let Ok(t) = i64::try_from(near + d) {
                    probes.push(t);
                }
            }
            for t in probes {
                let tn = i128::from(t) * NANOS_PER_MS;
                let holds = match op {
                    Operator::Eq => tn == x,
                    Operator::Lt => tn < x,
                    Operator::LtEq => tn <= x,
                    Operator::Gt => tn > x,
                    Operator::GtEq => tn >= x,
                    _ => unreachable!(),
                };
                prop_assert_eq!(
                    range.contains(t),
                    holds,
                    "time {:?} {} ns gives {:?}, wrong for t = {} ms",
                    op,
                    x,
                    range,
                    t
                );
            }
            Ok(())
        })
        .unwrap();
    for op in [Operator::NotEq, Operator::Plus, Operator::And] {
        assert_eq!(time_range_for(op, 0), None, "{op:?}");
    }
}

/// JSON patterns of any conditions stay within CloudWatch's 1024 bytes and
/// always keep the first condition (each one alone fits).
#[test]
fn json_patterns_fit_the_api_limit() {
    let condition = "[a-zA-Z0-9$.= \"]{0,300}";
    let mut runner = TestRunner::new(cases(2000));
    runner
        .run(&proptest::collection::vec(condition, 0..12), |conditions| {
            match json_pattern(&conditions) {
                None => prop_assert!(conditions.is_empty()),
                Some(p) => {
                    prop_assert!(p.len() <= 1024, "{} bytes", p.len());
                    prop_assert!(p.starts_with("{ ") && p.ends_with(" }"), "{}", p);
                    prop_assert!(p.contains(conditions[0].as_str()), "{}", p);
                }
            }
            Ok(())
        })
        .unwrap();
}
