//! The server's own audit log: one JSON line per query, login and refused
//! call, appended to a file the operator names (`--audit-log`).
//!
//! A line is written when a query ends, however it ends (rows sent, error,
//! timeout, client gone), so a query that was cut short is still on record.
//! Statements can be recorded as their SHA-256 instead of their text
//! (`--audit-sql hash`) when literals may be sensitive. Passwords and
//! tokens are never written: a login line names the principal it claimed
//! only when the credentials were good.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use logflight_connector::time::{iso8601, now_ms};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::AuditSql;
use crate::error::{Result, ServerError};

/// A log group a statement named.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TouchedGroup {
    pub catalog: String,
    /// The group's exact name; `logflight$meta` or `information_schema` for
    /// those schemas.
    pub log_group: String,
}

/// One line of the audit log.
#[derive(Debug, Default, Serialize)]
pub struct AuditEntry {
    pub time: String,
    /// `query`, `login` or `denied`.
    pub event: &'static str,
    /// The Flight RPC, e.g. `DoGet`, `GetFlightInfo`, `Handshake`.
    pub rpc: &'static str,
    pub principal: Option<String>,
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_sha256: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<TouchedGroup>,
    pub rows: u64,
    /// CloudWatch API calls of the query's scans.
    pub api_calls: u64,
    pub events_scanned: u64,
    /// Logs Insights queries the statement ran (insights() calls, split
    /// parts), and the bytes and records they scanned (what is billed).
    #[serde(skip_serializing_if = "is_zero")]
    pub insights_queries: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub insights_bytes_scanned: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub insights_records_scanned: u64,
    pub duration_ms: u64,
    /// `ok`, `failed` or `cancelled`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AuditEntry {
    pub fn new(event: &'static str, rpc: &'static str) -> Self {
        Self {
            time: iso8601(now_ms()),
            event,
            rpc,
            outcome: "ok",
            ..Default::default()
        }
    }

    pub fn client(mut self, addr: Option<SocketAddr>) -> Self {
        self.client = addr.map(|a| a.to_string());
        self
    }

    pub fn failed(mut self, error: &ServerError) -> Self {
        self.outcome = "failed";
        self.error_code = Some(format!("{:?}", error.code()));
        self.error = Some(error.message());
        self
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A statement's SHA-256, as lowercase hex.
fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The open audit log file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    sql: AuditSql,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

impl AuditLog {
    /// Opens `path` for appending (created readable by its owner only).
    pub fn open(path: &Path, sql: AuditSql) -> Result<Self> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| {
            ServerError::Config(format!("cannot open the audit log {}: {e}", path.display()))
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            sql,
        })
    }

    /// Sets the statement as the configured form (text or digest).
    pub fn statement(&self, entry: &mut AuditEntry, sql: &str) {
        match self.sql {
            AuditSql::Text => entry.sql = Some(sql.to_string()),
            AuditSql::Hash => entry.sql_sha256 = Some(sha256_hex(sql)),
        }
    }

    /// Records a call refused before it reached the service.
    pub fn denied(&self, rpc: &'static str, addr: Option<SocketAddr>, error: &ServerError) {
        self.record(&AuditEntry::new("denied", rpc).client(addr).failed(error));
    }

    /// Appends one line. A failed write is logged as an error: the query
    /// it describes has already happened and cannot be undone.
    pub fn record(&self, entry: &AuditEntry) {
        let mut line = match serde_json::to_vec(entry) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit log entry");
                return;
            }
        };
        line.push(b'\n');
        let mut file = self.file.lock().expect("audit log lock");
        if let Err(e) = file.write_all(&line).and_then(|()| file.flush()) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthError;

    #[test]
    fn lines_are_json_with_text_or_digest() {
        let dir = std::env::temp_dir().join(format!("logflight-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (mode, path) in [
            (AuditSql::Text, dir.join("text.jsonl")),
            (AuditSql::Hash, dir.join("hash.jsonl")),
        ] {
            let _ = std::fs::remove_file(&path);
            let log = AuditLog::open(&path, mode).unwrap();
            let mut entry =
                AuditEntry::new("query", "DoGet").client(Some("127.0.0.1:9".parse().unwrap()));
            entry.principal = Some("alice".into());
            entry.insights_queries = 2;
            entry.insights_bytes_scanned = 4096;
            log.statement(&mut entry, "SELECT 'line\nbreak'");
            entry.groups.push(TouchedGroup {
                catalog: "cloudwatch".into(),
                log_group: "/a\"b".into(),
            });
            log.record(&entry);
            log.record(
                &AuditEntry::new("login", "Handshake")
                    .failed(&ServerError::Auth(AuthError::BadCredentials)),
            );
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), 2);
            assert_eq!(lines[0]["principal"], "alice");
            assert_eq!(lines[0]["client"], "127.0.0.1:9");
            assert_eq!(lines[0]["groups"][0]["log_group"], "/a\"b");
            assert_eq!(lines[0]["insights_queries"], 2);
            assert_eq!(lines[0]["insights_bytes_scanned"], 4096);
            // Zero is left out: most statements run no Logs Insights query.
            assert!(lines[0].get("insights_records_scanned").is_none());
            assert!(lines[1].get("insights_queries").is_none());
            match mode {
                AuditSql::Text => assert_eq!(lines[0]["sql"], "SELECT 'line\nbreak'"),
                AuditSql::Hash => {
                    assert!(lines[0].get("sql").is_none());
                    assert_eq!(
                        lines[0]["sql_sha256"],
                        "3701ff9cf87dfcd7849a32c474e256b789917900960875099ac0d2b0a8a07524"
                    );
                }
            }
            assert_eq!(lines[1]["outcome"], "failed");
            assert_eq!(lines[1]["error_code"], "Unauthenticated");
        }
    }
}
