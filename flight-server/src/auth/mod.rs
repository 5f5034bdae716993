//! Who is calling.
//!
//! A client authenticates once, with Flight's Handshake: Basic credentials
//! (in the `authorization` header, as ADBC and pyarrow send them, or as a
//! `BasicAuth` message in the handshake payload, as older JDBC drivers do)
//! are checked against the Argon2 hashes of the config file and answered
//! with a bearer token that expires (`flight/handshake.rs`). Every other RPC
//! passes [`layer::AuthLayer`] first, which checks its bearer token (or
//! Basic credentials, for clients that send them on every call) and puts
//! the [`Caller`] into the request's extensions; the service only reads it.

pub mod authenticator;
pub mod header;
pub mod layer;
pub mod secrets;

use std::net::SocketAddr;
use std::sync::Arc;

pub use crate::error::AuthError;
pub use authenticator::{Authenticator, TokenEntry, UserEntry};

/// An authenticated caller: a user of the config file or a static token's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub roles: Vec<String>,
}

/// Who made a request: set by [`layer::AuthLayer`] on every request it lets in.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// `None` when authentication is off.
    pub principal: Option<Arc<Principal>>,
    pub addr: Option<SocketAddr>,
}

impl Caller {
    pub fn name(&self) -> Option<String> {
        self.principal.as_ref().map(|p| p.name.clone())
    }
}
