//! Server-side sessions: the signed cookie carries only a session id, the state lives in
//! a store (CubicWeb's `CWSessionFactory`, the pyramid redis session factories).
//!
//! Everything here is pure. A request goes through three stages:
//!
//! 1. [`Pending::start`] verifies the cookie and extracts the session id. No store I/O:
//!    a request that never touches its session costs nothing.
//! 2. On first use a driver ([`crate::driver`]) loads the record and calls
//!    [`Pending::open`], which yields a [`ServerSession`]. An unknown, expired or revoked id
//!    is never adopted: the session starts fresh and gets a new id when written.
//! 3. [`ServerSession::finish`] returns a [`Finisher`]: the store operations this request
//!    needs, one at a time ([`Finisher::next_op`]), and — only once they all succeeded —
//!    the `Set-Cookie` value ([`Finisher::into_cookie`]).
//!
//! Saves are compare-and-set on a record version. When one loses, the finisher asks for
//! a reload, re-applies this request's own changes (set / remove / clear / modify) to the
//! fresh state and saves again, a bounded number of times. A save that finds the record
//! gone fails with [`ServerError::Removed`]: a removal (logout) always wins.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::codec::json::{
    decode_frame, encode_frame, number_literal, object_prefix, skip_ws, write_float, write_object,
    State, FRAME_CAPACITY,
};
use crate::codec::Accessed;
use crate::config::SessionConfig;
use crate::cookie::{check_cookie_len, cookie_values, render_set_cookie};
use crate::error::{ConfigError, FinishError, RandomError};
use crate::policy::{self, Verdict};
use crate::random::RandomSource;

/// Random bytes in a generated session id (256 bits; at least 128 are required).
pub const SESSION_ID_BYTES: usize = 32;

/// Longest session id accepted from a cookie.
pub const MAX_SESSION_ID_LEN: usize = 200;

/// How many times a lost compare-and-set or an id collision is retried.
pub const DEFAULT_MAX_RETRIES: u32 = 64;

/// How long, in all, one request may wait between retries after lost compare-and-sets.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(3);

/// The first retry waits up to this long; each further one up to twice as long...
pub const BACKOFF_BASE: Duration = Duration::from_millis(2);

/// ...but never more than this (before jitter).
pub const BACKOFF_CAP: Duration = Duration::from_millis(64);

/// How many of a request's id cookies (of the session's name, authentic and in time) are
/// tried against the store before the session starts fresh.
pub const MAX_ID_CANDIDATES: usize = 4;

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
        for b in self.0 {
            for nibble in [b >> 4, b & 0xF] {
                out.push(char::from(b"0123456789abcdef"[usize::from(nibble)]));
            }
        }
        out
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", self.to_hex())
    }
}

/// A record as a store holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The encoded record (JSON `{"created": …, "state": {…}}`); opaque to stores.
    pub data: Vec<u8>,
    /// Incremented by every successful save; 1 after create.
    pub version: u64,
    /// When the record stops being valid (Unix seconds).
    pub expires_at: f64,
}

/// Result of a compare-and-set save.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written; the record now has this version.
    Saved {
        /// The new version.
        version: u64,
    },
    /// The record exists with another version: someone saved in between.
    Conflict,
    /// The record is gone (removed or expired).
    Missing,
}

/// Result of a conditional remove ([`Store::remove_if`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum RemoveOutcome {
    /// The record had the expected version and is gone.
    Removed,
    /// The record exists with another version: someone saved in between; it is kept.
    Conflict,
    /// There was no live record.
    Missing,
}

/// What went wrong in a store, as a category a framework can map (e.g. to 503).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The store contract, blocking flavour. Every write carries the record's expiry, which
/// the core computes; `now` lets stores without native expiry ignore expired records.
///
/// - `load` returns `None` for a missing or expired record and never creates one.
/// - `create` inserts only if no live record has the key (returns `false` otherwise);
///   the new record has version 1.
/// - `save` replaces the record only if it is live and has `expected_version`.
/// - `touch` moves the expiry of a live record without rewriting it; `false` if missing.
/// - `remove` deletes the record (absent is fine).
/// - `remove_if` deletes the record only if it is live and still has `expected_version`
///   (how a login moves a session to a new id without losing a concurrent write).
/// - `wait` pauses before a retry after a lost compare-and-set (backoff); the plan
///   decides how long.
pub trait Store {
    /// Loads a live record.
    fn load(&self, key: &StoreKey, now: f64) -> Result<Option<Stored>, StoreError>;
    /// Inserts a record if the key is free.
    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> Result<bool, StoreError>;
    /// Compare-and-set on the version.
    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> Result<SaveOutcome, StoreError>;
    /// Extends the expiry of a live record.
    fn touch(&self, key: &StoreKey, expires_at: f64, now: f64) -> Result<bool, StoreError>;
    /// Deletes a record.
    fn remove(&self, key: &StoreKey) -> Result<(), StoreError>;
    /// Deletes a live record only if it still has `expected_version`.
    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> Result<RemoveOutcome, StoreError>;
    /// Waits `delay` before a retry. With `std` the default sleeps the calling thread;
    /// without it, it returns at once.
    fn wait(&self, delay: Duration) {
        #[cfg(feature = "std")]
        {
            extern crate std;
            std::thread::sleep(delay);
        }
        #[cfg(not(feature = "std"))]
        let _ = delay;
    }
}

macro_rules! store_via_deref {
    ($($ty:ty),*) => {$(
        /// A reference or shared pointer to a store is a store.
        impl<S: Store + ?Sized> Store for $ty {
            fn load(&self, key: &StoreKey, now: f64) -> Result<Option<Stored>, StoreError> {
                (**self).load(key, now)
            }
            fn create(&self, key: &StoreKey, data: &[u8], expires_at: f64, now: f64) -> Result<bool, StoreError> {
                (**self).create(key, data, expires_at, now)
            }
            fn save(
                &self,
                key: &StoreKey,
                data: &[u8],
                expected_version: u64,
                expires_at: f64,
                now: f64,
            ) -> Result<SaveOutcome, StoreError> {
                (**self).save(key, data, expected_version, expires_at, now)
            }
            fn touch(&self, key: &StoreKey, expires_at: f64, now: f64) -> Result<bool, StoreError> {
                (**self).touch(key, expires_at, now)
            }
            fn remove(&self, key: &StoreKey) -> Result<(), StoreError> {
                (**self).remove(key)
            }
            fn remove_if(&self, key: &StoreKey, expected_version: u64, now: f64) -> Result<RemoveOutcome, StoreError> {
                (**self).remove_if(key, expected_version, now)
            }
            fn wait(&self, delay: Duration) {
                (**self).wait(delay)
            }
        }
    )*};
}

store_via_deref!(&S, alloc::sync::Arc<S>);

/// The store contract, async flavour: the same operations and rules as [`Store`].
pub trait AsyncStore: Sync {
    /// Loads a live record.
    fn load(
        &self,
        key: &StoreKey,
        now: f64,
    ) -> impl Future<Output = Result<Option<Stored>, StoreError>> + Send;
    /// Inserts a record if the key is free.
    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Compare-and-set on the version.
    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;
    /// Extends the expiry of a live record.
    fn touch(
        &self,
        key: &StoreKey,
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes a record.
    fn remove(&self, key: &StoreKey) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes a live record only if it still has `expected_version`.
    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> impl Future<Output = Result<RemoveOutcome, StoreError>> + Send;
    /// Waits `delay` before a retry, without blocking the executor. The default returns
    /// at once (no runtime is assumed); stores on a runtime sleep on its timer.
    fn wait(&self, delay: Duration) -> impl Future<Output = ()> + Send {
        let _ = delay;
        core::future::ready(())
    }
}

/// Why a server-mode request could not finish. No cookie is sent with any of these.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// How the session id travels in the cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
                encode_frame(accessed, created, &state, &mut payload)
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
            self.parse_payload(verified.payload, verified.key_index)
        })
    }

    fn parse_payload(self, payload: &[u8], key_index: usize) -> Option<IdCookie> {
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
                let frame = decode_frame(payload).ok()?;
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

/// A validated server-mode configuration: cookie settings, keyring and timeouts from a
/// [`SessionConfig`], the id cookie format and the retry limits.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    session: SessionConfig,
    format: IdCookieFormat,
    max_retries: u32,
    retry_budget: Duration,
}

impl ServerConfig {
    /// Server mode over `session`'s cookie and timing settings. Fails when neither an
    /// idle timeout nor an absolute lifetime is set: every record must expire.
    pub fn new(
        session: SessionConfig,
        format: IdCookieFormat,
    ) -> Result<ServerConfig, ConfigError> {
        if session.timeout().is_none() && session.max_lifetime().is_none() {
            return Err(ConfigError::NoExpiry);
        }
        Ok(ServerConfig {
            session,
            format,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_budget: DEFAULT_RETRY_BUDGET,
        })
    }

    /// Sets how often a lost compare-and-set or an id collision is retried.
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> ServerConfig {
        self.max_retries = retries;
        self
    }

    /// Sets how long, in all, one request may wait between retries (the backoff after a
    /// lost compare-and-set is exponential with full jitter, from [`BACKOFF_BASE`] up to
    /// [`BACKOFF_CAP`]). Time spent in store calls is not counted.
    #[must_use]
    pub fn with_retry_budget(mut self, budget: Duration) -> ServerConfig {
        self.retry_budget = budget;
        self
    }

    /// The cookie and timing settings.
    pub fn session(&self) -> &SessionConfig {
        &self.session
    }
    /// The id cookie format.
    pub fn format(&self) -> IdCookieFormat {
        self.format
    }
    /// The retry limit.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
    /// The retry time budget.
    pub fn retry_budget(&self) -> Duration {
        self.retry_budget
    }

    fn deadline(&self, renewed: f64, created: f64) -> f64 {
        let s = &self.session;
        // `new` guarantees at least one limit, so this is always Some.
        policy::deadline(renewed, created, s.timeout(), s.max_lifetime()).unwrap_or(renewed)
    }

    /// The record's renewal rule, Pyramid's reissue rule stated on the expiry: a record
    /// expiring at `expires_at` is worth extending when a renewal now would move its
    /// expiry by more than `reissue_time` (with the idle timeout binding, exactly
    /// `int(now) - renewed > reissue_time`). Once the absolute lifetime binds, no renewal
    /// can move it and this is never due.
    fn extension_due(&self, now: f64, expires_at: f64, created: f64) -> bool {
        match self.session.reissue_time() {
            Some(reissue) => {
                let now = policy::whole_seconds(now) as f64;
                self.deadline(now, created) - expires_at > reissue as f64
            }
            None => false,
        }
    }

    /// When a record expiring at `expires_at` was last extended, as far as the record
    /// tells: `expires_at - timeout` while the idle timeout set the expiry; `created`
    /// when the absolute lifetime set it or there is no idle timeout.
    fn renewed_from(&self, expires_at: f64, created: f64) -> f64 {
        let s = &self.session;
        match (s.timeout(), s.max_lifetime()) {
            (Some(timeout), Some(lifetime)) if expires_at < created + lifetime as f64 => {
                expires_at - timeout as f64
            }
            (Some(timeout), None) => expires_at - timeout as f64,
            _ => created,
        }
    }
}

/// A request's session before its record is loaded (stage 1).
#[derive(Clone, Debug)]
pub struct Pending {
    /// Authentic, in-time id cookies, in header order; the first is tried first.
    candidates: VecDeque<IdCookie>,
    now: f64,
}

impl Pending {
    /// Verifies the request's cookies at time `now`. No store I/O. Every cookie of the
    /// session's name that verifies and, for a CubicWeb cookie, whose own timestamps pass
    /// the time checks ([`SessionConfig::judge`]) is a candidate, up to
    /// [`MAX_ID_CANDIDATES`]: a stale authentic cookie placed first (an attacker's own,
    /// tossed from a sibling domain) cannot hide the live one.
    pub fn start(config: &ServerConfig, cookie_header: Option<&[u8]>, now: f64) -> Pending {
        let s = config.session();
        let candidates = match cookie_header {
            Some(header) => cookie_values(header, s.cookie().name())
                .filter_map(|value| config.format().decode(s, value))
                .filter(|c| match c.times {
                    None => true,
                    Some((renewed, created)) => s.judge(now, renewed, created) == Verdict::Valid,
                })
                .take(MAX_ID_CANDIDATES)
                .collect(),
            None => VecDeque::new(),
        };
        Pending { candidates, now }
    }

    /// The request time.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// The record to load before [`Pending::open`], if the cookie carried an id.
    pub fn load_key(&self) -> Option<StoreKey> {
        self.candidates.front().map(|c| c.id.store_key())
    }

    /// Stage 2: the session, given what the store returned for [`Pending::load_key`]
    /// (`None` when there was no key or no live record). Unknown, undecodable, expired
    /// or revoked records give a fresh session that will get a new id. Only the first
    /// candidate is tried; [`Pending::try_open`] tries the others.
    pub fn open(self, config: &ServerConfig, loaded: Option<Stored>) -> ServerSession {
        let now = self.now;
        match self.try_open(config, loaded) {
            Ok(session) => session,
            Err(_) => ServerSession::fresh(config, now),
        }
    }

    /// Stage 2, one candidate at a time: the session when the loaded record is usable or
    /// no candidate is left (then a fresh session), otherwise `Err` with the next
    /// candidate to load (at most [`MAX_ID_CANDIDATES`] loads in all).
    pub fn try_open(
        mut self,
        config: &ServerConfig,
        loaded: Option<Stored>,
    ) -> Result<ServerSession, Pending> {
        let now = self.now;
        let Some(candidate) = self.candidates.pop_front() else {
            return Ok(ServerSession::fresh(config, now));
        };
        match loaded.and_then(|stored| usable_record(config, stored, now)) {
            Some((stored, created, state)) => {
                let mut session = ServerSession::fresh(config, now);
                let cookie_renewed = candidate.times.map(|(renewed, _)| renewed);
                let estimate = config.renewed_from(stored.expires_at, created);
                session.renewed = cookie_renewed.map_or(estimate, |c| c.max(estimate));
                session.cookie_renewed = cookie_renewed;
                session.id = Some(candidate.id);
                session.version = stored.version;
                session.state = state;
                session.created = created;
                session.expires_at = stored.expires_at;
                session.rotated = candidate.key_index > 0;
                Ok(session)
            }
            None if self.candidates.is_empty() => Ok(ServerSession::fresh(config, now)),
            None => Err(self),
        }
    }
}

/// A loaded record, decoded, if it is still good at `now`.
fn usable_record(config: &ServerConfig, stored: Stored, now: f64) -> Option<(Stored, f64, State)> {
    let (created, state) = decode_record(&stored.data)?;
    let s = config.session();
    let good = stored.expires_at > now
        && !policy::lifetime_exceeded(now, created, s.max_lifetime())
        && !policy::is_revoked(created, s.not_before())
        && !policy::is_from_future(now, created, s.max_future_skew());
    good.then_some((stored, created, state))
}

fn encode_record(created: f64, state: &State) -> Result<Vec<u8>, FinishError> {
    let mut out = Vec::with_capacity(FRAME_CAPACITY);
    out.extend_from_slice(b"{\"created\": ");
    write_float(created, &mut out).map_err(|_| FinishError::Encode)?;
    out.extend_from_slice(b", \"state\": ");
    write_object(state, &mut out).map_err(|_| FinishError::Encode)?;
    out.push(b'}');
    Ok(out)
}

fn decode_record(data: &[u8]) -> Option<(f64, State)> {
    decode_record_direct(data).or_else(|| decode_record_value(data))
}

/// The record as [`encode_record`] writes it, `{"created": NUMBER, "state": OBJECT}`
/// (any JSON whitespace), read without building the outer map: the number straight from
/// the text, the state by `serde_json`. `None` for anything else — other keys or order,
/// escaped key names, a zero timestamp, a state nested near the depth limit — and
/// [`decode_record`] then runs the full parse, which decides as before.
fn decode_record_direct(data: &[u8]) -> Option<(f64, State)> {
    /// `"name":` at the start of `rest` (around JSON whitespace), and the bytes after.
    fn field<'a>(rest: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
        let rest = skip_ws(rest).strip_prefix(b"\"")?.strip_prefix(name)?;
        let rest = skip_ws(rest.strip_prefix(b"\"")?).strip_prefix(b":")?;
        Some(skip_ws(rest))
    }
    let rest = field(skip_ws(data).strip_prefix(b"{")?, b"created")?;
    let (created, rest) = number_literal(rest)?;
    let rest = field(skip_ws(rest).strip_prefix(b",")?, b"state")?;
    let (state, rest) = object_prefix(rest)?;
    let rest = skip_ws(rest).strip_prefix(b"}")?;
    skip_ws(rest).is_empty().then_some((created, state))
}

/// The full parse behind [`decode_record`].
fn decode_record_value(data: &[u8]) -> Option<(f64, State)> {
    let Value::Object(mut record) = serde_json::from_slice::<Value>(data).ok()? else {
        return None;
    };
    let created = record.get("created")?.as_f64().filter(|c| c.is_finite())?;
    let Value::Object(state) = record.remove("state")? else {
        return None;
    };
    Some((created, state))
}

pub use crate::session::Modifier;

/// One change this request made, replayed onto a fresh record after a lost save.
enum Op {
    Set(String, Value),
    Remove(String),
    Clear,
    Modify(String, Modifier),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Set(k, _) => write!(f, "Set({k:?})"),
            Op::Remove(k) => write!(f, "Remove({k:?})"),
            Op::Clear => f.write_str("Clear"),
            Op::Modify(k, _) => write!(f, "Modify({k:?})"),
        }
    }
}

fn apply(state: &mut State, op: &Op) {
    match op {
        Op::Set(k, v) => {
            state.insert(k.clone(), v.clone());
        }
        Op::Remove(k) => {
            state.shift_remove(k);
        }
        Op::Clear => state.clear(),
        Op::Modify(k, f) => match f(state.get(k)) {
            Some(v) => {
                state.insert(k.clone(), v);
            }
            None => {
                state.shift_remove(k);
            }
        },
    }
}

/// A server-mode session, loaded (stage 2). Methods mirror the cookie-mode
/// [`crate::Session`]; every change is also recorded so it can be replayed.
#[derive(Debug)]
pub struct ServerSession {
    id: Option<SessionId>,
    version: u64,
    state: State,
    created: f64,
    renewed: f64,
    /// The `renewed` slot of the cookie this request presented (CubicWeb format), or of
    /// the cookie this request sent: what the browser's cookie is judged by.
    cookie_renewed: Option<f64>,
    expires_at: f64,
    ops: Vec<Op>,
    dirty: bool,
    read: bool,
    rotated: bool,
    /// Records removed unconditionally at the end (logout).
    remove_ids: Vec<SessionId>,
    /// A login's move: the old id and the version whose state was copied.
    moved_from: Option<(SessionId, u64)>,
    /// A store operation of this request failed: nothing more is written.
    poisoned: bool,
    now: f64,
}

impl ServerSession {
    fn fresh(config: &ServerConfig, now: f64) -> ServerSession {
        ServerSession {
            id: None,
            version: 0,
            state: State::new(),
            created: now,
            renewed: now,
            cookie_renewed: None,
            expires_at: config.deadline(now, now),
            ops: Vec::new(),
            dirty: false,
            read: false,
            rotated: false,
            remove_ids: Vec::new(),
            moved_from: None,
            poisoned: false,
            now,
        }
    }

    /// True when the session has no stored record yet (new, or its old id was refused).
    pub fn is_new(&self) -> bool {
        self.id.is_none()
    }
    /// The session id, once the session has a stored record (for "log out my other
    /// devices" lists). Treat it as a secret: it is the bearer credential.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }
    /// When the session was created.
    pub fn created(&self) -> f64 {
        self.created
    }
    /// When the session was last renewed: the later of the cookie's own `renewed` slot
    /// and what the record's expiry tells.
    pub fn renewed(&self) -> f64 {
        self.renewed
    }
    /// The loaded record's version (0 when new).
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The state, without counting as a read.
    pub fn peek_state(&self) -> &State {
        &self.state
    }
    /// True when this request changed the session.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
    /// True once a store operation of this request failed: later finishes write nothing
    /// and send no cookie ([`ServerError::Poisoned`]).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn record(&mut self, op: Op) {
        apply(&mut self.state, &op);
        self.ops.push(op);
        self.dirty = true;
    }

    /// Reads a value.
    pub fn get(&mut self, key: &str) -> Option<&Value> {
        self.read = true;
        self.state.get(key)
    }
    /// True when `key` is set.
    pub fn contains_key(&mut self, key: &str) -> bool {
        self.read = true;
        self.state.contains_key(key)
    }
    /// Number of keys.
    pub fn len(&mut self) -> usize {
        self.read = true;
        self.state.len()
    }
    /// True when no key is set.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
    /// Sets a value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        self.record(Op::Set(key.into(), value));
    }
    /// Removes a value, returning it.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let old = self.state.get(key).cloned();
        self.record(Op::Remove(key.to_string()));
        old
    }
    /// Removes every value.
    pub fn clear(&mut self) {
        self.record(Op::Clear);
    }
    /// Read-modify-write of one key that survives concurrent requests: `f` gets the
    /// current value and returns the new one (`None` removes the key). If the save loses
    /// to a concurrent one, `f` runs again on the fresh value. Returns the new value.
    ///
    /// ```
    /// # use pyramid_session::server::*;
    /// # use pyramid_session::SessionConfig;
    /// # let config = ServerConfig::new(SessionConfig::secure("s").build()?, IdCookieFormat::PyramidSessionRedis)?;
    /// # let mut session = Pending::start(&config, None, 1.0).open(&config, None);
    /// let count = session.modify("count", |n| Some((n.and_then(|n| n.as_u64()).unwrap_or(0) + 1).into()));
    /// assert_eq!(count, Some(1.into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn modify<F>(&mut self, key: &str, f: F) -> Option<Value>
    where
        F: Fn(Option<&Value>) -> Option<Value> + Send + Sync + 'static,
    {
        self.modify_boxed(key, Box::new(f))
    }

    /// The recorded form of [`ServerSession::modify`], for boxed functions.
    pub fn modify_boxed(&mut self, key: &str, f: Modifier) -> Option<Value> {
        self.record(Op::Modify(key.to_string(), f));
        self.state.get(key).cloned()
    }

    /// Logs out: the stored record is removed and the data dropped. Writing afterwards in
    /// the same request starts a new session under a new id.
    pub fn invalidate(&mut self) {
        if let Some(id) = self.id.take() {
            self.remove_ids.push(id);
        }
        if let Some((id, _)) = self.moved_from.take() {
            self.remove_ids.push(id);
        }
        self.state.clear();
        self.ops.clear();
        self.dirty = false;
        self.version = 0;
        self.created = self.now;
        self.renewed = self.now;
    }

    /// Moves the data to a new id and removes the old record: call it at login, against
    /// session fixation. The old record is removed only if it still has the version
    /// whose state was copied; when a concurrent request wrote to it meanwhile, its
    /// fresh state is moved instead (with this request's changes replayed on it), so
    /// an acknowledged write on the old id is never lost.
    pub fn regenerate_id(&mut self) {
        if let Some(id) = self.id.take() {
            self.moved_from = Some((id, self.version));
            self.version = 0;
            self.dirty = true;
        }
    }

    /// Stage 3: plans the store writes and the cookie. `failed` says the request ended in
    /// an error; with `set_on_exception` off nothing at all is written then.
    ///
    /// Fails with [`ServerError::Poisoned`] when an earlier finish of this request did not
    /// complete (a store operation failed or the plan was abandoned).
    pub fn finish<'s>(
        &'s mut self,
        config: &'s ServerConfig,
        failed: bool,
        rng: &mut impl RandomSource,
    ) -> Result<Finisher<'s>, ServerError> {
        if self.poisoned {
            return Err(ServerError::Poisoned);
        }
        let mut steps = VecDeque::new();
        let mut cookie = CookieAction::None;
        if failed && !config.session().set_on_exception() {
            return Ok(Finisher::new(self, config, steps, cookie));
        }
        let had_old = !self.remove_ids.is_empty() || self.moved_from.is_some();
        let now = self.now;
        match &self.id {
            None => {
                // A new (or re-keyed) session is only stored once it holds something.
                if self.dirty && !self.state.is_empty() {
                    self.id = Some(SessionId::generate(rng).map_err(|_| ServerError::Random)?);
                    self.renewed = now;
                    self.expires_at = config.deadline(now, self.created);
                    steps.push_back(Step::Create);
                    cookie = CookieAction::Set;
                } else if had_old {
                    cookie = CookieAction::Remove;
                }
            }
            Some(_) => {
                // Two renewals, each by Pyramid's reissue rule: the record's expiry
                // (extended by a write, or by a touch on a read), and the browser's
                // cookie, judged by its own `renewed` slot whatever the store did — a
                // writer's cookie ages even though every write renews the record.
                let extend = config.extension_due(now, self.expires_at, self.created);
                let cookie_due = match self.cookie_renewed {
                    Some(renewed) => {
                        policy::reissue_due(now, renewed, config.session().reissue_time())
                    }
                    // The cookie carries no time: it follows the record.
                    None => extend,
                };
                if self.dirty {
                    self.renewed = now;
                    self.expires_at = config.deadline(now, self.created);
                    steps.push_back(Step::Save);
                } else if self.read && (extend || cookie_due) {
                    // A re-sent cookie is good for a full timeout: so must the record be.
                    let extended = config.deadline(now, self.created);
                    if extended > self.expires_at {
                        self.renewed = now;
                        self.expires_at = extended;
                        steps.push_back(Step::Touch);
                    }
                }
                if cookie_due && (self.dirty || self.read) || self.rotated {
                    cookie = CookieAction::Set;
                }
            }
        }
        // Old ids go last, so a failed create leaves the old session intact.
        if self.moved_from.is_some() {
            steps.push_back(Step::RemoveMoved);
        }
        for id in self.remove_ids.drain(..) {
            steps.push_back(Step::Remove(id.store_key()));
        }
        // Until the plan completes, a later finish in this request writes nothing.
        self.poisoned = !steps.is_empty();
        Ok(Finisher::new(self, config, steps, cookie))
    }

    /// The record's state after a lost compare-and-set: `fresh` with this request's
    /// changes replayed on it. `None` when the record is gone or undecodable.
    fn replay_on(&self, fresh: Option<Stored>) -> Option<(f64, State, u64)> {
        let stored = fresh?;
        let (created, mut state) = decode_record(&stored.data)?;
        for op in &self.ops {
            apply(&mut state, op);
        }
        Some((created, state, stored.version))
    }
}

impl crate::session::SessionData for ServerSession {
    fn read(&mut self, key: &str) -> Option<&Value> {
        self.get(key)
    }
    fn write(&mut self, key: &str, value: Value) {
        self.insert(key, value);
    }
    fn update(&mut self, key: &str, f: Modifier) -> Option<Value> {
        self.modify_boxed(key, f)
    }
}

#[derive(Debug)]
enum Step {
    Create,
    Save,
    /// A reload after a lost compare-and-set, then the save again.
    Reload,
    Touch,
    Remove(StoreKey),
    /// A login's move: remove the old record if it still has the copied version.
    RemoveMoved,
    /// A reload of the old record after [`Step::RemoveMoved`] lost.
    ReloadMoved,
    /// Backoff before a retry.
    Wait(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CookieAction {
    None,
    Set,
    Remove,
}

/// One store operation the driver must run, then report with [`Finisher::complete`].
#[derive(Debug)]
pub enum StoreOp<'a> {
    /// [`Store::load`].
    Load {
        /// Record key.
        key: StoreKey,
        /// Request time.
        now: f64,
    },
    /// [`Store::create`].
    Create {
        /// Record key.
        key: StoreKey,
        /// Encoded record.
        data: &'a [u8],
        /// Expiry.
        expires_at: f64,
        /// Request time.
        now: f64,
    },
    /// [`Store::save`].
    Save {
        /// Record key.
        key: StoreKey,
        /// Encoded record.
        data: &'a [u8],
        /// Version the record must still have.
        expected_version: u64,
        /// Expiry.
        expires_at: f64,
        /// Request time.
        now: f64,
    },
    /// [`Store::touch`].
    Touch {
        /// Record key.
        key: StoreKey,
        /// New expiry.
        expires_at: f64,
        /// Request time.
        now: f64,
    },
    /// [`Store::remove`].
    Remove {
        /// Record key.
        key: StoreKey,
    },
    /// [`Store::remove_if`].
    RemoveIf {
        /// Record key.
        key: StoreKey,
        /// Version the record must still have.
        expected_version: u64,
        /// Request time.
        now: f64,
    },
    /// [`Store::wait`]: back off before the next operation.
    Wait {
        /// How long.
        delay: Duration,
    },
}

/// What the store answered to a [`StoreOp`].
#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    /// Answer to `Load`.
    Loaded(Option<Stored>),
    /// Answer to `Create`: false when the key was taken.
    Created(bool),
    /// Answer to `Save`.
    Saved(SaveOutcome),
    /// Answer to `Touch`: false when the record was gone.
    Touched(bool),
    /// Answer to `Remove`.
    Removed,
    /// Answer to `RemoveIf`.
    RemovedIf(RemoveOutcome),
    /// Answer to `Wait`.
    Waited,
}

/// The end of a server-mode request, as a sequence of store operations (stage 3).
///
/// ```text
/// while let Some(op) = finisher.next_op()? { let r = run(op)?; finisher.complete(r)?; }
/// let set_cookie = finisher.into_cookie()?;
/// ```
///
/// If the driver stops early (a store error), the session stays poisoned: a later
/// finish in the same request writes nothing ([`ServerError::Poisoned`]).
#[derive(Debug)]
pub struct Finisher<'s> {
    session: &'s mut ServerSession,
    config: &'s ServerConfig,
    steps: VecDeque<Step>,
    cookie: CookieAction,
    retries: u32,
    waited: Duration,
    /// Set when the plan must end in an error once its clean-up steps ran.
    failure: Option<ServerError>,
    data: Vec<u8>,
}

impl<'s> Finisher<'s> {
    fn new(
        session: &'s mut ServerSession,
        config: &'s ServerConfig,
        steps: VecDeque<Step>,
        cookie: CookieAction,
    ) -> Finisher<'s> {
        Finisher {
            session,
            config,
            steps,
            cookie,
            retries: 0,
            waited: Duration::ZERO,
            failure: None,
            data: Vec::new(),
        }
    }

    /// The number of operations still planned (reloads after conflicts add more).
    pub fn remaining(&self) -> usize {
        self.steps.len()
    }

    /// The record key; Create, Save, Reload and Touch are only planned once the session
    /// has an id, so a missing one is an internal error, never a write to a made-up key.
    fn key(&self) -> Result<StoreKey, ServerError> {
        self.session
            .id
            .as_ref()
            .map(SessionId::store_key)
            .ok_or_else(|| internal("store write planned without a session id"))
    }

    fn moved_from(&self) -> Result<(StoreKey, u64), ServerError> {
        self.session
            .moved_from
            .as_ref()
            .map(|(id, version)| (id.store_key(), *version))
            .ok_or_else(|| internal("move planned without an old id"))
    }

    /// The next operation to run, or `None` when all are done.
    pub fn next_op(&mut self) -> Result<Option<StoreOp<'_>>, ServerError> {
        let now = self.session.now;
        let expires_at = self.session.expires_at;
        let Some(step) = self.steps.front() else {
            return Ok(None);
        };
        Ok(Some(match step {
            Step::Remove(key) => StoreOp::Remove { key: *key },
            Step::Wait(delay) => StoreOp::Wait { delay: *delay },
            Step::RemoveMoved => {
                let (key, expected_version) = self.moved_from()?;
                StoreOp::RemoveIf {
                    key,
                    expected_version,
                    now,
                }
            }
            Step::ReloadMoved => StoreOp::Load {
                key: self.moved_from()?.0,
                now,
            },
            Step::Reload => StoreOp::Load {
                key: self.key()?,
                now,
            },
            Step::Touch => StoreOp::Touch {
                key: self.key()?,
                expires_at,
                now,
            },
            Step::Create | Step::Save => {
                let key = self.key()?;
                let create = matches!(step, Step::Create);
                self.data = encode_record(self.session.created, &self.session.state)
                    .map_err(ServerError::Finish)?;
                if create {
                    StoreOp::Create {
                        key,
                        data: &self.data,
                        expires_at,
                        now,
                    }
                } else {
                    StoreOp::Save {
                        key,
                        data: &self.data,
                        expected_version: self.session.version,
                        expires_at,
                        now,
                    }
                }
            }
        }))
    }

    fn retry(&mut self) -> Result<(), ServerError> {
        self.retries += 1;
        if self.retries > self.config.max_retries() {
            return Err(ServerError::Contended);
        }
        Ok(())
    }

    /// Counts a retry after a lost compare-and-set and plans its backoff: exponential
    /// from [`BACKOFF_BASE`] to [`BACKOFF_CAP`], with full jitter from `rng`, within the
    /// configured time budget.
    fn back_off(&mut self, rng: &mut impl RandomSource) -> Result<(), ServerError> {
        self.retry()?;
        let doublings = self.retries.saturating_sub(1).min(16);
        let ceiling = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP);
        let mut bytes = [0u8; 4];
        rng.fill(&mut bytes).map_err(|_| ServerError::Random)?;
        let fraction = u64::from(u32::from_le_bytes(bytes));
        let nanos = (ceiling.as_nanos() as u64).saturating_mul(fraction) >> 32;
        let delay = Duration::from_nanos(nanos);
        if self.waited + delay > self.config.retry_budget() {
            return Err(ServerError::Contended);
        }
        self.waited += delay;
        if !delay.is_zero() {
            self.steps.push_front(Step::Wait(delay));
        }
        Ok(())
    }

    /// The old record of a move is gone (a concurrent logout, or expiry): the logout
    /// wins. A new record already written for the move is removed again, and the plan
    /// ends in [`ServerError::Removed`] without a cookie.
    fn move_lost(&mut self) -> Result<(), ServerError> {
        self.session.moved_from = None;
        if self.session.version > 0 {
            let key = self.key()?;
            self.steps.push_front(Step::Remove(key));
        }
        self.session.id = None;
        self.failure = Some(ServerError::Removed);
        Ok(())
    }

    /// Reports the store's answer to the operation [`Finisher::next_op`] returned.
    /// `rng` makes a new id when a created id collides, and jitters backoffs.
    pub fn complete(
        &mut self,
        result: OpResult,
        rng: &mut impl RandomSource,
    ) -> Result<(), ServerError> {
        let step = self.steps.pop_front();
        match (step, result) {
            (Some(Step::Create), OpResult::Created(true)) => {
                self.session.version = 1;
                Ok(())
            }
            (Some(Step::Create), OpResult::Created(false)) => {
                self.retry()?;
                self.session.id = Some(SessionId::generate(rng).map_err(|_| ServerError::Random)?);
                self.steps.push_front(Step::Create);
                Ok(())
            }
            (Some(Step::Save), OpResult::Saved(SaveOutcome::Saved { version })) => {
                self.session.version = version;
                Ok(())
            }
            (Some(Step::Save), OpResult::Saved(SaveOutcome::Conflict)) => {
                self.steps.push_front(Step::Save);
                self.steps.push_front(Step::Reload);
                self.back_off(rng)
            }
            (Some(Step::Save), OpResult::Saved(SaveOutcome::Missing)) => Err(ServerError::Removed),
            (Some(Step::Reload), OpResult::Loaded(fresh)) => {
                let (created, state, version) =
                    self.session.replay_on(fresh).ok_or(ServerError::Removed)?;
                self.session.state = state;
                self.session.created = created;
                self.session.version = version;
                Ok(())
            }
            (Some(Step::Touch), OpResult::Touched(found)) => {
                if !found {
                    // Removed meanwhile: nothing to extend, nothing to re-send.
                    self.cookie = CookieAction::None;
                }
                Ok(())
            }
            (Some(Step::Remove(_)), OpResult::Removed) => Ok(()),
            (Some(Step::Wait(_)), OpResult::Waited) => Ok(()),
            (Some(Step::RemoveMoved), OpResult::RemovedIf(RemoveOutcome::Removed)) => {
                self.session.moved_from = None;
                Ok(())
            }
            (Some(Step::RemoveMoved), OpResult::RemovedIf(RemoveOutcome::Conflict)) => {
                self.steps.push_front(Step::ReloadMoved);
                self.back_off(rng)
            }
            (Some(Step::RemoveMoved), OpResult::RemovedIf(RemoveOutcome::Missing)) => {
                self.move_lost()
            }
            (Some(Step::ReloadMoved), OpResult::Loaded(fresh)) => {
                let Some((created, state, version)) = self.session.replay_on(fresh) else {
                    return self.move_lost();
                };
                let session = &mut *self.session;
                session.state = state;
                session.created = created;
                if let Some((_, copied)) = session.moved_from.as_mut() {
                    *copied = version;
                }
                // Write the fresh state under the new id, then try the removal again.
                self.steps.push_front(Step::RemoveMoved);
                if session.version > 0 {
                    self.steps.push_front(Step::Save);
                } else if !session.state.is_empty() {
                    session.id = Some(SessionId::generate(rng).map_err(|_| ServerError::Random)?);
                    session.expires_at = self.config.deadline(session.now, session.created);
                    self.steps.push_front(Step::Create);
                    self.cookie = CookieAction::Set;
                }
                Ok(())
            }
            (step, result) => Err(internal(alloc::format!(
                "driver answered {result:?} to {step:?}"
            ))),
        }
    }

    /// After every operation succeeded: the `Set-Cookie` value to send, if any.
    pub fn into_cookie(self) -> Result<Option<String>, ServerError> {
        if !self.steps.is_empty() {
            return Err(internal(
                "cookie requested before the store writes finished",
            ));
        }
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        // Everything planned is written: a later finish in the same request (after an
        // early `save`) only writes what changes after this point.
        self.session.poisoned = false;
        self.session.dirty = false;
        self.session.ops.clear();
        self.session.rotated = false;
        let s = self.config.session();
        match (self.cookie, &self.session.id) {
            (CookieAction::Set, Some(id)) => {
                let whole = policy::whole_seconds(self.session.now);
                let value = self
                    .config
                    .format()
                    .encode(s, id, Accessed::Int(whole), self.session.created)
                    .map_err(ServerError::Finish)?;
                if self.config.format() == IdCookieFormat::CubicWeb {
                    self.session.cookie_renewed = Some(whole as f64);
                }
                let cookie = s.cookie();
                Ok(Some(render_set_cookie(
                    cookie.name(),
                    &value,
                    &cookie.attributes(),
                    self.session.now,
                )))
            }
            (CookieAction::Remove, _) => Ok(Some(s.cookie().removal())),
            _ => Ok(None),
        }
    }
}

/// A misuse of the plan by its driver (reported as a store error of kind `Other`).
fn internal(message: impl fmt::Display) -> ServerError {
    ServerError::Store(StoreError::new(StoreErrorKind::Other, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn direct_record_decoding_agrees_with_the_full_parse() {
        let states = [
            "{}",
            r#"{"user": "ada", "n": [1, 2.5, {"a": null}]}"#,
            r#"{"a": [1e999]}"#,
            r#"{"$serde_json::private::Number": "12"}"#,
            r#"{"a": 1"#,
            "[]",
            "null",
        ];
        let createds = ["1700000000.25", "0", "-0", "1e400", "1E2", "01", "\"1\""];
        let mut checked = 0;
        for state in states {
            for created in createds {
                for ws in ["", " ", "\n\t"] {
                    for (a, b) in [
                        ("created", "state"),
                        ("state", "created"),
                        ("cr\\u0065ated", "state"),
                    ] {
                        let (first, second) = if a == "state" {
                            (state, created)
                        } else {
                            (created, state)
                        };
                        let record = format!("{ws}{{{ws}\"{a}\"{ws}:{ws}{first}{ws},{ws}\"{b}\"{ws}:{ws}{second}{ws}}}{ws}");
                        let got = decode_record(record.as_bytes());
                        let want = decode_record_value(record.as_bytes());
                        match (&got, &want) {
                            (Some((c1, s1)), Some((c2, s2))) => {
                                assert_eq!(c1.to_bits(), c2.to_bits(), "{record}");
                                assert_eq!(s1, s2, "{record}");
                            }
                            _ => assert_eq!(got, want, "{record}"),
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 7 * 7 * 3 * 3);
        for extra in ["", ", \"x\": 1", "}", "x"] {
            let record = format!("{{\"created\": 1.5, \"state\": {{}}{extra}}}");
            assert_eq!(
                decode_record(record.as_bytes()),
                decode_record_value(record.as_bytes()),
                "{record}"
            );
        }
    }

    #[test]
    fn records_as_written_take_the_direct_path() {
        let mut state = State::new();
        state.insert("user".into(), Value::from("ada"));
        let record = encode_record(1_700_000_000.25, &state).unwrap();
        assert_eq!(
            decode_record_direct(&record),
            Some((1_700_000_000.25, state))
        );
    }
}
