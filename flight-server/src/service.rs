//! The Flight SQL service: each RPC is a few lines that call the session
//! (planning, execution), tickets (stateless handles) and metadata builders.
//!
//! [`FlightEndpoint`] wraps the Flight SQL service: it authenticates every
//! RPC but Handshake (the caller's principal then travels in the request's
//! extensions and picks the engine that answers), and it serves plain
//! Flight clients: a DoGet ticket, or a GetFlightInfo command, whose bytes
//! are SQL text rather than a Flight SQL message runs that SQL.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::ipc::writer::IpcWriteOptions;
use arrow::ipc::CompressionType;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionBeginTransactionRequest, ActionBeginTransactionResult,
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, ActionEndTransactionRequest, Any, CommandGetCatalogs,
    CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandStatementQuery,
    DoPutPreparedStatementResult, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, IpcMessage, PollInfo, PutResult, SchemaAsIpc,
    SchemaResult, Ticket,
};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::{stream, Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Request, Response, Status, Streaming};
use tracing::info;

use crate::access::Engines;
use crate::audit::{AuditEntry, AuditLog, TouchedGroup};
use crate::auth::{AuthError, Authenticator, Principal};
use crate::config::{IpcCompression, QueryLimits};
use crate::error::{Result, ServerError};
use crate::metadata::{self, SQL_INFO, TABLE_TYPE, VIEW_TYPE, XDBC_TYPES};
use crate::metrics::{Outcome, QueryMetrics};
use crate::session::QueryEngine;
use crate::tickets::QueryHandle;

type BoxedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

const FLIGHT_SQL_TYPE_PREFIX: &str = "type.googleapis.com/arrow.flight.protocol.sql.";

/// Who made a request: set by [`FlightEndpoint`] on every request it lets in.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// `None` when authentication is off.
    pub principal: Option<Arc<Principal>>,
    pub addr: Option<SocketAddr>,
}

impl Caller {
    fn of<T>(request: &Request<T>) -> Caller {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(|| Caller {
                principal: None,
                addr: request.remote_addr(),
            })
    }

    fn name(&self) -> Option<String> {
        self.principal.as_ref().map(|p| p.name.clone())
    }
}

/// How the server lets callers in and keeps its record.
#[derive(Clone, Default)]
pub struct Guard {
    /// `None`: authentication is off.
    pub auth: Option<Arc<Authenticator>>,
    pub audit: Option<Arc<AuditLog>>,
}

/// The Flight SQL half of the server.
#[derive(Clone)]
pub struct LogflightSql {
    engines: Arc<Engines>,
    guard: Guard,
    metrics: Arc<QueryMetrics>,
    /// How query results are encoded (compression).
    ipc: IpcWriteOptions,
    limits: QueryLimits,
    /// One permit per query allowed to run at once.
    slots: Arc<Semaphore>,
    /// Queries waiting for a permit.
    waiting: Arc<AtomicUsize>,
}

/// Records a query's outcome when its stream ends or is dropped: in the
/// metrics, and as one audit log line.
struct QueryRecord {
    metrics: Arc<QueryMetrics>,
    started: Instant,
    rows: u64,
    outcome: Option<Outcome>,
    /// The query's run slot, given back when the stream ends or is dropped.
    _slot: Option<OwnedSemaphorePermit>,
    audit: Option<(Arc<AuditLog>, AuditEntry)>,
    plan: Option<Arc<dyn ExecutionPlan>>,
    error: Option<Status>,
}

impl Drop for QueryRecord {
    fn drop(&mut self) {
        let outcome = self.outcome.unwrap_or(Outcome::Cancelled);
        if outcome == Outcome::Cancelled {
            info!(rows = self.rows, "query cancelled by the client");
        }
        self.metrics.record(outcome, self.rows, self.started);
        if let Some((log, mut entry)) = self.audit.take() {
            entry.rows = self.rows;
            entry.duration_ms = self.started.elapsed().as_millis() as u64;
            if let Some(plan) = &self.plan {
                entry.api_calls = plan_metric(plan.as_ref(), "api_calls");
                entry.events_scanned = plan_metric(plan.as_ref(), "events_fetched");
            }
            entry = match (&self.error, outcome) {
                (Some(status), _) => entry.failed(status),
                (None, Outcome::Cancelled) => AuditEntry {
                    outcome: "cancelled",
                    ..entry
                },
                (None, _) => entry,
            };
            log.record(&entry);
        }
    }
}

/// A counter summed over every node of a plan (e.g. the scans' API calls).
fn plan_metric(plan: &dyn ExecutionPlan, name: &str) -> u64 {
    let own = plan
        .metrics()
        .and_then(|m| m.sum_by_name(name))
        .map_or(0, |v| v.as_usize() as u64);
    own + plan
        .children()
        .into_iter()
        .map(|c| plan_metric(c.as_ref(), name))
        .sum::<u64>()
}

impl LogflightSql {
    pub fn new(
        engines: Arc<Engines>,
        guard: Guard,
        metrics: Arc<QueryMetrics>,
        compression: IpcCompression,
        limits: QueryLimits,
    ) -> Result<Self> {
        let codec = match compression {
            IpcCompression::None => None,
            IpcCompression::Lz4 => Some(CompressionType::LZ4_FRAME),
            IpcCompression::Zstd => Some(CompressionType::ZSTD),
        };
        let ipc = IpcWriteOptions::default().try_with_compression(codec)?;
        Ok(Self {
            engines,
            guard,
            metrics,
            ipc,
            limits,
            slots: Arc::new(Semaphore::new(limits.max_concurrent)),
            waiting: Arc::default(),
        })
    }

    /// A run slot: at once when one is free, after a wait in a bounded
    /// queue otherwise; refused when the queue is full.
    async fn admit(&self) -> Result<OwnedSemaphorePermit> {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(slot);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.limits.max_queued {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ServerError::Limit(format!(
                "{} queries are running and {} waiting (max_concurrent_queries, max_queued_queries); try again later",
                self.limits.max_concurrent, self.limits.max_queued
            )));
        }
        let slot =
            tokio::time::timeout(self.limits.timeout, Arc::clone(&self.slots).acquire_owned())
                .await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match slot {
            Ok(Ok(slot)) => Ok(slot),
            Ok(Err(_)) => Err(ServerError::Internal("the query slots were closed".into())),
            Err(_) => Err(ServerError::Timeout(format!(
                "waited {} s for a slot among {} running queries (query_timeout_secs)",
                self.limits.timeout.as_secs(),
                self.limits.max_concurrent
            ))),
        }
    }

    /// The engine that answers `caller`: its principal's view of the logs.
    fn engine(&self, caller: &Caller) -> Result<&QueryEngine, Status> {
        self.engines.for_caller(caller.principal.as_deref())
    }

    fn engine_of<T>(&self, request: &Request<T>) -> Result<&QueryEngine, Status> {
        self.engine(&Caller::of(request))
    }

    /// An audit entry about `caller`, when there is an audit log.
    fn audit_entry(
        &self,
        event: &'static str,
        rpc: &'static str,
        caller: &Caller,
        sql: Option<&str>,
    ) -> Option<(Arc<AuditLog>, AuditEntry)> {
        let log = self.guard.audit.as_ref()?;
        let mut entry = AuditEntry::new(event, rpc).client(caller.addr);
        entry.principal = caller.name();
        if let Some(sql) = sql {
            log.statement(&mut entry, sql);
        }
        Some((Arc::clone(log), entry))
    }

    /// Records a statement that failed before it ran (planning, a refusal).
    fn audit_failure(
        &self,
        rpc: &'static str,
        caller: &Caller,
        sql: &str,
        touched: Vec<TouchedGroup>,
        status: &Status,
    ) {
        if let Some((log, mut entry)) = self.audit_entry("query", rpc, caller, Some(sql)) {
            entry.groups = touched;
            log.record(&entry.failed(status));
        }
    }

    /// Plans a statement (GetFlightInfo, CreatePreparedStatement, GetSchema)
    /// under the same run slots and time limit as a query: planning runs
    /// the statement's insights() calls, which can take as long as a scan.
    /// A failure is on the audit record.
    async fn bounded<T>(
        &self,
        rpc: &'static str,
        caller: &Caller,
        sql: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T, Status> {
        let result = async {
            let _slot = self.admit().await?;
            tokio::time::timeout(self.limits.timeout, work)
                .await
                .map_err(|_| self.timed_out())?
        }
        .await;
        result.map_err(|e| {
            let status = Status::from(e);
            self.audit_failure(rpc, caller, sql, Vec::new(), &status);
            status
        })
    }

    /// FlightInfo for a statement: planned here so the schema is exact, then
    /// planned again by DoGet from the ticket alone.
    async fn query_info(
        &self,
        caller: &Caller,
        handle: &QueryHandle,
        ticket: Ticket,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo, Status> {
        let engine = self.engine(caller)?;
        let plan = self
            .bounded("GetFlightInfo", caller, &handle.sql, async {
                engine.plan(&handle.sql, handle.param_values()?).await
            })
            .await?;
        Ok(FlightInfo::new()
            .try_with_schema(&plan.schema)
            .map_err(ServerError::from)?
            .with_endpoint(arrow_flight::FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(descriptor)
            .with_ordered(true))
    }

    async fn query_stream(
        &self,
        caller: &Caller,
        handle: &QueryHandle,
    ) -> Result<BoxedStream<FlightData>, Status> {
        info!(sql = %handle.sql, params = handle.params.is_some(), principal = caller.name().as_deref().unwrap_or("-"), "query");
        let engine = self.engine(caller)?;
        let mut record = QueryRecord {
            metrics: Arc::clone(&self.metrics),
            started: Instant::now(),
            rows: 0,
            outcome: None,
            _slot: None,
            audit: self.audit_entry("query", "DoGet", caller, Some(&handle.sql)),
            plan: None,
            error: None,
        };
        let deadline = tokio::time::Instant::now() + self.limits.timeout;
        let planned = async {
            record._slot = Some(self.admit().await?);
            let plan =
                tokio::time::timeout_at(deadline, engine.plan(&handle.sql, handle.param_values()?))
                    .await
                    .map_err(|_| self.timed_out())??;
            if let Some((_, entry)) = record.audit.as_mut() {
                entry.groups = plan.touched.clone();
            }
            record.plan = Some(Arc::clone(&plan.plan));
            let batches = plan.execute_with_memory(self.limits.memory_bytes)?;
            Ok::<_, ServerError>((plan.schema, batches))
        }
        .await;
        let (schema, batches) = match planned {
            Ok(p) => p,
            Err(e) => {
                let status = Status::from(e);
                record.outcome = Some(Outcome::Failed);
                record.error = Some(status.clone());
                return Err(status);
            }
        };
        let limits = Limited {
            deadline,
            timeout: self.limits.timeout,
            max_rows: self.limits.max_rows,
        };
        Ok(encode_with(
            schema,
            recorded(batches, record, limits),
            self.ipc.clone(),
        ))
    }

    fn timed_out(&self) -> ServerError {
        timed_out(self.limits.timeout)
    }

    fn statement_ticket(handle: &QueryHandle) -> Ticket {
        let ticket = TicketStatementQuery {
            statement_handle: handle.to_bytes().into(),
        };
        Ticket::new(ticket.as_any().encode_to_vec())
    }

    /// FlightInfo for a metadata command: the ticket is the command itself.
    fn command_info(
        command: impl ProstMessageExt,
        schema: &Schema,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = Ticket::new(command.as_any().encode_to_vec());
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(ServerError::from)?
            .with_endpoint(arrow_flight::FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }
}

/// Counts rows into the query's record; an error ends the stream (nothing
/// partial follows it) and marks the query failed.
fn timed_out(timeout: Duration) -> ServerError {
    ServerError::Timeout(format!(
        "it ran longer than {} s (query_timeout_secs)",
        timeout.as_secs()
    ))
}

/// The limits a running query's stream enforces.
#[derive(Debug, Clone, Copy)]
struct Limited {
    deadline: tokio::time::Instant,
    timeout: Duration,
    max_rows: Option<u64>,
}

fn recorded(
    batches: SendableRecordBatchStream,
    record: QueryRecord,
    limits: Limited,
) -> impl Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static {
    stream::unfold(Some((batches, record)), move |state| async move {
        let (mut batches, mut record) = state?;
        let next = match tokio::time::timeout_at(limits.deadline, batches.next()).await {
            Ok(next) => next.map(|r| r.map_err(ServerError::from)),
            Err(_) => Some(Err(timed_out(limits.timeout))),
        };
        let next = match next {
            Some(Ok(batch))
                if limits
                    .max_rows
                    .is_some_and(|max| record.rows + batch.num_rows() as u64 > max) =>
            {
                Some(Err(ServerError::Limit(format!(
                    "the result has more than {} rows (max_result_rows); add a LIMIT or narrow the query",
                    limits.max_rows.unwrap_or_default()
                ))))
            }
            other => other,
        };
        match next {
            Some(Ok(batch)) => {
                record.rows += batch.num_rows() as u64;
                Some((Ok(batch), Some((batches, record))))
            }
            Some(Err(e)) => {
                record.outcome = Some(Outcome::Failed);
                let status = Status::from(e);
                record.error = Some(status.clone());
                tracing::warn!(code = ?status.code(), message = status.message(), "query failed while streaming");
                Some((Err(FlightError::Tonic(Box::new(status))), None))
            }
            None => {
                record.outcome.get_or_insert(Outcome::Ok);
                info!(
                    rows = record.rows,
                    ms = record.started.elapsed().as_millis() as u64,
                    "query done"
                );
                None
            }
        }
    })
}

fn encode<S>(schema: SchemaRef, batches: S) -> BoxedStream<FlightData>
where
    S: Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
{
    encode_with(schema, batches, IpcWriteOptions::default())
}

fn encode_with<S>(schema: SchemaRef, batches: S, ipc: IpcWriteOptions) -> BoxedStream<FlightData>
where
    S: Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
{
    Box::pin(
        FlightDataEncoderBuilder::new()
            .with_options(ipc)
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from),
    )
}

fn one_batch(batch: RecordBatch) -> Response<BoxedStream<FlightData>> {
    Response::new(encode(batch.schema(), stream::once(async { Ok(batch) })))
}

fn schema_bytes(schema: &Schema) -> Result<bytes::Bytes> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default()).try_into()?;
    Ok(bytes)
}

#[tonic::async_trait]
impl FlightSqlService for LogflightSql {
    type FlightService = LogflightSql;

    /// Without authentication, any credentials get the token `anonymous`
    /// (clients send it back; it is not checked). With it, Basic
    /// credentials get a bearer token that expires, and a valid bearer
    /// token is echoed back (see [`crate::auth`]).
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<BoxedStream<HandshakeResponse>>, Status> {
        let token = match &self.guard.auth {
            None => "anonymous".to_string(),
            Some(auth) => {
                let caller = Caller::of(&request);
                let outcome = handshake_login(Arc::clone(auth), request).await;
                if let Some((log, mut entry)) =
                    self.audit_entry("login", "Handshake", &caller, None)
                {
                    entry = match &outcome {
                        Ok((principal, _)) => AuditEntry {
                            principal: Some(principal.name.clone()),
                            ..entry
                        },
                        Err(status) => entry.failed(status),
                    };
                    log.record(&entry);
                }
                let (principal, token) = outcome?;
                info!(principal = %principal.name, client = ?caller.addr, "authenticated");
                token
            }
        };
        let response = HandshakeResponse {
            protocol_version: 0,
            payload: token.as_bytes().to_vec().into(),
        };
        let mut out = Response::new(Box::pin(stream::iter([Ok(response)])) as BoxedStream<_>);
        let header = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("token is not a valid header value"))?;
        out.metadata_mut().insert("authorization", header);
        Ok(out)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let handle = QueryHandle::for_sql(query.query)?;
        let ticket = Self::statement_ticket(&handle);
        let caller = Caller::of(&request);
        Ok(Response::new(
            self.query_info(&caller, &handle, ticket, request.into_inner())
                .await?,
        ))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let handle = QueryHandle::from_bytes(&query.prepared_statement_handle)?;
        let ticket = Ticket::new(query.as_any().encode_to_vec());
        let caller = Caller::of(&request);
        Ok(Response::new(
            self.query_info(&caller, &handle, ticket, request.into_inner())
                .await?,
        ))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let handle = QueryHandle::from_bytes(&ticket.statement_handle)?;
        Ok(Response::new(
            self.query_stream(&Caller::of(&request), &handle).await?,
        ))
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let handle = QueryHandle::from_bytes(&query.prepared_statement_handle)?;
        Ok(Response::new(
            self.query_stream(&Caller::of(&request), &handle).await?,
        ))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let caller = Caller::of(&request);
        let engine = self.engine(&caller)?;
        let plan = self
            .bounded("CreatePreparedStatement", &caller, &query.query, async {
                engine.plan_sql(&query.query, None).await
            })
            .await?;
        let dataset_schema = plan.schema().as_arrow().clone();
        let mut params: Vec<(usize, Field)> = plan
            .get_parameter_fields()
            .map_err(ServerError::from)?
            .into_iter()
            .map(|(id, field)| {
                let position = id
                    .trim_start_matches('$')
                    .parse::<usize>()
                    .unwrap_or(usize::MAX);
                let data_type = field
                    .map(|f| f.data_type().clone())
                    .unwrap_or(arrow::datatypes::DataType::Null);
                (position, Field::new(id, data_type, true))
            })
            .collect();
        params.sort_by_key(|(position, _)| *position);
        let parameter_schema = Schema::new(params.into_iter().map(|(_, f)| f).collect::<Vec<_>>());
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: QueryHandle::for_sql(query.query)?.to_bytes().into(),
            dataset_schema: schema_bytes(&dataset_schema)?,
            parameter_schema: schema_bytes(&parameter_schema)?,
        })
    }

    /// Binds parameters by returning a new handle that carries them.
    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let handle = QueryHandle::from_bytes(&query.prepared_statement_handle)?;
        let batches: Vec<RecordBatch> =
            arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(
                request.into_inner().map_err(FlightError::from),
            )
            .try_collect()
            .await
            .map_err(|e| ServerError::InvalidParameters(e.to_string()))?;
        let bound = handle.with_params(&batches)?;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(bound.to_bytes().into()),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        Ok(()) // handles are stateless: nothing to free
    }

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        _request: Request<Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        Ok(ActionBeginTransactionResult {
            transaction_id: b"read-only".to_vec().into(),
        })
    }

    async fn do_action_end_transaction(
        &self,
        _query: ActionEndTransactionRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        Ok(())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        Self::command_info(query, &schema, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let engine = self.engine_of(&request)?;
        Ok(one_batch(metadata::catalogs(engine, query).await?))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        Self::command_info(query, &schema, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let engine = self.engine_of(&request)?;
        Ok(one_batch(metadata::schemas(engine, query).await?))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        Self::command_info(query, &schema, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let engine = self.engine_of(&request)?;
        Ok(one_batch(metadata::tables(engine, query).await?))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        Self::command_info(query, &schema, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let mut builder = query.into_builder();
        builder.append(TABLE_TYPE);
        builder.append(VIEW_TYPE);
        Ok(one_batch(builder.build().map_err(ServerError::from)?))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&SQL_INFO).schema();
        Self::command_info(query, &schema, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let batch = query
            .into_builder(&SQL_INFO)
            .build()
            .map_err(ServerError::from)?;
        Ok(one_batch(batch))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder(&XDBC_TYPES).schema();
        Self::command_info(query, &schema, request.into_inner())
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<BoxedStream<FlightData>>, Status> {
        let batch = query
            .into_builder(&XDBC_TYPES)
            .build()
            .map_err(ServerError::from)?;
        Ok(one_batch(batch))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

fn unauthenticated(err: AuthError) -> Status {
    Status::unauthenticated(err.to_string())
}

/// The `authorization` header of a request, if any.
fn authorization<T>(request: &Request<T>) -> Result<Option<String>, Status> {
    match request.metadata().get("authorization") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.to_string()))
            .map_err(|_| unauthenticated(AuthError::Malformed("the header is not ASCII"))),
    }
}

/// Checks a Handshake's credentials: the `authorization` header (Basic
/// credentials, or a bearer token, which is echoed back), else a
/// `BasicAuth` message in the first request's payload. Argon2 runs on the
/// blocking pool: it takes tens of milliseconds of CPU by design.
async fn handshake_login(
    auth: Arc<Authenticator>,
    request: Request<Streaming<HandshakeRequest>>,
) -> Result<(Arc<Principal>, String), Status> {
    let login = |auth: Arc<Authenticator>, user: String, password: String| async move {
        tokio::task::spawn_blocking(move || auth.login(&user, &password))
            .await
            .map_err(|e| Status::internal(format!("login task failed: {e}")))?
            .map(|issued| (issued.principal, issued.token))
            .map_err(unauthenticated)
    };
    if let Some(value) = authorization(&request)? {
        let is_basic = value
            .trim_start()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("basic "));
        if is_basic {
            let (user, password) = crate::auth::parse_basic(&value).map_err(unauthenticated)?;
            return login(auth, user, password).await;
        }
        let principal = auth.verify_header(&value).map_err(unauthenticated)?;
        let token = value
            .trim()
            .split_once(' ')
            .map(|(_, t)| t.trim().to_string())
            .unwrap_or_default();
        return Ok((principal, token));
    }
    let mut stream = request.into_inner();
    let first = stream
        .message()
        .await?
        .ok_or_else(|| unauthenticated(AuthError::Missing))?;
    let basic = arrow_flight::BasicAuth::decode(first.payload.as_ref())
        .ok()
        .filter(|b| !b.username.is_empty())
        .ok_or_else(|| unauthenticated(AuthError::Missing))?;
    login(auth, basic.username, basic.password).await
}

/// arrow-flight answers bytes it cannot decode inside a known Flight SQL
/// message with INTERNAL, and an unknown message type with UNIMPLEMENTED
/// "The defined request is invalid"; both are the client's mistake. Our own
/// internal errors (always "internal error: ...") are left as they are.
fn client_fault(status: Status) -> Status {
    match status.code() {
        tonic::Code::Internal if !status.message().starts_with("internal error") => {
            Status::invalid_argument(format!("malformed request: {}", status.message()))
        }
        tonic::Code::Unimplemented if status.message().contains("defined request is invalid") => {
            Status::invalid_argument(
                "not a Flight SQL command logflight knows (send a Flight SQL message or SQL text)",
            )
        }
        _ => status,
    }
}

/// True when `bytes` hold a Flight SQL command (a protobuf `Any` of one of
/// the Flight SQL message types), as opposed to plain SQL text.
fn is_flight_sql_command(bytes: &[u8]) -> bool {
    Any::decode(bytes).is_ok_and(|any| any.type_url.starts_with(FLIGHT_SQL_TYPE_PREFIX))
}

fn sql_text(bytes: &[u8]) -> Result<String, Status> {
    let sql = std::str::from_utf8(bytes).map_err(|_| {
        ServerError::InvalidTicket(
            "ticket is neither a Flight SQL command nor UTF-8 SQL text".into(),
        )
    })?;
    if sql.trim().is_empty() {
        return Err(ServerError::InvalidTicket("empty ticket: send SQL text".into()).into());
    }
    Ok(sql.to_string())
}

/// The service registered with tonic: Flight SQL, plus SQL-text tickets for
/// plain Flight clients (e.g. `pyarrow.flight`).
#[derive(Clone)]
pub struct FlightEndpoint {
    sql: LogflightSql,
}

impl FlightEndpoint {
    pub fn new(
        engines: Arc<Engines>,
        guard: Guard,
        metrics: Arc<QueryMetrics>,
        compression: IpcCompression,
        limits: QueryLimits,
    ) -> Result<Self> {
        Ok(Self {
            sql: LogflightSql::new(engines, guard, metrics, compression, limits)?,
        })
    }

    /// Lets a request in, or refuses it with UNAUTHENTICATED; the caller
    /// goes into the request's extensions for the engine choice and the
    /// audit log.
    fn admit<T>(&self, rpc: &'static str, mut request: Request<T>) -> Result<Request<T>, Status> {
        let addr = request.remote_addr();
        let principal = match &self.sql.guard.auth {
            None => None,
            Some(auth) => {
                let checked = authorization(&request).and_then(|value| {
                    let value = value.ok_or_else(|| unauthenticated(AuthError::Missing))?;
                    auth.verify_header(&value).map_err(unauthenticated)
                });
                match checked {
                    Ok(principal) => Some(principal),
                    Err(status) => {
                        let caller = Caller {
                            principal: None,
                            addr,
                        };
                        if let Some((log, entry)) =
                            self.sql.audit_entry("denied", rpc, &caller, None)
                        {
                            log.record(&entry.failed(&status));
                        }
                        return Err(status);
                    }
                }
            }
        };
        request.extensions_mut().insert(Caller { principal, addr });
        Ok(request)
    }
}

#[tonic::async_trait]
impl FlightService for FlightEndpoint {
    type HandshakeStream = BoxedStream<HandshakeResponse>;
    type ListFlightsStream = BoxedStream<FlightInfo>;
    type DoGetStream = BoxedStream<FlightData>;
    type DoPutStream = BoxedStream<PutResult>;
    type DoActionStream = BoxedStream<arrow_flight::Result>;
    type ListActionsStream = BoxedStream<ActionType>;
    type DoExchangeStream = BoxedStream<FlightData>;

    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        FlightService::handshake(&self.sql, request).await
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let request = self.admit("ListFlights", request)?;
        FlightService::list_flights(&self.sql, request).await
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let request = self.admit("GetFlightInfo", request)?;
        if is_flight_sql_command(&request.get_ref().cmd) {
            return FlightService::get_flight_info(&self.sql, request)
                .await
                .map_err(client_fault);
        }
        let handle = QueryHandle::for_sql(sql_text(&request.get_ref().cmd)?)?;
        let ticket = LogflightSql::statement_ticket(&handle);
        let caller = Caller::of(&request);
        Ok(Response::new(
            self.sql
                .query_info(&caller, &handle, ticket, request.into_inner())
                .await?,
        ))
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        let request = self.admit("PollFlightInfo", request)?;
        FlightService::poll_flight_info(&self.sql, request).await
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let request = self.admit("GetSchema", request)?;
        let cmd = &request.get_ref().cmd;
        let sql = if is_flight_sql_command(cmd) {
            let any = Any::decode(cmd.as_ref()).map_err(|e| {
                Status::invalid_argument(format!("GetSchema: undecodable command: {e}"))
            })?;
            match any.unpack::<CommandStatementQuery>() {
                Ok(Some(q)) => q.query,
                Ok(None) => {
                    return Err(Status::unimplemented(
                        "GetSchema supports statement queries and SQL text",
                    ))
                }
                Err(e) => {
                    return Err(Status::invalid_argument(format!(
                        "GetSchema: malformed CommandStatementQuery: {e}"
                    )))
                }
            }
        } else {
            sql_text(cmd)?
        };
        let caller = Caller::of(&request);
        let engine = self.sql.engine(&caller)?;
        let plan = self
            .sql
            .bounded("GetSchema", &caller, &sql, engine.plan(&sql, None))
            .await?;
        let IpcMessage(schema) = SchemaAsIpc::new(&plan.schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(ServerError::from)?;
        Ok(Response::new(SchemaResult { schema }))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let request = self.admit("DoGet", request)?;
        if is_flight_sql_command(&request.get_ref().ticket) {
            return FlightService::do_get(&self.sql, request)
                .await
                .map_err(client_fault);
        }
        let handle = QueryHandle::new(sql_text(&request.get_ref().ticket)?);
        Ok(Response::new(
            self.sql
                .query_stream(&Caller::of(&request), &handle)
                .await?,
        ))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let request = self.admit("DoPut", request)?;
        FlightService::do_put(&self.sql, request)
            .await
            .map_err(client_fault)
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        let request = self.admit("DoAction", request)?;
        FlightService::do_action(&self.sql, request)
            .await
            .map_err(client_fault)
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        let request = self.admit("ListActions", request)?;
        FlightService::list_actions(&self.sql, request).await
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        let request = self.admit("DoExchange", request)?;
        FlightService::do_exchange(&self.sql, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_flight_sql_commands_from_sql_text() {
        let cmd = CommandStatementQuery {
            query: "SELECT 1".into(),
            transaction_id: None,
        };
        assert!(is_flight_sql_command(&cmd.as_any().encode_to_vec()));
        for text in [
            "SELECT 1",
            "select count(*) from \"/a\".all_log_streams",
            "",
        ] {
            assert!(!is_flight_sql_command(text.as_bytes()), "{text}");
        }
        assert!(sql_text(b"\xff\xfe").is_err());
        assert!(sql_text(b"  ").is_err());
    }
}
