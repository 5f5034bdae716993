//! [`LogSource`] over the real CloudWatch Logs API (aws-sdk-cloudwatchlogs).
//!
//! Every listing and read is paged to its end. Reads of named streams use
//! GetLogEvents stream by stream (ordered, and the only read allowed on
//! Infrequent Access groups); reads of a whole group use FilterLogEvents.
//! Every call goes through the source's [`ApiQuota`], which owns the retries.
//!
//! The parts, each over the one [`CloudWatchSource`] that `connect` builds:
//! `listings` (groups, stream pages, tags), `reads` (events), `insights`
//! (Logs Insights queries), `errors`, what a failed call means,
//! `regions`, whether a region name is plausible, and `flow_logs`, the
//! format of a VPC flow log group (from EC2, not CloudWatch Logs).

mod connect;
mod errors;
mod flow_logs;
mod insights;
mod listings;
mod reads;
mod regions;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use futures::stream::BoxStream;

pub use connect::{AssumeRole, CloudWatchOptions, CloudWatchSource};

use crate::counters::ReadCounters;
use crate::error::Result;
use crate::insights::{InsightsOutput, InsightsRequest};
use crate::model::{EventPage, LogGroup, LogStream, ReadRequest};
use crate::quota::ApiQuota;
use crate::source::LogSource;

#[async_trait]
impl LogSource for CloudWatchSource {
    fn describe(&self) -> String {
        match &self.role {
            Some(role) => format!("cloudwatch({}, role {role})", self.region),
            None => format!("cloudwatch({})", self.region),
        }
    }

    fn quota(&self) -> Option<&ApiQuota> {
        Some(&self.quota)
    }

    /// The endpoint, region and role: another account is reached through
    /// its role, so the role's ARN names the account.
    fn account_key(&self) -> String {
        format!(
            "cloudwatch|{}|{}|{}",
            self.endpoint,
            self.region,
            self.role.as_deref().unwrap_or("own credentials")
        )
    }

    async fn list_groups(&self) -> Result<Vec<LogGroup>> {
        self.describe_groups(None).await
    }

    async fn list_groups_with_prefix(&self, prefix: &str) -> Result<Vec<LogGroup>> {
        self.describe_groups(Some(prefix)).await
    }

    fn has_insights(&self) -> bool {
        true
    }

    async fn run_insights(&self, request: &InsightsRequest) -> Result<InsightsOutput> {
        self.insights(request).await
    }

    async fn log_record(&self, ptr: &str) -> Result<HashMap<String, String>> {
        CloudWatchSource::log_record(self, ptr).await
    }

    async fn group_tags(&self, group: &LogGroup) -> Result<BTreeMap<String, String>> {
        self.tags_of(group).await
    }

    async fn flow_log_format(&self, group: &str) -> Result<Option<String>> {
        self.flow_log_format_of(group).await
    }

    fn list_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<Vec<LogStream>>> {
        listings::stream_pages(self, group, prefix, counters)
    }

    fn read_events(
        &self,
        request: &ReadRequest,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<EventPage>> {
        reads::read_events(self, request, counters)
    }
}
