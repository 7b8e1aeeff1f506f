#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

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
