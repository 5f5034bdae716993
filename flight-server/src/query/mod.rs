//! Running SQL under the server's rules: the engine that plans it
//! ([`engine`]) after the statement checks ([`checks`]), the run slots a
//! query waits for ([`admission`]), the limits on a running result
//! ([`limits`]), the record every query leaves ([`log`]) and the SHOW
//! statements answered by a rewrite ([`show`]).

pub mod admission;
pub mod checks;
pub mod column_names;
pub mod engine;
pub mod limits;
pub mod log;
pub mod show;

use crate::auth::Caller;

pub use engine::{PlannedQuery, QueryEngine};

/// Who asks, and through which RPC: all that answering a request needs
/// to know of it, so the answers are tested without a server.
#[derive(Debug, Clone, Default)]
pub struct QueryContext {
    pub caller: Caller,
    /// The Flight RPC (or Flight SQL action), e.g. `DoGet`, as the audit log names it.
    pub rpc: &'static str,
}

impl QueryContext {
    pub fn new(caller: Caller, rpc: &'static str) -> Self {
        Self { caller, rpc }
    }

    /// The same caller, through another RPC name (a Flight SQL action).
    pub fn as_rpc(&self, rpc: &'static str) -> Self {
        Self {
            caller: self.caller.clone(),
            rpc,
        }
    }
}
