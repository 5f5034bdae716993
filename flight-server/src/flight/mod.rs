//! The Flight and Flight SQL protocol: requests decoded once
//! ([`command`]), routed in one place ([`router`]) to statements
//! ([`statements`]) and metadata answers ([`metadata`]), and encoded back
//! ([`encode`]). [`service`] is the thin tonic glue around them.

pub mod bindings;
pub mod command;
pub mod encode;
pub mod handshake;
pub mod ipc;
pub mod metadata;
pub mod router;
pub mod service;
pub mod sql_info;
pub mod statements;
pub mod tickets;

pub use service::LogflightService;
