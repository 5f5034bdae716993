//! `logflight query`: one statement run in-process, its result printed.

use std::io::{IsTerminal, Write};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use clap::Args;
use futures::TryStreamExt;

use super::{output, progress};
use crate::app;
use crate::config::{Config, ServeSettings, SourceArgs};
use crate::error::Result;
use crate::logging;
use crate::query::QueryEngine;

#[derive(Debug, Args)]
/// The arguments of `query`: where logs come from, the format, the statement.
pub struct QueryArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format
    #[arg(long, env = "LOGFLIGHT_FORMAT", value_enum, default_value = "table")]
    pub format: output::Format,
    /// The SQL statement
    pub sql: String,
}

pub async fn run(args: QueryArgs) -> Result<()> {
    let config = Config::resolve(&args.source, &ServeSettings::default())?;
    logging::init(
        Some(config.log_level.as_deref().unwrap_or("warn")),
        config.log_format,
    );
    let engine = app::engine(&config).await?;
    let progress = progress::Progress::start(&engine, std::io::stderr().is_terminal());
    let result = run_to_end(&engine, &args.sql).await;
    progress.finish().await;
    let (schema, batches) = result?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    output::write_batches(&mut out, args.format, &schema, &batches)?;
    out.flush().ok();
    Ok(())
}

async fn run_to_end(engine: &QueryEngine, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let plan = engine.plan(sql, None).await?;
    let batches = plan.execute()?.try_collect().await?;
    Ok((plan.schema, batches))
}
