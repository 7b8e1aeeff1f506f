//! The tower layer (feature `tower`): [`SessionLayer`] for any stack on the `http` crate's
//! types — axum ([`integrations::axum`](crate::integrations::axum) adds the extractor),
//! hyper 1 through `hyper_util::service::TowerToHyperService`, tonic — whatever the
//! request and response body types.
//!
//! The handler finds the request's [`Session`] in the request extensions:
//!
//! ```
//! use core::convert::Infallible;
//! use http::{Request, Response};
//! use pyramid_session::integrations::tower::{Session, SessionLayer};
//! use pyramid_session::SessionConfig;
//! use serde_json::json;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! async fn handler(request: Request<String>) -> Result<Response<String>, Infallible> {
//!     let session = request.extensions().get::<Session>().expect("SessionLayer is installed");
//!     Ok(match session.insert("user", json!("ada")).await {
//!         Ok(()) => Response::new("hello".to_string()),
//!         // What axum and actix answer too: the status and the JSON body.
//!         Err(e) => Response::builder().status(e.status()).body(e.json_body()).unwrap(),
//!     })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn core::error::Error>> {
//! let layer = SessionLayer::cookie(SessionConfig::pyramid("s3cret").build()?);
//! let app = layer.layer(service_fn(handler));
//! let response = app.oneshot(Request::new(String::new())).await?;
//! assert!(response.headers().contains_key("set-cookie"));
//! # Ok(()) }
//! ```
//!
//! # CubicWeb logins
//!
//! [`SessionLayer::with_cubicweb_auth`] adds CubicWeb's login cookies (`auth_tkt`,
//! `pauth_tkt`, [`crate::authtkt::cubicweb`]) on top of the session, in either mode and
//! with any store: the handler also finds the request's [`Auth`] in the extensions (in
//! axum, an extractor). How it goes, and where the remote address comes from, is told in
//! [`integrations::request::auth`](crate::integrations::request::auth); without axum's
//! `ConnectInfo`, a source reads the peer address from wherever the server put it, e.g.
//! `AuthConfig::new(auth).with_remote_addr(|head| head.extensions().get::<SocketAddr>().map(|a| a.ip().to_string()))`.
//!
//! # Bodies
//!
//! The layer leaves request and response bodies alone, with one exception: when the
//! session's store writes fail it replaces the handler's answer with its own error
//! response (`503` for store trouble, see [`SessionError`]), whose JSON body it builds
//! with `ResBody::from(String)`. Hence the one bound on the response body, `From<String>`:
//! axum's `Body`, `http_body_util::Full<Bytes>`, `String`, `Vec<u8>` and `Bytes` have it.
//! A service answering with a body type that has not (`tonic::body::Body`,
//! `http_body_util::combinators::BoxBody`) can map its responses into one that has
//! (e.g. `response.map(axum::body::Body::new)`) before the layer.
//!
//! # Errors of the inner service
//!
//! An `Err` from the inner service passes through untouched: that request's changes are
//! not written and no cookie is sent (an early [`Session::save`] stays written). An axum
//! router never returns `Err` (its error type is `Infallible`); a hyper or tonic service
//! that answers store errors itself, as above, does not either.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::task::{Context, Poll};

use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Request, Response};

use crate::error::FinishError;
use crate::integrations::http::cookie_header;
use crate::integrations::request::auth::Origin;
use crate::integrations::request::{Outcome, Shared};
use crate::server::{AsyncStore, BoxFuture, ServerConfig};
use crate::time::Clock;
use crate::SessionConfig;

pub use crate::integrations::request::{Auth, AuthConfig, ErrorPage, Session, SessionError};

/// The tower layer that gives every request a [`Session`] (in its extensions).
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("mode", &self.shared.mode_name())
            .field("cubicweb_auth", &self.shared.auth().is_some())
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// Cookie mode: the whole state travels in the signed cookie (Pyramid's
    /// `SignedCookieSessionFactory`).
    pub fn cookie(config: SessionConfig) -> SessionLayer {
        SessionLayer {
            shared: Shared::cookie(config),
        }
    }

    /// Server mode over any async store (also a shared one: `Arc<S>` is a store, so
    /// a sweeper task can keep its own handle).
    pub fn server<S: AsyncStore + 'static>(config: ServerConfig, store: S) -> SessionLayer {
        SessionLayer {
            shared: Shared::server(config, store),
        }
    }

    /// Adds CubicWeb's logins on top of the session: handlers get an [`Auth`] (the
    /// authenticated user, login, logout), and responses the login cookies' headers
    /// (see [CubicWeb logins](self#cubicweb-logins)). Works in both modes and with any
    /// store: the login ticket lives in the session.
    #[must_use]
    pub fn with_cubicweb_auth(self, auth: impl Into<AuthConfig>) -> SessionLayer {
        SessionLayer {
            shared: self.shared.with_auth(auth.into()),
        }
    }

    /// Replaces the clock, e.g. a [`ManualClock`](crate::time::ManualClock) or a plain
    /// `fn() -> f64` in tests. It is read once per request.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> SessionLayer {
        SessionLayer {
            shared: self.shared.with_clock(clock),
        }
    }

    /// Renders the layer's own error answers (a `503` when the store fails...) instead of
    /// the JSON default, e.g. [`ErrorPage::html`] or the application's styled page.
    #[must_use]
    pub fn with_error_page(
        self,
        render: impl Fn(&SessionError) -> ErrorPage + Send + Sync + 'static,
    ) -> SessionLayer {
        SessionLayer {
            shared: self.shared.with_error_page(render),
        }
    }
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;
    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around the application.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> core::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionService")
            .field("mode", &self.shared.mode_name())
            .finish_non_exhaustive()
    }
}

/// Where the request comes from, for the CubicWeb logins: the host, and the remote
/// address from the configured source, else the peer address.
fn origin_of(config: &AuthConfig, head: &Request<()>) -> Origin {
    let remote_addr = match config.remote_addr_source() {
        Some(source) => source(head),
        None => peer_addr(head),
    };
    // The `Host` header (WebOb's `HTTP_HOST`), else the URI's authority (HTTP/2).
    let host = head
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| head.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default();
    Origin {
        host: host.into(),
        remote_addr: remote_addr.unwrap_or_default(),
    }
}

/// The peer address axum's `into_make_service_with_connect_info` puts in the request.
#[cfg(feature = "axum")]
fn peer_addr(head: &Request<()>) -> Option<String> {
    use alloc::string::ToString;
    head.extensions()
        .get::<axum::extract::ConnectInfo<core::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(addr)| addr.ip().to_string())
}

/// Without axum no peer address is known to the layer (see [`AuthConfig::with_remote_addr`]).
#[cfg(not(feature = "axum"))]
fn peer_addr(_: &Request<()>) -> Option<String> {
    None
}

/// The error's response (the application's page or the JSON default), its body made
/// with `From<String>`.
fn error_response<B: From<String>>(shared: &Shared, error: &SessionError) -> Response<B> {
    let page = shared.error_page(error);
    let content_type =
        HeaderValue::from_str(&page.content_type).unwrap_or(HeaderValue::from_static("text/plain"));
    let mut response = Response::new(B::from(page.body));
    *response.status_mut() = page.status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for SessionService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The head alone (no body type) for the login policies' origin: moved out and
        // back, not copied.
        let (parts, body) = request.into_parts();
        let mut head = Request::from_parts(parts, ());
        let started = self.shared.start(cookie_header(head.headers()), |config| {
            origin_of(config, &head)
        });
        head.extensions_mut().insert(started.session.clone());
        if let Some(auth) = &started.auth {
            head.extensions_mut().insert(auth.clone());
        }
        let (parts, ()) = head.into_parts();
        let answer = self.inner.call(Request::from_parts(parts, body));
        let shared = self.shared.clone();
        Box::pin(async move {
            let mut response = answer.await?;
            let failed = response.status().is_server_error();
            Ok(match started.conclude(failed).await {
                Outcome::Send(headers) => match headers.apply(response.headers_mut()) {
                    Ok(()) => response,
                    Err(_) => error_response(&shared, &SessionError::Finish(FinishError::Encode)),
                },
                Outcome::Replace(error) => error_response(&shared, &error),
            })
        })
    }
}
