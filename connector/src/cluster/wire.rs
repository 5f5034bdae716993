//! A [`ConnectorError`] across the network between two nodes.
//!
//! The worker protocol carries a DataFusion error's structure but turns
//! an external error into its text, so a throttled read on another node
//! would come back as an untyped message and lose its gRPC code. A node
//! running a task for another therefore puts its connector errors in a
//! `Context` whose text is the error as JSON behind [`PREFIX`]; the
//! coordinating node's [`ConnectorError::find_in`] reads it back. The
//! error is recovered by its structure, never by parsing its message.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use datafusion::error::DataFusionError;
use serde::{Deserialize, Serialize};

use crate::error::ConnectorError;

/// Marks a context text holding a [`ConnectorError`].
pub const PREFIX: &str = "logflight-connector-error:";

#[derive(Serialize, Deserialize)]
enum Wire {
    GroupNotFound {
        name: String,
        hint: String,
    },
    StreamNotFound {
        group: String,
        stream: String,
        hint: String,
    },
    AmbiguousName {
        kind: String,
        name: String,
        candidates: Vec<String>,
    },
    PermissionDenied {
        api: String,
        message: String,
    },
    Throttled {
        api: String,
        attempts: u32,
        message: String,
    },
    Api {
        api: String,
        message: String,
    },
    Ec2 {
        api: String,
        message: String,
    },
    InsightsEnded {
        id: String,
        status: String,
        detail: String,
    },
    InvalidRequest(String),
    AccessDenied(String),
    Archive(String),
    Config(String),
    UnreadableRecord(String),
    NodeFailed {
        node: String,
        message: String,
    },
}

/// The `&'static str` of a name that came over the network: each distinct
/// name is kept once (API names and kinds of names: a handful).
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .expect("names lock");
    if let Some(found) = names.get(name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

fn to_wire(e: &ConnectorError) -> Wire {
    use ConnectorError as C;
    match e.clone() {
        C::GroupNotFound { name, hint } => Wire::GroupNotFound { name, hint },
        C::StreamNotFound {
            group,
            stream,
            hint,
        } => Wire::StreamNotFound {
            group,
            stream,
            hint,
        },
        C::AmbiguousName {
            kind,
            name,
            candidates,
        } => Wire::AmbiguousName {
            kind: kind.into(),
            name,
            candidates,
        },
        C::PermissionDenied { api, message } => Wire::PermissionDenied {
            api: api.into(),
            message,
        },
        C::Throttled {
            api,
            attempts,
            message,
        } => Wire::Throttled {
            api: api.into(),
            attempts,
            message,
        },
        C::Api { api, message } => Wire::Api {
            api: api.into(),
            message,
        },
        C::Ec2 { api, message } => Wire::Ec2 {
            api: api.into(),
            message,
        },
        C::InsightsEnded { id, status, detail } => Wire::InsightsEnded { id, status, detail },
        C::InvalidRequest(m) => Wire::InvalidRequest(m),
        C::AccessDenied(m) => Wire::AccessDenied(m),
        C::Archive(m) => Wire::Archive(m),
        C::Config(m) => Wire::Config(m),
        C::UnreadableRecord(m) => Wire::UnreadableRecord(m),
        C::NodeFailed { node, message } => Wire::NodeFailed { node, message },
    }
}

fn from_wire(w: Wire) -> ConnectorError {
    use ConnectorError as C;
    match w {
        Wire::GroupNotFound { name, hint } => C::GroupNotFound { name, hint },
        Wire::StreamNotFound {
            group,
            stream,
            hint,
        } => C::StreamNotFound {
            group,
            stream,
            hint,
        },
        Wire::AmbiguousName {
            kind,
            name,
            candidates,
        } => C::AmbiguousName {
            kind: intern(&kind),
            name,
            candidates,
        },
        Wire::PermissionDenied { api, message } => C::PermissionDenied {
            api: intern(&api),
            message,
        },
        Wire::Throttled {
            api,
            attempts,
            message,
        } => C::Throttled {
            api: intern(&api),
            attempts,
            message,
        },
        Wire::Api { api, message } => C::Api {
            api: intern(&api),
            message,
        },
        Wire::Ec2 { api, message } => C::Ec2 {
            api: intern(&api),
            message,
        },
        Wire::InsightsEnded { id, status, detail } => C::InsightsEnded { id, status, detail },
        Wire::InvalidRequest(m) => C::InvalidRequest(m),
        Wire::AccessDenied(m) => C::AccessDenied(m),
        Wire::Archive(m) => C::Archive(m),
        Wire::Config(m) => C::Config(m),
        Wire::UnreadableRecord(m) => C::UnreadableRecord(m),
        Wire::NodeFailed { node, message } => C::NodeFailed { node, message },
    }
}

/// `err` ready to cross to the coordinating node: a connector error in
/// it is carried as [`PREFIX`] and JSON; any other error is left as is.
pub fn for_transport(err: DataFusionError) -> DataFusionError {
    // A scan under a typed table's decoding made its error ready already.
    if matches!(&err, DataFusionError::Context(text, _) if text.starts_with(PREFIX)) {
        return err;
    }
    let Some(found) = ConnectorError::find_in(&err) else {
        return err;
    };
    let json = serde_json::to_string(&to_wire(&found)).expect("plain data serializes");
    DataFusionError::Context(format!("{PREFIX}{json}"), Box::new(err))
}

/// The connector error a context text carries, if it is one.
pub fn from_context(text: &str) -> Option<ConnectorError> {
    let json = text.strip_prefix(PREFIX)?;
    serde_json::from_str::<Wire>(json).ok().map(from_wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<ConnectorError> {
        vec![
            ConnectorError::Throttled {
                api: "FilterLogEvents",
                attempts: 8,
                message: "Rate exceeded".into(),
            },
            ConnectorError::GroupNotFound {
                name: "/aws/x".into(),
                hint: "; did you mean \"/aws/y\"?".into(),
            },
            ConnectorError::PermissionDenied {
                api: "GetLogEvents",
                message: "not authorized".into(),
            },
            ConnectorError::AmbiguousName {
                kind: "log group",
                name: "A".into(),
                candidates: vec!["a".into(), "A ".into()],
            },
            ConnectorError::UnreadableRecord("bad record".into()),
            ConnectorError::NodeFailed {
                node: "https://10.0.0.2:50052".into(),
                message: "connection refused".into(),
            },
        ]
    }

    /// What the worker protocol does to an error: the context's text is
    /// kept, the external error becomes its message.
    fn across_the_network(err: DataFusionError) -> DataFusionError {
        match err {
            DataFusionError::Context(text, inner) => DataFusionError::Context(
                text,
                Box::new(DataFusionError::Execution(inner.to_string())),
            ),
            other => DataFusionError::Execution(other.to_string()),
        }
    }

    #[test]
    fn connector_errors_cross_the_network_as_themselves() {
        for e in samples() {
            let sent = for_transport(e.clone().into_datafusion());
            let received = across_the_network(sent);
            let back = ConnectorError::find_in(&received).expect("recovered");
            assert_eq!(back.to_string(), e.to_string());
            assert_eq!(format!("{back:?}"), format!("{e:?}"));
        }
    }

    /// Each node of a plan above a scan makes its errors ready too: an
    /// error made ready once is carried as it is.
    #[test]
    fn an_error_is_made_ready_once() {
        let e = ConnectorError::UnreadableRecord("bad record".into());
        let once = for_transport(e.clone().into_datafusion());
        let twice = for_transport(for_transport(e.into_datafusion()));
        assert_eq!(format!("{twice:?}"), format!("{once:?}"));
    }

    #[test]
    fn other_errors_are_left_alone() {
        let e = DataFusionError::Execution("division by zero".into());
        let sent = for_transport(e);
        assert!(matches!(sent, DataFusionError::Execution(_)));
        assert!(ConnectorError::find_in(&sent).is_none());
    }

    #[test]
    fn a_context_without_the_prefix_is_no_connector_error() {
        assert!(from_context("while planning").is_none());
        assert!(from_context(&format!("{PREFIX}not json")).is_none());
    }
}
