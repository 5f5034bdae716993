//! Run slots: at most `max_concurrent` queries run at once, at most
//! `max_queued` more wait for a slot, and a wait ends with the query's
//! time limit. Past that, a query is refused at once (RESOURCE_EXHAUSTED)
//! rather than left to pile up on a server whose CloudWatch quota is the
//! real bottleneck.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::limits::QueryLimits;
use crate::error::{Result, ServerError};

/// The server's run slots and their queue.
#[derive(Debug, Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    /// Queries waiting for a slot.
    waiting: Arc<AtomicUsize>,
    max_concurrent: usize,
    max_queued: usize,
    timeout: Duration,
}

/// A query's right to run; the slot is given back when this is dropped,
/// however the query ends.
#[derive(Debug)]
pub struct RunSlot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(limits: &QueryLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_concurrent)),
            waiting: Arc::default(),
            max_concurrent: limits.max_concurrent,
            max_queued: limits.max_queued,
            timeout: limits.timeout,
        }
    }

    /// A run slot: at once when one is free, after a wait in the bounded
    /// queue otherwise; refused when the queue is full or the wait passes
    /// the query's time limit.
    pub async fn admit(&self) -> Result<RunSlot> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(RunSlot { _permit: permit });
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ServerError::Limit(format!(
                "{} queries are running and {} waiting (max_concurrent_queries, max_queued_queries); try again later",
                self.max_concurrent, self.max_queued
            )));
        }
        let permit =
            tokio::time::timeout(self.timeout, Arc::clone(&self.slots).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match permit {
            Ok(Ok(permit)) => Ok(RunSlot { _permit: permit }),
            Ok(Err(_)) => Err(ServerError::Internal("the query slots were closed".into())),
            Err(_) => Err(ServerError::Timeout(format!(
                "waited {} s for a slot among {} running queries (query_timeout_secs)",
                self.timeout.as_secs(),
                self.max_concurrent
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_concurrent: usize, max_queued: usize) -> Admission {
        Admission::new(&QueryLimits {
            max_concurrent,
            max_queued,
            timeout: Duration::from_secs(10),
            ..QueryLimits::default()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn queries_queue_for_slots_and_a_full_queue_refuses() {
        let gate = admission(1, 1);
        let first = gate.admit().await.unwrap();
        // The second waits in the queue; a third finds the queue full.
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.admit().await }
        });
        tokio::task::yield_now().await;
        let refused = gate.admit().await.unwrap_err();
        assert!(matches!(refused, ServerError::Limit(_)), "{refused:?}");
        assert!(refused
            .to_string()
            .contains("1 queries are running and 1 waiting"));
        // Freeing the slot lets the waiting query in.
        drop(first);
        let second = waiting.await.unwrap().unwrap();
        drop(second);
        assert!(gate.admit().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_with_the_time_limit() {
        let gate = admission(1, 5);
        let _held = gate.admit().await.unwrap();
        let err = gate.admit().await.unwrap_err();
        assert!(matches!(err, ServerError::Timeout(_)), "{err:?}");
        assert!(err.to_string().contains("waited 10 s"), "{err}");
        // The timed-out query left the queue.
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn no_queue_means_refused_at_once() {
        let gate = admission(2, 0);
        let _a = gate.admit().await.unwrap();
        let _b = gate.admit().await.unwrap();
        assert!(matches!(gate.admit().await, Err(ServerError::Limit(_))));
    }
}
