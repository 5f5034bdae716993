//! The tables only the config file can hold: catalogs, users, tokens and
//! grants. Each refuses keys it does not know, like the file itself.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{InsightsPushdownMode, InsightsRangeEnd, SourceKind};

/// One `[[users]]` table: a login for the Flight Handshake.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// Argon2 PHC string from `logflight hash-password`.
    pub password_hash: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// One `[[tokens]]` table: a static bearer token for a service.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    /// Hex SHA-256 of the token, from `logflight new-token`.
    pub token_sha256: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

// Hashes stay out of debug output (and so out of any log).
impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// One `[[grants]]` table: log groups some users or roles may read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// Principals (user or token names) the grant is for.
    #[serde(default)]
    pub users: Vec<String>,
    /// Roles the grant is for.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Catalogs it covers; every catalog when empty.
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// Log group name patterns (`*`, `?`); any group when empty.
    #[serde(default)]
    pub log_groups: Vec<String>,
    /// Tags a group must all carry; no condition when empty.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One `[[typed_tables]]` table: which typed table some log groups get,
/// over the rule of docs/typed-tables.md (first matching entry wins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypedTableConfig {
    /// Log group name patterns (`*`, `?`).
    pub log_groups: Vec<String>,
    /// Catalogs it covers; every catalog when empty.
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// `cloudtrail`, `vpc_flow_logs`, `lambda`, or `none` for no typed table.
    pub format: String,
    /// The flow log's format as EC2 shows it (`${version} ${account-id} ...`).
    pub flow_log_format: Option<String>,
}

impl TypedTableConfig {
    pub fn covers(&self, catalog: &str) -> bool {
        self.catalogs.is_empty() || self.catalogs.iter().any(|c| c == catalog)
    }
}

/// One `[[catalogs]]` table of the config file: a catalog over one account
/// and region. Unset keys take the top-level value (flag, environment, file).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub name: String,
    pub source: Option<SourceKind>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub role_session_name: Option<String>,
    pub archive_root: Option<String>,
    pub archive_endpoint_url: Option<String>,
    pub archive_kms_key_id: Option<String>,
    pub insights_pushdown: Option<InsightsPushdownMode>,
    pub insights_range_end: Option<InsightsRangeEnd>,
}

/// One `[[retention]]` table: how long `archive prune` keeps the archive
/// of the groups it names. The first entry naming a group decides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Log group name patterns (`*`, `?`).
    pub log_groups: Vec<String>,
    /// Catalogs it covers; every catalog when empty.
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// Days after a day ends before its archive is deleted.
    pub days: u32,
}

/// One `[[legal_holds]]` table: groups `archive prune` never deletes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldConfig {
    /// Log group name patterns (`*`, `?`).
    pub log_groups: Vec<String>,
    /// Catalogs it covers; every catalog when empty.
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// Why, as prune reports it (a case or ticket number).
    pub reason: String,
}

impl RetentionConfig {
    pub fn covers(&self, catalog: &str) -> bool {
        self.catalogs.is_empty() || self.catalogs.iter().any(|c| c == catalog)
    }
}

impl LegalHoldConfig {
    pub fn covers(&self, catalog: &str) -> bool {
        self.catalogs.is_empty() || self.catalogs.iter().any(|c| c == catalog)
    }
}

/// Refuses retention and hold entries that would not do what they say.
pub fn check_archive_policy(
    retention: &[RetentionConfig],
    holds: &[LegalHoldConfig],
) -> Result<(), String> {
    for r in retention {
        if r.log_groups.is_empty() {
            return Err("a [[retention]] entry names no log_groups; write log_groups = [\"*\"] for every group".into());
        }
        if r.days == 0 {
            return Err(format!(
                "the [[retention]] entry for {} has days = 0, which would delete every finished day; give a number of days of at least 1",
                r.log_groups.join(", ")
            ));
        }
    }
    for h in holds {
        if h.log_groups.is_empty() {
            return Err("a [[legal_holds]] entry names no log_groups".into());
        }
        if h.reason.trim().is_empty() {
            return Err(format!(
                "the [[legal_holds]] entry for {} has no reason; prune reports it and auditors ask for it",
                h.log_groups.join(", ")
            ));
        }
    }
    Ok(())
}
