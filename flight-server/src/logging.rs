//! Where the server's own log goes: stderr, filtered by `--log-level`
//! (else `RUST_LOG`, else `info`).

use tracing_subscriber::EnvFilter;

/// The AWS credential chain logs a warning for every provider it tries;
/// our own start-up error says what is missing, so keep those quiet.
const QUIET_AWS: &str = "aws_config=error";

pub fn init(level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::try_new(format!("{l},{QUIET_AWS}")),
        None => EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(format!("info,{QUIET_AWS}"))),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
