//! Branch-free scans over 32-byte blocks, for the hot loops that look for the first
//! byte needing attention (JSON escaping, cookie header pieces, cookie value quoting).
//!
//! Written without early exits or table lookups inside a block, so the compiler checks
//! 16 bytes per instruction (SSE2): about twice the speed of a word-at-a-time test and
//! several times a byte loop on cookie-sized text. The caller handles the rest of the
//! input, where the first interesting byte is, with its own exact loop.

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
}
