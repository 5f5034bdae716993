//! One Logs Insights call made complete: a query whose result fills the row
//! cap is re-run over slices of its time range when that gives exactly the
//! whole answer, and fails saying why when it cannot.
//!
//! A row-wise query (see [`super::query`]) without a `limit` command yields
//! one row per matching event, so the rows of disjoint time slices, put
//! together in time order, are the rows of the whole range. The slices are
//! cut from the matched-record count the capped run reported, about half
//! the cap each, and a slice that still fills the cap is cut again. A
//! one-second slice cannot be cut (StartQuery counts whole seconds), so one
//! that fills the cap fails. Aggregating or otherwise set-wise queries,
//! queries sorted by another field, and PPL/SQL queries are never split.
//! A caller's limit makes the first rows the answer, so is never split.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::query::{classify, Order, Shape};
use super::{matched, InsightsOutput, InsightsRequest, QueryLanguage};
use crate::error::{ConnectorError, Result};
use crate::source::LogSource;

/// GetLogRecord calls in flight at once for one query's whole messages
/// (the quota paces them too).
const RECORD_FETCHES: usize = 8;

/// Runs `request` on `source` to a complete answer: split when needed (see
/// the module docs), then, when asked, with whole messages.
pub async fn run_complete(
    source: &dyn LogSource,
    request: &InsightsRequest,
) -> Result<InsightsOutput> {
    request.validate()?;
    let mut output = complete(
        request,
        |part| async move { source.run_insights(&part).await },
    )
    .await?;
    if request.whole_messages {
        whole_messages(source, &mut output).await?;
    }
    Ok(output)
}

/// Replaces each row's `@message` with its event's whole message, found
/// by the row's `@ptr`.
async fn whole_messages(source: &dyn LogSource, output: &mut InsightsOutput) -> Result<()> {
    let wanted = pointers(output)?;
    let messages: Vec<(usize, String)> = stream::iter(wanted)
        .map(|(i, ptr)| async move {
            let record = source.log_record(&ptr).await?;
            let message = record
                .get("@message")
                .cloned()
                .ok_or_else(|| ConnectorError::Api {
                    api: "GetLogRecord",
                    message: format!("the log record of @ptr {ptr:?} has no @message"),
                })?;
            Ok::<_, ConnectorError>((i, message))
        })
        .buffered(RECORD_FETCHES)
        .try_collect()
        .await?;
    output.stats.api_calls += messages.len() as u64;
    for (i, message) in messages {
        if let Some(cell) = output.rows[i].iter_mut().find(|(f, _)| f == "@message") {
            cell.1 = message;
        }
    }
    Ok(())
}

/// (row index, `@ptr`) of every row with a `@message`.
fn pointers(output: &InsightsOutput) -> Result<Vec<(usize, String)>> {
    let mut wanted: Vec<(usize, String)> = Vec::new();
    for (i, row) in output.rows.iter().enumerate() {
        if !row.iter().any(|(f, _)| f == "@message") {
            continue;
        }
        let Some((_, ptr)) = row.iter().find(|(f, _)| f == "@ptr") else {
            // Its message may be cut, and nothing says which event it is.
            return Err(ConnectorError::InvalidRequest(format!(
                "whole_messages: row {} of query {} has a @message but no @ptr to fetch it by \
                 (rows made by stats and other aggregations have none); drop the option or the @message",
                i + 1,
                output.query_id
            )));
        };
        wanted.push((i, ptr.clone()));
    }
    Ok(wanted)
}

/// The rule of the module docs, over any way of running one query (`run`
/// takes the request of one part and runs it to its end, all pages).
pub async fn complete<F, Fut>(request: &InsightsRequest, run: F) -> Result<InsightsOutput>
where
    F: Fn(InsightsRequest) -> Fut + Sync,
    Fut: Future<Output = Result<InsightsOutput>> + Send,
{
    complete_capped(request, request.language.max_rows(), &run).await
}

/// [`complete`] with the row cap as a parameter (tests use a small one).
async fn complete_capped<F, Fut>(
    request: &InsightsRequest,
    cap: usize,
    run: &F,
) -> Result<InsightsOutput>
where
    F: Fn(InsightsRequest) -> Fut + Sync,
    Fut: Future<Output = Result<InsightsOutput>> + Send,
{
    let output = run(request.clone()).await?;
    if request.limit.is_some() || output.rows.len() < cap {
        return Ok(output);
    }
    let at_cap = |why: &str| at_cap(request, &output, cap, why);
    if request.language != QueryLanguage::LogsInsights {
        return Err(at_cap(&format!(
            "{} queries are not split, so its answer may be incomplete; \
             aggregate, narrow the time range, or pass a limit of at most {cap} to accept the first rows",
            request.language.name()
        )));
    }
    let newest_first = match classify(&request.query) {
        Shape::RowWise {
            order: Order::Other,
            ..
        } => {
            return Err(at_cap(
                "it is sorted by something other than @timestamp, so its rows cannot be put together from parts of its time range; \
                 sort in SQL instead (ORDER BY over insights(...)), or narrow the time range",
            ))
        }
        Shape::RowWise { limit: Some(n), .. } => {
            return Err(at_cap(
                &format!("its own `limit {n}` asks for more rows than one query returns; use a smaller limit or narrow the time range"),
            ))
        }
        Shape::RowWise { order, limit: None } => order == Order::NewestFirst,
        Shape::SetWise { command } => {
            return Err(at_cap(
                &format!(
                    "its `{command}` command makes rows from many events (e.g. stats with more groups than the cap), \
                     so the rows of parts of its time range would not add up to its answer; \
                     use coarser groups (a larger bin(), fewer `by` fields), filter more, or narrow the time range"
                ),
            ))
        }
        Shape::Unknown { reason } => {
            return Err(at_cap(
                &format!("logflight cannot tell whether it may be split ({reason})"),
            ))
        }
    };
    let mut whole = split(request, output, cap, newest_first, run).await?;
    whole.query_id = format!("{} (split)", whole.query_id);
    Ok(whole)
}

/// The error of a query that filled the cap and cannot be completed.
fn at_cap(
    request: &InsightsRequest,
    output: &InsightsOutput,
    cap: usize,
    why: &str,
) -> ConnectorError {
    ConnectorError::InvalidRequest(format!(
        "{} query {} reached its cap of {cap} rows{}, and {why}",
        request.language.name(),
        output.query_id,
        matched(&output.stats)
    ))
}

type Boxed<'a> = Pin<Box<dyn Future<Output = Result<InsightsOutput>> + Send + 'a>>;

/// Re-runs a capped row-wise query over slices of its range, recursively,
/// and concatenates the parts in the order of its rows.
fn split<'a, F, Fut>(
    request: &'a InsightsRequest,
    capped: InsightsOutput,
    cap: usize,
    newest_first: bool,
    run: &'a F,
) -> Boxed<'a>
where
    F: Fn(InsightsRequest) -> Fut + Sync,
    Fut: Future<Output = Result<InsightsOutput>> + Send,
{
    Box::pin(async move {
        // Slices share their boundary seconds (see `slices`): a range of
        // two seconds or less cannot be cut further.
        if request.end_s - request.start_s <= 1 {
            return Err(at_cap(
                request,
                &capped,
                cap,
                &format!(
                    "the seconds it covers ({} to {}) hold more matching events than that, so it cannot be split further; \
                     filter more, or pass a limit to accept the first rows",
                    request.start_s, request.end_s
                ),
            ));
        }
        let mut parts = slices(
            request.start_s,
            request.end_s,
            slice_count(capped.stats.records_matched, cap),
        );
        if newest_first {
            parts.reverse();
        }
        let mut whole = InsightsOutput {
            query_id: capped.query_id.clone(),
            rows: Vec::new(),
            stats: Default::default(),
        };
        whole.stats.add_cost(&capped.stats);
        let mut seen = HashSet::new();
        for (start_s, end_s) in parts {
            let part = InsightsRequest {
                start_s,
                end_s,
                ..request.clone()
            };
            let mut out = run(part.clone()).await?;
            if out.rows.len() >= cap {
                out = split(&part, out, cap, newest_first, run).await?;
            }
            whole.stats.records_matched += out.stats.records_matched;
            whole.stats.add_cost(&out.stats);
            for row in out.rows {
                let Some(ptr) = row
                    .iter()
                    .find(|(f, _)| f == "@ptr")
                    .map(|(_, v)| v.clone())
                else {
                    return Err(at_cap(
                        request,
                        &capped,
                        cap,
                        "its rows carry no @ptr to tell the events of neighbouring slices apart",
                    ));
                };
                // An event of a shared boundary comes back from both slices.
                if seen.insert(ptr) {
                    whole.rows.push(row);
                } else {
                    whole.stats.records_matched -= 1.0;
                }
            }
        }
        Ok(whole)
    })
}

/// How many slices to cut a range into when it matched `matched` events:
/// about half the cap per slice, at least two.
pub fn slice_count(matched: f64, cap: usize) -> usize {
    let per_slice = (cap / 2).max(1) as f64;
    let n = (matched / per_slice).ceil();
    if n.is_finite() && n > 2.0 {
        n.min(1e9) as usize
    } else {
        2
    }
}

/// `n` slices of whole seconds covering [start, end], in time order, each
/// sharing its last second with the next one's first; fewer when the range
/// is shorter. They overlap because AWS ends a query at `endTime * 1000`
/// (the rest of that second is outside it) while emulators take the whole
/// second: slices that share their boundary cover the range either way,
/// and the events both return are told apart by `@ptr`.
pub fn slices(start: i64, end: i64, n: usize) -> Vec<(i64, i64)> {
    let span = (end - start).max(1) as i128;
    let n = (n.max(1) as i128).min(span);
    (0..n)
        .map(|i| {
            let from = start as i128 + span * i / n;
            let to = start as i128 + span * (i + 1) / n;
            (from as i64, (to as i64).min(end).max(from as i64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::InsightsStats;
    use std::sync::Mutex;

    #[test]
    fn whole_messages_need_a_pointer_for_every_message() {
        let row = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect()
        };
        let output = |rows| InsightsOutput {
            query_id: "q".into(),
            rows,
            stats: Default::default(),
        };
        let got = pointers(&output(vec![
            row(&[("@message", "a"), ("@ptr", "p0")]),
            row(&[("count", "3")]),
            row(&[("@ptr", "p2"), ("@message", "c")]),
        ]))
        .unwrap();
        assert_eq!(got, [(0, "p0".to_string()), (2, "p2".to_string())]);
        let err = pointers(&output(vec![
            row(&[("@message", "a"), ("@ptr", "p0")]),
            row(&[("@message", "b")]),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("row 2 of query q has a @message but no @ptr"),
            "{err}"
        );
    }

    #[test]
    fn slices_are_whole_seconds_sharing_their_boundaries() {
        type Case = (i64, i64, usize, Vec<(i64, i64)>);
        let cases: Vec<Case> = vec![
            (0, 9, 2, vec![(0, 4), (4, 9)]),
            (0, 10, 2, vec![(0, 5), (5, 10)]),
            (100, 102, 3, vec![(100, 101), (101, 102)]),
            (100, 102, 7, vec![(100, 101), (101, 102)]),
            (5, 6, 2, vec![(5, 6)]),
            (7, 7, 4, vec![(7, 7)]),
            (0, 99, 4, vec![(0, 24), (24, 49), (49, 74), (74, 99)]),
        ];
        for (start, end, n, want) in cases {
            let got = slices(start, end, n);
            assert_eq!(got, want, "{start}..={end} in {n}");
            assert_eq!(got.first().unwrap().0, start);
            assert_eq!(got.last().unwrap().1, end);
            for w in got.windows(2) {
                assert_eq!(w[0].1, w[1].0);
            }
        }
    }

    #[test]
    fn slice_counts_aim_at_half_the_cap() {
        let cases = [
            (0.0, 100_000, 2),
            (f64::NAN, 100_000, 2),
            (100_000.0, 100_000, 2),
            (100_001.0, 100_000, 3),
            (1_000_000.0, 100_000, 20),
            (25.0, 10, 5),
        ];
        for (matched, cap, want) in cases {
            assert_eq!(slice_count(matched, cap), want, "{matched} of {cap}");
        }
    }

    /// A fake Logs Insights over events at the given seconds: a query
    /// returns the events of its range (newest first, or oldest first for
    /// `asc`), at most the cap, reporting how many it matched.
    struct Fake {
        events: Vec<i64>,
        cap: usize,
        runs: Mutex<Vec<(i64, i64)>>,
    }

    impl Fake {
        fn new(events: Vec<i64>, cap: usize) -> Self {
            Self {
                events,
                cap,
                runs: Mutex::default(),
            }
        }

        async fn run(&self, request: InsightsRequest) -> Result<InsightsOutput> {
            self.runs
                .lock()
                .unwrap()
                .push((request.start_s, request.end_s));
            // (index, second): the index is the event's @ptr.
            let mut matched: Vec<(usize, i64)> = self
                .events
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, t)| (request.start_s..=request.end_s).contains(t))
                .collect();
            matched.sort_by_key(|(i, t)| (*t, *i));
            if !request.query.contains("asc") {
                matched.reverse();
            }
            // The query's own `limit N`, if any.
            let own = request
                .query
                .split_once("| limit ")
                .and_then(|(_, n)| n.trim().parse::<usize>().ok());
            let take = request.limit.or(own).unwrap_or(self.cap).min(self.cap);
            Ok(InsightsOutput {
                query_id: format!("q{}", self.runs.lock().unwrap().len()),
                rows: matched
                    .iter()
                    .take(take)
                    .map(|(i, t)| {
                        vec![
                            ("t".to_string(), t.to_string()),
                            ("@ptr".into(), format!("p{i}")),
                        ]
                    })
                    .collect(),
                stats: InsightsStats {
                    records_matched: matched.len() as f64,
                    records_scanned: 1000.0,
                    bytes_scanned: 10.0,
                    queries: 1,
                    api_calls: 2,
                    ..Default::default()
                },
            })
        }
    }

    fn request(query: &str, start_s: i64, end_s: i64) -> InsightsRequest {
        InsightsRequest {
            query: query.into(),
            language: QueryLanguage::LogsInsights,
            groups: vec!["/g".into()],
            start_s,
            end_s,
            limit: None,
            whole_messages: false,
        }
    }

    fn times(out: &InsightsOutput) -> Vec<i64> {
        out.rows.iter().map(|r| r[0].1.parse().unwrap()).collect()
    }

    /// `complete` with the fake's cap.
    async fn complete_with(fake: &Fake, request: &InsightsRequest) -> Result<InsightsOutput> {
        complete_capped(request, fake.cap, &|part| fake.run(part)).await
    }

    #[tokio::test]
    async fn a_capped_row_wise_query_is_split_until_complete_in_order() {
        // 30 events over seconds 0..=29, a cap of 10: the first run fills
        // the cap, matched 30 -> 6 slices of 5 seconds, each under the cap.
        let events: Vec<i64> = (0..30).collect();
        for (query, newest_first) in [
            ("fields t", true),
            ("fields t | sort @timestamp desc", true),
            ("fields t | sort @timestamp asc", false),
        ] {
            let fake = Fake::new(events.clone(), 10);
            let out = complete_with(&fake, &request(query, 0, 29)).await.unwrap();
            let mut want = events.clone();
            if newest_first {
                want.reverse();
            }
            assert_eq!(times(&out), want, "{query}");
            let runs = fake.runs.lock().unwrap().clone();
            assert_eq!(runs.len(), 1 + 6, "{query}: {runs:?}");
            assert_eq!(out.stats.queries, 7);
            assert_eq!(out.stats.api_calls, 14);
            assert_eq!(out.stats.bytes_scanned, 70.0);
            // Matched: the parts' events, not the capped run's as well.
            assert_eq!(out.stats.records_matched, 30.0);
        }
    }

    #[tokio::test]
    async fn a_slice_still_at_the_cap_is_split_again() {
        // Dense events in seconds 8 and 9, sparse elsewhere: the slice
        // holding them fills the cap and is cut again.
        let mut events: Vec<i64> = (0..10).collect();
        events.extend([8; 3]);
        events.extend([9; 3]);
        let fake = Fake::new(events.clone(), 10);
        let out = complete_with(&fake, &request("fields t", 0, 9)).await;
        let mut want = events;
        want.sort();
        want.reverse();
        assert_eq!(times(&out.unwrap()), want);
        let runs = fake.runs.lock().unwrap().clone();
        assert_eq!(runs[0], (0, 9));
        // The slice (6, 9) held 10 events, the cap, and was cut again.
        assert!(runs.contains(&(6, 9)) && runs.contains(&(7, 9)), "{runs:?}");
    }

    #[tokio::test]
    async fn a_one_second_slice_at_the_cap_fails() {
        let fake = Fake::new(vec![5; 25], 10);
        let err = complete_with(&fake, &request("fields t", 4, 6))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the seconds it covers (5 to 6)")
                && err.contains("cannot be split further"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn queries_that_cannot_be_split_fail_saying_why() {
        let events: Vec<i64> = (0..30).collect();
        let cases = [
            (
                "stats count(*) by t",
                "its `stats` command makes rows from many events",
            ),
            ("fields t | dedup t", "its `dedup` command"),
            (
                "fields t | sort t desc",
                "sorted by something other than @timestamp",
            ),
            ("fields t | limit 200000", "its own `limit 200000`"),
            (
                "filter @message like /x",
                "cannot tell whether it may be split",
            ),
        ];
        for (query, want) in cases {
            let fake = Fake::new(events.clone(), 10);
            let err = complete_with(&fake, &request(query, 0, 29))
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("reached its cap of 10 rows (it matched 30 log events)")
                    && err.contains(want),
                "{query}: {err}"
            );
            assert_eq!(fake.runs.lock().unwrap().len(), 1, "{query}");
        }
    }

    #[tokio::test]
    async fn limits_and_other_languages_are_never_split() {
        let events: Vec<i64> = (0..30).collect();
        // A caller's limit: the first rows are the answer.
        let fake = Fake::new(events.clone(), 10);
        let asked = InsightsRequest {
            limit: Some(10),
            ..request("fields t", 0, 29)
        };
        complete_with(&fake, &asked).await.unwrap();
        assert_eq!(fake.runs.lock().unwrap().len(), 1);
        // A query's own small limit never fills the cap.
        let fake = Fake::new(events.clone(), 10);
        let out = complete_with(&fake, &request("fields t | limit 5", 0, 29))
            .await
            .unwrap();
        assert_eq!(fake.runs.lock().unwrap().len(), 1);
        assert!(out.rows.len() <= 10);
        // PPL at its cap fails as before.
        let fake = Fake::new(events, 10);
        let ppl = InsightsRequest {
            language: QueryLanguage::OpenSearchPpl,
            ..request("fields t", 0, 29)
        };
        let err = complete_with(&fake, &ppl).await.unwrap_err().to_string();
        assert!(
            err.contains("OpenSearch PPL query q1 reached its cap of 10 rows")
                && err.contains("are not split"),
            "{err}"
        );
        assert_eq!(fake.runs.lock().unwrap().len(), 1);
    }
}
