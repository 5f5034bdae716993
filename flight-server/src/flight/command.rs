//! Every request a client can send, decoded once into one [`Command`].
//!
//! A ticket, a descriptor's command or an action's body is either a Flight
//! SQL message (a protobuf `Any` of one of the Flight SQL type URLs) or,
//! from a plain Flight client such as `pyarrow.flight`, the text of a SQL
//! statement. Decoding is pure and total: any bytes give a command or a
//! client error (INVALID_ARGUMENT), never a panic or an INTERNAL.

use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::sql::{
    self, ActionBeginTransactionRequest, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionEndTransactionRequest, Any, ProstMessageExt,
};
use arrow_flight::FlightDescriptor;
use prost::Message;

use super::metadata::Metadata;
use super::tickets::QueryHandle;
use crate::error::{Result, ServerError};
use actions::*;

const FLIGHT_SQL_TYPE_PREFIX: &str = "type.googleapis.com/arrow.flight.protocol.sql.";

/// The action types of Flight SQL, as the spec names them.
pub mod actions {
    pub const CREATE_PREPARED_STATEMENT: &str = "CreatePreparedStatement";
    pub const CLOSE_PREPARED_STATEMENT: &str = "ClosePreparedStatement";
    pub const CREATE_PREPARED_SUBSTRAIT_PLAN: &str = "CreatePreparedSubstraitPlan";
    pub const BEGIN_TRANSACTION: &str = "BeginTransaction";
    pub const END_TRANSACTION: &str = "EndTransaction";
    pub const BEGIN_SAVEPOINT: &str = "BeginSavepoint";
    pub const END_SAVEPOINT: &str = "EndSavepoint";
    pub const CANCEL_QUERY: &str = "CancelQuery";
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A CommandStatementQuery: SQL to describe (GetFlightInfo, GetSchema).
    Statement(String),
    /// SQL text from a plain Flight client, as a ticket or a descriptor.
    SqlText(String),
    /// The handle in a TicketStatementQuery, the ticket of a statement's FlightInfo.
    StatementTicket(QueryHandle),
    /// A prepared statement's handle (CommandPreparedStatementQuery).
    Prepared(QueryHandle),
    Metadata(Metadata),
    CreatePreparedStatement(String),
    ClosePreparedStatement,
    BeginTransaction,
    EndTransaction,
    /// A Flight SQL feature logflight does not have (UNIMPLEMENTED), named.
    Unsupported(&'static str),
    /// Another Flight SQL message (an update, a key listing of a kind we do
    /// not serve...), by its message name; no RPC of ours takes it.
    Other(String),
}

impl Command {
    /// A ticket (DoGet).
    pub fn decode(bytes: &[u8]) -> Result<Command> {
        match Any::decode(bytes) {
            Ok(any) if any.type_url.starts_with(FLIGHT_SQL_TYPE_PREFIX) => from_any(any),
            Ok(any) if looks_unwrapped(bytes, &any) => Err(unwrapped()),
            _ => sql_text(bytes).map(Command::SqlText),
        }
    }

    /// A descriptor's command (GetFlightInfo, GetSchema, DoPut): as a
    /// ticket, but an empty one or a PATH descriptor is named as such.
    pub fn from_descriptor(descriptor: &FlightDescriptor) -> Result<Command> {
        if descriptor.r#type() == DescriptorType::Path {
            return Err(ServerError::MalformedRequest(format!(
                "a PATH descriptor ({:?}): logflight takes CMD descriptors holding a Flight \
                 SQL command or the text of a SQL statement",
                descriptor.path
            )));
        }
        if descriptor.cmd.iter().all(u8::is_ascii_whitespace) {
            return Err(ServerError::MalformedRequest(
                "the descriptor's command is empty: send a Flight SQL command (such as a \
                 CommandStatementQuery packed in a google.protobuf.Any) or the text of a SQL \
                 statement"
                    .into(),
            ));
        }
        Self::decode(&descriptor.cmd)
    }

    /// A Flight SQL action (DoAction): its type and body.
    pub fn from_action(kind: &str, body: &[u8]) -> Result<Command> {
        Ok(match kind {
            CREATE_PREPARED_STATEMENT => Command::CreatePreparedStatement(
                unpack::<ActionCreatePreparedStatementRequest>(kind, body)?.query,
            ),
            CLOSE_PREPARED_STATEMENT => {
                unpack::<ActionClosePreparedStatementRequest>(kind, body)?;
                Command::ClosePreparedStatement
            }
            BEGIN_TRANSACTION => {
                unpack::<ActionBeginTransactionRequest>(kind, body)?;
                Command::BeginTransaction
            }
            END_TRANSACTION => {
                unpack::<ActionEndTransactionRequest>(kind, body)?;
                Command::EndTransaction
            }
            CREATE_PREPARED_SUBSTRAIT_PLAN => {
                unpack::<sql::ActionCreatePreparedSubstraitPlanRequest>(kind, body)?;
                Command::Unsupported("Substrait plans")
            }
            BEGIN_SAVEPOINT => {
                unpack::<sql::ActionBeginSavepointRequest>(kind, body)?;
                Command::Unsupported("savepoints")
            }
            END_SAVEPOINT => {
                unpack::<sql::ActionEndSavepointRequest>(kind, body)?;
                Command::Unsupported("savepoints")
            }
            CANCEL_QUERY => {
                unpack::<sql::ActionCancelQueryRequest>(kind, body)?;
                Command::Unsupported("CancelQuery (a query ends when its client stops reading it)")
            }
            other => {
                return Err(ServerError::WrongRequest {
                    rpc: "DoAction",
                    message: format!("unknown action type {other:?}"),
                })
            }
        })
    }

    /// The refusal of a command sent to an RPC that does not take it.
    pub fn refused(self, rpc: &'static str) -> ServerError {
        match self {
            Command::Unsupported(what) => {
                ServerError::Unsupported(format!("{rpc}: logflight does not support {what}"))
            }
            other => ServerError::WrongRequest {
                rpc,
                message: other.name(),
            },
        }
    }

    /// What the command is, for messages.
    fn name(&self) -> String {
        match self {
            Command::Statement(_) => "CommandStatementQuery".into(),
            Command::SqlText(_) => "SQL text".into(),
            Command::StatementTicket(_) => "TicketStatementQuery".into(),
            Command::Prepared(_) => "CommandPreparedStatementQuery".into(),
            Command::Metadata(m) => m.name().into(),
            Command::CreatePreparedStatement(_) => "CreatePreparedStatement".into(),
            Command::ClosePreparedStatement => "ClosePreparedStatement".into(),
            Command::BeginTransaction => "BeginTransaction".into(),
            Command::EndTransaction => "EndTransaction".into(),
            Command::Unsupported(what) => (*what).into(),
            Command::Other(name) => name.clone(),
        }
    }
}

/// A Flight SQL message; its handle, if any, is checked here too.
fn from_any(any: Any) -> Result<Command> {
    use sql::Command as Sql;
    let name = any.type_url[FLIGHT_SQL_TYPE_PREFIX.len()..].to_string();
    let message = Sql::try_from(any)
        .map_err(|e| ServerError::MalformedRequest(format!("cannot decode {name}: {e}")))?;
    Ok(match message {
        Sql::CommandStatementQuery(q) => Command::Statement(q.query),
        Sql::TicketStatementQuery(t) => {
            Command::StatementTicket(QueryHandle::from_bytes(&t.statement_handle)?)
        }
        Sql::CommandPreparedStatementQuery(p) => {
            Command::Prepared(QueryHandle::from_bytes(&p.prepared_statement_handle)?)
        }
        Sql::CommandGetCatalogs(c) => Command::Metadata(Metadata::Catalogs(c)),
        Sql::CommandGetDbSchemas(c) => Command::Metadata(Metadata::Schemas(c)),
        Sql::CommandGetTables(c) => Command::Metadata(Metadata::Tables(c)),
        Sql::CommandGetTableTypes(c) => Command::Metadata(Metadata::TableTypes(c)),
        Sql::CommandGetSqlInfo(c) => Command::Metadata(Metadata::SqlInfo(c)),
        Sql::CommandGetXdbcTypeInfo(c) => Command::Metadata(Metadata::XdbcTypeInfo(c)),
        Sql::CommandStatementSubstraitPlan(_) => Command::Unsupported("Substrait plans"),
        Sql::CommandGetPrimaryKeys(_)
        | Sql::CommandGetExportedKeys(_)
        | Sql::CommandGetImportedKeys(_)
        | Sql::CommandGetCrossReference(_) => {
            Command::Unsupported("keys (log streams have no primary or foreign keys)")
        }
        Sql::CommandStatementUpdate(_)
        | Sql::CommandPreparedStatementUpdate(_)
        | Sql::CommandStatementIngest(_) => Command::Unsupported("updates (it is read-only)"),
        Sql::Unknown(_) => return Err(ServerError::UnknownCommand),
        _ => Command::Other(name),
    })
}

/// The body of a Flight SQL action: an `Any` of the message `M`.
fn unpack<M: ProstMessageExt + Default>(kind: &str, body: &[u8]) -> Result<M> {
    let any = Any::decode(body).map_err(|e| {
        ServerError::MalformedRequest(format!("cannot decode the body of the {kind} action: {e}"))
    })?;
    let type_url = any.type_url.clone();
    any.unpack::<M>()
        .map_err(|e| ServerError::MalformedRequest(format!("cannot decode {type_url}: {e}")))?
        .ok_or_else(|| ServerError::WrongRequest {
            rpc: "DoAction",
            message: format!(
                "the {kind} action takes an {}, not {type_url:?}",
                M::type_url().trim_start_matches(FLIGHT_SQL_TYPE_PREFIX)
            ),
        })
}

/// True for bytes that are a protobuf message whose first field is a
/// string, with no `Any` around it: a Flight SQL command sent unwrapped
/// (`CommandStatementQuery { query }` encodes as `0x0a <len> <query>`,
/// which `Any` reads as a type URL). SQL text never starts with a newline
/// followed by its own remaining length.
fn looks_unwrapped(bytes: &[u8], any: &Any) -> bool {
    bytes.first() == Some(&0x0a)
        && !any.type_url.is_empty()
        && !any.type_url.contains("type.googleapis.com/")
}

fn unwrapped() -> ServerError {
    ServerError::MalformedRequest(
        "the command is a bare protobuf message: Flight SQL commands are sent packed in a \
         google.protobuf.Any whose type_url is \
         type.googleapis.com/arrow.flight.protocol.sql.<Command>"
            .into(),
    )
}

/// The SQL of a plain Flight ticket or descriptor.
fn sql_text(bytes: &[u8]) -> Result<String> {
    let sql = std::str::from_utf8(bytes).map_err(|_| {
        ServerError::InvalidTicket(
            "ticket is neither a Flight SQL command nor UTF-8 SQL text".into(),
        )
    })?;
    if sql.trim().is_empty() {
        return Err(ServerError::InvalidTicket(
            "empty ticket: send SQL text".into(),
        ));
    }
    Ok(sql.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_flight::sql::{
        CommandGetTables, CommandPreparedStatementQuery, CommandStatementQuery,
        TicketStatementQuery,
    };

    fn any_of(message: impl ProstMessageExt) -> Vec<u8> {
        message.as_any().encode_to_vec()
    }

    fn raw_any(name: &str, value: &[u8]) -> Vec<u8> {
        Any {
            type_url: format!("{FLIGHT_SQL_TYPE_PREFIX}{name}"),
            value: value.to_vec().into(),
        }
        .encode_to_vec()
    }

    #[test]
    fn tickets_and_descriptors_decode_to_commands() {
        let handle = QueryHandle::new("SELECT 2");
        let cases: Vec<(Vec<u8>, Command)> = vec![
            (b"SELECT 1".to_vec(), Command::SqlText("SELECT 1".into())),
            (
                any_of(CommandStatementQuery {
                    query: "SELECT 1".into(),
                    transaction_id: None,
                }),
                Command::Statement("SELECT 1".into()),
            ),
            (
                any_of(TicketStatementQuery {
                    statement_handle: handle.to_bytes().into(),
                }),
                Command::StatementTicket(handle.clone()),
            ),
            (
                any_of(CommandPreparedStatementQuery {
                    prepared_statement_handle: handle.to_bytes().into(),
                }),
                Command::Prepared(handle.clone()),
            ),
            (
                any_of(CommandGetTables::default()),
                Command::Metadata(Metadata::Tables(CommandGetTables::default())),
            ),
            (
                raw_any("CommandStatementSubstraitPlan", b""),
                Command::Unsupported("Substrait plans"),
            ),
            (
                raw_any("ActionCreatePreparedStatementRequest", b""),
                Command::Other("ActionCreatePreparedStatementRequest".into()),
            ),
            // A foreign Any is not Flight SQL: its bytes are read as SQL text.
            (
                Any {
                    type_url: "type.googleapis.com/foo.Bar".into(),
                    value: b"xx".to_vec().into(),
                }
                .encode_to_vec(),
                Command::SqlText("\n\u{1b}type.googleapis.com/foo.Bar\u{12}\u{2}xx".into()),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Command::decode(&bytes).unwrap(), want, "{bytes:?}");
        }
    }

    #[test]
    fn bad_bytes_are_client_errors_that_say_why() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "empty ticket"),
            (b"  \n".to_vec(), "empty ticket"),
            (b"\xff\xfe".to_vec(), "UTF-8"),
            (
                raw_any("CommandStatementQuery", b"\xff\xff"),
                "cannot decode CommandStatementQuery",
            ),
            (
                raw_any("CommandNoSuchThing", b""),
                "not a Flight SQL command",
            ),
            (
                any_of(TicketStatementQuery {
                    statement_handle: b"SELECT 1".to_vec().into(),
                }),
                "not a logflight statement handle",
            ),
            // A CommandStatementQuery sent without its Any.
            (
                CommandStatementQuery {
                    query: "SELECT 1".into(),
                    transaction_id: None,
                }
                .encode_to_vec(),
                "bare protobuf message",
            ),
        ];
        for (bytes, want) in cases {
            let err = Command::decode(&bytes).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
            assert!(err.to_string().contains(want), "{bytes:?}: {err}");
        }
    }

    #[test]
    fn descriptors_that_hold_no_command_say_so() {
        let cases = [
            (
                FlightDescriptor::new_cmd(""),
                "the descriptor's command is empty",
            ),
            (
                FlightDescriptor::new_cmd(" \n"),
                "the descriptor's command is empty",
            ),
            (
                FlightDescriptor::new_path(vec!["logs".into()]),
                "a PATH descriptor",
            ),
        ];
        for (descriptor, want) in cases {
            let err = Command::from_descriptor(&descriptor).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
            assert!(err.to_string().contains(want), "{descriptor:?}: {err}");
            assert!(!err.to_string().contains("ticket"), "{err}");
        }
        assert_eq!(
            Command::from_descriptor(&FlightDescriptor::new_cmd("SELECT 1")).unwrap(),
            Command::SqlText("SELECT 1".into())
        );
    }

    #[test]
    fn actions_decode_by_type_and_body() {
        let create = any_of(ActionCreatePreparedStatementRequest {
            query: "SELECT 1".into(),
            transaction_id: None,
        });
        assert_eq!(
            Command::from_action(CREATE_PREPARED_STATEMENT, &create).unwrap(),
            Command::CreatePreparedStatement("SELECT 1".into())
        );
        assert_eq!(
            Command::from_action(
                BEGIN_TRANSACTION,
                &any_of(ActionBeginTransactionRequest::default())
            )
            .unwrap(),
            Command::BeginTransaction
        );
        let cases: Vec<(&str, Vec<u8>, tonic::Code, &str)> = vec![
            (
                "NoSuchAction",
                vec![],
                tonic::Code::InvalidArgument,
                "NoSuchAction",
            ),
            (
                CREATE_PREPARED_STATEMENT,
                b"\xff\xff".to_vec(),
                tonic::Code::InvalidArgument,
                "decode",
            ),
            (
                CREATE_PREPARED_STATEMENT,
                any_of(CommandStatementQuery::default()),
                tonic::Code::InvalidArgument,
                "ActionCreatePreparedStatementRequest",
            ),
            (
                CANCEL_QUERY,
                b"\xff".to_vec(),
                tonic::Code::InvalidArgument,
                "decode",
            ),
        ];
        for (kind, body, code, want) in cases {
            let err = Command::from_action(kind, &body).unwrap_err();
            assert_eq!(err.code(), code, "{kind}: {err}");
            assert!(err.to_string().contains(want), "{kind}: {err}");
        }
        let cancel = Command::from_action(
            CANCEL_QUERY,
            &any_of(sql::ActionCancelQueryRequest::default()),
        )
        .unwrap();
        assert_eq!(
            cancel.refused("DoAction").code(),
            tonic::Code::Unimplemented
        );
    }
}
