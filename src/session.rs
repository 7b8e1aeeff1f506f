//! The cookie-mode session: Pyramid's `BaseCookieSessionFactory` session as pure
//! functions of the request's `Cookie:` header, the configuration and `now`.
//!
//! [`CookieSession::load`] reads the cookie; the dict-like methods are Pyramid's accessors
//! (they mark the session accessed and may trigger a reissue) and mutators (they mark it
//! changed); [`CookieSession::finish`] returns the `Set-Cookie` value to send, if any.
//! Timestamps follow Pyramid exactly, so cookies are byte-identical to Pyramid's.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value;

use crate::codec::json::{State, FRAME_CAPACITY};
use crate::codec::Accessed;
use crate::config::SessionConfig;
use crate::cookie::{check_cookie_len, cookie_values, render_set_cookie_with};
use crate::error::{FinishError, FrameError, VerifyError};
use crate::policy::{self, Verdict};
pub use crate::random::RandomSource;

mod data;

pub use data::{Modifier, SessionData};

/// Key prefix of flash queues: queue `q` lives at `_f_q`.
pub const FLASH_PREFIX: &str = "_f_";

/// Key of the CSRF token.
pub const CSRF_KEY: &str = "_csrft_";

/// Why the request's cookie was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidCookie {
    /// The value is not strict urlsafe base64, or too long.
    Encoding,
    /// No key's MAC matches.
    Signature,
    /// The MAC matches but the payload is not a valid frame.
    Frame(FrameError),
    /// A timestamp is further in the future than the allowed clock skew.
    FromFuture,
    /// The absolute lifetime since creation is over.
    LifetimeExceeded,
    /// Created before the configured `not_before` instant.
    Revoked,
}

/// How the session was loaded from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadOutcome {
    /// The request carried no session cookie: a new session.
    NoCookie,
    /// A valid cookie signed with the current key.
    Valid,
    /// A valid cookie signed with an older key; the session is marked changed so the
    /// response re-signs it with the current key.
    Rotated {
        /// Index of the key that matched in the keyring.
        key_index: usize,
    },
    /// A valid cookie past its idle timeout. As in Pyramid the state is emptied but
    /// `new` stays false and `created` is kept.
    Expired,
    /// The cookie was not usable: a new session.
    Invalid(InvalidCookie),
}

/// The old name of [`CookieSession`].
#[deprecated(since = "0.2.0", note = "renamed to `CookieSession`")]
pub type Session = CookieSession;

/// One request's view of a cookie-mode session.
#[derive(Clone, Debug)]
pub struct CookieSession {
    state: State,
    created: f64,
    renewed: f64,
    accessed: Accessed,
    new: bool,
    dirty: bool,
    now: f64,
    reissue_time: Option<u64>,
    outcome: LoadOutcome,
}

impl CookieSession {
    /// Loads the session from a `Cookie:` header (or `None` when the request had none) at
    /// time `now` (seconds since the Unix epoch, as `time.time()`).
    ///
    /// Never fails: every problem yields a fresh session, and [`CookieSession::outcome`] says why.
    /// With several cookies of the configured name, the first that verifies is used.
    pub fn load(config: &SessionConfig, cookie_header: Option<&[u8]>, now: f64) -> CookieSession {
        let mut session = CookieSession {
            state: State::new(),
            created: now,
            renewed: now,
            accessed: Accessed::Float(now),
            new: true,
            dirty: false,
            now,
            reissue_time: config.reissue_time(),
            outcome: LoadOutcome::NoCookie,
        };
        let Some(header) = cookie_header else {
            return session;
        };
        // The first authentic cookie that passes the time checks wins: an authentic but
        // stale cookie placed before the live one (tossed from a sibling domain) must not
        // log the user out. Without a usable one, the first authentic one decides.
        let mut first_error = None;
        let mut first_verified = None;
        for value in cookie_values(header, config.cookie().name()) {
            let decoded = config.keyring().with_verified(value, |verified| {
                verified.map(|v| (config.serializer().decode(v.payload), v.key_index))
            });
            match decoded {
                Ok((Ok(frame), key_index)) => {
                    if config.judge(now, frame.renewed, frame.created) == Verdict::Valid {
                        session.outcome = session.adopt(config, frame, key_index);
                        return session;
                    }
                    first_verified.get_or_insert(Ok((frame, key_index)));
                }
                Ok((Err(e), _)) => {
                    first_verified.get_or_insert(Err(e));
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(first) = first_verified {
            session.outcome = match first {
                Ok((frame, key_index)) => session.adopt(config, frame, key_index),
                Err(e) => LoadOutcome::Invalid(InvalidCookie::Frame(e)),
            };
        } else if let Some(e) = first_error {
            session.outcome = LoadOutcome::Invalid(match e {
                VerifyError::BadSignature => InvalidCookie::Signature,
                VerifyError::BadBase64 | VerifyError::TooLong => InvalidCookie::Encoding,
            });
        }
        session
    }

    fn adopt(
        &mut self,
        config: &SessionConfig,
        frame: crate::codec::json::Frame,
        key_index: usize,
    ) -> LoadOutcome {
        let verdict = config.judge(self.now, frame.renewed, frame.created);
        match verdict {
            Verdict::FromFuture => return LoadOutcome::Invalid(InvalidCookie::FromFuture),
            Verdict::Revoked => return LoadOutcome::Invalid(InvalidCookie::Revoked),
            Verdict::LifetimeExceeded => {
                return LoadOutcome::Invalid(InvalidCookie::LifetimeExceeded)
            }
            Verdict::Expired | Verdict::Valid => {}
        }
        self.new = false;
        self.renewed = frame.renewed;
        self.created = frame.created;
        self.accessed = Accessed::Float(frame.renewed);
        if verdict == Verdict::Expired {
            return LoadOutcome::Expired;
        }
        self.state = frame.state;
        if key_index > 0 {
            self.dirty = true;
            return LoadOutcome::Rotated { key_index };
        }
        LoadOutcome::Valid
    }

    /// How the request's cookie was used.
    pub fn outcome(&self) -> LoadOutcome {
        self.outcome
    }
    /// True when the session did not come from a valid cookie (Pyramid's `new`).
    pub fn is_new(&self) -> bool {
        self.new
    }
    /// When the session was created (seconds since the Unix epoch).
    pub fn created(&self) -> f64 {
        self.created
    }
    /// When the cookie was last issued (Pyramid's `renewed`).
    pub fn renewed(&self) -> f64 {
        self.renewed
    }
    /// The value the cookie's `accessed` slot will get.
    pub fn accessed(&self) -> Accessed {
        self.accessed
    }
    /// True when the response will carry a cookie (Pyramid's `_dirty`).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
    /// The request time the session was loaded with.
    pub fn now(&self) -> f64 {
        self.now
    }
    /// The state without counting as an access (for logging and inspection; Pyramid has
    /// no equivalent).
    pub fn peek_state(&self) -> &State {
        &self.state
    }

    /// Pyramid's `manage_accessed`: record the access and reissue when due.
    fn touch_read(&mut self) {
        self.accessed = Accessed::Int(policy::whole_seconds(self.now));
        if policy::reissue_due(self.now, self.renewed, self.reissue_time) {
            self.dirty = true;
        }
    }

    /// Pyramid's `manage_changed`.
    fn touch_write(&mut self) {
        self.accessed = Accessed::Int(policy::whole_seconds(self.now));
        self.dirty = true;
    }

    /// Marks the session changed without touching `accessed` (Pyramid's `changed()`);
    /// use it after mutating a nested value in place.
    pub fn changed(&mut self) {
        self.dirty = true;
    }

    /// `session.get(key)` — an accessor.
    pub fn get(&mut self, key: &str) -> Option<&Value> {
        self.touch_read();
        self.state.get(key)
    }
    /// `key in session` — an accessor.
    pub fn contains_key(&mut self, key: &str) -> bool {
        self.touch_read();
        self.state.contains_key(key)
    }
    /// `len(session)` — an accessor.
    pub fn len(&mut self) -> usize {
        self.touch_read();
        self.state.len()
    }
    /// `not session` — an accessor.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
    /// `session.items()` — an accessor.
    pub fn iter(&mut self) -> serde_json::map::Iter<'_> {
        self.touch_read();
        self.state.iter()
    }
    /// `session.keys()` — an accessor.
    pub fn keys(&mut self) -> serde_json::map::Keys<'_> {
        self.touch_read();
        self.state.keys()
    }
    /// `dict(session)` — an accessor.
    pub fn to_state(&mut self) -> State {
        self.touch_read();
        self.state.clone()
    }

    /// `session[key] = value` — a mutator. Returns the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.touch_write();
        self.state.insert(key.into(), value)
    }
    /// `session.pop(key, None)` / `del session[key]` — a mutator, even when absent.
    /// Remaining keys keep their order.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.touch_write();
        self.state.shift_remove(key)
    }
    /// `session.setdefault(key, default)` — a mutator. Returns the stored value.
    pub fn setdefault(&mut self, key: &str, default: Value) -> &mut Value {
        self.touch_write();
        self.state.entry(key).or_insert(default)
    }
    /// A mutable reference to a value — a mutator, since the caller may change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.touch_write();
        self.state.get_mut(key)
    }
    /// `session.update(other)` — a mutator.
    pub fn update(&mut self, other: State) {
        self.touch_write();
        self.state.extend(other);
    }
    /// `session.clear()` — a mutator.
    pub fn clear(&mut self) {
        self.touch_write();
        self.state.clear();
    }
    /// `session.invalidate()`: in cookie mode, exactly Pyramid's — the state is cleared
    /// and the cookie re-sent with `{}`; `created` is kept.
    pub fn invalidate(&mut self) {
        self.clear();
    }

    /// Read-modify-write of one key — a mutator. `f` gets the current value and returns
    /// the new one (`None` removes the key). Returns the new value.
    pub fn modify<F>(&mut self, key: &str, f: F) -> Option<Value>
    where
        F: Fn(Option<&Value>) -> Option<Value> + Send + Sync + 'static,
    {
        self.touch_write();
        match f(self.state.get(key)) {
            Some(v) => {
                self.state.insert(key.to_string(), v.clone());
                Some(v)
            }
            None => {
                self.state.shift_remove(key);
                None
            }
        }
    }

    /// The end-of-request decision: the `Set-Cookie` header value to send, or `None`.
    ///
    /// `failed` says the request ended in an error; with `set_on_exception` off no cookie
    /// is sent then. A cookie value longer than 4064 characters, or a `name=value` longer
    /// than 4096, is an error and nothing is sent (Pyramid raises from its response
    /// callback; browsers drop the latter).
    pub fn finish(
        &self,
        config: &SessionConfig,
        failed: bool,
    ) -> Result<Option<String>, FinishError> {
        if !self.dirty || (failed && !config.set_on_exception()) {
            return Ok(None);
        }
        let payload = self.checked_frame(config)?;
        let cookie = config.cookie();
        Ok(Some(render_set_cookie_with(
            cookie.name(),
            signed_len(config, &payload),
            |out| config.keyring().sign_into(&payload, out),
            &cookie.attributes(),
            self.now,
        )))
    }

    /// The signed cookie value the session would be written as now, checked against
    /// the cookie length limits ([`crate::cookie::check_cookie_len`]).
    pub fn signed_value(&self, config: &SessionConfig) -> Result<String, FinishError> {
        Ok(config.keyring().sign(&self.checked_frame(config)?))
    }

    /// The encoded frame, refused when its signed cookie would be too long.
    fn checked_frame(&self, config: &SessionConfig) -> Result<Vec<u8>, FinishError> {
        let mut payload = Vec::with_capacity(FRAME_CAPACITY);
        config
            .serializer()
            .encode(self.accessed, self.created, &self.state, &mut payload)
            .map_err(|_| FinishError::Encode)?;
        check_cookie_len(config.cookie().name(), signed_len(config, &payload))?;
        Ok(payload)
    }
}

/// The length of the signed value of `payload`: base64 of the tag and the payload.
fn signed_len(config: &SessionConfig, payload: &[u8]) -> usize {
    crate::base64url::encoded_len(config.keyring().alg().digest_len() + payload.len())
}
