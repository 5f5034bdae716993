//! The baseline of the connector-overhead benchmark (docs/benchmarks.md):
//! the least work that reads a log group's events, a bare aws-sdk
//! FilterLogEvents pagination loop that drops every event.
//!
//! ```sh
//! cargo run --release --bin logflight-sdk-baseline -- http://127.0.0.1:5000 /group
//! ```
//! Prints the number of events and pages read.

/// The same allocator and settings as `logflight`.
#[path = "../allocator.rs"]
mod allocator;

use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    allocator::tune();
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(group)) = (args.next(), args.next()) else {
        eprintln!("usage: logflight-sdk-baseline ENDPOINT_URL LOG_GROUP");
        std::process::exit(2);
    };
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .retry_config(RetryConfig::standard().with_max_attempts(10))
        .build();
    let client = aws_sdk_cloudwatchlogs::Client::from_conf(config);
    let mut token: Option<String> = None;
    let (mut events, mut pages) = (0usize, 0usize);
    loop {
        let out = client
            .filter_log_events()
            .log_group_name(&group)
            .set_next_token(token.take())
            .send()
            .await
            .unwrap_or_else(|e| {
                eprintln!("FilterLogEvents failed: {e:?}");
                std::process::exit(1)
            });
        pages += 1;
        events += out.events().len();
        match out.next_token() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    println!("{events} {pages}");
}
