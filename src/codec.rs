//! Payload framing: what goes inside the signature.
//!
//! A session cookie's payload is the triple `[accessed, created, state]`.
//! [`json`] writes it exactly as Pyramid 2's `JSONSerializer` does (the wire-compatible
//! default); [`pickle`] as Pyramid 1.x's `PickleSerializer` does; [`Serializer`] chooses
//! between them (and CubicWeb's JSON with a pickle fallback) for a configuration;
//! [`postcard`] is a compact typed framing for Rust-only deployments.

#[cfg(feature = "json")]
pub mod json;
#[cfg(all(feature = "json", feature = "pickle"))]
pub mod pickle;
#[cfg(feature = "postcard")]
pub mod postcard;
#[cfg(feature = "json")]
pub mod record;

use serde::{Deserialize, Serialize};

#[cfg(feature = "json")]
use alloc::vec::Vec;

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

/// How a session frame is serialized inside the signature: Pyramid's `serializer=`.
///
/// The state is a JSON object either way; with a pickle serializer its values are the
/// tagged JSON of the Python values (`PyValue::to_tagged`, feature `pickle`: a tuple is
/// `{"$tuple": [...]}`, and so on), so values Python wrote are written back unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Serializer {
    /// Pyramid 2's `JSONSerializer` (Pyramid 2's default, and this crate's).
    #[default]
    Json,
    /// Pyramid 1.x's `PickleSerializer` (its default): reads protocols 0 to 5, writes
    /// protocol 5 (`HIGHEST_PROTOCOL`) byte for byte as Pyramid 1.10 on CPython 3.8+.
    #[cfg(feature = "pickle")]
    Pickle,
    /// CubicWeb's `JSONSerializerWithPickleFallback` (`CWSessionFactory`, CubicWeb 3.30
    /// and later): reads JSON, and a pickle when the payload is not JSON; writes JSON.
    #[cfg(feature = "pickle")]
    JsonWithPickleFallback,
}

#[cfg(feature = "json")]
impl Serializer {
    /// Reads a verified payload as a frame.
    pub fn decode(self, payload: &[u8]) -> Result<json::Frame, FrameError> {
        match self {
            Serializer::Json => json::decode_frame(payload),
            #[cfg(feature = "pickle")]
            Serializer::Pickle => pickle::decode_pickle_frame(payload),
            // Python falls back on a `ValueError` from `json.loads`: not JSON at all.
            #[cfg(feature = "pickle")]
            Serializer::JsonWithPickleFallback => match json::decode_frame(payload) {
                Err(FrameError::Syntax) => pickle::decode_pickle_frame(payload),
                decoded => decoded,
            },
        }
    }

    /// Appends the frame's payload, as the Python serializer writes it. (Written as JSON,
    /// a tagged value stays a tagged object: Python's `json.dumps` would turn a tuple into
    /// a list and refuse the rest.)
    pub fn encode(
        self,
        accessed: Accessed,
        created: f64,
        state: &json::State,
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        match self {
            #[cfg(feature = "pickle")]
            Serializer::Pickle => pickle::encode_pickle_frame(
                accessed,
                created,
                state,
                pickle::PYRAMID1_PROTOCOL,
                out,
            ),
            _ => json::encode_frame(accessed, created, state, out),
        }
    }
}

impl Serializer {
    /// The serializer's name: `json`, `pickle` or `json_with_pickle_fallback`.
    pub fn name(self) -> &'static str {
        match self {
            Serializer::Json => "json",
            #[cfg(feature = "pickle")]
            Serializer::Pickle => "pickle",
            #[cfg(feature = "pickle")]
            Serializer::JsonWithPickleFallback => "json_with_pickle_fallback",
        }
    }
}
