//! CubicWeb's authentication ticket: `authticket_` and 50 alphanumerics, drawn as
//! `cubicweb.pyramid.config.get_random_secret_key` draws them.

use alloc::string::String;

use zeroize::Zeroize as _;

use crate::error::RandomError;
use crate::random::RandomSource;

/// What every CubicWeb ticket token starts with.
pub const AUTHTICKET_PREFIX: &str = "authticket_";

/// How many random characters follow [`AUTHTICKET_PREFIX`].
pub const AUTHTICKET_RANDOM_LEN: usize = 50;

/// `string.ascii_letters + string.digits`, in Python's order.
const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Bytes drawn before a source that keeps giving rejected bytes is called broken (an
/// honest source needs about 52; 800 rejections in a row have probability 32^-750).
const MAX_DRAWN: usize = 16 * AUTHTICKET_RANDOM_LEN;

/// A new ticket token, `authticket_` + 50 characters of `[a-zA-Z0-9]`, each an unbiased
/// choice, exactly as CubicWeb's `"authticket_" + get_random_secret_key()` makes it with
/// `random.SystemRandom().choice`: Python's `_randbelow(62)` takes `getrandbits(6)`, the
/// top 6 bits of one random byte, and draws again while it is 62 or 63. Here each
/// candidate is the top 6 bits of one byte of `rng`, and exactly as many bytes are
/// requested as candidates are examined, so the same byte stream gives Python's token.
///
/// Fails when `rng` fails, or when it keeps giving bytes that are rejected (a stuck
/// source: more than 800 bytes for one token).
pub fn new_authticket(rng: &mut impl RandomSource) -> Result<String, RandomError> {
    let mut token = String::with_capacity(AUTHTICKET_PREFIX.len() + AUTHTICKET_RANDOM_LEN);
    token.push_str(AUTHTICKET_PREFIX);
    let mut buf = [0u8; AUTHTICKET_RANDOM_LEN];
    let mut produced = 0;
    let mut drawn = 0;
    let result = loop {
        if produced == AUTHTICKET_RANDOM_LEN {
            break Ok(());
        }
        let want = AUTHTICKET_RANDOM_LEN - produced;
        if drawn + want > MAX_DRAWN {
            break Err(RandomError);
        }
        if let Err(e) = rng.fill(&mut buf[..want]) {
            break Err(e);
        }
        drawn += want;
        for &byte in &buf[..want] {
            if let Some(&c) = ALPHABET.get(usize::from(byte >> 2)) {
                token.push(char::from(c));
                produced += 1;
            }
        }
    };
    buf.zeroize();
    match result {
        Ok(()) => Ok(token),
        Err(e) => {
            token.zeroize();
            Err(e)
        }
    }
}

/// True for a token CubicWeb could have drawn: the prefix and 50 ASCII alphanumerics.
pub fn is_authticket(token: &str) -> bool {
    token.strip_prefix(AUTHTICKET_PREFIX).is_some_and(|rest| {
        rest.len() == AUTHTICKET_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_as_python_randbelow() {
        // Bytes 0..=255 in order: candidates 0,0,0,0,1,1,1,1,...; 62 and 63 are rejected.
        let mut next = 0u8;
        let mut rng = |buf: &mut [u8]| {
            for b in buf {
                *b = next;
                next = next.wrapping_add(1);
            }
            Ok(())
        };
        let t = new_authticket(&mut rng).unwrap();
        assert!(is_authticket(&t), "{t}");
        assert_eq!(&t[11..23], "aaaabbbbcccc");
        // 248..=255 map to 62 and 63: skipped, and the draw goes on with exactly the
        // bytes it still needs.
        let mut calls = alloc::vec::Vec::new();
        let mut rng = |buf: &mut [u8]| {
            calls.push(buf.len());
            buf.fill(0xfc);
            if calls.len() > 1 {
                buf.fill(0x04);
            }
            Ok(())
        };
        let t = new_authticket(&mut rng).unwrap();
        assert_eq!(&t[11..], "b".repeat(50));
        assert_eq!(calls, [50, 50]);
    }

    #[test]
    fn a_stuck_or_failing_source_is_an_error() {
        let mut stuck = |buf: &mut [u8]| {
            buf.fill(0xff);
            Ok(())
        };
        assert_eq!(new_authticket(&mut stuck), Err(RandomError));
        let mut failing = |_: &mut [u8]| Err(RandomError);
        assert_eq!(new_authticket(&mut failing), Err(RandomError));
    }

    #[test]
    fn recognises_tokens() {
        assert!(is_authticket(
            "authticket_Zeb0BVCPa4iJlxf7LvZJUOzKlO2uiKAea4TCYLzogPq2NLHZcS"
        ));
        assert!(!is_authticket("authticket_short"));
        assert!(!is_authticket(
            "authticket_Zeb0BVCPa4iJlxf7LvZJUOzKlO2uiKAea4TCYLzogPq2NLHZc-"
        ));
    }
}
