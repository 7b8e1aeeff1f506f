//! axum / tower integration (feature `axum`): [`SessionLayer`] and the [`Session`]
//! extractor. Handlers never see cookies or signatures.
//!
//! ```no_run
//! use axum::{routing::post, Json, Router};
//! use pyramid_session::integrations::axum::{Session, SessionError, SessionLayer};
//! use pyramid_session::server::{IdCookieFormat, ServerConfig};
//! use pyramid_session::store::MemoryStore;
//! use pyramid_session::SessionConfig;
//! use serde_json::{json, Value};
//!
//! async fn increment(session: Session) -> Result<Json<Value>, SessionError> {
//!     session.modify("count", |n| Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))).await?;
//!     session.save().await?; // optional: write now, so the answer is the stored value
//!     Ok(Json(json!({ "count": session.get("count").await? })))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn core::error::Error>> {
//! let config = ServerConfig::new(SessionConfig::secure("s3cret").build()?, IdCookieFormat::CubicWeb)?;
//! let app: Router = Router::new()
//!     .route("/increment", post(increment))
//!     .layer(SessionLayer::server(config, MemoryStore::new()));
//! # let _ = app; Ok(()) }
//! ```
//!
//! Per request the layer reads the clock once, verifies the cookie (no store I/O), and
//! hands the handler a [`Session`] that loads its record on first use. After the handler
//! it runs the store writes; only when they succeeded is `Set-Cookie` added, with
//! `Vary: Cookie` and `Cache-Control: private`. A store failure turns the response into
//! `503 Service Unavailable` with a JSON error. Responses with a 5xx status count as
//! failed requests for `set_on_exception`.
//!
//! # CubicWeb logins
//!
//! [`SessionLayer::with_cubicweb_auth`] adds CubicWeb's login cookies (`auth_tkt`,
//! `pauth_tkt`, [`crate::authtkt::cubicweb`]) on top of the session, in either mode and
//! with any store: handlers extract an [`Auth`] for the authenticated user's eid,
//! [`Auth::login`] and [`Auth::logout`]. The login ticket lives in the session, so a
//! Rust service and a CubicWeb instance sharing the session store (and the AuthTkt
//! secrets) share their logins. The login cookies' `Set-Cookie` headers (reissues
//! included) come before the session cookie's; a store failure that replaces the answer
//! with a `503` drops them too. See [`AuthConfig`] for the groups lookup and the remote
//! address.

extern crate std;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, Response};
use axum::response::IntoResponse;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::SessionConfig;
use crate::driver;
use crate::error::FinishError;
use crate::integrations::http::{apply_session_headers, cookie_header};
use crate::random::OsRandom;
use crate::server::{AsyncStore, BoxFuture, Pending, ServerConfig, ServerSession};
use crate::session::{Modifier, SessionData};
use crate::time::{Clock, SystemClock};

mod auth;
mod error;

pub use auth::{Auth, AuthConfig};
pub use error::SessionError;

#[derive(Clone)]
enum Mode {
    Cookie(SessionConfig),
    Server {
        config: ServerConfig,
        store: Arc<dyn AsyncStore>,
    },
}

#[derive(Clone)]
struct Shared {
    mode: Mode,
    clock: Arc<dyn Clock>,
    auth: Option<Arc<AuthConfig>>,
}

/// The system clock as Unix seconds (what `time.time()` returns in Python): a shortcut
/// for [`SystemClock`]'s reading.
pub fn system_clock() -> f64 {
    SystemClock.now().as_secs_f64()
}

/// The tower layer that gives every request a [`Session`].
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mode = match self.shared.mode {
            Mode::Cookie(_) => "cookie",
            Mode::Server { .. } => "server",
        };
        f.debug_struct("SessionLayer")
            .field("mode", &mode)
            .field("cubicweb_auth", &self.shared.auth.is_some())
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// Cookie mode: the whole state travels in the signed cookie (Pyramid's
    /// `SignedCookieSessionFactory`).
    pub fn cookie(config: SessionConfig) -> SessionLayer {
        SessionLayer {
            shared: Arc::new(Shared {
                mode: Mode::Cookie(config),
                clock: Arc::new(SystemClock),
                auth: None,
            }),
        }
    }

    /// Server mode over any async store (also a shared one: `Arc<S>` is a store, so
    /// a sweeper task can keep its own handle).
    pub fn server<S: AsyncStore + 'static>(config: ServerConfig, store: S) -> SessionLayer {
        SessionLayer {
            shared: Arc::new(Shared {
                mode: Mode::Server {
                    config,
                    store: Arc::new(store),
                },
                clock: Arc::new(SystemClock),
                auth: None,
            }),
        }
    }

    /// Adds CubicWeb's logins on top of the session: handlers get an [`Auth`] (the
    /// authenticated user, login, logout), and responses the login cookies' headers
    /// (see [CubicWeb logins](self#cubicweb-logins)). Works in both modes and with any
    /// store: the login ticket lives in the session.
    #[must_use]
    pub fn with_cubicweb_auth(self, auth: impl Into<AuthConfig>) -> SessionLayer {
        let mut shared = (*self.shared).clone();
        shared.auth = Some(Arc::new(auth.into()));
        SessionLayer {
            shared: Arc::new(shared),
        }
    }

    /// Replaces the clock, e.g. a [`ManualClock`](crate::time::ManualClock) or a plain
    /// `fn() -> f64` in tests. It is read once per request.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> SessionLayer {
        let mut shared = (*self.shared).clone();
        shared.clock = Arc::new(clock);
        SessionLayer {
            shared: Arc::new(shared),
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
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

enum State {
    Cookie(crate::CookieSession),
    Pending(Pending),
    Open(ServerSession),
}

struct Inner {
    state: State,
    /// A cookie produced by an early [`Session::save`].
    saved_cookie: Option<String>,
    used: bool,
    /// An early [`Session::save`] failed and the handler was told: its answer stands.
    reported: bool,
}

/// The request's session, for handlers (extract it as an argument). Cheap to clone; all
/// clones are the same session. Every method may load the record on first use, hence
/// `async` and the [`SessionError`].
#[derive(Clone)]
pub struct Session {
    inner: Arc<Mutex<Inner>>,
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// Borrowed session of either mode, so the helpers are written once.
enum Data<'a> {
    Cookie(&'a mut crate::CookieSession),
    Server(&'a mut ServerSession),
}

impl SessionData for Data<'_> {
    fn get(&mut self, key: &str) -> Option<&Value> {
        match self {
            Data::Cookie(s) => s.get(key),
            Data::Server(s) => s.get(key),
        }
    }
    fn insert(&mut self, key: &str, value: Value) {
        match self {
            Data::Cookie(s) => s.insert(key, value).map(drop).unwrap_or(()),
            Data::Server(s) => s.insert(key, value),
        }
    }
    fn modify(&mut self, key: &str, f: Modifier) -> Option<Value> {
        match self {
            Data::Cookie(s) => s.modify(key, f),
            Data::Server(s) => s.modify_boxed(key, f),
        }
    }
}

impl Session {
    async fn with<T>(&self, f: impl FnOnce(&mut Data<'_>) -> T) -> Result<T, SessionError> {
        let mut inner = self.inner.lock().await;
        inner.used = true;
        if let (State::Pending(pending), Mode::Server { config, store }) =
            (&inner.state, &self.shared.mode)
        {
            let opened = driver::open_async(&**store, config, pending.clone())
                .await
                .map_err(SessionError::Server)?;
            inner.state = State::Open(opened);
        }
        let mut data = match &mut inner.state {
            State::Cookie(s) => Data::Cookie(s),
            State::Open(s) => Data::Server(s),
            State::Pending(_) => return Err(SessionError::LayerMissing),
        };
        Ok(f(&mut data))
    }

    /// A value (`None` when absent).
    pub async fn get(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.with(|d| d.get(key).cloned()).await
    }
    /// Sets a value.
    pub async fn insert(&self, key: &str, value: Value) -> Result<(), SessionError> {
        self.with(|d| d.insert(key, value)).await
    }
    /// Removes a value, returning it.
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.with(|d| {
            let old = d.get(key).cloned();
            d.modify(key, Box::new(|_| None));
            old
        })
        .await
    }
    /// Read-modify-write that survives concurrent requests in server mode (see
    /// [`ServerSession::modify`]). Returns the new value.
    pub async fn modify<F>(&self, key: &str, f: F) -> Result<Option<Value>, SessionError>
    where
        F: Fn(Option<&Value>) -> Option<Value> + Send + Sync + 'static,
    {
        self.with(|d| d.modify(key, Box::new(f))).await
    }
    /// Adds a flash message to `queue` (`""` is the default queue).
    pub async fn flash(&self, msg: Value, queue: &str) -> Result<(), SessionError> {
        self.with(|d| d.flash(msg, queue, true)).await
    }
    /// Takes the flash messages of `queue`.
    pub async fn pop_flash(&self, queue: &str) -> Result<Vec<Value>, SessionError> {
        self.with(|d| d.pop_flash(queue)).await
    }
    /// The session's CSRF token, created when missing.
    pub async fn csrf_token(&self) -> Result<String, SessionError> {
        self.with(|d| d.get_csrf_token(&mut OsRandom))
            .await?
            .map_err(SessionError::from)
    }
    /// Replaces the session's CSRF token with a new one and returns it (Pyramid's
    /// `new_csrf_token`): call it at login and logout, so a token seen before does not
    /// outlive the change of user.
    pub async fn new_csrf_token(&self) -> Result<String, SessionError> {
        self.with(|d| d.new_csrf_token(&mut OsRandom))
            .await?
            .map_err(SessionError::from)
    }
    /// Checks a CSRF token sent by the client, in constant time.
    pub async fn check_csrf_token(&self, supplied: &str) -> Result<bool, SessionError> {
        self.with(|d| d.check_csrf_token(supplied)).await
    }
    /// Logs out: server mode removes the record (the next write gets a new id); cookie
    /// mode clears the state, as Pyramid does.
    pub async fn invalidate(&self) -> Result<(), SessionError> {
        self.with_either(|c| c.invalidate(), |s| s.invalidate())
            .await
    }
    /// Server mode: moves the data to a new id (call at login). Cookie mode has no id and
    /// nothing to do.
    pub async fn regenerate_id(&self) -> Result<(), SessionError> {
        self.with_either(|_| (), |s| s.regenerate_id()).await
    }
    /// True when the session has no stored record or valid cookie yet.
    pub async fn is_new(&self) -> Result<bool, SessionError> {
        self.with_either(|c| c.is_new(), |s| s.is_new()).await
    }
    /// When the session was created (Unix seconds).
    pub async fn created(&self) -> Result<f64, SessionError> {
        self.with_either(|c| c.created(), |s| s.created()).await
    }

    async fn with_either<T>(
        &self,
        cookie: impl FnOnce(&mut crate::CookieSession) -> T,
        server: impl FnOnce(&mut ServerSession) -> T,
    ) -> Result<T, SessionError> {
        let mut cookie = Some(cookie);
        let mut server = Some(server);
        self.with(|d| match d {
            Data::Cookie(s) => cookie.take().map(|f| f(s)),
            Data::Server(s) => server.take().map(|f| f(s)),
        })
        .await?
        .ok_or(SessionError::LayerMissing)
    }

    /// Server mode: runs the store writes now (instead of after the handler), so the
    /// handler can answer with committed values; later changes are written at the end as
    /// usual. Cookie mode: nothing to do.
    pub async fn save(&self) -> Result<(), SessionError> {
        let mut inner = self.inner.lock().await;
        if let (State::Open(session), Mode::Server { config, store }) =
            (&mut inner.state, &self.shared.mode)
        {
            match driver::finish_async(&**store, config, session, false, &mut OsRandom).await {
                Ok(Some(cookie)) => inner.saved_cookie = Some(cookie),
                Ok(None) => {}
                Err(e) => {
                    inner.reported = true;
                    return Err(SessionError::Server(e));
                }
            }
        }
        Ok(())
    }

    /// True when an early [`Session::save`] failed (the handler got the error).
    async fn reported(&self) -> bool {
        self.inner.lock().await.reported
    }

    /// The end of the request: the `Set-Cookie` value, after the store writes.
    async fn finish(&self, failed: bool) -> Result<(Option<String>, bool), SessionError> {
        let mut inner = self.inner.lock().await;
        let used = inner.used;
        let saved = inner.saved_cookie.take();
        let cookie = match (&mut inner.state, &self.shared.mode) {
            (State::Cookie(session), Mode::Cookie(config)) => session
                .finish(config, failed)
                .map_err(SessionError::Finish)?,
            (State::Open(session), Mode::Server { config, store }) => {
                driver::finish_async(&**store, config, session, failed, &mut OsRandom)
                    .await
                    .map_err(SessionError::Server)?
            }
            _ => None,
        };
        Ok((cookie.or(saved), used))
    }
}

impl<S> FromRequestParts<S> for Session
where
    S: Send + Sync,
{
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(SessionError::LayerMissing)
    }
}

impl<S> tower_service::Service<Request<Body>> for SessionService<S>
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The ready service handles this request; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = core::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let now = shared.clock.now().as_secs_f64();
            let header = cookie_header(request.headers());
            let state = match &shared.mode {
                Mode::Cookie(config) => {
                    State::Cookie(crate::CookieSession::load(config, header.as_deref(), now))
                }
                Mode::Server { config, .. } => {
                    State::Pending(Pending::start(config, header.as_deref(), now))
                }
            };
            let auth_config = shared.auth.clone();
            let session = Session {
                inner: Arc::new(Mutex::new(Inner {
                    state,
                    saved_cookie: None,
                    reported: false,
                    used: false,
                })),
                shared,
            };
            request.extensions_mut().insert(session.clone());
            let auth = auth_config.map(|config| {
                let auth = Auth::start(config, &request, header.as_deref(), now, session.clone());
                request.extensions_mut().insert(auth.clone());
                auth
            });
            let mut response = inner.call(request).await?;
            let failed = response.status().is_server_error();
            // The login cookies first, then the session cookie: Pyramid's order.
            let mut auth_used = false;
            if let Some(auth) = auth {
                let (set_cookie, used) = auth.finish().await;
                auth_used = used;
                for value in set_cookie {
                    match HeaderValue::from_str(&value) {
                        Ok(value) => {
                            response.headers_mut().append(SET_COOKIE, value);
                        }
                        Err(_) => {
                            return Ok(SessionError::Finish(FinishError::Encode).into_response())
                        }
                    }
                }
            }
            match session.finish(failed).await {
                Ok((cookie, used)) => {
                    if apply_session_headers(
                        response.headers_mut(),
                        cookie.as_deref(),
                        used || auth_used,
                    )
                    .is_err()
                    {
                        return Ok(SessionError::Finish(FinishError::Encode).into_response());
                    }
                    Ok(response)
                }
                // The writes failed: the handler's answer must not reach the client as if
                // it had been stored. An error answer, or any answer of a handler that
                // was told its early `save` failed (a 409 for a concurrent logout, its
                // own error page), stays as it is, without a cookie.
                Err(e) => {
                    if response.status().is_server_error() || session.reported().await {
                        let _ = apply_session_headers(response.headers_mut(), None, true);
                        Ok(response)
                    } else {
                        Ok(e.into_response())
                    }
                }
            }
        })
    }
}
