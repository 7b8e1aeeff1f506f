//! The errors of the `authtkt` module: plain enums, `no_std`, with `Display` and
//! `core::error::Error`. Where Pyramid raises an exception (an HTTP 500), the matching
//! Rust operation answers one of these (and `identify` answers "not authenticated").

use core::fmt;

/// Why a remote address cannot be hashed into a ticket (with `include_ip`). Pyramid
/// raises on the first two (`ValueError` from `int()`, `UnicodeEncodeError` for an octet
/// over 255) and would hash other counts of octets, which are refused here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteAddrError {
    /// An address without `:` that is not four dot-separated decimal octets of 1 to 3
    /// digits.
    NotDottedQuad,
    /// An IPv4 octet over 255.
    OctetOutOfRange,
    /// An address with `:` holding a character above U+00FF (Pyramid encodes it as
    /// Latin-1).
    NotLatin1,
    /// An address with `:` longer than 64 bytes (no IPv6 text is).
    TooLong,
}

impl fmt::Display for RemoteAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemoteAddrError::NotDottedQuad => "remote address is not a dotted quad",
            RemoteAddrError::OctetOutOfRange => "remote address has an octet over 255",
            RemoteAddrError::NotLatin1 => "remote address is not Latin-1",
            RemoteAddrError::TooLong => "remote address is too long",
        })
    }
}

impl core::error::Error for RemoteAddrError {}

/// Why a userid field could not be decoded by its `userid_type:` user data. Pyramid's
/// decoders raise on all of these (a 500 for a ticket that carries a valid digest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UseridError {
    /// `userid_type:int` on a field that is not a canonical decimal integer (`0`, or an
    /// optional `-` and digits without a leading zero). Python's `int()` also takes
    /// spaces, `_`, `+` and other Unicode digits; no issuer writes them (a documented
    /// deviation).
    NotAnInteger,
    /// A decimal integer outside the range of `i128`.
    IntegerTooLarge,
    /// `b64unicode` or `b64str` on a field that is not canonical padded standard base64.
    /// Python ignores characters outside the alphabet and non-zero trailing bits; no
    /// issuer writes them (a documented deviation).
    BadBase64,
    /// `b64unicode` (or the legacy `unicode`) on bytes that are not UTF-8.
    NotUtf8,
    /// A decoder applied to a value of the wrong kind, where Python raises `TypeError`:
    /// the legacy `unicode` on text, base64 on an integer (only reachable through
    /// chained `userid_type:` data).
    WrongType,
}

impl fmt::Display for UseridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UseridError::NotAnInteger => "userid_type:int on a value that is not an integer",
            UseridError::IntegerTooLarge => "integer userid out of range",
            UseridError::BadBase64 => "userid is not valid base64",
            UseridError::NotUtf8 => "userid is not UTF-8",
            UseridError::WrongType => "userid_type decoder applied to a value of another type",
        })
    }
}

impl core::error::Error for UseridError {}

/// Why a ticket (a cookie value) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketError {
    /// Longer than [`MAX_TICKET_LEN`](super::MAX_TICKET_LEN) characters once its
    /// surrounding quotes are stripped: no issuer writes one (WebOb refuses to set it).
    TooLong,
    /// Too short to hold the digest and the 8-digit timestamp.
    Truncated,
    /// The 8 characters after the digest are not hex digits (either case). Python's
    /// `int(…, 16)` also takes `0x`, `+`, `-`, `_` and spaces; no issuer writes them (a
    /// documented deviation).
    BadTimestamp,
    /// No `!` after the userid (Pyramid's `BadTicket`).
    MissingSeparator,
    /// The percent-decoded userid is not UTF-8 (Python substitutes U+FFFD and hashes
    /// that; no issuer writes it).
    UseridNotUtf8,
    /// The digest does not match: another secret, algorithm, remote address, or a
    /// tampered value (Pyramid's `BadTicket`).
    BadDigest,
    /// With `include_ip`, the remote address cannot be hashed (Pyramid raises).
    BadRemoteAddr(RemoteAddrError),
    /// The digest matched but the userid's `userid_type:` decoder failed (Pyramid
    /// raises).
    Userid(UseridError),
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketError::TooLong => f.write_str("ticket too long"),
            TicketError::Truncated => f.write_str("ticket too short for its digest and timestamp"),
            TicketError::BadTimestamp => f.write_str("ticket timestamp is not 8 hex digits"),
            TicketError::MissingSeparator => f.write_str("userid is not followed by !"),
            TicketError::UseridNotUtf8 => f.write_str("ticket userid is not UTF-8"),
            TicketError::BadDigest => f.write_str("digest signature is not correct"),
            TicketError::BadRemoteAddr(e) => e.fmt(f),
            TicketError::Userid(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for TicketError {}

impl From<RemoteAddrError> for TicketError {
    fn from(e: RemoteAddrError) -> TicketError {
        TicketError::BadRemoteAddr(e)
    }
}

impl From<UseridError> for TicketError {
    fn from(e: UseridError) -> TicketError {
        TicketError::Userid(e)
    }
}

/// Why `remember` (or a reissue) could not produce a ticket. Pyramid raises
/// `ValueError` (or `UnicodeEncodeError`) on each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RememberError {
    /// A token does not match `^[A-Za-z][A-Za-z0-9+_-]*$` (Pyramid's `Invalid token`);
    /// `index` is its position in the list.
    InvalidToken {
        /// Position of the token in the list given.
        index: usize,
    },
    /// The cookie value would be longer than 4093 characters (WebOb's `Cookie value is
    /// too long to store`).
    ValueTooLong {
        /// The value's length.
        len: usize,
    },
    /// With `include_ip`, the remote address cannot be hashed.
    BadRemoteAddr(RemoteAddrError),
    /// `now` is before 1970 (Pyramid would write `-` into the hex timestamp) or not a
    /// number.
    TimeOutOfRange,
}

impl fmt::Display for RememberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RememberError::InvalidToken { index } => write!(f, "invalid token at position {index}"),
            RememberError::ValueTooLong { len } => {
                write!(f, "cookie value is too long to store ({len} bytes)")
            }
            RememberError::BadRemoteAddr(e) => e.fmt(f),
            RememberError::TimeOutOfRange => f.write_str("time is before 1970 or not a number"),
        }
    }
}

impl core::error::Error for RememberError {}

impl From<RemoteAddrError> for RememberError {
    fn from(e: RemoteAddrError) -> RememberError {
        RememberError::BadRemoteAddr(e)
    }
}

/// An [`AuthTktHelper`](super::AuthTktHelper) configuration that cannot be used, reported
/// when it is built (Pyramid accepts most of these and fails at the first request or
/// login).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The secret is empty (Pyramid accepts it; every ticket would be forgeable).
    EmptySecret,
    /// The cookie name is empty, not an RFC 2616 token, starts with `$`, or is a reserved
    /// attribute name.
    InvalidCookieName,
    /// The path has a byte WebOb would escape (`;`, space, control, non-ASCII...) or is
    /// empty.
    InvalidPath,
    /// The domain has a byte WebOb would escape, or is empty.
    InvalidDomain,
    /// `SameSite` is not `Strict`, `Lax` or `None` in any case (WebOb raises at the first
    /// `remember` or `forget`).
    InvalidSameSite,
    /// `SameSite=None` without `secure` (WebOb raises at the first `remember` or
    /// `forget`).
    SameSiteNoneWithoutSecure,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::EmptySecret => "the AuthTkt secret is empty",
            ConfigError::InvalidCookieName => "invalid cookie name",
            ConfigError::InvalidPath => "invalid cookie path",
            ConfigError::InvalidDomain => "invalid cookie domain",
            ConfigError::InvalidSameSite => "SameSite must be 'Strict', 'Lax' or 'None'",
            ConfigError::SameSiteNoneWithoutSecure => "SameSite=None requires secure",
        })
    }
}

impl core::error::Error for ConfigError {}
