//! `logflight serve`: the Flight SQL server.

use clap::Args;

use crate::app::Application;
use crate::config::{Config, ServeSettings, SourceArgs};
use crate::error::Result;
use crate::logging;

#[derive(Debug, Args)]
/// The arguments of `serve`: where logs come from, and how to serve them.
pub struct ServeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub serve: ServeSettings,
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let config = Config::resolve(&args.source, &args.serve)?;
    logging::init(config.log_level.as_deref(), config.log_format);
    Application::build(config).await?.run_until_stopped().await
}
