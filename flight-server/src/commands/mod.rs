//! The commands of the command line, one module each.

pub mod archive;
pub mod output;
pub mod progress;
pub mod query;
pub mod secrets;
pub mod serve;
pub mod sql_input;
pub mod terminal;
