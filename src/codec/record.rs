//! The server record format: `{"created": NUMBER, "state": OBJECT}` in Pyramid's JSON,
//! what server-mode stores hold (opaque to them).

use alloc::vec::Vec;

use serde_json::Value;

use crate::codec::json::{
    number_literal, object_prefix, skip_ws, write_float, write_object, State, FRAME_CAPACITY,
};
use crate::error::FinishError;

/// Encodes a record.
pub(crate) fn encode_record(created: f64, state: &State) -> Result<Vec<u8>, FinishError> {
    let mut out = Vec::with_capacity(FRAME_CAPACITY);
    out.extend_from_slice(b"{\"created\": ");
    write_float(created, &mut out).map_err(|_| FinishError::Encode)?;
    out.extend_from_slice(b", \"state\": ");
    write_object(state, &mut out).map_err(|_| FinishError::Encode)?;
    out.push(b'}');
    Ok(out)
}

/// Decodes a record; `None` when it is not one.
pub(crate) fn decode_record(data: &[u8]) -> Option<(f64, State)> {
    decode_record_direct(data).or_else(|| decode_record_value(data))
}

/// The record as [`encode_record`] writes it, `{"created": NUMBER, "state": OBJECT}`
/// (any JSON whitespace), read without building the outer map: the number straight from
/// the text, the state by `serde_json`. `None` for anything else — other keys or order,
/// escaped key names, a zero timestamp, a state nested near the depth limit — and
/// [`decode_record`] then runs the full parse, which decides as before.
fn decode_record_direct(data: &[u8]) -> Option<(f64, State)> {
    /// `"name":` at the start of `rest` (around JSON whitespace), and the bytes after.
    fn field<'a>(rest: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
        let rest = skip_ws(rest).strip_prefix(b"\"")?.strip_prefix(name)?;
        let rest = skip_ws(rest.strip_prefix(b"\"")?).strip_prefix(b":")?;
        Some(skip_ws(rest))
    }
    let rest = field(skip_ws(data).strip_prefix(b"{")?, b"created")?;
    let (created, rest) = number_literal(rest)?;
    let rest = field(skip_ws(rest).strip_prefix(b",")?, b"state")?;
    let (state, rest) = object_prefix(rest)?;
    let rest = skip_ws(rest).strip_prefix(b"}")?;
    skip_ws(rest).is_empty().then_some((created, state))
}

/// The full parse behind [`decode_record`].
fn decode_record_value(data: &[u8]) -> Option<(f64, State)> {
    let Value::Object(mut record) = serde_json::from_slice::<Value>(data).ok()? else {
        return None;
    };
    let created = record.get("created")?.as_f64().filter(|c| c.is_finite())?;
    let Value::Object(state) = record.remove("state")? else {
        return None;
    };
    Some((created, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn direct_record_decoding_agrees_with_the_full_parse() {
        let states = [
            "{}",
            r#"{"user": "ada", "n": [1, 2.5, {"a": null}]}"#,
            r#"{"a": [1e999]}"#,
            r#"{"$serde_json::private::Number": "12"}"#,
            r#"{"a": 1"#,
            "[]",
            "null",
        ];
        let createds = ["1700000000.25", "0", "-0", "1e400", "1E2", "01", "\"1\""];
        let mut checked = 0;
        for state in states {
            for created in createds {
                for ws in ["", " ", "\n\t"] {
                    for (a, b) in [
                        ("created", "state"),
                        ("state", "created"),
                        ("cr\\u0065ated", "state"),
                    ] {
                        let (first, second) = if a == "state" {
                            (state, created)
                        } else {
                            (created, state)
                        };
                        let record = format!("{ws}{{{ws}\"{a}\"{ws}:{ws}{first}{ws},{ws}\"{b}\"{ws}:{ws}{second}{ws}}}{ws}");
                        let got = decode_record(record.as_bytes());
                        let want = decode_record_value(record.as_bytes());
                        match (&got, &want) {
                            (Some((c1, s1)), Some((c2, s2))) => {
                                assert_eq!(c1.to_bits(), c2.to_bits(), "{record}");
                                assert_eq!(s1, s2, "{record}");
                            }
                            _ => assert_eq!(got, want, "{record}"),
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 7 * 7 * 3 * 3);
        for extra in ["", ", \"x\": 1", "}", "x"] {
            let record = format!("{{\"created\": 1.5, \"state\": {{}}{extra}}}");
            assert_eq!(
                decode_record(record.as_bytes()),
                decode_record_value(record.as_bytes()),
                "{record}"
            );
        }
    }

    #[test]
    fn records_as_written_take_the_direct_path() {
        let mut state = State::new();
        state.insert("user".into(), Value::from("ada"));
        let record = encode_record(1_700_000_000.25, &state).unwrap();
        assert_eq!(
            decode_record_direct(&record),
            Some((1_700_000_000.25, state))
        );
    }
}
