//! Where log events come from.
//!
//! The catalog and the scans know only the [`LogSource`] trait (the data it
//! speaks is in [`crate::model`]); `cloudwatch` implements it over the AWS
//! SDK, `demo` over generated, in-process sample data and `synthetic` over
//! events computed from their index. `listing` reads a stream prefix or an
//! Infrequent Access group over any source, by listing its streams.

pub mod cloudwatch;
pub mod demo;
pub mod listing;
pub(crate) mod pattern_match;
pub mod synthetic;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::insights::{InsightsOutput, InsightsRequest};
use crate::model::{EventPage, LogGroup, LogStream, ReadRequest};
use crate::quota::ApiQuota;

/// A place to read log groups, streams and events from.
#[async_trait]
pub trait LogSource: Debug + Send + Sync + 'static {
    /// A short name for plans and logs, e.g. `cloudwatch(us-east-1)`.
    fn describe(&self) -> String;

    /// The API quota this source calls through, for metrics (none for
    /// sources that make no API calls).
    fn quota(&self) -> Option<&ApiQuota> {
        None
    }

    /// The account and region this source reads, as a key: API quotas are
    /// per account and region, so in a cluster one node, the key's owner,
    /// makes every scan's calls for it (see [`crate::cluster`]).
    fn account_key(&self) -> String {
        self.describe()
    }

    /// Every log group (the source pages through the whole listing).
    async fn list_groups(&self) -> Result<Vec<LogGroup>>;

    /// The groups whose name starts with `prefix` (case-sensitive, as the
    /// API's logGroupNamePrefix); sources with a server-side prefix search
    /// override this so that only those groups are listed.
    async fn list_groups_with_prefix(&self, prefix: &str) -> Result<Vec<LogGroup>> {
        let mut groups = self.list_groups().await?;
        groups.retain(|g| g.name.starts_with(prefix));
        Ok(groups)
    }

    /// Whether [`Self::run_insights`] runs queries: SQL aggregations are
    /// pushed into Logs Insights only on such sources.
    fn has_insights(&self) -> bool {
        false
    }

    /// Runs a Logs Insights query to its end (see [`crate::insights`]).
    async fn run_insights(&self, _request: &InsightsRequest) -> Result<InsightsOutput> {
        Err(ConnectorError::InvalidRequest(format!(
            "the {} source has no Logs Insights; insights() needs --source cloudwatch",
            self.describe()
        )))
    }

    /// The fields of the event a Logs Insights `@ptr` points to, its
    /// `@message` whole (GetLogRecord).
    async fn log_record(&self, _ptr: &str) -> Result<HashMap<String, String>> {
        Err(ConnectorError::InvalidRequest(format!(
            "the {} source has no log records to fetch by @ptr",
            self.describe()
        )))
    }

    /// A group's tags. One API call per group on CloudWatch, so only the
    /// metadata table's `tags` column asks for them.
    async fn group_tags(&self, _group: &LogGroup) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }

    /// The log format of the VPC flow log that delivers to `group`, as EC2
    /// DescribeFlowLogs reports it (`${version} ${account-id} ...`), or
    /// `None` when no flow log delivers there or the source cannot ask
    /// (no EC2 permission): the typed table then assumes the default format.
    async fn flow_log_format(&self, _group: &str) -> Result<Option<String>> {
        Ok(None)
    }

    /// The streams of a group, page by page, optionally only those whose name
    /// starts with `prefix` (case-sensitive, as the API).
    fn list_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<Vec<LogStream>>>;

    /// The events a request selects, page by page, in the order the API
    /// returns them. The stream ends when the read is complete; an error ends
    /// it early and must be reported, never swallowed.
    fn read_events(
        &self,
        request: &ReadRequest,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<EventPage>>;
}

pub type SharedSource = Arc<dyn LogSource>;
