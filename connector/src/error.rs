//! The connector's one error type.
//!
//! Each variant says *why* a query cannot be answered, so that the Flight
//! server can map it once to a gRPC code and the user sees a message naming
//! the cause (a missing group, an ambiguous name, throttling past the retry
//! budget) rather than a generic failure or, worse, a partial result.

use datafusion::error::DataFusionError;

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Clone, so the server recovers a connector error from inside DataFusion's
/// (shared, borrowed) error chain by value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    #[error("log group {name:?} not found{hint}")]
    GroupNotFound { name: String, hint: String },

    #[error("log stream {stream:?} not found in log group {group:?}{hint}")]
    StreamNotFound {
        group: String,
        stream: String,
        hint: String,
    },

    #[error("{kind} name {name:?} is ambiguous: it matches {} without regard to case; quote the exact name", candidates.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", "))]
    AmbiguousName {
        kind: &'static str,
        name: String,
        candidates: Vec<String>,
    },

    #[error("permission denied by CloudWatch Logs on {api}: {message}")]
    PermissionDenied { api: &'static str, message: String },

    #[error("CloudWatch Logs {api} kept throttling past the retry budget ({attempts} attempts): {message}")]
    Throttled {
        api: &'static str,
        attempts: u32,
        message: String,
    },

    #[error("CloudWatch Logs {api} failed: {message}")]
    Api { api: &'static str, message: String },

    /// A call to EC2 (DescribeFlowLogs, for a flow log's format) failed.
    #[error("EC2 {api} failed: {message}")]
    Ec2 { api: &'static str, message: String },

    #[error("Logs Insights query {id} ended with status {status}{detail}")]
    InsightsEnded {
        id: String,
        status: String,
        detail: String,
    },

    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// Refused by logflight's own access rules (not by AWS).
    #[error("access denied: {0}")]
    AccessDenied(String),

    /// The archive's store failed, or holds something it should not.
    #[error("archive: {0}")]
    Archive(String),

    #[error("AWS configuration: {0}")]
    Config(String),

    /// An event of a typed table's group that is not a record of its
    /// format: answering without it would be a silent loss.
    #[error("{0}")]
    UnreadableRecord(String),

    /// A node of the cluster that was running part of the query failed or
    /// could not be reached: the query stops rather than return the rows
    /// the other nodes read.
    #[error("cluster node {node} failed while running part of this query: {message}")]
    NodeFailed { node: String, message: String },
}

impl ConnectorError {
    /// A "log group not found" that also says where it was looked for
    /// (`in catalog "prod" (cloudwatch(eu-west-1))`): a group that exists
    /// in another region or account is the usual reason, and the message
    /// alone should show it. Other errors are returned unchanged.
    pub fn searched_in(self, place: &str) -> Self {
        match self {
            ConnectorError::GroupNotFound { name, hint } if !hint.starts_with(" in ") => {
                ConnectorError::GroupNotFound {
                    name,
                    hint: format!(" in {place}{hint}"),
                }
            }
            other => other,
        }
    }

    /// Wraps the error for DataFusion while keeping it recoverable by
    /// downcasting, so the server can still choose the right gRPC code.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }

    /// Finds a connector error inside a DataFusion error chain, if any.
    /// The connector error inside a DataFusion error chain, including one
    /// that came back from another node of a cluster (see
    /// [`crate::cluster::wire`]).
    pub fn find_in(err: &DataFusionError) -> Option<ConnectorError> {
        let mut current: &(dyn std::error::Error + 'static) = err;
        loop {
            if let Some(found) = current.downcast_ref::<ConnectorError>() {
                return Some(found.clone());
            }
            if let Some(DataFusionError::External(inner)) =
                current.downcast_ref::<DataFusionError>()
            {
                current = inner.as_ref();
                continue;
            }
            if let Some(DataFusionError::Context(text, inner)) =
                current.downcast_ref::<DataFusionError>()
            {
                if let Some(found) = crate::cluster::wire::from_context(text) {
                    return Some(found);
                }
                current = inner.as_ref();
                continue;
            }
            if let Some(DataFusionError::Shared(inner)) = current.downcast_ref::<DataFusionError>()
            {
                current = inner.as_ref();
                continue;
            }
            current = current.source()?;
        }
    }
}

impl From<ConnectorError> for DataFusionError {
    fn from(err: ConnectorError) -> Self {
        err.into_datafusion()
    }
}
