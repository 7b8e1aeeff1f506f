//! The writer: values, objects, strings and floats exactly as Python's `json.dumps`
//! writes them, and the frame Pyramid's `JSONSerializer` produces.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Number, Value};

use super::frame::State;
use crate::codec::Accessed;
use crate::encoding::hex::extend_hex;
use crate::encoding::scan::{
    any_flagged, byte_table, bytes_at_least, bytes_below, bytes_equal, plain_prefix, word_prefix,
};
use crate::error::FrameError;

/// A good first capacity for an encoded frame or record: a typical session fits without
/// the buffer growing (and copying) on the way, a big one grows as usual.
pub const FRAME_CAPACITY: usize = 1024;

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

/// True for a number written without a fraction or an exponent (a Python int).
pub(super) fn is_integer_literal(s: &str) -> bool {
    !s.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// Appends a number: integers digit for digit, anything else as Python's float `repr`.
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
fn push_decimal(mut n: u64, out: &mut Vec<u8>) {
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
const PLAIN: [bool; 256] = byte_table(&[(0x20, 0x7E)], b"", b"\"\\");

/// True when some byte of `w` is not [`PLAIN`]: below 0x20, `"`, `\\`, or 0x7F and
/// above. Exact (the [`crate::encoding::scan`] word predicates), so plain text is skipped
/// 8 bytes at a time.
fn needs_escape(w: u64) -> bool {
    any_flagged(
        bytes_below(w, 0x20)
            | bytes_equal(w, b'"')
            | bytes_equal(w, b'\\')
            | bytes_at_least(w, 0x7F),
    )
}

/// [`PLAIN`] without a table, for [`plain_prefix`]: below 0x20 wraps to 0xE0 and above,
/// 0x7F and above land at 0x5F and above.
fn is_plain(b: u8) -> bool {
    (b.wrapping_sub(0x20) < 0x5F) & (b != b'"') & (b != b'\\')
}

/// Appends a JSON string with `ensure_ascii` escaping.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    let unit = |u: u16, out: &mut Vec<u8>| {
        out.extend_from_slice(b"\\u");
        extend_hex(&u.to_be_bytes(), out);
    };
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i += plain_prefix(&bytes[i..], is_plain);
        i += word_prefix(&bytes[i..], needs_escape);
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
    use alloc::string::ToString;

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
                let prefix = plain_prefix(&block, is_plain);
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
