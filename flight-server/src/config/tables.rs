//! The tables only the config file can hold: catalogs, users, tokens and
//! grants. Each refuses keys it does not know, like the file itself.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SourceKind;

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
}
