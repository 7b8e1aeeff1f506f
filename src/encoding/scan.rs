//! Scans for the first byte needing attention (JSON escaping, cookie header pieces,
//! cookie value quoting): whole 32-byte blocks first, then 8-byte words.
//!
//! The block scan is written without early exits or table lookups inside a block, so
//! the compiler checks 16 bytes per instruction (SSE2): about twice the speed of the
//! word-at-a-time test and several times a byte loop on cookie-sized text. The caller
//! handles the rest of the input, where the first interesting byte is, with its own
//! exact loop.

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
}
