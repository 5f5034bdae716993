//! Pushdown on vs off against moto: generated predicates must give the same
//! answers from a server that pushes filters into CloudWatch requests and
//! from one that reads everything and lets SQL filter.

use arrow::array::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use logflight_connector::rng::SplitMix64;
use logflight_e2e::{
    lambda_streams, load, now_ms, start_logflight, start_moto, AUDIT_GROUP, CASE_GROUP,
    LAMBDA_GROUP,
};
use tonic::transport::Channel;

type Client = FlightSqlServiceClient<Channel>;

const FAST: &[&str] = &[
    "--api-tps",
    "DescribeLogGroups=500,DescribeLogStreams=500,GetLogEvents=500,FilterLogEvents=500",
];

async fn connect(port: u16) -> Client {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    FlightSqlServiceClient::new(channel)
}

async fn answer(client: &mut Client, sql: &str) -> String {
    let info = client
        .execute(sql.to_string(), None)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut batches: Vec<RecordBatch> = Vec::new();
    for endpoint in info.endpoint {
        let stream = client.do_get(endpoint.ticket.unwrap()).await.unwrap();
        batches.extend(
            stream
                .try_collect::<Vec<_>>()
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        );
    }
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_on_and_off_agree_over_moto() {
    let moto = start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let data = load(&endpoint, now_ms() - 60_000).await;
    let on = start_logflight(&endpoint, FAST);
    let mut off_args = FAST.to_vec();
    off_args.extend(["--pushdown", "false"]);
    let off = start_logflight(&endpoint, &off_args);
    let (mut on_client, mut off_client) = (connect(on.port).await, connect(off.port).await);

    let mut rng = SplitMix64::new(11);
    let groups = [LAMBDA_GROUP, AUDIT_GROUP, CASE_GROUP];
    let mut non_empty = 0;
    let rounds = 150;
    for round in 0..rounds {
        let group = *rng.pick(&groups);
        let events: Vec<_> = data.events.iter().filter(|e| e.group == group).collect();
        let mut streams: Vec<&str> = events.iter().map(|e| e.stream.as_str()).collect();
        streams.sort();
        streams.dedup();
        let t = |rng: &mut SplitMix64| rng.pick(&events).time + *rng.pick(&[-1i64, 0, 0, 1]);
        let clause = |rng: &mut SplitMix64| -> String {
            match rng.below(8) {
                0 => format!(
                    "time {} to_timestamp_millis({})",
                    rng.pick(&["=", "<", "<=", ">", ">="]),
                    t(rng)
                ),
                1 => {
                    let (a, b) = (t(rng), t(rng));
                    format!(
                        "time BETWEEN to_timestamp_millis({}) AND to_timestamp_millis({})",
                        a.min(b),
                        a.max(b)
                    )
                }
                2 => format!("log_stream = '{}'", rng.pick(&streams)),
                3 => format!(
                    "log_stream IN ('{}', '{}', 'absent')",
                    rng.pick(&streams),
                    rng.pick(&streams)
                ),
                4 => {
                    let s = rng.pick(&streams);
                    format!(
                        "log_stream LIKE '{}%'",
                        &s[..1 + rng.below(s.len() as u64) as usize]
                    )
                }
                5 => format!(
                    "message LIKE '%{}%'",
                    rng.pick(&["ERROR", "WARN", "request", "took 1", "ConsoleLogin", "zzz"])
                ),
                6 => format!("NOT (log_stream = '{}')", rng.pick(&streams)),
                _ => "true".to_string(),
            }
        };
        let predicate = format!("{} AND {}", clause(&mut rng), clause(&mut rng));
        let table = if rng.below(4) == 0 {
            format!("\"{}\"", rng.pick(&streams))
        } else {
            "all_log_streams".to_string()
        };
        let sql = match round % 3 {
            0 => format!(
                "SELECT count(*) AS n, min(time) AS first, max(time) AS last, count(DISTINCT log_stream) AS s FROM \"{group}\".{table} WHERE {predicate}"
            ),
            1 => format!("SELECT count(*) AS n FROM (SELECT * FROM \"{group}\".{table} WHERE {predicate} LIMIT 13)"),
            _ => format!(
                "SELECT log_stream, time, message FROM \"{group}\".{table} WHERE {predicate} ORDER BY time, log_stream, message LIMIT 4"
            ),
        };
        let got_on = answer(&mut on_client, &sql).await;
        let got_off = answer(&mut off_client, &sql).await;
        assert_eq!(got_on, got_off, "pushdown changed the answer of {sql}");
        if !got_on.contains("| 0 ") && got_on.lines().count() > 4 {
            non_empty += 1;
        }
    }
    assert!(
        non_empty > rounds / 4,
        "only {non_empty} of {rounds} answers were non-empty"
    );
    // The big stream exists, so the generator reached multi-page reads too.
    assert!(data.count(|e| e.stream == lambda_streams()[0]) > 10_000);
}
