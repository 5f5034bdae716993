//! Reaching CloudWatch Logs: the options, the role to assume, and the checks
//! at start-up that a region and credentials can be found, so that a
//! misconfigured server fails at once saying what is missing instead of on
//! its first query.

use std::sync::Arc;
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::SharedCredentialsProvider;
use aws_sdk_cloudwatchlogs::config::{ProvideCredentials, Region};
use aws_sdk_cloudwatchlogs::error::DisplayErrorContext;
use aws_sdk_cloudwatchlogs::Client;

use super::errors::causes;
use super::flow_logs::Ec2Endpoint;
use super::regions::{check_region, RegionCheck};
use crate::error::{ConnectorError, Result};
use crate::quota::{ApiQuota, QuotaConfig};

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
    pub(super) client: Client,
    pub(super) region: String,
    /// The endpoint calls go to, named when it cannot be reached.
    pub(super) endpoint: String,
    /// The assumed role, shown by `describe`.
    pub(super) role: Option<String>,
    pub(super) quota: Arc<ApiQuota>,
    /// Where DescribeFlowLogs goes, for the format of a flow log group.
    pub(super) ec2: Ec2Endpoint,
}

impl CloudWatchSource {
    /// Builds a client from the standard chain plus explicit options, and
    /// checks up front that a region and credentials can be found.
    pub async fn connect(options: &CloudWatchOptions) -> Result<Self> {
        crate::crypto::install();
        let config = load_config(options).await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| {
                ConnectorError::Config(
                    "no AWS region found: pass --region, set AWS_REGION, or set a region in your AWS profile".into(),
                )
            })?;
        check_region_name(&region, options.region.is_some())?;
        if let Some(url) = config.endpoint_url() {
            check_endpoint(url).await?;
        }
        check_credentials(&config, options.role.as_ref()).await?;
        let mut source = Self::from_client(Client::new(&config), region, options.quota.clone());
        source.role = options.role.as_ref().map(|r| r.role_arn.clone());
        if let Some(url) = config.endpoint_url() {
            source.endpoint = url.to_string();
        }
        source.ec2 = Ec2Endpoint::new(
            &source.region,
            config.endpoint_url(),
            config.credentials_provider(),
        );
        Ok(source)
    }

    /// Builds a source from an already configured SDK client (tests,
    /// embedding). The client does not give its credentials away, so this
    /// source cannot ask EC2 for flow log formats and assumes the default.
    pub fn from_client(client: Client, region: impl Into<String>, quota: QuotaConfig) -> Self {
        let region = region.into();
        let endpoint = format!("https://logs.{region}.amazonaws.com");
        Self {
            client,
            endpoint,
            ec2: Ec2Endpoint::new(&region, None, None),
            region,
            role: None,
            quota: Arc::new(ApiQuota::new(quota)),
        }
    }
}

/// The standard chain with the options on top, as the assumed role if any.
async fn load_config(options: &CloudWatchOptions) -> SdkConfig {
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
    let config = loader.load().await;
    let Some(role) = &options.role else {
        return config;
    };
    let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(role.session_name.clone())
        .configure(&config);
    if let Some(id) = &role.external_id {
        builder = builder.external_id(id.clone());
    }
    let provider = builder.build().await;
    config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// How long the start-up check waits for a TCP connection to the endpoint.
const ENDPOINT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Refuses a region name that is not shaped like one (`us-eest-1`) and
/// warns about one that is shaped like one but unknown to this build (a
/// newer region works; a typo would fail every call), naming the nearest
/// known region either way. `flag` says the name came from `--region`
/// rather than `AWS_REGION` or the profile.
fn check_region_name(region: &str, flag: bool) -> Result<()> {
    let setting = if flag {
        "--region"
    } else {
        "the region (from AWS_REGION or the AWS profile)"
    };
    match check_region(region) {
        RegionCheck::Known => Ok(()),
        RegionCheck::Unknown { nearest } => {
            tracing::warn!(
                region,
                nearest,
                "{setting} {region:?} is not a region this build knows; using it (if it is a typo, did you mean {nearest:?}?)"
            );
            Ok(())
        }
        RegionCheck::Malformed { nearest } => Err(ConnectorError::Config(format!(
            "{setting} {region:?} is not an AWS region name (regions look like us-east-1); did you mean {nearest:?}?"
        ))),
    }
}

/// The host and port of an endpoint URL, or what is wrong with it. Pure.
fn endpoint_host_port(url: &str) -> std::result::Result<(String, u16), String> {
    let (rest, default_port) = if let Some(rest) = url.strip_prefix("http://") {
        (rest, 80)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (rest, 443)
    } else if url.contains("://") {
        return Err("has a scheme other than http:// or https://".into());
    } else {
        return Err(format!("has no scheme: write http://{url} (or https://)"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.strip_prefix('[') {
        // [::1]:4566
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => (host, Some(port.strip_prefix(':').unwrap_or(port))),
            None => return Err("has an unclosed [ in its host".into()),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("has an invalid port {p:?}"))?,
    };
    Ok((host.to_string(), port))
}

/// Checks an explicit endpoint URL at start-up: it parses, and something
/// accepts a TCP connection there within a few seconds, so a typo or an
/// emulator that is not running is one line now rather than a failed
/// first query after every retry.
async fn check_endpoint(url: &str) -> Result<()> {
    let setting = "--endpoint-url (or AWS_ENDPOINT_URL)";
    let (host, port) = endpoint_host_port(url)
        .map_err(|why| ConnectorError::Config(format!("{setting} {url:?} {why}")))?;
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(ENDPOINT_CONNECT_TIMEOUT, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ConnectorError::Config(format!(
            "cannot connect to {setting} {url}: {e}; start the endpoint or fix the URL"
        ))),
        Err(_) => Err(ConnectorError::Config(format!(
            "cannot connect to {setting} {url}: no answer within {} s; start the endpoint or fix the URL",
            ENDPOINT_CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Asks the chain for credentials once, with a deadline, so that a missing
/// or refused identity is an error at start-up.
async fn check_credentials(config: &SdkConfig, role: Option<&AssumeRole>) -> Result<()> {
    let provider = config.credentials_provider().ok_or_else(|| {
        ConnectorError::Config("no AWS credentials provider is configured".into())
    })?;
    match tokio::time::timeout(Duration::from_secs(15), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) if role.is_some() => {
            let role = role.map(|r| r.role_arn.as_str());
            Err(ConnectorError::Config(format!(
                "cannot assume role {}: {}",
                role.unwrap_or_default(),
                causes(&err)
            )))
        }
        Ok(Err(err)) => {
            tracing::debug!(error = %DisplayErrorContext(&err), "credential chain failed");
            Err(ConnectorError::Config(format!(
                "no AWS credentials found ({err}); configure credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, or an instance role), or run with --source demo to try logflight on its built-in sample logs"
            )))
        }
        Err(_) => Err(ConnectorError::Config(
            "timed out looking for AWS credentials; configure credentials or run with --source demo".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_parsed() {
        type Want = std::result::Result<(String, u16), &'static str>;
        let ok = |h: &str, p: u16| Ok((h.to_string(), p));
        let cases: [(&str, Want); 10] = [
            ("http://127.0.0.1:5000", ok("127.0.0.1", 5000)),
            ("http://localhost:4566/", ok("localhost", 4566)),
            (
                "https://logs.eu-west-1.amazonaws.com",
                ok("logs.eu-west-1.amazonaws.com", 443),
            ),
            ("http://moto", ok("moto", 80)),
            ("http://[::1]:5000/x", ok("::1", 5000)),
            ("localhost:5000", Err("has no scheme")),
            ("127.0.0.1:5000", Err("has no scheme")),
            ("ftp://x", Err("other than http")),
            ("http://", Err("has no host")),
            ("http://host:port", Err("invalid port")),
        ];
        for (url, want) in cases {
            match (endpoint_host_port(url), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{url}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{url}: {got}"),
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[tokio::test]
    async fn nothing_listening_fails_at_once() {
        // A port just freed: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = std::time::Instant::now();
        let err = check_endpoint(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--endpoint-url") && err.contains("cannot connect"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn malformed_regions_are_refused_and_new_ones_warned() {
        let err = check_region_name("us-eest-1", true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--region \"us-eest-1\"") && err.contains("\"us-east-1\""),
            "{err}"
        );
        assert!(check_region_name("eu-west-9", true).is_ok());
        assert!(check_region_name("eu-west-1", false).is_ok());
    }
}
