//! The listings: DescribeLogGroups to its end, DescribeLogStreams page by
//! page (a group may hold a million streams, so they are never collected
//! here), and a group's tags.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::LogGroupClass as SdkGroupClass;
use futures::stream::{self, BoxStream, StreamExt};
use tracing::debug;

use super::connect::CloudWatchSource;
use super::errors::{call_error, is_not_found};
use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::model::{LogGroup, LogGroupClass, LogStream};
use crate::quota::Api;

impl CloudWatchSource {
    /// DescribeLogGroups, every page, optionally by name prefix.
    pub(super) async fn describe_groups(&self, prefix: Option<&str>) -> Result<Vec<LogGroup>> {
        let mut groups = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let sent = token.take();
            let out = self
                .quota
                .call(Api::DescribeLogGroups, &ReadCounters::default(), || {
                    self.client
                        .describe_log_groups()
                        .set_log_group_name_prefix(prefix.map(str::to_string))
                        .set_next_token(sent.clone())
                        .send()
                })
                .await
                .map_err(|err| call_error(&self.endpoint, Api::DescribeLogGroups, err))?;
            groups.extend(out.log_groups().iter().filter_map(group_from_sdk));
            match out.next_token() {
                Some(next) => token = Some(next.to_string()),
                None => break,
            }
        }
        debug!(count = groups.len(), ?prefix, "listed log groups");
        Ok(groups)
    }

    /// One DescribeLogStreams page and the token of the next one (`None` at
    /// the end, including when the service returns the token it was sent).
    async fn stream_page(
        &self,
        group: &str,
        prefix: Option<&str>,
        token: Option<String>,
        counters: &ReadCounters,
    ) -> Result<(Vec<LogStream>, Option<String>)> {
        let out = self
            .quota
            .call(Api::DescribeLogStreams, counters, || {
                self.client
                    .describe_log_streams()
                    .log_group_name(group)
                    .set_log_stream_name_prefix(prefix.map(str::to_string))
                    .set_next_token(token.clone())
                    .send()
            })
            .await
            .map_err(|err| {
                if is_not_found(&err) {
                    ConnectorError::GroupNotFound {
                        name: group.to_string(),
                        hint: String::new(),
                    }
                } else {
                    call_error(&self.endpoint, Api::DescribeLogStreams, err)
                }
            })?;
        let streams: Vec<LogStream> = out
            .log_streams()
            .iter()
            .filter_map(stream_from_sdk)
            .collect();
        counters.streams_listed.add(streams.len());
        let next = out
            .next_token()
            .filter(|n| Some(*n) != token.as_deref())
            .map(str::to_string);
        Ok((streams, next))
    }

    /// The tags of a group, by its ARN; a group listed without one has none
    /// to ask for.
    pub(super) async fn tags_of(&self, group: &LogGroup) -> Result<BTreeMap<String, String>> {
        // ListTagsForResource wants the group's ARN without DescribeLogGroups' trailing ":*".
        let Some(arn) = group.arn.as_deref().map(|a| a.trim_end_matches(":*")) else {
            return Ok(BTreeMap::new());
        };
        let out = self
            .quota
            .call(Api::ListTagsForResource, &ReadCounters::default(), || {
                self.client
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
            })
            .await
            .map_err(|err| call_error(&self.endpoint, Api::ListTagsForResource, err))?;
        Ok(out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }
}

/// Every DescribeLogStreams page of a group, fetched as the stream is polled.
pub(super) fn stream_pages(
    source: &CloudWatchSource,
    group: &str,
    prefix: Option<&str>,
    counters: &ReadCounters,
) -> BoxStream<'static, Result<Vec<LogStream>>> {
    let source = source.clone();
    let counters = counters.clone();
    let group = group.to_string();
    let prefix = prefix.map(str::to_string);
    // (token of the next page, finished)
    stream::try_unfold((None::<String>, false), move |(token, finished)| {
        let source = source.clone();
        let group = group.clone();
        let prefix = prefix.clone();
        let counters = counters.clone();
        async move {
            if finished {
                return Ok(None);
            }
            let (streams, next) = source
                .stream_page(&group, prefix.as_deref(), token, &counters)
                .await?;
            let done = next.is_none();
            Ok(Some((streams, (next, done))))
        }
    })
    .boxed()
}

fn group_from_sdk(g: &aws_sdk_cloudwatchlogs::types::LogGroup) -> Option<LogGroup> {
    Some(LogGroup {
        name: g.log_group_name()?.to_string(),
        arn: g.arn().map(str::to_string),
        creation_time_ms: g.creation_time(),
        retention_in_days: g.retention_in_days(),
        stored_bytes: g.stored_bytes(),
        class: match g.log_group_class() {
            None | Some(SdkGroupClass::Standard) => LogGroupClass::Standard,
            Some(SdkGroupClass::InfrequentAccess) => LogGroupClass::InfrequentAccess,
            Some(other) => LogGroupClass::Other(other.as_str().to_string()),
        },
        kms_key_id: g.kms_key_id().map(str::to_string),
        data_protection_status: g.data_protection_status().map(|s| s.as_str().to_string()),
    })
}

fn stream_from_sdk(s: &aws_sdk_cloudwatchlogs::types::LogStream) -> Option<LogStream> {
    Some(LogStream {
        name: s.log_stream_name()?.to_string(),
        creation_time_ms: s.creation_time(),
        first_event_ms: s.first_event_timestamp(),
        last_event_ms: s.last_event_timestamp(),
        last_ingestion_ms: s.last_ingestion_time(),
    })
}
