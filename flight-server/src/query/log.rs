//! The record every query leaves: the Prometheus counters and one line of
//! the audit log, written when the query ends however it ends.
//!
//! A query's record moves through typed states, so a step cannot be
//! skipped or recorded twice: [`Received`] (the statement arrived),
//! [`Permitted`] (it holds a run slot), [`Running`] (planned; its groups
//! are known and its plan counts API calls), then `succeeded` or `failed`,
//! which consume it. A record dropped before either (the client went
//! away) is recorded as cancelled.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use datafusion::physical_plan::ExecutionPlan;
use futures::{stream, Stream, StreamExt};
use tracing::info;

use super::admission::RunSlot;
use super::{PlannedQuery, QueryContext};
use crate::audit::{AuditEntry, AuditLog};
use crate::auth::Principal;
use crate::error::ServerError;
use crate::metrics::{Outcome, QueryMetrics};

/// Where records go.
#[derive(Debug, Clone)]
pub struct QueryLog {
    metrics: Arc<QueryMetrics>,
    audit: Option<Arc<AuditLog>>,
}

impl QueryLog {
    pub fn new(metrics: Arc<QueryMetrics>, audit: Option<Arc<AuditLog>>) -> Self {
        Self { metrics, audit }
    }

    /// An audit entry about the context's caller, when there is an audit log.
    fn entry(
        &self,
        event: &'static str,
        ctx: &QueryContext,
        sql: Option<&str>,
    ) -> Option<(Arc<AuditLog>, AuditEntry)> {
        let log = self.audit.as_ref()?;
        let mut entry = AuditEntry::new(event, ctx.rpc).client(ctx.caller.addr);
        entry.principal = ctx.caller.name();
        if let Some(sql) = sql {
            log.statement(&mut entry, sql);
        }
        Some((Arc::clone(log), entry))
    }

    /// A statement that failed while being planned for GetFlightInfo,
    /// GetSchema or CreatePreparedStatement. Only the audit log has it: a
    /// query is counted when it runs, in DoGet.
    pub fn planning_failed(&self, ctx: &QueryContext, sql: &str, err: &ServerError) {
        if let Some((log, entry)) = self.entry("query", ctx, Some(sql)) {
            log.record(&entry.failed(err));
        }
    }

    /// A Handshake: who logged in, or why not.
    pub fn login(&self, ctx: &QueryContext, outcome: Result<&Principal, &ServerError>) {
        if let Some((log, entry)) = self.entry("login", ctx, None) {
            let entry = match outcome {
                Ok(principal) => AuditEntry {
                    principal: Some(principal.name.clone()),
                    ..entry
                },
                Err(err) => entry.failed(err),
            };
            log.record(&entry);
        }
    }

    /// A statement DoGet is about to plan and run.
    pub fn received(&self, ctx: &QueryContext, sql: &str, params: bool) -> QueryRecord<Received> {
        info!(sql = %sql, params, principal = ctx.caller.name().as_deref().unwrap_or("-"), "query");
        QueryRecord {
            entry: Some(Entry {
                metrics: Arc::clone(&self.metrics),
                audit: self.entry("query", ctx, Some(sql)),
                started: Instant::now(),
                slot: None,
            }),
            state: Received,
        }
    }
}

/// What every state of a record knows at its end.
pub trait State {
    fn rows(&self) -> u64 {
        0
    }
    fn plan(&self) -> Option<&Arc<dyn ExecutionPlan>> {
        None
    }
}

/// The statement arrived.
#[derive(Debug)]
pub struct Received;

/// It holds a run slot.
#[derive(Debug)]
pub struct Permitted;

/// It is planned and its rows are being sent.
pub struct Running {
    plan: Arc<dyn ExecutionPlan>,
    rows: u64,
}

impl State for Received {}
impl State for Permitted {}
impl State for Running {
    fn rows(&self) -> u64 {
        self.rows
    }
    fn plan(&self) -> Option<&Arc<dyn ExecutionPlan>> {
        Some(&self.plan)
    }
}

struct Entry {
    metrics: Arc<QueryMetrics>,
    audit: Option<(Arc<AuditLog>, AuditEntry)>,
    started: Instant,
    /// Given back when the record ends, however the query ends.
    slot: Option<RunSlot>,
}

/// One query's record; see the module docs.
pub struct QueryRecord<S: State> {
    /// Taken when the record ends.
    entry: Option<Entry>,
    state: S,
}

impl<S: State> QueryRecord<S> {
    /// The query failed in this state.
    pub fn failed(mut self, err: &ServerError) {
        self.end(Outcome::Failed, Some(err));
    }

    fn end(&mut self, outcome: Outcome, err: Option<&ServerError>) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let rows = self.state.rows();
        if outcome == Outcome::Cancelled {
            info!(rows, "query cancelled by the client");
        }
        entry.metrics.record(outcome, rows, entry.started);
        let Some((log, mut line)) = entry.audit else {
            return;
        };
        line.rows = rows;
        line.duration_ms = entry.started.elapsed().as_millis() as u64;
        if let Some(plan) = self.state.plan() {
            line.api_calls = plan_metric(plan.as_ref(), "api_calls");
            line.events_scanned = plan_metric(plan.as_ref(), "events_fetched");
            line.insights_queries = plan_metric(plan.as_ref(), "insights_queries");
            line.insights_bytes_scanned = plan_metric(plan.as_ref(), "insights_bytes_scanned");
            line.insights_records_scanned = plan_metric(plan.as_ref(), "insights_records_scanned");
        }
        let line = match (err, outcome) {
            (Some(err), _) => line.failed(err),
            (None, Outcome::Cancelled) => AuditEntry {
                outcome: "cancelled",
                ..line
            },
            (None, _) => line,
        };
        log.record(&line);
    }

    fn into_state<T: State>(mut self, state: T) -> QueryRecord<T> {
        QueryRecord {
            entry: self.entry.take(),
            state,
        }
    }
}

impl<S: State> Drop for QueryRecord<S> {
    fn drop(&mut self) {
        self.end(Outcome::Cancelled, None);
    }
}

impl QueryRecord<Received> {
    pub fn permitted(mut self, slot: RunSlot) -> QueryRecord<Permitted> {
        if let Some(entry) = self.entry.as_mut() {
            entry.slot = Some(slot);
        }
        self.into_state(Permitted)
    }
}

impl QueryRecord<Permitted> {
    /// Planned: the record learns the groups it names and the plan that
    /// counts its API calls.
    pub fn running(mut self, planned: &PlannedQuery) -> QueryRecord<Running> {
        if let Some((_, line)) = self.entry.as_mut().and_then(|e| e.audit.as_mut()) {
            line.groups = planned.touched.clone();
        }
        self.into_state(Running {
            plan: Arc::clone(&planned.plan),
            rows: 0,
        })
    }
}

impl QueryRecord<Running> {
    pub fn add_rows(&mut self, rows: usize) {
        self.state.rows += rows as u64;
    }

    pub fn succeeded(mut self) {
        info!(
            rows = self.state.rows,
            ms = self
                .entry
                .as_ref()
                .map_or(0, |e| e.started.elapsed().as_millis() as u64),
            "query done"
        );
        self.end(Outcome::Ok, None);
    }
}

/// Counts a running query's rows into its record, and ends the record
/// with the stream: succeeded at its end, failed at its first error (the
/// stream ends there), cancelled when the stream is dropped before.
pub fn recorded<S>(
    batches: S,
    record: QueryRecord<Running>,
) -> impl Stream<Item = Result<RecordBatch, ServerError>> + Send + 'static
where
    S: Stream<Item = Result<RecordBatch, ServerError>> + Send + Unpin + 'static,
{
    stream::unfold(Some((batches, record)), |state| async move {
        let (mut batches, mut record) = state?;
        match batches.next().await {
            Some(Ok(batch)) => {
                record.add_rows(batch.num_rows());
                Some((Ok(batch), Some((batches, record))))
            }
            Some(Err(err)) => {
                tracing::warn!(code = ?err.code(), message = %err.message(), "query failed while streaming");
                record.failed(&err);
                Some((Err(err), None))
            }
            None => {
                record.succeeded();
                None
            }
        }
    })
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

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
