//! The server's one error type, and the single mapping to gRPC status codes.
//!
//! User mistakes (bad SQL, unknown names, refused statements) map to
//! InvalidArgument / NotFound, upstream limits to ResourceExhausted, missing
//! rights to PermissionDenied; Internal is kept for real bugs.

use datafusion::error::DataFusionError;
use logflight_connector::ConnectorError;
use tonic::{Code, Status};

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),

    #[error(transparent)]
    Query(DataFusionError),

    #[error("logflight is read-only: {0} is refused (only queries, EXPLAIN and SHOW are allowed)")]
    ReadOnly(String),

    #[error("invalid ticket or handle: {0}")]
    InvalidTicket(String),

    #[error("invalid parameters: {0}")]
    InvalidParameters(String),

    #[error("not supported: {0}")]
    Unsupported(String),

    /// A per-query or server limit was reached (rows, memory, queue).
    #[error("limit reached: {0}")]
    Limit(String),

    #[error("query timed out: {0}")]
    Timeout(String),

    #[error("configuration: {0}")]
    Config(String),

    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DataFusionError> for ServerError {
    /// A connector error travelling inside DataFusion comes back out as
    /// itself, so it keeps its own code and message.
    fn from(err: DataFusionError) -> Self {
        match ConnectorError::find_in(&err) {
            Some(inner) => ServerError::Connector(clone_connector_error(inner)),
            None => ServerError::Query(err),
        }
    }
}

impl From<arrow::error::ArrowError> for ServerError {
    fn from(err: arrow::error::ArrowError) -> Self {
        DataFusionError::from(err).into()
    }
}

impl From<arrow_flight::error::FlightError> for ServerError {
    fn from(err: arrow_flight::error::FlightError) -> Self {
        ServerError::Internal(err.to_string())
    }
}

/// ConnectorError is not Clone (it may grow sources); rebuild it from its parts.
fn clone_connector_error(err: &ConnectorError) -> ConnectorError {
    match err {
        ConnectorError::GroupNotFound { name, hint } => ConnectorError::GroupNotFound {
            name: name.clone(),
            hint: hint.clone(),
        },
        ConnectorError::StreamNotFound {
            group,
            stream,
            hint,
        } => ConnectorError::StreamNotFound {
            group: group.clone(),
            stream: stream.clone(),
            hint: hint.clone(),
        },
        ConnectorError::AmbiguousName {
            kind,
            name,
            candidates,
        } => ConnectorError::AmbiguousName {
            kind,
            name: name.clone(),
            candidates: candidates.clone(),
        },
        ConnectorError::PermissionDenied { api, message } => ConnectorError::PermissionDenied {
            api,
            message: message.clone(),
        },
        ConnectorError::Throttled {
            api,
            attempts,
            message,
        } => ConnectorError::Throttled {
            api,
            attempts: *attempts,
            message: message.clone(),
        },
        ConnectorError::Api { api, message } => ConnectorError::Api {
            api,
            message: message.clone(),
        },
        ConnectorError::InsightsEnded { id, status, detail } => ConnectorError::InsightsEnded {
            id: id.clone(),
            status: status.clone(),
            detail: detail.clone(),
        },
        ConnectorError::InvalidRequest(m) => ConnectorError::InvalidRequest(m.clone()),
        ConnectorError::AccessDenied(m) => ConnectorError::AccessDenied(m.clone()),
        ConnectorError::Config(m) => ConnectorError::Config(m.clone()),
    }
}

impl ServerError {
    pub fn code(&self) -> Code {
        match self {
            ServerError::Connector(c) => match c {
                ConnectorError::GroupNotFound { .. } | ConnectorError::StreamNotFound { .. } => {
                    Code::NotFound
                }
                ConnectorError::AmbiguousName { .. } | ConnectorError::InvalidRequest(_) => {
                    Code::InvalidArgument
                }
                ConnectorError::PermissionDenied { .. } | ConnectorError::AccessDenied(_) => {
                    Code::PermissionDenied
                }
                ConnectorError::Throttled { .. } => Code::ResourceExhausted,
                ConnectorError::Api { .. } => Code::Unavailable,
                ConnectorError::InsightsEnded { .. } => Code::Aborted,
                ConnectorError::Config(_) => Code::FailedPrecondition,
            },
            ServerError::Query(e) => datafusion_code(e),
            ServerError::ReadOnly(_) => Code::PermissionDenied,
            ServerError::InvalidTicket(_) | ServerError::InvalidParameters(_) => {
                Code::InvalidArgument
            }
            ServerError::Unsupported(_) => Code::Unimplemented,
            ServerError::Limit(_) => Code::ResourceExhausted,
            ServerError::Timeout(_) => Code::DeadlineExceeded,
            ServerError::Config(_) => Code::FailedPrecondition,
            ServerError::Internal(_) => Code::Internal,
        }
    }
}

fn datafusion_code(err: &DataFusionError) -> Code {
    match err {
        DataFusionError::Context(_, inner) => datafusion_code(inner),
        DataFusionError::Shared(inner) => datafusion_code(inner),
        DataFusionError::Diagnostic(_, inner) => datafusion_code(inner),
        DataFusionError::Collection(errs) => errs.first().map_or(Code::Internal, datafusion_code),
        DataFusionError::External(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(inner) => datafusion_code(inner),
            None => Code::Internal,
        },
        DataFusionError::Plan(msg) if msg.contains("not found") => Code::NotFound,
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::Configuration(_)
        | DataFusionError::Execution(_)
        | DataFusionError::ArrowError(..) => Code::InvalidArgument,
        DataFusionError::NotImplemented(_) => Code::Unimplemented,
        DataFusionError::ResourcesExhausted(_) => Code::ResourceExhausted,
        _ => Code::Internal,
    }
}

impl From<ServerError> for Status {
    fn from(err: ServerError) -> Self {
        let code = err.code();
        let message = match &err {
            ServerError::Query(e) => e.strip_backtrace(),
            other => other.to_string(),
        };
        if code == Code::Internal {
            tracing::error!(error = %message, "internal error");
        }
        Status::new(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_grpc_codes() {
        let cases: Vec<(ServerError, Code)> = vec![
            (
                ConnectorError::GroupNotFound {
                    name: "/x".into(),
                    hint: String::new(),
                }
                .into(),
                Code::NotFound,
            ),
            (
                DataFusionError::External(Box::new(ConnectorError::StreamNotFound {
                    group: "/x".into(),
                    stream: "s".into(),
                    hint: String::new(),
                }))
                .into(),
                Code::NotFound,
            ),
            (
                DataFusionError::Context(
                    "while planning".into(),
                    Box::new(
                        ConnectorError::AmbiguousName {
                            kind: "log stream",
                            name: "w".into(),
                            candidates: vec!["W".into(), "w".into()],
                        }
                        .into_datafusion(),
                    ),
                )
                .into(),
                Code::InvalidArgument,
            ),
            (
                ConnectorError::Throttled {
                    api: "FilterLogEvents",
                    attempts: 3,
                    message: "Rate exceeded".into(),
                }
                .into(),
                Code::ResourceExhausted,
            ),
            (
                DataFusionError::Plan("table 'a.b.c' not found".into()).into(),
                Code::NotFound,
            ),
            (
                DataFusionError::Plan("Invalid function 'nope'".into()).into(),
                Code::InvalidArgument,
            ),
            (
                DataFusionError::Internal("bug".into()).into(),
                Code::Internal,
            ),
            (ServerError::ReadOnly("COPY".into()), Code::PermissionDenied),
            (
                ServerError::InvalidTicket("garbage".into()),
                Code::InvalidArgument,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err}");
        }
    }

    #[test]
    fn connector_messages_survive_the_trip_through_datafusion() {
        let err: ServerError = ConnectorError::GroupNotFound {
            name: "/nope".into(),
            hint: "; did you mean \"/nope2\"?".into(),
        }
        .into_datafusion()
        .into();
        let status = Status::from(err);
        assert_eq!(
            status.message(),
            "log group \"/nope\" not found; did you mean \"/nope2\"?"
        );
    }
}
