use super::*;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type, Schema, TimestampSecondType};
use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{cast, col, lit, try_cast};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::formats::sql_keeps;
use crate::source::pattern_match;

const REJECTED_SSH: &str =
    "2 123456789012 eni-0a1b2c3d 203.0.113.12 10.0.0.5 51234 22 6 3 180 1700000000 1700000060 REJECT OK";

fn default_format() -> FlowLogFormat {
    FlowLogFormat::new(FlowLogLayout::default_v2())
}

fn decode(format: &FlowLogFormat, messages: &[&str]) -> Result<RecordBatch, DecodeError> {
    let all: Vec<usize> = (0..format.fields().len()).collect();
    let mut decoder = format.decoder(&all);
    for m in messages {
        assert!(decoder.push(m)?);
    }
    let schema = Arc::new(Schema::new(format.fields()));
    Ok(RecordBatch::try_new(schema, decoder.finish()).unwrap())
}

#[test]
fn layouts() {
    let v2 = FlowLogLayout::default_v2();
    assert_eq!(
        v2.column_names(),
        [
            "version",
            "account_id",
            "interface_id",
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "start",
            "end",
            "action",
            "log_status"
        ]
    );
    let parsed = FlowLogLayout::parse(
        "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} \
         ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}",
    )
    .unwrap();
    assert_eq!(parsed, v2);
    let v5 = FlowLogLayout::parse(
        "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} \
         ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} \
         ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} ${log-status} ${region} \
         ${az-id} ${sublocation-type} ${sublocation-id} ${pkt-src-aws-service} \
         ${pkt-dst-aws-service} ${flow-direction} ${traffic-path} ${ecs-task-id} ${reject-reason}",
    )
    .unwrap();
    assert_eq!(v5.len(), 31);
    let fields = FlowLogFormat::new(v5).fields();
    let type_of = |name: &str| fields.find(name).unwrap().1.data_type().clone();
    assert_eq!(type_of("tcp_flags"), DataType::Int32);
    assert_eq!(type_of("traffic_path"), DataType::Int32);
    assert_eq!(type_of("bytes"), DataType::Int64);
    assert_eq!(type_of("pkt_dst_aws_service"), DataType::Utf8);
    assert_eq!(
        type_of("end"),
        DataType::Timestamp(TimeUnit::Second, Some("UTC".into()))
    );
    assert!(fields.iter().all(|f| f.is_nullable()));

    for (bad, needle) in [
        ("${version} ${srcaddr} ${bogus}", "unknown field `bogus`"),
        ("${version} ${srcaddr} ${bogus}", "pkt-src-aws-service"),
        ("${version} srcaddr", "`srcaddr` is not a field"),
        ("${version} ${version}", "appears twice"),
        ("  ", "no fields"),
        ("${version", "is not a field"),
    ] {
        let err = FlowLogLayout::parse(bad).unwrap_err();
        assert!(err.contains(needle), "{bad}: {err}");
    }
}

#[test]
fn decodes_every_kind_and_dashes() {
    let format = default_format();
    let batch = decode(
        &format,
        &[
            REJECTED_SSH,
            "2 123456789012 eni-0a1b2c3d - - - - - - - 1700000000 1700000060 - NODATA",
            "2 123456789012 eni-0a1b2c3d 2001:db8::1 2001:db8::2 443 8443 6 9000000000 9000000000000 1700000000 1700000060 ACCEPT OK\n",
        ],
    )
    .unwrap();
    assert_eq!(batch.num_rows(), 3);
    let c = |name: &str| batch.column_by_name(name).unwrap().clone();
    assert_eq!(c("version").as_primitive::<Int32Type>().value(0), 2);
    assert_eq!(c("dstport").as_primitive::<Int32Type>().value(0), 22);
    assert!(c("dstport").is_null(1));
    assert_eq!(
        c("packets").as_primitive::<Int64Type>().value(2),
        9_000_000_000
    );
    assert_eq!(
        c("bytes").as_primitive::<Int64Type>().value(2),
        9_000_000_000_000
    );
    assert_eq!(
        c("start").as_primitive::<TimestampSecondType>().value(0),
        1_700_000_000
    );
    assert_eq!(c("action").as_string::<i32>().value(0), "REJECT");
    assert!(c("action").is_null(1));
    assert_eq!(c("log_status").as_string::<i32>().value(1), "NODATA");
    assert_eq!(c("srcaddr").as_string::<i32>().value(2), "2001:db8::1");
}

#[test]
fn projection_builds_only_projected_columns_in_order() {
    let format = default_format();
    let mut decoder = format.decoder(&[12, 6]);
    assert!(decoder.push(REJECTED_SSH).unwrap());
    let columns = decoder.finish();
    assert_eq!(columns.len(), 2);
    assert_eq!(columns[0].as_string::<i32>().value(0), "REJECT");
    assert_eq!(columns[1].as_primitive::<Int32Type>().value(0), 22);
    // A bad number outside the projection still makes the record unreadable:
    // the rows are the same whatever the projection.
    let bad = REJECTED_SSH.replace(" 180 ", " lots ");
    assert!(decoder.push(&bad).is_err());
    assert_eq!(decoder.finish()[0].len(), 0);
}

#[test]
fn unreadable_records() {
    let format = default_format();
    let cases: Vec<(String, &str)> = vec![
        (
            "2 123456789012 eni-1 1.1.1.1 2.2.2.2 1 2 6 3 180 1700000000 1700000060 REJECT".into(),
            "13 fields, the format 14",
        ),
        (format!("{REJECTED_SSH} extra"), "15 fields"),
        (REJECTED_SSH.replace(" 22 ", " ssh "), "dstport is `ssh`"),
        (REJECTED_SSH.replace(" 22 ", " -22 "), "dstport is `-22`"),
        (REJECTED_SSH.replace(" 22 ", " 99999999999 "), "dstport"),
        (REJECTED_SSH.replace(" 180 ", " 1.5 "), "bytes is `1.5`"),
        (
            REJECTED_SSH.replace(" 1700000000 ", " 2023-11-14 12:00 "),
            "15 fields",
        ),
        (REJECTED_SSH.replace(" 22 ", "  22 "), "is empty"),
        (REJECTED_SSH.replace(" 22 ", "\t22 "), "'\\t'"),
        (REJECTED_SSH.replace("REJECT", "\"REJECT\""), "'\"'"),
        (String::new(), "field 1 is empty"),
    ];
    for (message, needle) in cases {
        let mut decoder = format.decoder(&[0]);
        let err = decoder.push(&message).unwrap_err().0;
        assert!(err.contains(needle), "{message:?}: {err}");
        assert!(err.contains("flow_log_format"), "{err}");
    }
}

#[test]
fn custom_v5_layout_decodes() {
    let layout = FlowLogLayout::parse(
        "${version} ${srcaddr} ${dstaddr} ${pkt-src-aws-service} ${flow-direction} ${traffic-path} ${tcp-flags}",
    )
    .unwrap();
    let format = FlowLogFormat::new(layout);
    let batch = decode(&format, &["5 10.0.0.1 52.94.1.1 - egress 8 19"]).unwrap();
    assert!(batch.column(3).is_null(0));
    assert_eq!(batch.column(4).as_string::<i32>().value(0), "egress");
    assert_eq!(batch.column(5).as_primitive::<Int32Type>().value(0), 8);
    assert_eq!(batch.column(6).as_primitive::<Int32Type>().value(0), 19);
    assert!(decode(&format, &[REJECTED_SSH]).is_err());
}

// Pushdown ------------------------------------------------------------------------------

fn ts(seconds: i64, nanos: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(seconds * 1_000_000_000 + nanos),
        Some("UTC".into()),
    ))
}

fn ts_col(name: &str) -> Expr {
    cast(
        col(name),
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
    )
}

const V2_HEAD: &str = "[version, account_id, interface_id, srcaddr, dstaddr, srcport";

#[test]
fn pattern_strings() {
    let format = default_format();
    let cases: Vec<(Vec<Expr>, Option<String>, Vec<bool>)> = vec![
        (
            vec![col("dstport").eq(lit(22i32))],
            Some(format!("{V2_HEAD}, dstport=22, ...]")),
            vec![true],
        ),
        (
            vec![
                cast(col("dstport"), DataType::Int64).eq(lit(22i64)),
                col("action").eq(lit("REJECT")),
            ],
            Some(format!(
                "{V2_HEAD}, dstport=22, protocol, packets, bytes, start, end, action=\"REJECT\", ...]"
            )),
            vec![true, true],
        ),
        (
            vec![col("log_status").eq(lit("OK"))],
            Some(format!(
                "{V2_HEAD}, dstport, protocol, packets, bytes, start, end, action, log_status=\"OK\"]"
            )),
            vec![true],
        ),
        (
            vec![col("version").in_list(vec![lit(2i32), lit(3i32)], false)],
            Some("[version=2 || version=3, ...]".into()),
            vec![true],
        ),
        (
            vec![col("version")
                .eq(lit(2i32))
                .or(col("version").eq(lit(5i32)))],
            Some("[version=2 || version=5, ...]".into()),
            vec![true],
        ),
        (
            vec![col("version").in_list(vec![lit(2i32), lit(3i32)], true)],
            Some("[version!=2 && version!=3, ...]".into()),
            vec![true],
        ),
        (
            vec![col("version").between(lit(2i32), lit(4i32))],
            Some("[version>=2 && version<=4, ...]".into()),
            vec![true],
        ),
        (
            vec![col("version").gt(lit(1i32)), col("version").lt_eq(lit(4.5f64))],
            Some("[version>1 && version<=4, ...]".into()),
            vec![true, true],
        ),
        (
            vec![cast(col("version"), DataType::Float64).gt(lit(1.5f64))],
            Some("[version>=2, ...]".into()),
            vec![true],
        ),
        (
            vec![col("srcaddr").like(lit("10.0.%"))],
            Some("[version, account_id, interface_id, srcaddr=\"10.0.*\", ...]".into()),
            vec![true],
        ),
        (
            vec![col("interface_id").like(lit("eni-0a1b"))],
            Some("[version, account_id, interface_id=\"eni-0a1b\", ...]".into()),
            vec![true],
        ),
        (
            vec![col("action").not_eq(lit("ACCEPT"))],
            Some(format!(
                "{V2_HEAD}, dstport, protocol, packets, bytes, start, end, action!=\"ACCEPT\", ...]"
            )),
            vec![true],
        ),
        // Sub-second timestamps round outwards to whole seconds.
        (
            vec![
                ts_col("start").gt_eq(ts(1_700_000_000, 500_000_000)),
                ts_col("end").lt(ts(1_700_000_060, 1)),
            ],
            Some(format!(
                "{V2_HEAD}, dstport, protocol, packets, bytes, start>=1700000001, end<=1700000060, ...]"
            )),
            vec![true, true],
        ),
        (
            vec![col("start").gt(lit(ScalarValue::TimestampSecond(
                Some(1_700_000_000),
                Some("UTC".into()),
            )))],
            Some(format!(
                "{V2_HEAD}, dstport, protocol, packets, bytes, start>1700000000, ...]"
            )),
            vec![true],
        ),
        // One filter: an AND whose parts land on two fields.
        (
            vec![col("dstport")
                .eq(lit(22i32))
                .and(col("srcaddr").eq(lit("203.0.113.12")))],
            Some("[version, account_id, interface_id, srcaddr=\"203.0.113.12\", dstaddr, srcport, dstport=22, ...]".into()),
            vec![true],
        ),
        // An IN list does not mix with other conditions on its field.
        (
            vec![
                col("dstport").in_list(vec![lit(22i32), lit(80i32)], false),
                col("dstport").gt(lit(10i32)),
            ],
            Some(format!("{V2_HEAD}, dstport=22 || dstport=80, ...]")),
            vec![true, false],
        ),
    ];
    for (filters, pattern, used) in cases {
        let refs: Vec<&Expr> = filters.iter().collect();
        let pushed = format.pushdown(&refs);
        assert_eq!(pushed.filter_pattern, pattern, "{filters:?}");
        assert_eq!(pushed.used, used, "{filters:?}");
        assert_eq!(pushed.record_time, TimeRange::ALL);
    }
}

#[test]
fn not_pushed() {
    let format = default_format();
    let filters = vec![
        col("action").eq(lit("has space")),
        col("action").eq(lit("quo\"te")),
        col("action").eq(lit("wild*")),
        col("action").eq(lit("-")),
        col("action").eq(lit("")),
        col("action").lt(lit("M")),
        col("action").like(lit("%REJECT")),
        col("action").like(lit("RE_ECT")),
        col("action").ilike(lit("reject")),
        col("action").not_like(lit("REJECT")),
        col("action").is_null(),
        col("dstport")
            .eq(lit(22i32))
            .or(col("srcport").eq(lit(22i32))),
        col("dstport")
            .gt(lit(22i32))
            .or(col("dstport").lt(lit(10i32))),
        col("dstport").eq(lit(ScalarValue::Int32(None))),
        col("dstport").in_list(vec![lit(22i32), lit(ScalarValue::Int32(None))], false),
        Expr::Not(Box::new(col("dstport").between(lit(1i32), lit(5i32)))),
        col("bytes").gt(lit(1i64 << 53)),
        col("bytes").eq(lit(i64::MAX)),
        col("version").eq(lit(2.5f64)),
        cast(col("bytes"), DataType::Float64).gt(lit(1.0f64)),
        cast(col("dstport"), DataType::Int8).eq(lit(22i8)),
        cast(col("dstport"), DataType::Utf8).eq(lit("22")),
        cast(col("start"), DataType::Int64).gt(lit(5i64)),
        col("time").gt(ts(1, 0)),
        col("log_stream").eq(lit("eni-1-all")),
        col("nosuch").eq(lit(1i32)),
        col("dstport").eq(col("srcport")),
    ];
    for f in &filters {
        let pushed = format.pushdown(&[f]);
        assert_eq!(pushed.filter_pattern, None, "{f}");
        assert_eq!(pushed.used, vec![false], "{f}");
    }
}

#[test]
fn stays_within_the_pattern_limit() {
    let format = default_format();
    let long: Vec<Expr> = (0..400)
        .map(|i| col("dstaddr").not_eq(lit(format!("10.0.{}.{}", i / 250, i % 250))))
        .collect();
    let refs: Vec<&Expr> = long.iter().collect();
    let pushed = format.pushdown(&refs);
    let pattern = pushed.filter_pattern.unwrap();
    assert!(pattern.len() <= MAX_PATTERN_LEN, "{}", pattern.len());
    assert!(pushed.used[0]);
    assert!(!pushed.used[399]);
    let kept = pushed.used.iter().filter(|u| **u).count();
    assert_eq!(pattern.matches("!=").count(), kept);
}

// Properties: whatever SQL keeps, the pattern matches ------------------------------------

/// Values a generated record draws from, by kind: edges, and values
/// conditions are built around.
fn value_for(kind: Kind) -> BoxedStrategy<String> {
    let dash = Just("-".to_string());
    match kind {
        Kind::Int32 => prop_oneof![
            1 => dash,
            4 => prop::sample::select(vec![0i64, 1, 2, 5, 6, 17, 22, 80, 443, 65535, i32::MAX.into()])
                .prop_map(|v| v.to_string()),
            2 => (0i64..100).prop_map(|v| v.to_string()),
            1 => (0i64..100).prop_map(|v| format!("0{v}")),
        ]
        .boxed(),
        Kind::Int64 => prop_oneof![
            1 => dash,
            3 => prop::sample::select(vec![
                0i64,
                1,
                840,
                (1 << 53) - 1,
                1 << 53,
                (1 << 53) + 1,
                i64::MAX,
            ])
            .prop_map(|v| v.to_string()),
            2 => (0i64..2000).prop_map(|v| v.to_string()),
        ]
        .boxed(),
        // Times a cast to milliseconds can hold.
        Kind::Seconds => prop_oneof![
            1 => dash,
            1 => prop::sample::select(vec![0i64, 1, 9_000_000_000])
                .prop_map(|v| v.to_string()),
            3 => (1_699_999_990i64..1_700_000_070).prop_map(|v| v.to_string()),
        ]
        .boxed(),
        Kind::Text => prop_oneof![
            1 => dash,
            4 => prop::sample::select(vec![
                "ACCEPT", "REJECT", "OK", "NODATA", "10.0.0.1", "10.0.1.7", "10.0.0.10",
                "2001:db8::1", "eni-0a1b", "eni-0a1bc", "us-east-1", "egress", "x", "-x",
                "S3", "AMAZON", "arn:aws:ecs:us-east-1:1:task/x", "a,b", "a|b", "a\\b",
            ])
            .prop_map(str::to_string),
        ]
        .boxed(),
    }
}

fn layout_strategy() -> BoxedStrategy<FlowLogLayout> {
    prop_oneof![
        Just(FlowLogLayout::default_v2()),
        prop::sample::subsequence((0..KNOWN.len()).collect::<Vec<_>>(), 1..12)
            .prop_shuffle()
            .prop_map(|fields| FlowLogLayout { fields }),
    ]
    .boxed()
}

/// A literal of the column's own type, or the column cast as DataFusion
/// casts it to meet a wider literal.
fn operand_and_literal(name: &str, kind: Kind, value: &str) -> BoxedStrategy<(Expr, Expr)> {
    let c = col(name);
    let number: Option<i64> = value.parse().ok();
    let near = number.unwrap_or(22);
    match kind {
        Kind::Int32 => {
            let v = (near.clamp(i32::MIN.into(), i32::MAX.into()) as i32, near);
            prop_oneof![
                (-2i32..=2).prop_map(move |d| (c.clone(), lit(v.0.saturating_add(d)))),
                (-2i64..=2).prop_map({
                    let c = col(name);
                    move |d| (cast(c.clone(), DataType::Int64), lit(v.1 + d))
                }),
                (-4i64..=4).prop_map({
                    let c = col(name);
                    move |d| {
                        (
                            try_cast(c.clone(), DataType::Float64),
                            lit(v.1 as f64 + d as f64 / 2.0),
                        )
                    }
                }),
            ]
            .boxed()
        }
        Kind::Int64 => (-2i64..=2)
            .prop_map(move |d| (c.clone(), lit(near.saturating_add(d))))
            .boxed(),
        Kind::Seconds => {
            let tz: Option<Arc<str>> = Some("UTC".into());
            prop_oneof![
                (-2i64..=2).prop_map({
                    let (c, tz) = (c.clone(), tz.clone());
                    move |d| {
                        (
                            c.clone(),
                            lit(ScalarValue::TimestampSecond(
                                Some(near.saturating_add(d)),
                                tz.clone(),
                            )),
                        )
                    }
                }),
                (-2000i64..=2000).prop_map(move |d| {
                    let secs = near.clamp(-9_000_000_000, 9_000_000_000);
                    (
                        cast(
                            c.clone(),
                            DataType::Timestamp(TimeUnit::Millisecond, tz.clone()),
                        ),
                        lit(ScalarValue::TimestampMillisecond(
                            Some(secs * 1000 + d),
                            tz.clone(),
                        )),
                    )
                }),
            ]
            .boxed()
        }
        Kind::Text => {
            let value = value.to_string();
            prop_oneof![
                3 => Just((c.clone(), lit(value.clone()))),
                1 => value_for(Kind::Text).prop_map(move |v| (c.clone(), lit(v))),
            ]
            .boxed()
        }
    }
}

fn predicate(name: String, kind: Kind, value: String) -> BoxedStrategy<Expr> {
    let ops = prop::sample::select(vec![
        Operator::Eq,
        Operator::NotEq,
        Operator::Lt,
        Operator::LtEq,
        Operator::Gt,
        Operator::GtEq,
    ]);
    let simple = (operand_and_literal(&name, kind, &value), ops, any::<bool>()).prop_map(
        |((c, l), op, flip)| {
            if flip {
                Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(l),
                    op.swap().unwrap(),
                    Box::new(c),
                ))
            } else {
                Expr::BinaryExpr(BinaryExpr::new(Box::new(c), op, Box::new(l)))
            }
        },
    );
    // Two literals of one type, against the column cast once.
    let pair = (
        operand_and_literal(&name, kind, &value),
        operand_and_literal(&name, kind, &value),
    )
        .prop_filter("one operand", |((a, _), (b, _))| a == b);
    let between = pair.clone().prop_map(|((c, a), (_, b))| c.between(a, b));
    let in_list = (pair.clone(), any::<bool>())
        .prop_map(|(((c, a), (_, b)), negated)| c.in_list(vec![a, b], negated));
    let or = pair.prop_map(|((c, a), (c2, b))| c.eq(a).or(c2.eq(b)));
    let mut options = vec![simple.boxed(), between.boxed(), in_list.boxed(), or.boxed()];
    if kind == Kind::Text {
        let text = value.clone();
        options.push(
            (0..=text.len(), any::<bool>())
                .prop_map(move |(cut, percent)| {
                    let cut = (0..=cut)
                        .rev()
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(0);
                    let pattern = format!("{}{}", &text[..cut], if percent { "%" } else { "" });
                    col(name.as_str()).like(lit(pattern))
                })
                .boxed(),
        );
    }
    prop::strategy::Union::new(options).boxed()
}

/// A layout, a record of it, and filters (some ANDed within one filter) on
/// its fields, built around the record's values.
fn scenario() -> impl Strategy<Value = (FlowLogLayout, Vec<String>, Vec<Expr>)> {
    layout_strategy()
        .prop_flat_map(|layout| {
            let values: Vec<BoxedStrategy<String>> = (0..layout.len())
                .map(|i| value_for(layout.kind(i)))
                .collect();
            (Just(layout), values)
        })
        .prop_flat_map(|(layout, values)| {
            let predicates: Vec<BoxedStrategy<Expr>> = (0..layout.len())
                .map(|i| {
                    predicate(
                        layout.column_names()[i].clone(),
                        layout.kind(i),
                        values[i].clone(),
                    )
                })
                .collect();
            let filters = prop::collection::vec(
                (
                    prop::sample::select(predicates),
                    prop::option::of(0..layout.len()),
                ),
                1..4,
            );
            (Just(layout), Just(values), filters)
        })
        .prop_flat_map(|(layout, values, picks)| {
            let filters: Vec<BoxedStrategy<Expr>> = picks
                .into_iter()
                .map(|(first, and_with)| match and_with {
                    None => first.boxed(),
                    Some(_) => (first.clone(), first).prop_map(|(a, b)| a.and(b)).boxed(),
                })
                .collect();
            (Just(layout), Just(values), filters)
        })
}

#[test]
fn patterns_select_every_row_sql_keeps() {
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&scenario(), |(layout, values, filters)| {
            let message = values.join(" ");
            let format = FlowLogFormat::new(layout);
            let batch = match decode(&format, &[&message]) {
                Ok(batch) => batch,
                // Values with pattern syntax ("a,b") decode; others the
                // generator never makes unreadable.
                Err(e) => panic!("{message}: {e}"),
            };
            let refs: Vec<&Expr> = filters.iter().collect();
            let pushed = format.pushdown(&refs);
            prop_assert_eq!(pushed.used.len(), filters.len());
            prop_assert_eq!(pushed.filter_pattern.is_some(), pushed.used.contains(&true));
            let kept = filters.iter().all(|f| sql_keeps(&batch, f));
            if let (true, Some(pattern)) = (kept, &pushed.filter_pattern) {
                prop_assert!(pattern.len() <= MAX_PATTERN_LEN);
                prop_assert_eq!(
                    pattern_match::matches(pattern, &message),
                    Some(true),
                    "{} on {} with {:?}",
                    pattern,
                    message,
                    filters.iter().map(ToString::to_string).collect::<Vec<_>>()
                );
            }
            Ok(())
        })
        .unwrap();
}
