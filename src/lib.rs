//! Pyramid-compatible web sessions: a `no_std`, sans-IO core.
//!
//! `pyramid-session` signs, verifies and decides exactly as Pyramid 2 / WebOb do, so a
//! Rust service can read and write the same session cookies as a Pyramid (or CubicWeb)
//! application with the same secret — nobody gets logged out. The core is pure: the
//! caller passes the `Cookie:` header, the time and any randomness; the core returns the
//! `Set-Cookie:` value to send.
//!
//! ```
//! use pyramid_session::{CookieSession, SessionConfig};
//! use serde_json::json;
//!
//! let config = SessionConfig::pyramid("seekrit").build()?;
//!
//! // First request: no cookie; the view stores something.
//! let mut session = CookieSession::load(&config, None, 1700000000.25);
//! session.insert("a", json!(1));
//! let set_cookie = session.finish(&config, false)?.expect("a changed session sends a cookie");
//! assert_eq!(
//!     set_cookie,
//!     "session=4v0IyFcbgeVNQOQ8Tlv2YwZThB-jrYUMvS_OTMoEPrCxdUEDzX2R67WSqr_Ufqwm6hfSxGcau7E1AhDm\
//!      kvn1mVsxNzAwMDAwMDAwLCAxNzAwMDAwMDAwLjI1LCB7ImEiOiAxfV0; Path=/; SameSite=Lax"
//! );
//!
//! // Next request, ten seconds later, with the cookie Pyramid would also have set.
//! let value = set_cookie.split(';').next().unwrap();
//! let mut session = CookieSession::load(&config, Some(value.as_bytes()), 1700000010.25);
//! assert_eq!(session.get("a"), Some(&json!(1)));
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! # Modules
//! - [`encoding`]: [`base64url`] (the urlsafe base64 of signed values and ids) and the
//!   byte scans behind the cookie and JSON code.
//! - [`signer`]: WebOb's `SignedSerializer` and a rotation [`Keyring`].
//! - [`codec`]: the payload frame, as Pyramid's JSON (`json` feature) or postcard.
//! - [`cookie`]: `Cookie:` parsing and `Set-Cookie:` rendering.
//! - [`policy`]: timeout, reissue, skew, lifetime and revocation decisions.
//! - [`config`]: profiles (`pyramid`, `cubicweb`, secure default) and validation.
//! - [`session`]: the cookie-mode session, flash and CSRF (`json` feature).
//! - [`server`]: server-side sessions — signed id cookies, the `Store` contract and the
//!   pure end-of-request plan; [`driver`] runs it against a blocking or async store.
//! - [`random`]: the caller-supplied random source (`OsRandom` with `std`).
//! - [`settings`]: configuration from an existing Pyramid/CubicWeb `pyramid.ini`.
//! - `store` (std): `MemoryStore`, `SqliteStore`, `RedisStore`, `PostgresStore`.
//! - `integrations` (std): the `http` crate glue and the axum layer.
//!
//! # Features
//! - `std` (default): the OS random source and std integration in dependencies.
//! - `json` (default): Pyramid's JSON framing, [`CookieSession`] and server mode.
//! - `memory-store` (default): `store::MemoryStore`.
//! - `postcard`: compact typed framing for Rust-only deployments.
//! - `sqlite`, `redis`, `postgres`: the stores.
//! - `http`, `axum`: framework glue.
//! - `cli`: the `pyramid-session` command-line tool.
//!
//! Without default features the crate is `no_std` + `alloc`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod codec;
pub mod config;
pub mod cookie;
#[cfg(feature = "json")]
pub mod driver;
pub mod encoding;
pub mod error;
#[cfg(feature = "http")]
pub mod integrations;
pub mod policy;
pub mod random;
#[cfg(feature = "json")]
pub mod server;
#[cfg(feature = "json")]
pub mod session;
pub mod settings;
pub mod signer;
#[cfg(feature = "memory-store")]
pub mod store;
pub mod time;

pub use config::{SameSite, SessionConfig};
/// The urlsafe base64 of signed values and ids, at its original path (now
/// [`encoding::base64url`]).
pub use encoding::base64url;
pub use error::{Base64Error, ConfigError, FinishError, FrameError, RandomError, VerifyError};
#[cfg(feature = "std")]
pub use random::OsRandom;
pub use random::RandomSource;
#[cfg(feature = "json")]
#[allow(deprecated)]
pub use session::Session;
#[cfg(feature = "json")]
pub use session::{CookieSession, LoadOutcome, SessionData};
pub use signer::{HashAlg, Keyring};

/// The README's examples run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
