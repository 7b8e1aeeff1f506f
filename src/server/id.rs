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
        let ok = !id.is_empty()
            && id.len() <= MAX_SESSION_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        ok.then(|| SessionId(id.to_string()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key the record is stored under: SHA-256 of the id, so a leaked store does not
    /// leak usable cookies.
    pub fn store_key(&self) -> StoreKey {
        StoreKey(Sha256::digest(self.0.as_bytes()).into())
    }
}

/// The key of a stored record: SHA-256 of the session id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey(pub [u8; 32]);

impl StoreKey {
    /// Lowercase hex, 64 characters (what SQL and Redis stores use as the key).
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        crate::encoding::hex::push_hex(&self.0, &mut out);
        out
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", self.to_hex())
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
                })
            }
        }
    }
}
