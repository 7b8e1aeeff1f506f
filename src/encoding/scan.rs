//! Scans for the first byte needing attention (JSON escaping, cookie header pieces,
//! cookie value quoting): whole 32-byte blocks first, then 8-byte words.
//!
//! The block scan is written without early exits or table lookups inside a block, so
//! the compiler checks 16 bytes per instruction (SSE2): about twice the speed of the
//! word-at-a-time test and several times a byte loop on cookie-sized text. The caller
//! handles the rest of the input, where the first interesting byte is, with its own
//! exact loop.
//!
//! The word tests are built from the SWAR predicates here ([`bytes_below`],
//! [`bytes_equal`], [`bytes_at_least`], combined with `|` and read by [`any_flagged`]),
//! and every byte-class table (cookie tokens and values, plain JSON string bytes) is made
//! by [`byte_table`].

/// `0x01` in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Flags (in the high bit of each byte) the bytes of `w` below `n`, for `n` up to 0x80:
/// the classic "has a byte less than n" test. A byte above a flagged one may be flagged
/// too (the borrow runs on), so the flags are only for [`any_flagged`], which is exact.
#[inline(always)]
pub(crate) fn bytes_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w
}

/// Flags the bytes of `w` equal to `b` ("has a zero byte" on `w ^ b…b`); as for
/// [`bytes_below`], only [`any_flagged`] of the result is exact.
#[inline(always)]
pub(crate) fn bytes_equal(w: u64, b: u8) -> u64 {
    bytes_below(w ^ (ONES * u64::from(b)), 1)
}

/// Flags the bytes of `w` at or above `n`, for `n` from 1 to 0x80 (bytes with the high
/// bit set flag themselves; the others carry into it); only [`any_flagged`] of the
/// result is exact.
#[cfg(any(feature = "json", test))]
#[inline(always)]
pub(crate) fn bytes_at_least(w: u64, n: u8) -> u64 {
    w | w.wrapping_add(ONES * u64::from(0x80 - n))
}

/// True when any byte is flagged in `flags`: the `|` of some of [`bytes_below`],
/// [`bytes_equal`] and [`bytes_at_least`] on one word. Exact, since a spurious flag only
/// ever sits above a real one of the same test.
#[inline(always)]
pub(crate) fn any_flagged(flags: u64) -> bool {
    flags & HIGH != 0
}

/// ASCII digits and letters, as [`byte_table`] ranges.
pub(crate) const ALPHANUMERIC: &[(u8, u8)] = &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')];

/// A byte class as a table: true for the bytes in the inclusive `ranges` and in
/// `extra`, except those in `except`.
pub(crate) const fn byte_table(ranges: &[(u8, u8)], extra: &[u8], except: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        let mut member = contains(extra, byte);
        let mut r = 0;
        while r < ranges.len() {
            member |= ranges[r].0 <= byte && byte <= ranges[r].1;
            r += 1;
        }
        table[b] = member && !contains(except, byte);
        b += 1;
    }
    table
}

/// True when `set` holds `b` (for tables built at compile time).
const fn contains(set: &[u8], b: u8) -> bool {
    match set {
        [] => false,
        [first, rest @ ..] => *first == b || contains(rest, b),
    }
}

/// The length of the longest prefix of whole 32-byte blocks whose bytes all satisfy
/// `plain`. `plain` must be branch-free (use `&`/`|` on `bool`, not `&&`/`||`).
#[inline(always)]
pub(crate) fn plain_prefix(bytes: &[u8], plain: impl Fn(u8) -> bool) -> usize {
    let mut len = 0;
    for block in bytes.chunks_exact(32) {
        let mut special = 0u8;
        for &b in block {
            special |= u8::from(!plain(b));
        }
        if special != 0 {
            break;
        }
        len += 32;
    }
    len
}

/// The length of the longest prefix of whole 8-byte words for which `special` is false
/// (`special` gets the word little-endian, first byte lowest). For the stretch after
/// [`plain_prefix`], where an exact word test skips most of a block before the byte loop.
#[inline(always)]
pub(crate) fn word_prefix(bytes: &[u8], special: impl Fn(u64) -> bool) -> usize {
    let mut len = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if special(u64::from_le_bytes(word)) {
            break;
        }
        len += 8;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_block_holding_the_first_special_byte() {
        let mut text = [b'a'; 100];
        assert_eq!(plain_prefix(&text, |b| b == b'a'), 96);
        for at in [0, 31, 32, 63, 64, 95, 96, 99] {
            text = [b'a'; 100];
            text[at] = b';';
            let want = if at >= 96 { 96 } else { at / 32 * 32 };
            assert_eq!(plain_prefix(&text, |b| b == b'a'), want, "{at}");
        }
        assert_eq!(plain_prefix(&[], |_| true), 0);
    }

    #[test]
    fn word_prefix_stops_at_the_first_special_word() {
        let semicolon = |w: u64| w.to_le_bytes().contains(&b';');
        let mut text = [b'a'; 30];
        assert_eq!(word_prefix(&text, semicolon), 24);
        text[17] = b';';
        assert_eq!(word_prefix(&text, semicolon), 16);
        text[0] = b';';
        assert_eq!(word_prefix(&text, semicolon), 0);
    }

    /// Every byte at every position of a word over every background byte: the word
    /// test on it agrees with `byte` on each of its bytes.
    fn agrees_with_a_byte_loop(word_test: impl Fn(u64) -> bool, byte: impl Fn(u8) -> bool) {
        for background in 0..=255u8 {
            for b in 0..=255u8 {
                for pos in 0..8 {
                    let mut word = [background; 8];
                    word[pos] = b;
                    assert_eq!(
                        word_test(u64::from_le_bytes(word)),
                        byte(background) | byte(b),
                        "{b:#x} at {pos} in {background:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn word_predicates_are_exact() {
        for n in [1, 0x20, 0x7F, 0x80] {
            agrees_with_a_byte_loop(|w| any_flagged(bytes_below(w, n)), |b| b < n);
            agrees_with_a_byte_loop(|w| any_flagged(bytes_at_least(w, n)), |b| b >= n);
        }
        for x in [0, b';', b'"', b'\\', 0x7F, 0x80, 0xFF] {
            agrees_with_a_byte_loop(|w| any_flagged(bytes_equal(w, x)), |b| b == x);
        }
        // Combined with `|`, as the cookie and JSON scans use them.
        agrees_with_a_byte_loop(
            |w| any_flagged(bytes_equal(w, b';') | bytes_below(w, 0x20) | bytes_at_least(w, 0x7F)),
            |b| b == b';' || !(0x20..0x7F).contains(&b),
        );
    }

    #[test]
    fn tables_hold_their_ranges_extras_and_exceptions() {
        let table = byte_table(ALPHANUMERIC, b"-_", b"q");
        for b in 0..=255u8 {
            let want = (b.is_ascii_alphanumeric() || b == b'-' || b == b'_') && b != b'q';
            assert_eq!(table[usize::from(b)], want, "{b:#x}");
        }
        assert_eq!(
            byte_table(&[(0xF0, 0xFF)], b"", b"")
                .iter()
                .filter(|&&t| t)
                .count(),
            16
        );
    }
}
