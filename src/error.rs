//! Error types, one enum per stage. All are `no_std`, `Copy`, and implement `Display`
//! and `core::error::Error`.

use alloc::string::{String, ToString};
use core::fmt;

/// A configuration that cannot be used, reported when it is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret was given.
    NoSecret,
    /// A secret is empty.
    EmptySecret,
    /// The same secret appears twice in a keyring.
    DuplicateSecret,
    /// `hashalg` is not one of sha224, sha256, sha384, sha512, sha512_224, sha512_256.
    UnsupportedHashAlg,
    /// The cookie name is empty, not an RFC 2616 token, starts with `$`, or is a reserved
    /// attribute name (`path`, `domain`, `expires`, ...).
    InvalidCookieName,
    /// The path contains a byte that would need quoting (`;`, space, CTL, non-ASCII, ...).
    InvalidPath,
    /// The domain contains a byte that would need quoting, or is empty.
    InvalidDomain,
    /// `SameSite` is not `Strict`, `Lax` or `None` (any case).
    InvalidSameSite,
    /// `SameSite=None` without `Secure`: browsers drop such cookies.
    SameSiteNoneWithoutSecure,
    /// `Partitioned` without `Secure`: browsers drop such cookies.
    PartitionedWithoutSecure,
    /// A `__Secure-` or `__Host-` cookie name without the attributes its prefix requires
    /// (`Secure`; for `__Host-` also `Path=/` and no `Domain`).
    CookiePrefixViolated,
    /// A negative idle timeout, reissue time, lifetime or max-age.
    NegativeDuration,
    /// A number that is not an integer (settings are read as Pyramid's `int()` does).
    InvalidNumber,
    /// A boolean setting that is not yes/no/true/false/on/off/1/0.
    InvalidBool,
    /// Server mode without an idle timeout or an absolute lifetime: records would never
    /// expire.
    NoExpiry,
    /// Server mode with a reissue time not below the idle timeout: the cookie would only
    /// be re-sent once it had already expired, logging every active user out.
    ReissueNotBelowTimeout,
    /// The settings select a session factory this crate cannot speak
    /// (`pyramid_redis_sessions`' pickled `signed_serialize` id cookie).
    UnsupportedSessionFactory,
    /// The settings name secrets but configure no session factory (a CubicWeb 4.0/4.1
    /// `cubicweb.includes` without a session include, or `cubicweb.defaults = no` and no
    /// session include).
    NoSessionFactory,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::NoSecret => "no secret configured",
            ConfigError::EmptySecret => "a secret is empty",
            ConfigError::DuplicateSecret => "the same secret is listed twice",
            ConfigError::UnsupportedHashAlg => {
                "unsupported hashalg (use sha224, sha256, sha384, sha512, sha512_224 or sha512_256)"
            }
            ConfigError::InvalidCookieName => "invalid cookie name",
            ConfigError::InvalidPath => "invalid cookie path",
            ConfigError::InvalidDomain => "invalid cookie domain",
            ConfigError::InvalidSameSite => "SameSite must be 'Strict', 'Lax' or 'None'",
            ConfigError::SameSiteNoneWithoutSecure => "SameSite=None requires Secure",
            ConfigError::PartitionedWithoutSecure => "Partitioned requires Secure",
            ConfigError::CookiePrefixViolated => {
                "__Secure- needs Secure; __Host- needs Secure, Path=/ and no Domain"
            }
            ConfigError::NegativeDuration => "durations must not be negative",
            ConfigError::InvalidNumber => "not an integer",
            ConfigError::InvalidBool => "not a boolean (yes/no/true/false/on/off/1/0)",
            ConfigError::NoExpiry => "server-side sessions need a timeout or a max lifetime",
            ConfigError::ReissueNotBelowTimeout => {
                "server-side sessions need a reissue time below the timeout"
            }
            ConfigError::UnsupportedSessionFactory => {
                "the configured session factory (pyramid_redis_sessions) is not supported"
            }
            ConfigError::NoSessionFactory => "the settings configure no session factory",
        })
    }
}

/// Why a signed value did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Longer than [`crate::signer::MAX_SIGNED_VALUE_LEN`]; refused before decoding.
    TooLong,
    /// Not strict urlsafe base64.
    BadBase64,
    /// The MAC does not match any key (or the value is too short to hold one).
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyError::TooLong => "signed value too long",
            VerifyError::BadBase64 => "signed value is not valid urlsafe base64",
            VerifyError::BadSignature => "invalid signature",
        })
    }
}

/// Why a value is not strict urlsafe base64 ([`crate::base64url::decode_into`]; the
/// signer reports every case as [`VerifyError::BadBase64`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Base64Error {
    /// A character outside the alphabet, or `=` anywhere but at the end of the last quad.
    InvalidCharacter,
    /// One character left over in the last quad (no whole byte).
    InvalidLength,
    /// The last character carries bits that no encoder would set.
    TrailingBits,
    /// The output buffer is shorter than the decoded value.
    BufferTooSmall,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Base64Error::InvalidCharacter => "character outside the urlsafe base64 alphabet",
            Base64Error::InvalidLength => "base64 length leaves a lone character",
            Base64Error::TrailingBits => "non-zero trailing bits in the last base64 character",
            Base64Error::BufferTooSmall => "output buffer too small for the decoded value",
        })
    }
}

/// Why a verified payload is not a usable session frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Not valid JSON (or not UTF-8, or trailing data).
    Syntax,
    /// Valid JSON but not `[number, number, object]`.
    Shape,
    /// A timestamp is not finite (NaN or infinite).
    NonFiniteTimestamp,
    /// Postcard: unknown format version byte.
    Version,
    /// Postcard: bytes left after the frame.
    TrailingBytes,
    /// The value cannot be encoded (a non-finite float, or a serializer failure).
    Encode,
    /// The pickle itself was refused (pickled frames, feature `pickle`).
    #[cfg(feature = "pickle")]
    Pickle(crate::pickle::PickleError),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            FrameError::Syntax => "payload is not valid JSON",
            FrameError::Shape => "payload is not [accessed, created, {state}]",
            FrameError::NonFiniteTimestamp => "payload timestamp is not finite",
            FrameError::Version => "unknown frame version",
            FrameError::TrailingBytes => "trailing bytes after frame",
            FrameError::Encode => "value cannot be encoded",
            #[cfg(feature = "pickle")]
            FrameError::Pickle(e) => return write!(f, "payload is not a usable pickle: {e}"),
        };
        f.write_str(text)
    }
}

/// A typed session value that did not convert: stored data that is not a `T`
/// (`get_as::<T>`), or a `T` that serde could not write as JSON (`insert_as`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    /// The session key.
    pub key: alloc::string::String,
    /// True when reading (the stored value is not a `T`), false when writing.
    pub reading: bool,
    /// serde's message.
    pub message: alloc::string::String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.reading { "read" } else { "write" };
        write!(
            f,
            "session value {:?}: cannot {verb} it: {}",
            self.key, self.message
        )
    }
}

impl core::error::Error for ValueError {}

/// Why a session could not produce its `Set-Cookie` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinishError {
    /// The signed value would be longer than 4064 characters (Pyramid's limit), or the
    /// cookie's `name=value` longer than 4096 bytes (browsers silently drop such a
    /// cookie); no cookie is emitted, the caller decides what to do (Pyramid answers 500).
    CookieTooLong {
        /// Length that was refused: of the value when it is over 4064 characters,
        /// otherwise of `name=value`.
        len: usize,
        /// The limit exceeded: [`crate::cookie::MAX_COOKIE_VALUE_LEN`] for the value,
        /// [`crate::cookie::MAX_COOKIE_PAIR_LEN`] for `name=value`.
        limit: usize,
    },
    /// The session state cannot be encoded (a non-finite float).
    Encode,
}

impl fmt::Display for FinishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinishError::CookieTooLong { len, limit }
                if *limit == crate::cookie::MAX_COOKIE_VALUE_LEN =>
            {
                write!(f, "cookie value is too long to store ({len} bytes)")
            }
            FinishError::CookieTooLong { len, limit } => write!(
                f,
                "cookie is too long to store ({len} bytes of name=value, browsers keep at most {limit})"
            ),
            FinishError::Encode => f.write_str("session state cannot be encoded"),
        }
    }
}

/// A caller-supplied random source failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("random source failed")
    }
}

impl core::error::Error for ConfigError {}
impl core::error::Error for VerifyError {}
impl core::error::Error for FrameError {}
impl core::error::Error for FinishError {}
impl core::error::Error for RandomError {}

/// What went wrong in a store, as a category a framework can map (e.g. to 503).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or refused the connection.
    Unavailable,
    /// The call did not finish in time.
    Timeout,
    /// The store answered something that is not a valid record.
    Corrupt,
    /// Anything else.
    Other,
}

/// A store failure: a category and a message for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    /// The category.
    pub kind: StoreErrorKind,
    /// A human-readable description (never contains session ids).
    pub message: String,
}

impl StoreError {
    /// Builds an error of `kind` with a message.
    pub fn new(kind: StoreErrorKind, message: impl fmt::Display) -> StoreError {
        StoreError {
            kind,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store {:?}: {}", self.kind, self.message)
    }
}

impl core::error::Error for StoreError {}

/// Why a server-mode request could not finish. No cookie is sent with any of these.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// The store failed.
    Store(StoreError),
    /// The record was removed (e.g. a concurrent logout) while this request changed it;
    /// the change is dropped rather than resurrecting the session.
    Removed,
    /// Compare-and-set kept losing (or ids kept colliding) after the retry limit or the
    /// retry time budget.
    Contended,
    /// An earlier store operation of this request failed: nothing more is written for
    /// it and no cookie is sent, so an error answer never hides a committed write.
    Poisoned,
    /// The plan was misused: a store answered an operation with another's result, or a
    /// driver asked for the cookie before the writes finished. A bug in the store or the
    /// driver, not a store outage.
    Protocol(&'static str),
    /// The random source failed (no id could be made).
    Random,
    /// The cookie could not be produced.
    Finish(FinishError),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Store(e) => e.fmt(f),
            ServerError::Removed => f.write_str("session was removed concurrently; change dropped"),
            ServerError::Contended => f.write_str("session store contention: retries exhausted"),
            ServerError::Protocol(what) => write!(f, "session plan misused: {what}"),
            ServerError::Poisoned => {
                f.write_str("an earlier session store write of this request failed")
            }
            ServerError::Random => f.write_str("random source failed"),
            ServerError::Finish(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for ServerError {}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> ServerError {
        ServerError::Store(e)
    }
}
