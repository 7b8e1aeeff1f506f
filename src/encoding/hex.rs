//! Lowercase hexadecimal, written one way for the whole crate: the JSON writer's
//! `\uXXXX` escapes, and the store keys and CSRF tokens of the sessions (and read back
//! where a format holds hex: tagged JSON's bytes).

use alloc::string::String;
use alloc::vec::Vec;

/// The lowercase hex digits.
const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The two lowercase hex digits of `b`, high nibble first.
#[inline]
fn digits(b: u8) -> [u8; 2] {
    [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xF)]]
}

/// Appends `bytes` to a string as lowercase hex, two digits a byte, high nibble first.
pub(crate) fn push_hex(bytes: &[u8], out: &mut String) {
    out.reserve(2 * bytes.len());
    for &b in bytes {
        let [high, low] = digits(b);
        out.push(char::from(high));
        out.push(char::from(low));
    }
}

/// Writes `bytes` as lowercase hex into the start of `out` (at least twice as long), as
/// [`push_hex`] does, without allocating.
pub(crate) fn write_hex(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair.copy_from_slice(&digits(*b));
    }
}

/// Appends `bytes` to a byte buffer as lowercase hex, as [`push_hex`] does.
pub(crate) fn extend_hex(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.extend_from_slice(&digits(b));
    }
}

/// The bytes of a hex string (either case, two digits a byte); `None` when malformed.
#[allow(dead_code)] // used by the features that read hex (pickle's tagged JSON)
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    text.chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_two_digits_a_byte_high_nibble_first() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff, 0x10];
        let mut text = String::from("k:");
        push_hex(&bytes, &mut text);
        assert_eq!(text, "k:000fa5ff10");
        let mut fixed = [0u8; 10];
        write_hex(&bytes, &mut fixed);
        assert_eq!(&fixed, b"000fa5ff10");
        let mut raw = b"\\u".to_vec();
        extend_hex(&0x00e9u16.to_be_bytes(), &mut raw);
        assert_eq!(raw, b"\\u00e9");
        // Every byte, against the formatter.
        for b in 0..=255u8 {
            let mut one = String::new();
            push_hex(&[b], &mut one);
            assert_eq!(one, alloc::format!("{b:02x}"));
            assert_eq!(decode_hex(&one), Some(alloc::vec![b]));
            assert_eq!(decode_hex(&one.to_uppercase()), Some(alloc::vec![b]));
        }
        for bad in ["0", "0g", "+1", " 1"] {
            assert_eq!(decode_hex(bad), None, "{bad}");
        }
    }
}
