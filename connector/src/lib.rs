//! logflight's connector: AWS CloudWatch Logs as a DataFusion catalog.
//!
//! A query flows one way: the catalog ([`catalog`]) resolves names to
//! tables ([`table`]); a table turns SQL filters into a [`model::ReadRequest`]
//! ([`pushdown`]); the scan ([`scan`]) streams pages of events from a
//! [`source::LogSource`] through the batch builder ([`batch`]) as Arrow
//! record batches.

pub mod access;
pub mod archive;
pub mod batch;
pub mod catalog;
pub mod cluster;
pub mod counters;
pub mod crypto;
pub mod error;
pub mod formats;
pub mod insights;
pub mod insights_pushdown;
pub mod meta_schema;
pub mod model;
pub mod names;
pub mod pushdown;
pub mod query_slots;
pub mod quota;
pub mod read_plan;
pub mod rng;
pub mod scan;
pub mod source;
pub mod sql_functions;
pub mod table;
pub mod table_functions;
pub mod time;
pub mod typed_scan;
pub mod typed_table;

pub use access::{AccessRule, GroupAccess, NamePattern, RestrictedSource};
pub use catalog::{LogCatalog, ALL_LOG_STREAMS};
pub use error::{ConnectorError, Result};
pub use meta_schema::{MetaTableKind, META_SCHEMA, META_TABLES};
pub use model::ReadRequest;
pub use source::cloudwatch::{AssumeRole, CloudWatchOptions, CloudWatchSource};
pub use source::demo::DemoSource;
pub use source::synthetic::SyntheticSource;
pub use source::{LogSource, SharedSource};
pub use table::ScanOptions;
