//! The server's one error type, and the single mapping to gRPC status codes.
//!
//! Every error a client sees is a [`ServerError`] first, and becomes a
//! `tonic::Status` only in `From<ServerError> for Status` below: the crate's
//! clippy.toml forbids building a `Status` anywhere else, so the table in
//! docs/architecture.md is the whole truth. User mistakes (bad SQL,
//! unknown names, refused statements) map to InvalidArgument / NotFound,
//! upstream limits to ResourceExhausted, missing rights to
//! PermissionDenied; Internal is kept for real bugs.

use datafusion::error::DataFusionError;
use logflight_connector::ConnectorError;
use tonic::{Code, Status};

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// Why a caller was not let in. Messages never repeat the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: authenticate with a Flight Handshake (username and password) or send `authorization: Bearer <token>`")]
    Missing,
    /// A request that reached a server with authentication on without
    /// passing the authentication layer.
    #[error("authentication required: authenticate with a Flight Handshake (username and password) or send `authorization: Bearer <token>`")]
    Required,
    #[error("malformed authorization header: {0}")]
    Malformed(&'static str),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("invalid bearer token")]
    BadToken,
    #[error("bearer token expired; authenticate again")]
    Expired,
    /// A valid token naming a principal the server has no engine for.
    #[error("unknown principal")]
    UnknownPrincipal,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),

    #[error(transparent)]
    Query(DataFusionError),

    /// The caller is not authenticated (or its credentials are wrong).
    #[error(transparent)]
    Auth(#[from] AuthError),

    #[error("logflight is read-only: {0} is refused (only queries, EXPLAIN, DESCRIBE and SHOW are allowed)")]
    ReadOnly(String),

    /// A table of a built-in schema (information_schema) that does not exist.
    #[error("table '{0}' not found")]
    TableNotFound(String),

    /// A regular expression of the statement (`~`, `regexp_like`, ...)
    /// that does not compile: the client's mistake, with the regex
    /// crate's message pointing at the offending character.
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),

    #[error("invalid ticket or handle: {0}")]
    InvalidTicket(String),

    #[error("invalid parameters: {0}")]
    InvalidParameters(String),

    /// Bytes of a Flight SQL message that do not decode as that message.
    #[error("malformed request: {0}")]
    MalformedRequest(String),

    /// A protobuf `Any` of a Flight SQL type URL that names no Flight SQL message.
    #[error("not a Flight SQL command logflight knows (send a Flight SQL message or SQL text)")]
    UnknownCommand,

    /// A Flight SQL message sent to an RPC that does not take it (for
    /// example a statement ticket as a GetFlightInfo command).
    #[error("{rpc}: the request is not one {rpc} takes: {message}")]
    WrongRequest { rpc: &'static str, message: String },

    /// A Flight SQL feature logflight does not offer (Substrait, keys, updates).
    #[error("{0}")]
    Unsupported(String),

    /// A per-query or server limit was reached (rows, memory, queue).
    #[error("limit reached: {0}")]
    Limit(String),

    #[error("query timed out: {0}")]
    Timeout(String),

    #[error("configuration: {0}")]
    Config(String),

    /// The client's own request stream failed (it went away, or sent a
    /// message tonic refused); keeps the code tonic gave it.
    #[error("{}", .0.message())]
    RequestStream(Status),

    /// `logflight query` could not write its result: a full disk, or a
    /// reader that went away (see [`ServerError::is_closed_pipe`]).
    #[error("cannot write the result: {0}")]
    Output(#[source] std::io::Error),

    /// `logflight query` could not get its statement (an unreadable or
    /// empty file, an empty argument).
    #[error("{0}")]
    SqlInput(String),

    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DataFusionError> for ServerError {
    /// A connector error travelling inside DataFusion comes back out as
    /// itself, so it keeps its own code and message.
    fn from(err: DataFusionError) -> Self {
        if let Some(inner) = ConnectorError::find_in(&err) {
            return ServerError::Connector(inner);
        }
        match find_regex_error(&err) {
            Some(regex) => ServerError::InvalidRegex(regex.to_string()),
            None => ServerError::Query(err),
        }
    }
}

/// The regex error inside a DataFusion error chain (DataFusion wraps it
/// as an external error, in contexts such as an optimizer rule's): the
/// regex crate's when a function compiles it, regex-syntax's when the
/// optimizer parses a literal to simplify it.
fn find_regex_error(err: &DataFusionError) -> Option<&(dyn std::error::Error + 'static)> {
    let mut current: &(dyn std::error::Error + 'static) = err;
    loop {
        if current.is::<regex::Error>() || current.is::<regex_syntax::Error>() {
            return Some(current);
        }
        current = match current.downcast_ref::<DataFusionError>() {
            Some(DataFusionError::External(inner)) => inner.as_ref(),
            Some(DataFusionError::Context(_, inner))
            | Some(DataFusionError::Diagnostic(_, inner)) => inner.as_ref(),
            Some(DataFusionError::Shared(inner)) => inner.as_ref(),
            Some(DataFusionError::ArrowError(inner, _)) => inner.as_ref(),
            _ => current.source()?,
        };
    }
}

impl From<arrow::error::ArrowError> for ServerError {
    fn from(err: arrow::error::ArrowError) -> Self {
        DataFusionError::from(err).into()
    }
}

impl From<arrow_flight::error::FlightError> for ServerError {
    /// Our own errors cross arrow-flight's encoder as `ExternalError`s and
    /// come back out as themselves.
    fn from(err: arrow_flight::error::FlightError) -> Self {
        use arrow_flight::error::FlightError;
        match err {
            FlightError::ExternalError(inner) => match inner.downcast::<ServerError>() {
                Ok(own) => *own,
                Err(other) => ServerError::Internal(other.to_string()),
            },
            FlightError::Arrow(e) => e.into(),
            FlightError::Tonic(status) => ServerError::RequestStream(*status),
            other => ServerError::Internal(other.to_string()),
        }
    }
}

impl From<Status> for ServerError {
    fn from(status: Status) -> Self {
        ServerError::RequestStream(status)
    }
}

impl ServerError {
    pub fn code(&self) -> Code {
        match self {
            ServerError::Connector(c) => connector_code(c),
            ServerError::Query(e) => datafusion_code(e),
            ServerError::Auth(_) => Code::Unauthenticated,
            ServerError::ReadOnly(_) => Code::PermissionDenied,
            ServerError::TableNotFound(_) => Code::NotFound,
            ServerError::InvalidTicket(_)
            | ServerError::InvalidRegex(_)
            | ServerError::InvalidParameters(_)
            | ServerError::MalformedRequest(_)
            | ServerError::UnknownCommand
            | ServerError::WrongRequest { .. } => Code::InvalidArgument,
            ServerError::Unsupported(_) => Code::Unimplemented,
            ServerError::Limit(_) => Code::ResourceExhausted,
            ServerError::Timeout(_) => Code::DeadlineExceeded,
            ServerError::Config(_) => Code::FailedPrecondition,
            ServerError::RequestStream(status) => status.code(),
            // Command-line errors: no client ever sees these two.
            ServerError::Output(_) => Code::Unavailable,
            ServerError::SqlInput(_) => Code::InvalidArgument,
            ServerError::Internal(_) => Code::Internal,
        }
    }

    /// An output whose reader has gone (`logflight query ... | head -1`):
    /// the end of the run, as for `grep`, not a failure.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, ServerError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The message clients see: DataFusion's without its backtrace.
    pub fn message(&self) -> String {
        match self {
            ServerError::Query(e) => e.strip_backtrace(),
            other => other.to_string(),
        }
    }
}

fn connector_code(err: &ConnectorError) -> Code {
    match err {
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
        ConnectorError::Api { .. } | ConnectorError::Ec2 { .. } | ConnectorError::Archive(_) => {
            Code::Unavailable
        }
        ConnectorError::InsightsEnded { .. } => Code::Aborted,
        ConnectorError::NodeFailed { .. } => Code::Unavailable,
        ConnectorError::Config(_) | ConnectorError::UnreadableRecord(_) => Code::FailedPrecondition,
    }
}

/// DataFusion's own errors by variant. Names are resolved before
/// planning (with typed errors), so what reaches here is about the
/// statement itself: its SQL, types, functions and values.
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
    /// The one place a `Status` is made.
    #[allow(clippy::disallowed_methods)]
    fn from(err: ServerError) -> Self {
        if let ServerError::RequestStream(status) = err {
            return status;
        }
        let code = err.code();
        let message = err.message();
        if code == Code::Internal {
            tracing::error!(error = %message, "internal error");
        }
        Status::new(code, message)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // statuses as tonic hands them over
mod tests {
    use super::*;

    /// The regex crate's error for `[`, built at run time (clippy refuses
    /// an invalid regex literal).
    fn unclosed_class() -> regex::Error {
        regex::Regex::new(std::hint::black_box("[")).unwrap_err()
    }

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
                ServerError::TableNotFound("cloudwatch.information_schema.nope".into()),
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
                DataFusionError::Context(
                    "Optimizer rule 'simplify_expressions' failed".into(),
                    Box::new(DataFusionError::Context(
                        "Invalid regex".into(),
                        Box::new(DataFusionError::External(Box::new(
                            regex_syntax::Parser::new().parse("(").unwrap_err(),
                        ))),
                    )),
                )
                .into(),
                Code::InvalidArgument,
            ),
            (
                DataFusionError::External(Box::new(unclosed_class())).into(),
                Code::InvalidArgument,
            ),
            (
                ServerError::InvalidTicket("garbage".into()),
                Code::InvalidArgument,
            ),
            (ServerError::UnknownCommand, Code::InvalidArgument),
            (
                ServerError::Unsupported("Substrait plans".into()),
                Code::Unimplemented,
            ),
            (AuthError::BadToken.into(), Code::Unauthenticated),
            (
                ServerError::RequestStream(Status::out_of_range("too big")),
                Code::OutOfRange,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err}");
            assert_eq!(Status::from(err).code(), code);
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

    #[test]
    fn own_errors_cross_the_flight_encoder_as_themselves() {
        let through = arrow_flight::error::FlightError::ExternalError(Box::new(
            ServerError::Limit("rows".into()),
        ));
        let back = ServerError::from(through);
        assert!(matches!(back, ServerError::Limit(_)), "{back:?}");
        assert_eq!(Status::from(back).message(), "limit reached: rows");
    }
}
