//! `logflight serve`: the Flight SQL server.

use crate::app::Application;
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::error::Result;
use crate::logging;

pub async fn run(args: ServeArgs) -> Result<()> {
    let config = Config::resolve(&args.source, &args.serve)?;
    logging::init(config.log_level.as_deref());
    Application::build(config).await?.run_until_stopped().await
}
