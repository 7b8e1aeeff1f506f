//! The request's session, shared by every integration (features `tower`, `axum`,
//! `actix`): the [`Session`] handle that handlers use, [`SessionError`], and the
//! per-request steps each framework's layer or middleware runs around its handler.
//!
//! Per request the layer reads the clock once and hands the handler a [`Session`] that
//! verifies the cookie and loads its record on first use: a handler that never touches
//! the session costs neither. After the handler it runs the store writes — a plain save
//! of an existing record through the record's queue, where the saves of this process's
//! concurrent requests to one session commit together (group commit, see
//! `group.rs`) — and only when they succeeded is `Set-Cookie` added, with
//! `Vary: Cookie` and `Cache-Control: private`. A store failure turns the response into
//! `503 Service Unavailable` with a JSON error ([`SessionError::json_body`]). Responses
//! with a 5xx status count as failed requests for `set_on_exception`.
//!
//! With CubicWeb logins (`with_cubicweb_auth`, [`AuthConfig`]) the request also gets an
//! [`Auth`] bound to its session ([`auth`]): the login cookies' `Set-Cookie` headers
//! (reissues included) come before the session cookie's, and go with it.
//!
//! The frameworks differ only in how the handles reach the handler (request extensions,
//! taken by extractors), in where the request's host and remote address are read, and in
//! their header and response types.

extern crate std;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::SessionConfig;
use crate::driver;
use crate::random::OsRandom;
use crate::server::{AsyncStore, Pending, ServerConfig, ServerSession};
use crate::session::{Modifier, SessionData};
use crate::time::{Clock, SystemClock};

pub mod auth;
mod error;
mod group;

pub use auth::{Auth, AuthConfig};
pub use error::SessionError;

use crate::integrations::http::{apply_to, ResponseHeaders};
use auth::Origin;

/// The system clock as Unix seconds (what `time.time()` returns in Python): a shortcut
/// for [`SystemClock`]'s reading.
pub fn system_clock() -> f64 {
    SystemClock.now().as_secs_f64()
}

#[derive(Clone)]
enum Mode {
    Cookie(SessionConfig),
    Server {
        config: Arc<ServerConfig>,
        store: Arc<dyn AsyncStore>,
        /// The records this process's requests hold, for group commit.
        groups: Arc<group::Groups>,
    },
}

/// What a layer or middleware holds: the mode, the clock and the CubicWeb logins, the
/// same for every request.
#[derive(Clone)]
pub(crate) struct Shared {
    mode: Mode,
    clock: Arc<dyn Clock>,
    auth: Option<Arc<AuthConfig>>,
    error_page: Option<Arc<ErrorPageFn>>,
}

/// How an application renders the layer's own error answers (see
/// `with_error_page` on each integration's layer).
pub type ErrorPageFn = dyn Fn(&SessionError) -> ErrorPage + Send + Sync;

/// An error answer of the session layer: what it sends instead of the handler's response
/// when the session could not be loaded or stored (a `503` for store trouble, see
/// [`SessionError::status`]). The default is [`ErrorPage::json`]; an HTML application
/// renders its own with `with_error_page`. Put no [`Display`](core::fmt::Display) text
/// of the error in a page (it may hold store details): use
/// [`SessionError::public_message`], and log the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPage {
    /// The status (usually the error's [`SessionError::status`]).
    pub status: http::StatusCode,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body.
    pub body: String,
}

impl ErrorPage {
    /// The default: the error's status and `{"error": "<public message>"}` as JSON.
    pub fn json(error: &SessionError) -> ErrorPage {
        ErrorPage {
            status: error.status(),
            content_type: "application/json".into(),
            body: error.json_body(),
        }
    }

    /// A small HTML page with the error's status and public message.
    pub fn html(error: &SessionError) -> ErrorPage {
        let status = error.status();
        let title = alloc::format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        ErrorPage {
            status,
            content_type: "text/html; charset=utf-8".into(),
            body: alloc::format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
                 <body><h1>{title}</h1><p>{}.</p></body></html>",
                error.public_message()
            ),
        }
    }
}

impl Shared {
    /// Cookie mode.
    pub(crate) fn cookie(config: SessionConfig) -> Arc<Shared> {
        Arc::new(Shared {
            mode: Mode::Cookie(config),
            clock: Arc::new(SystemClock),
            auth: None,
            error_page: None,
        })
    }

    /// Server mode over any async store.
    pub(crate) fn server<S: AsyncStore + 'static>(config: ServerConfig, store: S) -> Arc<Shared> {
        Arc::new(Shared {
            mode: Mode::Server {
                config: Arc::new(config),
                store: Arc::new(store),
                groups: Arc::default(),
            },
            clock: Arc::new(SystemClock),
            auth: None,
            error_page: None,
        })
    }

    /// The same with another renderer of the layer's error answers.
    pub(crate) fn with_error_page(
        &self,
        render: impl Fn(&SessionError) -> ErrorPage + Send + Sync + 'static,
    ) -> Arc<Shared> {
        let mut shared = self.clone();
        shared.error_page = Some(Arc::new(render));
        Arc::new(shared)
    }

    /// The answer for `error`: the application's page, or the JSON default. The error
    /// is also reported to `tracing` (feature `tracing`), with its details.
    pub(crate) fn error_page(&self, error: &SessionError) -> ErrorPage {
        #[cfg(feature = "tracing")]
        tracing::error!(status = error.status().as_u16(), error = %error, "session layer answered with an error");
        match &self.error_page {
            Some(render) => render(error),
            None => ErrorPage::json(error),
        }
    }

    /// The same with another clock.
    pub(crate) fn with_clock(&self, clock: impl Clock + 'static) -> Arc<Shared> {
        let mut shared = self.clone();
        shared.clock = Arc::new(clock);
        Arc::new(shared)
    }

    /// The same with CubicWeb's logins.
    pub(crate) fn with_auth(&self, auth: AuthConfig) -> Arc<Shared> {
        let mut shared = self.clone();
        shared.auth = Some(Arc::new(auth));
        Arc::new(shared)
    }

    /// The CubicWeb logins, when installed.
    pub(crate) fn auth(&self) -> Option<&AuthConfig> {
        self.auth.as_deref()
    }

    /// `"cookie"` or `"server"`, for `Debug`.
    pub(crate) fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Cookie(_) => "cookie",
            Mode::Server { .. } => "server",
        }
    }

    /// The start of a request, given its `Cookie` header(s) joined and, for the CubicWeb
    /// logins (only asked when installed), where it comes from: reads the clock once and
    /// keeps the cookies for the session to verify on first use — a handler that never
    /// touches the session costs no signature check and no store I/O. The handles go in
    /// the request's extensions; the layer keeps the [`Started`] for
    /// [`Started::conclude`].
    pub(crate) fn start(
        self: &Arc<Shared>,
        cookie_header: Option<Vec<u8>>,
        origin: impl FnOnce(&AuthConfig) -> Origin,
    ) -> Started {
        let now = self.clock.now().as_secs_f64();
        let auth = self
            .auth
            .as_ref()
            .map(|config| (config.clone(), origin(config)));
        let auth_cookies = auth.as_ref().and(cookie_header.clone());
        let session = Session {
            inner: Arc::new(Mutex::new(Inner {
                state: State::Unverified {
                    cookies: cookie_header,
                    now,
                },
                hold: None,
                saved_cookie: None,
                reported: false,
                used: false,
            })),
            shared: self.clone(),
        };
        let auth = auth.map(|(config, origin)| {
            Auth::start(
                config,
                &origin,
                auth_cookies.as_deref(),
                now,
                session.clone(),
            )
        });
        Started { session, auth }
    }

    /// The session the request's cookies carry, verified at the request's time (no
    /// store I/O).
    fn verify(&self, cookies: Option<&[u8]>, now: f64) -> State {
        match &self.mode {
            Mode::Cookie(config) => {
                let session = crate::CookieSession::load(config, cookies, now);
                if let crate::LoadOutcome::Invalid(reason) = session.outcome() {
                    crate::trace::event!(debug, reason = ?reason, "session cookie refused");
                    let _ = reason;
                }
                State::Cookie(session)
            }
            Mode::Server { config, .. } => {
                let pending = Pending::start(config, cookies, now);
                if pending.rejected() > 0 {
                    crate::trace::event!(
                        debug,
                        refused = pending.rejected(),
                        "session id cookie refused (bad signature or format, or out of time)"
                    );
                }
                State::Pending(pending)
            }
        }
    }
}

/// One request's handles: its [`Session`] and, with CubicWeb logins, its [`Auth`].
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) session: Session,
    pub(crate) auth: Option<Auth>,
}

impl Started {
    /// The end of the request, after the handler: the login cookies (logins, logouts,
    /// then the reissue unless revoked), and the store writes (server mode) or the
    /// cookie (cookie mode) of the session. `failed` is true for a 5xx answer
    /// (`set_on_exception`).
    pub(crate) async fn conclude(&self, failed: bool) -> Outcome {
        let (login_cookies, auth_used) = match &self.auth {
            Some(auth) => auth.finish().await,
            None => (Vec::new(), false),
        };
        match self.session.conclude(failed).await {
            Ok((session_cookie, used)) => Outcome::Send(Headers {
                login_cookies,
                session_cookie,
                used: used || auth_used,
            }),
            Err(error) => Outcome::Replace(error),
        }
    }
}

/// What the layer does with the handler's response, once the session is finished.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Send the response with these headers. A `Set-Cookie` value that is no valid
    /// header value means [`SessionError::Finish`] instead.
    Send(Headers),
    /// The writes failed: send this error's response instead, without a cookie (the
    /// login cookies dropped too).
    Replace(SessionError),
}

/// The response headers of a request that went well.
#[derive(Debug)]
pub(crate) struct Headers {
    /// The login cookies' `Set-Cookie` values, first, as Pyramid sends them.
    login_cookies: Vec<String>,
    /// The session cookie.
    session_cookie: Option<String>,
    /// The session (or the login state) was read: `Vary: Cookie`, `Cache-Control`.
    used: bool,
}

impl Headers {
    /// Adds them to the response's headers: the login cookies, then the session's
    /// ([`apply_to`]).
    pub(crate) fn apply<H: ResponseHeaders + ?Sized>(
        &self,
        headers: &mut H,
    ) -> Result<(), H::Invalid> {
        for value in &self.login_cookies {
            headers.append_set_cookie(value)?;
        }
        apply_to(headers, self.session_cookie.as_deref(), self.used)
    }
}

enum State {
    /// Not looked at yet: the request's cookies and time.
    Unverified {
        cookies: Option<Vec<u8>>,
        now: f64,
    },
    Cookie(crate::CookieSession),
    Pending(Pending),
    Open(ServerSession),
}

struct Inner {
    state: State,
    /// Server mode: this request's hold on its record's group (group commit).
    hold: Option<group::Hold>,
    /// A cookie produced by an early [`Session::save`].
    saved_cookie: Option<String>,
    used: bool,
    /// An early [`Session::save`] failed and the handler was told: its answer stands.
    reported: bool,
}

/// The request's session, for handlers: an extractor in axum
/// ([`integrations::axum`](crate::integrations::axum)) and actix-web
/// ([`integrations::actix`](crate::integrations::actix)), a request extension in a plain
/// tower stack ([`integrations::tower`](crate::integrations::tower)). Cheap to clone; all
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
        let mut guard = self.inner.lock().await;
        let inner = &mut *guard;
        inner.used = true;
        if let State::Unverified { cookies, now } = &inner.state {
            inner.state = self.shared.verify(cookies.as_deref(), *now);
        }
        if let (
            State::Pending(pending),
            Mode::Server {
                config,
                store,
                groups,
            },
        ) = (&inner.state, &self.shared.mode)
        {
            // Held from before the load, so a save committed meanwhile by another
            // request of this process is remembered for this one's save.
            inner.hold = pending.load_key().map(|key| groups.hold(key));
            let opened = driver::open_async(&**store, config, pending.clone())
                .await
                .map_err(SessionError::Server)?;
            inner.state = State::Open(opened);
        }
        let mut data = match &mut inner.state {
            State::Cookie(s) => Data::Cookie(s),
            State::Open(s) => Data::Server(s),
            State::Pending(_) | State::Unverified { .. } => return Err(SessionError::LayerMissing),
        };
        Ok(f(&mut data))
    }

    /// A value as a `T`, any `serde` type (`None` when absent):
    /// `session.get::<String>("user")`. A stored value that is not a `T` is
    /// [`SessionError::Value`]. `get::<Value>` (or [`Session::get_value`]) reads any.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SessionError> {
        self.with(|d| d.get_as::<T>(key))
            .await?
            .map_err(SessionError::Value)
    }
    /// Stores any `serde` value, as JSON (`session.insert("user", &user)`, or a
    /// [`Value`]). One serde cannot write as JSON is [`SessionError::Value`].
    pub async fn insert<T: serde::Serialize>(
        &self,
        key: &str,
        value: T,
    ) -> Result<(), SessionError> {
        let value = serde_json::to_value(&value).map_err(|e| {
            SessionError::Value(crate::error::ValueError {
                key: key.into(),
                reading: false,
                message: alloc::string::ToString::to_string(&e),
            })
        })?;
        self.insert_value(key, value).await
    }
    /// A value as JSON (`None` when absent).
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.with(|d| d.get(key).cloned()).await
    }
    /// Sets a JSON value.
    pub async fn insert_value(&self, key: &str, value: Value) -> Result<(), SessionError> {
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
    /// The flash messages of `queue`, left in place (Pyramid's `peek_flash`).
    pub async fn peek_flash(&self, queue: &str) -> Result<Vec<Value>, SessionError> {
        self.with(|d| d.peek_flash(queue)).await
    }
    /// Server mode: the session's id, once it has one (a new session gets it when it is
    /// first stored) — e.g. to list or end a user's other sessions. Cookie mode: `None`.
    pub async fn id(&self) -> Result<Option<crate::server::SessionId>, SessionError> {
        self.with_either(|_| None, |s| s.id().cloned()).await
    }
    /// When the session was last used before this request (Unix seconds): the cookie's
    /// issue time in cookie mode (Pyramid's `renewed`), the record's renewal in server
    /// mode.
    pub async fn accessed(&self) -> Result<f64, SessionError> {
        self.with_either(|c| c.renewed(), |s| s.renewed()).await
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
    /// Gives this session its own expiry ("remember me": a persistent cookie with its
    /// own `Max-Age` and idle timeout), or back the configuration's with `None`; it holds
    /// on later requests too (see [`CookieSession::set_expiry`](crate::CookieSession::set_expiry)
    /// and [`ServerSession::set_expiry`]: stored in the state, within the configuration's
    /// `max_expiry`).
    ///
    /// ```
    /// # use pyramid_session::integrations::request::{Session, SessionError};
    /// use core::time::Duration;
    /// use pyramid_session::policy::Expiry;
    ///
    /// async fn login(session: Session, remember: bool) -> Result<(), SessionError> {
    ///     session.regenerate_id().await?;
    ///     session.insert("user", "ada").await?;
    ///     if remember {
    ///         session.set_expiry(Some(Expiry::OnInactivity(Duration::from_secs(30 * 86400)))).await?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn set_expiry(
        &self,
        expiry: Option<crate::policy::Expiry>,
    ) -> Result<(), SessionError> {
        self.with_either(|c| c.set_expiry(expiry), |s| s.set_expiry(expiry))
            .await
    }
    /// The session's own expiry, if it has one (`None`: the configuration's).
    pub async fn expiry(&self) -> Result<Option<crate::policy::Expiry>, SessionError> {
        self.with_either(|c| c.expiry(), |s| s.expiry()).await
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
        if let State::Open(_) = inner.state {
            match self.finish_server(&mut inner, false).await {
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

    /// Server mode: runs the store writes of the open session — a plain save through
    /// its record's group ([`group`]), anything else (a new session, a login's move, a
    /// logout, a touch) on its own.
    async fn finish_server(
        &self,
        inner: &mut Inner,
        failed: bool,
    ) -> Result<Option<String>, crate::server::ServerError> {
        let (
            State::Open(session),
            Mode::Server {
                config,
                store,
                groups,
            },
        ) = (&mut inner.state, &self.shared.mode)
        else {
            return Ok(None);
        };
        if session.is_plain_save(config, failed) {
            if let Some(id) = session.id() {
                let key = config.id_scheme().key(id);
                if inner.hold.as_ref().map(group::Hold::key) != Some(key) {
                    inner.hold = Some(groups.hold(key));
                }
            }
            if let Some(hold) = &inner.hold {
                if let Some(outcome) = group::save(hold, store, config, session, failed).await {
                    return outcome;
                }
            }
        }
        driver::finish_async(&**store, config, session, failed, &mut OsRandom).await
    }

    /// The end of the request, after the handler: runs the store writes (server mode)
    /// or produces the cookie (cookie mode): the cookie to send and whether the session
    /// was used, or the error to answer instead. `failed` is true for a 5xx answer
    /// (`set_on_exception`).
    async fn conclude(&self, failed: bool) -> Result<(Option<String>, bool), SessionError> {
        let mut inner = self.inner.lock().await;
        let used = inner.used;
        let saved = inner.saved_cookie.take();
        let cookie = match (&mut inner.state, &self.shared.mode) {
            (State::Cookie(session), Mode::Cookie(config)) => {
                session.finish(config, failed).map_err(SessionError::Finish)
            }
            (State::Open(_), Mode::Server { .. }) => self
                .finish_server(&mut inner, failed)
                .await
                .map_err(SessionError::Server),
            _ => Ok(None),
        };
        match cookie {
            Ok(cookie) => Ok((cookie.or(saved), used)),
            // The writes failed: the handler's answer must not reach the client as if it
            // had been stored. An error answer, or any answer of a handler that was told
            // its early `save` failed (a 409 for a concurrent logout, its own error
            // page), stays as it is, without a session cookie.
            Err(_) if failed || inner.reported => Ok((None, true)),
            Err(e) => Err(e),
        }
    }
}
