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
use crate::policy::{self, Expiry, Verdict};
pub use crate::random::RandomSource;

mod data;

pub use data::{Modifier, SessionData};

/// Key prefix of flash queues: queue `q` lives at `_f_q`.
pub const FLASH_PREFIX: &str = "_f_";

/// Key of the CSRF token.
pub const CSRF_KEY: &str = "_csrft_";

/// Key of a session's own expiry ([`Expiry`], set with `set_expiry`), in the state: the
/// only place a cookie's Pyramid frame `[accessed, created, state]` can carry it, and in
/// server mode the record's state likewise. The value is the idle timeout in whole
/// seconds for [`Expiry::OnInactivity`] (`{"_expiry_": 2592000}`) or the string
/// `"browser"` for [`Expiry::OnSessionEnd`]; anything else reads as no expiry of its own.
///
/// A Python peer sharing the sessions sees an ordinary key and keeps it when it writes
/// the session back; it applies its own configured timeout and `max_age` (Pyramid has
/// no per-session expiry), so a remembered session it reads after its default timeout
/// is expired there, and a cookie it re-sends has its configured `Max-Age`. With
/// pyramid_session_redis the record's `x` and TTL follow the session's own expiry while
/// `t` stays the configured timeout, which Python uses for its own next write; CubicWeb
/// judges its id cookie by its own timeout.
pub const EXPIRY_KEY: &str = "_expiry_";

impl Expiry {
    /// The session's own expiry as stored in `state` under [`EXPIRY_KEY`]; `None` when
    /// absent or not a value this crate writes.
    pub fn from_state(state: &State) -> Option<Expiry> {
        match state.get(EXPIRY_KEY)? {
            Value::String(s) if s == "browser" => Some(Expiry::OnSessionEnd),
            v => v
                .as_u64()
                .filter(|&secs| secs > 0)
                .map(|secs| Expiry::OnInactivity(core::time::Duration::from_secs(secs))),
        }
    }

    /// The value stored under [`EXPIRY_KEY`] (whole seconds, or `"browser"`).
    pub fn to_state_value(self) -> Value {
        match self {
            Expiry::OnInactivity(d) => Value::from(d.as_secs().max(1)),
            Expiry::OnSessionEnd => Value::from("browser"),
        }
    }
}

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
                    let expiry = Expiry::from_state(&frame.state);
                    if config.judge_for(now, frame.renewed, frame.created, expiry) == Verdict::Valid
                    {
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
        let expiry = Expiry::from_state(&frame.state);
        let verdict = config.judge_for(self.now, frame.renewed, frame.created, expiry);
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

    /// The session's own expiry, if it has one (`None`: the configuration's timeout and
    /// `max_age`). Not an access.
    pub fn expiry(&self) -> Option<Expiry> {
        Expiry::from_state(&self.state)
    }

    /// Gives this session its own expiry ("remember me"), or back the configuration's
    /// with `None`: from this response on, the cookie's `Max-Age`
    /// ([`SessionConfig::cookie_max_age`]) and the idle timeout it is judged by
    /// ([`SessionConfig::judge_for`]) follow it, on every later request too. Stored in
    /// the state under [`EXPIRY_KEY`], so [`CookieSession::clear`] and
    /// [`CookieSession::invalidate`] (logout) drop it. A mutator when it changes
    /// anything: the cookie is re-sent.
    ///
    /// ```
    /// use core::time::Duration;
    /// use pyramid_session::{policy::Expiry, CookieSession, SessionConfig};
    ///
    /// let config = SessionConfig::pyramid("seekrit").build()?; // timeout 1200 s
    /// let mut session = CookieSession::load(&config, None, 1700000000.0);
    /// session.insert("user", "ada".into());
    /// session.set_expiry(Some(Expiry::OnInactivity(Duration::from_secs(30 * 86400))));
    /// let set_cookie = session.finish(&config, false)?.unwrap();
    /// assert!(set_cookie.contains("; Max-Age=2592000;"));
    ///
    /// // A week later, long past the default idle timeout, the user is still in.
    /// let cookie = set_cookie.split(';').next().unwrap();
    /// let mut later = CookieSession::load(&config, Some(cookie.as_bytes()), 1700604800.0);
    /// assert_eq!(later.get("user"), Some(&"ada".into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_expiry(&mut self, expiry: Option<Expiry>) {
        if self.expiry() == expiry {
            return;
        }
        match expiry {
            Some(e) => {
                self.insert(EXPIRY_KEY, e.to_state_value());
            }
            None => {
                self.remove(EXPIRY_KEY);
            }
        }
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
        let max_age = config.cookie_max_age(self.expiry());
        Ok(Some(render_set_cookie_with(
            cookie.name(),
            signed_len(config, &payload),
            |out| config.keyring().sign_into(&payload, out),
            &cookie.attributes_with_max_age(max_age),
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

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn the_stored_expiry_reads_only_what_is_written() {
        let mut state = State::new();
        assert_eq!(Expiry::from_state(&state), None);
        for expiry in [
            Expiry::OnInactivity(Duration::from_secs(2_592_000)),
            Expiry::OnSessionEnd,
        ] {
            state.insert(EXPIRY_KEY.into(), expiry.to_state_value());
            assert_eq!(Expiry::from_state(&state), Some(expiry));
        }
        // A peer's junk is no expiry of its own, never an error.
        for junk in [
            serde_json::json!(0),
            serde_json::json!(-5),
            serde_json::json!(1.5),
            serde_json::json!("month"),
            serde_json::json!({"timeout": 5}),
            serde_json::json!(null),
        ] {
            state.insert(EXPIRY_KEY.into(), junk.clone());
            assert_eq!(Expiry::from_state(&state), None, "{junk}");
        }
    }

    #[test]
    fn setting_the_expiry_is_a_change_only_when_it_changes() {
        let config = SessionConfig::pyramid("s").build().unwrap();
        let mut session = CookieSession::load(&config, None, 1_700_000_000.0);
        session.set_expiry(None);
        assert!(!session.is_dirty());
        let week = Some(Expiry::OnInactivity(Duration::from_secs(604_800)));
        session.set_expiry(week);
        assert!(session.is_dirty());
        assert_eq!(session.expiry(), week);
        assert_eq!(session.peek_state().get(EXPIRY_KEY), Some(&604_800.into()));
    }
}
