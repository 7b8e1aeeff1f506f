//! pyramid_session_redis's own Redis layout (feature `redis`):
//! [`PyramidSessionRedisStore`] (blocking, a small connection pool) and
//! [`AsyncPyramidSessionRedisStore`] (a `ConnectionManager`, or any multiplexed async
//! connection), for sessions shared with a Python app on pyramid_session_redis 1.8 — the
//! same Redis, the same secret: a session either side writes, the other reads and
//! continues.
//!
//! The crate's own [`RedisStore`](super::RedisStore) keeps hashes under
//! `prefix + sha256(id)`, which Python never looks at. This store writes what
//! pyramid_session_redis 1.8.1 writes, and reads what it reads.
//!
//! # Layout
//!
//! References are to pyramid_session_redis 1.8.1's sources.
//!
//! * **Key**: the session id itself (`session.py:521`, `:595`),
//!   `prefix + secrets.token_urlsafe(48)`: Python's `redis.sessions.prefix` is prepended
//!   to the id by the id generator (`util.py:180-188`, `:442`), so the cookie's id is
//!   the Redis key. The server configuration must use Python's id scheme,
//!   [`ServerConfig::with_id_scheme`](crate::server::ServerConfig::with_id_scheme)`(`[`IdScheme::pyramid_session_redis`](crate::server::IdScheme::pyramid_session_redis)`(prefix))`;
//!   a hashed key is refused with a [`StoreError`] that says so.
//! * **Value**: a plain string, `pickle.dumps(payload)` (`__init__.py:130`) at protocol
//!   4 (CPython 3.8 to 3.13's default) of `{"m": state, "c": created, "v": 1, "x":
//!   expires, "t": timeout}` in that order, what `encode_session_payload` builds for a
//!   session it persists (`util.py:237-250`). `c` is an int, Python's `int_time()`, the
//!   ceiling of the time (`util.py:191-192`): the record's `created` rounded up; `t` the
//!   configured timeout; `x`, present only with
//!   [`PyramidSessionRedisOptions::python_expires`] (Python's default, `__init__.py:142`),
//!   is `ceil(now) + ttl`: for a record expiring a full timeout from now,
//!   `int_time() + timeout` as Python writes it (`util.py:249`). The bytes are what
//!   CPython's `pickle.dumps` writes for the value as `pickle.loads` builds it (Python's
//!   own writes may differ only in which equal strings they memoize once, which depends
//!   on object identity in the Python process).
//! * **TTL**: with [`PyramidSessionRedisOptions::set_redis_ttl`] (Python's default,
//!   `__init__.py:133`), every write sets one, as Python's `SETEX key timeout value`
//!   does (`session.py:595`): the span the core computed, `expires_at - now`, in
//!   milliseconds rounded up (a full timeout is exactly Python's TTL), so the key lives
//!   as long as the application meant even when the application host's clock and the
//!   Redis server's disagree (as in [`RedisStore`](super::RedisStore)). Without it, a
//!   plain `SET` (`session.py:597`), and only `x` expires the session.
//!
//! The state's values are held as tagged JSON ([`PyValue::to_tagged`]), as for pickled
//! cookies: str, ints of any size, floats, lists and str-keyed dicts are plain JSON, a
//! tuple is `{"$tuple": [...]}`, an object (a `datetime`, a form-error object) is kept as
//! opaque data — never imported or instantiated — and written back as it was read. A
//! value that is not valid tagged JSON (a one-key object whose key starts with `$` but
//! names no tag) has no Python form: its write fails with a [`StoreError`] of kind
//! [`StoreErrorKind::Other`].
//!
//! # Reading what Python wrote
//!
//! A record is live, as Python's `RedisSession._make_session_state` judges it
//! (`session.py:390-404`), when the key holds a pickle of a dict with a dict `m` and a
//! number `c`, a `v` of at least 1, and no `x` that has passed (`if x and int_time() >
//! x`: a timeout). Anything else counts as missing — a fresh session, never a panic or
//! an error: no key (`session.py:526`), a value that is not a pickle or that the safe
//! reader refuses (beyond its [`Limits`], 1 MiB by default),
//! not a dict, without `m` or `c`, a legacy payload, an expired one. On an undecodable
//! value Python raises unless `deserialized_fails_new` is set (`session.py:534-542`);
//! this store always behaves as if it were. A state key that is not a `str` (Python
//! allows `session[1] = ...`) cannot be a key of the crate's state: such a record counts
//! as missing and the session starts afresh in Rust (Python keeps reading the old one
//! under its own cookie). The old value is left in place, as Python leaves it.
//!
//! The record expires at the earlier of the key's TTL and `x` (its floor: Python
//! compares it with the ceiling of the time); with neither, it is reported as expiring
//! a timeout from now.
//!
//! # Versions and what is guaranteed
//!
//! Python writes no version, so the compare-and-set token is derived from the value
//! itself: the first 15 hex digits of its SHA-1 (computed by Redis, `redis.sha1hex`),
//! as a `u64`, never 0. Every write changes it — `x` moves with every write — and so
//! does any write by Python.
//!
//! * **Among Rust writers** the contract holds as for the crate's other stores: `Save`
//!   replaces the value only if it still has the version read, `RemoveIf` deletes only
//!   then, `Create` inserts only where no live record is; each check and its write run in
//!   one Lua script on one key, after a read that checks the record is live (the
//!   liveness rules need the pickle decoded, which Lua cannot do, so `Save`, `Touch`,
//!   `RemoveIf` and a `Create` on an occupied key take two round trips; `Load`, `Remove`
//!   and a `Create` on a free key one). N Rust writers incrementing one counter never
//!   lose an update.
//! * **Against Python writers** only half of it can hold. Rust detects every Python
//!   write between its load and its save as a conflict, reloads, replays its own changes
//!   and saves again. Python overwrites blindly (`SETEX` of what it loaded at the start
//!   of its request, plus its own changes): a Rust write that lands between Python's load
//!   and Python's save is lost, exactly as a concurrent Python write would be. Python
//!   also rewrites the value on requests that only read it (its change detection sees
//!   `x` move), so a Rust save racing a Python read is retried too.
//! * `Touch` must move `x` too, or Python (which checks `x`, not the TTL) would time the
//!   session out while Rust keeps renewing it: a touch rewrites the value with the new
//!   `x` (a compare-and-set on the version read), which changes the version, as Python's
//!   own read requests do. Within the second `x` is unchanged and only the TTL moves.
//!   A later save in the same request then meets a conflict and goes through one reload.
//! * A `Save` whose record passed its `x` between the read and the write (a window of
//!   one round trip) is written, as Python does with the session it loaded.
//!
//! Python-side behaviours this store does not change:
//!
//! * pyramid_session_redis deletes an existing session it finds empty at the end of a
//!   request, and its cookie (`invalidate_empty_session`, its default since 1.8,
//!   `__init__.py:716-731`), and never stores a new empty one. The core does not store a
//!   new empty session either, but saves an emptied one; Python deletes it on its next
//!   request. A logout is a `DEL` on both sides (`session.py:553-563`).
//! * On a request that only reads, Python re-persists the value when its `x` would move
//!   (`detect_changes`, `session.py:139-150`), else only refreshes the TTL with `EXPIRE`
//!   (`session.py:601-615`); the core touches the record, which this store does the same
//!   way.
//! * A session timeout changed in Python with `adjust_session_timeout` is stored in `t`;
//!   Rust writes the configured timeout and the expiry the core computed.
//!   `timeout_trigger` (Python moves `x` only past a threshold, `util.py:246-249`) is a
//!   Python-side economy: Rust moves `x` on every write and touch, which keeps the
//!   session alive at least as long.

extern crate std;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use redis::{Script, Value as Reply};

use super::redis::{bounded, connection_manager, Call, Pool, MAX_TTL_MS};
use crate::codec::json::State;
use crate::codec::record::{decode_record, encode_record};
use crate::error::ConfigError;
use crate::pickle::{self, Limits, PyInt, PyValue};
use crate::server::store::{allocates_no_ids, require_key, BoxFuture, CreateOutcome, TouchOutcome};
use crate::server::{
    AsyncStore, OpResult, Record, RemoveOutcome, SaveOutcome, Store, StoreError, StoreErrorKind,
    StoreKey, StoreOp,
};

pub use super::redis::DEFAULT_TIMEOUT;

/// pyramid_session_redis's default `timeout`, in seconds.
pub const DEFAULT_SESSION_TIMEOUT: u64 = 1200;

/// The pickle protocol of the value: `pickle.dumps`' default on CPython 3.8 to 3.13.
pub const PROTOCOL: u8 = 4;

/// pyramid_session_redis's `SESSION_API_VERSION`, the payload's `v`.
const SESSION_API_VERSION: i64 = 1;

/// The version of a value whose hash prefix is all zeros (versions are never 0): one
/// past the largest 15-hex-digit prefix, so it is no other value's version.
const ZERO_HASH_VERSION: u64 = 1 << 60;

/// How many times a touch re-reads a value rewritten between its read and its write.
const TOUCH_ATTEMPTS: u8 = 3;

/// The options of Python's `RedisSessionFactory` that decide what is written
/// (`redis.sessions.timeout`, `…python_expires`, `…set_redis_ttl`), with Python's
/// defaults: a timeout of 1200 s, `x` written, a TTL set.
///
/// The others do not change the layout: `prefix` is the id scheme's
/// ([`IdScheme::pyramid_session_redis`](crate::server::IdScheme::pyramid_session_redis)),
/// `set_redis_ttl_readheavy` only changes how Python reads, `timeout_trigger` only when
/// Python moves `x` (it turns `python_expires` on, as in Python:
/// [`PyramidSettings::pyramid_session_redis_options`](crate::settings::PyramidSettings::pyramid_session_redis_options)
/// applies that).
///
/// The timeout should be the server configuration's idle timeout too
/// ([`SessionConfig`](crate::SessionConfig)'s, which
/// [`PyramidSettings::builder`](crate::settings::PyramidSettings::builder) also reads from
/// `redis.sessions.timeout`): the TTL and `x` Rust writes follow the expiry the core
/// computes, `t` the timeout here, which Python uses for its own next write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PyramidSessionRedisOptions {
    timeout: u64,
    python_expires: bool,
    set_redis_ttl: bool,
}

impl Default for PyramidSessionRedisOptions {
    fn default() -> PyramidSessionRedisOptions {
        PyramidSessionRedisOptions::new(DEFAULT_SESSION_TIMEOUT)
    }
}

impl PyramidSessionRedisOptions {
    /// Python's defaults with `timeout` seconds (`redis.sessions.timeout`): `x` written
    /// and a TTL set.
    pub fn new(timeout: u64) -> PyramidSessionRedisOptions {
        PyramidSessionRedisOptions {
            timeout,
            python_expires: true,
            set_redis_ttl: true,
        }
    }

    /// Sets whether `x` (the expiry Python checks on load) is written
    /// (`redis.sessions.python_expires`, default true). It is always checked on load,
    /// as Python does.
    #[must_use]
    pub fn with_python_expires(mut self, on: bool) -> PyramidSessionRedisOptions {
        self.python_expires = on;
        self
    }

    /// Sets whether writes set a TTL on the key (`redis.sessions.set_redis_ttl`, default
    /// true); without, Redis is expected to evict as an LRU cache and `x` expires the
    /// session.
    #[must_use]
    pub fn with_set_redis_ttl(mut self, on: bool) -> PyramidSessionRedisOptions {
        self.set_redis_ttl = on;
        self
    }

    /// The session timeout in seconds: the payload's `t`.
    pub fn timeout(&self) -> u64 {
        self.timeout
    }
    /// Whether `x` is written.
    pub fn python_expires(&self) -> bool {
        self.python_expires
    }
    /// Whether writes set a TTL.
    pub fn set_redis_ttl(&self) -> bool {
        self.set_redis_ttl
    }

    /// Refuses what would let a record outlive its expiry: no timeout (Python's 0 or
    /// `None`, sessions that never expire), or neither `x` nor a TTL. Server mode needs
    /// every record to expire ([`ConfigError::NoExpiry`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout == 0 || !(self.python_expires || self.set_redis_ttl) {
            return Err(ConfigError::NoExpiry);
        }
        Ok(())
    }
}

/// The read every operation but `Remove` starts from: the value, its version (the first
/// 15 hex digits of its SHA-1) and its `PTTL`, or nil.
const READ: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, string.sub(redis.sha1hex(v), 1, 15), redis.call('PTTL', KEYS[1])}
";

/// The one write: if the key still holds the value with hash prefix `ARGV[1]` (`''`:
/// if the key is absent), `set` it to `ARGV[4]` with a TTL of `ARGV[3]` ms (`-1`: none,
/// a plain `SET`), `expire` it, or `del` it; a TTL of 0 deletes. -1: the key is gone,
/// -2: it holds another value; else the new value's hash prefix (`set`) or 1.
const CAS: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(redis.sha1hex(cur), 1, 15) ~= ARGV[1] then return -2 end
elseif ARGV[1] ~= '' then
  return -1
end
local ttl = tonumber(ARGV[3])
if ARGV[2] == 'del' or ttl == 0 then
  redis.call('DEL', KEYS[1])
elseif ARGV[2] == 'expire' then
  redis.call('PEXPIRE', KEYS[1], ttl)
elseif ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[4])
end
if ARGV[2] == 'set' then return string.sub(redis.sha1hex(ARGV[4]), 1, 15) end
return 1
";

/// The key's TTL in milliseconds: `expires_at - now` rounded up (a span within a
/// microsecond of whole milliseconds is that many, so a full timeout is exactly
/// Python's `SETEX` TTL), at most [`MAX_TTL_MS`]. Zero for a deadline that has passed
/// (or NaN): the write deletes the key.
fn ttl_ms(expires_at: f64, now: f64) -> i64 {
    let ms = (expires_at - now) * 1000.0;
    let nearest = ms.round();
    let ms = if (ms - nearest).abs() < 1e-3 {
        nearest
    } else {
        ms.ceil()
    };
    if ms > 0.0 {
        ms.min(MAX_TTL_MS) as i64
    } else {
        0
    }
}

/// Python's `int_time()`: the ceiling of `now`, in whole seconds (saturating).
fn int_time(now: f64) -> i64 {
    now.ceil() as i64
}

/// The `x` to write for a TTL of `ttl` ms at `now`: `int_time() + ttl` in whole
/// seconds, rounded up, so Python never times the record out before its deadline.
fn python_x(now: f64, ttl: i64) -> i64 {
    int_time(now).saturating_add(ttl.saturating_add(999) / 1000)
}

fn key_text(key: &StoreKey) -> Result<&str, StoreError> {
    if key.is_hashed() {
        return Err(StoreError::new(
            StoreErrorKind::Other,
            "PyramidSessionRedisStore keys are the session ids themselves, as \
             pyramid_session_redis looks them up, not their hashes: configure \
             ServerConfig::with_id_scheme(IdScheme::pyramid_session_redis(prefix))",
        ));
    }
    Ok(key.as_str())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, what)
}

/// The version a hash prefix stands for.
fn version(hash: &str) -> Result<u64, StoreError> {
    if hash.len() != 15 {
        return Err(corrupt("redis answered a malformed value hash"));
    }
    match u64::from_str_radix(hash, 16) {
        Ok(0) => Ok(ZERO_HASH_VERSION),
        Ok(v) => Ok(v),
        Err(_) => Err(corrupt("redis answered a malformed value hash")),
    }
}

/// The `str` key `name` of a payload dict.
fn field<'p>(pairs: &'p [(PyValue, PyValue)], name: &str) -> Option<&'p PyValue> {
    pairs.iter().find_map(|(k, v)| match k {
        PyValue::Str(s) if s.as_str() == Some(name) => Some(v),
        _ => None,
    })
}

/// What a payload's `x` says, as Python's `if x: if int_time() > x` reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expiry {
    /// No `x`, or one that is false or never passes (`None`, 0, NaN, `inf`, a huge int).
    Never,
    /// Expired once the time passes this (the floor of `x`).
    After(f64),
    /// Already expired (`-inf`, a huge negative int), or an `x` Python cannot compare
    /// with a number (it raises): counts as missing.
    Dead,
}

fn python_expiry(x: Option<&PyValue>) -> Expiry {
    let Some(x) = x else {
        return Expiry::Never;
    };
    match x {
        PyValue::None | PyValue::Bool(false) | PyValue::Int(PyInt::Small(0)) => Expiry::Never,
        PyValue::Bool(true) => Expiry::After(1.0),
        PyValue::Int(PyInt::Small(n)) => Expiry::After(*n as f64),
        PyValue::Int(PyInt::Big { negative, .. }) => {
            if *negative {
                Expiry::Dead
            } else {
                Expiry::Never
            }
        }
        PyValue::Float(f) if *f == 0.0 || f.is_nan() || *f == f64::INFINITY => Expiry::Never,
        PyValue::Float(f) if f.is_finite() => Expiry::After(f.floor()),
        PyValue::Float(_) => Expiry::Dead,
        // Falsy containers and strings pass `if x:`; anything else truthy makes Python's
        // comparison raise.
        PyValue::Str(s) if s.as_bytes().is_empty() => Expiry::Never,
        PyValue::Bytes(b) | PyValue::ByteArray(b) if b.is_empty() => Expiry::Never,
        PyValue::List(v) | PyValue::Tuple(v) | PyValue::Set(v) | PyValue::FrozenSet(v)
            if v.is_empty() =>
        {
            Expiry::Never
        }
        PyValue::Dict(v) if v.is_empty() => Expiry::Never,
        _ => Expiry::Dead,
    }
}

/// Python's `if not version or version < 1`, negated.
fn current_api_version(v: Option<&PyValue>) -> bool {
    match v {
        Some(PyValue::Int(PyInt::Small(n))) => *n >= SESSION_API_VERSION,
        Some(PyValue::Int(PyInt::Big { negative, .. })) => !negative,
        Some(PyValue::Float(f)) => *f >= 1.0,
        Some(PyValue::Bool(b)) => *b,
        _ => false,
    }
}

/// A value, decoded and judged.
#[derive(Debug)]
struct Session {
    /// `c` as stored (kept as it is by a touch).
    c: PyValue,
    /// `c` as the record's `created`.
    created: f64,
    /// `x` as stored, if any.
    x: Option<PyValue>,
    /// `m`, as the crate's state.
    state: State,
}

/// The session a value holds, or `None` when it does not hold one Python would load
/// (see the module docs).
fn decode_session(value: &[u8]) -> Option<(Session, Expiry)> {
    let PyValue::Dict(pairs) = pickle::decode(value, &Limits::with_opaque()).ok()? else {
        return None;
    };
    let PyValue::Dict(m) = field(&pairs, "m")? else {
        return None;
    };
    let c = field(&pairs, "c")?;
    let created = match c {
        PyValue::Int(PyInt::Small(n)) => *n as f64,
        PyValue::Float(f) if f.is_finite() => *f,
        _ => return None,
    };
    if !current_api_version(field(&pairs, "v")) {
        return None;
    }
    let x = field(&pairs, "x");
    let expiry = python_expiry(x);
    let mut state = State::new();
    for (k, v) in m {
        let PyValue::Str(k) = k else {
            return None;
        };
        state.insert(String::from(k.as_str()?), v.to_tagged().ok()?);
    }
    Some((
        Session {
            c: c.clone(),
            created,
            x: x.cloned(),
            state,
        },
        expiry,
    ))
}

/// What the read script answered.
struct Current {
    value: Vec<u8>,
    hash: String,
    pttl: i64,
}

/// A live session, as read.
struct Live {
    session: Session,
    version: u64,
    expires_at: f64,
}

/// What the write script answered.
enum Cas {
    /// The key is gone.
    Missing,
    /// The key holds another value.
    Changed,
    /// Written; the new value's version for a `set`.
    Done(Option<u64>),
}

fn parse<T: redis::FromRedisValue>(reply: Reply) -> Result<T, StoreError> {
    T::from_redis_value(reply).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))
}

fn current(reply: Reply) -> Result<Option<Current>, StoreError> {
    Ok(
        parse::<Option<(Vec<u8>, String, i64)>>(reply)?.map(|(value, hash, pttl)| Current {
            value,
            hash,
            pttl,
        }),
    )
}

fn cas_reply(reply: Reply) -> Result<Cas, StoreError> {
    match reply {
        Reply::Int(-1) => Ok(Cas::Missing),
        Reply::Int(-2) => Ok(Cas::Changed),
        Reply::Int(1) => Ok(Cas::Done(None)),
        Reply::BulkString(hash) => {
            let hash = core::str::from_utf8(&hash)
                .map_err(|_| corrupt("redis answered a malformed value hash"))?;
            Ok(Cas::Done(Some(version(hash)?)))
        }
        Reply::SimpleString(hash) => Ok(Cas::Done(Some(version(&hash)?))),
        _ => Err(corrupt("redis answered an unexpected reply to a write")),
    }
}

/// Where a multi-step operation stands: what the reply to the command just sent means.
#[derive(Debug)]
enum Stage {
    Load,
    Remove,
    /// The insert-if-absent of a create (`again`: after the key vanished once).
    CreateInsert {
        payload: Vec<u8>,
        again: bool,
    },
    /// The read of the value that kept a create out.
    CreateRead {
        payload: Vec<u8>,
        again: bool,
    },
    /// The replacement of a dead value by a create.
    CreateReplace {
        payload: Vec<u8>,
        again: bool,
    },
    SaveRead,
    SaveWrite,
    TouchRead {
        attempt: u8,
    },
    TouchWrite {
        attempt: u8,
    },
    RemoveIfRead,
    RemoveIfDelete,
}

/// What to do next: answer, or send a command and resume at a stage with its reply.
enum Next<'s> {
    Done(OpResult),
    Send(Call<'s>, Stage),
}

fn done(result: OpResult) -> Result<Next<'static>, StoreError> {
    Ok(Next::Done(result))
}

/// The commands, shared by the blocking and async stores.
#[derive(Debug)]
struct Commands {
    options: PyramidSessionRedisOptions,
    read: Script,
    cas: Script,
}

impl Commands {
    fn new(options: PyramidSessionRedisOptions) -> Result<Commands, StoreError> {
        options.validate().map_err(|e| {
            StoreError::new(
                StoreErrorKind::Other,
                alloc::format!("pyramid_session_redis options: {e}"),
            )
        })?;
        Ok(Commands {
            options,
            read: Script::new(READ),
            cas: Script::new(CAS),
        })
    }

    fn read_call(&self, key: &str) -> Call<'_> {
        Call::Script(self.read.key(key))
    }

    fn cas_call(&self, key: &str, expected: &str, mode: &str, ttl: i64, value: &[u8]) -> Call<'_> {
        let mut inv = self.cas.key(key);
        inv.arg(expected).arg(mode).arg(ttl).arg(value);
        Call::Script(inv)
    }

    /// The TTL argument of a write: `ttl` ms, or -1 (none) when no TTL is set — but 0,
    /// which deletes, for a deadline that has passed.
    fn ttl_arg(&self, ttl: i64) -> i64 {
        if ttl > 0 && !self.options.set_redis_ttl {
            -1
        } else {
            ttl
        }
    }

    /// The value Python would write for `m` and `c`, expiring `ttl` ms after `now`.
    fn payload(&self, m: PyValue, c: PyValue, now: f64, ttl: i64) -> Result<Vec<u8>, StoreError> {
        let mut pairs = Vec::with_capacity(5);
        pairs.push((PyValue::str("m"), m));
        pairs.push((PyValue::str("c"), c));
        pairs.push((PyValue::str("v"), PyValue::int(SESSION_API_VERSION)));
        if self.options.python_expires {
            pairs.push((PyValue::str("x"), PyValue::int(python_x(now, ttl))));
        }
        let t = i64::try_from(self.options.timeout).unwrap_or(i64::MAX);
        pairs.push((PyValue::str("t"), PyValue::int(t)));
        pickle::encode(&PyValue::Dict(pairs), PROTOCOL)
            .map_err(|e| StoreError::new(StoreErrorKind::Other, e))
    }

    /// The state as Python's `m`.
    fn managed_dict(state: &State) -> Result<PyValue, StoreError> {
        let pairs = state
            .iter()
            .map(|(k, v)| Ok((PyValue::str(k), PyValue::from_tagged(v)?)))
            .collect::<Result<Vec<_>, pickle::TaggedError>>()
            .map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Other,
                    alloc::format!("a session value is not a Python value: {e}"),
                )
            })?;
        Ok(PyValue::Dict(pairs))
    }

    /// The value for one of the core's records (`{"created", "state"}`).
    fn record_payload(&self, data: &[u8], now: f64, ttl: i64) -> Result<Vec<u8>, StoreError> {
        let (created, state) = decode_record(data).ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Other,
                "the record to write is not a session record",
            )
        })?;
        let c = PyValue::int(int_time(created));
        self.payload(Self::managed_dict(&state)?, c, now, ttl)
    }

    /// The live session the read answered, if any.
    fn live(
        &self,
        current: Option<Current>,
        now: f64,
    ) -> Result<Option<(Live, String)>, StoreError> {
        let Some(current) = current else {
            return Ok(None);
        };
        let Some((session, expiry)) = decode_session(&current.value) else {
            return Ok(None);
        };
        let by_ttl = match current.pttl {
            ms if ms >= 0 => Some(now + ms as f64 / 1000.0),
            _ => None,
        };
        let by_x = match expiry {
            Expiry::Never => None,
            Expiry::After(x) => Some(x),
            Expiry::Dead => return Ok(None),
        };
        let expires_at = match (by_ttl, by_x) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => now + self.options.timeout as f64,
        };
        if expires_at.is_nan() || expires_at <= now {
            return Ok(None);
        }
        let version = version(&current.hash)?;
        Ok(Some((
            Live {
                session,
                version,
                expires_at,
            },
            current.hash,
        )))
    }

    /// The first step of `op` (`Wait` is the drivers').
    fn start(&self, op: &StoreOp<'_>) -> Result<Next<'_>, StoreError> {
        Ok(match *op {
            StoreOp::Load { ref key, .. } => {
                Next::Send(self.read_call(key_text(key)?), Stage::Load)
            }
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => {
                let key = require_key(key, "PyramidSessionRedisStore")?;
                let key = key_text(&key)?;
                let (e, now) = (expires_at.as_secs_f64(), now.as_secs_f64());
                let ttl = ttl_ms(e, now);
                let payload = self.record_payload(data, now, ttl)?;
                let call = self.cas_call(key, "", "set", self.ttl_arg(ttl), &payload);
                Next::Send(
                    call,
                    Stage::CreateInsert {
                        payload,
                        again: false,
                    },
                )
            }
            StoreOp::Save { ref key, .. } => {
                Next::Send(self.read_call(key_text(key)?), Stage::SaveRead)
            }
            StoreOp::Touch { ref key, .. } => Next::Send(
                self.read_call(key_text(key)?),
                Stage::TouchRead { attempt: 1 },
            ),
            StoreOp::Remove { ref key } => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(key_text(key)?);
                Next::Send(Call::Query(cmd), Stage::Remove)
            }
            StoreOp::RemoveIf { ref key, .. } => {
                Next::Send(self.read_call(key_text(key)?), Stage::RemoveIfRead)
            }
            StoreOp::Wait { .. } => Next::Done(OpResult::Waited),
        })
    }

    /// The step after `stage`'s command answered `reply`.
    fn resume(&self, op: &StoreOp<'_>, stage: Stage, reply: Reply) -> Result<Next<'_>, StoreError> {
        let (key, now) = match *op {
            StoreOp::Load { ref key, now }
            | StoreOp::Create {
                key: Some(ref key),
                now,
                ..
            }
            | StoreOp::Save { ref key, now, .. }
            | StoreOp::Touch { ref key, now, .. }
            | StoreOp::RemoveIf { ref key, now, .. } => (key_text(key)?, now.as_secs_f64()),
            StoreOp::Remove { ref key } => (key_text(key)?, 0.0),
            StoreOp::Create { key: None, .. } => {
                return Err(allocates_no_ids("PyramidSessionRedisStore"))
            }
            StoreOp::Wait { .. } => return Ok(Next::Done(OpResult::Waited)),
        };
        match stage {
            Stage::Load => {
                let record = match self.live(current(reply)?, now)? {
                    Some((live, _)) => encode_record(live.session.created, &live.session.state)
                        .ok()
                        .map(|data| Record {
                            data,
                            version: live.version,
                            expires_at: live.expires_at.into(),
                        }),
                    None => None,
                };
                done(OpResult::Loaded(record))
            }
            Stage::Remove => done(OpResult::Removed),
            Stage::CreateInsert { payload, again } => match cas_reply(reply)? {
                Cas::Done(Some(version)) => {
                    done(OpResult::Created(CreateOutcome::Created { version }))
                }
                Cas::Changed => Ok(Next::Send(
                    self.read_call(key),
                    Stage::CreateRead { payload, again },
                )),
                Cas::Done(None) | Cas::Missing => {
                    Err(corrupt("redis answered an unexpected reply to a create"))
                }
            },
            Stage::CreateRead { payload, again } => match current(reply)? {
                // Gone since the insert failed: insert again, once.
                None if !again => self.insert(key, op, payload),
                None => done(OpResult::Created(CreateOutcome::Taken)),
                Some(cur) => {
                    let hash = cur.hash.clone();
                    if self.live(Some(cur), now)?.is_some() {
                        return done(OpResult::Created(CreateOutcome::Taken));
                    }
                    let ttl = self.op_ttl(op);
                    let call = self.cas_call(key, &hash, "set", self.ttl_arg(ttl), &payload);
                    Ok(Next::Send(call, Stage::CreateReplace { payload, again }))
                }
            },
            Stage::CreateReplace { payload, again } => match cas_reply(reply)? {
                Cas::Done(Some(version)) => {
                    done(OpResult::Created(CreateOutcome::Created { version }))
                }
                Cas::Missing if !again => self.insert(key, op, payload),
                Cas::Missing | Cas::Changed => done(OpResult::Created(CreateOutcome::Taken)),
                Cas::Done(None) => Err(corrupt("redis answered an unexpected reply to a create")),
            },
            Stage::SaveRead => {
                let StoreOp::Save {
                    data,
                    expected_version,
                    expires_at,
                    ..
                } = *op
                else {
                    return Err(corrupt("save stage without a save"));
                };
                let Some((live, hash)) = self.live(current(reply)?, now)? else {
                    return done(OpResult::Saved(SaveOutcome::Missing));
                };
                if live.version != expected_version {
                    return done(OpResult::Saved(SaveOutcome::Conflict));
                }
                let ttl = ttl_ms(expires_at.as_secs_f64(), now);
                let payload = self.record_payload(data, now, ttl)?;
                let call = self.cas_call(key, &hash, "set", self.ttl_arg(ttl), &payload);
                Ok(Next::Send(call, Stage::SaveWrite))
            }
            Stage::SaveWrite => done(OpResult::Saved(match cas_reply(reply)? {
                Cas::Done(Some(version)) => SaveOutcome::Saved { version },
                Cas::Changed => SaveOutcome::Conflict,
                Cas::Missing => SaveOutcome::Missing,
                Cas::Done(None) => {
                    return Err(corrupt("redis answered an unexpected reply to a save"))
                }
            })),
            Stage::TouchRead { attempt } => {
                let Some((live, hash)) = self.live(current(reply)?, now)? else {
                    return done(OpResult::Touched(TouchOutcome::Missing));
                };
                let ttl = self.op_ttl(op);
                let x = PyValue::int(python_x(now, ttl));
                let stage = Stage::TouchWrite { attempt };
                if ttl > 0 && self.options.python_expires && live.session.x.as_ref() != Some(&x) {
                    // Python checks `x`: it must move with the TTL.
                    let m = Self::managed_dict(&live.session.state)?;
                    let payload = self.payload(m, live.session.c, now, ttl)?;
                    let call = self.cas_call(key, &hash, "set", self.ttl_arg(ttl), &payload);
                    Ok(Next::Send(call, stage))
                } else if ttl == 0 || self.options.set_redis_ttl {
                    Ok(Next::Send(
                        self.cas_call(key, &hash, "expire", ttl, b""),
                        stage,
                    ))
                } else {
                    // No TTL, and `x` already says what it would be rewritten to.
                    done(OpResult::Touched(TouchOutcome::Touched))
                }
            }
            Stage::TouchWrite { attempt } => match cas_reply(reply)? {
                Cas::Done(_) => done(OpResult::Touched(TouchOutcome::Touched)),
                Cas::Missing => done(OpResult::Touched(TouchOutcome::Missing)),
                Cas::Changed if attempt < TOUCH_ATTEMPTS => Ok(Next::Send(
                    self.read_call(key),
                    Stage::TouchRead {
                        attempt: attempt + 1,
                    },
                )),
                // Rewritten under us again and again: every writer set a fresh `x` and
                // TTL of its own.
                Cas::Changed => done(OpResult::Touched(TouchOutcome::Touched)),
            },
            Stage::RemoveIfRead => {
                let StoreOp::RemoveIf {
                    expected_version, ..
                } = *op
                else {
                    return Err(corrupt("remove stage without a remove"));
                };
                let Some((live, hash)) = self.live(current(reply)?, now)? else {
                    return done(OpResult::RemovedIf(RemoveOutcome::Missing));
                };
                if live.version != expected_version {
                    return done(OpResult::RemovedIf(RemoveOutcome::Conflict));
                }
                Ok(Next::Send(
                    self.cas_call(key, &hash, "del", 0, b""),
                    Stage::RemoveIfDelete,
                ))
            }
            Stage::RemoveIfDelete => done(OpResult::RemovedIf(match cas_reply(reply)? {
                Cas::Done(_) => RemoveOutcome::Removed,
                Cas::Changed => RemoveOutcome::Conflict,
                Cas::Missing => RemoveOutcome::Missing,
            })),
        }
    }

    /// The TTL a write of `op` sets.
    fn op_ttl(&self, op: &StoreOp<'_>) -> i64 {
        match *op {
            StoreOp::Create {
                expires_at, now, ..
            }
            | StoreOp::Save {
                expires_at, now, ..
            }
            | StoreOp::Touch {
                expires_at, now, ..
            } => ttl_ms(expires_at.as_secs_f64(), now.as_secs_f64()),
            _ => 0,
        }
    }

    /// A create's insert-if-absent, sent again after the value that kept it out vanished.
    fn insert(
        &self,
        key: &str,
        op: &StoreOp<'_>,
        payload: Vec<u8>,
    ) -> Result<Next<'_>, StoreError> {
        let ttl = self.op_ttl(op);
        let call = self.cas_call(key, "", "set", self.ttl_arg(ttl), &payload);
        Ok(Next::Send(
            call,
            Stage::CreateInsert {
                payload,
                again: true,
            },
        ))
    }
}

/// A blocking store in pyramid_session_redis's layout (see the module docs), with a small
/// pool of connections.
pub struct PyramidSessionRedisStore {
    pool: Pool,
    commands: Commands,
}

impl core::fmt::Debug for PyramidSessionRedisStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PyramidSessionRedisStore")
            .field("options", &self.commands.options)
            .field("timeout", &self.pool.timeout)
            .finish_non_exhaustive()
    }
}

impl PyramidSessionRedisStore {
    /// A store on `url` (`redis://host:port/db`, the Python app's `redis.sessions.redis_url`)
    /// laid out as Python's `options` say. Connects lazily; `timeout` bounds connecting
    /// and every call. Fails on an unusable URL or options that let records outlive
    /// their expiry ([`PyramidSessionRedisOptions::validate`]).
    pub fn open(
        url: &str,
        options: PyramidSessionRedisOptions,
        timeout: Duration,
    ) -> Result<PyramidSessionRedisStore, StoreError> {
        Ok(PyramidSessionRedisStore {
            commands: Commands::new(options)?,
            pool: Pool::open(url, timeout)?,
        })
    }

    /// The layout options.
    pub fn options(&self) -> &PyramidSessionRedisOptions {
        &self.commands.options
    }
}

impl Store for PyramidSessionRedisStore {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        if let StoreOp::Wait { delay } = op {
            std::thread::sleep(delay);
            return Ok(OpResult::Waited);
        }
        let mut next = self.commands.start(&op)?;
        loop {
            match next {
                Next::Done(result) => return Ok(result),
                Next::Send(call, stage) => {
                    let reply = self.pool.with_conn(|c| call.run(c))?;
                    next = self.commands.resume(&op, stage, reply)?;
                }
            }
        }
    }
}

/// An async store in pyramid_session_redis's layout (see the module docs), over a
/// `ConnectionManager` (reconnects by itself) or any other multiplexed connection.
/// Every call is bounded by the configured timeout.
pub struct AsyncPyramidSessionRedisStore<C = redis::aio::ConnectionManager> {
    conn: C,
    commands: Commands,
    timeout: Duration,
}

impl<C> core::fmt::Debug for AsyncPyramidSessionRedisStore<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncPyramidSessionRedisStore")
            .field("options", &self.commands.options)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AsyncPyramidSessionRedisStore {
    /// Connects a `ConnectionManager` to `url`, for a layout as Python's `options` say.
    pub async fn connect(
        url: &str,
        options: PyramidSessionRedisOptions,
        timeout: Duration,
    ) -> Result<AsyncPyramidSessionRedisStore, StoreError> {
        let commands = Commands::new(options)?;
        let conn = connection_manager(url, timeout).await?;
        Ok(AsyncPyramidSessionRedisStore {
            conn,
            commands,
            timeout,
        })
    }
}

impl<C> AsyncPyramidSessionRedisStore<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync,
{
    /// Uses an existing connection (e.g. a `MultiplexedConnection`). Fails on options
    /// that let records outlive their expiry.
    pub fn with_connection(
        conn: C,
        options: PyramidSessionRedisOptions,
        timeout: Duration,
    ) -> Result<AsyncPyramidSessionRedisStore<C>, StoreError> {
        Ok(AsyncPyramidSessionRedisStore {
            conn,
            commands: Commands::new(options)?,
            timeout,
        })
    }

    /// The layout options.
    pub fn options(&self) -> &PyramidSessionRedisOptions {
        &self.commands.options
    }
}

impl<C> AsyncStore for AsyncPyramidSessionRedisStore<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync,
{
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async move {
            if let StoreOp::Wait { delay } = op {
                tokio::time::sleep(delay).await;
                return Ok(OpResult::Waited);
            }
            let mut next = self.commands.start(&op)?;
            let mut conn = self.conn.clone();
            loop {
                match next {
                    Next::Done(result) => return Ok(result),
                    Next::Send(call, stage) => {
                        let reply = bounded(self.timeout, call.run_async(&mut conn)).await?;
                        next = self.commands.resume(&op, stage, reply)?;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(pairs: Vec<(PyValue, PyValue)>) -> Vec<u8> {
        pickle::encode(&PyValue::Dict(pairs), PROTOCOL).unwrap()
    }

    fn payload(m: PyValue, c: PyValue, v: PyValue, x: Option<PyValue>) -> Vec<u8> {
        let mut pairs = alloc::vec![
            (PyValue::str("m"), m),
            (PyValue::str("c"), c),
            (PyValue::str("v"), v),
        ];
        if let Some(x) = x {
            pairs.push((PyValue::str("x"), x));
        }
        value(pairs)
    }

    fn m(key: PyValue) -> PyValue {
        PyValue::Dict(alloc::vec![(key, PyValue::str("ada"))])
    }

    #[test]
    fn ttls_are_whole_milliseconds_rounded_up() {
        let now = 1_796_134_069.318_27;
        assert_eq!(ttl_ms(now + 1200.0, now), 1_200_000);
        assert_eq!(ttl_ms(now + 0.0001, now), 1);
        assert_eq!(ttl_ms(now + 1.0015, now), 1002);
        assert_eq!(ttl_ms(now - 1.0, now), 0);
        assert_eq!(ttl_ms(f64::NAN, now), 0);
        // A full timeout from a fractional `now`: `int_time() + timeout`, Python's `x`.
        assert_eq!(python_x(now, 1_200_000), 1_796_134_070 + 1200);
        assert_eq!(python_x(1_796_134_069.0, 1_200_000), 1_796_134_069 + 1200);
        // A span that is not whole seconds: never before the deadline.
        assert_eq!(python_x(100.0, 1), 101);
    }

    #[test]
    fn versions_are_never_zero() {
        assert_eq!(version("000000000000000").unwrap(), ZERO_HASH_VERSION);
        assert_eq!(version("00000000000000a").unwrap(), 10);
        assert_eq!(version("fffffffffffffff").unwrap(), (1 << 60) - 1);
        assert!(version("xyz").is_err());
        assert!(version("fffffffffffffffff").is_err());
    }

    #[test]
    fn what_python_would_not_load_is_missing() {
        let ok = payload(
            m(PyValue::str("user")),
            PyValue::int(5),
            PyValue::int(1),
            None,
        );
        let (session, expiry) = decode_session(&ok).unwrap();
        assert_eq!(session.created, 5.0);
        assert_eq!(json!(session.state), json!({"user": "ada"}));
        assert_eq!(expiry, Expiry::Never);
        let missing = [
            alloc::vec![],
            b"garbage".to_vec(),
            b"\x80\x04N.".to_vec(),
            pickle::encode(&PyValue::List(alloc::vec![]), 4).unwrap(),
            // A non-str state key.
            payload(m(PyValue::int(1)), PyValue::int(5), PyValue::int(1), None),
            // No `m`, a list `m`, no `c`, a str `c`.
            value(alloc::vec![
                (PyValue::str("c"), PyValue::int(5)),
                (PyValue::str("v"), PyValue::int(1))
            ]),
            payload(
                PyValue::List(alloc::vec![]),
                PyValue::int(5),
                PyValue::int(1),
                None,
            ),
            value(alloc::vec![
                (PyValue::str("m"), m(PyValue::str("a"))),
                (PyValue::str("v"), PyValue::int(1))
            ]),
            payload(
                m(PyValue::str("a")),
                PyValue::str("5"),
                PyValue::int(1),
                None,
            ),
            // Legacy payloads: `v` missing or below 1.
            value(alloc::vec![
                (PyValue::str("m"), m(PyValue::str("a"))),
                (PyValue::str("c"), PyValue::int(5))
            ]),
            payload(m(PyValue::str("a")), PyValue::int(5), PyValue::int(0), None),
        ];
        for bytes in missing {
            assert!(decode_session(&bytes).is_none(), "{bytes:?}");
        }
    }

    #[test]
    fn x_is_read_as_python_compares_it() {
        let cases = [
            (PyValue::None, Expiry::Never),
            (PyValue::int(0), Expiry::Never),
            (PyValue::Float(f64::NAN), Expiry::Never),
            (PyValue::Float(f64::INFINITY), Expiry::Never),
            (PyValue::Float(f64::NEG_INFINITY), Expiry::Dead),
            (PyValue::int(1_796_135_269), Expiry::After(1_796_135_269.0)),
            (PyValue::Float(100.5), Expiry::After(100.0)),
            (PyValue::str(""), Expiry::Never),
            (PyValue::str("soon"), Expiry::Dead),
            (
                PyValue::Int(PyInt::from_sign_magnitude(true, &[1; 9])),
                Expiry::Dead,
            ),
        ];
        for (x, want) in cases {
            assert_eq!(python_expiry(Some(&x)), want, "{x:?}");
        }
        assert_eq!(python_expiry(None), Expiry::Never);
    }

    #[test]
    fn options_must_let_records_expire() {
        let o = PyramidSessionRedisOptions::default();
        assert_eq!(
            (o.timeout(), o.python_expires(), o.set_redis_ttl()),
            (1200, true, true)
        );
        assert!(o.validate().is_ok());
        assert!(o.with_python_expires(false).validate().is_ok());
        assert!(o.with_set_redis_ttl(false).validate().is_ok());
        assert_eq!(
            o.with_python_expires(false)
                .with_set_redis_ttl(false)
                .validate(),
            Err(ConfigError::NoExpiry)
        );
        assert_eq!(
            PyramidSessionRedisOptions::new(0).validate(),
            Err(ConfigError::NoExpiry)
        );
        let e = PyramidSessionRedisStore::open(
            "redis://127.0.0.1:1/0",
            o.with_python_expires(false).with_set_redis_ttl(false),
            DEFAULT_TIMEOUT,
        )
        .unwrap_err();
        assert!(e.message.contains("timeout or a max lifetime"), "{e}");
    }

    #[test]
    fn hashed_keys_are_refused_before_any_io() {
        let store = PyramidSessionRedisStore::open(
            "redis://127.0.0.1:1/0",
            PyramidSessionRedisOptions::default(),
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        let id = crate::server::SessionId::parse("abc").unwrap();
        let err = store
            .execute(StoreOp::Load {
                key: id.store_key(),
                now: 1.0.into(),
            })
            .unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Other);
        assert!(
            err.message.contains("IdScheme::pyramid_session_redis"),
            "{err}"
        );
    }

    #[test]
    fn records_become_python_payloads() {
        let commands = Commands::new(PyramidSessionRedisOptions::default()).unwrap();
        let mut state = State::new();
        state.insert("pair".into(), json!({"$tuple": [1, "two"]}));
        let record = encode_record(1_796_134_069.25, &state).unwrap();
        let bytes = commands
            .record_payload(&record, 1_796_134_069.5, 1_200_000)
            .unwrap();
        let PyValue::Dict(pairs) = pickle::decode(&bytes, &Limits::default()).unwrap() else {
            panic!("not a dict");
        };
        let keys: Vec<_> = pairs
            .iter()
            .map(|(k, _)| match k {
                PyValue::Str(s) => String::from(s.as_str().unwrap()),
                _ => panic!(),
            })
            .collect();
        assert_eq!(keys, ["m", "c", "v", "x", "t"]);
        assert_eq!(field(&pairs, "c"), Some(&PyValue::int(1_796_134_070)));
        assert_eq!(field(&pairs, "x"), Some(&PyValue::int(1_796_135_270)));
        assert_eq!(field(&pairs, "t"), Some(&PyValue::int(1200)));
        let (session, _) = decode_session(&bytes).unwrap();
        assert_eq!(session.state, state);
        // Without `python_expires`: no `x`.
        let commands =
            Commands::new(PyramidSessionRedisOptions::new(60).with_python_expires(false)).unwrap();
        let bytes = commands.record_payload(&record, 1.0, 60_000).unwrap();
        let PyValue::Dict(pairs) = pickle::decode(&bytes, &Limits::default()).unwrap() else {
            panic!("not a dict");
        };
        assert_eq!(pairs.len(), 4);
        assert_eq!(field(&pairs, "x"), None);
        assert_eq!(field(&pairs, "t"), Some(&PyValue::int(60)));
        // What is not a record is refused.
        assert!(commands.record_payload(b"one", 1.0, 1).is_err());
    }
}
