//! Checks on a statement before it is planned: it must be a read (queries,
//! EXPLAIN, SHOW), and small and shallow enough to plan without risking
//! the server's stack. Pure functions over the SQL text or its parse tree.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Statement as SqlStatement, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use logflight_connector::ConnectorError;

use crate::error::{Result, ServerError};

/// Deepest expression nesting planned. DataFusion's planner recurses over
/// expressions, and a chain such as `1+1+...+1` is parsed without
/// recursion into a tree as deep as it is long: past this depth a
/// statement is refused rather than risking the server's stack.
const MAX_EXPRESSION_DEPTH: usize = 1_000;
/// Operators in one statement, checked on the tokens before parsing, so a
/// tree too deep even to drop safely is never built.
const MAX_OPERATORS: usize = 100_000;

fn too_complex(what: String) -> ServerError {
    ServerError::Connector(ConnectorError::InvalidRequest(format!(
        "the statement is too complex: {what}; split it or use IN (...) lists"
    )))
}

pub fn check_operator_count(sql: &str) -> Result<()> {
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
pub fn check_depth(statement: &DfStatement) -> Result<()> {
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

/// Refuses everything but queries, EXPLAIN of those, DESCRIBE and SHOW.
pub fn check_read_only(statement: &DfStatement) -> Result<()> {
    match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            SqlStatement::Query(_)
            | SqlStatement::ExplainTable { .. }
            | SqlStatement::ShowCatalogs { .. }
            | SqlStatement::ShowSchemas { .. }
            | SqlStatement::ShowDatabases { .. }
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

/// When `sql` failed to parse because a log group name follows FROM or
/// JOIN unquoted (`FROM /aws/lambda/x`), the message that says to quote
/// it; `None` otherwise.
pub fn unquoted_group_hint(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize().ok()?;
    let mut words = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)));
    while let Some((_, token)) = words.next() {
        let Token::Word(w) = token else { continue };
        if !(w.value.eq_ignore_ascii_case("from") || w.value.eq_ignore_ascii_case("join")) {
            continue;
        }
        let Some((start, Token::Div)) = words.next() else {
            continue;
        };
        let name: String = tokens[start..]
            .iter()
            .take_while(|t| {
                !matches!(
                    t,
                    Token::Whitespace(_)
                        | Token::Comma
                        | Token::SemiColon
                        | Token::RParen
                        | Token::EOF
                )
            })
            .map(|t| t.to_string())
            .collect();
        let name = name.trim_end_matches('.').replace('"', "\"\"");
        return Some(format!(
            "log group names must be quoted, as they hold '/': write FROM \"{name}\".all_log_streams (or \"{name}\".\"<stream>\" for one stream)"
        ));
    }
    None
}

/// Rewrites JDBC/ODBC-style `?` placeholders to DataFusion's `$1`, `$2`, ...
/// Works on tokens, so a `?` inside a string literal is left alone.
pub fn number_question_marks(sql: &str) -> String {
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
    use datafusion::prelude::SessionContext;

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
    fn unquoted_group_names_get_a_hint() {
        let cases: [(&str, Option<&str>); 5] = [
            ("SELECT * FROM /aws/lambda/x", Some("/aws/lambda/x")),
            (
                "select count(*) from /aws/lambda/orders-api where 1=1",
                Some("/aws/lambda/orders-api"),
            ),
            (
                "SELECT 1 FROM t JOIN /vpc/flow-logs ON true",
                Some("/vpc/flow-logs"),
            ),
            ("SELECT 4 / 2 FROM t", None),
            ("SELECT * FROM \"/aws/lambda/x\".all_log_streams", None),
        ];
        for (sql, name) in cases {
            let hint = unquoted_group_hint(sql);
            match name {
                Some(name) => {
                    let hint = hint.unwrap_or_else(|| panic!("no hint for {sql}"));
                    assert!(
                        hint.contains(&format!("FROM \"{name}\".all_log_streams")),
                        "{sql}: {hint}"
                    );
                }
                None => assert_eq!(hint, None, "{sql}"),
            }
        }
    }

    #[test]
    fn only_reads_are_allowed() {
        let state = SessionContext::new().state();
        let allowed = [
            "SELECT 1",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
            "SHOW ALL",
            "DESCRIBE t",
            "DESC t",
            "SHOW SCHEMAS",
            "SHOW DATABASES",
            "SHOW CATALOGS",
            "SHOW TABLES FROM \"/aws/lambda/x\"",
        ];
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
