//! `logflight query`: one statement run in-process, its result printed as
//! it arrives.

use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use futures::StreamExt;

use super::output::{self, ResultWriter, TableOptions};
use super::progress::Progress;
use super::sql_input::SqlSource;
use super::terminal;
use crate::app;
use crate::config::{Config, ServeSettings, SourceArgs};
use crate::error::Result;
use crate::logging;
use crate::query::QueryEngine;

/// Bytes of output gathered before a write; each batch is flushed anyway.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// How long a table holds its first rows (to size its columns) before it
/// prints them anyway: a scan paced by CloudWatch's quotas can take minutes
/// to find a thousand rows.
const HOLD_AT_MOST: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
/// The arguments of `query`: where logs come from, the format, the statement.
pub struct QueryArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format. Rows are printed as they arrive; a table sizes its
    /// columns from its first 1,000 rows (fewer if they pass 1 MiB of text
    /// or take over 2 seconds to come) and keeps those widths. On a terminal a table's cells are cut with … to fit
    /// its width (see --wide); to a file or pipe nothing is cut
    #[arg(long, env = "LOGFLIGHT_FORMAT", value_enum, default_value = "table")]
    pub format: output::Format,
    /// Table: print cells in full on a terminal too, rather than cutting
    /// them to its width
    #[arg(long)]
    pub wide: bool,
    /// Read the statement from FILE (`-`: standard input)
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "sql"
    )]
    pub file: Option<PathBuf>,
    /// The SQL statement, or `-` to read it from standard input
    #[arg(required_unless_present = "file")]
    pub sql: Option<String>,
}

pub async fn run(args: QueryArgs) -> Result<()> {
    let sql = SqlSource::from_args(args.sql, args.file)?.read(std::io::stdin().lock())?;
    let config = Config::resolve(&args.source, &ServeSettings::default())?;
    logging::init(
        Some(config.log_level.as_deref().unwrap_or("warn")),
        config.log_format,
    );
    let engine = app::engine(&config).await?;
    let table = TableOptions {
        max_width: if args.wide {
            None
        } else {
            terminal::stdout_width()
        },
    };
    let out = BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout().lock());
    let make_writer = |schema| output::writer(args.format, schema, out, table);
    let mut progress = Some(Progress::start(&engine, std::io::stderr().is_terminal()));
    let result = print_result(&engine, &sql, make_writer, &mut progress).await;
    if let Some(progress) = progress {
        progress.finish().await;
    }
    match result {
        // The reader has all it wanted (`| head`): stop, like grep does.
        Err(e) if e.is_closed_pipe() => Ok(()),
        other => other,
    }
}

/// Runs the statement and writes each batch as it arrives. The progress
/// line is erased before the first row is printed, so the two never mix
/// on a terminal. Returning early (an error, a closed pipe) drops the
/// stream, which stops the query's scans.
async fn print_result<'a>(
    engine: &QueryEngine,
    sql: &str,
    make_writer: impl FnOnce(arrow::datatypes::SchemaRef) -> Box<dyn ResultWriter + 'a>,
    progress: &mut Option<Progress>,
) -> Result<()> {
    let plan = engine.plan(sql, None).await?;
    let mut stream = plan.execute()?;
    let mut writer = make_writer(plan.schema);
    loop {
        let next = match writer.holding_since() {
            Some(since) => {
                let deadline = tokio::time::Instant::from_std(since + HOLD_AT_MOST);
                match tokio::time::timeout_at(deadline, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        // `next` is cancel-safe: no batch is lost.
                        writer.release()?;
                        writer.flush()?;
                        continue;
                    }
                }
            }
            None => stream.next().await,
        };
        let Some(batch) = next else { break };
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        if let Some(progress) = progress.take() {
            progress.finish().await;
        }
        writer.write(&batch)?;
        writer.flush()?;
    }
    drop(stream);
    if let Some(progress) = progress.take() {
        progress.finish().await;
    }
    writer.finish()
}
