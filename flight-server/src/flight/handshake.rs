//! Flight's Handshake: credentials in, a bearer token out.
//!
//! Without authentication, any credentials get the token `anonymous`
//! (clients send it back; it is not checked). With it, Basic credentials
//! (the `authorization` header, or a `BasicAuth` message in the first
//! request) get a bearer token that expires, and a valid bearer token is
//! echoed back. Argon2 runs on the blocking pool: it takes tens of
//! milliseconds of CPU by design, which must not stall other RPCs.

use std::future::Future;
use std::sync::Arc;

use arrow_flight::{BasicAuth, HandshakeRequest};
use prost::Message;
use tracing::info;

use crate::auth::header::{is_basic, parse_basic};
use crate::auth::{AuthError, Authenticator, Principal};
use crate::error::{Result, ServerError};
use crate::query::log::QueryLog;
use crate::query::QueryContext;

/// Answers Handshakes.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// `None`: authentication is off.
    auth: Option<Arc<Authenticator>>,
    log: QueryLog,
}

impl Handshake {
    pub fn new(auth: Option<Arc<Authenticator>>, log: QueryLog) -> Self {
        Self { auth, log }
    }

    /// The token to hand back, from the `authorization` header or else the
    /// first message of the handshake stream.
    pub async fn token(
        &self,
        ctx: &QueryContext,
        authorization: Option<&str>,
        first: impl Future<Output = Result<Option<HandshakeRequest>>>,
    ) -> Result<String> {
        let Some(auth) = &self.auth else {
            return Ok("anonymous".to_string());
        };
        let outcome = login(auth, authorization, first).await;
        self.log.login(
            ctx,
            outcome.as_ref().map(|(principal, _)| principal.as_ref()),
        );
        let (principal, token) = outcome?;
        info!(principal = %principal.name, client = ?ctx.caller.addr, "authenticated");
        Ok(token)
    }
}

async fn login(
    auth: &Arc<Authenticator>,
    authorization: Option<&str>,
    first: impl Future<Output = Result<Option<HandshakeRequest>>>,
) -> Result<(Arc<Principal>, String)> {
    if let Some(value) = authorization {
        if is_basic(value) {
            let (user, password) = parse_basic(value)?;
            return check_password(auth, user, password).await;
        }
        let principal = auth.verify_header(value)?;
        let token = value
            .trim()
            .split_once(' ')
            .map(|(_, t)| t.trim().to_string())
            .unwrap_or_default();
        return Ok((principal, token));
    }
    let first = first.await?.ok_or(AuthError::Missing)?;
    let basic = BasicAuth::decode(first.payload.as_ref())
        .ok()
        .filter(|b| !b.username.is_empty())
        .ok_or(AuthError::Missing)?;
    check_password(auth, basic.username, basic.password).await
}

async fn check_password(
    auth: &Arc<Authenticator>,
    user: String,
    password: String,
) -> Result<(Arc<Principal>, String)> {
    let auth = Arc::clone(auth);
    let issued = tokio::task::spawn_blocking(move || auth.login(&user, &password))
        .await
        .map_err(|e| ServerError::Internal(format!("login task failed: {e}")))??;
    Ok((issued.principal, issued.token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secrets::hash_password;
    use crate::auth::UserEntry;
    use crate::metrics::QueryMetrics;
    use std::time::Duration;

    fn handshake(auth: bool) -> Handshake {
        let authenticator = Authenticator::new(
            vec![UserEntry {
                name: "alice".into(),
                password_hash: hash_password("pw").unwrap(),
                roles: vec![],
            }],
            vec![],
            Duration::from_secs(60),
        )
        .unwrap();
        Handshake::new(
            auth.then(|| Arc::new(authenticator)),
            QueryLog::new(Arc::new(QueryMetrics::default()), None),
        )
    }

    async fn nothing() -> Result<Option<HandshakeRequest>> {
        Ok(None)
    }

    #[tokio::test]
    async fn credentials_from_the_header_or_the_payload() {
        let ctx = QueryContext::default();
        let hs = handshake(true);
        let basic = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:pw")
        );
        let token = hs.token(&ctx, Some(&basic), nothing()).await.unwrap();
        assert!(token.starts_with("lf1."), "{token}");
        // A valid bearer token is echoed back.
        let bearer = format!("Bearer {token}");
        assert_eq!(
            hs.token(&ctx, Some(&bearer), nothing()).await.unwrap(),
            token
        );
        // A BasicAuth message in the first request.
        let payload = BasicAuth {
            username: "alice".into(),
            password: "pw".into(),
        }
        .encode_to_vec();
        let first = async move {
            Ok(Some(HandshakeRequest {
                protocol_version: 0,
                payload: payload.into(),
            }))
        };
        assert!(hs
            .token(&ctx, None, first)
            .await
            .unwrap()
            .starts_with("lf1."));
    }

    #[tokio::test]
    async fn wrong_or_missing_credentials_are_unauthenticated() {
        let ctx = QueryContext::default();
        let hs = handshake(true);
        let wrong = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:nope")
        );
        let cases = [
            (Some(wrong.as_str()), "wrong username or password"),
            (None, "no credentials"),
            (Some("Bearer forged"), "invalid bearer token"),
        ];
        for (header, want) in cases {
            let err = hs.token(&ctx, header, nothing()).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
            assert!(err.to_string().contains(want), "{header:?}: {err}");
        }
        // Without authentication anyone is anonymous.
        assert_eq!(
            handshake(false).token(&ctx, None, nothing()).await.unwrap(),
            "anonymous"
        );
    }
}
