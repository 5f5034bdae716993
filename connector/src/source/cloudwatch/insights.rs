//! Logs Insights: StartQuery, GetQueryResults until the query ends and
//! then page by page, StopQuery for a query whose client went away, because
//! a running query keeps scanning, and billing, and GetLogRecord for an
//! event's whole message.
//!
//! A query holds a slot of the account's concurrent queries (see
//! [`crate::query_slots`]) from before StartQuery until it ends.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::operation::start_query::StartQueryError;
use aws_sdk_cloudwatchlogs::types::{QueryLanguage as SdkQueryLanguage, QueryStatus};
use tracing::debug;

use super::connect::CloudWatchSource;
use super::errors::call_error;
use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::insights::{InsightsOutput, InsightsRequest, InsightsStats, QueryLanguage, PAGE_ROWS};
use crate::quota::{Api, CallFailure, RetryClass};

/// Calls StopQuery for a Logs Insights query still running when dropped.
struct StopOnDrop {
    source: CloudWatchSource,
    id: Option<String>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let source = self.source.clone();
        runtime.spawn(async move {
            let stopped = source
                .quota
                .call(Api::StopQuery, &ReadCounters::default(), || {
                    source.client.stop_query().query_id(&id).send()
                })
                .await;
            match stopped {
                Ok(_) => debug!(query_id = %id, "Logs Insights query stopped"),
                Err(err) => tracing::warn!(
                    query_id = %id,
                    error = %DisplayErrorContext(&err.error),
                    "could not stop a Logs Insights query whose client went away"
                ),
            }
        });
    }
}

impl CloudWatchSource {
    pub(super) async fn insights(&self, request: &InsightsRequest) -> Result<InsightsOutput> {
        request.validate()?;
        let counters = ReadCounters::default();
        let slots = self.quota.query_slots();
        let (slot, queued) = slots.acquire(request.language).await;
        let result = self.insights_in_slot(request, &counters).await;
        drop(slot);
        let mut stats = InsightsStats {
            queries: 1,
            queued,
            ..Default::default()
        };
        if let Ok(output) = &result {
            stats.records_matched = output.stats.records_matched;
            stats.records_scanned = output.stats.records_scanned;
            stats.bytes_scanned = output.stats.bytes_scanned;
        }
        stats.api_calls = counters.api_calls.value() as u64;
        // Counted whether or not it completed: a started query is billed.
        slots.totals().add(&stats);
        result.map(|output| InsightsOutput { stats, ..output })
    }

    /// StartQuery, then GetQueryResults until the query ends, then its
    /// remaining pages.
    async fn insights_in_slot(
        &self,
        request: &InsightsRequest,
        counters: &ReadCounters,
    ) -> Result<InsightsOutput> {
        let id = self.start_query(request, counters).await?;
        debug!(query_id = %id, "Logs Insights query started");
        // Stops the query if this future is dropped (the client went away)
        // before it ended.
        let mut running = StopOnDrop {
            source: self.clone(),
            id: Some(id.clone()),
        };
        let mut delay = Duration::from_millis(100);
        loop {
            let out = self.results_page(&id, None, counters).await?;
            match out.status() {
                Some(QueryStatus::Complete) => {
                    running.id = None;
                    let mut output = output_of(id.clone(), &out);
                    self.read_pages(&id, out.next_token(), &mut output, counters)
                        .await?;
                    return Ok(output);
                }
                Some(QueryStatus::Running | QueryStatus::Scheduled) | None => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Some(other) => {
                    running.id = None;
                    return Err(ended(id, other));
                }
            }
        }
    }

    /// One GetQueryResults call, at most [`PAGE_ROWS`] rows.
    async fn results_page(
        &self,
        id: &str,
        token: Option<&str>,
        counters: &ReadCounters,
    ) -> Result<GetQueryResultsOutput> {
        self.quota
            .call(Api::GetQueryResults, counters, || {
                self.client
                    .get_query_results()
                    .query_id(id)
                    .max_items(PAGE_ROWS as i32)
                    .set_next_token(token.map(str::to_string))
                    .send()
            })
            .await
            .map_err(|err| call_error(&self.endpoint, Api::GetQueryResults, err))
    }

    /// The pages of a complete query after its first, until no token or
    /// the same token again (older endpoints and emulators repeat it).
    async fn read_pages(
        &self,
        id: &str,
        first_token: Option<&str>,
        output: &mut InsightsOutput,
        counters: &ReadCounters,
    ) -> Result<()> {
        let mut token = first_token.map(str::to_string);
        while let Some(current) = token.take() {
            let page = self.results_page(id, Some(&current), counters).await?;
            output.rows.extend(rows_of(&page));
            token = page
                .next_token()
                .filter(|next| *next != current)
                .map(str::to_string);
        }
        Ok(())
    }

    /// The fields of the event `ptr` points to (`@message` whole).
    pub(super) async fn log_record(&self, ptr: &str) -> Result<HashMap<String, String>> {
        let out = self
            .quota
            .call(Api::GetLogRecord, &ReadCounters::default(), || {
                self.client.get_log_record().log_record_pointer(ptr).send()
            })
            .await
            .map_err(|err| call_error(&self.endpoint, Api::GetLogRecord, err))?;
        Ok(out.log_record().cloned().unwrap_or_default())
    }

    /// StartQuery; the id of the query it started.
    async fn start_query(
        &self,
        request: &InsightsRequest,
        counters: &ReadCounters,
    ) -> Result<String> {
        let language = match request.language {
            QueryLanguage::LogsInsights => SdkQueryLanguage::Cwli,
            QueryLanguage::OpenSearchSql => SdkQueryLanguage::Sql,
            QueryLanguage::OpenSearchPpl => SdkQueryLanguage::Ppl,
        };
        // ARNs (other accounts' groups) go in logGroupIdentifiers, names in
        // logGroupNames; the API takes one or the other.
        let by_arn = request.groups.iter().any(|g| g.starts_with("arn:"));
        let groups = (!request.groups.is_empty()).then(|| request.groups.clone());
        let limit = request.start_limit() as i32;
        let started = self
            .quota
            .call(Api::StartQuery, counters, || {
                let mut call = self
                    .client
                    .start_query()
                    .query_string(&request.query)
                    .start_time(request.start_s)
                    .end_time(request.end_s)
                    .limit(limit);
                // Logs Insights QL is the default; older endpoints and
                // emulators do not know the parameter.
                if request.language != QueryLanguage::LogsInsights {
                    call = call.query_language(language.clone());
                }
                if by_arn {
                    call.set_log_group_identifiers(groups.clone()).send()
                } else {
                    call.set_log_group_names(groups.clone()).send()
                }
            })
            .await
            .map_err(|err| start_query_error(&self.endpoint, request, err))?;
        Ok(started
            .query_id()
            .ok_or_else(|| ConnectorError::Api {
                api: Api::StartQuery.name(),
                message: "the response has no query id".into(),
            })?
            .to_string())
    }
}

/// StartQuery refused: the groups are unknown, the query does not parse, or
/// the call failed.
fn start_query_error(
    endpoint: &str,
    request: &InsightsRequest,
    err: CallFailure<SdkError<StartQueryError, HttpResponse>>,
) -> ConnectorError {
    match err.error.code() {
        Some("ResourceNotFoundException") => ConnectorError::GroupNotFound {
            name: request.groups.join(", "),
            hint: format!(
                " (StartQuery: {})",
                err.error.message().unwrap_or("not found")
            ),
        },
        Some("MalformedQueryException" | "InvalidParameterException") => {
            ConnectorError::InvalidRequest(format!(
                "Logs Insights refused the query: {}",
                err.error.message().unwrap_or("malformed query")
            ))
        }
        Some("LimitExceededException") if err.class == RetryClass::Throttled => {
            ConnectorError::Throttled {
                api: Api::StartQuery.name(),
                attempts: err.attempts,
                message: format!(
                    "the account's concurrent Logs Insights query quota was exceeded ({}); \
                     other callers (consoles, dashboards, scheduled queries) hold its slots: \
                     retry later, or lower insights_max_queries / insights_max_opensearch_queries",
                    err.error.message().unwrap_or("LimitExceededException")
                ),
            }
        }
        _ => call_error(endpoint, Api::StartQuery, err),
    }
}

/// The first page of a complete query, and its statistics.
fn output_of(query_id: String, out: &GetQueryResultsOutput) -> InsightsOutput {
    let statistics = out.statistics();
    InsightsOutput {
        query_id,
        rows: rows_of(out),
        stats: InsightsStats {
            records_matched: statistics.map_or(0.0, |s| s.records_matched()),
            records_scanned: statistics.map_or(0.0, |s| s.records_scanned()),
            bytes_scanned: statistics.map_or(0.0, |s| s.bytes_scanned()),
            ..Default::default()
        },
    }
}

/// The rows of one page, as field/value pairs.
fn rows_of(out: &GetQueryResultsOutput) -> Vec<Vec<(String, String)>> {
    out.results()
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|f| Some((f.field()?.to_string(), f.value()?.to_string())))
                .collect()
        })
        .collect()
}

/// The error of a query that ended without completing.
fn ended(id: String, status: &QueryStatus) -> ConnectorError {
    let detail = match status {
        QueryStatus::Timeout => {
            ": Logs Insights stops queries after 60 minutes; narrow the time range or the groups"
        }
        QueryStatus::Cancelled => ": it was stopped (StopQuery) outside this query",
        _ => "",
    };
    ConnectorError::InsightsEnded {
        id,
        status: status.as_str().to_string(),
        detail: detail.to_string(),
    }
}
