//! End-to-end harness: a real moto CloudWatch Logs server on a free loopback
//! port, data loaded through the real API, and the real `logflight serve`
//! binary in front of it. Expected answers come from [`Dataset`], the record
//! of what was loaded, never from logflight's own code.
//!
//! `tests/run.sh` installs moto into `.venv` and builds the binary; the paths
//! can be overridden with `LOGFLIGHT_MOTO_SERVER` and `LOGFLIGHT_BIN`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::config::{Credentials, Region};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client;

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn tool(env_var: &str, default: PathBuf, how: &str) -> PathBuf {
    let path = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or(default);
    assert!(
        path.exists(),
        "{} not found ({env_var} unset or wrong). {how}",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Waits until `ready` holds, failing with the log if the child exits first.
fn wait_until(child: &mut Child, what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status} before it was ready:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} was not ready within 60 s");
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A child process killed when dropped (also when a test panics).
pub struct Process {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn log_file(name: &str, port: u16) -> PathBuf {
    let dir = workspace_root().join("target").join("e2e-logs");
    std::fs::create_dir_all(&dir).expect("log dir");
    dir.join(format!("{name}-{port}.log"))
}

/// Appends a child's output to `log` (stdout and stderr share the file).
fn output_to(log: &Path) -> Stdio {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open log file");
    Stdio::from(file)
}

/// Starts moto's server on a free port.
pub fn start_moto() -> Process {
    let moto = tool(
        "LOGFLIGHT_MOTO_SERVER",
        workspace_root().join(".venv/bin/moto_server"),
        "Run the tests with `bash tests/run.sh`, which installs moto.",
    );
    let port = free_port();
    let log = log_file("moto", port);
    let mut child = Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(output_to(&log))
        .stderr(output_to(&log))
        .spawn()
        .expect("moto_server starts");
    wait_until(&mut child, "moto_server", &log, || port_open(port));
    Process { child, port, log }
}

/// The `logflight` binary under test.
pub fn logflight_bin() -> PathBuf {
    tool(
        "LOGFLIGHT_BIN",
        workspace_root().join("target/debug/logflight"),
        "Build it first: cargo build --bin logflight (tests/run.sh does).",
    )
}

/// Starts `logflight serve` against CloudWatch at `endpoint`.
pub fn start_logflight(endpoint: &str, extra: &[&str]) -> Process {
    let mut args = vec![
        "--source",
        "cloudwatch",
        "--region",
        "us-east-1",
        "--endpoint-url",
        endpoint,
        // moto answers Logs Insights without running `filter` or `stats`:
        // aggregations are scanned (the pushdown has tests of its own).
        "--insights-pushdown",
        "off",
    ];
    args.extend_from_slice(extra);
    start_serve(&args)
}

/// Starts `logflight serve` with these arguments on a free port, with test
/// credentials in the environment and nothing else from the caller's AWS setup.
pub fn start_serve(args: &[&str]) -> Process {
    let port = free_port();
    let log = log_file("logflight", port);
    let mut command = Command::new(logflight_bin());
    command
        .arg("serve")
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env("RUST_LOG", "info")
        .stdout(output_to(&log))
        .stderr(output_to(&log));
    for (key, _) in std::env::vars() {
        if key.starts_with("LOGFLIGHT_") {
            command.env_remove(key);
        }
    }
    let mut child = command.spawn().expect("logflight starts");
    // The port is bound before the catalogs are built (so a busy port fails
    // at once) and accepts connections from then on; the server serves once
    // it has printed its banner.
    wait_until(&mut child, "logflight", &log, || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains(" listening on "))
    });
    Process { child, port, log }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// One event as loaded.
#[derive(Debug, Clone)]
pub struct Event {
    pub group: String,
    pub stream: String,
    pub time: i64,
    pub message: String,
}

/// What was loaded into moto: the source of every expected answer.
#[derive(Debug, Default)]
pub struct Dataset {
    pub events: Vec<Event>,
}

impl Dataset {
    pub fn count(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| pred(e)).count()
    }
}

/// Tiny deterministic generator, independent of the connector's.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

pub const LAMBDA_GROUP: &str = "/aws/lambda/orders-api";
pub const AUDIT_GROUP: &str = "/Audit/CloudTrail";
pub const CASE_GROUP: &str = "/app/CaseTest";

/// Names of the lambda streams; the first holds more than 10,000 events.
pub fn lambda_streams() -> [String; 3] {
    [
        "2026/11/24/[$LATEST]0f3c9a1b2c3d4e5f60718293a4b5c6d7".to_string(),
        "2026/11/24/[$LATEST]aa11bb22cc33dd44ee55ff6677889900".to_string(),
        "2026/11/25/[$LATEST]00ff00ff00ff00ff00ff00ff00ff00ff".to_string(),
    ]
}

/// Builds the dataset (timestamps in the 3 hours before `anchor`) and loads
/// it into moto through the real PutLogEvents API.
pub async fn load(endpoint: &str, anchor: i64) -> Dataset {
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
        .build();
    let client = Client::from_conf(config);
    let mut rng = Lcg(42);
    let start = anchor - 3 * 3_600_000;
    let mut data = Dataset::default();
    let [big, small_a, small_b] = lambda_streams();
    let plan: Vec<(&str, String, usize)> = vec![
        (LAMBDA_GROUP, big, 12_000),
        (LAMBDA_GROUP, small_a, 700),
        (LAMBDA_GROUP, small_b, 300),
        (AUDIT_GROUP, "111122223333_CloudTrail_us-east-1".into(), 900),
        (AUDIT_GROUP, "444455556666_CloudTrail_eu-west-1".into(), 600),
        (CASE_GROUP, "Worker".into(), 50),
        (CASE_GROUP, "worker".into(), 70),
        (CASE_GROUP, "OnlyUpper".into(), 30),
    ];
    for (group, stream, n) in plan {
        let mut events: Vec<Event> = (0..n)
            .map(|i| {
                // Every 10th event shares the previous one's millisecond.
                let slot = if i % 10 == 9 { i - 1 } else { i } as i64;
                let time = start + slot * (3 * 3_600_000 / n as i64);
                let level = match rng.next() % 10 {
                    0 => "ERROR",
                    1 | 2 => "WARN",
                    _ => "INFO",
                };
                let message = if group == AUDIT_GROUP {
                    format!(
                        r#"{{"eventName":"{}","userIdentity":{{"userName":"user{}"}},"level":"{level}"}}"#,
                        ["ConsoleLogin", "AssumeRole", "PutBucketPolicy"][(rng.next() % 3) as usize],
                        rng.next() % 5
                    )
                } else {
                    format!("{level} request {} took {} ms", rng.next() % 100_000, rng.next() % 900)
                };
                Event {
                    group: group.to_string(),
                    stream: stream.clone(),
                    time,
                    message,
                }
            })
            .collect();
        events.sort_by_key(|e| e.time);
        put(&client, group, &stream, &events).await;
        data.events.extend(events);
    }
    data
}

async fn put(client: &Client, group: &str, stream: &str, events: &[Event]) {
    if client
        .create_log_group()
        .log_group_name(group)
        .send()
        .await
        .is_err()
    {
        // Already created by an earlier stream of the same group.
    }
    client
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("create stream");
    for chunk in events.chunks(5_000) {
        let batch: Vec<InputLogEvent> = chunk
            .iter()
            .map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.time)
                    .message(&e.message)
                    .build()
                    .expect("complete event")
            })
            .collect();
        client
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(batch))
            .send()
            .await
            .expect("put events");
    }
}
