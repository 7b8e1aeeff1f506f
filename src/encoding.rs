//! Byte-level encodings and scans shared by the signer, the cookie code and the codecs.
//!
//! - [`base64url`]: the urlsafe base64 of signed values and ids (also reachable as
//!   `crate::base64url`).
//! - `scan` (crate-internal): block and word scans for the first byte needing attention,
//!   with the word-at-a-time (SWAR) byte predicates behind them.
//! - `hex` (crate-internal, `json` feature): the one lowercase-hex writer.

pub mod base64url;
#[cfg(feature = "json")]
pub(crate) mod hex;
pub(crate) mod scan;
