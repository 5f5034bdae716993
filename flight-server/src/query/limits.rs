//! The per-query limits of `serve`, and their enforcement on a running
//! result: a query that passes its time limit or its row limit ends with
//! an error at that point; nothing partial follows the error, so a client
//! never mistakes a cut result for a whole one.

use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{stream, Stream, StreamExt};

pub use crate::config::QueryLimits;
use crate::error::ServerError;

/// The error of a query that ran past `timeout`.
pub fn timed_out(timeout: Duration) -> ServerError {
    ServerError::Timeout(format!(
        "it ran longer than {} s (query_timeout_secs)",
        timeout.as_secs()
    ))
}

/// What a running query's stream enforces.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// When the query's time is up (counted from its arrival).
    pub deadline: tokio::time::Instant,
    pub timeout: Duration,
    pub max_rows: Option<u64>,
}

/// `batches`, ended by an error at the deadline or at the batch that
/// would pass the row limit; nothing follows an error.
pub fn enforce(
    batches: SendableRecordBatchStream,
    limits: StreamLimits,
) -> impl Stream<Item = Result<RecordBatch, ServerError>> + Send + 'static {
    // (stream, rows so far); None once the stream has ended or failed.
    stream::unfold(Some((batches, 0u64)), move |state| async move {
        let (mut batches, rows) = state?;
        let next = match tokio::time::timeout_at(limits.deadline, batches.next()).await {
            Ok(None) => return None,
            Ok(Some(next)) => next.map_err(ServerError::from),
            Err(_) => Err(timed_out(limits.timeout)),
        };
        match next {
            Ok(batch) => {
                let rows = rows + batch.num_rows() as u64;
                match limits.max_rows {
                    Some(max) if rows > max => Some((Err(too_many_rows(max)), None)),
                    _ => Some((Ok(batch), Some((batches, rows)))),
                }
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

fn too_many_rows(max: u64) -> ServerError {
    ServerError::Limit(format!(
        "the result has more than {max} rows (max_result_rows); add a LIMIT or narrow the query"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use futures::TryStreamExt;
    use std::sync::Arc;

    fn batch(rows: i64) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )
        .unwrap()
    }

    /// Batches of the given sizes, each after `delay`.
    fn batches(sizes: &[i64], delay: Duration) -> SendableRecordBatchStream {
        let items: Vec<_> = sizes.iter().map(|n| batch(*n)).collect();
        let schema = items[0].schema();
        Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream::iter(items).then(move |b| async move {
                tokio::time::sleep(delay).await;
                Ok(b)
            }),
        ))
    }

    fn limits(timeout_s: u64, max_rows: Option<u64>) -> StreamLimits {
        let timeout = Duration::from_secs(timeout_s);
        StreamLimits {
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
            max_rows,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn results_within_their_limits_pass_whole() {
        let got: Vec<RecordBatch> = enforce(batches(&[3, 4], Duration::ZERO), limits(5, Some(7)))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn the_batch_past_the_row_limit_is_an_error_and_the_end() {
        let items: Vec<Result<RecordBatch, ServerError>> =
            enforce(batches(&[3, 4, 5], Duration::ZERO), limits(5, Some(6)))
                .collect()
                .await;
        assert_eq!(items.len(), 2, "nothing follows the error");
        assert_eq!(items[0].as_ref().unwrap().num_rows(), 3);
        let err = items[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("more than 6 rows"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_result_past_its_deadline_ends_with_a_timeout() {
        let items: Vec<Result<RecordBatch, ServerError>> =
            enforce(batches(&[1, 1, 1], Duration::from_secs(2)), limits(5, None))
                .collect()
                .await;
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        match &items[2] {
            Err(ServerError::Timeout(m)) => assert!(m.contains("longer than 5 s"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
