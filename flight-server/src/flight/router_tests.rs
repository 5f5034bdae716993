//! Routing, tested on the demo source without a server: each command gets
//! its answer, and each RPC refuses what it does not take with the right code.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::sql::{
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetTables,
    CommandPreparedStatementQuery, DoPutPreparedStatementResult,
};
use arrow_flight::FlightDescriptor;
use futures::TryStreamExt;
use logflight_connector::{DemoSource, LogCatalog};
use tonic::Code;

use super::*;
use crate::access::PrincipalEngines;
use crate::flight::metadata::Metadata;
use crate::metrics::QueryMetrics;
use crate::query::limits::QueryLimits;
use crate::query::log::QueryLog;
use crate::query::QueryEngine;

fn router(limits: QueryLimits) -> Router {
    let catalog = LogCatalog::new(
        "cloudwatch",
        Arc::new(DemoSource::new()),
        Duration::from_secs(60),
    );
    let engine = QueryEngine::new(vec![catalog]).unwrap();
    let log = QueryLog::new(Arc::new(QueryMetrics::default()), None);
    Router::new(Statements::new(
        Arc::new(PrincipalEngines::open(engine)),
        log,
        limits,
        Default::default(),
    ))
}

async fn batches(data: BoxedStream<FlightData>) -> Result<Vec<RecordBatch>> {
    let stream = FlightRecordBatchStream::new_from_flight_data(
        data.map_err(arrow_flight::error::FlightError::from),
    );
    Ok(stream.try_collect().await?)
}

fn scalar(batches: &[RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn a_statement_is_described_then_run_from_its_ticket_alone() {
    let router = router(QueryLimits::default());
    let ctx = QueryContext::default();
    let info = router
        .flight_info(
            &ctx,
            Command::Statement("SELECT 41 + 1 AS n".into()),
            FlightDescriptor::new_cmd("x"),
        )
        .await
        .unwrap();
    assert!(info.ordered);
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let command = Command::decode(&ticket.ticket).unwrap();
    assert!(
        matches!(command, Command::StatementTicket(_)),
        "{command:?}"
    );
    let got = batches(router.do_get(&ctx, command).await.unwrap())
        .await
        .unwrap();
    assert_eq!(scalar(&got), 42);
    // Plain Flight: SQL text as the ticket.
    let text = Command::SqlText("SELECT 7 AS n".into());
    let got = batches(router.do_get(&ctx, text).await.unwrap())
        .await
        .unwrap();
    assert_eq!(scalar(&got), 7);
}

/// CreatePreparedStatement: the handle the client is given.
async fn prepare(router: &Router, ctx: &QueryContext, sql: &str) -> QueryHandle {
    let results = router
        .do_action(ctx, Command::CreatePreparedStatement(sql.into()))
        .await
        .unwrap();
    let created: ActionCreatePreparedStatementResult = Any::decode(results[0].as_slice())
        .unwrap()
        .unpack()
        .unwrap()
        .unwrap();
    QueryHandle::from_bytes(&created.prepared_statement_handle).unwrap()
}

/// DoPut of `$1 = value` to `handle`: the updated handle the server returns.
fn bind(router: &Router, ctx: &QueryContext, handle: &QueryHandle, value: i64) -> QueryHandle {
    let params = RecordBatch::try_from_iter([(
        "$1",
        Arc::new(arrow::array::Int64Array::from(vec![value])) as _,
    )])
    .unwrap();
    let bound = router
        .do_put(ctx, Command::Prepared(handle.clone()), &[params])
        .unwrap();
    let bound = DoPutPreparedStatementResult::decode(bound.as_slice()).unwrap();
    QueryHandle::from_bytes(&bound.prepared_statement_handle.unwrap()).unwrap()
}

/// DoGet of `command`: the one value of its one row.
async fn run_scalar(router: &Router, ctx: &QueryContext, command: Command) -> i64 {
    scalar(
        &batches(router.do_get(ctx, command).await.unwrap())
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn prepared_statements_bind_parameters_into_new_handles() {
    let router = router(QueryLimits::default());
    let ctx = QueryContext::default();
    let original = prepare(&router, &ctx, "SELECT $1 + 1 AS n").await;
    let bound = bind(&router, &ctx, &original, 9);
    assert_eq!(
        run_scalar(&router, &ctx, Command::Prepared(bound)).await,
        10
    );
    // A client that executes the handle it created (not the one DoPut
    // returned) gets the parameters it bound, through GetFlightInfo's
    // ticket and through DoGet.
    let prepared = Command::Prepared(original.clone());
    assert_eq!(run_scalar(&router, &ctx, prepared.clone()).await, 10);
    let info = router
        .flight_info(&ctx, prepared, FlightDescriptor::new_cmd("x"))
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let from_ticket = Command::decode(&ticket.ticket).unwrap();
    assert_eq!(run_scalar(&router, &ctx, from_ticket).await, 10);
    // Another server (a replica, or this one restarted) never saw the
    // binding: the statement is unbound, and the message says what to do.
    let elsewhere = self::router(QueryLimits::default());
    let err = match elsewhere.do_get(&ctx, Command::Prepared(original)).await {
        Ok(stream) => batches(stream).await.unwrap_err(),
        Err(err) => err,
    };
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.to_string().contains("DoPut"), "{err}");
}

/// Two clients prepare the same statement and bind different values, then
/// each executes the handle it created: each gets its own values, however
/// the calls interleave (a dashboard tool with one service login serves many
/// users this way).
#[tokio::test]
async fn the_same_statement_prepared_twice_keeps_two_bindings() {
    let router = router(QueryLimits::default());
    let ctx = QueryContext::default();
    let first = prepare(&router, &ctx, "SELECT $1 + 1 AS n").await;
    let second = prepare(&router, &ctx, "SELECT $1 + 1 AS n").await;
    assert_ne!(first.to_bytes(), second.to_bytes());
    bind(&router, &ctx, &first, 1);
    bind(&router, &ctx, &second, 100);
    for (handle, want) in [(first, 2), (second, 101)] {
        assert_eq!(
            run_scalar(&router, &ctx, Command::Prepared(handle)).await,
            want
        );
    }
}

#[tokio::test]
async fn metadata_commands_share_one_path() {
    let router = router(QueryLimits::default());
    let ctx = QueryContext::default();
    let tables = Metadata::Tables(CommandGetTables {
        db_schema_filter_pattern: Some("/aws/lambda/%".into()),
        table_name_filter_pattern: Some("all_log_streams".into()),
        ..Default::default()
    });
    let info = router
        .flight_info(
            &ctx,
            Command::Metadata(tables.clone()),
            FlightDescriptor::new_cmd("x"),
        )
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    assert_eq!(
        Command::decode(&ticket.ticket).unwrap(),
        Command::Metadata(tables)
    );
    let got = batches(
        router
            .do_get(&ctx, Command::decode(&ticket.ticket).unwrap())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let schemas = got[0].column(1).as_string::<i32>();
    assert!(got[0].num_rows() >= 1);
    assert!(schemas
        .iter()
        .all(|s| s.unwrap().starts_with("/aws/lambda/")));
    assert_eq!(info.schema, {
        let schema = got[0].schema();
        crate::flight::encode::schema_bytes(&schema).unwrap()
    });
    let catalogs = Command::Metadata(Metadata::Catalogs(CommandGetCatalogs {}));
    let got = batches(router.do_get(&ctx, catalogs).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got[0].column(0).as_string::<i32>().value(0), "cloudwatch");
}

#[tokio::test]
async fn each_rpc_refuses_what_it_does_not_take() {
    let router = router(QueryLimits::default());
    let ctx = QueryContext::default();
    let handle = QueryHandle::new("SELECT 1");
    let info = router
        .flight_info(
            &ctx,
            Command::StatementTicket(handle.clone()),
            FlightDescriptor::new_cmd("x"),
        )
        .await
        .unwrap_err();
    assert_eq!(info.code(), Code::InvalidArgument, "{info}");
    let get = match router
        .do_get(&ctx, Command::Statement("SELECT 1".into()))
        .await
    {
        Err(err) => err,
        Ok(_) => panic!("a CommandStatementQuery is not a ticket"),
    };
    assert_eq!(get.code(), Code::InvalidArgument, "{get}");
    let substrait = match router
        .do_get(&ctx, Command::Unsupported("Substrait plans"))
        .await
    {
        Err(err) => err,
        Ok(_) => panic!("Substrait is not served"),
    };
    assert_eq!(substrait.code(), Code::Unimplemented);
    let schema = router
        .schema(
            &ctx,
            Command::Metadata(Metadata::Catalogs(CommandGetCatalogs {})),
        )
        .await
        .unwrap_err();
    assert_eq!(schema.code(), Code::Unimplemented);
    assert!(schema.to_string().contains("GetSchema"), "{schema}");
    let put = router
        .do_put(&ctx, Command::SqlText("SELECT 1".into()), &[])
        .unwrap_err();
    assert_eq!(put.code(), Code::InvalidArgument);
    let action = router
        .do_action(&ctx, Command::Prepared(handle))
        .await
        .unwrap_err();
    assert_eq!(action.code(), Code::InvalidArgument);
    let prepared = CommandPreparedStatementQuery {
        prepared_statement_handle: b"forged".to_vec().into(),
    };
    let err = Command::decode(&prepared.as_any().encode_to_vec()).unwrap_err();
    assert!(err.to_string().contains("not a logflight statement handle"));
}

#[tokio::test]
async fn statements_run_under_the_limits() {
    let router = router(QueryLimits {
        max_rows: Some(3),
        ..QueryLimits::default()
    });
    let ctx = QueryContext::default();
    let many = Command::SqlText("SELECT * FROM generate_series(1, 10)".into());
    let err = batches(router.do_get(&ctx, many).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    assert!(err.to_string().contains("more than 3 rows"), "{err}");
    let refused = match router
        .do_get(&ctx, Command::SqlText("DROP TABLE t".into()))
        .await
    {
        Err(err) => err,
        Ok(_) => panic!("DDL ran"),
    };
    assert_eq!(refused.code(), Code::PermissionDenied);
}

/// ListActions names only what does something on a read-only server.
#[test]
fn only_working_actions_are_listed() {
    let kinds: Vec<String> = Router::actions().into_iter().map(|a| a.r#type).collect();
    assert_eq!(
        kinds,
        ["CreatePreparedStatement", "ClosePreparedStatement"].map(String::from)
    );
}
