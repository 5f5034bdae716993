//! `logflight serve`: the Flight SQL server.

use clap::Args;

use crate::app::Application;
use crate::config::{ClusterSettings, Config, ServeSettings, SourceArgs};
use crate::error::Result;
use crate::logging;

#[derive(Debug, Args)]
/// The arguments of `serve`: where logs come from, and how to serve them.
pub struct ServeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub serve: ServeSettings,
    #[command(flatten)]
    pub cluster: ClusterSettings,
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let config = Config::resolve_serving(&args.source, &args.serve, &args.cluster)?;
    logging::init(config.log_level.as_deref(), config.log_format);
    Application::build(config).await?.run_until_stopped().await
}
