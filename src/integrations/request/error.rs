//! [`SessionError`]: what a session operation reports. Each integration turns it into a
//! response the same way: [`SessionError::status`] with [`SessionError::json_body`].

extern crate std;

use alloc::string::{String, ToString};

use http::StatusCode;

use crate::authtkt::cubicweb::LoginError;
use crate::error::{FinishError, RandomError, ServerError, ValueError};

/// A session operation that failed. As a response (in every integration): `503` with a
/// JSON error for store trouble, `409` for a session removed concurrently, `500`
/// otherwise; the body is `{"error": `[`public_message`](SessionError::public_message)`}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed, or the session was removed concurrently.
    Server(ServerError),
    /// The cookie could not be produced (e.g. over 4064 characters).
    Finish(FinishError),
    /// The OS random source failed.
    Random,
    /// The handler ran without the session layer (axum, tower) or middleware (actix).
    LayerMissing,
    /// A login could not make its cookies ([`Auth::login`](super::Auth::login)).
    Login(LoginError),
    /// The handler asked for [`Auth`](super::Auth) without the layer's (or middleware's)
    /// `with_cubicweb_auth`.
    AuthMissing,
    /// A typed value did not convert ([`Session::get`](super::Session::get) of a stored
    /// value that is not a `T`, or an `insert` serde cannot write).
    Value(ValueError),
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SessionError::Server(e) => e.fmt(f),
            SessionError::Finish(e) => e.fmt(f),
            SessionError::Random => f.write_str("random source failed"),
            SessionError::LayerMissing => {
                f.write_str("the session layer (or actix middleware) is not installed")
            }
            SessionError::Login(e) => write!(f, "login failed: {e}"),
            SessionError::AuthMissing => f.write_str(
                "with_cubicweb_auth is not installed on the session layer (or actix middleware)",
            ),
            SessionError::Value(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for SessionError {}

impl From<ValueError> for SessionError {
    fn from(e: ValueError) -> SessionError {
        SessionError::Value(e)
    }
}

impl From<RandomError> for SessionError {
    fn from(_: RandomError) -> SessionError {
        SessionError::Random
    }
}

impl SessionError {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            SessionError::Server(
                ServerError::Store(_) | ServerError::Contended | ServerError::Poisoned,
            ) => StatusCode::SERVICE_UNAVAILABLE,
            SessionError::Server(ServerError::Removed) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: the category only, never store internals (the
    /// [`Display`](core::fmt::Display) text, with the details, is for logs).
    pub fn public_message(&self) -> &'static str {
        match self {
            SessionError::Server(ServerError::Store(_) | ServerError::Poisoned) => {
                "session store unavailable"
            }
            SessionError::Server(ServerError::Contended) => "session store busy, try again",
            SessionError::Server(ServerError::Removed) => "session was removed concurrently",
            SessionError::Server(ServerError::Random) | SessionError::Random => {
                "random source failed"
            }
            SessionError::Server(ServerError::Finish(_)) | SessionError::Finish(_) => {
                "session cookie could not be produced"
            }
            SessionError::Server(ServerError::Protocol(_)) => "session layer error",
            SessionError::LayerMissing => "session layer missing",
            SessionError::Login(_) => "login cookie could not be produced",
            SessionError::AuthMissing => "authentication layer missing",
            SessionError::Value(_) => "session value of an unexpected type",
        }
    }

    /// The response body every integration sends for this error (`Content-Type:
    /// application/json`): `{"error": "<public message>"}`.
    pub fn json_body(&self) -> String {
        serde_json::json!({ "error": self.public_message() }).to_string()
    }
}
