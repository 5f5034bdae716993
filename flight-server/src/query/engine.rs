//! Builds the DataFusion session and turns SQL into plans, read-only.
//!
//! Every statement is parsed first and checked against an allow-list
//! (queries, EXPLAIN, SHOW): DDL, DML, COPY, CREATE EXTERNAL TABLE and SET
//! never reach the planner, so no SQL can read or write files on the server.
//! Before planning, every referenced log group and stream is resolved
//! asynchronously, so unknown or ambiguous names fail with messages that
//! name them.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::information_schema::INFORMATION_SCHEMA_TABLES;
use datafusion::common::{ParamValues, TableReference};
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext, SessionState};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{execute_stream, ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use logflight_connector::catalog::find_catalog;
use logflight_connector::cluster::NodeName;
use logflight_connector::insights_pushdown::rule::InsightsAggregatePushdown;
use logflight_connector::table_functions::insights::InsightsFunctions;
use logflight_connector::table_functions::json_fields::JsonFieldsFunction;
use logflight_connector::{ConnectorError, LogCatalog, META_SCHEMA};
use tracing::debug;

use super::checks::{
    check_depth, check_operator_count, check_read_only, number_question_marks, unquoted_group_hint,
};
use super::column_names::trino_column_names;
use super::show::{show_of, show_sql, Show};
use crate::audit::TouchedGroup;
use crate::cluster::Cluster;
use crate::error::{Result, ServerError};

/// The schema used for names without a log group; it never exists, so a bare
/// table name gets a message asking for the group.
const NO_SCHEMA: &str = "public";
const INFORMATION_SCHEMA: &str = "information_schema";

/// Plans and runs SQL over the configured catalogs.
#[derive(Clone)]
pub struct QueryEngine {
    ctx: SessionContext,
    catalogs: BTreeMap<String, LogCatalog>,
    default_catalog: String,
    /// One per engine, so one per principal: a cached result is only
    /// ever served to the view that ran it.
    insights: Arc<InsightsFunctions>,
    /// The cluster this node is part of, if any.
    cluster: Option<Arc<Cluster>>,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine")
            .field("catalogs", &self.catalogs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A planned statement: what DoGet streams and GetFlightInfo describes.
pub struct PlannedQuery {
    pub plan: Arc<dyn ExecutionPlan>,
    pub schema: SchemaRef,
    /// The log groups the statement names, for the audit log.
    pub touched: Vec<TouchedGroup>,
    ctx: SessionContext,
}

impl PlannedQuery {
    pub fn execute(&self) -> Result<SendableRecordBatchStream> {
        Ok(execute_stream(Arc::clone(&self.plan), self.ctx.task_ctx())?)
    }

    /// Runs with a memory pool of its own: a sort, join or aggregation
    /// that needs more than `bytes` fails with ResourcesExhausted instead
    /// of taking the server's memory from other queries. Spilling to disk
    /// is off: no query writes files on the server.
    pub fn execute_with_memory(&self, bytes: usize) -> Result<SendableRecordBatchStream> {
        let runtime = bounded_runtime(&self.ctx, bytes)?;
        let task = TaskContext::from(&self.ctx.state()).with_runtime(runtime);
        Ok(execute_stream(Arc::clone(&self.plan), Arc::new(task))?)
    }
}

/// A runtime of `ctx`'s object stores (the archives', which the session
/// registered) with a pool of `bytes` and no disk: what a query runs in,
/// here or, for the parts other nodes send, on a node of a cluster.
fn bounded_runtime(ctx: &SessionContext, bytes: usize) -> Result<Arc<RuntimeEnv>> {
    Ok(RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::clone(&ctx.runtime_env().object_store_registry))
        .with_memory_limit(bytes, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()?)
}

impl QueryEngine {
    /// The first catalog is the default for names without a catalog.
    #[cfg(test)]
    pub fn new(catalogs: Vec<LogCatalog>) -> Result<Self> {
        Self::new_in(catalogs, None)
    }

    /// An engine of a node of `cluster`: its scans run on the nodes owning
    /// their accounts (docs/cluster.md).
    pub fn new_in(catalogs: Vec<LogCatalog>, cluster: Option<Arc<Cluster>>) -> Result<Self> {
        let default_catalog = catalogs
            .first()
            .map(|c| c.name().to_string())
            .ok_or_else(|| ServerError::Config("no catalog configured".into()))?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(&default_catalog, NO_SCHEMA);
        let mut ctx = match &cluster {
            None => SessionContext::new_with_config(config),
            Some(cluster) => {
                let config = config.with_extension(Arc::new(NodeName(cluster.me().to_string())));
                let builder = SessionStateBuilder::new()
                    .with_config(config)
                    .with_default_features();
                SessionContext::new_with_state(cluster.coordinating(builder)?.build())
            }
        };
        // json_get_str(message, 'userIdentity', 'type'), message->>'eventName', ...
        datafusion_functions_json::register_all(&mut ctx)?;
        logflight_connector::sql_functions::register(&ctx);
        InsightsFunctions::register_placeholders(&ctx);
        // Aggregations Logs Insights answers exactly go there (each log
        // table's --insights-pushdown decides).
        ctx.add_optimizer_rule(Arc::new(InsightsAggregatePushdown));
        let mut by_name = BTreeMap::new();
        for catalog in catalogs {
            if let Some(archive) = catalog.archive() {
                let root = archive.root();
                ctx.runtime_env()
                    .register_object_store(root.url().as_ref(), Arc::clone(root.store()));
            }
            ctx.register_catalog(catalog.name(), Arc::new(catalog.clone()));
            by_name.insert(catalog.name().to_string(), catalog);
        }
        ctx.register_udtf(
            "json_fields",
            Arc::new(JsonFieldsFunction::new(
                by_name.clone(),
                default_catalog.clone(),
            )),
        );
        Ok(Self {
            ctx,
            cluster,
            insights: Arc::new(InsightsFunctions::new(
                by_name.clone(),
                default_catalog.clone(),
            )),
            catalogs: by_name,
            default_catalog,
        })
    }

    pub fn catalogs(&self) -> impl Iterator<Item = &LogCatalog> {
        self.catalogs.values()
    }

    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// A runtime with a memory pool of `bytes` and no disk (see
    /// [`PlannedQuery::execute_with_memory`]).
    pub fn bounded_runtime(&self, bytes: usize) -> Result<Arc<RuntimeEnv>> {
        bounded_runtime(&self.ctx, bytes)
    }

    /// Parses, checks, resolves names and plans one statement; `$1`-style
    /// (or `?`) placeholders take `params` when given.
    pub async fn plan_sql(&self, sql: &str, params: Option<ParamValues>) -> Result<LogicalPlan> {
        Ok(self.plan_sql_touching(sql, params).await?.0)
    }

    /// [`Self::plan_sql`], and the log groups the statement names.
    async fn plan_sql_touching(
        &self,
        sql: &str,
        params: Option<ParamValues>,
    ) -> Result<(LogicalPlan, Vec<TouchedGroup>)> {
        let mut state = self.ctx.state();
        let statement = parse(&state, sql)?;
        // SHOW TABLES FROM lists its own group's streams: not every group's.
        let (statement, streams_listed) = match show_of(&statement)? {
            Some(show) => (
                parse(&state, &self.show_query(&show).await?)?,
                matches!(show, Show::TablesIn { .. }),
            ),
            None => (statement, false),
        };
        let references = state.resolve_table_references(&statement)?;
        let mut touched = self
            .prepare_references(&references, &statement, streams_listed)
            .await?;
        // insights() calls run now: planning needs their result's columns.
        let read = self
            .insights
            .prepare(&self.ctx, &mut state, &statement)
            .await?;
        touched.extend(
            read.into_iter()
                .map(|(catalog, log_group)| TouchedGroup { catalog, log_group }),
        );
        let plan = state.statement_to_plan(statement).await?;
        read_only_plan()
            .verify_plan(&plan)
            .map_err(|e| ServerError::ReadOnly(e.strip_backtrace()))?;
        touched.sort();
        touched.dedup();
        let plan = trino_column_names(plan)?;
        Ok((bind(plan, params)?, touched))
    }

    /// Plans a statement down to its physical plan (no I/O besides name
    /// resolution); the schema is what clients see in FlightInfo and DoGet.
    pub async fn plan(&self, sql: &str, params: Option<ParamValues>) -> Result<PlannedQuery> {
        let bound = params.is_some();
        let (logical, touched) = self.plan_sql_touching(sql, params).await?;
        if !bound {
            unbound_parameters(&logical)?;
        }
        let state = self.ctx.state();
        let plan = state.create_physical_plan(&logical).await?;
        let schema = plan.schema();
        Ok(PlannedQuery {
            plan,
            schema,
            touched,
            ctx: self.ctx.clone(),
        })
    }

    /// Resolves what a statement references before planning: each log group
    /// and stream (with errors that name them), and the listing that
    /// information_schema needs: the groups for `schemata`, every group's
    /// streams for the other tables (unless `streams_listed` says the
    /// caller listed the streams the statement reads).
    async fn prepare_references(
        &self,
        references: &[TableReference],
        statement: &DfStatement,
        streams_listed: bool,
    ) -> Result<Vec<TouchedGroup>> {
        let mut touched = Vec::new();
        let mut listing = if matches!(
            statement,
            DfStatement::Statement(s) if matches!(**s, SqlStatement::ShowTables { .. } | SqlStatement::ShowColumns { .. })
        ) {
            Listing::Streams
        } else {
            Listing::Nothing
        };
        for reference in references {
            let catalog_name = reference.catalog().unwrap_or(&self.default_catalog);
            let catalog = find_catalog(&self.catalogs, catalog_name, "")?;
            let mut touch = |log_group: &str| {
                touched.push(TouchedGroup {
                    catalog: catalog.name().to_string(),
                    log_group: log_group.to_string(),
                })
            };
            match reference.schema() {
                Some(INFORMATION_SCHEMA) => {
                    if !INFORMATION_SCHEMA_TABLES.contains(&reference.table()) {
                        return Err(ServerError::TableNotFound(format!(
                            "{}.{INFORMATION_SCHEMA}.{}",
                            catalog.name(),
                            reference.table()
                        )));
                    }
                    listing = listing.max(match reference.table() {
                        "schemata" => Listing::Groups,
                        _ => Listing::Streams,
                    });
                    touch(INFORMATION_SCHEMA);
                }
                Some(schema) => match catalog.prepare_table(schema, reference.table()).await {
                    Ok(Some(group)) => touch(&group),
                    Ok(None) => touch(META_SCHEMA),
                    Err(e) => return Err(self.found_elsewhere(catalog, e, reference).await.into()),
                },
                // Table functions such as generate_series(1, 3) are references too.
                None if self.ctx.state().table_functions().contains_key(reference.table()) => {}
                None => {
                    return Err(ServerError::Connector(
                        ConnectorError::InvalidRequest(format!(
                            "table {:?} needs its log group: write \"<log group>\".\"{}\" (e.g. \"/aws/lambda/my-function\".all_log_streams)",
                            reference.table(),
                            reference.table()
                        )),
                    ))
                }
            }
        }
        if streams_listed {
            listing = listing.min(Listing::Groups);
        }
        match listing {
            Listing::Nothing => {}
            Listing::Groups => {
                debug!("statement reads information_schema: listing every group");
                for catalog in self.catalogs.values() {
                    catalog.groups().await?;
                }
            }
            Listing::Streams => {
                debug!("statement reads information_schema: listing every group's streams");
                for catalog in self.catalogs.values() {
                    catalog.prepare_listing().await?;
                }
            }
        }
        Ok(touched)
    }
}

/// What information_schema needs listed before planning, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Listing {
    Nothing,
    /// Every catalog's groups (`schemata`).
    Groups,
    /// Every group's streams too (`tables`, `columns`, SHOW TABLES).
    Streams,
}

impl QueryEngine {
    /// The query over information_schema that answers a SHOW statement
    /// DataFusion does not plan; the group of `SHOW TABLES FROM` is
    /// resolved first, so a wrong name gets the usual "not found" help,
    /// and its streams (only its) are listed.
    async fn show_query(&self, show: &Show) -> Result<String> {
        let catalog_name = match show {
            Show::Schemas {
                catalog: Some(c), ..
            }
            | Show::TablesIn {
                catalog: Some(c), ..
            } => c.as_str(),
            _ => &self.default_catalog,
        };
        let catalog = find_catalog(&self.catalogs, catalog_name, "")?;
        let group = match show {
            Show::TablesIn { group, .. } => {
                let group = catalog
                    .resolve_group(group)
                    .await
                    .map_err(|e| e.searched_in(&catalog.place()))?
                    .name;
                catalog.streams(&group).await?;
                group
            }
            _ => String::new(),
        };
        Ok(show_sql(show, catalog.name(), &group))
    }

    /// `err`, a log group not found in `searched`, with a pointer to the
    /// other catalogs that do have a group of that name (another account
    /// or region); any other error unchanged.
    async fn found_elsewhere(
        &self,
        searched: &LogCatalog,
        err: ConnectorError,
        reference: &TableReference,
    ) -> ConnectorError {
        let ConnectorError::GroupNotFound { name, hint } = err else {
            return err;
        };
        let mut elsewhere = Vec::new();
        for other in self.catalogs.values() {
            if other.name() == searched.name() {
                continue;
            }
            if let Ok(group) = other.resolve_group(&name).await {
                elsewhere.push(format!(
                    "{} has it: write {:?}.{:?}.{:?}",
                    other.place(),
                    other.name(),
                    group.name,
                    reference.table()
                ));
            }
        }
        let hint = match elsewhere.is_empty() {
            true => hint,
            false => format!("{hint}; {}", elsewhere.join("; ")),
        };
        ConnectorError::GroupNotFound { name, hint }
    }
}

/// What a plan may contain: no DDL, DML or SET, whatever the statement said.
fn read_only_plan() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// One statement, parsed and checked (see [`super::checks`]).
fn parse(state: &SessionState, sql: &str) -> Result<DfStatement> {
    check_operator_count(sql)?;
    let sql = number_question_marks(sql);
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(&sql, &dialect).map_err(|e| match e {
        DataFusionError::NotImplemented(m) if m.contains("single SQL statement") => {
            ServerError::Connector(ConnectorError::InvalidRequest(
                "only a single SQL statement is allowed per request; send the statements one by one".into(),
            ))
        }
        DataFusionError::SQL(..) if unquoted_group_hint(&sql).is_some() => ServerError::Connector(
            ConnectorError::InvalidRequest(unquoted_group_hint(&sql).unwrap_or_default()),
        ),
        other => other.into(),
    })?;
    check_depth(&statement)?;
    check_read_only(&statement)?;
    Ok(statement)
}

/// The plan with its placeholders bound; a list of the wrong length is the
/// client's mistake, never silently cut or padded.
fn bind(plan: LogicalPlan, params: Option<ParamValues>) -> Result<LogicalPlan> {
    let Some(values) = params else {
        return Ok(plan);
    };
    if let ParamValues::List(list) = &values {
        let wanted = plan.get_parameter_types()?.len();
        if list.len() != wanted {
            return Err(ServerError::InvalidParameters(format!(
                "the statement takes {wanted} parameters ($1 to ${wanted}), {} were bound",
                list.len()
            )));
        }
    }
    Ok(plan.with_param_values(values)?)
}

/// A statement with placeholders run without values: refused with what to
/// do, rather than DataFusion's "Placeholder '$1' was not provided a value"
/// from deep in execution.
fn unbound_parameters(plan: &LogicalPlan) -> Result<()> {
    let mut names: Vec<String> = plan.get_parameter_fields()?.into_keys().collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort_by_key(|n| (n.len(), n.clone()));
    Err(ServerError::InvalidParameters(format!(
        "the statement has parameters ({}) and no values were bound: prepare it, bind one row \
         of values with DoPut, then execute; a client that executes the handle it created \
         (not the one DoPut returned) must reach the same server while it keeps the \
         binding (docs/clients.md)",
        names.join(", "),
    )))
}
