//! `logflight`: SQL over AWS CloudWatch Logs, served over Arrow Flight SQL.
//!
//! This file only dispatches: the command line is in `cli.rs`, each
//! command in `commands/`, and the server is assembled in `app.rs`.

mod access;
mod allocator;
mod app;
mod audit;
mod auth;
mod cli;
mod cluster;
mod commands;
mod config;
mod error;
mod flight;
mod logging;
mod metrics;
mod query;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    allocator::tune();
    logflight_connector::crypto::install();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Archive(_) | Command::HashPassword | Command::NewToken
    ) {
        quiet_on_closed_pipe();
    }
    // Planning recurses over a statement's expressions (at most
    // query::checks::MAX_EXPRESSION_DEPTH deep) and dropping a parsed tree
    // recurses too: a larger stack than tokio's 2 MiB keeps both safe.
    // It is virtual memory, touched only as deep as a thread goes.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(64 << 20)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => commands::serve::run(*args).await,
            Command::Query(args) => commands::query::run(*args).await,
            Command::Archive(args) => commands::archive::run(*args).await,
            Command::HashPassword => commands::secrets::hash_password_command(),
            Command::NewToken => commands::secrets::new_token_command(),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e.message());
            ExitCode::FAILURE
        }
    }
}

/// Prints `error: ...` on stderr. Unlike `eprintln!`, which panics when
/// stderr is a closed pipe (`logflight query ... 2>&1 | head -1`), a
/// failed write is ignored: there is no one left to tell.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
}

/// Lets a closed pipe end the process quietly, as it ends `grep`
/// (`logflight archive verify | head -1`). Rust ignores SIGPIPE, which makes
/// every later `println!` panic; only `serve` needs it ignored (a client
/// that hangs up must not kill the server), and `query` handles the closed
/// pipe itself to exit 0.
fn quiet_on_closed_pipe() {
    // SAFETY: called before any thread starts; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
