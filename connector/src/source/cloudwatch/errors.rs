//! What a failed CloudWatch call means: whether it is worth retrying, and
//! the error a user sees once it failed for good. The mappings from codes are
//! pure, so they are tested without a server.

use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tracing::debug;

use crate::error::ConnectorError;
use crate::quota::{Api, CallFailure, RetryClass, Retryable};

impl<E: ProvideErrorMetadata> Retryable for SdkError<E, HttpResponse> {
    fn retry_class(&self) -> RetryClass {
        match self {
            // Nothing listening, or no such host: another attempt finds
            // the same, and eight of them with backoff only hide the
            // cause for seconds. A connection dropped once made is retried.
            SdkError::DispatchFailure(e)
                if e.as_connector_error().is_some_and(|c| cannot_connect(c)) =>
            {
                RetryClass::Fatal
            }
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

/// Whether `err` failed before any connection was made: refused (nothing
/// listening), unreachable, or a host name that does not resolve.
pub(super) fn cannot_connect(err: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable
            ) {
                return true;
            }
        }
        // hyper-util reports a failed name lookup as text only.
        let text = e.to_string();
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        current = e.source();
    }
    false
}

/// Which API errors are worth retrying. Pure, so it is tested without a server.
pub(super) fn retry_class_of(
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
pub(super) fn call_error<E>(
    endpoint: &str,
    api: Api,
    failure: CallFailure<SdkError<E, HttpResponse>>,
) -> ConnectorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // The service's own code and message when it answered; otherwise the
    // chain of causes (a refused connection, a timeout), never the SDK's
    // debug dump of the raw response.
    debug!(error = %DisplayErrorContext(&failure.error), api = api.name(), "call failed");
    let unreachable = match &failure.error {
        SdkError::DispatchFailure(e) => e.as_connector_error().is_some_and(|c| cannot_connect(c)),
        _ => false,
    };
    if unreachable {
        return ConnectorError::Api {
            api: api.name(),
            message: format!(
                "cannot connect to {endpoint} ({}); check --endpoint-url (or the region) and that the endpoint is up",
                causes(&failure.error)
            ),
        };
    }
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

pub(super) fn is_not_found<E: ProvideErrorMetadata>(
    failure: &CallFailure<SdkError<E, HttpResponse>>,
) -> bool {
    failure.error.code() == Some("ResourceNotFoundException")
}

/// Maps an API error code to the reason a user should see. Pure, so the
/// mapping is tested without a server.
fn classify_error(
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

/// An error and its causes on one line, without the SDK's debug dump.
pub(super) fn causes(err: &(dyn std::error::Error + 'static)) -> String {
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
    fn failed_connections_are_told_from_dropped_ones() {
        use std::io::{Error, ErrorKind};
        #[derive(Debug)]
        struct Wrapped(Box<dyn std::error::Error + Send + Sync>);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("dispatch failure")
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(self.0.as_ref())
            }
        }
        let wrap = |e: Box<dyn std::error::Error + Send + Sync>| Wrapped(e);
        let cases: Vec<(Wrapped, bool)> =
            vec![
            (wrap(Box::new(Error::from(ErrorKind::ConnectionRefused))), true),
            (wrap(Box::new(Error::from(ErrorKind::HostUnreachable))), true),
            (
                wrap(Box::new(Error::other(
                    "dns error: failed to lookup address information: Name or service not known",
                ))),
                true,
            ),
            (wrap(Box::new(Error::from(ErrorKind::ConnectionReset))), false),
            (wrap(Box::new(Error::from(ErrorKind::UnexpectedEof))), false),
            (wrap(Box::new(Error::other("connection closed before message completed"))), false),
        ];
        for (err, want) in cases {
            assert_eq!(cannot_connect(&err), want, "{:?}", err.0);
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
