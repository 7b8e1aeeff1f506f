//! The frame `[renewed, created, state]` read back: the full parse (the fallback and the
//! reference for the direct readers), shape checks and typed decoding.

use alloc::string::String;

use serde_json::{Map, Number, Value};

use super::direct::decode_frame_direct;
use super::pyjson::is_integer_literal;
use crate::codec::TypedFrame;
use crate::error::FrameError;

/// A session's state: a JSON object whose keys keep their insertion order.
pub type State = Map<String, Value>;

/// A decoded session frame `[accessed, created, state]`.
///
/// The first slot is read as `renewed` — Pyramid's name for the time the cookie was last
/// issued — and both timestamps as floats, as Pyramid's `float(...)` does.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Slot 0: when the cookie was issued (`renewed`), seconds since the Unix epoch.
    pub renewed: f64,
    /// Slot 1: when the session was created, seconds since the Unix epoch.
    pub created: f64,
    /// Slot 2: the session state.
    pub state: State,
}

/// Parses a verified payload as `[number, number, object]`.
///
/// Anything else — a list of pairs, a string, `null`, string or boolean timestamps,
/// non-finite numbers anywhere — is refused; Pyramid would accept some of these or fail
/// the request, and treating them as an invalid cookie is the documented deviation.
pub fn decode_frame(payload: &[u8]) -> Result<Frame, FrameError> {
    match decode_frame_direct(payload) {
        Some(frame) => Ok(frame),
        None => decode_frame_value(payload),
    }
}

/// The full parse behind [`decode_frame`]: the whole payload as a `Value`, then its shape.
pub(super) fn decode_frame_value(payload: &[u8]) -> Result<Frame, FrameError> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| FrameError::Syntax)?;
    let Value::Array(items) = value else {
        return Err(FrameError::Shape);
    };
    let Ok([renewed, created, state]) = <[Value; 3]>::try_from(items) else {
        return Err(FrameError::Shape);
    };
    let (Value::Number(renewed), Value::Number(created), Value::Object(state)) =
        (renewed, created, state)
    else {
        return Err(FrameError::Shape);
    };
    let renewed = finite(&renewed)?;
    let created = finite(&created)?;
    if !state.values().all(all_finite) {
        return Err(FrameError::NonFiniteTimestamp);
    }
    Ok(Frame {
        renewed,
        created,
        state,
    })
}

/// Parses a verified payload `[number, number, state]` straight into a typed state `T`
/// (any `serde` type, e.g. a struct with the session's keys), skipping the dynamic map.
/// Timestamps must be finite; unknown state keys are ignored unless `T` forbids them.
///
/// `T` may borrow from the payload (`&str` fields, or `Cow<str>` with `#[serde(borrow)]`
/// for strings that may hold escapes), so reading a session need not copy its strings.
pub fn decode_typed<'a, T: serde::Deserialize<'a>>(
    payload: &'a [u8],
) -> Result<TypedFrame<T>, FrameError> {
    let (renewed, created, state): (f64, f64, T) =
        serde_json::from_slice(payload).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                FrameError::Syntax
            } else {
                FrameError::Shape
            }
        })?;
    TypedFrame::finite(renewed, created, state)
}

/// A timestamp slot as a finite `f64`.
fn finite(n: &Number) -> Result<f64, FrameError> {
    match n.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(FrameError::NonFiniteTimestamp),
    }
}

/// True when every number in `v` is an integer literal (kept digit for digit) or reads
/// as a finite `f64`.
pub(super) fn all_finite(v: &Value) -> bool {
    match v {
        Value::Number(n) => is_integer_literal(n.as_str()) || finite(n).is_ok(),
        Value::Array(items) => items.iter().all(all_finite),
        Value::Object(map) => map.values().all(all_finite),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::json::encode_frame;
    use crate::codec::Accessed;
    use alloc::vec::Vec;

    #[test]
    fn frames_roundtrip_and_keep_order() {
        let frame =
            decode_frame(br#"[1700000000, 1700000000.25, {"b": 1, "a": [1.0, "x"]}]"#).unwrap();
        assert_eq!(frame.renewed, 1700000000.0);
        assert_eq!(frame.created, 1700000000.25);
        let mut out = Vec::new();
        encode_frame(
            Accessed::Int(1700000005),
            frame.created,
            &frame.state,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[1700000005, 1700000000.25, {"b": 1, "a": [1.0, "x"]}]"#
        );
    }

    #[test]
    fn frames_refuse_other_shapes() {
        for bad in [
            &br#"[1, {}]"#[..],
            br#"{"x": 1, "y": 2, "z": 3}"#,
            br#"null"#,
            br#"[null, 1, {"a": 1}]"#,
            br#"["1700000000", "1.5e9", {"a": 1}]"#,
            br#"[true, false, {"a": 1}]"#,
            br#"[1, 2, [["a", 1]]]"#,
            br#""123""#,
        ] {
            assert_eq!(decode_frame(bad), Err(FrameError::Shape), "{bad:?}");
        }
        assert_eq!(decode_frame(b"[NaN, 1, {}]"), Err(FrameError::Syntax));
        assert_eq!(decode_frame(b"[1, 2, {}] x"), Err(FrameError::Syntax));
        assert_eq!(
            decode_frame(b"\xef\xbb\xbf[1, 2, {}]"),
            Err(FrameError::Syntax)
        );
        assert_eq!(
            decode_frame(b"[1e400, 2, {}]"),
            Err(FrameError::NonFiniteTimestamp)
        );
        assert_eq!(
            decode_frame(br#"[1, 2, {"a": [1e999]}]"#),
            Err(FrameError::NonFiniteTimestamp)
        );
    }

    #[test]
    fn typed_decoding() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct S {
            user: String,
        }
        let f =
            decode_typed::<S>(br#"[1700000000, 1700000000.25, {"user": "ada", "x": 1}]"#).unwrap();
        assert_eq!(
            (f.renewed, f.created, f.state.user.as_str()),
            (1700000000.0, 1700000000.25, "ada")
        );
        assert_eq!(decode_typed::<S>(b"[1, 2, {}]"), Err(FrameError::Shape));
        assert_eq!(decode_typed::<S>(b"[1, 2"), Err(FrameError::Syntax));
        // serde_json refuses out-of-range floats while parsing.
        assert_eq!(
            decode_typed::<S>(br#"[1e999, 2, {"user": "a"}]"#),
            Err(FrameError::Syntax)
        );
    }

    #[test]
    fn typed_decoding_can_borrow_from_the_payload() {
        use alloc::borrow::Cow;
        #[derive(serde::Deserialize)]
        struct S<'a> {
            user: &'a str,
            #[serde(borrow)]
            note: Cow<'a, str>,
        }
        let payload = br#"[1, 2, {"user": "ada", "note": "caf\u00e9"}]"#;
        let f = decode_typed::<S<'_>>(payload).unwrap();
        assert_eq!(f.state.user, "ada");
        assert!(
            core::ptr::eq(f.state.user.as_ptr(), &payload[17]),
            "borrowed, not copied"
        );
        assert_eq!(f.state.note, "caf\u{e9}");
        assert!(
            matches!(f.state.note, Cow::Owned(_)),
            "an escaped string is unescaped"
        );
        // A borrowed &str cannot hold an unescaped copy: that is a shape error.
        assert_eq!(
            decode_typed::<S<'_>>(br#"[1, 2, {"user": "\u00e9", "note": ""}]"#)
                .map(|f| f.state.user),
            Err(FrameError::Shape)
        );
    }
}
