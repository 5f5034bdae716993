//! The security settings of `serve`, checked as a whole: TLS files come
//! in pairs, every grant names someone and something.

use std::path::PathBuf;
use std::time::Duration;

use super::settings::{FileConfig, ServeSettings};
use super::tables::{GrantConfig, TokenConfig, UserConfig};
use super::AuditSql;
use crate::error::{Result, ServerError};

const DEFAULT_TOKEN_TTL_SECS: u64 = 3600;

/// TLS files of `serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// The merged security settings.
#[derive(Debug, Clone, Default)]
pub struct Security {
    pub allow_anonymous: bool,
    pub token_ttl: Duration,
    pub tls: Option<TlsFiles>,
    pub audit_log: Option<PathBuf>,
    pub audit_sql: AuditSql,
    pub users: Vec<UserConfig>,
    pub tokens: Vec<TokenConfig>,
    pub grants: Vec<GrantConfig>,
}

impl Security {
    /// Authentication is on as soon as one user or token is configured.
    pub fn auth_enabled(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    /// From the merged serve settings and the file's tables.
    pub fn resolve(serve: &ServeSettings, file: &FileConfig) -> Result<Self> {
        for grant in &file.grants {
            check_grant(grant)?;
        }
        Ok(Self {
            allow_anonymous: serve.allow_anonymous.unwrap_or(false),
            token_ttl: Duration::from_secs(
                serve
                    .token_ttl_secs
                    .unwrap_or(DEFAULT_TOKEN_TTL_SECS)
                    .max(1),
            ),
            tls: tls_files(serve)?,
            audit_log: serve.audit_log.clone(),
            audit_sql: serve.audit_sql.unwrap_or_default(),
            users: file.users.clone(),
            tokens: file.tokens.clone(),
            grants: file.grants.clone(),
        })
    }
}

fn tls_files(serve: &ServeSettings) -> Result<Option<TlsFiles>> {
    let client_ca = serve.tls_client_ca.clone();
    match (serve.tls_cert.clone(), serve.tls_key.clone()) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert,
            key,
            client_ca,
        })),
        (None, None) if client_ca.is_none() => Ok(None),
        (None, None) => Err(ServerError::Config(
            "tls_client_ca needs tls_cert and tls_key: mutual TLS is TLS first".into(),
        )),
        _ => Err(ServerError::Config(
            "tls_cert and tls_key go together: give both or neither".into(),
        )),
    }
}

fn check_grant(grant: &GrantConfig) -> Result<()> {
    if grant.users.is_empty() && grant.roles.is_empty() {
        return Err(ServerError::Config(
            "a [[grants]] entry names no users and no roles".into(),
        ));
    }
    if grant.log_groups.is_empty() && grant.tags.is_empty() {
        return Err(ServerError::Config(format!(
            "the [[grants]] entry for {} has neither log_groups nor tags; write log_groups = [\"*\"] to grant every group",
            grant.users.iter().chain(&grant.roles).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(flags: ServeSettings, file: &str) -> Result<Security> {
        let file: FileConfig = toml::from_str(file).unwrap();
        Security::resolve(&flags.or_file(&file), &file)
    }

    #[test]
    fn security_settings_and_their_errors() {
        let file = r#"
            token_ttl_secs = 90
            tls_cert = "c.pem"
            tls_key = "k.pem"
            audit_log = "audit.jsonl"
            audit_sql = "hash"

            [[users]]
            name = "alice"
            password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
            roles = ["payments"]

            [[tokens]]
            name = "dashboard"
            token_sha256 = "00"

            [[grants]]
            roles = ["payments"]
            log_groups = ["/ecs/*"]
            tags = { team = "payments" }
            "#;
        let s = security(ServeSettings::default(), file).unwrap();
        assert!(s.auth_enabled());
        assert_eq!(s.token_ttl, Duration::from_secs(90));
        assert_eq!(s.audit_sql, AuditSql::Hash);
        assert_eq!(
            s.tls,
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into(),
                client_ca: None
            })
        );
        assert_eq!(s.grants[0].tags["team"], "payments");
        // Secrets stay out of debug output.
        let debug = format!("{:?}", s.users);
        assert!(
            debug.contains("alice") && !debug.contains("argon2"),
            "{debug}"
        );

        let flags = ServeSettings {
            token_ttl_secs: Some(5),
            audit_sql: Some(AuditSql::Text),
            allow_anonymous: Some(true),
            ..Default::default()
        };
        let s = security(flags, file).unwrap();
        assert_eq!(
            (s.token_ttl, s.audit_sql, s.allow_anonymous),
            (Duration::from_secs(5), AuditSql::Text, true)
        );

        let off = security(ServeSettings::default(), "").unwrap();
        assert!(!off.auth_enabled() && off.tls.is_none() && !off.allow_anonymous);
        assert_eq!(off.token_ttl, Duration::from_secs(DEFAULT_TOKEN_TTL_SECS));

        let cases = [
            ("tls_cert = \"c\"", "go together"),
            ("tls_client_ca = \"ca\"", "mutual TLS is TLS first"),
            (
                "[[grants]]\nlog_groups = [\"*\"]",
                "names no users and no roles",
            ),
            ("[[grants]]\nusers = [\"a\"]", "neither log_groups nor tags"),
        ];
        for (text, want) in cases {
            let err = security(ServeSettings::default(), text).unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
        assert!(toml::from_str::<FileConfig>("[[users]]\nname = \"a\"\npassword = \"x\"").is_err());
    }
}
