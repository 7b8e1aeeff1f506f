//! Pyramid 1.x's `PickleSerializer` frame: `pickle.dumps((accessed, created, state),
//! HIGHEST_PROTOCOL)`, byte for byte (feature `pickle`).
//!
//! The state's values are held as tagged JSON ([`crate::pickle::PyValue::to_tagged`]):
//! `str`, ints, floats, lists and `str`-keyed dicts are plain JSON, a tuple is
//! `{"$tuple": [...]}`, and so on, so a tuple read from Python is written back a tuple.
//! Opaque objects (a pickled form-error object in a CubicWeb session) are kept as data —
//! never imported or instantiated — since the frame is authenticated before it is read.

use alloc::string::String;
use alloc::vec::Vec;

use super::json::{Frame, State};
use super::Accessed;
use crate::error::FrameError;
use crate::pickle::{self, Limits, PyInt, PyValue};

/// The protocol Pyramid 1.10 writes: `pickle.HIGHEST_PROTOCOL` on CPython 3.8 and later.
pub const PYRAMID1_PROTOCOL: u8 = 5;

/// Reads a pickled frame: a tuple (or list) of an int or float `renewed`, an int or float
/// `created`, and a dict with `str` keys. Anything else is refused, as in
/// [`super::json::decode_frame`]; pickle errors are [`FrameError::Pickle`].
pub fn decode_pickle_frame(payload: &[u8]) -> Result<Frame, FrameError> {
    let value = pickle::decode(payload, &Limits::with_opaque()).map_err(FrameError::Pickle)?;
    let (PyValue::Tuple(items) | PyValue::List(items)) = value else {
        return Err(FrameError::Shape);
    };
    let Ok([renewed, created, state]) = <[PyValue; 3]>::try_from(items) else {
        return Err(FrameError::Shape);
    };
    let renewed = timestamp(&renewed)?;
    let created = timestamp(&created)?;
    let PyValue::Dict(pairs) = state else {
        return Err(FrameError::Shape);
    };
    let mut state = State::new();
    for (key, value) in pairs {
        let PyValue::Str(key) = key else {
            return Err(FrameError::Shape);
        };
        let key = key.as_str().ok_or(FrameError::Shape)?;
        let value = value.to_tagged().map_err(|_| FrameError::Shape)?;
        state.insert(String::from(key), value);
    }
    Ok(Frame {
        renewed,
        created,
        state,
    })
}

/// An int or float slot as a finite `f64` (Pyramid's `float(...)`).
fn timestamp(value: &PyValue) -> Result<f64, FrameError> {
    let secs = match value {
        PyValue::Float(x) => *x,
        PyValue::Int(PyInt::Small(n)) => *n as f64,
        PyValue::Int(_) => return Err(FrameError::NonFiniteTimestamp),
        _ => return Err(FrameError::Shape),
    };
    if secs.is_finite() {
        Ok(secs)
    } else {
        Err(FrameError::NonFiniteTimestamp)
    }
}

/// Appends `pickle.dumps((accessed, created, state), protocol)` as CPython writes it.
/// A state value that is not valid tagged JSON, or a non-finite timestamp, is
/// [`FrameError::Encode`].
pub fn encode_pickle_frame(
    accessed: Accessed,
    created: f64,
    state: &State,
    protocol: u8,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    if !accessed.as_secs_f64().is_finite() || !created.is_finite() {
        return Err(FrameError::Encode);
    }
    let accessed = match accessed {
        Accessed::Int(secs) => PyValue::int(secs),
        Accessed::Float(secs) => PyValue::Float(secs),
    };
    let pairs = state
        .iter()
        .map(|(k, v)| Ok((PyValue::str(k), PyValue::from_tagged(v)?)))
        .collect::<Result<Vec<_>, pickle::TaggedError>>()
        .map_err(|_| FrameError::Encode)?;
    let frame = PyValue::Tuple(alloc::vec![
        accessed,
        PyValue::Float(created),
        PyValue::Dict(pairs)
    ]);
    let bytes = pickle::encode(&frame, protocol).map_err(|_| FrameError::Encode)?;
    out.extend_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pyramid_1_10_cookie_payload_round_trips() {
        // `cw_real_flows.json`, flow `cubicweb.pyramid.default_session:login_logout_replay`,
        // step `login`: the payload after the 64-byte HMAC (spec §6.1).
        let mut payload = alloc::vec![0x80, 0x05, 0x95];
        let body_start = payload.len() + 8;
        payload.extend_from_slice(&[0; 8]);
        payload.extend_from_slice(&[0x4a, 0x01, 0xf1, 0x53, 0x65]);
        payload.push(0x47);
        payload.extend_from_slice(&1_700_000_001.25f64.to_be_bytes());
        payload.extend_from_slice(&[0x7d, 0x94, 0x8c, 21]);
        payload.extend_from_slice(b"authentication_ticket");
        payload.push(0x94);
        payload.extend_from_slice(&[0x8c, 3]);
        payload.extend_from_slice(b"tkt");
        payload.extend_from_slice(&[0x94, 0x73, 0x87, 0x94, 0x2e]);
        let len = (payload.len() - body_start) as u64;
        payload[3..11].copy_from_slice(&len.to_le_bytes());

        let frame = decode_pickle_frame(&payload).unwrap();
        assert_eq!(
            (frame.renewed, frame.created),
            (1_700_000_001.0, 1_700_000_001.25)
        );
        assert_eq!(json!(frame.state), json!({"authentication_ticket": "tkt"}));
        let mut out = Vec::new();
        encode_pickle_frame(
            Accessed::Int(1_700_000_001),
            1_700_000_001.25,
            &frame.state,
            5,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, payload);
    }

    #[test]
    fn python_values_survive_a_round_trip() {
        let mut state = State::new();
        state.insert("pending".into(), json!([{"$tuple": [761, "in_group", 3]}]));
        state.insert("raw".into(), json!({"$bytes": "00ff"}));
        let mut out = Vec::new();
        encode_pickle_frame(Accessed::Float(1.5), 1.0, &state, 4, &mut out).unwrap();
        let frame = decode_pickle_frame(&out).unwrap();
        assert_eq!(frame.state, state);
        assert_eq!(frame.renewed, 1.5);
    }

    #[test]
    fn other_shapes_are_refused() {
        let enc = |v: &PyValue| pickle::encode(v, 4).unwrap();
        let ts = PyValue::Float(1.0);
        let dict = PyValue::Dict(alloc::vec![]);
        let cases = [
            (
                PyValue::Tuple(alloc::vec![ts.clone(), ts.clone()]),
                FrameError::Shape,
            ),
            (
                PyValue::Tuple(alloc::vec![PyValue::str("1"), ts.clone(), dict.clone()]),
                FrameError::Shape,
            ),
            (
                PyValue::Tuple(alloc::vec![
                    PyValue::Float(f64::NAN),
                    ts.clone(),
                    dict.clone()
                ]),
                FrameError::NonFiniteTimestamp,
            ),
            (
                PyValue::Tuple(alloc::vec![
                    ts.clone(),
                    ts.clone(),
                    PyValue::List(alloc::vec![])
                ]),
                FrameError::Shape,
            ),
            (
                PyValue::Tuple(alloc::vec![
                    ts.clone(),
                    ts.clone(),
                    PyValue::Dict(alloc::vec![(PyValue::int(1), PyValue::None)])
                ]),
                FrameError::Shape,
            ),
        ];
        for (value, error) in cases {
            assert_eq!(decode_pickle_frame(&enc(&value)), Err(error), "{value:?}");
        }
        assert!(matches!(
            decode_pickle_frame(b"[1, 2, {}]"),
            Err(FrameError::Pickle(_))
        ));
        let mut bad = State::new();
        bad.insert("x".into(), json!({"$nope": 1}));
        assert_eq!(
            encode_pickle_frame(Accessed::Int(1), 1.0, &bad, 5, &mut Vec::new()),
            Err(FrameError::Encode)
        );
    }
}
