#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly): each item shows the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The lint header (RustCrypto's list). `Cargo.toml [lints]` holds what applies to every
// target; these apply to the library, whose std edges say why they use std.
#![warn(
    missing_debug_implementations,
    unreachable_pub,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core,
    clippy::unwrap_used
)]

extern crate alloc;

pub mod authtkt;
pub mod codec;
pub mod config;
pub mod cookie;
#[cfg(feature = "json")]
pub mod driver;
pub mod encoding;
pub mod error;
#[cfg(feature = "http")]
pub mod integrations;
#[cfg(feature = "pickle")]
pub mod pickle;
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
#[allow(unused_macros, unused_imports)] // used by the features that emit events
mod trace;

pub use config::{SameSite, SessionConfig};
/// The urlsafe base64 of signed values and ids, at its original path (now
/// [`encoding::base64url`]).
pub use encoding::base64url;
pub use error::{
    Base64Error, ConfigError, FinishError, FrameError, RandomError, ValueError, VerifyError,
};
#[cfg(feature = "std")]
pub use random::OsRandom;
pub use random::RandomSource;
#[cfg(feature = "json")]
#[allow(deprecated)]
pub use session::Session;
#[cfg(feature = "json")]
pub use session::{CookieSession, LoadOutcome, SessionData};
pub use signer::{HashAlg, Keyring};
