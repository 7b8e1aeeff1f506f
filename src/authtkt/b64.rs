//! Standard base64 (`+`, `/`, `=` padding), as Python's `base64.b64encode` writes it for
//! the `b64unicode` and `b64str` userids. Decoding is canonical: the standard alphabet
//! only, the exact padding, zero trailing bits (Python's `b64decode` is laxer: it drops
//! characters outside the alphabet and ignores trailing bits; no issuer writes either).

use alloc::string::String;
use alloc::vec::Vec;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Padded standard base64 of `bytes`.
pub(super) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// The bytes of canonical padded standard base64; `None` for anything else.
pub(super) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (q, quad) in text.chunks_exact(4).enumerate() {
        let pad = if q + 1 == quads {
            quad.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Zero trailing bits, as the encoder writes them.
        if bytes[3 - pad..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python() {
        for (raw, text) in [
            (&b""[..], ""),
            (b"a", "YQ=="),
            (b"ab", "YWI="),
            (b"abc", "YWJj"),
            (b"alice", "YWxpY2U="),
            (b"~~~", "fn5+"),
            (b"???", "Pz8/"),
            (b"True", "VHJ1ZQ=="),
        ] {
            assert_eq!(encode(raw), text);
            assert_eq!(decode(text.as_bytes()).as_deref(), Some(raw));
        }
    }

    #[test]
    fn refuses_non_canonical() {
        for bad in [
            "abc", "YQ=", "YQ", "YR==", "YWJ=", "Y===", "====", "YQ==YQ==", "YW-j", "YW j",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn every_short_input_round_trips() {
        for len in 0..5usize {
            for seed in 0..64u32 {
                let raw: Vec<u8> = (0..len)
                    .map(|i| (seed * 37 + i as u32 * 101) as u8)
                    .collect();
                assert_eq!(decode(encode(&raw).as_bytes()), Some(raw));
            }
        }
    }
}
