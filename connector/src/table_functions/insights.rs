//! The `insights`, `insights_sql` and `insights_ppl` table functions: a Logs
//! Insights query inside a SQL statement.
//!
//! ```sql
//! SELECT * FROM insights(
//!     'fields @timestamp, @message | filter @message like /ERROR/',  -- the query
//!     now() - INTERVAL '1 day', now(),                              -- start, end
//!     ['/aws/lambda/orders-api'],                                   -- log groups (or one name)
//!     1000,                                                         -- limit (optional)
//!     'cloudwatch')                                                 -- catalog (optional)
//! ```
//!
//! A result's columns are only known once the query has run, and planning
//! must know them, so every call is run before the statement is planned:
//! its arguments are evaluated by DataFusion (`now()`, intervals, casts),
//! the query runs to its end (cancellable: a dropped request stops it), and
//! the typed rows are handed to the planner as a table of their own
//! ([`InsightsTable`], whose plan shows the query's costs). The
//! stateless Flight SQL flow plans a statement twice (GetFlightInfo, then
//! DoGet); a result is reused for [`REUSE_FOR`] when the same call comes
//! again, so the query runs, and is billed, once.
//!
//! A seventh argument takes options, comma-separated:
//! `'whole_messages'` replaces each row's `@message` (which Logs Insights
//! may truncate) with the whole event's, fetched by the row's `@ptr` with
//! one GetLogRecord call a row.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, TimestampNanosecondType};
use datafusion::catalog::{TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::{SQLOptions, SessionContext, SessionState};
use datafusion::logical_expr::Expr;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{TableFactor, Visit, Visitor};

use crate::catalog::{find_catalog, LogCatalog};
use crate::error::ConnectorError;
use crate::insights::{run_complete, to_batch, InsightsRequest, QueryLanguage};
use crate::table_functions::insights_exec::{InsightsResult, InsightsTable};

/// The table functions and the language of their query text.
const FUNCTIONS: [(&str, QueryLanguage); 3] = [
    ("insights", QueryLanguage::LogsInsights),
    ("insights_sql", QueryLanguage::OpenSearchSql),
    ("insights_ppl", QueryLanguage::OpenSearchPpl),
];

/// How long a finished query's rows answer the same call again.
pub const REUSE_FOR: Duration = Duration::from_secs(60);
const CACHE_ENTRIES: usize = 32;

fn language_of(function: &str) -> Option<QueryLanguage> {
    FUNCTIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(function))
        .map(|(_, l)| *l)
}

/// One `insights(...)` in a statement, as written.
#[derive(Debug, Clone, PartialEq)]
struct InsightsCall {
    pub language: QueryLanguage,
    /// Each argument's SQL text.
    pub args: Vec<String>,
}

/// The Logs Insights calls of a statement, in the order they are written.
fn find_calls(statement: &DfStatement) -> Vec<InsightsCall> {
    struct Finder(Vec<InsightsCall>);
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name,
                args: Some(args),
                ..
            } = factor
            {
                let function = name.0.last().map(|p| p.to_string()).unwrap_or_default();
                if let Some(language) = language_of(&function) {
                    self.0.push(InsightsCall {
                        language,
                        args: args.args.iter().map(|a| a.to_string()).collect(),
                    });
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(Vec::new());
    // EXPLAIN [ANALYZE] plans (and runs) the statement it wraps.
    let mut statement = statement;
    while let DfStatement::Explain(explain) = statement {
        statement = &explain.statement;
    }
    if let DfStatement::Statement(s) = statement {
        let _ = s.visit(&mut finder);
    }
    finder.0
}

/// Finished queries by call, shared by every statement of the server.
#[derive(Debug, Default)]
struct InsightsCache {
    entries: Mutex<HashMap<String, (Instant, InsightsResult)>>,
}

impl InsightsCache {
    fn get(&self, key: &str) -> Option<InsightsResult> {
        let entries = self.entries.lock().expect("insights cache lock");
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < REUSE_FOR)
            .map(|(_, b)| b.clone())
    }

    fn put(&self, key: String, batch: InsightsResult) {
        let mut entries = self.entries.lock().expect("insights cache lock");
        entries.retain(|_, (at, _)| at.elapsed() < REUSE_FOR);
        if entries.len() >= CACHE_ENTRIES {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (Instant::now(), batch));
    }
}

/// The arguments of one call, evaluated.
#[derive(Debug, Clone, PartialEq)]
struct InsightsArgs {
    pub request: InsightsRequest,
    pub catalog: Option<String>,
}

fn bad(message: impl Into<String>) -> DataFusionError {
    ConnectorError::InvalidRequest(message.into()).into_datafusion()
}

const USAGE: &str = "insights(query, start, end, log_groups [, limit [, catalog [, options]]])";

/// The options of the seventh argument.
const OPTIONS: [&str; 1] = ["whole_messages"];

/// Reads the evaluated argument row of a call (see [`evaluation_sql`]).
fn parse_args(language: QueryLanguage, row: &RecordBatch) -> Result<InsightsArgs> {
    let n = row.num_columns();
    if !(4..=7).contains(&n) {
        return Err(bad(format!("{USAGE} takes 4 to 7 arguments, got {n}")));
    }
    let scalar = |i: usize| ScalarValue::try_from_array(row.column(i), 0);
    let text = |i: usize, what: &str| -> Result<Option<String>> {
        match scalar(i)? {
            ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v) => Ok(v),
            ScalarValue::Null => Ok(None),
            other => Err(bad(format!(
                "insights(): the {what} must be text, got {}",
                other.data_type()
            ))),
        }
    };
    let query = text(0, "query")?.ok_or_else(|| bad("insights(): the query is NULL"))?;
    let time = |i: usize, what: &str| -> Result<i128> {
        let column = row.column(i);
        match column.data_type() {
            DataType::Timestamp(_, _) if !column.is_null(0) => {
                let ns = arrow::compute::cast(
                    column,
                    &DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, None),
                )?;
                Ok(ns.as_primitive::<TimestampNanosecondType>().value(0) as i128)
            }
            _ => Err(bad(format!(
                "insights(): the {what} must be a timestamp (e.g. now() - INTERVAL '1 hour' or TIMESTAMP '2026-11-25 00:00:00'), got {}",
                if column.is_null(0) { "NULL".to_string() } else { column.data_type().to_string() }
            ))),
        }
    };
    let start_ns = time(1, "start")?;
    let end_ns = time(2, "end")?;
    let groups: Vec<String> = match scalar(3)? {
        ScalarValue::Null => Vec::new(),
        ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v) => v
            .unwrap_or_default()
            // Log group names cannot hold commas: 'a,b' is two groups.
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        ScalarValue::List(list) if !list.is_null(0) => {
            let values = list.value(0);
            match values.data_type() {
                DataType::Utf8 => values
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
                DataType::Utf8View => values
                    .as_string_view()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
                DataType::Null => Vec::new(),
                other => {
                    return Err(bad(format!(
                        "insights(): log groups must be text, got a list of {other}"
                    )))
                }
            }
        }
        other => {
            return Err(bad(format!(
                "insights(): log groups must be a name, 'a,b', or ['a', 'b'], got {}",
                other.data_type()
            )))
        }
    };
    let limit = if n > 4 {
        match arrow::compute::cast(row.column(4), &DataType::Int64) {
            Ok(c) if c.is_null(0) => None,
            Ok(c) => {
                let v = c.as_primitive::<Int64Type>().value(0);
                Some(
                    usize::try_from(v)
                        .map_err(|_| bad(format!("insights(): limit {v} is negative")))?,
                )
            }
            Err(_) => return Err(bad("insights(): the limit must be a number")),
        }
    } else {
        None
    };
    let catalog = if n > 5 { text(5, "catalog")? } else { None };
    let options = if n > 6 { text(6, "options")? } else { None };
    let mut whole_messages = false;
    for option in options.iter().flat_map(|o| o.split(',')).map(str::trim) {
        match option.to_ascii_lowercase().as_str() {
            "" => {}
            "whole_messages" => whole_messages = true,
            _ => {
                return Err(bad(format!(
                    "insights(): unknown option {option:?}; the options are {}",
                    OPTIONS.join(", ")
                )))
            }
        }
    }
    let request = InsightsRequest {
        query,
        language,
        groups,
        // The API counts whole seconds, both bounds inclusive: round outwards.
        start_s: start_ns.div_euclid(1_000_000_000) as i64,
        end_s: (end_ns + 999_999_999).div_euclid(1_000_000_000) as i64,
        limit,
        whole_messages,
    };
    request.validate()?;
    Ok(InsightsArgs { request, catalog })
}

/// The statement that evaluates a call's arguments to one row.
fn evaluation_sql(call: &InsightsCall) -> String {
    let args: Vec<String> = call
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| match i {
            // Timestamps of any unit, or text DataFusion can read as one.
            1 | 2 => format!("CAST({a} AS TIMESTAMP) AS a{i}"),
            _ => format!("{a} AS a{i}"),
        })
        .collect();
    format!("SELECT {}", args.join(", "))
}

/// Rows of the calls of one statement, handed out to the planner in order.
#[derive(Debug, Default)]
struct PreparedCalls {
    tables: Mutex<Vec<(QueryLanguage, String, Option<InsightsResult>)>>,
}

impl PreparedCalls {
    pub fn push(&self, language: QueryLanguage, query: String, batch: InsightsResult) {
        self.tables
            .lock()
            .expect("prepared calls lock")
            .push((language, query, Some(batch)));
    }

    fn take(&self, language: QueryLanguage, query: &str) -> Option<InsightsResult> {
        let mut tables = self.tables.lock().expect("prepared calls lock");
        tables
            .iter_mut()
            .find(|(l, q, b)| *l == language && q == query && b.is_some())
            .and_then(|(_, _, b)| b.take())
    }
}

/// The three table functions, handing out `prepared`'s rows.
fn functions(
    prepared: Arc<PreparedCalls>,
) -> impl Iterator<Item = (&'static str, Arc<dyn TableFunctionImpl>)> {
    FUNCTIONS.into_iter().map(move |(name, language)| {
        let function: Arc<dyn TableFunctionImpl> = Arc::new(InsightsFunction {
            language,
            prepared: Arc::clone(&prepared),
        });
        (name, function)
    })
}

/// What DataFusion calls for `insights(...)` while planning.
#[derive(Debug)]
struct InsightsFunction {
    pub language: QueryLanguage,
    pub prepared: Arc<PreparedCalls>,
}

impl TableFunctionImpl for InsightsFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let query = match args.first() {
            Some(Expr::Literal(
                ScalarValue::Utf8(Some(q))
                | ScalarValue::Utf8View(Some(q))
                | ScalarValue::LargeUtf8(Some(q)),
                _,
            )) => q.clone(),
            _ => return plan_err!("{USAGE}: the query must be a text literal"),
        };
        let Some(result) = self.prepared.take(self.language, &query) else {
            return plan_err!(
                "{USAGE}: this call was not prepared (is it inside a view or a nested function?)"
            );
        };
        Ok(Arc::new(InsightsTable::new(result)))
    }
}

/// The Logs Insights calls of a catalog set: their results cache, and
/// the preparation of a statement's calls before it is planned.
///
/// A result is cached under the call as written (catalog, language and
/// each argument's SQL text), not its evaluated arguments, so the
/// GetFlightInfo and DoGet of one statement find the same entry even when
/// an argument is `now()`. The cache is the process's own: a ticket served
/// by another replica runs the query once more there, then that replica
/// reuses it for [`REUSE_FOR`] too.
#[derive(Debug)]
pub struct InsightsFunctions {
    catalogs: BTreeMap<String, LogCatalog>,
    default_catalog: String,
    cache: InsightsCache,
}

impl InsightsFunctions {
    pub fn new(catalogs: BTreeMap<String, LogCatalog>, default_catalog: String) -> Self {
        Self {
            catalogs,
            default_catalog,
            cache: InsightsCache::default(),
        }
    }

    /// Registers stand-ins on `ctx` that only explain what a call needs:
    /// each statement with calls registers its own (see [`Self::prepare`]).
    pub fn register_placeholders(ctx: &SessionContext) {
        for (name, function) in functions(Arc::default()) {
            ctx.register_udtf(name, function);
        }
    }

    /// Runs every call of `statement` (arguments evaluated by `ctx`) and
    /// registers on `state` the functions that hand their rows to the
    /// planner. Returns the (catalog, log group) pairs the calls read.
    pub async fn prepare(
        &self,
        ctx: &SessionContext,
        state: &mut SessionState,
        statement: &DfStatement,
    ) -> Result<Vec<(String, String)>> {
        let calls = find_calls(statement);
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = Arc::new(PreparedCalls::default());
        let mut touched = Vec::new();
        for call in &calls {
            let args = evaluate(ctx, call).await?;
            let catalog = args
                .catalog
                .clone()
                .unwrap_or_else(|| self.default_catalog.clone());
            touched.extend(
                args.request
                    .groups
                    .iter()
                    .map(|g| (catalog.clone(), g.clone())),
            );
            let batch = self.run(call, &args).await?;
            prepared.push(call.language, args.request.query, batch);
        }
        for (name, function) in functions(prepared) {
            state.register_udtf(name, function);
        }
        Ok(touched)
    }

    /// Runs one call (or reuses its recent result); returns its rows.
    async fn run(&self, call: &InsightsCall, args: &InsightsArgs) -> Result<InsightsResult> {
        let name = args.catalog.as_deref().unwrap_or(&self.default_catalog);
        let catalog = find_catalog(&self.catalogs, name, "insights(): ")?;
        let key = format!(
            "{name}\u{0}{:?}\u{0}{}",
            call.language,
            call.args.join("\u{0}")
        );
        if let Some(batch) = self.cache.get(&key) {
            return Ok(batch);
        }
        let output = run_complete(catalog.source().as_ref(), &args.request).await?;
        let result = InsightsResult {
            request: args.request.clone(),
            batch: to_batch(&output.rows)?,
            stats: output.stats,
        };
        self.cache.put(key, result.clone());
        Ok(result)
    }
}

/// A call's arguments, evaluated by DataFusion to one row and read.
async fn evaluate(ctx: &SessionContext, call: &InsightsCall) -> Result<InsightsArgs> {
    let constants = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let rows = ctx
        .sql_with_options(&evaluation_sql(call), constants)
        .await?
        .collect()
        .await?;
    let Some(row) = rows.into_iter().find(|b| b.num_rows() > 0) else {
        return Err(DataFusionError::Internal(
            "insights(): no argument row".into(),
        ));
    };
    parse_args(call.language, &row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use datafusion::sql::parser::DFParser;

    fn calls(sql: &str) -> Vec<InsightsCall> {
        let statement = DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
        find_calls(&statement)
    }

    #[test]
    fn finds_calls_anywhere_in_a_statement() {
        let found = calls(
            "WITH a AS (SELECT * FROM insights('q1', now(), now(), 'g')) \
             SELECT * FROM a JOIN INSIGHTS_PPL('q2', now(), now(), ['g', 'h'], 5) b ON true \
             WHERE 1 IN (SELECT 1 FROM insights_sql('q3', now(), now(), NULL))",
        );
        let got: Vec<(QueryLanguage, &str)> = found
            .iter()
            .map(|c| (c.language, c.args[0].as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (QueryLanguage::LogsInsights, "'q1'"),
                (QueryLanguage::OpenSearchPpl, "'q2'"),
                (QueryLanguage::OpenSearchSql, "'q3'"),
            ]
        );
        assert_eq!(found[1].args[3], "['g', 'h']");
        assert!(calls("SELECT * FROM generate_series(1, 3)").is_empty());
        let explained =
            calls("EXPLAIN ANALYZE SELECT count(*) FROM insights('q4', now(), now(), 'g')");
        assert_eq!(explained.len(), 1);
        assert_eq!(explained[0].args[0], "'q4'");
    }

    async fn evaluate_text(language: QueryLanguage, args: &str) -> Result<InsightsArgs> {
        let call = InsightsCall {
            language,
            args: calls(&format!("SELECT * FROM insights({args})"))
                .pop()
                .unwrap()
                .args,
        };
        let ctx = SessionContext::new();
        let batches = ctx.sql(&evaluation_sql(&call)).await?.collect().await?;
        parse_args(language, &batches[0])
    }

    #[tokio::test]
    async fn arguments_are_evaluated_and_checked() {
        let a = evaluate_text(
            QueryLanguage::LogsInsights,
            "'fields @message', TIMESTAMP '2026-11-25 00:00:00', TIMESTAMP '2026-11-25 01:00:00.5', ['/a', '/b'], 50, 'eu'",
        )
        .await
        .unwrap();
        assert_eq!(a.request.query, "fields @message");
        assert_eq!(a.request.groups, ["/a", "/b"]);
        assert_eq!(a.request.start_s, 1_795_564_800);
        // Rounded up: the half second is inside the range.
        assert_eq!(a.request.end_s, 1_795_564_800 + 3601);
        assert_eq!(a.request.limit, Some(50));
        assert_eq!(a.catalog.as_deref(), Some("eu"));

        let a = evaluate_text(
            QueryLanguage::LogsInsights,
            "'q', now() - INTERVAL '1 hour', now(), '/a, /b'",
        )
        .await
        .unwrap();
        assert_eq!(a.request.groups, ["/a", "/b"]);
        assert!((3599..=3601).contains(&(a.request.end_s - a.request.start_s)));
        assert_eq!((a.request.limit, a.catalog), (None, None));
        assert!(!a.request.whole_messages);

        let a = evaluate_text(
            QueryLanguage::LogsInsights,
            "'q', now() - INTERVAL '1 hour', now(), '/a', NULL, NULL, ' Whole_Messages '",
        )
        .await
        .unwrap();
        assert!(a.request.whole_messages);

        let sql = evaluate_text(
            QueryLanguage::OpenSearchSql,
            "'SELECT * FROM `/a`', '2026-11-25T00:00:00Z', '2026-11-26T00:00:00Z', NULL",
        )
        .await
        .unwrap();
        assert!(sql.request.groups.is_empty());

        let cases = [
            ("'q', now(), now()", "takes 4 to 7 arguments"),
            (
                "'q', now() - INTERVAL '1 day', now(), '/a', NULL, NULL, 'whole, nope'",
                "unknown option \"whole\"; the options are whole_messages",
            ),
            ("'q', 'yesterday', now(), '/a'", "yesterday"),
            ("'q', NULL, now(), '/a'", "must be a timestamp"),
            ("NULL, now(), now(), '/a'", "the query is NULL"),
            (
                "'q', now(), now() - INTERVAL '1 day', '/a'",
                "is after the end",
            ),
            (
                "'q', now() - INTERVAL '1 day', now(), NULL",
                "needs at least one log group",
            ),
            (
                "'q', now() - INTERVAL '1 day', now(), '/a', -1",
                "is negative",
            ),
            (
                "'q', now() - INTERVAL '1 day', now(), '/a', 200000",
                "outside 1..=100000",
            ),
            (
                "'q', now() - INTERVAL '1 day', now(), 7",
                "log groups must be",
            ),
        ];
        for (args, want) in cases {
            let err = evaluate_text(QueryLanguage::LogsInsights, args)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{args}: {err}");
        }
    }
}
