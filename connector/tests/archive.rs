//! The archive on the demo source, in process: a run copies every event
//! once, a second run adds nothing, and queries answer the same from live
//! CloudWatch, from the archive and from both at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use logflight_connector::archive::layout::Day;
use logflight_connector::archive::table::ArchiveView;
use logflight_connector::archive::{commit, ArchiveRoot, Archiver, RunOptions};
use logflight_connector::counters::ReadCounters;
use logflight_connector::model::ReadRequest;
use logflight_connector::source::SharedSource;
use logflight_connector::{DemoSource, LogCatalog};

const ANCHOR: i64 = 1_795_000_000_000;
const GROUP: &str = "/aws/lambda/orders-api";

fn source() -> SharedSource {
    Arc::new(DemoSource::generate(ANCHOR))
}

/// Events per day of the group, read straight from the source.
async fn live_days(source: &SharedSource) -> BTreeMap<Day, u64> {
    let pages: Vec<_> = source
        .read_events(&ReadRequest::whole_group(GROUP), &ReadCounters::default())
        .try_collect()
        .await
        .unwrap();
    let mut days = BTreeMap::new();
    for e in pages.iter().flat_map(|p| &p.events) {
        *days.entry(Day::of_ms(e.timestamp_ms)).or_default() += 1;
    }
    days
}

async fn groups(source: &SharedSource) -> Vec<logflight_connector::model::LogGroup> {
    let mut groups = source.list_groups().await.unwrap();
    groups.retain(|g| g.name == GROUP);
    groups
}

fn context(catalog: LogCatalog, root: Option<&ArchiveRoot>) -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(false)
        .with_create_default_catalog_and_schema(false)
        .with_default_catalog_and_schema("cloudwatch", "public");
    let ctx = SessionContext::new_with_config(config);
    if let Some(root) = root {
        ctx.runtime_env()
            .register_object_store(root.url().as_ref(), Arc::clone(root.store()));
    }
    ctx.register_catalog("cloudwatch", Arc::new(catalog));
    ctx
}

async fn answer(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test]
async fn a_run_archives_every_event_once_and_queries_agree() {
    let source = source();
    let dir = std::env::temp_dir().join(format!("logflight-archive-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = ArchiveRoot::open(dir.to_str().unwrap(), &Default::default())
        .await
        .unwrap();
    let groups = groups(&source).await;
    let expected = live_days(&source).await;
    assert!(
        expected.len() >= 2,
        "the demo group spans days: {expected:?}"
    );
    let days: Vec<Day> = expected.keys().copied().collect();

    // Archive all but the last day: the query then needs both sides.
    let first = Archiver::new(root.clone(), "cloudwatch", Arc::clone(&source));
    let until = days[days.len() - 2].end_ms();
    let options = RunOptions {
        since_ms: None,
        until_ms: Some(until),
    };
    first.run(&groups, &options).await.unwrap();
    let committed = commit::latest(&root, "cloudwatch", GROUP).await.unwrap();
    for day in &days[..days.len() - 1] {
        assert_eq!(committed[day].rows, expected[day], "{}", day.text());
        assert!(committed[day].is_final, "{} is long past", day.text());
    }
    assert!(!committed.contains_key(days.last().unwrap()));

    // A second run over the same days adds nothing.
    let again = Archiver::new(root.clone(), "cloudwatch", Arc::clone(&source));
    let report = again.run(&groups, &options).await.unwrap();
    assert_eq!(report.events_written, 0);
    assert_eq!(
        commit::latest(&root, "cloudwatch", GROUP).await.unwrap(),
        committed
    );

    let live = LogCatalog::new("cloudwatch", Arc::clone(&source), Duration::from_secs(60));
    let view = ArchiveView::new(root.clone(), "cloudwatch", Duration::from_secs(60));
    let mixed = live.clone().with_archive(view);
    live.prepare_table(GROUP, "all_log_streams").await.unwrap();
    mixed.prepare_table(GROUP, "all_log_streams").await.unwrap();
    mixed
        .prepare_table("logflight$archive", GROUP)
        .await
        .unwrap();
    let live_ctx = context(live, None);
    let mixed_ctx = context(mixed, Some(&root));
    let table = format!("\"{GROUP}\".all_log_streams");
    let queries = [
        format!("SELECT count(*) FROM {table}"),
        format!("SELECT log_stream, count(*) AS n, min(time), max(time) FROM {table} GROUP BY log_stream ORDER BY log_stream"),
        format!("SELECT count(*) FROM {table} WHERE message LIKE '%ERROR%'"),
        format!("SELECT date_trunc('day', time) AS d, count(*) FROM {table} GROUP BY d ORDER BY d"),
        format!("SELECT * FROM {table} ORDER BY time, log_stream, message LIMIT 7"),
        format!(
            "SELECT count(*) FROM {table} WHERE time >= to_timestamp_millis({}) AND time <= to_timestamp_millis({})",
            days[days.len() - 2].start_ms() + 3_600_000,
            days[days.len() - 1].start_ms() + 3_600_000
        ),
    ];
    for sql in &queries {
        assert_eq!(
            answer(&mixed_ctx, sql).await,
            answer(&live_ctx, sql).await,
            "{sql}"
        );
    }
    // The plan reads the archived days from their files and the rest live.
    let plan = answer(&mixed_ctx, &format!("EXPLAIN {}", queries[0])).await;
    assert!(
        plan.contains("DataSourceExec") && plan.contains("LogScan"),
        "{plan}"
    );
    // The archive alone holds exactly the archived days.
    let archived: u64 = days[..days.len() - 1].iter().map(|d| expected[d]).sum();
    let only = answer(
        &mixed_ctx,
        &format!("SELECT count(*) AS n FROM \"logflight$archive\".\"{GROUP}\""),
    )
    .await;
    assert!(only.contains(&format!("| {archived} ")), "{only}");
    let _ = std::fs::remove_dir_all(&dir);
}
