//! The allocation-saving direct readers: the common frame read without building the outer
//! array, and the pieces (number literals, a leading object) the server record reader
//! reuses. Each defers to the full parse for anything unusual, and the tests hold them to
//! its results.

use serde_json::Value;

use super::frame::{all_finite, Frame, State};

/// How deep an object read by [`object_prefix`] may nest. `serde_json` stops at 128
/// levels; a direct path parses the object one level higher than the full parse would,
/// so it leaves anything near the limit to the full parse.
const DIRECT_MAX_DEPTH: usize = 100;

/// The common frame, read without building the outer array: `[`, two number literals
/// read straight from the text (as `Number::as_f64` reads them), `,` separators, the
/// state object parsed by `serde_json`, `]`. `None` for anything else — a zero or
/// non-finite timestamp, a state nested near `serde_json`'s depth limit, any syntax or
/// shape problem — and [`decode_frame`](super::decode_frame) then runs the full parse,
/// which decides (and classifies the error) exactly as before. Saves the array, two
/// number strings and the parser's number-as-map detour: five of a request's allocations.
pub(super) fn decode_frame_direct(payload: &[u8]) -> Option<Frame> {
    let rest = skip_ws(payload).strip_prefix(b"[")?;
    let (renewed, rest) = number_literal(skip_ws(rest))?;
    let rest = skip_ws(rest).strip_prefix(b",")?;
    let (created, rest) = number_literal(skip_ws(rest))?;
    let rest = skip_ws(skip_ws(rest).strip_prefix(b",")?);
    let (state, rest) = object_prefix(rest)?;
    let tail = skip_ws(rest).strip_prefix(b"]")?;
    if !skip_ws(tail).is_empty() || !state.values().all(all_finite) {
        return None;
    }
    Some(Frame {
        renewed,
        created,
        state,
    })
}

/// The JSON object at the start of `bytes`, parsed by `serde_json` as a `Value` would
/// parse it, and the bytes after it. `None` unless it is an object at most
/// [`DIRECT_MAX_DEPTH`] levels deep — for a caller that reads the object inside an
/// enclosing array or object by hand and leaves everything unusual to a full parse.
pub(crate) fn object_prefix(bytes: &[u8]) -> Option<(State, &[u8])> {
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let Some(Ok(Value::Object(map))) = values.next() else {
        return None;
    };
    if !map.values().all(|v| shallow(v, 1)) {
        return None;
    }
    Some((map, bytes.get(values.byte_offset()..)?))
}

/// `bytes` without its leading JSON whitespace.
pub(crate) fn skip_ws(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\n' | b'\t' | b'\r'))
        .count();
    &bytes[n..]
}

/// A JSON number literal (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`) at the start
/// of `bytes`, as a finite, non-zero `f64`, and the bytes after it.
pub(crate) fn number_literal(bytes: &[u8]) -> Option<(f64, &[u8])> {
    let digits = |from: usize| {
        bytes
            .get(from..)
            .map_or(0, |b| b.iter().take_while(|c| c.is_ascii_digit()).count())
    };
    let mut end = usize::from(bytes.first() == Some(&b'-'));
    match (bytes.get(end), digits(end)) {
        (Some(b'0'), _) => end += 1,
        (_, 0) => return None,
        (_, n) => end += n,
    }
    if bytes.get(end) == Some(&b'.') {
        let n = digits(end + 1);
        if n == 0 {
            return None;
        }
        end += 1 + n;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        end += 1;
        if matches!(bytes.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        let n = digits(end);
        if n == 0 {
            return None;
        }
        end += n;
    }
    let text = core::str::from_utf8(&bytes[..end]).ok()?;
    let x: f64 = text.parse().ok()?;
    // Zero is left to the full parse, which keeps the sign of `-0` its own way.
    (x.is_finite() && x != 0.0).then_some((x, &bytes[end..]))
}

/// At most [`DIRECT_MAX_DEPTH`] levels deep, counting `v` at `depth`.
fn shallow(v: &Value, depth: usize) -> bool {
    if depth > DIRECT_MAX_DEPTH {
        return false;
    }
    match v {
        Value::Array(items) => items.iter().all(|v| shallow(v, depth + 1)),
        Value::Object(map) => map.values().all(|v| shallow(v, depth + 1)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::json::decode_frame;
    use crate::codec::json::frame::decode_frame_value;
    use alloc::format;
    use alloc::string::String;

    /// Same result, bit for bit, as the full parse alone.
    fn assert_same_as_full_parse(payload: &[u8]) {
        let full = decode_frame_value(payload);
        let both = decode_frame(payload);
        let shown = String::from_utf8_lossy(payload);
        match (&both, &full) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.renewed.to_bits(), b.renewed.to_bits(), "{shown}");
                assert_eq!(a.created.to_bits(), b.created.to_bits(), "{shown}");
                assert_eq!(a.state, b.state, "{shown}");
            }
            _ => assert_eq!(both, full, "{shown}"),
        }
    }

    #[test]
    fn direct_frame_decoding_agrees_with_the_full_parse() {
        let numbers = [
            "1700000000",
            "1700000000.25",
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1E2",
            "1e+2",
            "2.5e-3",
            "-1.5",
            "1e400",
            "-1e400",
            "1e-400",
            "18446744073709551616",
            "9007199254740993",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "1e+",
            "1.5.2",
            "0x10",
            "\"1\"",
            "null",
            "[]",
        ];
        let states = [
            "{}",
            r#"{"user": "ada", "n": [1, 2.5, {"a": null}]}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": [1e999]}"#,
            r#"{"$serde_json::private::Number": "12"}"#,
            r#"{"a": {"$serde_json::private::Number": "1e999"}}"#,
            r#"{"a": "caf\u00e9 \ud83d\ude00"}"#,
            r#"{"a": 1"#,
            "[]",
            "null",
            r#"{"a": 1} x"#,
        ];
        let spaces = ["", " ", "\t\n\r ", "\u{a0}"];
        for n1 in numbers {
            for n2 in ["1700000000.25", n1] {
                for state in states {
                    for ws in spaces {
                        let payload =
                            format!("{ws}[{ws}{n1}{ws},{ws}{n2}{ws},{ws}{state}{ws}]{ws}");
                        assert_same_as_full_parse(payload.as_bytes());
                    }
                }
            }
        }
        for extra in ["", ", 4", "]", "}", " ]", "x"] {
            assert_same_as_full_parse(format!("[1, 2, {{}}]{extra}").as_bytes());
            assert_same_as_full_parse(format!("[1, 2, {{}}{extra}]").as_bytes());
        }
        for cut in 0..40 {
            let full = br#"[1700000000, 1.5, {"a": [1, {"b": "c"}]}] "#;
            assert_same_as_full_parse(&full[..cut.min(full.len())]);
        }
    }

    #[test]
    fn deep_states_are_left_to_the_full_parse() {
        for depth in [90, 99, 100, 101, 125, 126, 127, 128, 129] {
            let state = format!("{{\"a\": {}1{}}}", "[".repeat(depth), "]".repeat(depth));
            let payload = format!("[1, 2, {state}]");
            assert_same_as_full_parse(payload.as_bytes());
        }
        let shallow = format!("[1, 2, {{\"a\": {}1{}}}]", "[".repeat(98), "]".repeat(98));
        assert!(decode_frame_direct(shallow.as_bytes()).is_some());
        let deep = format!("[1, 2, {{\"a\": {}1{}}}]", "[".repeat(100), "]".repeat(100));
        assert!(decode_frame_direct(deep.as_bytes()).is_none());
        assert!(
            decode_frame(deep.as_bytes()).is_ok(),
            "the full parse still takes it"
        );
    }

    #[test]
    fn the_common_frame_takes_the_direct_path() {
        let payload = br#"[1700000000, 1700000000.25, {"user": "ada", "_csrft_": "0b30"}]"#;
        let frame = decode_frame_direct(payload).expect("direct");
        assert_eq!(
            (frame.renewed, frame.created),
            (1700000000.0, 1700000000.25)
        );
        assert_eq!(frame.state["user"], "ada");
    }
}
