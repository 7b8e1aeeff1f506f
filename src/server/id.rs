//! Session ids, the store keys derived from them, and the two id cookie formats.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::codec::json::State;
use crate::codec::Accessed;
use crate::config::SessionConfig;
use crate::cookie::check_cookie_len;
use crate::error::{FinishError, RandomError};
use crate::random::RandomSource;

/// Random bytes in a generated session id (256 bits; at least 128 are required).
pub const SESSION_ID_BYTES: usize = 32;

/// Longest session id accepted from a cookie.
pub const MAX_SESSION_ID_LEN: usize = 200;

/// The salt pyramid_session_redis hard-codes.
pub const PYRAMID_SESSION_REDIS_SALT: &str = "pyramid_session_redis.";

/// A session id: the bearer secret the cookie carries. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

impl SessionId {
    /// A new id: [`SESSION_ID_BYTES`] random bytes, urlsafe base64 (43 characters).
    pub fn generate(rng: &mut impl RandomSource) -> Result<SessionId, RandomError> {
        let mut bytes = [0u8; SESSION_ID_BYTES];
        rng.fill(&mut bytes)?;
        Ok(SessionId(crate::base64url::encode(&bytes)))
    }

    /// Accepts an id read from a signed cookie: 1 to [`MAX_SESSION_ID_LEN`] characters of
    /// `A-Z a-z 0-9 - _ . :` (which covers this crate's ids, pyramid_session_redis tokens
    /// with a `prefix:`, legacy hex ids and CubicWeb's integer eids).
    pub fn parse(id: &str) -> Option<SessionId> {
        let ok = !id.is_empty() && id.len() <= MAX_SESSION_ID_LEN && id.bytes().all(id_byte);
        ok.then(|| SessionId(id.to_string()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key the record is stored under with the default [`IdScheme::Hashed`]:
    /// SHA-256 of the id, so a leaked store does not leak usable cookies.
    pub fn store_key(&self) -> StoreKey {
        StoreKey::hashed(self)
    }
}

/// How a server-mode deployment names its sessions: how a new id is made, and the key
/// its record is stored under. A store that shares its records with Python needs the
/// scheme Python uses ([`ServerConfig::with_id_scheme`](super::ServerConfig::with_id_scheme)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdScheme {
    /// The crate's default: [`SESSION_ID_BYTES`] random bytes in urlsafe base64 (43
    /// characters); the key is the SHA-256 of the id in hex, so a leaked store holds no
    /// usable cookie.
    #[default]
    Hashed,
    /// pyramid_session_redis's: `prefix + secrets.token_urlsafe(48)` (the prefix then 64
    /// characters); the key is the id itself, as Python looks it up.
    Raw {
        /// Prepended to every new id (`redis.sessions.prefix`).
        prefix: String,
    },
    /// The store allocates each new id when it creates the record (CubicWeb's eids, from
    /// its `entities_id_seq` table: `store::cubicweb::CubicWebStore`); the key
    /// is the id itself, as Python looks it up. The core never makes an id: it asks for
    /// a `Create` without a key and adopts the id the store answers (see the store
    /// contract, [`crate::server::store`]).
    Allocated,
}

/// Random bytes in a pyramid_session_redis id (`token_urlsafe(48)`).
pub const RAW_ID_BYTES: usize = 48;

impl IdScheme {
    /// pyramid_session_redis's scheme with `prefix` (`redis.sessions.prefix`, often
    /// empty). `None` when the prefix holds a character outside `A-Z a-z 0-9 - _ . :` or
    /// leaves no room for the token within [`MAX_SESSION_ID_LEN`].
    pub fn pyramid_session_redis(prefix: &str) -> Option<IdScheme> {
        let fits = prefix.len() + 64 <= MAX_SESSION_ID_LEN;
        (fits && prefix.bytes().all(id_byte)).then(|| IdScheme::Raw {
            prefix: prefix.to_string(),
        })
    }

    /// A new id, from `rng`; `None` for [`IdScheme::Allocated`], whose ids the store
    /// makes at create.
    pub fn generate(&self, rng: &mut impl RandomSource) -> Result<Option<SessionId>, RandomError> {
        match self {
            IdScheme::Hashed => SessionId::generate(rng).map(Some),
            IdScheme::Raw { prefix } => {
                let mut bytes = [0u8; RAW_ID_BYTES];
                rng.fill(&mut bytes)?;
                let mut id = prefix.clone();
                id.push_str(&crate::base64url::encode(&bytes));
                Ok(Some(SessionId(id)))
            }
            IdScheme::Allocated => Ok(None),
        }
    }

    /// True when the store allocates new ids ([`IdScheme::Allocated`]).
    pub fn allocates(&self) -> bool {
        matches!(self, IdScheme::Allocated)
    }

    /// The key `id`'s record is stored under.
    pub fn key(&self, id: &SessionId) -> StoreKey {
        match self {
            IdScheme::Hashed => StoreKey::hashed(id),
            IdScheme::Raw { .. } | IdScheme::Allocated => StoreKey::raw(id),
        }
    }
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.:".contains(&b)
}

/// The key of a stored record, as the [`IdScheme`] derives it from the session id: the
/// lowercase hex SHA-256 of the id (the default), or the id itself. Plain ASCII either
/// way ([`StoreKey::as_str`]), and `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey {
    hashed: bool,
    len: u8,
    text: [u8; MAX_SESSION_ID_LEN],
}

impl StoreKey {
    /// The hex SHA-256 of `id` ([`IdScheme::Hashed`]).
    pub fn hashed(id: &SessionId) -> StoreKey {
        let digest: [u8; 32] = Sha256::digest(id.0.as_bytes()).into();
        let mut hex = [0u8; 64];
        crate::encoding::hex::write_hex(&digest, &mut hex);
        StoreKey::from_ascii(&hex, true)
    }

    /// `id` itself ([`IdScheme::Raw`], [`IdScheme::Allocated`]).
    pub fn raw(id: &SessionId) -> StoreKey {
        StoreKey::from_ascii(id.0.as_bytes(), false)
    }

    /// `text` is ASCII of at most [`MAX_SESSION_ID_LEN`] bytes: a hex digest, or an id
    /// [`SessionId::parse`] or a scheme made.
    fn from_ascii(text: &[u8], hashed: bool) -> StoreKey {
        let mut key = StoreKey {
            hashed,
            len: 0,
            text: [0; MAX_SESSION_ID_LEN],
        };
        let n = text.len().min(MAX_SESSION_ID_LEN);
        key.text[..n].copy_from_slice(&text[..n]);
        key.len = n as u8;
        key
    }

    /// The key text: 64 hex digits, or the raw id.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (hex digits, or an id's `A-Z a-z 0-9 - _ . :`).
        core::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }

    /// True for a hashed key ([`IdScheme::Hashed`]).
    pub fn is_hashed(&self) -> bool {
        self.hashed
    }

    /// The key text (the name of the days when every key was a hex digest).
    #[deprecated(since = "0.3.0", note = "use `as_str`")]
    pub fn to_hex(&self) -> String {
        self.as_str().to_string()
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hashed {
            write!(f, "StoreKey({})", self.as_str())
        } else {
            // A raw key is a bearer secret.
            f.write_str("StoreKey(raw ..)")
        }
    }
}

/// How the session id travels in the cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdCookieFormat {
    /// CubicWeb's `CWSessionFactory`: the Pyramid cookie frame with state
    /// `{"sessioneid": id}` (integer eids are read; ids are written as strings, or as
    /// integers when all digits, as CubicWeb does).
    CubicWeb,
    /// pyramid_session_redis: the signed id string itself (salt `pyramid_session_redis.`).
    PyramidSessionRedis,
}

/// A verified id cookie.
#[derive(Clone, Debug, PartialEq)]
pub struct IdCookie {
    /// The session id.
    pub id: SessionId,
    /// For [`IdCookieFormat::CubicWeb`]: the frame's `renewed` and `created`.
    pub times: Option<(f64, f64)>,
    /// Index of the keyring key that verified it.
    pub key_index: usize,
    /// Read in the legacy `pyramid_redis_sessions` format (a migration,
    /// `ServerConfig::with_legacy_cookie`): the response re-sends it in the configured one.
    pub legacy: bool,
}

impl IdCookieFormat {
    /// The signed cookie value carrying `id` (for CubicWeb, with `accessed` and `created`),
    /// refused when too long ([`crate::cookie::check_cookie_len`]).
    pub fn encode(
        self,
        config: &SessionConfig,
        id: &SessionId,
        accessed: Accessed,
        created: f64,
    ) -> Result<String, FinishError> {
        let value = match self {
            IdCookieFormat::PyramidSessionRedis => config.keyring().sign(id.as_str().as_bytes()),
            IdCookieFormat::CubicWeb => {
                let mut state = State::new();
                let eid = match id.as_str().parse::<u64>() {
                    Ok(n) if !id.as_str().starts_with('0') || id.as_str() == "0" => Value::from(n),
                    _ => Value::String(id.as_str().to_string()),
                };
                state.insert("sessioneid".into(), eid);
                let mut payload = Vec::with_capacity(96);
                config
                    .serializer()
                    .encode(accessed, created, &state, &mut payload)
                    .map_err(|_| FinishError::Encode)?;
                config.keyring().sign(&payload)
            }
        };
        check_cookie_len(config.cookie().name(), value.len())?;
        Ok(value)
    }

    /// Verifies a cookie value and extracts the id; `None` if it is not a valid id cookie.
    pub fn decode(self, config: &SessionConfig, value: &[u8]) -> Option<IdCookie> {
        config.keyring().with_verified(value, |verified| {
            let verified = verified.ok()?;
            self.parse_payload(config, verified.payload, verified.key_index)
        })
    }

    fn parse_payload(
        self,
        config: &SessionConfig,
        payload: &[u8],
        key_index: usize,
    ) -> Option<IdCookie> {
        match self {
            IdCookieFormat::PyramidSessionRedis => {
                let id = SessionId::parse(core::str::from_utf8(payload).ok()?)?;
                Some(IdCookie {
                    id,
                    times: None,
                    key_index,
                    legacy: false,
                })
            }
            IdCookieFormat::CubicWeb => {
                let frame = config.serializer().decode(payload).ok()?;
                let id = match frame.state.get("sessioneid")? {
                    Value::String(s) => SessionId::parse(s)?,
                    Value::Number(n) if n.is_u64() => SessionId::parse(n.as_str())?,
                    _ => return None,
                };
                Some(IdCookie {
                    id,
                    times: Some((frame.renewed, frame.created)),
                    key_index,
                    legacy: false,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl RandomSource for Counter {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
            Ok(())
        }
    }

    #[test]
    fn schemes_make_ids_and_keys() {
        let id = IdScheme::Hashed.generate(&mut Counter(0)).unwrap().unwrap();
        assert_eq!(id.as_str().len(), 43);
        let key = IdScheme::Hashed.key(&id);
        assert!(key.is_hashed());
        assert_eq!(key.as_str().len(), 64);
        assert!(key.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, id.store_key());

        let scheme = IdScheme::pyramid_session_redis("app:").unwrap();
        let id = scheme.generate(&mut Counter(0)).unwrap().unwrap();
        assert_eq!(id.as_str().len(), 4 + 64);
        assert!(id.as_str().starts_with("app:"));
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        let key = scheme.key(&id);
        assert!(!key.is_hashed());
        assert_eq!(key.as_str(), id.as_str());
        assert_eq!(alloc::format!("{key:?}"), "StoreKey(raw ..)");
        // Prefixes that no id could hold are refused.
        assert_eq!(IdScheme::pyramid_session_redis("<app>:"), None);
        assert_eq!(IdScheme::pyramid_session_redis(&"a".repeat(137)), None);
        assert!(IdScheme::pyramid_session_redis(&"a".repeat(136)).is_some());
        // The store allocates: no id here, and the key is the id itself.
        assert_eq!(IdScheme::Allocated.generate(&mut Counter(0)).unwrap(), None);
        assert!(IdScheme::Allocated.allocates() && !IdScheme::Hashed.allocates());
        let eid = SessionId::parse("760").unwrap();
        assert_eq!(IdScheme::Allocated.key(&eid).as_str(), "760");
    }
}
