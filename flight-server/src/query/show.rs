//! The SHOW statements DataFusion does not plan, as the queries over
//! information_schema that answer them: `SHOW CATALOGS`, `SHOW SCHEMAS`
//! (and its MySQL name `SHOW DATABASES`: a schema is a log group) and
//! `SHOW TABLES FROM "<group>"`. Clients and people coming from other
//! databases type these first; a refusal there is a poor first answer.

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ShowStatementFilter, ShowStatementFilterPosition, ShowStatementOptions,
    Statement as SqlStatement,
};
use logflight_connector::ConnectorError;

use crate::error::{Result, ServerError};

/// A SHOW statement that is answered by a rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    Catalogs {
        like: Option<String>,
    },
    Schemas {
        catalog: Option<String>,
        like: Option<String>,
    },
    /// The tables (streams and `all_log_streams`) of one log group, as
    /// written: the caller resolves it to the group's exact name.
    TablesIn {
        catalog: Option<String>,
        group: String,
        like: Option<String>,
    },
}

/// The [`Show`] a statement asks for; `None` for every other statement
/// (plain `SHOW TABLES` and `SHOW COLUMNS` DataFusion plans itself).
pub fn show_of(statement: &DfStatement) -> Result<Option<Show>> {
    let DfStatement::Statement(s) = statement else {
        return Ok(None);
    };
    Ok(Some(match s.as_ref() {
        SqlStatement::ShowCatalogs { show_options, .. } => {
            let (parent, like) = options(show_options, "SHOW CATALOGS")?;
            if parent.is_some() {
                return Err(unsupported("SHOW CATALOGS IN ..."));
            }
            Show::Catalogs { like }
        }
        SqlStatement::ShowSchemas { show_options, .. }
        | SqlStatement::ShowDatabases { show_options, .. } => {
            let (parent, like) = options(show_options, "SHOW SCHEMAS")?;
            let catalog = match parent.as_deref() {
                None => None,
                Some([catalog]) => Some(catalog.clone()),
                Some(_) => return Err(unsupported("SHOW SCHEMAS IN a name of several parts")),
            };
            Show::Schemas { catalog, like }
        }
        SqlStatement::ShowTables {
            show_options,
            extended: false,
            full: false,
            terse: false,
            history: false,
            external: false,
        } if show_options.show_in.is_some() => {
            let (parent, like) = options(show_options, "SHOW TABLES")?;
            match parent.as_deref() {
                Some([group]) => Show::TablesIn {
                    catalog: None,
                    group: group.clone(),
                    like,
                },
                Some([catalog, group]) => Show::TablesIn {
                    catalog: Some(catalog.clone()),
                    group: group.clone(),
                    like,
                },
                _ => {
                    return Err(unsupported(
                        "SHOW TABLES FROM a name of more than two parts",
                    ))
                }
            }
        }
        _ => return Ok(None),
    }))
}

/// The query that answers `show`, with `group` the exact name of the
/// group of [`Show::TablesIn`] and `catalog` the catalog it is in.
pub fn show_sql(show: &Show, catalog: &str, group: &str) -> String {
    let like = |column: &str, like: &Option<String>| match like {
        Some(pattern) => format!(" AND {column} LIKE {}", literal(pattern)),
        None => String::new(),
    };
    match show {
        Show::Catalogs { like: l } => format!(
            "SELECT DISTINCT catalog_name FROM information_schema.schemata WHERE true{} ORDER BY catalog_name",
            like("catalog_name", l)
        ),
        Show::Schemas { catalog: c, like: l } => format!(
            "SELECT catalog_name, schema_name FROM information_schema.schemata WHERE {}{} ORDER BY catalog_name, schema_name",
            match c {
                Some(_) => format!("catalog_name = {}", literal(catalog)),
                None => "true".into(),
            },
            like("schema_name", l)
        ),
        Show::TablesIn { like: l, .. } => format!(
            "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables \
             WHERE table_catalog = {} AND table_schema = {}{} ORDER BY table_name",
            literal(catalog),
            literal(group),
            like("table_name", l)
        ),
    }
}

/// The parent name (each part as SQL names it: unquoted parts in lower
/// case) and the LIKE pattern of a SHOW statement's options.
type ShowParts = (Option<Vec<String>>, Option<String>);

fn options(options: &ShowStatementOptions, what: &str) -> Result<ShowParts> {
    if options.starts_with.is_some() || options.limit.is_some() || options.limit_from.is_some() {
        return Err(unsupported(&format!("{what} with STARTS WITH or LIMIT")));
    }
    let like = match &options.filter_position {
        None => None,
        Some(ShowStatementFilterPosition::Infix(f) | ShowStatementFilterPosition::Suffix(f)) => {
            match f {
                ShowStatementFilter::Like(p) => Some(p.clone()),
                _ => {
                    return Err(unsupported(&format!(
                        "{what} with a filter other than LIKE"
                    )))
                }
            }
        }
    };
    let parent = options
        .show_in
        .as_ref()
        .and_then(|i| i.parent_name.as_ref())
        .map(parts);
    Ok((parent, like))
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => normalized(ident),
            None => part.to_string(),
        })
        .collect()
}

/// An identifier as DataFusion reads it: unquoted ones fold to lower case.
fn normalized(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn unsupported(what: &str) -> ServerError {
    ServerError::Connector(ConnectorError::InvalidRequest(format!(
        "{what} is not supported; query information_schema.schemata or information_schema.tables instead"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::config::Dialect;
    use datafusion::prelude::SessionContext;

    fn show(sql: &str) -> Result<Option<Show>> {
        let state = SessionContext::new().state();
        show_of(&state.sql_to_statement(sql, &Dialect::Generic).unwrap())
    }

    #[test]
    fn show_statements_are_recognised() {
        let tables_in = |catalog: Option<&str>, group: &str| Show::TablesIn {
            catalog: catalog.map(str::to_string),
            group: group.into(),
            like: None,
        };
        let cases: Vec<(&str, Option<Show>)> = vec![
            ("SHOW CATALOGS", Some(Show::Catalogs { like: None })),
            (
                "SHOW SCHEMAS",
                Some(Show::Schemas {
                    catalog: None,
                    like: None,
                }),
            ),
            (
                "SHOW DATABASES",
                Some(Show::Schemas {
                    catalog: None,
                    like: None,
                }),
            ),
            (
                "SHOW SCHEMAS IN Prod LIKE '%lambda%'",
                Some(Show::Schemas {
                    catalog: Some("prod".into()),
                    like: Some("%lambda%".into()),
                }),
            ),
            (
                "SHOW TABLES FROM \"/aws/lambda/Orders\"",
                Some(tables_in(None, "/aws/lambda/Orders")),
            ),
            (
                "SHOW TABLES IN cloudwatch.\"/app/x\"",
                Some(tables_in(Some("cloudwatch"), "/app/x")),
            ),
            ("SHOW TABLES", None),
            ("SELECT 1", None),
        ];
        for (sql, want) in cases {
            assert_eq!(show(sql).unwrap(), want, "{sql}");
        }
        assert!(show("SHOW TABLES FROM a.b.c").is_err());
    }

    #[test]
    fn answers_are_queries_with_quoted_literals() {
        let sql = show_sql(
            &Show::TablesIn {
                catalog: None,
                group: "x".into(),
                like: Some("a%".into()),
            },
            "cloudwatch",
            "/it's",
        );
        assert_eq!(
            sql,
            "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables \
             WHERE table_catalog = 'cloudwatch' AND table_schema = '/it''s' AND table_name LIKE 'a%' ORDER BY table_name"
        );
    }
}
