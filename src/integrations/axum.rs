//! axum integration (feature `axum`): [`SessionLayer`] and the [`Session`]
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
//!     Ok(Json(json!({ "count": session.get::<u64>("count").await? })))
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
//! The layer is [`integrations::tower`](crate::integrations::tower)'s (re-exported here);
//! this module adds what axum needs on top: [`Session`] and [`Auth`] as extractors and
//! [`SessionError`] as a response. How a request goes is told in
//! [`integrations::request`](crate::integrations::request).
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
//! with a `503` drops them too. See [`AuthConfig`] for the groups lookup and
//! [`integrations::request::auth`](crate::integrations::request::auth#the-remote-address)
//! for the remote address (here: axum's `ConnectInfo<SocketAddr>`, unless
//! [`AuthConfig::with_remote_addr`] says otherwise).
//!
//! ```no_run
//! use axum::{routing::{get, post}, Router};
//! use pyramid_session::authtkt::cubicweb::CubicWebSettings;
//! use pyramid_session::authtkt::DomainStyle;
//! use pyramid_session::integrations::axum::{Auth, AuthConfig, SessionError, SessionLayer};
//! use pyramid_session::settings::PyramidSettings;
//! use pyramid_session::SessionConfig;
//!
//! async fn whoami(auth: Auth) -> Result<String, SessionError> {
//!     Ok(format!("{:?}", auth.userid().await?))
//! }
//!
//! async fn login(auth: Auth) -> Result<&'static str, SessionError> {
//!     // ... after checking the password of the user with eid 5:
//!     let login = auth.login(5, Some(false)).await?;
//!     if let Some(eid) = login.update_login_time {
//!         // UPDATE cw_CWUser SET cw_last_login_time = now() ... WHERE cw_eid = eid
//!         let _ = eid;
//!     }
//!     Ok("welcome")
//! }
//!
//! # fn run(ini: &str) -> Result<(), Box<dyn core::error::Error>> {
//! let settings = PyramidSettings::parse_ini(ini)?;
//! let auth = CubicWebSettings::from_settings(&settings)?.build(DomainStyle::Pyramid1)?;
//! let layer = SessionLayer::cookie(settings.builder()?.build()?).with_cubicweb_auth(
//!     AuthConfig::new(auth).with_groups(|eid| async move {
//!         // SELECT g.cw_name FROM in_group_relation r JOIN cw_CWGroup g ...
//!         (eid == 5).then(|| vec!["managers".to_string(), "users".to_string()])
//!     }),
//! );
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .route("/login", post(login))
//!     .layer(layer);
//! // Serve with the peer address, for `include_ip` policies:
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//! # let _ = app; Ok(()) }
//! ```

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;

pub use crate::integrations::request::{
    system_clock, Auth, AuthConfig, ErrorPage, Session, SessionError,
};
pub use crate::integrations::tower::{SessionLayer, SessionService};

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

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
{
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Auth>()
            .cloned()
            .ok_or(SessionError::AuthMissing)
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> axum::response::Response {
        let mut response = (self.status(), self.json_body()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
