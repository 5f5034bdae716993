//! Which engine answers a caller: the config's `[[grants]]` turned into
//! one restricted view of the catalogs per principal.
//!
//! Each principal gets its own [`QueryEngine`] whose catalogs show only
//! what its grants allow (see `logflight_connector::access`), so nothing
//! downstream (planning, listings, information_schema, metadata tables,
//! Insights, prepared statements) needs to know about authorization: a
//! statement can only name what its engine can see.

use std::collections::HashMap;
use std::sync::Arc;

use logflight_connector::{AccessRule, GroupAccess, LogCatalog, NamePattern};

use crate::auth::{AuthError, Principal};
use crate::config::GrantConfig;
use crate::error::{Result, ServerError};
use crate::query::QueryEngine;

/// The access rules of `principal` in the catalog named `catalog`.
pub fn access_for(principal: &Principal, catalog: &str, grants: &[GrantConfig]) -> GroupAccess {
    let rules = grants
        .iter()
        .filter(|g| {
            g.users.iter().any(|u| u == &principal.name)
                || g.roles.iter().any(|r| principal.roles.contains(r))
        })
        .filter(|g| g.catalogs.is_empty() || g.catalogs.iter().any(|c| c == catalog))
        .map(|g| AccessRule {
            names: g.log_groups.iter().map(|p| NamePattern::new(p)).collect(),
            tags: g.tags.clone(),
        })
        .collect();
    GroupAccess::new(rules)
}

/// Whether no grant gives `principal` anything in any of `catalogs`: it
/// could authenticate and then see nothing, which is worth a warning at
/// start rather than a puzzled user.
fn ungranted(principal: &Principal, catalogs: &[&str], grants: &[GrantConfig]) -> bool {
    catalogs
        .iter()
        .all(|c| access_for(principal, c, grants).rules.is_empty())
}

/// The engines of a server: one for everybody when authentication is off,
/// else one per principal.
#[derive(Debug)]
pub struct PrincipalEngines {
    /// Sees every group: serves unauthenticated servers and the metrics.
    full: QueryEngine,
    auth_enabled: bool,
    by_principal: HashMap<String, QueryEngine>,
}

impl PrincipalEngines {
    pub fn open(full: QueryEngine) -> Self {
        Self {
            full,
            auth_enabled: false,
            by_principal: HashMap::new(),
        }
    }

    /// One restricted engine per principal, sharing `catalogs`' sources.
    pub fn restricted<'a>(
        full: QueryEngine,
        catalogs: &[LogCatalog],
        principals: impl Iterator<Item = &'a Arc<Principal>>,
        grants: &[GrantConfig],
    ) -> Result<Self> {
        let known: Vec<&str> = catalogs.iter().map(|c| c.name()).collect();
        for grant in grants {
            if let Some(unknown) = grant.catalogs.iter().find(|c| !known.contains(&c.as_str())) {
                return Err(ServerError::Config(format!(
                    "a [[grants]] entry names catalog {unknown:?}; catalogs are: {}",
                    known.join(", ")
                )));
            }
        }
        let mut by_principal = HashMap::new();
        for principal in principals {
            if ungranted(principal, &known, grants) {
                tracing::warn!(
                    principal = %principal.name,
                    "{:?} has no [[grants]] entry: it can authenticate but sees no log group; \
                     add a [[grants]] entry naming it in users, or one of its roles ({}) in roles (see docs/security.md)",
                    principal.name,
                    if principal.roles.is_empty() { "none".to_string() } else { principal.roles.join(", ") }
                );
            }
            let views = catalogs
                .iter()
                .map(|c| c.restricted(access_for(principal, c.name(), grants)))
                .collect();
            by_principal.insert(
                principal.name.clone(),
                QueryEngine::new_in(views, full.cluster().cloned())?,
            );
        }
        Ok(Self {
            full,
            auth_enabled: true,
            by_principal,
        })
    }

    /// The engine for a caller; `None` is an unauthenticated caller, which
    /// only a server without authentication serves.
    pub fn for_caller(&self, principal: Option<&Principal>) -> Result<&QueryEngine> {
        match (self.auth_enabled, principal) {
            (false, _) => Ok(&self.full),
            (true, Some(p)) => self
                .by_principal
                .get(&p.name)
                .ok_or(ServerError::Auth(AuthError::UnknownPrincipal)),
            (true, None) => Err(ServerError::Auth(AuthError::Required)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn grants_apply_by_user_role_and_catalog() {
        let grants = vec![
            GrantConfig {
                users: vec!["alice".into()],
                log_groups: vec!["/a/*".into()],
                ..Default::default()
            },
            GrantConfig {
                roles: vec!["payments".into()],
                catalogs: vec!["eu".into()],
                tags: BTreeMap::from([("team".into(), "payments".into())]),
                ..Default::default()
            },
            GrantConfig {
                roles: vec!["auditor".into()],
                log_groups: vec!["*".into()],
                ..Default::default()
            },
        ];
        let alice = Principal {
            name: "alice".into(),
            roles: vec!["payments".into()],
        };
        let bob = Principal {
            name: "bob".into(),
            roles: vec![],
        };
        let us = access_for(&alice, "us", &grants);
        assert_eq!(us.rules.len(), 1);
        assert!(us.allows("/a/x", &BTreeMap::new()));
        assert!(!us.allows(
            "/b/x",
            &BTreeMap::from([("team".into(), "payments".into())])
        ));
        let eu = access_for(&alice, "eu", &grants);
        assert_eq!(eu.rules.len(), 2);
        assert!(eu.allows(
            "/b/x",
            &BTreeMap::from([("team".into(), "payments".into())])
        ));
        assert!(access_for(&bob, "us", &grants).rules.is_empty());
    }

    #[test]
    fn principals_without_any_grant_are_found() {
        let grants = vec![
            GrantConfig {
                users: vec!["alice".into()],
                catalogs: vec!["eu".into()],
                ..Default::default()
            },
            GrantConfig {
                roles: vec!["auditor".into()],
                ..Default::default()
            },
        ];
        let who = |name: &str, roles: &[&str]| Principal {
            name: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        let cases = [
            (who("alice", &[]), &["us", "eu"][..], false),
            (who("alice", &[]), &["us"][..], true),
            (who("carol", &["auditor"]), &["us"][..], false),
            (who("bob", &["reader"]), &["us", "eu"][..], true),
            (who("bob", &[]), &[][..], true),
        ];
        for (principal, catalogs, want) in cases {
            assert_eq!(
                ungranted(&principal, catalogs, &grants),
                want,
                "{principal:?} {catalogs:?}"
            );
        }
    }
}
