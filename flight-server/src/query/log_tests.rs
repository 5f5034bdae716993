//! The query log's states, end to end on the demo source.

use super::*;
use crate::auth::Caller;
use crate::config::AuditSql;
use crate::query::admission::Admission;
use crate::query::limits::QueryLimits;
use crate::query::QueryEngine;
use logflight_connector::{DemoSource, LogCatalog};
use std::time::Duration;

struct Fixture {
    log: QueryLog,
    metrics: Arc<QueryMetrics>,
    engine: QueryEngine,
    audit_path: std::path::PathBuf,
    admission: Admission,
}

fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("logflight-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit_path = dir.join(format!("{name}.jsonl"));
    let _ = std::fs::remove_file(&audit_path);
    let audit = Arc::new(AuditLog::open(&audit_path, AuditSql::Text).unwrap());
    let metrics = Arc::new(QueryMetrics::default());
    let catalog = LogCatalog::new(
        "cloudwatch",
        Arc::new(DemoSource::new()),
        Duration::from_secs(60),
    );
    Fixture {
        log: QueryLog::new(Arc::clone(&metrics), Some(audit)),
        metrics,
        engine: QueryEngine::new(vec![catalog]).unwrap(),
        audit_path,
        admission: Admission::new(&QueryLimits::default()),
    }
}

impl Fixture {
    fn lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn count(&self, outcome: &str) -> String {
        let catalogs: Vec<_> = self.engine.catalogs().cloned().collect();
        let text = self.metrics.render(&catalogs);
        let key = format!("logflight_queries_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_default()
            .to_string()
    }

    async fn running(&self, sql: &str) -> QueryRecord<Running> {
        let ctx = QueryContext::new(Caller::default(), "DoGet");
        let planned = self.engine.plan(sql, None).await.unwrap();
        self.log
            .received(&ctx, sql, false)
            .permitted(self.admission.admit().await.unwrap())
            .running(&planned)
    }
}

const SQL: &str = "SELECT count(*) FROM \"/aws/lambda/orders-api\".all_log_streams";

#[tokio::test]
async fn a_query_that_runs_to_its_end_succeeds_with_its_rows_and_groups() {
    let f = fixture("ok");
    let mut record = f.running(SQL).await;
    record.add_rows(3);
    record.succeeded();
    assert_eq!(f.count("ok"), "1");
    let lines = f.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(lines[0]["rows"], 3);
    assert_eq!(lines[0]["rpc"], "DoGet");
    assert_eq!(lines[0]["groups"][0]["log_group"], "/aws/lambda/orders-api");
}

#[tokio::test]
async fn a_record_dropped_before_its_end_is_cancelled() {
    let f = fixture("cancelled");
    let mut record = f.running(SQL).await;
    record.add_rows(1);
    drop(record);
    assert_eq!(f.count("cancelled"), "1");
    assert_eq!(f.lines()[0]["outcome"], "cancelled");
    // A query refused before it held a slot is failed, not cancelled.
    let ctx = QueryContext::new(Caller::default(), "DoGet");
    f.log
        .received(&ctx, "SELECT 1", false)
        .failed(&ServerError::Limit("queue full".into()));
    let lines = f.lines();
    assert_eq!(lines[1]["outcome"], "failed");
    assert_eq!(lines[1]["error_code"], "ResourceExhausted");
    assert_eq!(f.count("failed"), "1");
}

#[tokio::test]
async fn planning_failures_are_audited_but_not_counted() {
    let f = fixture("planning");
    let ctx = QueryContext::new(Caller::default(), "GetFlightInfo");
    f.log
        .planning_failed(&ctx, "SELEC 1", &ServerError::ReadOnly("X".into()));
    let lines = f.lines();
    assert_eq!(lines[0]["rpc"], "GetFlightInfo");
    assert_eq!(lines[0]["error_code"], "PermissionDenied");
    assert_eq!(f.count("failed"), "0");
}

#[tokio::test]
async fn the_recorded_stream_ends_the_record_with_the_stream() {
    let f = fixture("stream");
    let batch = RecordBatch::try_from_iter([(
        "n",
        Arc::new(arrow::array::Int64Array::from(vec![1, 2])) as _,
    )])
    .unwrap();
    let items = vec![Ok(batch.clone()), Ok(batch)];
    let out: Vec<_> = recorded(stream::iter(items), f.running(SQL).await)
        .collect()
        .await;
    assert_eq!(out.len(), 2);
    assert_eq!(f.lines()[0]["rows"], 4);
    let items = vec![Err(ServerError::Timeout("slow".into()))];
    let out: Vec<_> = recorded(stream::iter(items), f.running(SQL).await)
        .collect()
        .await;
    assert!(out[0].is_err());
    assert_eq!(f.lines()[1]["outcome"], "failed");
    assert_eq!(f.lines()[1]["error_code"], "DeadlineExceeded");
}
