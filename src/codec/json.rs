//! Pyramid's `JSONSerializer`, byte for byte: Python's `json.dumps` with its defaults.
//!
//! Separators are `", "` and `": "`, object keys keep insertion order, every non-ASCII or
//! control character is escaped as lowercase `\uXXXX` (astral characters as surrogate
//! pairs), floats use Python's `repr` (`1700000000.0`, `1e+16`, `1e-05`) and integers of
//! any size are written digit for digit. Parsing is `serde_json`'s, with insertion order
//! and arbitrary-precision numbers kept, so a payload read and written back is unchanged.
//!
//! Non-finite floats are never written (Python would emit `NaN`/`Infinity`, which is not
//! JSON) and never accepted.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Number, Value};

use super::Accessed;
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

/// A good first capacity for an encoded frame or record: a typical session fits without
/// the buffer growing (and copying) on the way, a big one grows as usual.
pub const FRAME_CAPACITY: usize = 1024;

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

/// How deep an object read by [`object_prefix`] may nest. `serde_json` stops at 128
/// levels; a direct path parses the object one level higher than the full parse would,
/// so it leaves anything near the limit to the full parse.
const DIRECT_MAX_DEPTH: usize = 100;

/// The common frame, read without building the outer array: `[`, two number literals
/// read straight from the text (as `Number::as_f64` reads them), `,` separators, the
/// state object parsed by `serde_json`, `]`. `None` for anything else — a zero or
/// non-finite timestamp, a state nested near `serde_json`'s depth limit, any syntax or
/// shape problem — and [`decode_frame`] then runs the full parse, which decides (and
/// classifies the error) exactly as before. Saves the array, two number strings and the
/// parser's number-as-map detour: five of a request's allocations.
fn decode_frame_direct(payload: &[u8]) -> Option<Frame> {
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

/// The full parse behind [`decode_frame`]: the whole payload as a `Value`, then its shape.
fn decode_frame_value(payload: &[u8]) -> Result<Frame, FrameError> {
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
) -> Result<super::TypedFrame<T>, FrameError> {
    let (renewed, created, state): (f64, f64, T) =
        serde_json::from_slice(payload).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                FrameError::Syntax
            } else {
                FrameError::Shape
            }
        })?;
    if !renewed.is_finite() || !created.is_finite() {
        return Err(FrameError::NonFiniteTimestamp);
    }
    Ok(super::TypedFrame {
        renewed,
        created,
        state,
    })
}

fn finite(n: &Number) -> Result<f64, FrameError> {
    match n.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(FrameError::NonFiniteTimestamp),
    }
}

fn all_finite(v: &Value) -> bool {
    match v {
        Value::Number(n) => is_integer_literal(n.as_str()) || finite(n).is_ok(),
        Value::Array(items) => items.iter().all(all_finite),
        Value::Object(map) => map.values().all(all_finite),
        _ => true,
    }
}

/// Appends the frame `[accessed, created, state]` as Pyramid would write it.
pub fn encode_frame(
    accessed: Accessed,
    created: f64,
    state: &State,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    out.push(b'[');
    match accessed {
        Accessed::Int(secs) => {
            if secs < 0 {
                out.push(b'-');
            }
            push_decimal(secs.unsigned_abs(), out);
        }
        Accessed::Float(secs) => write_float(secs, out)?,
    }
    out.extend_from_slice(b", ");
    write_float(created, out)?;
    out.extend_from_slice(b", ");
    write_object(state, out)?;
    out.push(b']');
    Ok(())
}

/// Appends any JSON value as Python's `json.dumps` would write it.
pub fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), FrameError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out)?,
    }
    Ok(())
}

/// Returns `value` as Python's `json.dumps` would write it.
pub fn to_pyjson(value: &Value) -> Result<String, FrameError> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    // The writer only emits ASCII.
    String::from_utf8(out).map_err(|_| FrameError::Encode)
}

/// Appends a JSON object (a session state) as Python's `json.dumps` would write it.
pub fn write_object(map: &State, out: &mut Vec<u8>) -> Result<(), FrameError> {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_string(key, out);
        out.extend_from_slice(b": ");
        write_value(value, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn is_integer_literal(s: &str) -> bool {
    !s.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

fn write_number(n: &Number, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let text = n.as_str();
    if is_integer_literal(text) {
        // Python ints re-emit digit for digit; only `-0` normalizes.
        out.extend_from_slice(if text == "-0" { b"0" } else { text.as_bytes() });
        Ok(())
    } else {
        let x: f64 = text.parse().map_err(|_| FrameError::Encode)?;
        write_float(x, out)
    }
}

/// Appends Python's `repr(x)` of a finite float; refuses NaN and infinities.
pub fn write_float(x: f64, out: &mut Vec<u8>) -> Result<(), FrameError> {
    if !x.is_finite() {
        return Err(FrameError::Encode);
    }
    // Ryu gives the shortest round-trip digits, as Python's repr does, laid out its own
    // way ("1e16", "0.00001", "1.5e-7"): read back the digits and the exponent.
    let mut ryu = ryu::Buffer::new();
    let text = ryu.format_finite(x).as_bytes();
    let (negative, magnitude) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // From 1e-4 up to 1e16 both write plain decimals with at least one fractional digit
    // ("0.0001", "100.0", "1700000000.25"): identical text.
    if !text.contains(&b'e') && !magnitude.starts_with(b"0.0000") {
        out.extend_from_slice(text);
        return Ok(());
    }
    let text = magnitude;
    let (mantissa, exp) = match text.iter().position(|&b| b == b'e') {
        Some(e) => (&text[..e], parse_exponent(&text[e + 1..])?),
        None => (text, 0),
    };
    let point = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    let mut digits = [0u8; 24];
    let mut n = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        *digits.get_mut(n).ok_or(FrameError::Encode)? = b;
        n += 1;
    }
    let lead = digits[..n].iter().take_while(|&&b| b == b'0').count();
    let trail = digits[lead..n]
        .iter()
        .rev()
        .take_while(|&&b| b == b'0')
        .count();
    let digits = &digits[lead..n - trail];
    if negative {
        out.push(b'-');
    }
    if digits.is_empty() {
        out.extend_from_slice(b"0.0");
        return Ok(());
    }
    // Python's exponent: the power of ten of the first significant digit.
    let exp = point as i32 - lead as i32 - 1 + exp;
    if (-4..16).contains(&exp) {
        // Fixed notation, always with a fractional part.
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(core::iter::repeat_n(b'0', point.unsigned_abs() as usize));
            out.extend_from_slice(digits);
        } else {
            let point = point as usize;
            if point >= digits.len() {
                out.extend_from_slice(digits);
                out.extend(core::iter::repeat_n(b'0', point - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..point]);
                out.push(b'.');
                out.extend_from_slice(&digits[point..]);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        if exp.unsigned_abs() < 10 {
            out.push(b'0');
        }
        push_decimal(u64::from(exp.unsigned_abs()), out);
    }
    Ok(())
}

/// Reads ryu's exponent: an optional `-` and up to three digits.
fn parse_exponent(text: &[u8]) -> Result<i32, FrameError> {
    let (sign, digits) = match text.split_first() {
        Some((b'-', rest)) => (-1, rest),
        _ => (1, text),
    };
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(FrameError::Encode);
    }
    Ok(sign
        * digits
            .iter()
            .fold(0, |acc, &d| acc * 10 + i32::from(d - b'0')))
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_decimal(mut n: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Bytes that can be copied into a JSON string as they are: printable ASCII except `"`
/// and `\\`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7F {
        table[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    table
};

/// True when some byte of `w` is not [`PLAIN`]: below 0x20, `"`, `\\`, or 0x7F and
/// above. Exact (the classic "has a zero byte" / "has a byte less than n" bit tricks),
/// so plain text is skipped 8 bytes at a time.
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = has_zero(w ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(w ^ (ONES * u64::from(b'\\')));
    let del_or_high = w | w.wrapping_add(ONES);
    (below_space | quote | backslash | del_or_high) & HIGH != 0
}

/// [`PLAIN`] without a table, for [`crate::encoding::scan::plain_prefix`]: below 0x20 wraps to
/// 0xE0 and above, 0x7F and above land at 0x5F and above.
fn is_plain(b: u8) -> bool {
    (b.wrapping_sub(0x20) < 0x5F) & (b != b'"') & (b != b'\\')
}

/// Appends a JSON string with `ensure_ascii` escaping.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let unit = |u: u16, out: &mut Vec<u8>| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[usize::from((u >> shift) & 0xF)]);
        }
    };
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i += crate::encoding::scan::plain_prefix(&bytes[i..], is_plain);
        i += crate::encoding::scan::word_prefix(&bytes[i..], needs_escape);
        while bytes.get(i).is_some_and(|&b| PLAIN[usize::from(b)]) {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            break;
        };
        out.extend_from_slice(&bytes[start..i]);
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0C => b"\\f",
            _ => b"",
        };
        if !escape.is_empty() {
            out.extend_from_slice(escape);
            i += 1;
        } else if b < 0x80 {
            unit(u16::from(b), out);
            i += 1;
        } else {
            // `i` is on a char boundary: everything before it was ASCII or whole chars.
            let c = s[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                unit(*u, out);
            }
            i += c.len_utf8();
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

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

    fn float(x: f64) -> String {
        let mut out = Vec::new();
        write_float(x, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_use_python_repr() {
        let cases = [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345.6, "123456789012345.6"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (2.5e-7, "2.5e-07"),
            (f64::MAX, "1.7976931348623157e+308"),
            (1700000000.25, "1700000000.25"),
            (1700000000.0, "1700000000.0"),
            (5e-324, "5e-324"),
            (1.5e300, "1.5e+300"),
            (-123.456, "-123.456"),
        ];
        for (x, want) in cases {
            assert_eq!(float(x), want, "{x}");
        }
        assert!(write_float(f64::NAN, &mut Vec::new()).is_err());
        assert!(write_float(f64::INFINITY, &mut Vec::new()).is_err());
    }

    #[test]
    fn block_check_agrees_with_the_table() {
        for b in 0..=255u8 {
            for at in [0, 13, 31] {
                let mut block = [b'a'; 32];
                block[at] = b;
                assert_eq!(is_plain(b), PLAIN[usize::from(b)], "{b:#x}");
                let prefix = crate::encoding::scan::plain_prefix(&block, is_plain);
                assert_eq!(prefix == 32, PLAIN[usize::from(b)], "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn word_check_agrees_with_the_table() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut word = [b'A'; 8];
                word[pos] = b;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    !PLAIN[usize::from(b)],
                    "{b:#x} at {pos}"
                );
            }
        }
        let mut out = Vec::new();
        write_string("0123456789abcdef\"0123456789abcdefé", &mut out);
        assert_eq!(out, br#""0123456789abcdef\"0123456789abcdef\u00e9""#);
    }

    #[test]
    fn strings_are_ascii_escaped() {
        let mut out = Vec::new();
        write_string("é漢😀\u{0}\u{1f}\u{7f}\"\\/\n\t\u{8}\u{c}\r", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""\u00e9\u6f22\ud83d\ude00\u0000\u001f\u007f\"\\/\n\t\b\f\r""#
        );
    }

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

    #[test]
    fn big_integers_keep_their_digits() {
        let v: Value =
            serde_json::from_str("[18446744073709551616, -1180591620717411303424, -0]").unwrap();
        assert_eq!(
            to_pyjson(&v).unwrap(),
            "[18446744073709551616, -1180591620717411303424, 0]"
        );
        let v: Value = serde_json::from_str(r#"{"a":1E2,"b":2.50}"#).unwrap();
        assert_eq!(to_pyjson(&v).unwrap(), r#"{"a": 100.0, "b": 2.5}"#);
        assert_eq!(1.to_string(), "1");
    }
}
