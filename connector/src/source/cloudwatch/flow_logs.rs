//! The log format of the VPC flow log delivering to a group, from EC2
//! DescribeFlowLogs.
//!
//! A flow log with a custom format writes records whose fields only that
//! format names, so without it `flow_log_records` would refuse every row.
//! aws-sdk-ec2 would cost CI minutes of build for one call, so the EC2
//! Query API request is built, signed (SigV4, with the source's own
//! credentials or assumed role) and parsed here. The encoding and the
//! parsing are pure and tested without a server.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use quick_xml::events::Event;
use quick_xml::Reader;
use tokio::sync::Mutex;
use tracing::debug;

use super::connect::CloudWatchSource;
use super::errors::{cannot_connect, retry_class_of};
use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::quota::{Api, CallFailure, RetryClass, Retryable};

const API: &str = "DescribeFlowLogs";
const EC2_VERSION: &str = "2016-11-15";
/// Codes with which EC2 says this principal may not describe flow logs.
const NOT_ALLOWED: [&str; 4] = [
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
];
/// A hung endpoint would otherwise hold the catalog lookup (and the query) forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Credentials are renewed this long before they expire, so a request
/// signed with them is not refused in flight.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// What calling EC2 needs besides the region: where, how, and as whom.
#[derive(Debug, Clone)]
pub struct Ec2Endpoint {
    url: String,
    http: reqwest::Client,
    /// The SDK config's (the assumed role's when one is set); `None` when
    /// the source was built from a bare client, which cannot sign for EC2.
    provider: Option<SharedCredentialsProvider>,
    /// The credentials last used: the provider of an assumed role asks STS
    /// on every call, and one lookup may take several pages.
    credentials: Arc<Mutex<Option<Credentials>>>,
}

impl Ec2Endpoint {
    /// EC2's endpoint in `region`, or `endpoint_url` when one is configured
    /// (an emulator such as moto serves every service on one port).
    pub fn new(
        region: &str,
        endpoint_url: Option<&str>,
        provider: Option<SharedCredentialsProvider>,
    ) -> Self {
        let url = match endpoint_url {
            Some(url) => format!("{}/", url.trim_end_matches('/')),
            None if region.starts_with("cn-") => format!("https://ec2.{region}.amazonaws.com.cn/"),
            None => format!("https://ec2.{region}.amazonaws.com/"),
        };
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            url,
            http,
            provider,
            credentials: Arc::new(Mutex::new(None)),
        }
    }
}

/// One flow log as DescribeFlowLogs lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowLog {
    pub id: String,
    pub log_group_name: Option<String>,
    pub log_format: Option<String>,
}

/// One page of a DescribeFlowLogs answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowLogPage {
    pub flow_logs: Vec<FlowLog>,
    pub next_token: Option<String>,
}

/// Why one DescribeFlowLogs request failed.
#[derive(Debug)]
enum Ec2Failure {
    Credentials(String),
    Sign(String),
    Http(reqwest::Error),
    /// EC2 answered with an error document (or an unreadable one).
    Refused {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
}

impl Retryable for Ec2Failure {
    fn retry_class(&self) -> RetryClass {
        match self {
            Ec2Failure::Credentials(_) | Ec2Failure::Sign(_) => RetryClass::Fatal,
            // As for CloudWatch: nothing listening stays so; a drop is retried.
            Ec2Failure::Http(e) if cannot_connect(e) => RetryClass::Fatal,
            Ec2Failure::Http(_) => RetryClass::Transient,
            Ec2Failure::Refused {
                status,
                code,
                message,
            } => retry_class_of(code.as_deref(), message.as_deref(), Some(*status)),
        }
    }
}

impl std::fmt::Display for Ec2Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ec2Failure::Credentials(e) => write!(f, "no credentials to sign with: {e}"),
            Ec2Failure::Sign(e) => write!(f, "cannot sign the request: {e}"),
            Ec2Failure::Http(e) => {
                write!(f, "{e}")?;
                let mut cause = std::error::Error::source(e);
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                Ok(())
            }
            Ec2Failure::Refused {
                status,
                code,
                message,
            } => match (code, message) {
                (Some(code), Some(message)) => write!(f, "{code}: {message}"),
                (Some(code), None) => write!(f, "{code}"),
                _ => write!(f, "HTTP {status}"),
            },
        }
    }
}

impl CloudWatchSource {
    /// The format of the flow logs delivering to `group`; see
    /// [`crate::source::LogSource::flow_log_format`].
    pub(super) async fn flow_log_format_of(&self, group: &str) -> Result<Option<String>> {
        if self.ec2.provider.is_none() {
            debug!(
                group,
                "no credentials to ask EC2 with; assuming the default flow log format"
            );
            return Ok(None);
        }
        let mut flow_logs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let body = describe_flow_logs_body(group, token.as_deref());
            let result = self
                .quota
                .call(Api::DescribeFlowLogs, &ReadCounters::default(), || {
                    self.post_ec2(&body)
                })
                .await;
            let text = match result {
                Ok(text) => text,
                Err(failure) => return lookup_failed(group, &self.ec2.url, failure),
            };
            let page = parse_flow_logs(&text).map_err(|e| ConnectorError::Ec2 {
                api: API,
                message: format!("unreadable answer from {}: {e}", self.ec2.url),
            })?;
            flow_logs.extend(page.flow_logs);
            match page.next_token {
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                _ => break,
            }
        }
        let format = format_for_group(group, &flow_logs)?;
        debug!(
            group,
            flow_logs = flow_logs.len(),
            ?format,
            "flow log format"
        );
        Ok(format)
    }

    /// One signed POST of a Query API form; the answer's text when EC2 says 200.
    async fn post_ec2(&self, body: &str) -> std::result::Result<String, Ec2Failure> {
        let credentials = self.credentials().await?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Ec2Failure::Sign(e.to_string()))?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let signable = SignableRequest::new(
            "POST",
            self.ec2.url.as_str(),
            [("content-type", content_type)].into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| Ec2Failure::Sign(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| Ec2Failure::Sign(e.to_string()))?
            .into_parts();
        let mut request = self
            .ec2
            .http
            .post(&self.ec2.url)
            .header("content-type", content_type)
            .body(body.to_string());
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(Ec2Failure::Http)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(Ec2Failure::Http)?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let (code, message) = parse_error(&text).unwrap_or_default();
        Err(Ec2Failure::Refused {
            status,
            code,
            message,
        })
    }

    /// The source's credentials (the assumed role's when one is set),
    /// reused until shortly before they expire.
    async fn credentials(&self) -> std::result::Result<Credentials, Ec2Failure> {
        let mut held = self.ec2.credentials.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|at| at > SystemTime::now() + CREDENTIALS_MARGIN)
        };
        if let Some(c) = held.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let provider = self.ec2.provider.as_ref().ok_or_else(|| {
            Ec2Failure::Credentials("no credentials provider is configured".into())
        })?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| Ec2Failure::Credentials(e.to_string()))?;
        *held = Some(credentials.clone());
        Ok(credentials)
    }
}

/// What a failed lookup means: no permission is no answer (the default
/// format is assumed), anything else an error.
fn lookup_failed(
    group: &str,
    url: &str,
    failure: CallFailure<Ec2Failure>,
) -> Result<Option<String>> {
    if let Ec2Failure::Refused {
        code: Some(code), ..
    } = &failure.error
    {
        if NOT_ALLOWED.contains(&code.as_str()) {
            debug!(group, error = %failure.error, "may not describe flow logs; assuming the default format");
            return Ok(None);
        }
    }
    let message = match failure.class {
        RetryClass::Throttled => format!(
            "kept throttling past the retry budget ({} attempts): {}",
            failure.attempts, failure.error
        ),
        RetryClass::Transient => format!(
            "still failing after {} attempts: {}",
            failure.attempts, failure.error
        ),
        RetryClass::Fatal => failure.error.to_string(),
    };
    Err(ConnectorError::Ec2 {
        api: API,
        message: format!("looking up the flow log format of {group:?} at {url}: {message}"),
    })
}

/// The form of a DescribeFlowLogs request for the flow logs delivering to `group`.
pub fn describe_flow_logs_body(group: &str, token: Option<&str>) -> String {
    let mut pairs = vec![
        ("Action", API),
        ("Version", EC2_VERSION),
        ("Filter.1.Name", "log-group-name"),
        ("Filter.1.Value.1", group),
    ];
    if let Some(token) = token {
        pairs.push(("NextToken", token));
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters, which
/// every form decoder reads back unchanged (a group name may hold `/`, `#`,
/// `+` and spaces).
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The one format the flow logs delivering to `group` write, if any do.
/// Flow logs of other groups are left out: the filter is the server's,
/// and an emulator may apply it loosely.
pub fn format_for_group(group: &str, flow_logs: &[FlowLog]) -> Result<Option<String>> {
    let mine: Vec<&FlowLog> = flow_logs
        .iter()
        .filter(|f| f.log_group_name.as_deref().is_none_or(|g| g == group))
        .collect();
    // A flow log listed without a format writes the default one.
    let format_of = |f: &FlowLog| f.log_format.clone().filter(|s| !s.trim().is_empty());
    let Some(first) = mine.first() else {
        return Ok(None);
    };
    let format = format_of(first);
    if mine.iter().all(|f| format_of(f) == format) {
        return Ok(format);
    }
    let listed: Vec<String> = mine
        .iter()
        .map(|f| {
            let format = format_of(f);
            format!(
                "{} ({})",
                f.id,
                format.as_deref().unwrap_or("the default format")
            )
        })
        .collect();
    Err(ConnectorError::Config(format!(
        "the flow logs delivering to {group:?} write different formats, so its records cannot be read as one table: {}; deliver them to separate groups, or set flow_log_format in a [[typed_tables]] rule",
        listed.join(", ")
    )))
}

/// The text of every element, with the names of the elements it is in
/// (outermost first), in document order.
fn leaves(xml: &str) -> std::result::Result<Vec<(Vec<String>, String)>, String> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    let bad = |e: &dyn std::fmt::Display| format!("malformed XML: {e}");
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let mut inner = path.clone();
                inner.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                out.push((inner, String::new()));
            }
            Event::Text(t) => text.push_str(&t.xml_content().map_err(|e| bad(&e))?),
            Event::CData(t) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
            Event::GeneralRef(r) => {
                let resolved: Cow<str> = match r.resolve_char_ref().map_err(|e| bad(&e))? {
                    Some(c) => c.to_string().into(),
                    None => {
                        let name = r.decode().map_err(|e| bad(&e))?;
                        quick_xml::escape::resolve_xml_entity(&name)
                            .ok_or_else(|| format!("malformed XML: unknown entity &{name};"))?
                            .into()
                    }
                };
                text.push_str(&resolved);
            }
            Event::End(_) => {
                if path.is_empty() {
                    return Err("malformed XML: a closing tag without its opening".into());
                }
                out.push((path.clone(), std::mem::take(&mut text)));
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(format!(
            "malformed XML: <{}> is not closed",
            path.join("><")
        ));
    }
    if out.is_empty() {
        return Err("not an XML document".into());
    }
    Ok(out)
}

/// The flow logs and next-page token of a DescribeFlowLogs answer.
pub fn parse_flow_logs(xml: &str) -> std::result::Result<FlowLogPage, String> {
    let leaves = leaves(xml)?;
    let root = leaves.last().map(|(p, _)| p[0].as_str()).unwrap_or("");
    if root != "DescribeFlowLogsResponse" {
        return Err(match parse_error(xml) {
            Some((Some(code), message)) => {
                format!("an error answer: {code}: {}", message.unwrap_or_default())
            }
            _ => format!("expected a DescribeFlowLogsResponse, got <{root}>"),
        });
    }
    let mut page = FlowLogPage::default();
    // An item's fields end before the item does.
    let mut current = FlowLog::default();
    for (path, text) in leaves {
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        match names.as_slice() {
            [_, "nextToken"] if !text.is_empty() => page.next_token = Some(text),
            [_, "flowLogSet", "item"] => page.flow_logs.push(std::mem::take(&mut current)),
            [_, "flowLogSet", "item", "flowLogId"] => current.id = text,
            [_, "flowLogSet", "item", "logGroupName"] => current.log_group_name = Some(text),
            [_, "flowLogSet", "item", "logFormat"] => current.log_format = Some(text),
            _ => {}
        }
    }
    Ok(page)
}

/// The code and message of an EC2 error document
/// (`<Response><Errors><Error><Code>…`), if it is one.
pub fn parse_error(xml: &str) -> Option<(Option<String>, Option<String>)> {
    let leaves = leaves(xml).ok()?;
    let mut code = None;
    let mut message = None;
    for (path, text) in leaves {
        match path
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [.., "Error", "Code"] => code = Some(text),
            [.., "Error", "Message"] => message = Some(text),
            _ => {}
        }
    }
    (code.is_some() || message.is_some()).then_some((code, message))
}

#[cfg(test)]
mod tests;
