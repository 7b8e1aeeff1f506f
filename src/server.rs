//! Server-side sessions: the signed cookie carries only a session id, the state lives in
//! a store (CubicWeb's `CWSessionFactory`, the pyramid redis session factories).
//!
//! Everything here is pure. A request goes through three stages:
//!
//! 1. [`Pending::start`] verifies the cookie and extracts the session id. No store I/O:
//!    a request that never touches its session costs nothing.
//! 2. On first use a driver ([`crate::driver`]) loads the record and calls
//!    [`Pending::open`], which yields a [`ServerSession`]. An unknown, expired or revoked id
//!    is never adopted: the session starts fresh and gets a new id when written.
//! 3. [`ServerSession::finish`] returns a [`Finisher`]: the store operations this request
//!    needs, one at a time ([`Finisher::next_op`]), and — only once they all succeeded —
//!    the `Set-Cookie` value ([`Finisher::into_cookie`]).
//!
//! Saves are compare-and-set on a record version. When one loses, the finisher asks for
//! a reload, re-applies this request's own changes (set / remove / clear / modify) to the
//! fresh state and saves again, a bounded number of times. A save that finds the record
//! gone fails with [`ServerError::Removed`]: a removal (logout) always wins.
//!
//! The pieces, one file each: [`id`] (session ids, store keys, the two id cookie formats),
//! [`store`] (the store contract), [`config`] ([`ServerConfig`]), [`session`]
//! ([`ServerSession`] and its op log) and [`plan`] ([`Pending`] and [`Finisher`], the
//! request's stages). The record format is [`crate::codec::record`].

pub mod config;
pub mod id;
#[cfg(feature = "pickle")]
pub mod legacy;
pub mod plan;
pub mod session;
pub mod store;

pub use crate::error::{ServerError, StoreError, StoreErrorKind};
pub use config::{
    ServerConfig, BACKOFF_BASE, BACKOFF_CAP, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BUDGET,
    MAX_ID_CANDIDATES,
};
pub use id::{
    IdCookie, IdCookieFormat, IdScheme, SessionId, StoreKey, MAX_SESSION_ID_LEN,
    PYRAMID_SESSION_REDIS_SALT, RAW_ID_BYTES, SESSION_ID_BYTES,
};
#[cfg(feature = "pickle")]
pub use legacy::LegacyRedisCookie;
pub use plan::{Finisher, Pending};
pub use session::{Modifier, ServerSession};
#[allow(deprecated)]
pub use store::Stored;
pub use store::{
    AsyncStore, BoxFuture, CreateOutcome, NullStore, OpResult, Record, RemoveOutcome, SaveOutcome,
    Store, StoreExt, StoreOp, TouchOutcome,
};
