//! The id cookie of the legacy `pyramid_redis_sessions` (the CubicWeb docs' Redis example),
//! read so that a Rust service taking over such a deployment logs nobody out (feature
//! `pickle`).
//!
//! The value is Pyramid 1.x's `signed_serialize(session_id, secret)`: the lowercase hex
//! HMAC-SHA1 of the pickled id (40 characters; the key is the secret alone, no salt, in
//! Latin-1 when it fits, else UTF-8, as Pyramid's `bytes_`), then the standard base64
//! (with padding) of `pickle.dumps(session_id, HIGHEST_PROTOCOL)`. Reading is strict
//! where Python is lenient: only the standard alphabet with exact padding (Python's
//! `b64decode` skips stray characters), and the pickle must hold a `str` id that
//! [`SessionId::parse`] accepts (`pyramid_redis_sessions` makes 64 hex digits, often
//! after a `session:` prefix).
//!
//! Give it to [`ServerConfig::with_legacy_cookie`](super::ServerConfig::with_legacy_cookie):
//! a request whose cookie is in this format is served the session under that id, and the
//! response re-sends the cookie in the configuration's own format.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::id::SessionId;
use crate::pickle::{self, Limits, PyValue};

/// The protocol Pyramid 1.10's `signed_serialize` pickles with (`HIGHEST_PROTOCOL`).
const PROTOCOL: u8 = 5;

/// Longest legacy cookie read: a 200-character id pickles to about 215 bytes.
const MAX_VALUE_LEN: usize = 40 + 400;

/// The `pyramid_redis_sessions` id cookie's key. `Debug` does not show it.
#[derive(Clone)]
pub struct LegacyRedisCookie {
    key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for LegacyRedisCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LegacyRedisCookie(..)")
    }
}

impl LegacyRedisCookie {
    /// The cookie of `redis.sessions.secret` = `secret`.
    pub fn new(secret: &str) -> LegacyRedisCookie {
        LegacyRedisCookie {
            key: Zeroizing::new(crate::signer::salted_secret("", secret)),
        }
    }

    fn mac(&self, data: &[u8]) -> [u8; 20] {
        let mut mac =
            <Hmac<Sha1> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The cookie value `pyramid_redis_sessions` sets for `id`, byte for byte.
    pub fn encode(&self, id: &SessionId) -> String {
        let pickled = pickle::encode(&PyValue::str(id.as_str()), PROTOCOL)
            .expect("a str pickles at protocol 5");
        let mut out = String::with_capacity(40 + pickled.len() * 4 / 3 + 4);
        crate::encoding::hex::push_hex(&self.mac(&pickled), &mut out);
        let mut b64 = Vec::new();
        crate::base64url::encode_into(&pickled, &mut b64);
        for c in b64 {
            out.push(match c {
                b'-' => '+',
                b'_' => '/',
                c => char::from(c),
            });
        }
        while !out.len().is_multiple_of(4) {
            out.push('=');
        }
        out
    }

    /// The session id of a legacy cookie value; `None` when it is not one (bad length,
    /// hex, base64 or signature, or a pickle that is not an id).
    pub fn decode(&self, value: &[u8]) -> Option<SessionId> {
        if value.len() <= 40 || value.len() > MAX_VALUE_LEN {
            return None;
        }
        let (sig, b64) = value.split_at(40);
        let sig = crate::encoding::hex::decode_hex(core::str::from_utf8(sig).ok()?)?;
        // Standard base64, padded: map to the urlsafe alphabet and decode strictly.
        if !b64.len().is_multiple_of(4) || b64.iter().any(|c| *c == b'-' || *c == b'_') {
            return None;
        }
        let urlsafe: Vec<u8> = b64
            .iter()
            .map(|c| match c {
                b'+' => b'-',
                b'/' => b'_',
                c => *c,
            })
            .collect();
        let mut pickled = alloc::vec![0u8; urlsafe.len() / 4 * 3];
        let n = crate::base64url::decode_into(&urlsafe, &mut pickled).ok()?;
        pickled.truncate(n);
        if !bool::from(self.mac(&pickled).ct_eq(sig.as_slice())) {
            return None;
        }
        let limits = Limits {
            max_input: 512,
            max_depth: 2,
            ..Limits::default()
        };
        match pickle::decode(&pickled, &limits).ok()? {
            PyValue::Str(id) => SessionId::parse(id.as_str()?),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_cookie_round_trips_and_refuses_forgeries() {
        let cookie = LegacyRedisCookie::new("s3cret");
        let id = SessionId::parse(
            "session:3f1c1f6e8a0b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d",
        )
        .unwrap();
        let value = cookie.encode(&id);
        assert_eq!(&value[40..], {
            // `base64.b64encode(pickle.dumps(id, 5))`, padded, standard alphabet.
            let p = pickle::encode(&PyValue::str(id.as_str()), 5).unwrap();
            let mut b = Vec::new();
            crate::base64url::encode_into(&p, &mut b);
            let mut s: String = b
                .iter()
                .map(|c| match c {
                    b'-' => '+',
                    b'_' => '/',
                    c => char::from(*c),
                })
                .collect();
            while !s.len().is_multiple_of(4) {
                s.push('=');
            }
            s
        });
        assert_eq!(cookie.decode(value.as_bytes()), Some(id.clone()));
        assert_eq!(
            LegacyRedisCookie::new("other").decode(value.as_bytes()),
            None
        );
        let mut bad = value.clone().into_bytes();
        bad[3] = if bad[3] == b'0' { b'1' } else { b'0' };
        assert_eq!(cookie.decode(&bad), None);
        for junk in [&b""[..], b"abc", &[b'a'; 41], &[b'0'; 600]] {
            assert_eq!(cookie.decode(junk), None);
        }
        assert_eq!(alloc::format!("{cookie:?}"), "LegacyRedisCookie(..)");
    }
}
