//! The password hashes CubicWeb 5.0.1 accepts in `cw_CWUser.cw_upassword`
//! (`cubicweb/server/utils.py:52-57`: passlib's `CryptContext(["sha512_crypt",
//! CustomMD5Crypt, "des_crypt", "ldap_salted_sha1"])`), told apart as passlib's
//! `identify` does, in the context's order:
//!
//! | scheme | stored as | checked with |
//! |---|---|---|
//! | `sha512_crypt` (what CubicWeb writes) | `$6$rounds=656000$<salt>$<86 chars>` | RustCrypto's `sha-crypt` |
//! | `cubicwebmd5crypt` (before CubicWeb 3.14.7) | `<salt, 0-8 chars>$<22 chars>`: the FreeBSD MD5 crypt, without its `$1$` | RustCrypto's `md-5`, the 1,000 rounds here |
//! | `des_crypt` (older still) | 13 characters | not supported: never verifies |
//! | `ldap_salted_sha1` | `{SSHA}` + base64(SHA-1(password + salt) + salt) | RustCrypto's `sha1` |
//!
//! Deviations, each on the safe side:
//!
//! - An **empty** stored hash accepts any password in CubicWeb (`crypt_password`: "empty
//!   hash, accept any password for backwards compat"); here it accepts none.
//! - `des_crypt` hashes never verify (no maintained crate implements the traditional
//!   salted-DES `crypt(3)`; CubicWeb rehashes them at a Python login).
//! - CubicWeb 5's own `md5crypt` (`cubicweb/md5crypt.py`) adds `pw[0]`, an `int` on
//!   Python 3, to `bytes`: for most password lengths it raises instead of verifying.
//!   Here the algorithm is computed as the Python 2 code that wrote those hashes did.
//! - passlib's `verify_and_update` rehashes deprecated hashes (md5crypt, des_crypt) with
//!   `sha512_crypt` on a successful login; a Rust login leaves the hash as it is.

use alloc::vec::Vec;

use md5::{Digest as _, Md5};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The crypt alphabet of MD5 crypt and passlib's `H64_CHARS`.
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Which scheme a stored hash is, as passlib's `CryptContext.identify` picks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scheme {
    Sha512Crypt,
    CubicWebMd5Crypt,
    DesCrypt,
    LdapSaltedSha1,
}

fn h64(b: u8) -> bool {
    ITOA64.contains(&b)
}

/// The scheme of `hash`, or `None` when no scheme of CubicWeb's context claims it.
pub(super) fn identify(hash: &str) -> Option<Scheme> {
    let b = hash.as_bytes();
    if hash.starts_with("$6$") {
        return Some(Scheme::Sha512Crypt);
    }
    // passlib's parse_mc2(hash, ""): `salt$checksum` (or a bare salt, which has no
    // checksum and so never verifies), a salt of at most 8 H64 characters.
    let mut parts = hash.split('$');
    let salt = parts.next().unwrap_or_default();
    let checksum = parts.next();
    if parts.next().is_none()
        && salt.len() <= 8
        && salt.bytes().all(h64)
        && (checksum.is_some() || !salt.is_empty())
    {
        return Some(Scheme::CubicWebMd5Crypt);
    }
    if b.len() == 13 && b.iter().copied().all(h64) {
        return Some(Scheme::DesCrypt);
    }
    if hash.starts_with("{SSHA}") {
        return Some(Scheme::LdapSaltedSha1);
    }
    None
}

/// True when `password` matches the stored `hash` (see the module docs).
pub(super) fn verify(password: &str, hash: &[u8]) -> bool {
    let Ok(hash) = core::str::from_utf8(hash) else {
        return false;
    };
    match identify(hash) {
        Some(Scheme::Sha512Crypt) => {
            use sha_crypt::PasswordVerifier;
            sha_crypt::ShaCrypt::default()
                .verify_password(password.as_bytes(), hash)
                .is_ok()
        }
        Some(Scheme::CubicWebMd5Crypt) => {
            let Some((salt, checksum)) = hash.split_once('$') else {
                return false;
            };
            let computed = md5_crypt(password.as_bytes(), salt.as_bytes());
            computed.ct_eq(checksum.as_bytes()).into()
        }
        Some(Scheme::LdapSaltedSha1) => ldap_salted_sha1(password.as_bytes(), &hash[6..]),
        Some(Scheme::DesCrypt) | None => false,
    }
}

/// `{SSHA}`'s body: base64 of the 20-byte SHA-1 of `password + salt`, then the salt
/// (passlib: 4 to 16 bytes).
fn ldap_salted_sha1(password: &[u8], body: &str) -> bool {
    let Some(raw) = base64_decode(body) else {
        return false;
    };
    if !(24..=36).contains(&raw.len()) {
        return false;
    }
    let (digest, salt) = raw.split_at(20);
    let mut h = Sha1::new();
    h.update(password);
    h.update(salt);
    let computed: [u8; 20] = h.finalize().into();
    computed.ct_eq(digest).into()
}

/// Standard base64 (with padding), as passlib writes `{SSHA}` hashes.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let body = text.trim_end_matches('=').as_bytes();
    if !text.len().is_multiple_of(4) || text.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The FreeBSD MD5 crypt of `password` with `salt` (at most 8 bytes used, up to a `$`),
/// as CubicWeb's `md5crypt.crypt` computes it: the 22-character checksum only.
pub(super) fn md5_crypt(password: &[u8], salt: &[u8]) -> [u8; 22] {
    const MAGIC: &[u8] = b"$1$";
    let salt = salt.strip_prefix(MAGIC).unwrap_or(salt);
    let salt = salt.split(|&b| b == b'$').next().unwrap_or_default();
    let salt = &salt[..salt.len().min(8)];

    let alternate: [u8; 16] = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into();
    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(MAGIC);
    ctx.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alternate[..n]);
        left -= n;
    }
    let mut i = password.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        i >>= 1;
    }
    let mut fin: [u8; 16] = ctx.finalize().into();
    for round in 0..1000 {
        let mut ctx = Md5::new();
        if round & 1 == 1 {
            ctx.update(password);
        } else {
            ctx.update(fin);
        }
        if round % 3 != 0 {
            ctx.update(salt);
        }
        if round % 7 != 0 {
            ctx.update(password);
        }
        if round & 1 == 1 {
            ctx.update(fin);
        } else {
            ctx.update(password);
        }
        fin = ctx.finalize().into();
    }
    let mut out = [0u8; 22];
    let mut at = 0;
    let mut to64 = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out[at] = ITOA64[(v & 0x3f) as usize];
            v >>= 6;
            at += 1;
        }
    };
    let f = |i: usize| u32::from(fin[i]);
    to64((f(0) << 16) | (f(6) << 8) | f(12), 4);
    to64((f(1) << 16) | (f(7) << 8) | f(13), 4);
    to64((f(2) << 16) | (f(8) << 8) | f(14), 4);
    to64((f(3) << 16) | (f(9) << 8) | f(15), 4);
    to64((f(4) << 16) | (f(10) << 8) | f(5), 4);
    to64(f(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_crypt_matches_passlib() {
        // passlib's md5_crypt and CubicWeb's CustomMD5Crypt (vectors made with them).
        assert_eq!(
            &md5_crypt(b"password", b"saltsalt"),
            b"qjXMvbEw8oaL.CzflDtaK/"
        );
        assert_eq!(&md5_crypt(b"", b""), b"qRPK7m23GJusamGpoGLby/");
        for (hash, password) in [
            ("ab$nOE/gbJSBNZK8ySO8vuj0/", "abc"),
            ("xY.9$JcTVGIagbLS3SK7o8UUVm0", "abcdefg"),
        ] {
            assert_eq!(identify(hash), Some(Scheme::CubicWebMd5Crypt));
            assert!(verify(password, hash.as_bytes()));
            assert!(!verify("abd", hash.as_bytes()));
        }
    }

    #[test]
    fn schemes_are_told_apart_as_passlib_does() {
        assert_eq!(
            identify("$6$rounds=5000$abc$def"),
            Some(Scheme::Sha512Crypt)
        );
        assert_eq!(identify("abJnggxhB/yWI"), Some(Scheme::DesCrypt));
        assert_eq!(identify("{SSHA}abcd"), Some(Scheme::LdapSaltedSha1));
        assert_eq!(identify("$1$abc$def"), None);
        assert_eq!(identify(""), None);
        assert!(!verify("", b""), "an empty hash accepts nothing");
        assert!(!verify("x", b"abJnggxhB/yWI"), "des_crypt is not supported");
    }

    #[test]
    fn ldap_salted_sha1_verifies() {
        // passlib's ldap_salted_sha1.hash("secret", salt=b"salt").
        let hash = b"{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0";
        assert!(verify("secret", hash));
        assert!(!verify("secreT", hash));
        assert!(!verify("secret", b"{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx"));
    }
}
