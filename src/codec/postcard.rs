//! Compact typed framing for Rust-only deployments: `version ‖ postcard(accessed,
//! created, state)`.
//!
//! The leading byte is [`POSTCARD_FRAME_VERSION`]; any other value, bytes left after the
//! frame, or a non-finite timestamp make the payload invalid. Only use this framing when
//! no Pyramid application has to read the cookies.
//!
//! ```
//! use pyramid_session::codec::{postcard::{decode, encode}, Accessed};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct State { user: String, visits: u32 }
//!
//! let state = State { user: "ada".into(), visits: 3 };
//! let bytes = encode(Accessed::Int(1700000000), 1700000000.25, &state)?;
//! let frame = decode::<State>(&bytes)?;
//! assert_eq!(frame.state, state);
//! assert_eq!(frame.renewed, 1700000000.0);
//! # Ok::<(), pyramid_session::FrameError>(())
//! ```

use alloc::vec::Vec;

use serde::Deserialize;
use serde::Serialize;

use super::{Accessed, TypedFrame};
use crate::error::FrameError;

/// The format version byte written first.
pub const POSTCARD_FRAME_VERSION: u8 = 1;

/// Encodes `[accessed, created, state]` with the version byte in front.
pub fn encode<T: Serialize>(
    accessed: Accessed,
    created: f64,
    state: &T,
) -> Result<Vec<u8>, FrameError> {
    if !accessed.as_secs_f64().is_finite() || !created.is_finite() {
        return Err(FrameError::Encode);
    }
    let mut out = alloc::vec![POSTCARD_FRAME_VERSION];
    let body =
        postcard::to_allocvec(&(accessed, created, state)).map_err(|_| FrameError::Encode)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a frame written by [`encode`], refusing unknown versions, trailing bytes and
/// non-finite timestamps. `T` may borrow from the payload (`&str`, `&[u8]` fields).
pub fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<TypedFrame<T>, FrameError> {
    let (&version, body) = payload.split_first().ok_or(FrameError::Syntax)?;
    if version != POSTCARD_FRAME_VERSION {
        return Err(FrameError::Version);
    }
    let ((accessed, created, state), rest): ((Accessed, f64, T), &[u8]) =
        postcard::take_from_bytes(body).map_err(|_| FrameError::Syntax)?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes);
    }
    let renewed = accessed.as_secs_f64();
    TypedFrame::finite(renewed, created, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn roundtrip_and_rejections() {
        let bytes = encode(Accessed::Float(1.5), 2.0, &(String::from("x"), 7u8)).unwrap();
        let frame = decode::<(String, u8)>(&bytes).unwrap();
        assert_eq!(
            (frame.renewed, frame.created, frame.state),
            (1.5, 2.0, (String::from("x"), 7))
        );

        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            decode::<(String, u8)>(&trailing),
            Err(FrameError::TrailingBytes)
        );
        let mut version = bytes.clone();
        version[0] = 2;
        assert_eq!(decode::<(String, u8)>(&version), Err(FrameError::Version));
        assert_eq!(decode::<(String, u8)>(&[]), Err(FrameError::Syntax));
        assert_eq!(
            decode::<(String, u8)>(&bytes[..bytes.len() - 1]),
            Err(FrameError::Syntax)
        );
        assert_eq!(
            encode(Accessed::Float(f64::NAN), 2.0, &()),
            Err(FrameError::Encode)
        );
        let nan = {
            let mut v = alloc::vec![POSTCARD_FRAME_VERSION];
            v.extend(postcard::to_allocvec(&(Accessed::Float(f64::NAN), 1.0f64, ())).unwrap());
            v
        };
        assert_eq!(decode::<()>(&nan), Err(FrameError::NonFiniteTimestamp));
    }

    #[test]
    fn state_can_borrow_from_the_payload() {
        let bytes = encode(Accessed::Int(1), 2.0, &("ada", 7u8)).unwrap();
        let frame = decode::<(&str, u8)>(&bytes).unwrap();
        assert_eq!(frame.state, ("ada", 7));
        let start = bytes.len() - 1 - "ada".len();
        assert!(core::ptr::eq(frame.state.0.as_ptr(), &bytes[start]));
    }
}
