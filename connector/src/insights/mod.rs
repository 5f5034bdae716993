//! Logs Insights passthrough: a query in CloudWatch's own languages (Logs
//! Insights QL, OpenSearch SQL or PPL), run by StartQuery and read back as a
//! typed Arrow table.
//!
//! The parts: this module, the request, its limits and what a query
//! returned; `query`, what a Logs Insights QL pipeline does to rows (pure);
//! `split`, the driver that turns one capped query into a complete answer
//! (re-running a row-wise query over slices of its time range); `rows`, the
//! typing of the (field, text) pairs the API answers with.
//!
//! A result that reaches the row cap without the caller having asked for
//! that many rows is split when that gives the exact answer, and an error
//! otherwise: never a silently shorter answer.

pub mod query;
pub mod rows;
pub mod split;

use std::time::Duration;

pub use rows::{parse_timestamp, to_batch};
pub use split::run_complete;

use crate::error::{ConnectorError, Result};

/// GetQueryResults returns at most this many rows a call (`maxItems`).
pub const PAGE_ROWS: usize = 10_000;

/// The language of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryLanguage {
    /// CloudWatch Logs Insights query language (`fields ... | filter ...`).
    LogsInsights,
    /// OpenSearch SQL; the log groups are named in the query's FROM.
    OpenSearchSql,
    /// OpenSearch PPL.
    OpenSearchPpl,
}

impl QueryLanguage {
    pub fn name(self) -> &'static str {
        match self {
            QueryLanguage::LogsInsights => "Logs Insights QL",
            QueryLanguage::OpenSearchSql => "OpenSearch SQL",
            QueryLanguage::OpenSearchPpl => "OpenSearch PPL",
        }
    }

    /// The most rows one query returns (StartQuery's largest `limit`):
    /// 100,000 for the Logs Insights language, 10,000 for PPL and SQL.
    pub fn max_rows(self) -> usize {
        match self {
            QueryLanguage::LogsInsights => 100_000,
            QueryLanguage::OpenSearchSql | QueryLanguage::OpenSearchPpl => 10_000,
        }
    }

    /// Whether the query counts against the OpenSearch (PPL/SQL) share of
    /// the account's concurrent queries rather than the Logs Insights one.
    pub fn is_opensearch(self) -> bool {
        self != QueryLanguage::LogsInsights
    }
}

/// One Logs Insights query, as StartQuery takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InsightsRequest {
    pub query: String,
    pub language: QueryLanguage,
    /// Log group names or ARNs; empty for OpenSearch SQL, which names them
    /// in the query.
    pub groups: Vec<String>,
    /// Epoch seconds, both inclusive (StartQuery's unit).
    pub start_s: i64,
    pub end_s: i64,
    /// Rows asked for; `None` means all of them (see [`run_complete`]).
    pub limit: Option<usize>,
    /// Replace each row's `@message`, which Logs Insights may truncate,
    /// with the whole event's, fetched by its `@ptr` (GetLogRecord).
    pub whole_messages: bool,
}

impl InsightsRequest {
    /// The `limit` StartQuery is sent: the caller's, else the language's cap.
    pub fn start_limit(&self) -> usize {
        self.limit.unwrap_or(self.language.max_rows())
    }

    /// Checks what StartQuery would refuse, with messages that say how to fix it.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ConnectorError::InvalidRequest(m));
        if self.query.trim().is_empty() {
            return bad("insights(): the query text is empty".into());
        }
        if self.start_s > self.end_s {
            return bad(format!(
                "insights(): the start ({}) is after the end ({})",
                self.start_s, self.end_s
            ));
        }
        if self.start_s < 0 {
            return bad("insights(): the start is before 1970".into());
        }
        if self.groups.is_empty() && self.language != QueryLanguage::OpenSearchSql {
            return bad(format!(
                "insights(): {} needs at least one log group",
                self.language.name()
            ));
        }
        if self.groups.len() > 50 {
            return bad(format!(
                "insights(): {} log groups; Logs Insights queries at most 50",
                self.groups.len()
            ));
        }
        if let Some(limit) = self.limit {
            let max = self.language.max_rows();
            if limit == 0 || limit > max {
                return bad(format!(
                    "insights(): limit {limit} is outside 1..={max}, the most one {} query returns",
                    self.language.name()
                ));
            }
        }
        Ok(())
    }
}

/// What Logs Insights reported about the queries behind one answer.
///
/// `records_matched` counts the events matched by the queries whose rows
/// make up the answer (the parts of a split query, not the capped query
/// that was split); `records_scanned`, `bytes_scanned` (what is billed),
/// `queries`, `api_calls` and `queued` count every query run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightsStats {
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
    /// Logs Insights queries started.
    pub queries: u64,
    /// CloudWatch API calls made (StartQuery, GetQueryResults, GetLogRecord).
    pub api_calls: u64,
    /// Time spent waiting for a slot of the account's concurrent queries.
    pub queued: Duration,
}

impl InsightsStats {
    /// Adds the cost of another query (its matched records left out: see
    /// the type's docs).
    pub fn add_cost(&mut self, other: &InsightsStats) {
        self.records_scanned += other.records_scanned;
        self.bytes_scanned += other.bytes_scanned;
        self.queries += other.queries;
        self.api_calls += other.api_calls;
        self.queued += other.queued;
    }
}

/// What a finished query returned: rows of (field, value) pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightsOutput {
    pub query_id: String,
    pub rows: Vec<Vec<(String, String)>>,
    pub stats: InsightsStats,
}

/// Fails when the result was cut at the API's row cap rather than being
/// the whole answer (or the rows the caller asked for). For the queries
/// that cannot be split (see [`run_complete`]).
pub fn check_complete(request: &InsightsRequest, output: &InsightsOutput) -> Result<()> {
    let cap = request.language.max_rows();
    if request.limit.is_none() && output.rows.len() >= cap {
        return Err(ConnectorError::InvalidRequest(format!(
            "{} query {} reached its cap of {cap} rows{}, so its answer may be incomplete; \
             aggregate with stats, narrow the time range, or pass a limit of at most {cap} to accept the first rows",
            request.language.name(),
            output.query_id,
            matched(&output.stats),
        )));
    }
    Ok(())
}

/// " (it matched N log events)", when the API said.
fn matched(stats: &InsightsStats) -> String {
    if stats.records_matched > 0.0 {
        format!(" (it matched {:.0} log events)", stats.records_matched)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn request(limit: Option<usize>) -> InsightsRequest {
        InsightsRequest {
            query: "fields @message".into(),
            language: QueryLanguage::LogsInsights,
            groups: vec!["/g".into()],
            start_s: 0,
            end_s: 10,
            limit,
            whole_messages: false,
        }
    }

    #[test]
    fn the_row_cap_is_reported_not_hidden() {
        let ppl = InsightsRequest {
            language: QueryLanguage::OpenSearchPpl,
            ..request(None)
        };
        let full = InsightsOutput {
            query_id: "q-1".into(),
            rows: vec![row(&[("a", "1")]); 10_000],
            stats: InsightsStats {
                records_matched: 25_000.0,
                ..Default::default()
            },
        };
        let err = check_complete(&ppl, &full).unwrap_err().to_string();
        assert!(
            err.contains("OpenSearch PPL query q-1 reached its cap of 10000 rows")
                && err.contains("25000"),
            "{err}"
        );
        // The Logs Insights language's cap is ten times higher.
        check_complete(&request(None), &full).unwrap();
        // Asking for the first 10,000 rows is an answer, not a truncation.
        let asked = InsightsRequest {
            limit: Some(10_000),
            ..ppl.clone()
        };
        check_complete(&asked, &full).unwrap();
        let short = InsightsOutput {
            rows: vec![row(&[("a", "1")]); 5],
            ..full
        };
        check_complete(&ppl, &short).unwrap();
    }

    #[test]
    fn requests_are_checked_before_any_call() {
        let sql = |limit| InsightsRequest {
            language: QueryLanguage::OpenSearchSql,
            groups: vec![],
            ..request(limit)
        };
        let cases: Vec<(InsightsRequest, &str)> = vec![
            (
                InsightsRequest {
                    query: " ".into(),
                    ..request(None)
                },
                "query text is empty",
            ),
            (
                InsightsRequest {
                    start_s: 20,
                    ..request(None)
                },
                "is after the end",
            ),
            (
                InsightsRequest {
                    groups: vec![],
                    ..request(None)
                },
                "needs at least one log group",
            ),
            (
                InsightsRequest {
                    groups: vec!["/g".into(); 51],
                    ..request(None)
                },
                "at most 50",
            ),
            (
                request(Some(0)),
                "outside 1..=100000, the most one Logs Insights QL query returns",
            ),
            (request(Some(100_001)), "outside 1..=100000"),
            (
                sql(Some(10_001)),
                "outside 1..=10000, the most one OpenSearch SQL query returns",
            ),
        ];
        for (req, want) in cases {
            let err = req.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        for ok in [
            request(Some(5)),
            request(Some(100_000)),
            sql(None),
            sql(Some(10_000)),
        ] {
            ok.validate().unwrap();
        }
        assert_eq!(request(None).start_limit(), 100_000);
        assert_eq!(sql(None).start_limit(), 10_000);
        assert_eq!(request(Some(7)).start_limit(), 7);
    }
}
