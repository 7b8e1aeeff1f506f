//! Payload framing: what goes inside the signature.
//!
//! A session cookie's payload is the triple `[accessed, created, state]`.
//! [`json`] writes it exactly as Pyramid's `JSONSerializer` does (the wire-compatible
//! default); [`postcard`] is a compact typed framing for Rust-only deployments.

#[cfg(feature = "json")]
pub mod json;
#[cfg(feature = "postcard")]
pub mod postcard;
#[cfg(feature = "json")]
pub mod record;

use serde::{Deserialize, Serialize};

#[cfg(any(feature = "json", feature = "postcard"))]
use crate::error::FrameError;

/// The first slot of a session frame, as Pyramid writes it.
///
/// Pyramid stores `int(time.time())` there once any accessor or mutator ran during the
/// request; when the cookie is written without one (only `changed()` was called, or a
/// rotated key is being replaced) it stores the float `renewed` value instead. Keeping the
/// distinction makes re-written cookies byte-identical to Pyramid's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Accessed {
    /// Whole seconds, written as a JSON integer.
    Int(i64),
    /// Seconds as a float, written with Python's `repr`.
    Float(f64),
}

impl Accessed {
    /// The value as seconds.
    pub fn as_secs_f64(self) -> f64 {
        match self {
            // Session timestamps are far below 2^53, where i64 -> f64 is exact.
            Accessed::Int(secs) => secs as f64,
            Accessed::Float(secs) => secs,
        }
    }
}

/// A decoded frame with typed state (see [`json::decode_typed`] and [`postcard::decode`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TypedFrame<T> {
    /// Slot 0, read as when the cookie was issued (Pyramid's `renewed`).
    pub renewed: f64,
    /// Slot 1: when the session was created.
    pub created: f64,
    /// Slot 2: the state.
    pub state: T,
}

#[cfg(any(feature = "json", feature = "postcard"))]
impl<T> TypedFrame<T> {
    /// The decoded frame, if both timestamps are finite: every codec refuses the others.
    pub(crate) fn finite(renewed: f64, created: f64, state: T) -> Result<Self, FrameError> {
        if !renewed.is_finite() || !created.is_finite() {
            return Err(FrameError::NonFiniteTimestamp);
        }
        Ok(TypedFrame {
            renewed,
            created,
            state,
        })
    }
}
