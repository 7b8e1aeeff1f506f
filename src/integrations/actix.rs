//! actix-web integration (feature `actix`): the [`SessionMiddleware`] and the [`Session`]
//! extractor, with the axum layer's API and behaviour (the same [`Session`] and
//! [`SessionError`], the same per-request steps: see
//! [`integrations::request`](crate::integrations::request)).
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use pyramid_session::integrations::actix::{Session, SessionError, SessionMiddleware};
//! use pyramid_session::server::{IdCookieFormat, ServerConfig};
//! use pyramid_session::store::MemoryStore;
//! use pyramid_session::SessionConfig;
//! use serde_json::{json, Value};
//!
//! async fn increment(session: Session) -> Result<HttpResponse, SessionError> {
//!     let n = session.modify("count", |n| Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))).await?;
//!     Ok(HttpResponse::Ok().json(json!({ "count": n })))
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = ServerConfig::new(SessionConfig::secure("s3cret").build()?, IdCookieFormat::CubicWeb)?;
//!     // Built once, cloned into every worker: they all share the one store.
//!     let sessions = SessionMiddleware::server(config, MemoryStore::new());
//!     let server = HttpServer::new(move || {
//!         App::new()
//!             .wrap(sessions.clone())
//!             .route("/increment", web::post().to(increment))
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run();
//!     Ok(actix_web::rt::System::new().block_on(server)?)
//! }
//! ```
//!
//! Handlers return `Result<_, SessionError>`: [`SessionError`] is an actix
//! [`ResponseError`] that answers with the same status and JSON body as in axum.
//!
//! # CubicWeb logins
//!
//! [`SessionMiddleware::with_cubicweb_auth`] adds CubicWeb's login cookies (`auth_tkt`,
//! `pauth_tkt`, [`crate::authtkt::cubicweb`]) as the axum layer does: handlers extract an
//! [`Auth`] ([`Auth::userid`], [`Auth::login`], [`Auth::logout`]), whose `Set-Cookie`
//! headers come before the session cookie's. The remote address is the connection's peer
//! address ([`HttpRequest::peer_addr`]) unless [`AuthConfig::with_remote_addr`] says
//! otherwise; see [`integrations::request::auth`](crate::integrations::request::auth).
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use pyramid_session::authtkt::{cubicweb::CubicWebSettings, DomainStyle};
//! use pyramid_session::integrations::actix::{Auth, AuthConfig, SessionError, SessionMiddleware};
//! use pyramid_session::settings::PyramidSettings;
//!
//! async fn whoami(auth: Auth) -> Result<HttpResponse, SessionError> {
//!     Ok(HttpResponse::Ok().body(format!("{:?}", auth.userid().await?)))
//! }
//!
//! async fn logout(auth: Auth) -> Result<HttpResponse, SessionError> {
//!     auth.logout().await?;
//!     Ok(HttpResponse::NoContent().finish())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     # let ini = "";
//!     let settings = PyramidSettings::parse_ini(ini)?; // the instance's pyramid.ini
//!     let auth = CubicWebSettings::from_settings(&settings)?.build(DomainStyle::Pyramid1)?;
//!     let sessions = SessionMiddleware::cookie(settings.builder()?.build()?)
//!         .with_cubicweb_auth(AuthConfig::new(auth).with_groups(|eid| async move {
//!             (eid == 5).then(|| vec!["users".to_string()])
//!         }));
//!     let server = HttpServer::new(move || {
//!         App::new()
//!             .wrap(sessions.clone())
//!             .route("/whoami", web::get().to(whoami))
//!             .route("/logout", web::post().to(logout))
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run();
//!     Ok(actix_web::rt::System::new().block_on(server)?)
//! }
//! ```
//!
//! An `Err` from the wrapped service (another middleware's; handlers' errors are
//! responses by then) passes through untouched: that request's changes are not written
//! and no cookie is sent.

extern crate std;

use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::sync::Arc;
use core::future::{ready, Future, Ready};
use core::pin::Pin;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{StatusCode, Version};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::error::FinishError;
use crate::integrations::http::{join_cookie_fields, ResponseHeaders};
use crate::integrations::request::auth::Origin;
use crate::integrations::request::{Outcome, Shared};
use crate::server::{AsyncStore, ServerConfig};
use crate::time::Clock;
use crate::SessionConfig;

pub use crate::integrations::request::{Auth, AuthConfig, ErrorPage, Session, SessionError};

/// The middleware (`App::wrap`) that gives every request a [`Session`]. Build it once,
/// outside `HttpServer::new`'s factory, and clone it into each worker: the clones share
/// the store and the configuration.
#[derive(Clone)]
pub struct SessionMiddleware {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("mode", &self.shared.mode_name())
            .field("cubicweb_auth", &self.shared.auth().is_some())
            .finish_non_exhaustive()
    }
}

impl SessionMiddleware {
    /// Cookie mode: the whole state travels in the signed cookie (Pyramid's
    /// `SignedCookieSessionFactory`).
    pub fn cookie(config: SessionConfig) -> SessionMiddleware {
        SessionMiddleware {
            shared: Shared::cookie(config),
        }
    }

    /// Server mode over any async store (also a shared one: `Arc<S>` is a store).
    pub fn server<S: AsyncStore + 'static>(config: ServerConfig, store: S) -> SessionMiddleware {
        SessionMiddleware {
            shared: Shared::server(config, store),
        }
    }

    /// Adds CubicWeb's logins on top of the session: handlers get an [`Auth`] (the
    /// authenticated user, login, logout), and responses the login cookies' headers
    /// (see [CubicWeb logins](self#cubicweb-logins)). Works in both modes and with any
    /// store: the login ticket lives in the session.
    #[must_use]
    pub fn with_cubicweb_auth(self, auth: impl Into<AuthConfig>) -> SessionMiddleware {
        SessionMiddleware {
            shared: self.shared.with_auth(auth.into()),
        }
    }

    /// Replaces the clock, e.g. a [`ManualClock`](crate::time::ManualClock) or a plain
    /// `fn() -> f64` in tests. It is read once per request.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> SessionMiddleware {
        SessionMiddleware {
            shared: self.shared.with_clock(clock),
        }
    }

    /// Renders the middleware's own error answers (a `503` when the store fails...)
    /// instead of the JSON default, e.g. [`ErrorPage::html`] or the application's page.
    #[must_use]
    pub fn with_error_page(
        self,
        render: impl Fn(&SessionError) -> ErrorPage + Send + Sync + 'static,
    ) -> SessionMiddleware {
        SessionMiddleware {
            shared: self.shared.with_error_page(render),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<SessionMiddlewareService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            service,
            shared: self.shared.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the application.
pub struct SessionMiddlewareService<S> {
    service: S,
    shared: Arc<Shared>,
}

impl<S> core::fmt::Debug for SessionMiddlewareService<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .field("mode", &self.shared.mode_name())
            .finish_non_exhaustive()
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Where the request comes from, for the CubicWeb logins: the `Host` header (else the
/// URI's authority), and the remote address from the configured source, else the peer.
fn origin_of(config: &AuthConfig, request: &ServiceRequest) -> Origin {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_string()))
        .unwrap_or_default();
    let remote_addr = match config.remote_addr_source() {
        Some(source) => source(&http_head(request)),
        None => request.peer_addr().map(|addr| addr.ip().to_string()),
    };
    Origin {
        host,
        remote_addr: remote_addr.unwrap_or_default(),
    }
}

/// A copy of the request's head on the `http` 1 types, for a remote address source
/// (actix-web's are the `http` 0.2 ones): method, URI, version, headers, and the peer
/// `SocketAddr` as an extension when known.
fn http_head(request: &ServiceRequest) -> http::Request<()> {
    let mut head = http::Request::new(());
    if let Ok(method) = http::Method::from_bytes(request.method().as_str().as_bytes()) {
        *head.method_mut() = method;
    }
    if let Ok(uri) = http::Uri::try_from(request.uri().to_string()) {
        *head.uri_mut() = uri;
    }
    *head.version_mut() = match request.version() {
        Version::HTTP_09 => http::Version::HTTP_09,
        Version::HTTP_10 => http::Version::HTTP_10,
        Version::HTTP_2 => http::Version::HTTP_2,
        Version::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    };
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            head.headers_mut().append(name, value);
        }
    }
    if let Some(addr) = request.peer_addr() {
        head.extensions_mut().insert(addr);
    }
    head
}

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let cookies = join_cookie_fields(
            request
                .headers()
                .get_all(header::COOKIE)
                .map(HeaderValue::as_bytes),
        );
        let started = self
            .shared
            .start(cookies, |config| origin_of(config, &request));
        request.extensions_mut().insert(started.session.clone());
        if let Some(auth) = &started.auth {
            request.extensions_mut().insert(auth.clone());
        }
        let answer = self.service.call(request);
        let shared = self.shared.clone();
        Box::pin(async move {
            let mut response = answer.await?;
            let failed = response.status().is_server_error();
            let error = match started.conclude(failed).await {
                Outcome::Send(headers) => match headers.apply(response.headers_mut()) {
                    Ok(()) => return Ok(response.map_into_left_body()),
                    Err(_) => SessionError::Finish(FinishError::Encode),
                },
                Outcome::Replace(error) => error,
            };
            let (request, _) = response.into_parts();
            let page = shared.error_page(&error);
            let answer = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(page.status.as_u16())
                    .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
            )
            .insert_header((header::CONTENT_TYPE, page.content_type))
            .body(page.body);
            Ok(ServiceResponse::new(request, answer).map_into_right_body())
        })
    }
}

impl ResponseHeaders for HeaderMap {
    type Invalid = header::InvalidHeaderValue;
    fn append_set_cookie(&mut self, value: &str) -> Result<(), Self::Invalid> {
        self.append(header::SET_COOKIE, HeaderValue::from_str(value)?);
        Ok(())
    }
    fn vary_values(&self) -> impl Iterator<Item = &[u8]> {
        self.get_all(header::VARY).map(HeaderValue::as_bytes)
    }
    fn append_vary_cookie(&mut self) {
        self.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
    fn has_cache_control(&self) -> bool {
        self.contains_key(header::CACHE_CONTROL)
    }
    fn set_cache_control_private(&mut self) {
        self.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    }
}

impl FromRequest for Session {
    type Error = SessionError;
    type Future = Ready<Result<Session, SessionError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<Session>()
                .cloned()
                .ok_or(SessionError::LayerMissing),
        )
    }
}

impl FromRequest for Auth {
    type Error = SessionError;
    type Future = Ready<Result<Auth, SessionError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<Auth>()
                .cloned()
                .ok_or(SessionError::AuthMissing),
        )
    }
}

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        HttpResponse::build(self.status_code())
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(self.json_body())
    }
}
