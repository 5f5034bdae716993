//! The archive tier: log groups copied into Parquet under a local or S3
//! root, exactly once, searchable with the same SQL, deleted on schedule.
//! docs/archive.md is the design; each module has one part of it.

pub mod commit;
pub mod exec;
pub mod groups;
pub mod layout;
pub mod lock;
pub mod part;
pub mod prune;
pub mod run;
pub mod schema;
pub mod spill;
pub mod store;
pub mod table;
pub mod verify;

pub use run::{Archiver, RunOptions, RunReport};
pub use store::{ArchiveOptions, ArchiveRoot};
