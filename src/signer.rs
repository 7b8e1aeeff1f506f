//! WebOb `SignedSerializer`, byte for byte, plus a keyring for secret rotation.
//!
//! A signed value is `urlsafe_b64encode(HMAC(salt ‖ secret, payload) ‖ payload)` with
//! every trailing `=` removed. The HMAC key's inner and outer states are computed once,
//! when a [`Keyring`] is built; signing and verifying only clone them.
//!
//! Verification is strict where WebOb is lenient (see the crate docs, "Deviations"): the
//! value must be urlsafe base64, padded correctly or not at all, with canonical trailing
//! bits. The MAC is compared in constant time before any byte of the payload is looked at.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::encoding::base64url;
use crate::error::{ConfigError, VerifyError};

/// Longest signed value (in characters) that [`Keyring::verify`] will look at.
///
/// Longer inputs are refused before any decoding or MAC work. Pyramid never writes a
/// cookie value longer than 4064 characters, so 4096 leaves room for explicit padding.
pub const MAX_SIGNED_VALUE_LEN: usize = 4096;

/// Largest decoded length of a value of [`MAX_SIGNED_VALUE_LEN`] characters.
pub const MAX_DECODED_LEN: usize = MAX_SIGNED_VALUE_LEN / 4 * 3;

/// Longest digest of the supported algorithms (SHA-512), in bytes.
pub const MAX_DIGEST_LEN: usize = 64;

/// The hash algorithms WebOb's `hashalg` may name that this crate supports: SHA-2 only.
///
/// WebOb accepts any `hashlib` name; md5, sha1, sha3, blake2 and shake are refused here
/// when the configuration is built (a documented deviation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlg {
    /// `sha224`, 28-byte digest.
    Sha224,
    /// `sha256`, 32-byte digest.
    Sha256,
    /// `sha384`, 48-byte digest.
    Sha384,
    /// `sha512`, 64-byte digest; Pyramid's default.
    Sha512,
    /// `sha512_224`, 28-byte digest.
    Sha512_224,
    /// `sha512_256`, 32-byte digest.
    Sha512_256,
}

impl HashAlg {
    /// Every supported algorithm.
    pub const ALL: [HashAlg; 6] = [
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
        HashAlg::Sha512_224,
        HashAlg::Sha512_256,
    ];

    /// Looks an algorithm up by its `hashlib` name, ignoring ASCII case (`"SHA512"` works).
    pub fn from_name(name: &str) -> Result<HashAlg, ConfigError> {
        HashAlg::ALL
            .into_iter()
            .find(|alg| alg.name().eq_ignore_ascii_case(name))
            .ok_or(ConfigError::UnsupportedHashAlg)
    }

    /// The `hashlib` name, as Pyramid spells it.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha224 => "sha224",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
            HashAlg::Sha512_224 => "sha512_224",
            HashAlg::Sha512_256 => "sha512_256",
        }
    }

    /// Digest size in bytes: where WebOb splits the decoded value into signature and payload.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha224 | HashAlg::Sha512_224 => 28,
            HashAlg::Sha256 | HashAlg::Sha512_256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Builds the HMAC key from a salt and a secret given as text, with WebOb's rule: both are
/// encoded as Latin-1 when every character of *both* fits in Latin-1, otherwise both are
/// encoded as UTF-8.
pub fn salted_secret(salt: &str, secret: &str) -> Vec<u8> {
    let latin1 = salt
        .chars()
        .chain(secret.chars())
        .all(|c| (c as u32) <= 0xFF);
    let mut key = Vec::with_capacity(salt.len() + secret.len());
    for part in [salt, secret] {
        if latin1 {
            // Every char is at most U+00FF here, so the cast keeps its value.
            key.extend(part.chars().map(|c| c as u8));
        } else {
            key.extend_from_slice(part.as_bytes());
        }
    }
    key
}

/// Decodes a signed value's base64 into `buf` (at least [`MAX_DECODED_LEN`] bytes) and
/// returns the decoded length.
///
/// Strict: only the urlsafe alphabet, either no padding or exactly the right padding,
/// canonical trailing bits, at most [`MAX_SIGNED_VALUE_LEN`] characters.
pub fn decode_value(value: &[u8], buf: &mut [u8]) -> Result<usize, VerifyError> {
    if value.len() > MAX_SIGNED_VALUE_LEN {
        return Err(VerifyError::TooLong);
    }
    base64url::decode_into(value, buf).map_err(|_| VerifyError::BadBase64)
}

/// A precomputed HMAC state for one key.
#[derive(Clone)]
enum MacState {
    Sha224(Hmac<sha2::Sha224>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
    Sha512(Hmac<sha2::Sha512>),
    Sha512_224(Hmac<sha2::Sha512_224>),
    Sha512_256(Hmac<sha2::Sha512_256>),
}

fn keyed<M: KeyInit>(key: &[u8]) -> M {
    M::new_from_slice(key).expect("HMAC accepts keys of any length")
}

impl MacState {
    fn new(alg: HashAlg, key: &[u8]) -> MacState {
        match alg {
            HashAlg::Sha224 => MacState::Sha224(keyed(key)),
            HashAlg::Sha256 => MacState::Sha256(keyed(key)),
            HashAlg::Sha384 => MacState::Sha384(keyed(key)),
            HashAlg::Sha512 => MacState::Sha512(keyed(key)),
            HashAlg::Sha512_224 => MacState::Sha512_224(keyed(key)),
            HashAlg::Sha512_256 => MacState::Sha512_256(keyed(key)),
        }
    }

    /// Writes the tag of `payload` into `out[..digest_len]` and returns its length.
    fn tag(&self, payload: &[u8], out: &mut [u8; MAX_DIGEST_LEN]) -> usize {
        macro_rules! run {
            ($mac:expr) => {{
                let mut mac = $mac.clone();
                mac.update(payload);
                let tag = mac.finalize().into_bytes();
                out[..tag.len()].copy_from_slice(&tag);
                tag.len()
            }};
        }
        match self {
            MacState::Sha224(m) => run!(m),
            MacState::Sha256(m) => run!(m),
            MacState::Sha384(m) => run!(m),
            MacState::Sha512(m) => run!(m),
            MacState::Sha512_224(m) => run!(m),
            MacState::Sha512_256(m) => run!(m),
        }
    }
}

/// One or more signing keys sharing an algorithm and salt.
///
/// The first key signs; every key verifies, so a secret can be rotated without logging
/// anyone out: put the new secret first and keep the old one until its cookies expire.
/// [`Verified::key_index`] says which key matched so the caller can re-sign with the first.
///
/// `Debug` never shows key material; the HMAC states are zeroized when dropped.
#[derive(Clone)]
pub struct Keyring {
    alg: HashAlg,
    keys: Vec<MacState>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("alg", &self.alg)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// A successfully verified signed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified<'a> {
    /// The signed payload bytes, exactly as they were signed.
    pub payload: &'a [u8],
    /// Index of the key that matched; 0 is the signing key. Anything else means the value
    /// was signed with an older secret and should be re-signed.
    pub key_index: usize,
}

impl Keyring {
    /// Builds a keyring from text secrets and a text salt, applying WebOb's
    /// Latin-1-else-UTF-8 rule to each `salt ‖ secret` pair.
    ///
    /// Fails on an empty list, an empty secret, or the same secret twice.
    pub fn new(alg: HashAlg, salt: &str, secrets: &[&str]) -> Result<Keyring, ConfigError> {
        if secrets.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        for (i, secret) in secrets.iter().enumerate() {
            if secret.is_empty() {
                return Err(ConfigError::EmptySecret);
            }
            if secrets[..i].contains(secret) {
                return Err(ConfigError::DuplicateSecret);
            }
        }
        let keys = secrets
            .iter()
            // The salted key is wiped as soon as the HMAC state holds it.
            .map(|secret| MacState::new(alg, &zeroize::Zeroizing::new(salted_secret(salt, secret))))
            .collect();
        Ok(Keyring { alg, keys })
    }

    /// Builds a keyring from raw HMAC keys (already `salt ‖ secret`), for secrets that are
    /// bytes rather than text. Fails on an empty list, an empty key, or a repeated key.
    pub fn from_keys(alg: HashAlg, keys: &[&[u8]]) -> Result<Keyring, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        for (i, key) in keys.iter().enumerate() {
            if key.is_empty() {
                return Err(ConfigError::EmptySecret);
            }
            if keys[..i].contains(key) {
                return Err(ConfigError::DuplicateSecret);
            }
        }
        let keys = keys.iter().map(|key| MacState::new(alg, key)).collect();
        Ok(Keyring { alg, keys })
    }

    /// The hash algorithm.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Number of keys (the signing key plus the verify-only ones).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a keyring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Signs `payload` with the first key and appends the cookie value to `out`.
    pub fn sign_into(&self, payload: &[u8], out: &mut String) {
        let mut bytes = core::mem::take(out).into_bytes();
        self.append_signed(payload, &mut bytes);
        *out = base64url::ascii_string(bytes);
    }

    /// Signs `payload` with the first key and returns the cookie value.
    pub fn sign(&self, payload: &[u8]) -> String {
        let mut out = Vec::with_capacity(base64url::encoded_len(
            self.alg.digest_len() + payload.len(),
        ));
        self.append_signed(payload, &mut out);
        base64url::ascii_string(out)
    }

    /// Appends the base64 of `tag || payload`, encoded straight from the payload's
    /// buffer: the tag and the payload's first bytes are copied to fill whole 12-byte
    /// blocks of the encoder, the rest is encoded in place.
    fn append_signed(&self, payload: &[u8], out: &mut Vec<u8>) {
        let mut tag = [0u8; MAX_DIGEST_LEN];
        let n = self.keys[0].tag(payload, &mut tag);
        let take = ((12 - n % 12) % 12).min(payload.len());
        let mut head = [0u8; MAX_DIGEST_LEN + 12];
        head[..n].copy_from_slice(&tag[..n]);
        head[n..n + take].copy_from_slice(&payload[..take]);
        out.reserve(base64url::encoded_len(n + payload.len()));
        base64url::encode_into(&head[..n + take], out);
        base64url::encode_into(&payload[take..], out);
    }

    /// Verifies a signed value, decoding it into `buf`, and returns the payload.
    ///
    /// `buf` must hold at least [`MAX_DECODED_LEN`] bytes; a stack array works, so the
    /// reject path allocates nothing. Every key is tried, in constant time per key.
    pub fn verify_in<'b>(
        &self,
        value: &[u8],
        buf: &'b mut [u8],
    ) -> Result<Verified<'b>, VerifyError> {
        let n = decode_value(value, buf)?;
        let digest_len = self.alg.digest_len();
        if n < digest_len {
            return Err(VerifyError::BadSignature);
        }
        let (sig, payload) = buf[..n].split_at(digest_len);
        let mut tag = [0u8; MAX_DIGEST_LEN];
        let mut matched = None;
        for (index, key) in self.keys.iter().enumerate() {
            let len = key.tag(payload, &mut tag);
            if tags_equal(&tag[..len], sig) && matched.is_none() {
                matched = Some(index);
            }
        }
        match matched {
            Some(key_index) => Ok(Verified { payload, key_index }),
            None => Err(VerifyError::BadSignature),
        }
    }

    /// Verifies a signed value and hands the result to `f`, decoding into a buffer sized
    /// for the value: on the stack for values up to 1024 characters (so rejecting those
    /// allocates nothing), on the heap above, without clearing 3 KiB for a small cookie.
    pub fn with_verified<R>(
        &self,
        value: &[u8],
        f: impl FnOnce(Result<Verified<'_>, VerifyError>) -> R,
    ) -> R {
        const SMALL: usize = 768;
        if value.len() > MAX_SIGNED_VALUE_LEN {
            return f(Err(VerifyError::TooLong));
        }
        let needed = value.len().div_ceil(4) * 3;
        if needed <= SMALL {
            let mut buf = [0u8; SMALL];
            f(self.verify_in(value, &mut buf[..needed]))
        } else {
            let mut buf = alloc::vec![0u8; needed];
            f(self.verify_in(value, &mut buf))
        }
    }

    /// Verifies a signed value and returns an owned copy of the payload and the index of
    /// the key that matched.
    pub fn verify(&self, value: &[u8]) -> Result<(Vec<u8>, usize), VerifyError> {
        self.with_verified(value, |r| r.map(|v| (v.payload.to_vec(), v.key_index)))
    }
}

/// Constant-time tag comparison: every byte's difference is OR-ed together without a
/// branch, then one `subtle` comparison of the result (instead of one per byte).
fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    // The lengths are the algorithm's digest length, not secret.
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn tags_compare_every_byte() {
        let tag = [0x5Au8; MAX_DIGEST_LEN];
        assert!(tags_equal(&tag, &tag));
        assert!(!tags_equal(&tag, &tag[..63]));
        for i in 0..tag.len() {
            for flip in [1u8, 0x80, 0xFF] {
                let mut other = tag;
                other[i] ^= flip;
                assert!(!tags_equal(&tag, &other), "{i} {flip}");
            }
        }
    }

    #[test]
    fn hash_names_are_case_insensitive_and_sha2_only() {
        assert_eq!(HashAlg::from_name("SHA512"), Ok(HashAlg::Sha512));
        assert_eq!(HashAlg::from_name("sha512_256"), Ok(HashAlg::Sha512_256));
        for bad in [
            "md5",
            "sha1",
            "sha3_512",
            "blake2b",
            "shake_128",
            "",
            "sha-512",
        ] {
            assert_eq!(
                HashAlg::from_name(bad),
                Err(ConfigError::UnsupportedHashAlg)
            );
        }
    }

    #[test]
    fn key_encoding_follows_webob() {
        assert_eq!(salted_secret("s.", "café"), b"s.caf\xe9".to_vec());
        assert_eq!(
            salted_secret("salt\u{20ac}.", "café"),
            "salt\u{20ac}.café".as_bytes()
        );
        assert_eq!(salted_secret("", "k"), b"k".to_vec());
    }

    #[test]
    fn sign_matches_plain_encoding_for_every_tag_length() {
        for alg in HashAlg::ALL {
            let ring = Keyring::new(alg, "salt.", &["k"]).unwrap();
            for len in 0..8 {
                let payload = vec![b'x'; len];
                let value = ring.sign(&payload);
                let mut buf = [0u8; MAX_DECODED_LEN];
                let n = decode_value(value.as_bytes(), &mut buf).unwrap();
                assert_eq!(&buf[alg.digest_len()..n], &payload[..]);
                assert_eq!(ring.verify(value.as_bytes()).unwrap(), (payload, 0));
            }
        }
    }

    #[test]
    fn keyring_rejects_bad_secret_lists() {
        assert_eq!(
            Keyring::new(HashAlg::Sha512, "s", &[]).unwrap_err(),
            ConfigError::NoSecret
        );
        assert_eq!(
            Keyring::new(HashAlg::Sha512, "s", &[""]).unwrap_err(),
            ConfigError::EmptySecret
        );
        assert_eq!(
            Keyring::new(HashAlg::Sha512, "s", &["a", "a"]).unwrap_err(),
            ConfigError::DuplicateSecret
        );
    }

    #[test]
    fn rotation_reports_the_matching_key() {
        let old = Keyring::new(HashAlg::Sha512, "s", &["old"]).unwrap();
        let both = Keyring::new(HashAlg::Sha512, "s", &["new", "old"]).unwrap();
        let value = old.sign(b"[1, 2, {}]");
        assert_eq!(both.verify(value.as_bytes()).unwrap().1, 1);
        let fresh = both.sign(b"[1, 2, {}]");
        assert_eq!(both.verify(fresh.as_bytes()).unwrap().1, 0);
        assert_eq!(old.verify(fresh.as_bytes()), Err(VerifyError::BadSignature));
    }

    #[test]
    fn debug_does_not_leak_keys() {
        let ring = Keyring::new(HashAlg::Sha512, "salt", &["hunter2"]).unwrap();
        let shown = alloc::format!("{ring:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Sha512"));
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let ring = Keyring::new(HashAlg::Sha512, "s", &["k"]).unwrap();
        let long = vec![b'!'; MAX_SIGNED_VALUE_LEN + 1];
        assert_eq!(ring.verify(&long), Err(VerifyError::TooLong));
    }
}
