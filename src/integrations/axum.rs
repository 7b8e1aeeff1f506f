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
//! The layer is [`integrations::tower`](crate::integrations::tower)'s (re-exported here);
//! this module adds what axum needs on top: [`Session`] as an extractor and
//! [`SessionError`] as a response. How a request goes is told in
//! [`integrations::request`](crate::integrations::request).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;

pub use crate::integrations::request::{system_clock, Session, SessionError};
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
