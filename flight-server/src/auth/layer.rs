//! The tower layer in front of the Flight service: every RPC but Handshake
//! needs a valid bearer token or Basic credentials, and every request that
//! passes carries its [`Caller`] in its extensions.
//!
//! Basic credentials on an RPC (clients that never Handshake, such as some
//! npm clients, or Arrow Java's header middleware) are checked with Argon2
//! on the blocking pool, once a minute per user at most: a password that
//! verified is remembered (see `authenticator.rs`). A wrong password and an
//! unknown user get the same message and the same `denied` audit line; a
//! full check that passes writes a `login` line, as a Handshake does.
//!
//! Checking once, here, rather than in each RPC means an RPC added later
//! cannot forget it, and the service never sees an unauthenticated call
//! on a server with authentication on. A refusal is UNAUTHENTICATED and
//! one `denied` line in the audit log.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{Extensions, HeaderValue};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::Status;
use tower_layer::Layer;
use tower_service::Service;

use super::header::{is_basic, parse_basic};
use super::{AuthError, Authenticator, Caller};
use crate::audit::{AuditEntry, AuditLog};
use crate::error::ServerError;

/// The RPCs of the Flight service, by the last segment of their gRPC path.
const RPCS: [&str; 10] = [
    "Handshake",
    "ListFlights",
    "GetFlightInfo",
    "PollFlightInfo",
    "GetSchema",
    "DoGet",
    "DoPut",
    "DoExchange",
    "DoAction",
    "ListActions",
];

/// The RPC named by a gRPC request path such as
/// `/arrow.flight.protocol.FlightService/DoGet`.
pub fn rpc_of(path: &str) -> &'static str {
    let method = path.rsplit('/').next().unwrap_or_default();
    RPCS.into_iter()
        .find(|rpc| *rpc == method)
        .unwrap_or("unknown")
}

/// Decides who a request comes from.
#[derive(Debug)]
pub struct Gate {
    /// `None`: authentication is off, everyone is let in anonymously.
    auth: Option<Arc<Authenticator>>,
    audit: Option<Arc<AuditLog>>,
}

impl Gate {
    pub fn new(auth: Option<Arc<Authenticator>>, audit: Option<Arc<AuditLog>>) -> Self {
        Self { auth, audit }
    }

    /// The caller of an RPC, or why it may not go on, or the Basic
    /// credentials that need a full (slow) check first. Handshake passes
    /// without a principal: it is where credentials are checked.
    pub fn check(
        &self,
        rpc: &'static str,
        authorization: Option<&HeaderValue>,
        addr: Option<SocketAddr>,
    ) -> Verdict {
        let anonymous = Caller {
            principal: None,
            addr,
        };
        let Some(auth) = self.auth.as_ref().filter(|_| rpc != "Handshake") else {
            return Verdict::Decided(Ok(anonymous));
        };
        let value = match authorization.ok_or(AuthError::Missing).and_then(|value| {
            value
                .to_str()
                .map_err(|_| AuthError::Malformed("the header is not ASCII"))
        }) {
            Ok(value) => value,
            Err(err) => return Verdict::Decided(Err(self.refuse(rpc, addr, err))),
        };
        if is_basic(value) {
            return match parse_basic(value) {
                Ok((user, password)) => match auth.remembered(&user, &password) {
                    Some(principal) => Verdict::Decided(Ok(Caller {
                        principal: Some(principal),
                        addr,
                    })),
                    None => Verdict::Verify { user, password },
                },
                Err(err) => Verdict::Decided(Err(self.refuse(rpc, addr, err))),
            };
        }
        Verdict::Decided(match auth.verify_header(value) {
            Ok(principal) => Ok(Caller {
                principal: Some(principal),
                addr,
            }),
            Err(err) => Err(self.refuse(rpc, addr, err)),
        })
    }

    /// The full Argon2 check of Basic credentials sent on an RPC: blocks
    /// for tens of milliseconds, so it runs on the blocking pool.
    pub fn verify_basic(
        &self,
        rpc: &'static str,
        addr: Option<SocketAddr>,
        user: &str,
        password: &str,
    ) -> Result<Caller, AuthError> {
        let Some(auth) = &self.auth else {
            return Ok(Caller {
                principal: None,
                addr,
            });
        };
        match auth.check_password(user, password) {
            Ok(principal) => {
                if let Some(log) = &self.audit {
                    let mut entry = AuditEntry::new("login", rpc).client(addr);
                    entry.principal = Some(principal.name.clone());
                    log.record(&entry);
                }
                Ok(Caller {
                    principal: Some(principal),
                    addr,
                })
            }
            Err(err) => Err(self.refuse(rpc, addr, err)),
        }
    }

    /// A refusal, with its `denied` audit line.
    fn refuse(&self, rpc: &'static str, addr: Option<SocketAddr>, err: AuthError) -> AuthError {
        if let Some(log) = &self.audit {
            log.denied(rpc, addr, &ServerError::Auth(err.clone()));
        }
        err
    }

    /// [`Self::check`] with any full check done inline (tests).
    #[cfg(test)]
    pub fn caller(
        &self,
        rpc: &'static str,
        authorization: Option<&HeaderValue>,
        addr: Option<SocketAddr>,
    ) -> Result<Caller, AuthError> {
        match self.check(rpc, authorization, addr) {
            Verdict::Decided(result) => result,
            Verdict::Verify { user, password } => self.verify_basic(rpc, addr, &user, &password),
        }
    }
}

/// What [`Gate::check`] decided.
pub enum Verdict {
    Decided(Result<Caller, AuthError>),
    /// Basic credentials not seen (or not matching) recently: Argon2 decides.
    Verify {
        user: String,
        password: String,
    },
}

/// The layer, for `tonic::transport::Server::layer`.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    gate: Arc<Gate>,
}

impl AuthLayer {
    pub fn new(gate: Gate) -> Self {
        Self {
            gate: Arc::new(gate),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            gate: Arc::clone(&self.gate),
        }
    }
}

/// A service behind the [`Gate`].
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    gate: Arc<Gate>,
}

/// The client's address, as tonic's server records it per connection.
fn remote_addr(extensions: &Extensions) -> Option<SocketAddr> {
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|tls| tls.get_ref().remote_addr())
        })
}

type Refusal<E> =
    Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for Authenticated<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Refusal<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let rpc = rpc_of(request.uri().path());
        let addr = remote_addr(request.extensions());
        let refusal = |err: AuthError| Status::from(ServerError::Auth(err)).into_http();
        match self
            .gate
            .check(rpc, request.headers().get(AUTHORIZATION), addr)
        {
            Verdict::Decided(Ok(caller)) => {
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Verdict::Decided(Err(err)) => Box::pin(async move { Ok(refusal(err)) }),
            Verdict::Verify { user, password } => {
                // The service that poll_ready readied goes with the future;
                // a clone takes its place for the next call.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let gate = Arc::clone(&self.gate);
                Box::pin(async move {
                    let checked = tokio::task::spawn_blocking(move || {
                        gate.verify_basic(rpc, addr, &user, &password)
                    })
                    .await;
                    match checked {
                        Ok(Ok(caller)) => {
                            request.extensions_mut().insert(caller);
                            inner.call(request).await
                        }
                        Ok(Err(err)) => Ok(refusal(err)),
                        Err(e) => Ok(Status::from(ServerError::Internal(format!(
                            "the password check did not finish: {e}"
                        )))
                        .into_http()),
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secrets::{hash_password, token_digest};
    use crate::auth::{TokenEntry, UserEntry};
    use std::time::Duration;

    fn gate() -> Gate {
        let auth = Authenticator::new(
            vec![UserEntry {
                name: "alice".into(),
                password_hash: hash_password("pw").unwrap(),
                roles: vec![],
            }],
            vec![TokenEntry {
                name: "svc".into(),
                sha256: token_digest("static-token"),
                roles: vec![],
            }],
            Duration::from_secs(60),
        )
        .unwrap();
        Gate::new(Some(Arc::new(auth)), None)
    }

    #[test]
    fn rpc_names_come_from_the_path() {
        assert_eq!(
            rpc_of("/arrow.flight.protocol.FlightService/DoGet"),
            "DoGet"
        );
        assert_eq!(
            rpc_of("/arrow.flight.protocol.FlightService/Handshake"),
            "Handshake"
        );
        assert_eq!(rpc_of("/other.Service/Nope"), "unknown");
        assert_eq!(rpc_of(""), "unknown");
    }

    #[test]
    fn every_rpc_but_handshake_needs_a_token() {
        let gate = gate();
        let addr = Some("127.0.0.1:9".parse().unwrap());
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        let caller = gate.caller("Handshake", None, addr).unwrap();
        assert!(caller.principal.is_none() && caller.addr == addr);
        for rpc in RPCS.into_iter().filter(|r| *r != "Handshake") {
            assert_eq!(
                gate.caller(rpc, None, addr).unwrap_err(),
                AuthError::Missing
            );
            assert_eq!(
                gate.caller(rpc, Some(&header("Bearer nope")), addr)
                    .unwrap_err(),
                AuthError::BadToken
            );
            let caller = gate
                .caller(rpc, Some(&header("Bearer static-token")), addr)
                .unwrap();
            assert_eq!(caller.name().as_deref(), Some("svc"));
        }
        let not_ascii = HeaderValue::from_bytes(b"Bearer \xff").unwrap();
        assert!(matches!(
            gate.caller("DoGet", Some(&not_ascii), addr),
            Err(AuthError::Malformed(_))
        ));
        let open = Gate::new(None, None);
        assert!(open
            .caller("DoGet", None, addr)
            .unwrap()
            .principal
            .is_none());
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        use base64::Engine;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn basic_credentials_on_any_rpc_are_checked_in_full_once_then_remembered() {
        let gate = gate();
        let addr = Some("127.0.0.1:9".parse().unwrap());
        let needs_argon2 = |rpc, header: &HeaderValue| {
            matches!(gate.check(rpc, Some(header), addr), Verdict::Verify { .. })
        };
        assert!(needs_argon2("DoGet", &basic("alice", "pw")));
        let caller = gate
            .caller("DoGet", Some(&basic("alice", "pw")), addr)
            .unwrap();
        assert_eq!(caller.name().as_deref(), Some("alice"));
        for rpc in RPCS.into_iter().filter(|r| *r != "Handshake") {
            match gate.check(rpc, Some(&basic("alice", "pw")), addr) {
                Verdict::Decided(Ok(caller)) => {
                    assert_eq!(caller.name().as_deref(), Some("alice"))
                }
                _ => panic!("{rpc}: a verified password is remembered"),
            }
        }
        // A wrong password is never taken from the cache, and a wrong
        // password and an unknown user are told apart by nothing.
        assert!(needs_argon2("DoGet", &basic("alice", "nope")));
        let wrong = gate
            .caller("DoGet", Some(&basic("alice", "nope")), addr)
            .unwrap_err();
        let unknown = gate
            .caller("DoGet", Some(&basic("bob", "pw")), addr)
            .unwrap_err();
        assert_eq!(wrong, AuthError::BadCredentials);
        assert_eq!(wrong.to_string(), unknown.to_string());
        assert!(needs_argon2("DoGet", &basic("bob", "pw")));
        // Malformed Basic values are refused at once.
        let garbled = HeaderValue::from_static("Basic !!!");
        assert!(matches!(
            gate.check("DoGet", Some(&garbled), addr),
            Verdict::Decided(Err(AuthError::Malformed(_)))
        ));
    }

    /// An inner service that answers with the caller it was given.
    #[derive(Clone)]
    struct EchoCaller;

    impl Service<http::Request<()>> for EchoCaller {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<()>) -> Self::Future {
            let name = request
                .extensions()
                .get::<Caller>()
                .and_then(Caller::name)
                .unwrap_or_else(|| "-".into());
            let mut response = http::Response::new(tonic::body::Body::default());
            response
                .headers_mut()
                .insert("x-caller", HeaderValue::from_str(&name).unwrap());
            std::future::ready(Ok(response))
        }
    }

    #[tokio::test]
    async fn the_layer_passes_callers_on_and_refuses_the_rest() {
        let mut service = AuthLayer::new(gate()).layer(EchoCaller);
        let request = |path: &str, token: Option<&str>| {
            let mut builder = http::Request::builder().uri(path);
            if let Some(token) = token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            builder.body(()).unwrap()
        };
        let ok = service
            .call(request(
                "/arrow.flight.protocol.FlightService/DoGet",
                Some("static-token"),
            ))
            .await
            .unwrap();
        assert_eq!(ok.headers()["x-caller"], "svc");
        let mut with_basic = |password: &str| {
            let mut request = request("/arrow.flight.protocol.FlightService/DoGet", None);
            request
                .headers_mut()
                .insert("authorization", basic("alice", password));
            service.call(request)
        };
        let basic_ok = with_basic("pw").await.unwrap();
        assert_eq!(basic_ok.headers()["x-caller"], "alice");
        let basic_wrong = with_basic("nope").await.unwrap();
        let status = Status::from_header_map(basic_wrong.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let handshake = service
            .call(request(
                "/arrow.flight.protocol.FlightService/Handshake",
                None,
            ))
            .await
            .unwrap();
        assert_eq!(handshake.headers()["x-caller"], "-");
        let refused = service
            .call(request("/arrow.flight.protocol.FlightService/DoGet", None))
            .await
            .unwrap();
        assert!(!refused.headers().contains_key("x-caller"));
        let status = Status::from_header_map(refused.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("no credentials"), "{status:?}");
    }
}
