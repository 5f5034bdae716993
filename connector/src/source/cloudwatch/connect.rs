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
    /// The assumed role, shown by `describe`.
    pub(super) role: Option<String>,
    pub(super) quota: Arc<ApiQuota>,
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
        check_credentials(&config, options.role.as_ref()).await?;
        let mut source = Self::from_client(Client::new(&config), region, options.quota.clone());
        source.role = options.role.as_ref().map(|r| r.role_arn.clone());
        Ok(source)
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
