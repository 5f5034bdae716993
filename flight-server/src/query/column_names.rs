//! Result column names as Trino (and so CloudTrail Lake) gives them.
//!
//! DataFusion names an unaliased struct field or map value after the whole
//! path: `SELECT useridentity.arn` returns a column called
//! `"/aws/cloudtrail/x".cloudtrail_events.useridentity[arn]`, which is
//! what a BI tool shows as the header. Trino calls it `arn`. The final
//! result's columns of that shape are renamed to their last field when the
//! new name is unique in the result; anything else keeps DataFusion's name.

use std::collections::HashMap;

use datafusion::common::Column;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};

/// The last field of a `column[field]...[field]` name, if it has that shape:
/// the part before the first `[` a plain (possibly qualified) column name.
fn last_field(name: &str) -> Option<&str> {
    let (base, path) = name.split_once('[')?;
    let plain = |s: &str| !s.is_empty() && !s.contains(['(', ')', ' ', '[', ']', ',', '\'', '"']);
    if !plain(base) || !path.ends_with(']') {
        return None;
    }
    let fields: Vec<&str> = path[..path.len() - 1].split("][").collect();
    fields
        .iter()
        .all(|f| plain(f))
        .then(|| *fields.last().expect("split yields one part at least"))
}

/// `plan` with the renames above, as a projection on top; the plan itself
/// when nothing is renamed or it is not a query (EXPLAIN, SHOW, DDL).
pub fn trino_column_names(plan: LogicalPlan) -> Result<LogicalPlan> {
    if matches!(
        plan,
        LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::DescribeTable(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Ddl(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Copy(_)
    ) {
        return Ok(plan);
    }
    let schema = plan.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let wanted: Vec<Option<&str>> = names.iter().map(|n| last_field(n)).collect();
    // How many columns would end up with each name.
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for (name, new) in names.iter().zip(&wanted) {
        *uses.entry(new.unwrap_or(name)).or_default() += 1;
    }
    if wanted.iter().all(|w| w.is_none_or(|new| uses[new] > 1)) {
        return Ok(plan);
    }
    let exprs: Vec<Expr> = schema
        .iter()
        .zip(&wanted)
        .map(|((qualifier, field), new)| {
            let column = Expr::Column(Column::from((qualifier, field)));
            match new {
                Some(new) if uses[new] == 1 => column.alias(*new),
                _ => column,
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[test]
    fn names_of_struct_paths() {
        let cases = [
            ("useridentity[arn]", Some("arn")),
            (
                "e.useridentity[sessioncontext][sessionissuer][arn]",
                Some("arn"),
            ),
            (
                "/aws/cloudtrail/x.cloudtrail_events.requestparameters[roleName]",
                Some("roleName"),
            ),
            ("count(useridentity[arn])", None),
            ("useridentity", None),
            ("a[b", None),
            ("m[key with space]", None),
            ("get_field(x, Utf8(\"a\"))", None),
        ];
        for (name, want) in cases {
            assert_eq!(last_field(name), want, "{name}");
        }
    }

    async fn names(sql: &str) -> Vec<String> {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t AS SELECT named_struct('arn', 'x', 'inner', named_struct('arn', 'y', 'id', 1)) AS ui, 5 AS n")
            .await
            .unwrap();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        let plan = trino_column_names(plan).unwrap();
        let df = ctx.execute_logical_plan(plan).await.unwrap();
        df.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[tokio::test]
    async fn renames_unique_paths_only() {
        assert_eq!(names("SELECT ui.arn, n FROM t").await, ["arn", "n"]);
        assert_eq!(
            names("SELECT ui.inner.id, ui.arn FROM t ORDER BY 1").await,
            ["id", "arn"]
        );
        // Two paths ending in `arn`: both keep DataFusion's names.
        let both = names("SELECT ui.arn, ui.inner.arn FROM t").await;
        assert!(both.iter().all(|n| n.contains('[')), "{both:?}");
        // A path ending like another column: not renamed.
        let clash = names("SELECT ui.inner.id, n AS id FROM t").await;
        assert_eq!(clash[1], "id");
        assert!(clash[0].contains('['), "{clash:?}");
        assert_eq!(names("SELECT ui.arn AS who FROM t").await, ["who"]);
    }
}
