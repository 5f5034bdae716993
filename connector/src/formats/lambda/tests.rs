use super::*;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{cast, col, lit};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::formats::sql_keeps;
use crate::source::pattern_match;

const ID: &str = "8f5e2c1a-3b4d-4e6f-9a0b-1c2d3e4f5a6b";

fn warm() -> String {
    format!(
        "REPORT RequestId: {ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t\n"
    )
}

fn cold() -> String {
    format!(
        "REPORT RequestId: {ID}\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\tMax Memory Used: 88 MB\tInit Duration: 150.12 ms\t\nXRAY TraceId: 1-5e1b4151-5ac6c58f5f5b5d4c1b2a3f4e\tSegmentId: 6b1a2c3d4e5f6a7b\tSampled: true\t\n"
    )
}

fn json(status: &str, extra_metrics: &str, extra: &str) -> String {
    format!(
        r#"{{"time":"2024-05-01T12:00:00.000Z","type":"platform.report","record":{{"requestId":"{ID}","metrics":{{"durationMs":2.86,"billedDurationMs":3,"memorySizeMB":128,"maxMemoryUsedMB":68{extra_metrics}}},"status":"{status}"{extra}}}}}"#
    )
}

fn decode(messages: &[&str]) -> Result<(RecordBatch, Vec<bool>), DecodeError> {
    let format = LambdaReportFormat;
    let all: Vec<usize> = (0..COLUMNS.len()).collect();
    let mut decoder = format.decoder(&all);
    let rows = messages
        .iter()
        .map(|m| decoder.push(m))
        .collect::<Result<Vec<_>, _>>()?;
    let schema = Arc::new(Schema::new(format.fields()));
    Ok((
        RecordBatch::try_new(schema, decoder.finish()).unwrap(),
        rows,
    ))
}

#[test]
fn reports_become_rows_and_other_lines_do_not() {
    let cold = cold();
    let warm = warm();
    let timeout = json(
        "timeout",
        r#","initDurationMs":180.5"#,
        r#","errorType":"Sandbox.Timedout","tracing":{"spanId":"x","type":"X-Amzn-Trace-Id","value":"Root=1-abc-def;Parent=1;Sampled=1"}"#,
    );
    let snap = json(
        "success",
        r#","restoreDurationMs":474.16,"billedRestoreDurationMs":40"#,
        "",
    );
    let messages = [
        format!("START RequestId: {ID} Version: $LATEST\n"),
        cold.clone(),
        "2024-05-01T12:00:00.000Z\tabc\tINFO\thello REPORT RequestId: no".to_string(),
        format!("END RequestId: {ID}\n"),
        warm.clone(),
        r#"{"time":"t","type":"platform.start","record":{"requestId":"x"}}"#.to_string(),
        r#"{"level":"INFO","message":"user text mentions platform.report"}"#.to_string(),
        "{ not json but mentions platform.report".to_string(),
        timeout,
        snap,
        format!("REPORT RequestId: {ID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB\tStatus: timeout"),
    ];
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let (batch, rows) = decode(&refs).unwrap();
    assert_eq!(
        rows,
        [false, true, false, false, true, false, false, false, true, true, true]
    );
    assert_eq!(batch.num_rows(), 5);
    let c = |name: &str| batch.column_by_name(name).unwrap().clone();
    let f = |name: &str, row: usize| c(name).as_primitive::<Float64Type>().value(row);
    let i = |name: &str, row: usize| c(name).as_primitive::<Int64Type>().value(row);
    let s = |name: &str, row: usize| {
        let a = c(name);
        a.is_valid(row)
            .then(|| a.as_string::<i32>().value(row).to_string())
    };
    // Cold text report, with X-Ray.
    assert_eq!(s("request_id", 0).as_deref(), Some(ID));
    assert_eq!(f("duration_ms", 0), 102.25);
    assert_eq!(i("billed_duration_ms", 0), 103);
    assert_eq!(i("memory_size_mb", 0), 512);
    assert_eq!(i("max_memory_used_mb", 0), 88);
    assert_eq!(f("init_duration_ms", 0), 150.12);
    assert_eq!(
        s("xray_trace_id", 0).as_deref(),
        Some("1-5e1b4151-5ac6c58f5f5b5d4c1b2a3f4e")
    );
    assert_eq!(s("status", 0), None);
    // Warm: no init duration.
    assert!(c("init_duration_ms").is_null(1));
    assert_eq!(f("duration_ms", 1), 12.34);
    assert!(c("xray_trace_id").is_null(1));
    // JSON timeout.
    assert_eq!(s("status", 2).as_deref(), Some("timeout"));
    assert_eq!(s("error_type", 2).as_deref(), Some("Sandbox.Timedout"));
    assert_eq!(f("init_duration_ms", 2), 180.5);
    assert_eq!(f("duration_ms", 2), 2.86);
    assert_eq!(i("billed_duration_ms", 2), 3);
    assert_eq!(s("xray_trace_id", 2).as_deref(), Some("1-abc-def"));
    // JSON SnapStart.
    assert_eq!(f("restore_duration_ms", 3), 474.16);
    assert_eq!(i("billed_restore_duration_ms", 3), 40);
    assert!(c("init_duration_ms").is_null(3));
    assert_eq!(s("status", 3).as_deref(), Some("success"));
    // A text report with a status part.
    assert_eq!(s("status", 4).as_deref(), Some("timeout"));
}

#[test]
fn projection() {
    let mut decoder = LambdaReportFormat.decoder(&[MAX_MEMORY_USED, REQUEST_ID]);
    assert!(decoder.push(&warm()).unwrap());
    assert!(decoder.push(&json("error", "", "")).unwrap());
    let columns = decoder.finish();
    assert_eq!(columns.len(), 2);
    assert_eq!(
        columns[0].as_primitive::<Int64Type>().values().to_vec(),
        [70, 68]
    );
    assert_eq!(columns[1].as_string::<i32>().value(1), ID);
}

#[test]
fn unreadable_reports() {
    let cases = [
        (warm().replace("12.34 ms", "fast"), "Duration is not in ms"),
        (warm().replace("12.34", "1x"), "Duration is not a number"),
        (
            warm().replace("13 ms", "13.5 ms"),
            "Billed Duration is not a whole number",
        ),
        (warm().replace("128 MB", "128 GB"), "Memory Size"),
        (
            warm().replace("\tMax Memory Used: 70 MB", ""),
            "no Max Memory Used",
        ),
        (warm().replace(ID, ""), "empty RequestId"),
        (
            json("success", "", "").replace("\"durationMs\":2.86,", ""),
            "no durationMs",
        ),
        (
            json("success", "", "").replace("2.86", "\"slow\""),
            "durationMs is not a number",
        ),
        (
            json("success", "", "").replace(":3,", ":3.5,"),
            "billedDurationMs",
        ),
        (json("success", "", "").replace(ID, "\\u0041bc"), "escapes"),
        (
            r#"{"type":"platform.report","record":{}}"#.to_string(),
            "no requestId",
        ),
        (
            r#"{"type":"platform.report","record":{"requestId":"a"}}"#.to_string(),
            "no metrics",
        ),
        (r#"{"type":"platform.report", broken"#.to_string(), "line 1"),
    ];
    for (message, needle) in cases {
        let mut decoder = LambdaReportFormat.decoder(&[0]);
        let err = decoder.push(&message).unwrap_err().0;
        assert!(err.contains(needle), "{message:?}: {err}");
    }
}

#[test]
fn pattern_terms() {
    let reports = Some(REPORTS_PATTERN.to_string());
    let cases: Vec<(Vec<Expr>, Option<String>, Vec<bool>)> = vec![
        (vec![], reports.clone(), vec![]),
        (
            vec![col("duration_ms").gt(lit(100.0))],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id").eq(lit(ID))],
            Some(format!("\"{ID}\"")),
            vec![true],
        ),
        (
            vec![lit("abc").eq(cast(col("request_id"), DataType::Utf8View))],
            Some("\"abc\"".into()),
            vec![true],
        ),
        (
            vec![col("request_id").in_list(vec![lit("b"), lit("a"), lit("b")], false)],
            Some("?\"a\" ?\"b\"".into()),
            vec![true],
        ),
        (
            vec![col("request_id")
                .eq(lit("a"))
                .or(col("request_id").eq(lit("c")))],
            Some("?\"a\" ?\"c\"".into()),
            vec![true],
        ),
        (
            vec![
                col("duration_ms").gt(lit(1.0)),
                col("request_id")
                    .eq(lit("a"))
                    .and(col("status").eq(lit("error"))),
                col("request_id").eq(lit("b")),
            ],
            Some("\"a\"".into()),
            vec![false, true, false],
        ),
        // Not pushed: the general pattern stands.
        (
            vec![col("request_id").eq(lit("has \"quote\""))],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id").eq(lit("two words"))],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id").eq(lit(""))],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id").not_eq(lit("a"))],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id").like(lit("a%"))],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id").in_list(vec![lit("a")], true)],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id")
                .eq(lit("a"))
                .or(col("status").eq(lit("error")))],
            reports.clone(),
            vec![false],
        ),
        (
            vec![col("request_id")
                .in_list((0..60).map(|i| lit(format!("{ID}-{i}"))).collect(), false)],
            reports.clone(),
            vec![false],
        ),
    ];
    for (filters, pattern, used) in cases {
        let refs: Vec<&Expr> = filters.iter().collect();
        let pushed = LambdaReportFormat.pushdown(&refs);
        assert_eq!(pushed.filter_pattern, pattern, "{filters:?}");
        assert_eq!(pushed.used, used, "{filters:?}");
        assert_eq!(pushed.record_time, TimeRange::ALL);
    }
}

// Properties ----------------------------------------------------------------------------

const IDS: &[&str] = &[
    "8f5e2c1a-3b4d-4e6f-9a0b-1c2d3e4f5a6b",
    "8f5e2c1a-3b4d-4e6f-9a0b-1c2d3e4f5a6c",
    "a",
    "ab",
];

fn message() -> impl Strategy<Value = String> {
    let id = prop::sample::select(IDS);
    let ms = (0u32..100_000).prop_map(|v| f64::from(v) / 100.0);
    let mb = prop::sample::select(vec![128i64, 512, 10240]);
    prop_oneof![
        (id.clone(), ms.clone(), mb.clone(), prop::option::of(ms.clone()), any::<bool>()).prop_map(
            |(id, d, m, init, xray)| {
                let mut s = format!(
                    "REPORT RequestId: {id}\tDuration: {d:.2} ms\tBilled Duration: {} ms\tMemory Size: {m} MB\tMax Memory Used: {} MB\t",
                    d.ceil() as i64,
                    m / 2
                );
                if let Some(init) = init {
                    s.push_str(&format!("Init Duration: {init:.2} ms\t"));
                }
                if xray {
                    s.push_str("\nXRAY TraceId: 1-a-b\tSegmentId: c\tSampled: true\t");
                }
                s.push('\n');
                s
            }
        ),
        (
            id.clone(),
            ms,
            mb,
            prop::sample::select(vec!["success", "error", "timeout"])
        )
            .prop_map(|(id, d, m, status)| format!(
                r#"{{"time":"t","type":"platform.report","record":{{"requestId":"{id}","metrics":{{"durationMs":{d},"billedDurationMs":{},"memorySizeMB":{m},"maxMemoryUsedMB":{}}},"status":"{status}"}}}}"#,
                d.ceil() as i64,
                m / 3
            )),
        id.clone().prop_map(|id| format!("START RequestId: {id} Version: $LATEST")),
        id.prop_map(|id| format!("{{\"type\":\"platform.start\",\"record\":{{\"requestId\":\"{id}\"}}}}")),
    ]
}

fn filter() -> impl Strategy<Value = Expr> {
    let id = || prop::sample::select(IDS).prop_map(lit);
    prop_oneof![
        id().prop_map(|v| col("request_id").eq(v)),
        id().prop_map(|v| v.eq(col("request_id"))),
        (id(), id()).prop_map(|(a, b)| col("request_id").in_list(vec![a, b], false)),
        (id(), id()).prop_map(|(a, b)| col("request_id").eq(a).or(col("request_id").eq(b))),
        (id(), 0.0f64..1000.0)
            .prop_map(|(a, d)| col("request_id").eq(a).and(col("duration_ms").gt(lit(d)))),
        (0.0f64..1000.0).prop_map(|d| col("duration_ms").lt(lit(d))),
        prop::sample::select(vec!["success", "error", "timeout"])
            .prop_map(|s| col("status").eq(lit(s))),
        id().prop_map(|v| col("request_id").not_eq(v)),
    ]
}

#[test]
fn terms_select_every_row_sql_keeps() {
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(message(), prop::collection::vec(filter(), 0..3)),
            |(message, filters)| {
                let (batch, rows) = decode(&[&message]).unwrap();
                let refs: Vec<&Expr> = filters.iter().collect();
                let pushed = LambdaReportFormat.pushdown(&refs);
                let pattern = pushed.filter_pattern.unwrap();
                prop_assert!(pattern.len() <= MAX_PATTERN_LEN);
                if rows[0] && filters.iter().all(|f| sql_keeps(&batch, f)) {
                    prop_assert_eq!(
                        pattern_match::matches(&pattern, &message),
                        Some(true),
                        "{} on {:?}",
                        pattern,
                        message
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}
