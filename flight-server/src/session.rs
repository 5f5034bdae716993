//! Builds the DataFusion session and turns SQL into plans, read-only.
//!
//! Every statement is parsed first and checked against an allow-list
//! (queries, EXPLAIN, SHOW): DDL, DML, COPY, CREATE EXTERNAL TABLE and SET
//! never reach the planner, so no SQL can read or write files on the server.
//! Before planning, every referenced log group and stream is resolved
//! asynchronously, so unknown or ambiguous names fail with messages that
//! name them.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::common::{ParamValues, TableReference};
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{execute_stream, ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Statement as SqlStatement, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use logflight_connector::catalog::find_catalog;
use logflight_connector::json_fields::JsonFieldsFunction;
use logflight_connector::{LogCatalog, META_SCHEMA};
use tracing::debug;

use crate::audit::TouchedGroup;
use crate::error::{Result, ServerError};
use crate::insights::{self, InsightsCache, PreparedCalls};

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
    insights: Arc<InsightsCache>,
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
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(bytes, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()?;
        let task = TaskContext::from(&self.ctx.state()).with_runtime(runtime);
        Ok(execute_stream(Arc::clone(&self.plan), Arc::new(task))?)
    }
}

impl QueryEngine {
    /// The first catalog is the default for names without a catalog.
    pub fn new(catalogs: Vec<LogCatalog>) -> Result<Self> {
        let default_catalog = catalogs
            .first()
            .map(|c| c.name().to_string())
            .ok_or_else(|| ServerError::Config("no catalog configured".into()))?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(&default_catalog, NO_SCHEMA);
        let mut ctx = SessionContext::new_with_config(config);
        // json_get_str(message, 'userIdentity', 'type'), message->>'eventName', ...
        datafusion_functions_json::register_all(&mut ctx)?;
        // Stand-ins that only explain; each statement with calls gets its own.
        for (name, function) in insights::functions(Arc::default()) {
            ctx.register_udtf(name, function);
        }
        let mut by_name = BTreeMap::new();
        for catalog in catalogs {
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
            catalogs: by_name,
            default_catalog,
            insights: Arc::default(),
        })
    }

    pub fn catalogs(&self) -> impl Iterator<Item = &LogCatalog> {
        self.catalogs.values()
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
        check_operator_count(sql)?;
        let sql = number_question_marks(sql);
        let mut state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(&sql, &dialect).map_err(|e| match e {
            DataFusionError::NotImplemented(m) if m.contains("single SQL statement") => {
                ServerError::Connector(logflight_connector::ConnectorError::InvalidRequest(
                    "only a single SQL statement is allowed per request; send the statements one by one".into(),
                ))
            }
            other => other.into(),
        })?;
        check_depth(&statement)?;
        check_read_only(&statement)?;
        let mut touched = self
            .prepare_references(&state.resolve_table_references(&statement)?, &statement)
            .await?;
        let calls = insights::find_calls(&statement);
        if !calls.is_empty() {
            let prepared = Arc::new(self.run_insights(&calls, &mut touched).await?);
            for (name, function) in insights::functions(prepared) {
                state.register_udtf(name, function);
            }
        }
        let plan = state.statement_to_plan(statement).await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| ServerError::ReadOnly(e.strip_backtrace()))?;
        touched.sort();
        touched.dedup();
        match params {
            Some(values) => {
                if let ParamValues::List(list) = &values {
                    let wanted = plan.get_parameter_types()?.len();
                    if list.len() != wanted {
                        return Err(ServerError::InvalidParameters(format!(
                            "the statement takes {wanted} parameters ($1 to ${wanted}), {} were bound",
                            list.len()
                        )));
                    }
                }
                Ok((plan.with_param_values(values)?, touched))
            }
            None => Ok((plan, touched)),
        }
    }

    /// Plans a statement down to its physical plan (no I/O besides name
    /// resolution); the schema is what clients see in FlightInfo and DoGet.
    pub async fn plan(&self, sql: &str, params: Option<ParamValues>) -> Result<PlannedQuery> {
        let (logical, touched) = self.plan_sql_touching(sql, params).await?;
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

    /// Runs a statement's Logs Insights calls, so that planning knows their
    /// columns (see [`crate::insights`]).
    async fn run_insights(
        &self,
        calls: &[insights::InsightsCall],
        touched: &mut Vec<TouchedGroup>,
    ) -> Result<PreparedCalls> {
        let prepared = PreparedCalls::default();
        let constants = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        for call in calls {
            let row = self
                .ctx
                .sql_with_options(&insights::evaluation_sql(call), constants)
                .await?
                .collect()
                .await?;
            let Some(row) = row.into_iter().find(|b| b.num_rows() > 0) else {
                return Err(ServerError::Internal("insights(): no argument row".into()));
            };
            let args = insights::parse_args(call.language, &row)?;
            let catalog = args.catalog.as_deref().unwrap_or(&self.default_catalog);
            touched.extend(args.request.groups.iter().map(|g| TouchedGroup {
                catalog: catalog.to_string(),
                log_group: g.clone(),
            }));
            let batch = insights::run_call(
                &self.insights,
                &self.catalogs,
                &self.default_catalog,
                call,
                &args,
            )
            .await?;
            prepared.push(call.language, args.request.query, batch);
        }
        Ok(prepared)
    }

    /// Resolves what a statement references before planning: each log group
    /// and stream (with errors that name them), and the full listing when
    /// information_schema is read.
    async fn prepare_references(
        &self,
        references: &[TableReference],
        statement: &DfStatement,
    ) -> Result<Vec<TouchedGroup>> {
        let mut touched = Vec::new();
        let mut listing = matches!(
            statement,
            DfStatement::Statement(s) if matches!(**s, SqlStatement::ShowTables { .. } | SqlStatement::ShowColumns { .. })
        );
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
                    listing = true;
                    touch(INFORMATION_SCHEMA);
                }
                Some(schema) => match catalog.prepare_table(schema, reference.table()).await? {
                    Some(group) => touch(&group),
                    None => touch(META_SCHEMA),
                },
                // Table functions such as generate_series(1, 3) are references too.
                None if self.ctx.state().table_functions().contains_key(reference.table()) => {}
                None => {
                    return Err(ServerError::Connector(
                        logflight_connector::ConnectorError::InvalidRequest(format!(
                            "table {:?} needs its log group: write \"<log group>\".\"{}\" (e.g. \"/aws/lambda/my-function\".all_log_streams)",
                            reference.table(),
                            reference.table()
                        )),
                    ))
                }
            }
        }
        if listing {
            debug!("statement reads information_schema: listing every group's streams");
            for catalog in self.catalogs.values() {
                catalog.prepare_listing().await?;
            }
        }
        Ok(touched)
    }
}

/// Deepest expression nesting planned. DataFusion's planner recurses over
/// expressions, and a chain such as `1+1+...+1` is parsed without
/// recursion into a tree as deep as it is long: past this depth a
/// statement is refused rather than risking the server's stack.
const MAX_EXPRESSION_DEPTH: usize = 1_000;
/// Operators in one statement, checked on the tokens before parsing, so a
/// tree too deep even to drop safely is never built.
const MAX_OPERATORS: usize = 100_000;

fn too_complex(what: String) -> ServerError {
    ServerError::Connector(logflight_connector::ConnectorError::InvalidRequest(
        format!("the statement is too complex: {what}; split it or use IN (...) lists"),
    ))
}

fn check_operator_count(sql: &str) -> Result<()> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(()); // the parser reports it
    };
    let operators = tokens
        .iter()
        .filter(|t| match t {
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => true,
            Token::Word(w) => {
                w.value.eq_ignore_ascii_case("and") || w.value.eq_ignore_ascii_case("or")
            }
            _ => false,
        })
        .count();
    if operators > MAX_OPERATORS {
        return Err(too_complex(format!(
            "{operators} operators (at most {MAX_OPERATORS})"
        )));
    }
    Ok(())
}

/// Refuses expressions nested deeper than [`MAX_EXPRESSION_DEPTH`]; the
/// walk stops at that depth, so it never recurses further itself.
fn check_depth(statement: &DfStatement) -> Result<()> {
    struct Depth {
        now: usize,
    }
    impl Visitor for Depth {
        type Break = ();
        fn pre_visit_expr(&mut self, _expr: &SqlExpr) -> ControlFlow<()> {
            self.now += 1;
            if self.now > MAX_EXPRESSION_DEPTH {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        fn post_visit_expr(&mut self, _expr: &SqlExpr) -> ControlFlow<()> {
            self.now -= 1;
            ControlFlow::Continue(())
        }
    }
    let DfStatement::Statement(s) = statement else {
        return Ok(());
    };
    match s.visit(&mut Depth { now: 0 }) {
        ControlFlow::Break(()) => Err(too_complex(format!(
            "expressions nested more than {MAX_EXPRESSION_DEPTH} deep"
        ))),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Refuses everything but queries, EXPLAIN of those, and SHOW.
fn check_read_only(statement: &DfStatement) -> Result<()> {
    match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            SqlStatement::Query(_)
            | SqlStatement::ShowTables { .. }
            | SqlStatement::ShowColumns { .. }
            | SqlStatement::ShowFunctions { .. }
            | SqlStatement::ShowVariable { .. } => Ok(()),
            other => Err(ServerError::ReadOnly(statement_kind(&other.to_string()))),
        },
        DfStatement::Explain(explain) => check_read_only(&explain.statement),
        DfStatement::CreateExternalTable(_) => {
            Err(ServerError::ReadOnly("CREATE EXTERNAL TABLE".into()))
        }
        DfStatement::CopyTo(_) => Err(ServerError::ReadOnly("COPY".into())),
        DfStatement::Reset(_) => Err(ServerError::ReadOnly("RESET".into())),
    }
}

/// The leading keywords of a statement, e.g. `CREATE TABLE`, for messages.
fn statement_kind(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(2).collect();
    match words.as_slice() {
        [first, second] if matches!(first.to_uppercase().as_str(), "CREATE" | "DROP" | "ALTER") => {
            format!("{} {}", first.to_uppercase(), second.to_uppercase())
        }
        [first, ..] => first.to_uppercase(),
        [] => "an empty statement".into(),
    }
}

/// Rewrites JDBC/ODBC-style `?` placeholders to DataFusion's `$1`, `$2`, ...
/// Works on tokens, so a `?` inside a string literal is left alone.
fn number_question_marks(sql: &str) -> String {
    if !sql.contains('?') {
        return sql.to_string();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.to_string(); // the parser will report the error
    };
    let mut n = 0;
    tokens
        .into_iter()
        .map(|t| match t {
            Token::Placeholder(p) if p == "?" => {
                n += 1;
                format!("${n}")
            }
            other => other.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::config::Dialect;

    #[test]
    fn question_marks_become_numbered_placeholders() {
        let cases = [
            ("SELECT 1", "SELECT 1"),
            ("SELECT ? + ?", "SELECT $1 + $2"),
            ("SELECT '?' , ?", "SELECT '?' , $1"),
            (
                "SELECT \"a?\" FROM t WHERE x = ?",
                "SELECT \"a?\" FROM t WHERE x = $1",
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(number_question_marks(sql), want);
        }
    }

    #[test]
    fn only_reads_are_allowed() {
        let state = SessionContext::new().state();
        let allowed = ["SELECT 1", "EXPLAIN SELECT 1", "SHOW TABLES", "SHOW ALL"];
        for sql in allowed {
            let st = state.sql_to_statement(sql, &Dialect::Generic).unwrap();
            assert!(check_read_only(&st).is_ok(), "{sql}");
        }
        let refused = [
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "CREATE EXTERNAL TABLE",
            ),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("EXPLAIN COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
            ("INSERT INTO t VALUES (1)", "INSERT"),
            ("DROP TABLE t", "DROP TABLE"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("DELETE FROM t", "DELETE"),
        ];
        for (sql, kind) in refused {
            let st = state.sql_to_statement(sql, &Dialect::Generic).unwrap();
            match check_read_only(&st) {
                Err(ServerError::ReadOnly(k)) => assert_eq!(k, kind, "{sql}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
    }
}
