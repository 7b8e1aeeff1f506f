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
//! An `Err` from the wrapped service (another middleware's; handlers' errors are
//! responses by then) passes through untouched: that request's changes are not written
//! and no cookie is sent.

extern crate std;

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::future::{ready, Future, Ready};
use core::pin::Pin;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::error::FinishError;
use crate::integrations::http::{apply_to, join_cookie_fields, ResponseHeaders};
use crate::integrations::request::{Outcome, Shared};
use crate::server::{AsyncStore, ServerConfig};
use crate::time::Clock;
use crate::SessionConfig;

pub use crate::integrations::request::{Session, SessionError};

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

    /// Replaces the clock, e.g. a [`ManualClock`](crate::time::ManualClock) or a plain
    /// `fn() -> f64` in tests. It is read once per request.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> SessionMiddleware {
        SessionMiddleware {
            shared: self.shared.with_clock(clock),
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
        let session = self.shared.start(cookies.as_deref());
        request.extensions_mut().insert(session.clone());
        let answer = self.service.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            let failed = response.status().is_server_error();
            let error = match session.conclude(failed).await {
                Outcome::Send { set_cookie, used } => {
                    match apply_to(response.headers_mut(), set_cookie.as_deref(), used) {
                        Ok(()) => return Ok(response.map_into_left_body()),
                        Err(_) => SessionError::Finish(FinishError::Encode),
                    }
                }
                Outcome::Replace(error) => error,
            };
            let (request, _) = response.into_parts();
            Ok(ServiceResponse::new(request, error.error_response()).map_into_right_body())
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
