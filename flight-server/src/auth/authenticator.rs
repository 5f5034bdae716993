//! Checking who is calling: passwords against Argon2 hashes, and bearer
//! tokens, issued or static.
//!
//! Issued tokens are stateless (`lf1.<payload>.<HMAC-SHA256>`), signed with
//! a key drawn at start: any RPC checks one without a lookup table that
//! could grow, and a restart logs everyone out. Static tokens are stored as
//! SHA-256 digests: they are long random secrets, so a slow hash would only
//! slow every RPC down. Every comparison of a secret is constant-time, and
//! an unknown user costs the same Argon2 work as a wrong password, so
//! timing tells nothing about who exists.
//!
//! Some clients send `Basic` credentials on every RPC instead of a
//! Handshake. Argon2 on every call would cost tens of milliseconds of CPU
//! each, so a password that verified is remembered for [`BASIC_CACHE_TTL`]
//! as an HMAC under the signing key (never the password itself); a call
//! whose password does not match what is remembered pays Argon2 again, so
//! guessing is as slow as ever and a wrong password, like an unknown user,
//! is never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::PasswordVerifier;
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::header::bearer;
use super::secrets::{hash_password, token_digest};
use super::{AuthError, Principal};

const TOKEN_PREFIX: &str = "lf1.";

/// How long a verified Basic password is remembered: long enough that a
/// client sending credentials on every call pays Argon2 about once a
/// minute, short enough that a changed config (restart) or a stolen
/// connection's value ages out quickly.
pub const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);

/// A configured user: name, Argon2 PHC hash, roles.
#[derive(Debug, Clone)]
pub struct UserEntry {
    pub name: String,
    pub password_hash: String,
    pub roles: Vec<String>,
}

/// A configured static token: name, SHA-256 of the token, roles.
#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub name: String,
    pub sha256: [u8; 32],
    pub roles: Vec<String>,
}

/// The claims inside an issued token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// Principal name.
    sub: String,
    /// Expiry, Unix seconds.
    exp: u64,
}

/// Checks credentials and tokens; see the module docs.
pub struct Authenticator {
    users: HashMap<String, (PasswordHash, Arc<Principal>)>,
    tokens: Vec<(TokenEntry, Arc<Principal>)>,
    principals: HashMap<String, Arc<Principal>>,
    key: [u8; 32],
    ttl: Duration,
    /// Verified against when the user is unknown, so that costs the same.
    decoy: PasswordHash,
    /// Recently verified Basic passwords: user -> (when, HMAC of the password).
    /// At most one entry per configured user, so it cannot grow.
    verified: Mutex<HashMap<String, (Instant, [u8; 32])>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print hashes or the signing key.
        f.debug_struct("Authenticator")
            .field("users", &self.users.len())
            .field("tokens", &self.tokens.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// An issued bearer token and whom it names.
#[derive(Debug, Clone)]
pub struct Issued {
    pub principal: Arc<Principal>,
    pub token: String,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Authenticator {
    /// Checks the entries (hashes parse, names unique) and draws the signing key.
    pub fn new(
        users: Vec<UserEntry>,
        tokens: Vec<TokenEntry>,
        ttl: Duration,
    ) -> Result<Self, String> {
        let mut principals = HashMap::new();
        let mut add = |name: &str, roles: &[String]| -> Result<Arc<Principal>, String> {
            if name.is_empty() {
                return Err("a user or token has an empty name".into());
            }
            let principal = Arc::new(Principal {
                name: name.to_string(),
                roles: roles.to_vec(),
            });
            if principals
                .insert(name.to_string(), Arc::clone(&principal))
                .is_some()
            {
                return Err(format!("two users or tokens are named {name:?}"));
            }
            Ok(principal)
        };
        let mut by_name = HashMap::new();
        for user in users {
            let hash = PasswordHash::new(&user.password_hash).map_err(|e| {
                format!(
                    "user {:?}: password_hash is not an Argon2 PHC string ({e}); make one with `logflight hash-password`",
                    user.name
                )
            })?;
            let principal = add(&user.name, &user.roles)?;
            by_name.insert(user.name, (hash, principal));
        }
        let mut static_tokens = Vec::new();
        for token in tokens {
            let principal = add(&token.name, &token.roles)?;
            static_tokens.push((token, principal));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no randomness for the token key: {e}"))?;
        let decoy = PasswordHash::new(&hash_password("logflight decoy")?)
            .map_err(|e| format!("decoy hash: {e}"))?;
        Ok(Self {
            users: by_name,
            tokens: static_tokens,
            principals,
            key,
            ttl: ttl.max(Duration::from_secs(1)),
            decoy,
            verified: Mutex::new(HashMap::new()),
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Every principal there is (users and static tokens).
    pub fn principals(&self) -> impl Iterator<Item = &Arc<Principal>> {
        self.principals.values()
    }

    /// Checks a username and password; constant work whether or not the
    /// user exists.
    pub fn login(&self, username: &str, password: &str) -> Result<Issued, AuthError> {
        let principal = self.check_password(username, password)?;
        self.issue(&principal)
    }

    /// Argon2 check of a password (the decoy for unknown users); a match is
    /// remembered for [`Self::remembered`].
    pub fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Arc<Principal>, AuthError> {
        let (hash, principal) = match self.users.get(username) {
            Some((hash, principal)) => (hash, Some(principal)),
            None => (&self.decoy, None),
        };
        let verified = Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok();
        match principal {
            Some(principal) if verified => {
                let mut remembered = self.verified.lock().unwrap_or_else(|e| e.into_inner());
                remembered.insert(
                    username.to_string(),
                    (Instant::now(), self.password_mac(username, password)),
                );
                Ok(Arc::clone(principal))
            }
            _ => Err(AuthError::BadCredentials),
        }
    }

    /// The principal of Basic credentials verified within the last
    /// [`BASIC_CACHE_TTL`], without Argon2; `None` when they must be
    /// checked in full (never verified, expired, or a different password).
    pub fn remembered(&self, username: &str, password: &str) -> Option<Arc<Principal>> {
        let mac = self.password_mac(username, password);
        let remembered = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        let (when, known) = remembered.get(username)?;
        let fresh = when.elapsed() < BASIC_CACHE_TTL;
        if fresh && bool::from(known.ct_eq(&mac)) {
            self.users.get(username).map(|(_, p)| Arc::clone(p))
        } else {
            None
        }
    }

    /// HMAC of `user NUL password` under the signing key: what the cache keeps.
    fn password_mac(&self, username: &str, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(b"basic\0");
        mac.update(username.as_bytes());
        mac.update(b"\0");
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn sign(&self, payload: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn issue(&self, principal: &Arc<Principal>) -> Result<Issued, AuthError> {
        let exp = unix_now().saturating_add(self.ttl.as_secs());
        let claims = Claims {
            sub: principal.name.clone(),
            exp,
        };
        let payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).map_err(|_| AuthError::BadToken)?);
        let mac = URL_SAFE_NO_PAD.encode(self.sign(&payload));
        Ok(Issued {
            principal: Arc::clone(principal),
            token: format!("{TOKEN_PREFIX}{payload}.{mac}"),
        })
    }

    /// Checks an `authorization` header value for any RPC: an issued
    /// token or a static one.
    pub fn verify_header(&self, value: &str) -> Result<Arc<Principal>, AuthError> {
        let token = bearer(value)?;
        self.verify_token(token)
    }

    pub fn verify_token(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        if let Some(rest) = token.strip_prefix(TOKEN_PREFIX) {
            return self.verify_issued(rest);
        }
        // Compare against every static token, without stopping early.
        let digest = token_digest(token);
        let mut found: Option<&Arc<Principal>> = None;
        for (entry, principal) in &self.tokens {
            if bool::from(entry.sha256.ct_eq(&digest)) {
                found = Some(principal);
            }
        }
        found.cloned().ok_or(AuthError::BadToken)
    }

    fn verify_issued(&self, rest: &str) -> Result<Arc<Principal>, AuthError> {
        let (payload, mac) = rest.split_once('.').ok_or(AuthError::BadToken)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| AuthError::BadToken)?;
        let mut check = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        check.update(payload.as_bytes());
        check.verify_slice(&mac).map_err(|_| AuthError::BadToken)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(AuthError::BadToken)?;
        if claims.exp <= unix_now() {
            return Err(AuthError::Expired);
        }
        self.principals
            .get(&claims.sub)
            .cloned()
            .ok_or(AuthError::BadToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::header::parse_basic;
    use crate::auth::secrets::{hex, new_token, parse_hex32};

    fn authenticator(ttl: Duration) -> (Authenticator, String) {
        let token = new_token().unwrap();
        let auth = Authenticator::new(
            vec![UserEntry {
                name: "alice".into(),
                password_hash: hash_password("s3cret: with colons!").unwrap(),
                roles: vec!["payments".into()],
            }],
            vec![TokenEntry {
                name: "dashboard".into(),
                sha256: token_digest(&token),
                roles: vec![],
            }],
            ttl,
        )
        .unwrap();
        (auth, token)
    }

    #[test]
    fn logins_issue_tokens_that_verify() {
        let (auth, static_token) = authenticator(Duration::from_secs(60));
        let issued = auth.login("alice", "s3cret: with colons!").unwrap();
        assert_eq!(issued.principal.name, "alice");
        assert_eq!(issued.principal.roles, ["payments"]);
        let back = auth
            .verify_header(&format!("Bearer {}", issued.token))
            .unwrap();
        assert_eq!(back.name, "alice");
        assert_eq!(
            auth.verify_header(&format!("bearer {static_token}"))
                .unwrap()
                .name,
            "dashboard"
        );
        assert_eq!(
            auth.login("alice", "wrong").unwrap_err(),
            AuthError::BadCredentials
        );
        assert_eq!(
            auth.login("mallory", "x").unwrap_err(),
            AuthError::BadCredentials
        );
        assert_eq!(
            auth.login("dashboard", &static_token).unwrap_err(),
            AuthError::BadCredentials
        );
    }

    #[test]
    fn basic_credentials_log_in_padded_or_not() {
        let (auth, _) = authenticator(Duration::from_secs(60));
        let raw = "alice:s3cret: with colons!";
        let padded = base64::engine::general_purpose::STANDARD.encode(raw);
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
        for value in [format!("Basic {padded}"), format!("basic {unpadded}")] {
            let (user, password) = parse_basic(&value).unwrap();
            assert_eq!(
                auth.login(&user, &password).unwrap().principal.name,
                "alice"
            );
        }
    }

    #[test]
    fn forged_altered_and_expired_tokens_are_refused() {
        let (auth, _) = authenticator(Duration::from_secs(60));
        let issued = auth.login("alice", "s3cret: with colons!").unwrap();
        let (payload, mac) = issued.token[TOKEN_PREFIX.len()..].split_once('.').unwrap();
        // A payload naming another principal, with the old signature.
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"dashboard","exp":99999999999}"#);
        let mut flipped = URL_SAFE_NO_PAD.decode(mac).unwrap();
        flipped[0] ^= 1;
        let cases = [
            format!("{TOKEN_PREFIX}{forged_claims}.{mac}"),
            format!(
                "{TOKEN_PREFIX}{payload}.{}",
                URL_SAFE_NO_PAD.encode(flipped)
            ),
            format!("{TOKEN_PREFIX}{payload}"),
            format!("{TOKEN_PREFIX}{payload}.not base64!"),
            "lf1.".into(),
            "anonymous".into(),
        ];
        for token in cases {
            assert_eq!(
                auth.verify_token(&token).unwrap_err(),
                AuthError::BadToken,
                "{token}"
            );
        }
        // Another server's key does not verify ours.
        let (other, _) = authenticator(Duration::from_secs(60));
        assert_eq!(
            other.verify_token(&issued.token).unwrap_err(),
            AuthError::BadToken
        );
        assert!(matches!(
            auth.verify_header("Bearer "),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            auth.verify_header("Basic abc"),
            Err(AuthError::Malformed(_))
        ));

        // An expired token (the clock is read in whole seconds).
        let short = Authenticator {
            ttl: Duration::ZERO,
            ..authenticator(Duration::from_secs(1)).0
        };
        let issued = short.login("alice", "s3cret: with colons!").unwrap();
        assert_eq!(
            short.verify_token(&issued.token).unwrap_err(),
            AuthError::Expired
        );
    }

    #[test]
    fn configuration_errors_name_the_entry() {
        let bad_hash = Authenticator::new(
            vec![UserEntry {
                name: "bob".into(),
                password_hash: "plaintext".into(),
                roles: vec![],
            }],
            vec![],
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(
            bad_hash.contains("\"bob\"") && bad_hash.contains("hash-password"),
            "{bad_hash}"
        );
        let twice = Authenticator::new(
            vec![],
            vec![
                TokenEntry {
                    name: "t".into(),
                    sha256: [0; 32],
                    roles: vec![],
                },
                TokenEntry {
                    name: "t".into(),
                    sha256: [1; 32],
                    roles: vec![],
                },
            ],
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(twice.contains("two users or tokens"), "{twice}");
        assert_eq!(parse_hex32(&hex(&[7u8; 32])), Some([7u8; 32]));
        assert_eq!(parse_hex32("zz"), None);
    }
}
