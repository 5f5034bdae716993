//! Logs Insights: StartQuery, GetQueryResults until the query ends, and
//! StopQuery for a query whose client went away, because a running query
//! keeps scanning, and billing.

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
use crate::insights::{InsightsOutput, InsightsRequest, QueryLanguage, MAX_ROWS};
use crate::quota::{Api, CallFailure};

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
        let id = self.start_query(request, &counters).await?;
        debug!(query_id = %id, "Logs Insights query started");
        // Stops the query if this future is dropped (the client went away)
        // before it ended.
        let mut running = StopOnDrop {
            source: self.clone(),
            id: Some(id.clone()),
        };
        let mut delay = Duration::from_millis(100);
        loop {
            let out = self
                .quota
                .call(Api::GetQueryResults, &counters, || {
                    self.client.get_query_results().query_id(&id).send()
                })
                .await
                .map_err(|err| call_error(&self.endpoint, Api::GetQueryResults, err))?;
            match out.status() {
                Some(QueryStatus::Complete) => {
                    running.id = None;
                    return Ok(output_of(id, &out));
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
        let limit = request.limit.unwrap_or(MAX_ROWS) as i32;
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
        _ => call_error(endpoint, Api::StartQuery, err),
    }
}

/// The rows of a complete query, as field/value pairs.
fn output_of(query_id: String, out: &GetQueryResultsOutput) -> InsightsOutput {
    let rows = out
        .results()
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|f| Some((f.field()?.to_string(), f.value()?.to_string())))
                .collect()
        })
        .collect();
    InsightsOutput {
        query_id,
        rows,
        records_matched: out.statistics().map(|s| s.records_matched()),
    }
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
