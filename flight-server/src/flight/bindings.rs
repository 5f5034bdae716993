//! Parameters bound to a prepared statement, for clients that keep the
//! handle they were first given.
//!
//! Handles are stateless: binding parameters (DoPut) answers with a new
//! handle that carries them, and a client that executes that handle needs
//! nothing kept here. Clients written before updated handles entered the
//! Flight SQL spec (2024), such as InfluxData's `flightsql-dbapi` and older
//! JDBC and Go drivers, ignore the answer and execute the handle they
//! created. For them the server remembers the latest binding of each
//! (principal, original handle) for [`BINDING_TTL`] (every prepared
//! statement's handle is its own, with random bytes in it, so two clients
//! preparing the same SQL under one login never see each other's values), at most
//! [`MAX_BINDINGS`] of them and [`MAX_BINDING_BYTES`] in all, the oldest
//! forgotten first.
//!
//! The table lives in one process: on a deployment with several replicas
//! behind a load balancer, such a client's execute must reach the replica
//! it bound on (sticky sessions), or it fails with the message of an unbound
//! statement naming this. Clients that use the returned handle work on any
//! replica.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::tickets::QueryHandle;

/// How long a binding is kept after the DoPut that made it.
pub const BINDING_TTL: Duration = Duration::from_secs(10 * 60);
/// At most this many bindings (across every principal).
pub const MAX_BINDINGS: usize = 10_000;
/// At most this many bytes of bound handles in all.
pub const MAX_BINDING_BYTES: usize = 64 << 20;

/// Whose binding, of which handle: the principal's name (`None` when
/// authentication is off) and the SHA-256 of the unbound handle's bytes.
type Key = (Option<String>, [u8; 32]);

struct Binding {
    bound: Arc<QueryHandle>,
    bytes: usize,
    at: Instant,
}

#[derive(Default)]
struct Table {
    entries: HashMap<Key, Binding>,
    /// Insertion order, for expiry and eviction; may name replaced keys,
    /// which are skipped when their time does not match.
    order: VecDeque<(Key, Instant)>,
    bytes: usize,
}

/// The binding table; see the module docs.
#[derive(Clone, Default)]
pub struct Bindings {
    table: Arc<Mutex<Table>>,
}

impl std::fmt::Debug for Bindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bindings")
            .field("entries", &self.lock().entries.len())
            .finish()
    }
}

fn key(principal: Option<&str>, original: &QueryHandle) -> Key {
    let digest = Sha256::digest(original.to_bytes());
    (principal.map(str::to_string), digest.into())
}

impl Bindings {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `bound` as the binding of `original` for `principal`.
    pub fn remember(&self, principal: Option<&str>, original: &QueryHandle, bound: &QueryHandle) {
        self.remember_at(principal, original, bound, Instant::now());
    }

    fn remember_at(
        &self,
        principal: Option<&str>,
        original: &QueryHandle,
        bound: &QueryHandle,
        now: Instant,
    ) {
        let key = key(principal, original);
        let bytes = bound.sql.len() + bound.params.as_ref().map_or(0, Vec::len);
        let mut table = self.lock();
        if let Some(old) = table.entries.remove(&key) {
            table.bytes -= old.bytes;
        }
        table.entries.insert(
            key.clone(),
            Binding {
                bound: Arc::new(bound.clone()),
                bytes,
                at: now,
            },
        );
        table.bytes += bytes;
        table.order.push_back((key, now));
        table.evict(now);
    }

    /// The handle bound to `original` for `principal`, if it is still kept.
    pub fn bound(
        &self,
        principal: Option<&str>,
        original: &QueryHandle,
    ) -> Option<Arc<QueryHandle>> {
        self.bound_at(principal, original, Instant::now())
    }

    fn bound_at(
        &self,
        principal: Option<&str>,
        original: &QueryHandle,
        now: Instant,
    ) -> Option<Arc<QueryHandle>> {
        let mut table = self.lock();
        table.evict(now);
        let binding = table.entries.get(&key(principal, original))?;
        // The digest names the handle; its SQL confirms it.
        (binding.bound.sql == original.sql).then(|| Arc::clone(&binding.bound))
    }

    /// How many bindings are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

impl Table {
    /// Drops expired bindings, then the oldest until within both bounds.
    fn evict(&mut self, now: Instant) {
        while let Some((key, at)) = self.order.front().cloned() {
            let current = self.entries.get(&key).is_some_and(|b| b.at == at);
            let over = self.entries.len() > MAX_BINDINGS || self.bytes > MAX_BINDING_BYTES;
            let expired = now.saturating_duration_since(at) >= BINDING_TTL;
            if current && !over && !expired {
                break;
            }
            self.order.pop_front();
            if current {
                if let Some(old) = self.entries.remove(&key) {
                    self.bytes -= old.bytes;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(sql: &str, value: u8) -> QueryHandle {
        QueryHandle {
            sql: sql.into(),
            params: Some(vec![value; 8]),
            nonce: None,
        }
    }

    #[test]
    fn a_binding_is_found_by_principal_and_original_handle() {
        let table = Bindings::default();
        let original = QueryHandle::new("SELECT $1");
        table.remember(Some("alice"), &original, &bound("SELECT $1", 1));
        assert_eq!(
            table.bound(Some("alice"), &original).unwrap().params,
            Some(vec![1; 8])
        );
        // Another principal, or no principal, does not see alice's binding.
        assert!(table.bound(Some("bob"), &original).is_none());
        assert!(table.bound(None, &original).is_none());
        // Another statement is another handle.
        assert!(table
            .bound(Some("alice"), &QueryHandle::new("SELECT $1 + 1"))
            .is_none());
        // Binding again replaces the values.
        table.remember(Some("alice"), &original, &bound("SELECT $1", 2));
        assert_eq!(
            table.bound(Some("alice"), &original).unwrap().params,
            Some(vec![2; 8])
        );
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn bindings_expire_and_the_oldest_go_first_past_the_bound() {
        let table = Bindings::default();
        let start = Instant::now();
        let original = QueryHandle::new("SELECT $1");
        table.remember_at(None, &original, &bound("SELECT $1", 1), start);
        let later = start + BINDING_TTL - Duration::from_secs(1);
        assert!(table.bound_at(None, &original, later).is_some());
        assert!(table
            .bound_at(None, &original, start + BINDING_TTL)
            .is_none());
        assert_eq!(table.len(), 0);
        // Past MAX_BINDINGS the first ones are forgotten, the last kept.
        for i in 0..MAX_BINDINGS + 5 {
            let original = QueryHandle::new(format!("SELECT $1, {i}"));
            let sql = original.sql.clone();
            table.remember_at(None, &original, &bound(&sql, 1), start);
        }
        assert_eq!(table.len(), MAX_BINDINGS);
        assert!(table
            .bound_at(None, &QueryHandle::new("SELECT $1, 0"), start)
            .is_none());
        let last = format!("SELECT $1, {}", MAX_BINDINGS + 4);
        assert!(table
            .bound_at(None, &QueryHandle::new(last), start)
            .is_some());
    }

    #[test]
    fn the_byte_bound_holds() {
        let table = Bindings::default();
        let now = Instant::now();
        let big = vec![0u8; MAX_BINDING_BYTES / 3 + 1];
        for i in 0..4 {
            let original = QueryHandle::new(format!("SELECT $1, {i}"));
            let bound = QueryHandle {
                sql: original.sql.clone(),
                params: Some(big.clone()),
                nonce: None,
            };
            table.remember_at(None, &original, &bound, now);
        }
        assert_eq!(table.len(), 2);
        assert!(table.lock().bytes <= MAX_BINDING_BYTES);
    }
}
