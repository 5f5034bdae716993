//! `logflight archive`, `archive verify`, `archive prune`: the archive of
//! each configured catalog that has one (docs/archive.md).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use logflight_connector::archive::layout::Day;
use logflight_connector::archive::prune::{prune, PruneOptions};
use logflight_connector::archive::run::{select_groups, Progress};
use logflight_connector::archive::verify::verify_group;
use logflight_connector::archive::{groups, ArchiveRoot, Archiver, RunOptions};
use logflight_connector::model::TimeRange;
use logflight_connector::{AccessRule, GroupAccess, LogCatalog, NamePattern};

use super::progress::{counted, group_thousands, human_bytes};
use crate::app;
use crate::config::{Config, ServeSettings, SourceArgs};
use crate::error::{Result, ServerError};
use crate::logging;
use crate::metrics::{self, ArchiveMetrics};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    pub command: Option<ArchiveCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Copy new events into the archive (what `logflight archive` does)
    Run(RunArgs),
    /// Compare each archived day with its records and with CloudWatch
    Verify(RunArgs),
    /// Delete archived days past their retention, on the record
    Prune(PruneArgs),
}

/// Which catalogs, groups and days.
#[derive(Debug, Clone, Args)]
pub struct Scope {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Log group name patterns (`*`, `?`), comma-separated [default: *]
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_GROUPS", value_delimiter = ',')]
    pub groups: Vec<String>,
    /// Tags a group must carry, e.g. team=payments,env=prod
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Share of each API's quota (--api-tps, or the published quotas) this
    /// command takes, leaving the rest to the queries of a `serve` on the
    /// same account and region; 1 when nothing else reads it
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_QUOTA_SHARE", default_value_t = 0.5, value_parser = quota_share)]
    pub quota_share: f64,
}

fn quota_share(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if share > 0.0 && share <= 1.0 => Ok(share),
        _ => Err(format!(
            "{text:?} is not a share between 0 (exclusive) and 1, such as 0.5"
        )),
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// First day to read, YYYY-MM-DD (a backfill) [default: all CloudWatch has]
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_SINCE")]
    pub since: Option<String>,
    /// Last day to read, YYYY-MM-DD [default: today]
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_UNTIL")]
    pub until: Option<String>,
    /// Serve the run's Prometheus metrics on this address while it runs
    /// (`run` only) [default: off]
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Write the run's Prometheus metrics to this file when it ends, for a
    /// textfile collector (`run` only) [default: off]
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_METRICS_FILE")]
    pub metrics_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// Delete days that ended more than this many days ago, in groups no
    /// [[retention]] entry of the config file names (those keep their own)
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_OLDER_THAN")]
    pub older_than: Option<u32>,
    /// Never delete groups matching these patterns (legal holds, beside the
    /// config file's [[legal_holds]]), comma-separated
    #[arg(long, env = "LOGFLIGHT_ARCHIVE_HOLD", value_delimiter = ',')]
    pub hold: Vec<String>,
}

pub async fn run(args: ArchiveArgs) -> Result<()> {
    match args.command {
        None => archive(args.run).await,
        Some(ArchiveCommand::Run(run)) => archive(run).await,
        Some(ArchiveCommand::Verify(run)) => verify(run).await,
        Some(ArchiveCommand::Prune(prune)) => prune_days(prune).await,
    }
}

fn day_arg(text: &Option<String>, what: &str) -> Result<Option<Day>> {
    text.as_deref()
        .map(|t| {
            Day::parse(t).ok_or_else(|| {
                ServerError::Config(format!("--{what} {t:?}: expected a day as YYYY-MM-DD"))
            })
        })
        .transpose()
}

/// The selection of groups as one access rule: names and tags.
fn selection(scope: &Scope) -> Result<GroupAccess> {
    let names = if scope.groups.is_empty() {
        vec![NamePattern::new("*")]
    } else {
        scope.groups.iter().map(|p| NamePattern::new(p)).collect()
    };
    let mut tags = BTreeMap::new();
    for tag in &scope.tags {
        let (k, v) = tag
            .split_once('=')
            .ok_or_else(|| ServerError::Config(format!("--tags {tag:?}: expected key=value")))?;
        tags.insert(k.to_string(), v.to_string());
    }
    Ok(GroupAccess::new(vec![AccessRule { names, tags }]))
}

/// The catalogs with an archive, each with its root and source.
async fn archived_catalogs(scope: &Scope) -> Result<(Config, Vec<(LogCatalog, ArchiveRoot)>)> {
    let mut config = Config::resolve(&scope.source, &ServeSettings::default())?;
    config.quota = config.quota.share(scope.quota_share);
    logging::init(
        Some(config.log_level.as_deref().unwrap_or("warn")),
        config.log_format,
    );
    let engine = app::engine(&config).await?;
    let mut out = Vec::new();
    for (catalog, settings) in engine.catalogs().zip(&config.catalogs) {
        if let Some(root) = app::archive_root(settings).await? {
            out.push((catalog.clone(), root));
        }
    }
    if out.is_empty() {
        return Err(ServerError::Config(
            "no archive: pass --archive-root DIR|s3://bucket/prefix (LOGFLIGHT_ARCHIVE_ROOT, or archive_root in the config file)".into(),
        ));
    }
    Ok((config, out))
}

async fn archive(args: RunArgs) -> Result<()> {
    let options = RunOptions {
        since_ms: day_arg(&args.since, "since")?.map(Day::start_ms),
        until_ms: day_arg(&args.until, "until")?.map(Day::end_ms),
    };
    let select = selection(&args.scope)?;
    let need_tags = !args.scope.tags.is_empty();
    let metrics = Arc::new(ArchiveMetrics::new());
    if let Some(at) = args.metrics_listen {
        let listener = tokio::net::TcpListener::bind(at)
            .await
            .map_err(|e| ServerError::Config(format!("cannot serve metrics on {at}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        eprintln!("metrics: http://{bound}/metrics");
        let shown = Arc::clone(&metrics);
        tokio::spawn(metrics::serve(listener, Arc::new(move || shown.render())));
    }
    // A run that cannot start (no archive, a bad config) is a failed run
    // to a scheduler reading the file too.
    let outcome = match archived_catalogs(&args.scope).await {
        Ok((_, catalogs)) => {
            archive_catalogs(catalogs, &select, need_tags, &options, &metrics).await
        }
        Err(e) => Err(e),
    };
    metrics.end(outcome.is_ok());
    if let Some(path) = &args.metrics_file {
        metrics.write_file(path).map_err(|e| {
            ServerError::Config(format!("cannot write metrics to {}: {e}", path.display()))
        })?;
    }
    outcome
}

async fn archive_catalogs(
    catalogs: Vec<(LogCatalog, ArchiveRoot)>,
    select: &GroupAccess,
    need_tags: bool,
    options: &RunOptions,
    metrics: &ArchiveMetrics,
) -> Result<()> {
    for (catalog, root) in catalogs {
        let source = Arc::clone(catalog.source());
        let groups =
            select_groups(&source, |name, tags| select.allows(name, tags), need_tags).await?;
        let archiver = Archiver::new(root.clone(), catalog.name(), source);
        metrics.add(&catalog, archiver.progress());
        let started = Instant::now();
        let line = ProgressLine::start(archiver.progress(), std::io::stderr().is_terminal());
        let report = archiver.run(&groups, options).await;
        line.finish().await;
        let report = report?;
        let elapsed = started.elapsed().as_secs_f64();
        let progress = archiver.progress();
        println!(
            "catalog {}: {}, {} read, {} written ({}), {}, {elapsed:.1}s, run {} into {}",
            catalog.name(),
            counted(report.groups as u64, "group"),
            counted(report.days_read as u64, "day"),
            counted(report.events_written, "event"),
            human_bytes(progress.bytes_written.load(Ordering::Relaxed)),
            counted(archiver.api_calls() as u64, "API call"),
            archiver.run_id(),
            root.uri(),
        );
        for incomplete in &report.incomplete {
            println!(
                "incomplete: {} {}: {}",
                incomplete.log_group,
                incomplete.day.text(),
                incomplete.reason
            );
        }
        for (group, day) in &report.contended {
            println!(
                "left to the next run (other runs kept committing it): {group} {}",
                day.text()
            );
        }
    }
    Ok(())
}

async fn verify(args: RunArgs) -> Result<()> {
    let range = TimeRange::new(
        day_arg(&args.since, "since")?.map(Day::start_ms),
        day_arg(&args.until, "until")?.map(Day::end_ms),
    );
    let select = selection(&args.scope)?;
    let need_tags = !args.scope.tags.is_empty();
    let (_, catalogs) = archived_catalogs(&args.scope).await?;
    let mut bad = 0;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "catalog,log_group,day,archived,in_cloudwatch,missing_from_archive,gone_from_cloudwatch,archive_hash,cloudwatch_hash,status");
    for (catalog, root) in catalogs {
        let source = Arc::clone(catalog.source());
        let groups =
            select_groups(&source, |name, tags| select.allows(name, tags), need_tags).await?;
        for group in groups {
            for check in verify_group(&root, catalog.name(), &source, &group, range).await? {
                let status = if !check.damaged_parts.is_empty() {
                    format!("damaged: {}", check.damaged_parts.join("; "))
                } else if check.missing_from_archive > 0 {
                    "missing from the archive".to_string()
                } else if check.gone_from_cloudwatch > 0 {
                    "ok (CloudWatch no longer holds some)".to_string()
                } else {
                    "ok".to_string()
                };
                if !check.ok() {
                    bad += 1;
                }
                let fields = [
                    catalog.name().to_string(),
                    check.log_group.clone(),
                    check.day.text(),
                    check.archived.to_string(),
                    check.in_cloudwatch.to_string(),
                    check.missing_from_archive.to_string(),
                    check.gone_from_cloudwatch.to_string(),
                    check.archive_hash.clone(),
                    check.cloudwatch_hash.clone(),
                    status,
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                let _ = writeln!(out, "{}", line.join(","));
            }
        }
    }
    if bad > 0 {
        return Err(ServerError::Internal(format!(
            "verify found {bad} archived days that differ from CloudWatch or from their records"
        )));
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break
/// (a damaged part's message does).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

async fn prune_days(args: PruneArgs) -> Result<()> {
    let select = selection(&args.scope)?;
    let (config, catalogs) = archived_catalogs(&args.scope).await?;
    if args.older_than.is_none() && config.retention.is_empty() {
        return Err(ServerError::Config(
            "nothing says what to delete: give --older-than DAYS, or [[retention]] entries in the config file (see docs/archive.md)".into(),
        ));
    }
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let run = format!("prune-{}", logflight_connector::time::now_ms());
    for (catalog, root) in catalogs {
        let options = PruneOptions {
            retention: config
                .retention
                .iter()
                .filter(|r| r.covers(catalog.name()))
                .flat_map(|r| r.log_groups.iter().map(|p| (NamePattern::new(p), r.days)))
                .collect(),
            default_days: args.older_than,
            holds: args
                .hold
                .iter()
                .map(|p| (NamePattern::new(p), format!("--hold {p}")))
                .chain(
                    config
                        .legal_holds
                        .iter()
                        .filter(|h| h.covers(catalog.name()))
                        .flat_map(|h| {
                            h.log_groups.iter().map(|p| {
                                (
                                    NamePattern::new(p),
                                    format!("[[legal_holds]] {p}: {}", h.reason),
                                )
                            })
                        }),
                )
                .collect(),
            who: format!("{who} (logflight {})", env!("CARGO_PKG_VERSION")),
            run: run.clone(),
        };
        let archived: Vec<_> = groups::list(&root, catalog.name())
            .await?
            .into_values()
            .filter(|g| select.allows(&g.log_group, &g.tags))
            .collect();
        let report = prune(
            &root,
            catalog.name(),
            &archived,
            logflight_connector::time::now_ms(),
            &options,
        )
        .await?;
        for (group, why) in &report.held {
            println!("held: {group} ({why}); nothing of it is deleted");
        }
        for (group, day, why) in &report.locked {
            println!(
                "locked: {group} {} ({why}); kept until the lock allows",
                day.text()
            );
        }
        for group in &report.unruled {
            println!(
                "kept: {group} (no [[retention]] entry names it and no --older-than was given)"
            );
        }
        for (group, days, source) in &report.retention {
            println!(
                "retention: {group} keeps {} ({source})",
                counted(u64::from(*days), "day")
            );
        }
        match &report.record {
            Some(record) => println!(
                "catalog {}: deleted {}, {}, {} past their retention; deletion record {record}",
                catalog.name(),
                counted(report.days as u64, "day"),
                counted(report.files as u64, "file"),
                counted(report.rows, "event"),
            ),
            None => println!(
                "catalog {}: nothing past its retention to delete",
                catalog.name()
            ),
        }
    }
    Ok(())
}

/// The line an archive run keeps on a terminal: days, events, rate, ETA.
struct ProgressLine {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressLine {
    fn start(progress: Arc<Progress>, terminal: bool) -> Self {
        if !terminal {
            return Self {
                stop: None,
                task: None,
            };
        }
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let began = Instant::now();
            let mut ticker = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut stopped => break,
                }
                let text = render(&progress, began.elapsed());
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{text}\x1b[K");
                let _ = err.flush();
            }
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        });
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

fn render(p: &Progress, elapsed: Duration) -> String {
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let (done, total) = (load(&p.days_done), load(&p.days_total));
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = load(&p.events_read) as f64 / secs;
    let eta = if done > 0 && total > done {
        format!(", ETA {:.0}s", secs / done as f64 * (total - done) as f64)
    } else {
        String::new()
    };
    format!(
        "archiving: day {done}/{total}, {} events read, {} written ({}), {:.0} events/s{eta}",
        group_thousands(load(&p.events_read)),
        group_thousands(load(&p.events_written)),
        human_bytes(load(&p.bytes_written)),
        rate
    )
}
