//! The `logflight` command line as a user runs it: `query` on the embedded
//! demo source, configuration through flags, environment and file, and the
//! start-up errors a newcomer is likely to meet.

use std::process::{Command, Output};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use logflight_e2e::{logflight_bin, start_serve};
use tonic::transport::Channel;

/// Runs `logflight` with a clean environment: no AWS or LOGFLIGHT settings
/// from the machine running the tests.
fn logflight(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join("logflight-cli-test-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(logflight_bin());
    command
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    // No instance metadata service here: fail fast instead of waiting for it.
    command.env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("logflight runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run failed, and its error output says `wanted`; returns that output.
fn failed_saying(out: &Output, wanted: &str) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "it succeeded: {}", stdout(out));
    assert!(err.contains(wanted), "{wanted:?} not in: {err}");
    err
}

const COUNT_LAMBDA: &str = "SELECT count(*) AS n FROM \"/aws/lambda/orders-api\".all_log_streams";

#[test]
fn query_prints_csv_json_and_tables_from_the_demo_source() {
    let out = logflight(
        &["query", "--source", "demo", "--format", "csv", COUNT_LAMBDA],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("n"));
    let n: i64 = lines.next().unwrap().parse().unwrap();
    assert!(
        n > 10_000,
        "the demo lambda group has tens of thousands of events, got {n}"
    );

    let sql = "SELECT log_stream, count(*) AS n FROM \"/ecs/Payments-Service\".all_log_streams GROUP BY log_stream ORDER BY log_stream";
    let out = logflight(&["query", "--source", "demo", "--format", "json", sql], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.starts_with("{\"log_stream\":")),
        "{rows:?}"
    );

    let out = logflight(
        &[
            "query",
            "--source",
            "demo",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM generate_series(1, 3)",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "table functions still work: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "n\n3\n");

    let out = logflight(&["query", "--source", "demo", "SELECT 1 + 1 AS two"], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("| 2   |"), "{}", stdout(&out));
}

#[test]
fn the_synthetic_source_has_the_size_it_is_given() {
    let sql = "SELECT count(*) AS n, count(DISTINCT log_stream) AS s, \
               count(*) FILTER (WHERE time >= TIMESTAMP '2026-01-01T00:01:00Z') AS late \
               FROM \"/synthetic/app\".all_log_streams";
    let out = logflight(
        &["query", "--source", "synthetic", "--format", "csv", sql],
        &[
            ("LOGFLIGHT_SYNTHETIC_EVENTS", "12345"),
            ("LOGFLIGHT_SYNTHETIC_STREAMS", "3"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // One event every 10 ms from 2026-01-01T00:00:00Z: the first minute holds 6,000.
    assert_eq!(stdout(&out), "n,s,late\n12345,3,6345\n");

    let out = logflight(
        &[
            "query",
            "--source",
            "synthetic",
            "SELECT * FROM \"/other\".all_log_streams",
        ],
        &[],
    );
    failed_saying(&out, "/other");
}

#[test]
fn query_errors_are_messages_and_a_failing_exit_code() {
    let cases = [
        ("SELEC 1", "SELEC"),
        (
            "SELECT * FROM \"/no/group\".all_log_streams",
            "log group \"/no/group\" not found",
        ),
        ("COPY (SELECT 1) TO '/tmp/logflight-cli.csv'", "read-only"),
        ("SELECT * FROM all_log_streams", "needs its log group"),
    ];
    for (sql, needle) in cases {
        let out = logflight(&["query", "--source", "demo", sql], &[]);
        assert!(!out.status.success(), "{sql}");
        assert!(stderr(&out).contains(needle), "{sql}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    assert!(!std::path::Path::new("/tmp/logflight-cli.csv").exists());
}

#[test]
fn environment_and_config_file_configure_the_source() {
    let out = logflight(
        &["query", "--format", "csv", COUNT_LAMBDA],
        &[("LOGFLIGHT_SOURCE", "demo")],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let dir = std::env::temp_dir().join(format!("logflight-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("logflight.toml");
    std::fs::write(&config, "source = \"demo\"\ncatalog = \"logs\"\n").unwrap();
    let sql = "SELECT count(*) AS n FROM logs.\"/vpc/flow-logs\".all_log_streams";
    let out = logflight(
        &[
            "query",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "csv",
            sql,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A flag beats the file.
    let out = logflight(
        &[
            "query",
            "--config",
            config.to_str().unwrap(),
            "--catalog",
            "other",
            "--format",
            "csv",
            sql,
        ],
        &[],
    );
    failed_saying(&out, "unknown catalog \"logs\"");

    std::fs::write(&config, "sorce = \"demo\"\n").unwrap();
    let out = logflight(
        &["query", "--config", config.to_str().unwrap(), "SELECT 1"],
        &[],
    );
    failed_saying(&out, "sorce");
}

/// `serve` through `endpoint`, assuming a role, with test credentials that
/// must never show in a message.
fn serve_assuming_a_role(endpoint: &str) -> Output {
    logflight(
        &[
            "serve",
            "--region",
            "us-east-1",
            "--endpoint-url",
            endpoint,
            "--role-arn",
            "arn:aws:iam::111111111111:role/LogReader",
            "--listen",
            "127.0.0.1:0",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
}

#[test]
fn a_role_that_cannot_be_assumed_fails_at_start_naming_it() {
    // Something listens (the start-up check of the endpoint passes) but
    // hangs up on every request: STS cannot answer, so the role is not
    // assumed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let out = serve_assuming_a_role(&endpoint);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("cannot assume role arn:aws:iam::111111111111:role/LogReader"),
        "{err}"
    );
    assert!(!err.contains("testing"), "credentials leaked: {err}");
}

#[test]
fn an_endpoint_where_nothing_listens_fails_at_start_naming_it() {
    // Nothing listens on port 1: the start-up check says so before any
    // AWS call (and before assuming the role).
    let out = serve_assuming_a_role("http://127.0.0.1:1");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect to --endpoint-url") && err.contains("Connection refused"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!err.contains("testing"), "credentials leaked: {err}");
}

#[test]
fn several_catalogs_from_the_config_file() {
    let dir = std::env::temp_dir().join(format!("logflight-cli-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("catalogs.toml");
    std::fs::write(
        &config,
        "[[catalogs]]\nname = \"a\"\nsource = \"demo\"\n\n[[catalogs]]\nname = \"b\"\nsource = \"demo\"\n",
    )
    .unwrap();
    let sql = "SELECT (SELECT count(*) FROM a.\"/vpc/flow-logs\".all_log_streams) \
               - (SELECT count(*) FROM b.\"/vpc/flow-logs\".all_log_streams) AS d";
    let out = logflight(
        &[
            "query",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "csv",
            sql,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "d\n0\n");
    std::fs::write(
        &config,
        "[[catalogs]]\nname = \"a\"\nsource = \"demo\"\n[[catalogs]]\nname = \"a\"\n",
    )
    .unwrap();
    let out = logflight(
        &["query", "--config", config.to_str().unwrap(), "SELECT 1"],
        &[],
    );
    failed_saying(&out, "two [[catalogs]] entries are named \"a\"");
}

#[test]
fn serving_beyond_loopback_without_authentication_needs_allow_anonymous() {
    let out = logflight(&["serve", "--source", "demo", "--listen", "0.0.0.0:0"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without authentication")
            && err.contains("--allow-anonymous"),
        "{err}"
    );
    // With the flag it starts (and is stopped here once it says so).
    let first = first_line_of_serve(&[
        "--source",
        "demo",
        "--listen",
        "0.0.0.0:0",
        "--allow-anonymous",
    ]);
    assert!(first.contains("listening on grpc://0.0.0.0:"), "{first}");
}

/// The first line `serve` prints, then the server is stopped.
fn first_line_of_serve(args: &[&str]) -> String {
    let mut child = Command::new(logflight_bin())
        .arg("serve")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    child.kill().ok();
    child.wait().ok();
    first
}

#[test]
fn serve_keeps_serving_when_its_stdout_is_closed() {
    // `logflight serve | head -1`: the banner meets a closed pipe.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(logflight_bin())
        .args(["serve", "--source", "demo", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let connected = loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited with {status} when its stdout was closed");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let alive = child.try_wait().unwrap().is_none();
    child.kill().ok();
    child.wait().ok();
    assert!(connected && alive, "connected: {connected}, alive: {alive}");
}

#[test]
fn hash_password_and_new_token_make_config_entries_that_serve_accepts() {
    let mut child = Command::new(logflight_bin())
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"correct horse\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let hash = stdout(&out).trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    let empty = logflight(&["hash-password"], &[]);
    assert!(!empty.status.success() && stderr(&empty).contains("empty password"));

    let out = logflight(&["new-token"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("[[tokens]]") && text.contains("token_sha256 = \""),
        "{text}"
    );
    let token = text
        .split("it is not stored): ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    assert!(token.starts_with("lft_") && token.len() > 40, "{token}");
    assert!(
        !text.split("[[tokens]]").nth(1).unwrap().contains(token),
        "the entry must not hold the token"
    );

    // With users, serve listens beyond loopback without --allow-anonymous.
    let dir = std::env::temp_dir().join(format!("logflight-cli-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("auth.toml");
    let entry = text
        .split("\n\n")
        .nth(1)
        .unwrap()
        .replace("CHANGE-ME", "svc");
    std::fs::write(
        &config,
        format!(
            "source = \"demo\"\n[[users]]\nname = \"u\"\npassword_hash = \"{hash}\"\n\n{entry}\n"
        ),
    )
    .unwrap();
    let first = first_line_of_serve(&[
        "--listen",
        "0.0.0.0:0",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        first.contains("listening on grpc://0.0.0.0:")
            && first.contains("authentication on: 2 principals"),
        "{first}"
    );
    // A hash that is not Argon2 stops the start, naming the user.
    std::fs::write(
        &config,
        "source = \"demo\"\n[[users]]\nname = \"u\"\npassword_hash = \"hunter2\"\n",
    )
    .unwrap();
    let out = logflight(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("user \"u\"") && err.contains("hash-password") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn cloudwatch_without_credentials_suggests_the_demo_source() {
    let out = logflight(
        &["serve", "--region", "us-east-1", "--listen", "127.0.0.1:0"],
        &[
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ],
    );
    failed_saying(&out, "no AWS credentials found");
    failed_saying(&out, "--source demo");
}

#[tokio::test]
async fn serve_on_the_demo_source_answers_flight_sql() {
    let mut server = start_serve(&["--source", "demo"]);
    let log = server.log_text();
    assert!(
        log.contains(&format!("listening on grpc://127.0.0.1:{}", server.port)),
        "{log}"
    );
    assert!(
        log.contains("adbc_driver_flightsql"),
        "the start-up banner shows how to connect: {log}"
    );
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", server.port))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = FlightSqlServiceClient::new(channel);
    let info = client
        .execute(COUNT_LAMBDA.to_string(), None)
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let batches: Vec<RecordBatch> = client
        .do_get(ticket)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let n = batches[0].column(0).as_primitive::<Int64Type>().value(0);
    assert!(n > 10_000);
    assert!(server.is_running());
}
