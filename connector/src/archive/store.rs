//! The archive's root: a local directory or an S3 bucket and prefix,
//! reached through `object_store` so DataFusion reads the same files the
//! archive writes.
//!
//! S3 credentials come from the standard AWS chain (aws-config: variables,
//! profiles, SSO, web identity, instance roles), the same as the
//! CloudWatch source, rather than object_store's own smaller chain.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_cloudwatchlogs::config::ProvideCredentials;
use datafusion::execution::object_store::ObjectStoreUrl;
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::{CredentialProvider, ObjectStore};
use tokio::sync::Mutex;

use super::lock::LockReader;
use crate::error::{ConnectorError, Result};

/// How to reach an S3 root; unset fields come from the AWS chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// An S3-compatible endpoint (moto, MinIO); path-style requests.
    pub endpoint_url: Option<String>,
    /// Encrypt new objects with this KMS key (SSE-KMS).
    pub sse_kms_key_id: Option<String>,
}

/// An open archive root.
#[derive(Clone)]
pub struct ArchiveRoot {
    store: Arc<dyn ObjectStore>,
    /// S3 roots: reads Object Lock state, which the store does not show.
    locks: Option<LockReader>,
    /// What the root was opened from, for messages.
    uri: String,
    /// The URL DataFusion finds this store under.
    url: ObjectStoreUrl,
}

impl fmt::Debug for ArchiveRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveRoot")
            .field("uri", &self.uri)
            .finish()
    }
}

/// Each open root gets its own store URL (`logflight-archive://aN`).
static OPENED: AtomicUsize = AtomicUsize::new(0);

fn store_url() -> ObjectStoreUrl {
    let n = OPENED.fetch_add(1, Ordering::Relaxed);
    ObjectStoreUrl::parse(format!("logflight-archive://a{n}")).expect("a valid URL")
}

impl ArchiveRoot {
    /// Opens `uri`: `s3://bucket[/prefix]`, `file:///dir` or a directory
    /// path (created when missing).
    pub async fn open(uri: &str, options: &ArchiveOptions) -> Result<Self> {
        crate::crypto::install();
        let (store, locks): (Arc<dyn ObjectStore>, _) = match uri.strip_prefix("s3://") {
            Some(rest) => {
                let (store, locks) = s3(rest, options).await?;
                (store, Some(locks))
            }
            None => {
                let dir = uri.strip_prefix("file://").unwrap_or(uri);
                std::fs::create_dir_all(dir).map_err(|e| {
                    ConnectorError::Config(format!(
                        "cannot create the archive directory {dir}: {e}"
                    ))
                })?;
                let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| {
                    ConnectorError::Config(format!("cannot open the archive directory {dir}: {e}"))
                })?;
                (Arc::new(fs), None)
            }
        };
        Ok(Self {
            store,
            locks,
            uri: uri.to_string(),
            url: store_url(),
        })
    }

    /// A root in memory, for tests.
    pub fn in_memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            locks: None,
            uri: "memory://".into(),
            url: store_url(),
        }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Object Lock state of the root's objects (S3 roots only).
    pub fn locks(&self) -> Option<&LockReader> {
        self.locks.as_ref()
    }

    pub fn url(&self) -> &ObjectStoreUrl {
        &self.url
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// An error of the store, naming the root and what was being done.
    pub fn error(&self, doing: &str, err: &object_store::Error) -> ConnectorError {
        ConnectorError::Archive(format!("{}: cannot {doing}: {err}", self.uri))
    }
}

async fn s3(rest: &str, options: &ArchiveOptions) -> Result<(Arc<dyn ObjectStore>, LockReader)> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(ConnectorError::Config(format!(
            "archive root s3://{rest} names no bucket"
        )));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let chain = config.credentials_provider().ok_or_else(|| {
        ConnectorError::Config("no AWS credentials provider for the archive".into())
    })?;
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_credentials(Arc::new(ChainCredentials::new(chain)));
    let endpoint = options
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    if let Some(endpoint) = endpoint {
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint);
    }
    if let Some(key) = &options.sse_kms_key_id {
        builder = builder.with_sse_kms_encryption(key);
    }
    let s3 = builder
        .build()
        .map_err(|e| ConnectorError::Config(format!("archive root s3://{rest}: {e}")))?;
    let prefix = prefix.trim_matches('/');
    let locks = LockReader::new(Arc::new(s3.clone()), prefix);
    let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
        Arc::new(s3)
    } else {
        Arc::new(PrefixStore::new(s3, prefix))
    };
    Ok((store, locks))
}

/// aws-config's credential chain as object_store's provider, cached until
/// five minutes before the credentials expire (the chain itself does not
/// cache).
struct ChainCredentials {
    chain: aws_credential_types::provider::SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl fmt::Debug for ChainCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainCredentials")
    }
}

impl ChainCredentials {
    fn new(chain: aws_credential_types::provider::SharedCredentialsProvider) -> Self {
        Self {
            chain,
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl CredentialProvider for ChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|at| {
                at.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > Duration::from_secs(300))
            });
            if fresh {
                return Ok(Arc::clone(credential));
            }
        }
        let got =
            self.chain
                .provide_credentials()
                .await
                .map_err(|e| object_store::Error::Generic {
                    store: "S3",
                    source: Box::new(e),
                })?;
        let credential = Arc::new(AwsCredential {
            key_id: got.access_key_id().to_string(),
            secret_key: got.secret_access_key().to_string(),
            token: got.session_token().map(str::to_string),
        });
        *cached = Some((Arc::clone(&credential), got.expiry()));
        Ok(credential)
    }
}
