//! Pyramid's `calculate_digest`: a double hash of the ticket fields, not an HMAC.
//!
//! ```text
//! inner  = H(ip_timestamp ‖ secret ‖ userid ‖ 0x00 ‖ tokens ‖ 0x00 ‖ user_data)   as lowercase hex
//! digest = H(inner_hex ‖ secret)                                                as lowercase hex
//! ```
//!
//! `ip_timestamp` is [`encode_ip_timestamp`]: four IPv4 octets and the timestamp as four
//! big-endian bytes, or, for an address containing `:` (IPv6), the address text followed
//! by the timestamp in decimal.

use alloc::vec::Vec;
use core::fmt;

use super::error::RemoteAddrError;

/// Runs `$body` with `$h` bound to the hasher type of `$alg`.
macro_rules! with_hasher {
    ($alg:expr, $h:ident => $body:expr) => {
        match $alg.0 {
            Alg::Sha224 => {
                type $h = sha2::Sha224;
                $body
            }
            Alg::Sha256 => {
                type $h = sha2::Sha256;
                $body
            }
            Alg::Sha384 => {
                type $h = sha2::Sha384;
                $body
            }
            Alg::Sha512 => {
                type $h = sha2::Sha512;
                $body
            }
            #[cfg(feature = "authtkt-legacy")]
            Alg::Md5 => {
                type $h = md5::Md5;
                $body
            }
            #[cfg(feature = "authtkt-legacy")]
            Alg::Sha1 => {
                type $h = sha1::Sha1;
                $body
            }
        }
    };
}

/// The longest digest of the supported algorithms (sha512), in bytes.
pub const MAX_DIGEST_LEN: usize = 64;

/// The longest digest in hex characters.
pub const MAX_DIGEST_HEX_LEN: usize = 2 * MAX_DIGEST_LEN;

/// The hash algorithm of a ticket's digest (Pyramid's `hashalg`).
///
/// The SHA-2 family is always available: [`HashAlg::SHA512`] (the default of
/// `AuthTktAuthenticationPolicy` on every Pyramid version, and CubicWeb's),
/// [`HashAlg::SHA384`], [`HashAlg::SHA256`], [`HashAlg::SHA224`]. md5 and sha1, which old
/// or hand-made Pyramid apps may still use (the bare `AuthTktCookieHelper` of Pyramid
/// 1.10 defaults to md5), exist only with the cargo feature `authtkt-legacy`, and only
/// through the explicit [`HashAlg::legacy_md5`], [`HashAlg::legacy_sha1`] or
/// [`HashAlg::from_name_allowing_legacy`]: [`HashAlg::from_name`] never returns them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashAlg(Alg);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Alg {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    #[cfg(feature = "authtkt-legacy")]
    Md5,
    #[cfg(feature = "authtkt-legacy")]
    Sha1,
}

impl HashAlg {
    /// `sha224`.
    pub const SHA224: HashAlg = HashAlg(Alg::Sha224);
    /// `sha256`.
    pub const SHA256: HashAlg = HashAlg(Alg::Sha256);
    /// `sha384`.
    pub const SHA384: HashAlg = HashAlg(Alg::Sha384);
    /// `sha512`: Pyramid's and CubicWeb's default.
    pub const SHA512: HashAlg = HashAlg(Alg::Sha512);

    /// The SHA-2 algorithms, the ones [`HashAlg::from_name`] knows.
    pub const SHA2: [HashAlg; 4] = [
        HashAlg::SHA224,
        HashAlg::SHA256,
        HashAlg::SHA384,
        HashAlg::SHA512,
    ];

    /// md5, for tickets of apps that still use it (feature `authtkt-legacy`). md5 is
    /// broken as a hash; the ticket's double hash with a secret is not known to be
    /// forgeable, but do not choose it for anything new.
    #[cfg(feature = "authtkt-legacy")]
    pub const fn legacy_md5() -> HashAlg {
        HashAlg(Alg::Md5)
    }

    /// sha1, for tickets of apps that still use it (feature `authtkt-legacy`).
    #[cfg(feature = "authtkt-legacy")]
    pub const fn legacy_sha1() -> HashAlg {
        HashAlg(Alg::Sha1)
    }

    /// Looks a SHA-2 algorithm up by its `hashlib` name, ignoring ASCII case. md5 and
    /// sha1 are refused here even with the legacy feature (use
    /// [`HashAlg::from_name_allowing_legacy`] to accept them on purpose); so are names
    /// Python would accept that this crate does not implement (`sha3_512`, ...).
    pub fn from_name(name: &str) -> Option<HashAlg> {
        HashAlg::SHA2
            .into_iter()
            .find(|alg| alg.name().eq_ignore_ascii_case(name))
    }

    /// [`HashAlg::from_name`], also accepting `md5` and `sha1` (feature
    /// `authtkt-legacy`): the explicit opt-in for a configuration read from settings.
    #[cfg(feature = "authtkt-legacy")]
    pub fn from_name_allowing_legacy(name: &str) -> Option<HashAlg> {
        HashAlg::from_name(name).or_else(|| {
            [HashAlg::legacy_md5(), HashAlg::legacy_sha1()]
                .into_iter()
                .find(|alg| alg.name().eq_ignore_ascii_case(name))
        })
    }

    /// The `hashlib` name.
    pub fn name(self) -> &'static str {
        match self.0 {
            Alg::Sha224 => "sha224",
            Alg::Sha256 => "sha256",
            Alg::Sha384 => "sha384",
            Alg::Sha512 => "sha512",
            #[cfg(feature = "authtkt-legacy")]
            Alg::Md5 => "md5",
            #[cfg(feature = "authtkt-legacy")]
            Alg::Sha1 => "sha1",
        }
    }

    /// True for md5 and sha1.
    pub fn is_legacy(self) -> bool {
        !HashAlg::SHA2.contains(&self)
    }

    /// The digest size in bytes; a ticket's digest field is twice as many hex characters.
    pub fn digest_len(self) -> usize {
        match self.0 {
            Alg::Sha224 => 28,
            Alg::Sha256 => 32,
            Alg::Sha384 => 48,
            Alg::Sha512 => 64,
            #[cfg(feature = "authtkt-legacy")]
            Alg::Md5 => 16,
            #[cfg(feature = "authtkt-legacy")]
            Alg::Sha1 => 20,
        }
    }

    /// The digest length in hex characters, the length of a ticket's digest field.
    pub fn hex_len(self) -> usize {
        2 * self.digest_len()
    }
}

impl fmt::Debug for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashAlg({})", self.name())
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest in lowercase hex, as Pyramid writes and compares it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexDigest {
    buf: [u8; MAX_DIGEST_HEX_LEN],
    len: usize,
}

impl HexDigest {
    fn from_bytes(bytes: &[u8]) -> HexDigest {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; MAX_DIGEST_HEX_LEN];
        for (pair, &b) in buf.chunks_exact_mut(2).zip(bytes) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0xF)];
        }
        HexDigest {
            buf,
            len: 2 * bytes.len(),
        }
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The hex text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Constant-time comparison with a digest field as it appears in a ticket: the same
    /// length and the same bytes (so an uppercase digest does not match, as in Pyramid,
    /// which compares the hex text).
    pub fn matches(&self, field: &[u8]) -> bool {
        use subtle::ConstantTimeEq as _;
        // The lengths are the algorithm's, not secret.
        if field.len() != self.len {
            return false;
        }
        let diff = self
            .as_bytes()
            .iter()
            .zip(field)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        bool::from(diff.ct_eq(&0))
    }
}

impl fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexDigest({})", self.as_str())
    }
}

impl fmt::Display for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `ip_timestamp` prefix of the inner hash, at most 45 + 20 bytes (the longest IPv6
/// text and a negative 64-bit decimal); kept on the stack.
#[derive(Clone, Copy)]
pub(super) struct IpTimestamp {
    buf: [u8; 96],
    len: usize,
}

impl IpTimestamp {
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Pyramid's `encode_ip_timestamp` and its IPv6 branch, as `calculate_digest` applies
/// them: for an `ip` without `:`, the four octets of the dotted quad and the timestamp
/// reduced to 32 bits (`t & 0xFFFFFFFF`, as Python's masks do for a negative or large
/// `t`), big-endian; for an `ip` with `:`, the address text (Latin-1) followed by the
/// decimal timestamp.
///
/// Refused (Python raises inside `identify`, a 500): a dotted quad that is not four
/// decimal octets of at most 255 (Pyramid would also take other counts of octets and
/// Python's `int()` spellings), and an address over 64 bytes or with a character above
/// U+00FF.
pub fn encode_ip_timestamp(ip: &str, timestamp: i64) -> Result<Vec<u8>, RemoteAddrError> {
    ip_timestamp(ip, timestamp).map(|p| p.as_bytes().to_vec())
}

pub(super) fn ip_timestamp(ip: &str, timestamp: i64) -> Result<IpTimestamp, RemoteAddrError> {
    let mut out = IpTimestamp {
        buf: [0u8; 96],
        len: 0,
    };
    if ip.as_bytes().contains(&b':') {
        if ip.len() > 64 {
            return Err(RemoteAddrError::TooLong);
        }
        for c in ip.chars() {
            let b = u8::try_from(u32::from(c)).map_err(|_| RemoteAddrError::NotLatin1)?;
            out.buf[out.len] = b;
            out.len += 1;
        }
        let mut digits = [0u8; 20];
        let mut n = timestamp.unsigned_abs();
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if timestamp < 0 {
            out.buf[out.len] = b'-';
            out.len += 1;
        }
        let digits = &digits[i..];
        out.buf[out.len..out.len + digits.len()].copy_from_slice(digits);
        out.len += digits.len();
        return Ok(out);
    }
    let mut octets = ip.split('.');
    for slot in out.buf[..4].iter_mut() {
        let part = octets.next().ok_or(RemoteAddrError::NotDottedQuad)?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RemoteAddrError::NotDottedQuad);
        }
        let value: u16 = part
            .bytes()
            .fold(0, |acc, b| acc * 10 + u16::from(b - b'0'));
        *slot = u8::try_from(value).map_err(|_| RemoteAddrError::OctetOutOfRange)?;
    }
    if octets.next().is_some() {
        return Err(RemoteAddrError::NotDottedQuad);
    }
    // `t & 0xFFFFFFFF`: the two's-complement truncation.
    out.buf[4..8].copy_from_slice(&(timestamp as u32).to_be_bytes());
    out.len = 8;
    Ok(out)
}

/// The fields a digest covers, as bytes.
#[derive(Clone, Copy, Debug)]
pub struct DigestInput<'a> {
    /// The remote address, `"0.0.0.0"` unless `include_ip` is set.
    pub ip: &'a str,
    /// The ticket's timestamp, `int(time)`.
    pub timestamp: i64,
    /// The userid field as signed: the *unquoted* text (the decimal or base64 of
    /// `remember`, or whatever a parsed ticket holds).
    pub userid: &'a [u8],
    /// The tokens joined by `,`.
    pub tokens: &'a [u8],
    /// The user data (`userid_type:int`, ...).
    pub user_data: &'a [u8],
}

/// `calculate_digest(ip, timestamp, secret, userid, tokens, user_data, hashalg)`: the
/// lowercase hex of `H(H(ip_timestamp ‖ secret ‖ userid ‖ 0 ‖ tokens ‖ 0 ‖ user_data).hex ‖
/// secret)`. `secret` is the secret's bytes: its UTF-8 for a text secret (not the
/// Latin-1 rule of the session signer).
pub fn calculate_digest(
    alg: HashAlg,
    secret: &[u8],
    input: &DigestInput<'_>,
) -> Result<HexDigest, RemoteAddrError> {
    let prefix = ip_timestamp(input.ip, input.timestamp)?;
    Ok(digest_with_prefix(alg, secret, prefix.as_bytes(), input))
}

/// The inner hex digest (the first of the two hashes), for tests and intermediates.
pub fn inner_digest(
    alg: HashAlg,
    secret: &[u8],
    input: &DigestInput<'_>,
) -> Result<HexDigest, RemoteAddrError> {
    let prefix = ip_timestamp(input.ip, input.timestamp)?;
    Ok(with_hasher!(alg, H => inner::<H>(secret, prefix.as_bytes(), input)))
}

fn inner<H: sha2::Digest>(secret: &[u8], prefix: &[u8], input: &DigestInput<'_>) -> HexDigest {
    let mut h = H::new();
    h.update(prefix);
    h.update(secret);
    h.update(input.userid);
    h.update([0u8]);
    h.update(input.tokens);
    h.update([0u8]);
    h.update(input.user_data);
    HexDigest::from_bytes(&h.finalize())
}

fn double<H: sha2::Digest>(secret: &[u8], prefix: &[u8], input: &DigestInput<'_>) -> HexDigest {
    let inner = inner::<H>(secret, prefix, input);
    let mut h = H::new();
    h.update(inner.as_bytes());
    h.update(secret);
    HexDigest::from_bytes(&h.finalize())
}

pub(super) fn digest_with_prefix(
    alg: HashAlg,
    secret: &[u8],
    prefix: &[u8],
    input: &DigestInput<'_>,
) -> HexDigest {
    with_hasher!(alg, H => double::<H>(secret, prefix, input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_prefix_is_octets_and_big_endian_u32() {
        assert_eq!(
            encode_ip_timestamp("192.0.2.10", 0x6553_f100).unwrap(),
            [192, 0, 2, 10, 0x65, 0x53, 0xf1, 0x00]
        );
        assert_eq!(
            encode_ip_timestamp("0.0.0.0", -1).unwrap(),
            [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            encode_ip_timestamp("0.0.0.0", (1 << 32) + 5).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 5]
        );
        for bad in [
            "1.2.3.256",
            "1.2.3.999",
            "1.2.3",
            "1.2.3.4.5",
            "",
            "a.b.c.d",
            "1..2.3",
            "+1.2.3.4",
            " 1.2.3.4",
            "0001.2.3.4",
        ] {
            assert!(encode_ip_timestamp(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_prefix_is_text_and_decimal() {
        assert_eq!(
            encode_ip_timestamp("::1", 1700000000).unwrap(),
            b"::11700000000"
        );
        assert_eq!(encode_ip_timestamp("::1", -1).unwrap(), b"::1-1");
        assert_eq!(encode_ip_timestamp("::1", 0).unwrap(), b"::10");
        assert_eq!(
            encode_ip_timestamp("::1", i64::MIN).unwrap(),
            b"::1-9223372036854775808"
        );
        assert_eq!(encode_ip_timestamp("\u{e9}:", 1).unwrap(), b"\xe9:1");
        assert_eq!(
            encode_ip_timestamp("\u{20ac}:", 1),
            Err(RemoteAddrError::NotLatin1)
        );
        let long = alloc::format!("{}:", "a".repeat(64));
        assert_eq!(encode_ip_timestamp(&long, 1), Err(RemoteAddrError::TooLong));
        assert_eq!(
            encode_ip_timestamp("1.2.3.256", 1),
            Err(RemoteAddrError::OctetOutOfRange)
        );
        assert_eq!(
            encode_ip_timestamp("1.2.3", 1),
            Err(RemoteAddrError::NotDottedQuad)
        );
    }

    #[test]
    fn hex_digest_compares_case_sensitively() {
        let d = HexDigest::from_bytes(&[0xab, 0x01]);
        assert_eq!(d.as_str(), "ab01");
        assert!(d.matches(b"ab01"));
        assert!(!d.matches(b"AB01"));
        assert!(!d.matches(b"ab0"));
        assert!(!d.matches(b"ab011"));
    }

    #[test]
    fn names() {
        assert_eq!(HashAlg::from_name("SHA512"), Some(HashAlg::SHA512));
        assert_eq!(HashAlg::from_name("md5"), None);
        assert_eq!(HashAlg::from_name("sha1"), None);
        assert_eq!(HashAlg::from_name("nope"), None);
        for alg in HashAlg::SHA2 {
            assert!(!alg.is_legacy());
            assert_eq!(HashAlg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(alloc::format!("{:?}", HashAlg::SHA256), "HashAlg(sha256)");
    }

    #[cfg(feature = "authtkt-legacy")]
    #[test]
    fn legacy_names_need_the_explicit_lookup() {
        assert_eq!(
            HashAlg::from_name_allowing_legacy("MD5"),
            Some(HashAlg::legacy_md5())
        );
        assert_eq!(
            HashAlg::from_name_allowing_legacy("sha1"),
            Some(HashAlg::legacy_sha1())
        );
        assert!(HashAlg::legacy_md5().is_legacy());
        assert_eq!(HashAlg::legacy_md5().hex_len(), 32);
    }
}
