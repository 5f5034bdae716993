//! SQL statements over Flight SQL: describing them (FlightInfo, GetSchema,
//! prepared statements), binding parameters, and running them (DoGet).
//!
//! A statement is planned when it is described, so the schema a client
//! sees is exact, and planned again from the ticket alone when it runs:
//! nothing is kept between the calls. Planning and running both take a
//! run slot and count against the query's time limit, because planning
//! runs a statement's `insights()` calls, which can take as long as a scan.

use std::future::Future;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::sql::{
    ActionCreatePreparedStatementResult, DoPutPreparedStatementResult, ProstMessageExt,
    TicketStatementQuery,
};
use arrow_flight::{FlightData, FlightDescriptor, FlightInfo, SchemaResult, Ticket};
use prost::Message;

use super::bindings::Bindings;
use super::encode::{encode, flight_info, schema_bytes, wire_schema, BoxedStream};
use super::tickets::QueryHandle;
use crate::access::PrincipalEngines;
use crate::error::Result;
use crate::query::admission::Admission;
use crate::query::limits::{enforce, timed_out, QueryLimits, StreamLimits};
use crate::query::log::{recorded, QueryLog};
use crate::query::{QueryContext, QueryEngine};

/// Everything statements need: the caller's engine, run slots, limits, the log.
#[derive(Debug, Clone)]
pub struct Statements {
    engines: Arc<PrincipalEngines>,
    admission: Admission,
    log: QueryLog,
    limits: QueryLimits,
    /// How results are encoded (compression).
    ipc: IpcWriteOptions,
    /// Parameters bound for clients that execute their original handle.
    bindings: Bindings,
}

/// The ticket of a statement's FlightInfo: its handle.
pub fn statement_ticket(handle: &QueryHandle) -> Ticket {
    let ticket = TicketStatementQuery {
        statement_handle: handle.to_bytes().into(),
    };
    Ticket::new(ticket.as_any().encode_to_vec())
}

impl Statements {
    pub fn new(
        engines: Arc<PrincipalEngines>,
        log: QueryLog,
        limits: QueryLimits,
        ipc: IpcWriteOptions,
    ) -> Self {
        Self {
            engines,
            admission: Admission::new(&limits),
            log,
            limits,
            ipc,
            bindings: Bindings::default(),
        }
    }

    /// The engine that answers the caller: its principal's view of the logs.
    pub fn engine(&self, ctx: &QueryContext) -> Result<&QueryEngine> {
        self.engines.for_caller(ctx.caller.principal.as_deref())
    }

    /// Runs planning `work` under a run slot and the time limit; a failure
    /// goes on the audit record.
    async fn bounded<T>(
        &self,
        ctx: &QueryContext,
        sql: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let result = async {
            let _slot = self.admission.admit().await?;
            tokio::time::timeout(self.limits.timeout, work)
                .await
                .map_err(|_| timed_out(self.limits.timeout))?
        }
        .await;
        if let Err(err) = &result {
            self.log.planning_failed(ctx, sql, err);
        }
        result
    }

    /// FlightInfo of a statement, whose endpoint's ticket is `ticket`.
    pub async fn flight_info(
        &self,
        ctx: &QueryContext,
        handle: &QueryHandle,
        ticket: Ticket,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo> {
        let engine = self.engine(ctx)?;
        let plan = self
            .bounded(ctx, &handle.sql, async {
                engine.plan(&handle.sql, handle.param_values()?).await
            })
            .await?;
        flight_info(&wire_schema(&plan.schema), ticket, descriptor, true)
    }

    /// The schema a statement's result will have (GetSchema).
    pub async fn schema(&self, ctx: &QueryContext, sql: &str) -> Result<SchemaResult> {
        let engine = self.engine(ctx)?;
        let plan = self.bounded(ctx, sql, engine.plan(sql, None)).await?;
        Ok(SchemaResult {
            schema: schema_bytes(&wire_schema(&plan.schema))?,
        })
    }

    /// A prepared statement: the handle, the result's schema and the
    /// parameters' (`$1`, `$2`, ... in order).
    pub async fn prepare(
        &self,
        ctx: &QueryContext,
        sql: String,
    ) -> Result<ActionCreatePreparedStatementResult> {
        let engine = self.engine(ctx)?;
        let plan = self
            .bounded(ctx, &sql, async { engine.plan_sql(&sql, None).await })
            .await?;
        let dataset_schema = plan.schema().as_arrow().clone();
        let mut params: Vec<(usize, Field)> = plan
            .get_parameter_fields()?
            .into_iter()
            .map(|(id, field)| {
                let position = id
                    .trim_start_matches('$')
                    .parse::<usize>()
                    .unwrap_or(usize::MAX);
                let data_type = field
                    .map(|f| f.data_type().clone())
                    .unwrap_or(DataType::Null);
                (position, Field::new(id, data_type, true))
            })
            .collect();
        params.sort_by_key(|(position, _)| *position);
        let parameter_schema = Schema::new(params.into_iter().map(|(_, f)| f).collect::<Vec<_>>());
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: QueryHandle::prepared(sql)?.to_bytes().into(),
            dataset_schema: schema_bytes(&wire_schema(&dataset_schema))?,
            parameter_schema: schema_bytes(&parameter_schema)?,
        })
    }

    /// Binds parameters by returning a new handle that carries them, and
    /// remembers the binding for clients that execute the handle they sent
    /// (see `bindings.rs`).
    pub fn bind(
        &self,
        ctx: &QueryContext,
        handle: QueryHandle,
        batches: &[RecordBatch],
    ) -> Result<DoPutPreparedStatementResult> {
        let bound = handle.clone().with_params(batches)?;
        self.bindings
            .remember(ctx.caller.name().as_deref(), &handle, &bound);
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(bound.to_bytes().into()),
        })
    }

    /// A prepared statement's handle as it runs: the one sent, or, when it
    /// carries no parameters, the parameters last bound to it by this
    /// caller on this server.
    pub fn with_binding(&self, ctx: &QueryContext, handle: QueryHandle) -> QueryHandle {
        if handle.params.is_some() {
            return handle;
        }
        match self.bindings.bound(ctx.caller.name().as_deref(), &handle) {
            Some(bound) => (*bound).clone(),
            None => handle,
        }
    }

    /// Plans and runs a statement: its result as Flight data, under the
    /// run slots, the time and row limits, the memory pool, and the record.
    pub async fn run(
        &self,
        ctx: &QueryContext,
        handle: &QueryHandle,
    ) -> Result<BoxedStream<FlightData>> {
        let engine = self.engine(ctx)?;
        let record = self.log.received(ctx, &handle.sql, handle.params.is_some());
        let deadline = tokio::time::Instant::now() + self.limits.timeout;
        let record = match self.admission.admit().await {
            Ok(slot) => record.permitted(slot),
            Err(err) => {
                record.failed(&err);
                return Err(err);
            }
        };
        let planned = async {
            let params = handle.param_values()?;
            tokio::time::timeout_at(deadline, engine.plan(&handle.sql, params))
                .await
                .map_err(|_| timed_out(self.limits.timeout))?
        }
        .await;
        let planned = match planned {
            Ok(planned) => planned,
            Err(err) => {
                record.failed(&err);
                return Err(err);
            }
        };
        let record = record.running(&planned);
        let batches = match planned.execute_with_memory(self.limits.memory_bytes) {
            Ok(batches) => batches,
            Err(err) => {
                record.failed(&err);
                return Err(err);
            }
        };
        let limits = StreamLimits {
            deadline,
            timeout: self.limits.timeout,
            max_rows: self.limits.max_rows,
        };
        let batches = recorded(Box::pin(enforce(batches, limits)), record);
        Ok(encode(planned.schema, batches, self.ipc.clone()))
    }
}
