//! Which answer each decoded command gets, per RPC: the one place a
//! request is routed. Everything here takes a [`QueryContext`], not a
//! tonic request, so routing is tested without a server.

use arrow::array::RecordBatch;
use arrow_flight::sql::{
    ActionBeginTransactionResult, CommandPreparedStatementQuery, ProstMessageExt,
};
use arrow_flight::{ActionType, FlightData, FlightDescriptor, FlightInfo, SchemaResult, Ticket};
use prost::Message;

use super::command::actions::*;
use super::command::Command;
use super::encode::{flight_info, one_batch, BoxedStream};
use super::statements::{statement_ticket, Statements};
use super::tickets::QueryHandle;
use crate::error::{Result, ServerError};
use crate::query::QueryContext;

/// Routes commands to the statements and metadata answers.
#[derive(Debug, Clone)]
pub struct Router {
    statements: Statements,
}

/// The transaction id of every (read-only, no-op) transaction.
const READ_ONLY_TRANSACTION: &[u8] = b"read-only";

impl Router {
    pub fn new(statements: Statements) -> Self {
        Self { statements }
    }

    pub async fn flight_info(
        &self,
        ctx: &QueryContext,
        command: Command,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo> {
        match command {
            Command::Statement(sql) | Command::SqlText(sql) => {
                let handle = QueryHandle::for_sql(sql)?;
                let ticket = statement_ticket(&handle);
                self.statements
                    .flight_info(ctx, &handle, ticket, descriptor)
                    .await
            }
            Command::Prepared(handle) => {
                let handle = self.statements.with_binding(ctx, handle);
                let ticket = CommandPreparedStatementQuery {
                    prepared_statement_handle: handle.to_bytes().into(),
                };
                let ticket = Ticket::new(ticket.as_any().encode_to_vec());
                self.statements
                    .flight_info(ctx, &handle, ticket, descriptor)
                    .await
            }
            Command::Metadata(metadata) => {
                let ticket = Ticket::new(metadata.ticket_bytes());
                flight_info(&metadata.schema(), ticket, descriptor, false)
            }
            other => Err(other.refused("GetFlightInfo")),
        }
    }

    pub async fn do_get(
        &self,
        ctx: &QueryContext,
        command: Command,
    ) -> Result<BoxedStream<FlightData>> {
        match command {
            Command::SqlText(sql) => self.statements.run(ctx, &QueryHandle::new(sql)).await,
            Command::StatementTicket(handle) => self.statements.run(ctx, &handle).await,
            Command::Prepared(handle) => {
                let handle = self.statements.with_binding(ctx, handle);
                self.statements.run(ctx, &handle).await
            }
            Command::Metadata(metadata) => {
                let engine = self.statements.engine(ctx)?;
                Ok(one_batch(metadata.build(engine).await?))
            }
            other => Err(other.refused("DoGet")),
        }
    }

    pub async fn schema(&self, ctx: &QueryContext, command: Command) -> Result<SchemaResult> {
        match command {
            Command::Statement(sql) | Command::SqlText(sql) => {
                self.statements.schema(ctx, &sql).await
            }
            Command::Unsupported(what) => Err(ServerError::Unsupported(format!(
                "GetSchema: logflight does not support {what}"
            ))),
            _ => Err(ServerError::Unsupported(
                "GetSchema supports statement queries and SQL text".into(),
            )),
        }
    }

    /// DoPut of `command` with the client's record batches.
    pub fn do_put(
        &self,
        ctx: &QueryContext,
        command: Command,
        batches: &[RecordBatch],
    ) -> Result<Vec<u8>> {
        match command {
            Command::Prepared(handle) => {
                Ok(self.statements.bind(ctx, handle, batches)?.encode_to_vec())
            }
            other => Err(other.refused("DoPut")),
        }
    }

    /// The results of an action, each a packed Flight SQL message.
    pub async fn do_action(&self, ctx: &QueryContext, command: Command) -> Result<Vec<Vec<u8>>> {
        match command {
            Command::CreatePreparedStatement(sql) => {
                let ctx = ctx.as_rpc("CreatePreparedStatement");
                let prepared = self.statements.prepare(&ctx, sql).await?;
                Ok(vec![prepared.as_any().encode_to_vec()])
            }
            // Handles are stateless: nothing to free.
            Command::ClosePreparedStatement | Command::EndTransaction => Ok(Vec::new()),
            // Clients such as the ADBC DB-API open one for autocommit=False;
            // on a read-only server Begin and End are trivially correct no-ops.
            Command::BeginTransaction => Ok(vec![ActionBeginTransactionResult {
                transaction_id: READ_ONLY_TRANSACTION.to_vec().into(),
            }
            .as_any()
            .encode_to_vec()]),
            other => Err(other.refused("DoAction")),
        }
    }

    /// The actions ListActions lists: those that do something. Transactions
    /// are not listed: the server is read-only, so there is nothing to
    /// commit or roll back. BeginTransaction and EndTransaction are still
    /// answered (as no-ops), because ADBC's DB-API turns autocommit off on
    /// every connection when GetSqlInfo says transactions exist, and fails
    /// or warns otherwise; savepoints, Substrait plans and CancelQuery are
    /// refused as UNIMPLEMENTED with a message.
    pub fn actions() -> Vec<ActionType> {
        [
            (
                CREATE_PREPARED_STATEMENT,
                "Prepares a statement: its result and parameter schemas, and a handle that \
                 holds the SQL (nothing is kept on the server).",
            ),
            (
                CLOSE_PREPARED_STATEMENT,
                "Closes a prepared statement (accepted; a handle holds no server state).",
            ),
        ]
        .into_iter()
        .map(|(kind, description)| ActionType {
            r#type: kind.to_string(),
            description: description.to_string(),
        })
        .collect()
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
