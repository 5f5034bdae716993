//! Trino functions that CloudTrail Lake queries use and DataFusion lacks,
//! so a Lake query runs against `cloudtrail_events` with only its FROM
//! clause changed.
//!
//! Only what DataFusion does not already do the Trino way is here:
//! `cardinality`, `map_keys`, `regexp_like`, `split_part`, `strpos`,
//! `try_cast`, `from_unixtime`, `approx_distinct`, intervals and
//! timestamp-versus-string comparisons are DataFusion's own
//! (docs/lake-sql-support.md lists what was checked).

mod aggregates;
mod conditional;
mod contains;
mod datetime;
mod element_at;
mod json;
mod json_path;
// Lake sample queries end to end; a module rather than an integration test,
// so that CI links one test binary less.
#[cfg(test)]
mod lake_queries;

use datafusion::prelude::SessionContext;

/// Registers the functions in `ctx`, replacing DataFusion's
/// `element_at` (an alias of `map_extract`, which returns a list),
/// `contains` (strings only) and `date_format` (chrono specifiers) with
/// versions that also accept what Trino accepts.
///
/// Call it after `datafusion_functions_json::register_all`: none of the
/// names here are that crate's, so the order only matters for names
/// DataFusion itself registers, which these must replace.
pub fn register(ctx: &SessionContext) {
    for udf in element_at::udfs()
        .into_iter()
        .chain(contains::udfs())
        .chain(conditional::udfs())
        .chain(json::udfs())
        .chain(datetime::udfs())
    {
        ctx.register_udf(udf);
    }
    for udaf in aggregates::udafs() {
        ctx.register_udaf(udaf);
    }
}
