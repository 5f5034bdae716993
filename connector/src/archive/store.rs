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
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{CredentialProvider, ObjectStore, ObjectStoreExt};
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
    /// Local roots: publishes parts with a hard link of our own.
    local: Option<Arc<LocalFileSystem>>,
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

/// A root's store URL (`logflight-archive://a<hash>`), from what it was
/// opened from: the same on every node of a cluster, whose plans name
/// the store by this URL, and different for different roots.
fn store_url(uri: &str) -> ObjectStoreUrl {
    use std::hash::Hasher;
    let mut h = twox_hash::XxHash64::with_seed(0);
    h.write(uri.as_bytes());
    ObjectStoreUrl::parse(format!("logflight-archive://a{:016x}", h.finish())).expect("a valid URL")
}

impl ArchiveRoot {
    /// Opens `uri`: `s3://bucket[/prefix]`, `file:///dir` or a directory
    /// path (created when missing).
    pub async fn open(uri: &str, options: &ArchiveOptions) -> Result<Self> {
        crate::crypto::install();
        let (store, locks, local): (Arc<dyn ObjectStore>, _, _) = match uri.strip_prefix("s3://") {
            Some(rest) => {
                let (store, locks) = s3(rest, options).await?;
                (store, Some(locks), None)
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
                let fs = Arc::new(fs);
                (Arc::clone(&fs) as Arc<dyn ObjectStore>, None, Some(fs))
            }
        };
        Ok(Self {
            store,
            locks,
            local,
            uri: uri.to_string(),
            url: store_url(uri),
        })
    }

    /// A root in memory, for tests.
    pub fn in_memory() -> Self {
        // Each in-memory root is a store of its own.
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        Self {
            store: Arc::new(InMemory::new()),
            locks: None,
            local: None,
            uri: "memory://".into(),
            url: store_url(&format!("memory://{n}")),
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

    /// Puts a staged part at its final path, whole or not at all.
    ///
    /// On S3 a copy is one server-side request. object_store's local copy
    /// links the file to `<final>#<n>` beside the final path and then
    /// renames it, so a run killed between the two leaves a whole second
    /// copy of the part in the data folder, which Athena, Spark and
    /// pyarrow (reading every file not named `_*` or `.*`) count twice.
    /// A hard link straight to the final name has no such middle state.
    pub async fn publish(&self, staged: &ObjectPath, final_path: &ObjectPath) -> Result<()> {
        let Some(fs) = &self.local else {
            return self
                .store
                .copy(staged, final_path)
                .await
                .map_err(|e| self.error("publish a part", &e));
        };
        let from = fs
            .path_to_filesystem(staged)
            .map_err(|e| self.error("publish a part", &e))?;
        let to = fs
            .path_to_filesystem(final_path)
            .map_err(|e| self.error("publish a part", &e))?;
        let uri = self.uri.clone();
        tokio::task::spawn_blocking(move || link_whole(&from, &to))
            .await
            .map_err(|e| ConnectorError::Archive(format!("{uri}: publish a part: {e}")))?
            .map_err(|e| ConnectorError::Archive(format!("{uri}: cannot publish a part: {e}")))
    }

    /// An error of the store, naming the root and what was being done.
    pub fn error(&self, doing: &str, err: &object_store::Error) -> ConnectorError {
        ConnectorError::Archive(format!("{}: cannot {doing}: {err}", self.uri))
    }
}

/// Links `from` at `to` (an existing `to` is this part, published by an
/// earlier attempt), or where links are not supported, copies it to a
/// hidden name in the same folder and renames that. Also removes the
/// `part-*#<n>` files object_store's copy left in the folder when a run
/// of an earlier logflight was killed mid-copy.
fn link_whole(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    let dir = to.parent().expect("a part path has a folder");
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("part-") && name.contains(".parquet#") {
            let _ = std::fs::remove_file(dir.join(&*name));
        }
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => {
            let file = to.file_name().expect("a part path has a name");
            let hidden = dir.join(format!(
                ".{}.{}.tmp",
                file.to_string_lossy(),
                std::process::id()
            ));
            let copied = std::fs::copy(from, &hidden).and_then(|_| std::fs::rename(&hidden, to));
            if copied.is_err() {
                let _ = std::fs::remove_file(&hidden);
            }
            copied
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn a_local_publish_leaves_one_whole_file_and_sweeps_killed_copies() {
        let dir = std::env::temp_dir().join(format!(
            "logflight-publish-test-{}-{}",
            std::process::id(),
            now_nanos()
        ));
        let root = ArchiveRoot::open(dir.to_str().unwrap(), &ArchiveOptions::default())
            .await
            .unwrap();
        let staged = ObjectPath::from("_logflight/staging/r/day.parquet");
        let final_path = ObjectPath::from("catalog=c/log_group=g/day=2026-12-01/part-r.parquet");
        root.store()
            .put(&staged, Bytes::from_static(b"PAR1 whole part").into())
            .await
            .unwrap();
        // What object_store's copy leaves when killed between link and rename.
        let folder = dir.join("catalog=c/log_group=g/day=2026-12-01");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("part-old.parquet#0"), b"PAR1 whole part").unwrap();
        root.publish(&staged, &final_path).await.unwrap();
        // Again (a resumed run publishing what a stopped one committed).
        root.publish(&staged, &final_path).await.unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["part-r.parquet"]);
        let got = root.store().get(&final_path).await.unwrap().bytes().await;
        assert_eq!(got.unwrap().as_ref(), b"PAR1 whole part");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn now_nanos() -> u128 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
}
