//! The command line: `logflight serve | query | hash-password | new-token`.

use clap::{Parser, Subcommand};

use crate::commands::archive::ArchiveArgs;
use crate::commands::query::QueryArgs;
use crate::commands::serve::ServeArgs;

#[derive(Debug, Parser)]
#[command(
    name = "logflight",
    version,
    about = "SQL over AWS CloudWatch Logs, served over Arrow Flight SQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the log groups over Arrow Flight SQL (and plain Flight)
    Serve(Box<ServeArgs>),
    /// Run one SQL statement in-process and print the result
    Query(Box<QueryArgs>),
    /// Copy log groups into Parquet (and `archive verify`, `archive prune`); see docs/archive.md
    Archive(Box<ArchiveArgs>),
    /// Read a password from standard input and print its Argon2 hash, for
    /// a [[users]] entry's password_hash
    HashPassword,
    /// Print a new random bearer token and the SHA-256 a [[tokens]] entry
    /// stores
    NewToken,
}
