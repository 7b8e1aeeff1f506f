//! `Cookie:` request headers: pairs split on `;`, names checked against the RFC 2616
//! token table, the header and pair limits, and the length check every written cookie
//! goes through.

use crate::encoding::scan::{
    any_flagged, byte_table, bytes_below, bytes_equal, plain_prefix, word_prefix, ALPHANUMERIC,
};
use crate::error::FinishError;

/// Only the first this many bytes of a `Cookie:` header are parsed: the cookies found
/// there are kept, the rest of the header is ignored, and a pair the limit cuts through
/// is dropped (never half-read).
pub const MAX_COOKIE_HEADER_LEN: usize = 16 * 1024;

/// Only the first this many `;`-separated pieces of a header are examined; the pairs
/// found there are kept.
pub const MAX_COOKIE_PAIRS: usize = 512;

/// Pyramid's limit on the length of a cookie value, in characters.
pub const MAX_COOKIE_VALUE_LEN: usize = 4064;

/// Longest `name=value` of a cookie that browsers keep (RFC 6265 §6.1's minimum; Chrome
/// and Firefox drop a longer cookie without any error, and the session with it).
pub const MAX_COOKIE_PAIR_LEN: usize = 4096;

/// Checks that a cookie named `name` with a value of `value_len` bytes can be sent and
/// will be kept: the value at most [`MAX_COOKIE_VALUE_LEN`] (Pyramid's check, reported
/// first) and `name=value` at most [`MAX_COOKIE_PAIR_LEN`]. Every cookie the sessions
/// write goes through this check.
pub fn check_cookie_len(name: &str, value_len: usize) -> Result<(), FinishError> {
    if value_len > MAX_COOKIE_VALUE_LEN {
        return Err(FinishError::CookieTooLong {
            len: value_len,
            limit: MAX_COOKIE_VALUE_LEN,
        });
    }
    let pair_len = name.len().saturating_add(1).saturating_add(value_len);
    if pair_len > MAX_COOKIE_PAIR_LEN {
        return Err(FinishError::CookieTooLong {
            len: pair_len,
            limit: MAX_COOKIE_PAIR_LEN,
        });
    }
    Ok(())
}

/// Iterator over the `(name, value)` pairs of a `Cookie:` header, in header order.
///
/// Created by [`parse_cookie_header`]. Duplicate names are all yielded; callers choose
/// (the session uses the first one that verifies).
#[derive(Clone, Debug)]
pub struct CookiePairs<'a> {
    rest: &'a [u8],
    pieces_left: usize,
}

/// Parses a `Cookie:` header value. Of a header longer than [`MAX_COOKIE_HEADER_LEN`]
/// only the pieces that end within that limit are read (a piece ends at a `;`, or at the
/// end of the header); of any header only the first [`MAX_COOKIE_PAIRS`] pieces. So junk
/// cookies appended after the session cookie cannot hide it.
pub fn parse_cookie_header(header: &[u8]) -> CookiePairs<'_> {
    CookiePairs {
        rest: bounded(header),
        pieces_left: MAX_COOKIE_PAIRS,
    }
}

/// The part of `header` that is parsed: all of it up to [`MAX_COOKIE_HEADER_LEN`] bytes,
/// otherwise the pieces that end within the limit (the piece the limit cuts is dropped).
fn bounded(header: &[u8]) -> &[u8] {
    match header.get(MAX_COOKIE_HEADER_LEN) {
        None => header,
        // The piece before the limit ends exactly there: it is whole.
        Some(b';') => &header[..MAX_COOKIE_HEADER_LEN],
        Some(_) => {
            let head = &header[..MAX_COOKIE_HEADER_LEN];
            head.iter()
                .rposition(|&b| b == b';')
                .map_or(&[][..], |end| &head[..end])
        }
    }
}

/// The values of every cookie named exactly `name` (no case folding), in header order,
/// within the limits of [`parse_cookie_header`].
pub fn cookie_values<'a>(header: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    parse_cookie_header(header).filter_map(move |(n, v)| (n == name.as_bytes()).then_some(v))
}

impl<'a> Iterator for CookiePairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() && self.pieces_left > 0 {
            self.pieces_left -= 1;
            let (end, has_ctl) = scan_piece(self.rest);
            let piece = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if has_ctl {
                continue;
            }
            if let Some(pair) = parse_pair(piece) {
                return Some(pair);
            }
        }
        None
    }
}

/// True for a control byte that makes a pair invalid (HTAB is allowed).
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7F
}

/// The end of the `;`-separated piece at the start of `s`, and whether it holds a control
/// byte. Plain text is skipped 8 bytes at a time (exact word test for `;`, bytes below
/// 0x20 and 0x7F); the work stays linear in the header length.
fn scan_piece(s: &[u8]) -> (usize, bool) {
    let special =
        |w: u64| any_flagged(bytes_equal(w, b';') | bytes_below(w, 0x20) | bytes_equal(w, 0x7F));
    let mut ctl = false;
    let mut i = plain_prefix(s, |b| (b != b';') & (b >= 0x20) & (b != 0x7F));
    loop {
        i += word_prefix(&s[i..], special);
        match s.get(i) {
            None => return (s.len(), ctl),
            Some(b';') => return (i, ctl),
            Some(&b) => {
                ctl |= is_ctl(b);
                i += 1;
            }
        }
    }
}

/// A piece as `(name, value)`: split at the first `=`, both sides trimmed, the name a
/// valid cookie name, one pair of surrounding double quotes stripped from the value.
fn parse_pair(piece: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = piece.iter().position(|&b| b == b'=')?;
    let name = trim(&piece[..eq]);
    let mut value = trim(&piece[eq + 1..]);
    if !is_cookie_name(name) {
        return None;
    }
    if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
        value = &value[1..value.len() - 1];
    }
    Some((name, value))
}

/// `s` without leading and trailing spaces and tabs.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// True for an RFC 2616 token character.
fn is_token_byte(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// RFC 2616 token characters: what a cookie name may hold.
const TOKEN: [bool; 256] = byte_table(ALPHANUMERIC, b"!#$%&'*+-.^_`|~", b"");
/// The bytes WebOb leaves unquoted in a cookie value or attribute.
const VALUE: [bool; 256] = byte_table(ALPHANUMERIC, b"!#$%&'()*+-./:<=>?@[]^_`{|}~", b"");

/// True when `name` is usable as a cookie name, by WebOb's rules: a non-empty RFC 2616
/// token, not starting with `$`, and not a reserved attribute name (any case).
pub fn is_cookie_name(name: &[u8]) -> bool {
    const RESERVED: [&[u8]; 8] = [
        b"path",
        b"domain",
        b"comment",
        b"max-age",
        b"expires",
        b"secure",
        b"httponly",
        b"samesite",
    ];
    !name.is_empty()
        && name[0] != b'$'
        && name.iter().all(|&b| is_token_byte(b))
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Bytes WebOb leaves unquoted in a cookie value.
pub(super) fn is_value_byte(b: u8) -> bool {
    VALUE[usize::from(b)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn pairs(header: &[u8]) -> Vec<(&[u8], &[u8])> {
        parse_cookie_header(header).collect()
    }

    #[test]
    fn parses_pairs_in_order_with_duplicates() {
        assert_eq!(
            pairs(b"a=1; session=x ;session=\"y\";b=2"),
            [
                (&b"a"[..], &b"1"[..]),
                (b"session", b"x"),
                (b"session", b"y"),
                (b"b", b"2")
            ]
        );
    }

    #[test]
    fn nameless_or_bare_pairs_never_shadow_a_name() {
        assert!(pairs(b"=__Host-sid=evil").is_empty());
        assert!(pairs(b"__Host-sid").is_empty());
        assert!(pairs(b"\"__Host-sid\"=x").is_empty());
        assert_eq!(pairs(b"__HOST-sid=x")[0].0, b"__HOST-sid");
    }

    #[test]
    fn values_are_literal_and_ctl_pairs_are_dropped() {
        assert_eq!(pairs(br"a=\141bc")[0].1, br"\141bc");
        assert_eq!(pairs(b"a=%41")[0].1, b"%41");
        assert_eq!(pairs(b"a=x\x00y; b=1"), [(&b"b"[..], &b"1"[..])]);
        assert_eq!(pairs(b"a=\"\xff\"; b=1")[0].1, b"\xff");
        assert_eq!(pairs(b"a=x\ty")[0].1, b"x\ty");
    }

    #[test]
    fn piece_scan_agrees_with_a_byte_loop() {
        for b in 0..=255u8 {
            for pos in 0..12 {
                let mut piece = alloc::vec![b'a'; 12];
                piece[pos] = b;
                piece.extend_from_slice(b";rest");
                let end = piece.iter().position(|&c| c == b';').unwrap();
                let ctl = piece[..end].iter().any(|&c| is_ctl(c));
                assert_eq!(scan_piece(&piece), (end, ctl), "{b:#x} at {pos}");
            }
        }
        assert_eq!(scan_piece(b"no separator at all"), (19, false));
    }

    #[test]
    fn only_the_first_16_kib_are_parsed_and_kept() {
        // A header over the limit keeps what its first 16 KiB hold.
        let mut long = Vec::new();
        long.extend_from_slice(b"a=1;");
        long.resize(MAX_COOKIE_HEADER_LEN + 1, b' ');
        assert_eq!(pairs(&long), [(&b"a"[..], &b"1"[..])]);
        // Junk cookies after the session cookie do not hide it.
        let mut tossed = b"session=abc".to_vec();
        while tossed.len() <= 2 * MAX_COOKIE_HEADER_LEN {
            tossed.extend_from_slice(b"; junk=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        }
        assert_eq!(
            cookie_values(&tossed, "session").collect::<Vec<_>>(),
            [&b"abc"[..]]
        );
        // Nothing past the limit is read.
        let mut late = b" ".repeat(MAX_COOKIE_HEADER_LEN);
        late.extend_from_slice(b";a=1");
        assert!(pairs(&late).is_empty());
    }

    #[test]
    fn a_pair_cut_at_16_kib_is_dropped() {
        // `b=` runs past the limit: not half-read.
        let mut cut = b"a=1; b=".to_vec();
        cut.resize(MAX_COOKIE_HEADER_LEN + 10, b'x');
        assert_eq!(pairs(&cut), [(&b"a"[..], &b"1"[..])]);
        // The limit falls just after the value: the `;` there is past the limit, so the
        // pair may be longer than what was read and is dropped too.
        let mut edge = b"a=1; b=".to_vec();
        edge.resize(MAX_COOKIE_HEADER_LEN, b'x');
        edge.extend_from_slice(b"x; c=3");
        assert_eq!(pairs(&edge), [(&b"a"[..], &b"1"[..])]);
        // A pair that ends right at the limit, with its `;` as the next byte, is whole.
        let mut whole = b"a=1; b=".to_vec();
        whole.resize(MAX_COOKIE_HEADER_LEN, b'x');
        whole.extend_from_slice(b"; c=3");
        let got = pairs(&whole);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, b"b");
        assert_eq!(got[1].1.len(), MAX_COOKIE_HEADER_LEN - 7);
        // Exactly 16 KiB is read whole, the last pair included.
        assert_eq!(pairs(&whole[..MAX_COOKIE_HEADER_LEN]).len(), 2);
    }

    #[test]
    fn only_the_first_512_pairs_are_parsed_and_kept() {
        let many: Vec<u8> = b"x=1;".repeat(MAX_COOKIE_PAIRS + 10);
        assert_eq!(pairs(&many).len(), MAX_COOKIE_PAIRS);
        let mut first = b"session=abc;".to_vec();
        first.extend_from_slice(&many);
        assert_eq!(cookie_values(&first, "session").count(), 1);
        let mut last = many.clone();
        last.extend_from_slice(b"session=abc");
        assert_eq!(cookie_values(&last, "session").count(), 0);
    }

    #[test]
    fn cookie_length_limits() {
        let too_long = |len, limit| Err(FinishError::CookieTooLong { len, limit });
        assert_eq!(check_cookie_len("session", 4064), Ok(()));
        assert_eq!(check_cookie_len("session", 4065), too_long(4065, 4064));
        let name = "n".repeat(4096 - 1 - 4000);
        assert_eq!(check_cookie_len(&name, 4000), Ok(()));
        assert_eq!(check_cookie_len(&name, 4001), too_long(4097, 4096));
        // The value's own limit is reported first.
        assert_eq!(check_cookie_len(&name, 5000), too_long(5000, 4064));
        assert_eq!(
            check_cookie_len(&name, usize::MAX),
            too_long(usize::MAX, 4064)
        );
        assert_eq!(check_cookie_len(&"n".repeat(5000), 0), too_long(5001, 4096));
    }
}
