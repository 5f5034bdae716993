//! [`LogSource`] over the real CloudWatch Logs API (aws-sdk-cloudwatchlogs).
//!
//! Every listing and read is paged to its end. Reads of named streams use
//! GetLogEvents stream by stream (ordered, and the only read allowed on
//! Infrequent Access groups); reads of a whole group use FilterLogEvents.
//! Pages may be empty while a token still follows; GetLogEvents signals the
//! end of a stream by returning the token it was given.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::SharedCredentialsProvider;
use aws_sdk_cloudwatchlogs::config::{ProvideCredentials, Region};
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::types::LogGroupClass as SdkGroupClass;
use aws_sdk_cloudwatchlogs::types::{QueryLanguage as SdkQueryLanguage, QueryStatus};
use aws_sdk_cloudwatchlogs::Client;
use futures::stream::{self, BoxStream, StreamExt};
use tracing::debug;

use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::insights::{InsightsOutput, InsightsRequest, QueryLanguage, MAX_ROWS};
use crate::model::{
    EventPage, LogEvent, LogGroup, LogGroupClass, LogStream, ReadApi, ReadRequest, StreamSelection,
};
use crate::quota::{Api, ApiQuota, CallFailure, QuotaConfig, RetryClass, Retryable};
use crate::source::listing::{self, ListingHub};
use crate::source::{LogSource, SharedSource};

/// Both read APIs return at most this many events per page.
const MAX_EVENTS_PER_PAGE: usize = 10_000;

/// How to reach CloudWatch Logs; unset fields come from the standard AWS chain
/// (environment, shared config and credentials files, SSO, IMDS, ...).
#[derive(Debug, Clone, Default)]
pub struct CloudWatchOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Read as this role (typically in another account) instead of as the
    /// chain's own identity.
    pub role: Option<AssumeRole>,
    /// Pacing, concurrency and retry budget shared by every query.
    pub quota: QuotaConfig,
}

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

/// An error and its causes on one line, without the SDK's debug dump.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    parts.join(": ")
}

/// An IAM role assumed through STS with the chain's credentials; the SDK
/// renews the session before it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

#[derive(Debug, Clone)]
pub struct CloudWatchSource {
    client: Client,
    region: String,
    /// The assumed role, shown by `describe`.
    role: Option<String>,
    quota: Arc<ApiQuota>,
}

impl CloudWatchSource {
    /// Builds a client from the standard chain plus explicit options, and
    /// checks up front that a region and credentials can be found, so that a
    /// misconfigured server fails at start with a message saying what is
    /// missing instead of on the first query.
    pub async fn connect(options: &CloudWatchOptions) -> Result<Self> {
        // Retries are ours (see quota.rs): they slow the shared pacer and
        // count into the scan's metrics, which the SDK's retries cannot.
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled());
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let mut config = loader.load().await;
        if let Some(role) = &options.role {
            let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
                .session_name(role.session_name.clone())
                .configure(&config);
            if let Some(id) = &role.external_id {
                builder = builder.external_id(id.clone());
            }
            let provider = builder.build().await;
            config = config
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
        }
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| {
                ConnectorError::Config(
                    "no AWS region found: pass --region, set AWS_REGION, or set a region in your AWS profile".into(),
                )
            })?;
        let provider = config.credentials_provider().ok_or_else(|| {
            ConnectorError::Config("no AWS credentials provider is configured".into())
        })?;
        match tokio::time::timeout(Duration::from_secs(15), provider.provide_credentials()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) if options.role.is_some() => {
                let role = options.role.as_ref().map(|r| r.role_arn.as_str());
                return Err(ConnectorError::Config(format!(
                    "cannot assume role {}: {}",
                    role.unwrap_or_default(),
                    causes(&err)
                )));
            }
            Ok(Err(err)) => {
                tracing::debug!(error = %DisplayErrorContext(&err), "credential chain failed");
                return Err(ConnectorError::Config(format!(
                    "no AWS credentials found ({err}); configure credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, or an instance role), or run with --source demo to try logflight on its built-in sample logs"
                )));
            }
            Err(_) => {
                return Err(ConnectorError::Config(
                    "timed out looking for AWS credentials; configure credentials or run with --source demo".into(),
                ))
            }
        }
        let mut source = Self::from_client(Client::new(&config), region, options.quota.clone());
        source.role = options.role.as_ref().map(|r| r.role_arn.clone());
        Ok(source)
    }

    /// DescribeLogGroups, every page, optionally by name prefix.
    async fn describe_groups(&self, prefix: Option<&str>) -> Result<Vec<LogGroup>> {
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
                .map_err(|err| call_error(Api::DescribeLogGroups, err))?;
            groups.extend(out.log_groups().iter().filter_map(group_from_sdk));
            match out.next_token() {
                Some(next) => token = Some(next.to_string()),
                None => break,
            }
        }
        debug!(count = groups.len(), ?prefix, "listed log groups");
        Ok(groups)
    }

    /// Builds a source from an already configured SDK client (tests, embedding).
    pub fn from_client(client: Client, region: impl Into<String>, quota: QuotaConfig) -> Self {
        Self {
            client,
            region: region.into(),
            role: None,
            quota: Arc::new(ApiQuota::new(quota)),
        }
    }
}

impl CloudWatchSource {
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
                    call_error(Api::DescribeLogStreams, err)
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
}

impl<E: ProvideErrorMetadata> Retryable for SdkError<E, HttpResponse> {
    fn retry_class(&self) -> RetryClass {
        match self {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => RetryClass::Transient,
            SdkError::ConstructionFailure(_) => RetryClass::Fatal,
            _ => {
                let status = self.raw_response().map(|r| r.status().as_u16());
                retry_class_of(self.code(), self.message(), status)
            }
        }
    }
}

/// Which API errors are worth retrying. Pure, so it is tested without a server.
pub fn retry_class_of(
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> RetryClass {
    match code {
        Some(
            "ThrottlingException"
            | "LimitExceededException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded",
        ) => RetryClass::Throttled,
        Some("ServiceUnavailableException" | "InternalFailure" | "InternalServerError") => {
            RetryClass::Transient
        }
        _ if message.is_some_and(|m| m.contains("Rate exceeded")) => RetryClass::Throttled,
        _ if status.is_some_and(|s| s == 429) => RetryClass::Throttled,
        _ if status.is_some_and(|s| s >= 500) => RetryClass::Transient,
        _ => RetryClass::Fatal,
    }
}

/// The error a user sees when a call failed for good.
fn call_error<E>(api: Api, failure: CallFailure<SdkError<E, HttpResponse>>) -> ConnectorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // The service's own code and message when it answered; otherwise the
    // chain of causes (a refused connection, a timeout), never the SDK's
    // debug dump of the raw response.
    debug!(error = %DisplayErrorContext(&failure.error), api = api.name(), "call failed");
    let message = match (failure.error.code(), failure.error.message()) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (Some(code), None) => code.to_string(),
        _ => causes(&failure.error),
    };
    match failure.class {
        RetryClass::Throttled => ConnectorError::Throttled {
            api: api.name(),
            attempts: failure.attempts,
            message,
        },
        RetryClass::Transient => ConnectorError::Api {
            api: api.name(),
            message: format!(
                "still failing after {} attempts: {message}",
                failure.attempts
            ),
        },
        RetryClass::Fatal => {
            classify_error(api.name(), failure.error.code(), &message, failure.attempts)
        }
    }
}

fn is_not_found<E: ProvideErrorMetadata>(failure: &CallFailure<SdkError<E, HttpResponse>>) -> bool {
    failure.error.code() == Some("ResourceNotFoundException")
}

/// Maps an API error code to the reason a user should see. Pure, so the
/// mapping is tested without a server.
pub fn classify_error(
    api: &'static str,
    code: Option<&str>,
    message: &str,
    attempts: u32,
) -> ConnectorError {
    let message = message.to_string();
    match code {
        Some("ThrottlingException" | "LimitExceededException" | "TooManyRequestsException")
        | Some("RequestLimitExceeded") => ConnectorError::Throttled {
            api,
            attempts,
            message,
        },
        Some("AccessDeniedException" | "UnrecognizedClientException" | "AccessDenied")
        | Some("ExpiredTokenException" | "InvalidSignatureException") => {
            ConnectorError::PermissionDenied { api, message }
        }
        _ if message.contains("Rate exceeded") => ConnectorError::Throttled {
            api,
            attempts,
            message,
        },
        _ => ConnectorError::Api { api, message },
    }
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

/// FilterLogEvents accepts at most this many stream names per call.
const MAX_STREAMS_PER_FILTER_CALL: usize = 100;

/// Which streams one FilterLogEvents sequence covers.
#[derive(Debug, Clone)]
enum FilterScope {
    Group,
    Prefix(String),
    Names(Vec<String>),
}

/// One unit of work of a read; the front item is worked on until done.
#[derive(Debug, Clone)]
enum Work {
    /// GetLogEvents over one stream.
    Stream(Arc<str>),
    /// FilterLogEvents over a scope.
    Filter(FilterScope),
}

struct ReadCursor {
    source: CloudWatchSource,
    counters: ReadCounters,
    request: ReadRequest,
    work: VecDeque<Work>,
    /// The token to send for the front work item.
    token: Option<String>,
    /// Events still wanted when a limit was pushed.
    remaining: Option<usize>,
    /// Stream names seen in FilterLogEvents pages, shared by their events.
    stream_names: HashSet<Arc<str>>,
}

impl ReadCursor {
    fn new(source: CloudWatchSource, request: ReadRequest, counters: ReadCounters) -> Self {
        let mut work = VecDeque::new();
        if !request.selects_nothing() {
            match (&request.api, &request.streams) {
                (ReadApi::GetLogEvents, StreamSelection::Named(names)) => {
                    work.extend(names.iter().map(|n| Work::Stream(Arc::from(n.as_str()))));
                }
                // Listing reads are driven by `listing.rs`, which hands
                // this cursor one named stream at a time.
                (ReadApi::GetLogEvents, StreamSelection::All | StreamSelection::Prefix(_)) => {}
                (ReadApi::FilterLogEvents, StreamSelection::All) => {
                    work.push_back(Work::Filter(FilterScope::Group))
                }
                (ReadApi::FilterLogEvents, StreamSelection::Prefix(p)) => {
                    work.push_back(Work::Filter(FilterScope::Prefix(p.clone())))
                }
                (ReadApi::FilterLogEvents, StreamSelection::Named(names)) => {
                    let names: Vec<String> = names.iter().cloned().collect();
                    work.extend(
                        names
                            .chunks(MAX_STREAMS_PER_FILTER_CALL)
                            .map(|c| Work::Filter(FilterScope::Names(c.to_vec()))),
                    );
                }
            }
        }
        let remaining = request.limit;
        Self {
            source,
            counters,
            request,
            work,
            token: None,
            remaining,
            stream_names: HashSet::new(),
        }
    }

    fn page_limit(&self) -> Option<i32> {
        self.remaining
            .map(|r| r.clamp(1, MAX_EVENTS_PER_PAGE) as i32)
    }

    /// The front item is done: move on.
    fn finish_front(&mut self) {
        self.work.pop_front();
        self.token = None;
    }

    /// Makes the next API call. `Ok(None)` means the read is complete.
    async fn next_page(&mut self) -> Result<Option<EventPage>> {
        if self.remaining == Some(0) {
            self.work.clear();
        }
        let Some(item) = self.work.front().cloned() else {
            return Ok(None);
        };
        let page = match item {
            Work::Stream(stream) => self.get_log_events(stream).await?,
            Work::Filter(scope) => self.filter_log_events(scope).await?,
        };
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(page.events.len());
        }
        Ok(Some(page))
    }

    async fn get_log_events(&mut self, stream: Arc<str>) -> Result<EventPage> {
        let (start, end) = self.request.time.get_log_events_bounds();
        let sent_token = self.token.clone();
        let page_limit = self.page_limit();
        let client = &self.source.client;
        let group = &self.request.group;
        let result = self
            .source
            .quota
            .call(Api::GetLogEvents, &self.counters, || {
                client
                    .get_log_events()
                    .log_group_name(group)
                    .log_stream_name(stream.as_ref())
                    .start_from_head(true)
                    .set_start_time(start)
                    .set_end_time(end)
                    .set_limit(page_limit)
                    .set_next_token(sent_token.clone())
                    .send()
            })
            .await;
        let out = match result {
            Ok(out) => out,
            // A stream named only in a WHERE filter that does not exist
            // simply has no events.
            Err(err) if is_not_found(&err) && !self.request.require_streams => {
                self.finish_front();
                return Ok(EventPage::default());
            }
            Err(err) if is_not_found(&err) => {
                return Err(ConnectorError::StreamNotFound {
                    group: self.request.group.clone(),
                    stream: stream.to_string(),
                    hint: " (it may have been deleted)".into(),
                })
            }
            Err(err) => return Err(call_error(Api::GetLogEvents, err)),
        };
        let mut out = out;
        let next = out.next_forward_token.take();
        // Owned: the messages move out of the response, uncopied.
        let events: Vec<LogEvent> = out
            .events
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|e| LogEvent {
                stream: Arc::clone(&stream),
                timestamp_ms: e.timestamp.unwrap_or_default(),
                ingestion_ms: e.ingestion_time,
                message: e.message.unwrap_or_default(),
            })
            .collect();
        // The end of a stream: no token, or the token we sent came back.
        if next.is_none() || next == sent_token {
            self.finish_front();
        } else {
            self.token = next;
        }
        Ok(EventPage::new(events))
    }

    async fn filter_log_events(&mut self, scope: FilterScope) -> Result<EventPage> {
        let (start, end) = self.request.time.filter_log_events_bounds();
        let page_limit = self.page_limit();
        let sent_token = self.token.take();
        let (names, prefix) = match &scope {
            FilterScope::Group => (None, None),
            FilterScope::Prefix(p) => (None, Some(p.clone())),
            FilterScope::Names(n) => (Some(n.clone()), None),
        };
        let client = &self.source.client;
        let request = &self.request;
        let result = self
            .source
            .quota
            .call(Api::FilterLogEvents, &self.counters, || {
                client
                    .filter_log_events()
                    .log_group_name(&request.group)
                    .set_log_stream_names(names.clone())
                    .set_log_stream_name_prefix(prefix.clone())
                    .set_start_time(start)
                    .set_end_time(end)
                    .set_filter_pattern(request.filter_pattern.clone())
                    .set_limit(page_limit)
                    .set_next_token(sent_token.clone())
                    .send()
            })
            .await;
        let out = match result {
            Ok(out) => out,
            // One of the named streams may not exist: read them one by one,
            // where a missing stream is simply empty. Only before the first
            // page: after it, events already returned would be read again.
            Err(err)
                if is_not_found(&err)
                    && sent_token.is_none()
                    && matches!(scope, FilterScope::Names(_)) =>
            {
                let FilterScope::Names(names) = scope else {
                    unreachable!()
                };
                self.finish_front();
                for name in names.into_iter().rev() {
                    self.work.push_front(Work::Stream(Arc::from(name)));
                }
                return Ok(EventPage::default());
            }
            Err(err) if is_not_found(&err) && sent_token.is_some() => {
                return Err(ConnectorError::Api {
                    api: Api::FilterLogEvents.name(),
                    message: format!(
                        "a log group or stream of {:?} was deleted while the query read it: {}",
                        request.group,
                        err.error.message().unwrap_or("not found")
                    ),
                })
            }
            Err(err) if is_not_found(&err) => {
                return Err(ConnectorError::GroupNotFound {
                    name: request.group.clone(),
                    hint: " (it may have been deleted while the query ran)".into(),
                })
            }
            Err(err) => return Err(call_error(Api::FilterLogEvents, err)),
        };
        let mut out = out;
        let next = out.next_token.take();
        let names = &mut self.stream_names;
        let events: Vec<LogEvent> = out
            .events
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let name = e.log_stream_name.unwrap_or_default();
                // One shared name per stream (pages interleave streams).
                let stream = match names.get(name.as_str()) {
                    Some(s) => Arc::clone(s),
                    None => {
                        let s: Arc<str> = Arc::from(name);
                        names.insert(Arc::clone(&s));
                        s
                    }
                };
                LogEvent {
                    stream,
                    timestamp_ms: e.timestamp.unwrap_or_default(),
                    ingestion_ms: e.ingestion_time,
                    message: e.message.unwrap_or_default(),
                }
            })
            .collect();
        match next {
            Some(next) if Some(&next) != sent_token.as_ref() => self.token = Some(next),
            _ => self.finish_front(),
        }
        Ok(EventPage::new(events))
    }
}

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

    async fn list_groups(&self) -> Result<Vec<LogGroup>> {
        self.describe_groups(None).await
    }

    async fn list_groups_with_prefix(&self, prefix: &str) -> Result<Vec<LogGroup>> {
        self.describe_groups(Some(prefix)).await
    }

    async fn run_insights(&self, request: &InsightsRequest) -> Result<InsightsOutput> {
        request.validate()?;
        let counters = ReadCounters::default();
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
            .call(Api::StartQuery, &counters, || {
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
            .map_err(|err| match err.error.code() {
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
                _ => call_error(Api::StartQuery, err),
            })?;
        let id = started
            .query_id()
            .ok_or_else(|| ConnectorError::Api {
                api: Api::StartQuery.name(),
                message: "the response has no query id".into(),
            })?
            .to_string();
        debug!(query_id = %id, "Logs Insights query started");
        // Stops the query if this future is dropped (the client went away)
        // before it ended: a running query keeps scanning, and billing.
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
                .map_err(|err| call_error(Api::GetQueryResults, err))?;
            match out.status() {
                Some(QueryStatus::Complete) => {
                    running.id = None;
                    let rows = out
                        .results()
                        .iter()
                        .map(|row| {
                            row.iter()
                                .filter_map(|f| {
                                    Some((f.field()?.to_string(), f.value()?.to_string()))
                                })
                                .collect()
                        })
                        .collect();
                    return Ok(InsightsOutput {
                        query_id: id,
                        rows,
                        records_matched: out.statistics().map(|s| s.records_matched()),
                    });
                }
                Some(QueryStatus::Running | QueryStatus::Scheduled) | None => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Some(other) => {
                    running.id = None;
                    let detail = match other {
                        QueryStatus::Timeout => {
                            ": Logs Insights stops queries after 60 minutes; narrow the time range or the groups"
                        }
                        QueryStatus::Cancelled => ": it was stopped (StopQuery) outside this query",
                        _ => "",
                    };
                    return Err(ConnectorError::InsightsEnded {
                        id,
                        status: other.as_str().to_string(),
                        detail: detail.to_string(),
                    });
                }
            }
        }
    }

    async fn group_tags(&self, group: &LogGroup) -> Result<BTreeMap<String, String>> {
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
            .map_err(|err| call_error(Api::ListTagsForResource, err))?;
        Ok(out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn list_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<Vec<LogStream>>> {
        let source = self.clone();
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

    fn read_events(
        &self,
        request: &ReadRequest,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<EventPage>> {
        if listing::is_listing_read(request) {
            let source: SharedSource = Arc::new(self.clone());
            let hub = Arc::new(ListingHub::new(&source, request, counters));
            return listing::read_listed(source, hub, counters.clone());
        }
        let cursor = ReadCursor::new(self.clone(), request.clone(), counters.clone());
        stream::try_unfold(cursor, |mut cursor| async move {
            Ok(cursor.next_page().await?.map(|page| (page, cursor)))
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classes() {
        let cases = [
            (
                Some("ThrottlingException"),
                None,
                Some(400),
                RetryClass::Throttled,
            ),
            (
                Some("LimitExceededException"),
                None,
                Some(400),
                RetryClass::Throttled,
            ),
            (
                None,
                Some("Rate exceeded"),
                Some(400),
                RetryClass::Throttled,
            ),
            (None, None, Some(429), RetryClass::Throttled),
            (
                Some("ServiceUnavailableException"),
                None,
                Some(503),
                RetryClass::Transient,
            ),
            (None, None, Some(500), RetryClass::Transient),
            (
                Some("ResourceNotFoundException"),
                None,
                Some(400),
                RetryClass::Fatal,
            ),
            (
                Some("AccessDeniedException"),
                None,
                Some(400),
                RetryClass::Fatal,
            ),
            (
                Some("InvalidParameterException"),
                None,
                Some(400),
                RetryClass::Fatal,
            ),
        ];
        for (code, message, status, want) in cases {
            assert_eq!(
                retry_class_of(code, message, status),
                want,
                "{code:?} {status:?}"
            );
        }
    }

    #[test]
    fn api_errors_are_classified_by_code() {
        let cases: [(Option<&str>, &str, &str); 6] = [
            (Some("ThrottlingException"), "Rate exceeded", "throttled"),
            (Some("LimitExceededException"), "too many", "throttled"),
            (None, "Rate exceeded for FilterLogEvents", "throttled"),
            (Some("AccessDeniedException"), "not authorized", "denied"),
            (Some("InvalidParameterException"), "bad token", "api"),
            (None, "connection refused", "api"),
        ];
        for (code, message, want) in cases {
            let got = match classify_error("FilterLogEvents", code, message, 5) {
                ConnectorError::Throttled { attempts: 5, .. } => "throttled",
                ConnectorError::PermissionDenied { .. } => "denied",
                ConnectorError::Api { .. } => "api",
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(got, want, "{code:?} {message}");
        }
    }
}
