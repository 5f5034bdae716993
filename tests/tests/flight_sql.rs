//! The real `logflight serve` over moto, queried with the Rust Flight SQL
//! client. Every expected value is computed from the loaded [`Dataset`].

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit, TimestampMillisecondType};
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables, CommandGetXdbcTypeInfo, SqlInfo};
use arrow_flight::FlightInfo;
use futures::TryStreamExt;
use logflight_e2e::{
    lambda_streams, load, now_ms, start_logflight, start_moto, Dataset, AUDIT_GROUP, CASE_GROUP,
    LAMBDA_GROUP,
};
use tonic::transport::Channel;
use tonic::Code;

type Client = FlightSqlServiceClient<Channel>;

async fn connect(port: u16) -> Client {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect to logflight");
    FlightSqlServiceClient::new(channel)
}

async fn fetch(client: &mut Client, info: FlightInfo) -> Result<Vec<RecordBatch>, FlightError> {
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("ticket");
        let stream = client.do_get(ticket).await?;
        batches.extend(stream.try_collect::<Vec<_>>().await?);
    }
    Ok(batches)
}

async fn query(client: &mut Client, sql: &str) -> Result<Vec<RecordBatch>, FlightError> {
    let info = client.execute(sql.to_string(), None).await?;
    fetch(client, info).await
}

async fn scalar(client: &mut Client, sql: &str) -> i64 {
    let batches = query(client, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let values: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(values.len(), 1, "{sql}: one value expected");
    values[0]
}

/// The gRPC code of a client error.
fn code_of(err: &FlightError) -> Option<Code> {
    match err {
        FlightError::Tonic(status) => Some(status.code()),
        _ => None,
    }
}

fn sql_time(ms: i64) -> String {
    format!("to_timestamp_millis({ms})")
}

async fn expect_error(client: &mut Client, sql: &str, code: Code, needles: &[&str]) {
    let err = query(client, sql).await.expect_err(sql);
    let text = match &err {
        FlightError::Tonic(status) => status.message().to_string(),
        other => other.to_string(),
    };
    assert_eq!(code_of(&err), Some(code), "{sql}: {text}");
    for needle in needles {
        assert!(text.contains(needle), "{sql}: {text:?} lacks {needle:?}");
    }
    // The server keeps serving after every failure.
    assert_eq!(scalar(client, "SELECT CAST(1 AS BIGINT)").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_flight_sql() {
    let moto = start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let data = load(&endpoint, now_ms() - 60_000).await;
    let mut server = start_logflight(&endpoint, &[]);
    let mut client = connect(server.port).await;

    counts(&mut client, &data).await;
    time_boundaries(&mut client, &data).await;
    order_limit_and_schema(&mut client, &data).await;
    join_of_two_groups(&mut client, &data).await;
    names(&mut client, &data).await;
    prepared_statement(&mut client, &data).await;
    metadata(&mut client).await;
    protocol(&mut client).await;
    bad_input(&mut client).await;

    assert!(server.is_running(), "server died:\n{}", server.log_text());
}

async fn counts(client: &mut Client, data: &Dataset) {
    for group in [LAMBDA_GROUP, AUDIT_GROUP, CASE_GROUP] {
        let sql = format!("SELECT count(*) FROM \"{group}\".all_log_streams");
        let want = data.count(|e| e.group == group) as i64;
        assert_eq!(scalar(client, &sql).await, want, "{sql}");
    }
    // The big stream through its own table: more than one page of 10,000.
    let big = &lambda_streams()[0];
    let want = data.count(|e| &e.stream == big) as i64;
    assert!(want > 10_000);
    let sql = format!("SELECT count(*) FROM \"{LAMBDA_GROUP}\".\"{big}\"");
    assert_eq!(scalar(client, &sql).await, want);
    // Per-stream counts.
    let sql = format!(
        "SELECT log_stream, count(*) AS n FROM \"{LAMBDA_GROUP}\".all_log_streams GROUP BY log_stream ORDER BY log_stream"
    );
    let batches = query(client, &sql).await.unwrap();
    let mut got = Vec::new();
    for b in &batches {
        let names = b.column(0).as_string::<i32>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            got.push((names.value(i).to_string(), n.value(i)));
        }
    }
    let mut want: Vec<(String, i64)> = lambda_streams()
        .iter()
        .map(|s| (s.clone(), data.count(|e| &e.stream == s) as i64))
        .collect();
    want.sort();
    assert_eq!(got, want);
    // LIKE on the message.
    let sql = format!(
        "SELECT count(*) FROM \"{LAMBDA_GROUP}\".all_log_streams WHERE message LIKE '%ERROR%'"
    );
    let want = data.count(|e| e.group == LAMBDA_GROUP && e.message.contains("ERROR")) as i64;
    assert_eq!(scalar(client, &sql).await, want);
}

async fn time_boundaries(client: &mut Client, data: &Dataset) {
    let big = &lambda_streams()[0];
    let events: Vec<_> = data.events.iter().filter(|e| &e.stream == big).collect();
    // A millisecond shared by two events (every 10th event repeats one).
    let x = events
        .windows(2)
        .find(|w| w[0].time == w[1].time)
        .expect("a shared millisecond")[0]
        .time;
    for table in [format!("\"{big}\""), "all_log_streams".to_string()] {
        let in_table = |t: i64, op: &str| match op {
            "=" => t == x,
            "<=" => t <= x,
            "<" => t < x,
            ">" => t > x,
            ">=" => t >= x,
            _ => unreachable!(),
        };
        for op in ["=", "<=", "<", ">", ">="] {
            let sql = format!(
                "SELECT count(*) FROM \"{LAMBDA_GROUP}\".{table} WHERE time {op} {}",
                sql_time(x)
            );
            let want = data.count(|e| {
                e.group == LAMBDA_GROUP
                    && (table == "all_log_streams" || &e.stream == big)
                    && in_table(e.time, op)
            }) as i64;
            assert_eq!(scalar(client, &sql).await, want, "{sql}");
        }
        let (lo, hi) = (x - 60_000, x + 60_000);
        let sql = format!(
            "SELECT count(*) FROM \"{LAMBDA_GROUP}\".{table} WHERE time BETWEEN {} AND {}",
            sql_time(lo),
            sql_time(hi)
        );
        let want = data.count(|e| {
            e.group == LAMBDA_GROUP
                && (table == "all_log_streams" || &e.stream == big)
                && e.time >= lo
                && e.time <= hi
        }) as i64;
        assert_eq!(scalar(client, &sql).await, want, "{sql}");
    }
}

async fn order_limit_and_schema(client: &mut Client, data: &Dataset) {
    let sql = format!("SELECT * FROM \"{AUDIT_GROUP}\".all_log_streams ORDER BY time LIMIT 5");
    let batches = query(client, &sql).await.unwrap();
    let want_schema = Schema::new(vec![
        Field::new("log_group", DataType::Utf8, false),
        Field::new("log_stream", DataType::Utf8, false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new(
            "ingestion_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("message", DataType::Utf8, false),
    ]);
    assert_eq!(batches[0].schema().as_ref(), &want_schema);
    let got: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(2)
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .to_vec()
        })
        .collect();
    let mut want: Vec<i64> = data
        .events
        .iter()
        .filter(|e| e.group == AUDIT_GROUP)
        .map(|e| e.time)
        .collect();
    want.sort();
    want.truncate(5);
    assert_eq!(got, want);
    let groups = batches[0].column(0).as_string::<i32>();
    assert!((0..groups.len()).all(|i| groups.value(i) == AUDIT_GROUP));
    // A plain LIMIT returns exactly that many rows.
    let sql = format!("SELECT message FROM \"{LAMBDA_GROUP}\".all_log_streams LIMIT 7");
    let rows: usize = query(client, &sql)
        .await
        .unwrap()
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert_eq!(rows, 7);
}

async fn join_of_two_groups(client: &mut Client, data: &Dataset) {
    // Events of both groups that fall in the same minute, counted pairwise.
    let sql = format!(
        "SELECT count(*) FROM \"{LAMBDA_GROUP}\".all_log_streams a \
         JOIN \"{AUDIT_GROUP}\".all_log_streams b \
         ON date_trunc('minute', a.time) = date_trunc('minute', b.time) \
         WHERE a.message LIKE 'ERROR%'"
    );
    let minute = |t: i64| t.div_euclid(60_000);
    let mut per_minute = std::collections::HashMap::new();
    for e in data.events.iter().filter(|e| e.group == AUDIT_GROUP) {
        *per_minute.entry(minute(e.time)).or_insert(0i64) += 1;
    }
    let want: i64 = data
        .events
        .iter()
        .filter(|e| e.group == LAMBDA_GROUP && e.message.starts_with("ERROR"))
        .map(|e| per_minute.get(&minute(e.time)).copied().unwrap_or(0))
        .sum();
    assert!(want > 0);
    assert_eq!(scalar(client, &sql).await, want);
}

async fn names(client: &mut Client, data: &Dataset) {
    let exact = data.count(|e| e.group == CASE_GROUP && e.stream == "Worker") as i64;
    let sql = format!("SELECT count(*) FROM \"{CASE_GROUP}\".\"Worker\"");
    assert_eq!(scalar(client, &sql).await, exact);
    let only = data.count(|e| e.stream == "OnlyUpper") as i64;
    // Unquoted (folded to lower case) and differently-cased names resolve.
    assert_eq!(
        scalar(client, "SELECT count(*) FROM \"/APP/casetest\".onlyupper").await,
        only
    );
    expect_error(
        client,
        &format!("SELECT count(*) FROM \"{CASE_GROUP}\".\"WORKER\""),
        Code::InvalidArgument,
        &["ambiguous", "\"Worker\"", "\"worker\""],
    )
    .await;
}

async fn prepared_statement(client: &mut Client, data: &Dataset) {
    let stream = &lambda_streams()[1];
    let sql =
        format!("SELECT count(*) FROM \"{LAMBDA_GROUP}\".all_log_streams WHERE log_stream = $1");
    let mut prepared = client.prepare(sql, None).await.expect("prepare");
    assert_eq!(prepared.parameter_schema().unwrap().fields().len(), 1);
    let params = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("$1", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(vec![stream.as_str()]))],
    )
    .unwrap();
    prepared.set_parameters(params).unwrap();
    let info = prepared.execute().await.expect("execute");
    let batches = fetch(client, info).await.expect("fetch");
    let got = batches[0].column(0).as_primitive::<Int64Type>().value(0);
    assert_eq!(got, data.count(|e| &e.stream == stream) as i64);
    prepared.close().await.expect("close");
}

async fn metadata(client: &mut Client) {
    let info = client.get_catalogs().await.unwrap();
    let batches = fetch(client, info).await.unwrap();
    let catalogs = batches[0].column(0).as_string::<i32>();
    assert_eq!(catalogs.value(0), "cloudwatch");

    let info = client
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: Some("/app/%".into()),
            table_name_filter_pattern: None,
            table_types: vec![],
            include_schema: true,
        })
        .await
        .unwrap();
    let batches = fetch(client, info).await.unwrap();
    assert_eq!(
        batches[0].num_columns(),
        5,
        "include_schema adds table_schema"
    );
    let mut tables: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let t = b.column(2).as_string::<i32>();
            (0..t.len())
                .map(|i| t.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    tables.sort();
    assert_eq!(
        tables,
        vec!["OnlyUpper", "Worker", "all_log_streams", "worker"]
    );

    let sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'all_log_streams'";
    assert_eq!(scalar(client, sql).await, 3);
}

/// The Flight SQL calls JDBC/ODBC tools make before they run a query.
async fn protocol(client: &mut Client) {
    // Any credentials are accepted for now, and a bearer token comes back.
    client
        .handshake("someone", "secret")
        .await
        .expect("handshake");
    assert!(client.token().is_some_and(|t| !t.is_empty()));

    let info = client
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .unwrap();
    let batches = fetch(client, info).await.unwrap();
    let names: Vec<u32> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_primitive::<arrow::datatypes::UInt32Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(
        names,
        vec![
            SqlInfo::FlightSqlServerName as u32,
            SqlInfo::FlightSqlServerReadOnly as u32
        ]
    );

    let info = client
        .get_xdbc_type_info(CommandGetXdbcTypeInfo { data_type: None })
        .await
        .unwrap();
    let batches = fetch(client, info).await.unwrap();
    let types: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let t = b.column(0).as_string::<i32>();
            (0..t.len())
                .map(|i| t.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for wanted in ["VARCHAR", "TIMESTAMP", "BIGINT"] {
        assert!(
            types.iter().any(|t| t == wanted),
            "{types:?} lacks {wanted}"
        );
    }

    let info = client.get_table_types().await.unwrap();
    let rows: usize = fetch(client, info)
        .await
        .unwrap()
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert_eq!(rows, 2);

    // Transactions are read-only no-ops, tolerated for tools that open them.
    let tx = client.begin_transaction().await.expect("begin");
    client
        .end_transaction(tx, arrow_flight::sql::EndTransaction::Commit)
        .await
        .expect("end");

    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: Some("/aws/%".into()),
        })
        .await
        .unwrap();
    let batches = fetch(client, info).await.unwrap();
    let schemas = batches[0].column(1).as_string::<i32>();
    assert_eq!(schemas.value(0), LAMBDA_GROUP);
    assert_eq!(batches[0].num_rows(), 1);
}

async fn bad_input(client: &mut Client) {
    expect_error(
        client,
        "SELECT * FROM \"/no/such/group\".all_log_streams",
        Code::NotFound,
        &["/no/such/group"],
    )
    .await;
    expect_error(
        client,
        &format!("SELECT * FROM \"{LAMBDA_GROUP}\".\"no-such-stream\""),
        Code::NotFound,
        &["no-such-stream", LAMBDA_GROUP],
    )
    .await;
    expect_error(client, "SELEC 1", Code::InvalidArgument, &["SELEC"]).await;
    expect_error(
        client,
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
        Code::PermissionDenied,
        &["read-only", "CREATE EXTERNAL TABLE"],
    )
    .await;
    expect_error(
        client,
        "COPY (SELECT 1) TO '/tmp/logflight-e2e.csv'",
        Code::PermissionDenied,
        &["read-only"],
    )
    .await;
    assert!(!std::path::Path::new("/tmp/logflight-e2e.csv").exists());
    expect_error(
        client,
        "INSERT INTO t VALUES (1)",
        Code::PermissionDenied,
        &["read-only"],
    )
    .await;
    expect_error(
        client,
        "SET datafusion.execution.batch_size = 1",
        Code::PermissionDenied,
        &["read-only"],
    )
    .await;
}
