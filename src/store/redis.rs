//! Redis store (feature `redis`): [`RedisStore`] (blocking, a small connection pool) and
//! [`AsyncRedisStore`] (a `ConnectionManager`, or any multiplexed async connection).
//!
//! Each record is a hash at `<prefix><hex sha256(id)>` with fields `v` (version), `d`
//! (data) and `x` (expiry, Unix seconds). Every write sets the key's TTL with `PEXPIRE`
//! in the same Lua script, so no key ever lacks a TTL, and compare-and-set runs
//! atomically on the server. The TTL is relative: the span the application computed,
//! `expires_at - now`, rounded up to whole milliseconds (a span of zero or less deletes
//! the key at once), so the key lives as long as the application meant even when its
//! host's clock and the Redis server's disagree; an absolute `PEXPIREAT` would drop
//! every record at once on an application host whose clock lags the server's by more
//! than the session lifetime. The stored deadline `x` is checked too, against the
//! application's clock, so expiry does not depend on the Redis server's clock alone.
//! Each command touches exactly one key, so the layout works unchanged on Redis Cluster
//! (no multi-key operation needs a hash tag).

extern crate std;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use std::sync::{Mutex, PoisonError};

use redis::{Cmd, ErrorKind, RedisError, Script, ScriptInvocation};

use crate::server::store::{require_key, BoxFuture, CreateOutcome, TouchOutcome};

use crate::server::{
    AsyncStore, OpResult, Record, RemoveOutcome, SaveOutcome, Store, StoreError, StoreErrorKind,
    StoreKey, StoreOp,
};

/// Prepended to every script: the record's version when it is live and well formed at
/// `now` (all three fields present, a version of at least 1, a finite expiry after
/// `now`), else nil — a malformed record counts as missing, as in the SQL stores.
macro_rules! lua_live {
    ($body:literal) => {
        concat!(
            r"
local function live(now)
  local r = redis.call('HMGET', KEYS[1], 'v', 'd', 'x')
  local v, x = tonumber(r[1]), tonumber(r[3])
  if not v or v < 1 or not r[2] or not x or x ~= x or x == math.huge then return nil end
  if x <= tonumber(now) then return nil end
  return r[1]
end
",
            $body
        )
    };
}

const CREATE: &str = lua_live!(
    r"
if live(ARGV[4]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', 1, 'd', ARGV[1], 'x', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"
);

const SAVE: &str = lua_live!(
    r"
local v = live(ARGV[5])
if not v then return -1 end
if v ~= ARGV[1] then return -2 end
local nv = tonumber(v) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2], 'x', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return nv
"
);

const TOUCH: &str = lua_live!(
    r"
if not live(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'x', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"
);

const REMOVE_IF: &str = lua_live!(
    r"
local v = live(ARGV[2])
if not v then return -1 end
if v ~= ARGV[1] then return -2 end
redis.call('DEL', KEYS[1])
return 1
"
);

/// Default timeout for connecting and for each call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

fn error(e: RedisError) -> StoreError {
    let kind = if e.is_timeout() {
        StoreErrorKind::Timeout
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
    {
        StoreErrorKind::Unavailable
    } else if e.kind() == ErrorKind::UnexpectedReturnType {
        StoreErrorKind::Corrupt
    } else {
        StoreErrorKind::Other
    };
    StoreError::new(kind, e)
}

/// Longest TTL set (about 31,700 years): far below where Redis rejects an expiry.
pub(super) const MAX_TTL_MS: f64 = 1e15;

/// The key's TTL in milliseconds: `expires_at - now` rounded up, so the key never goes
/// before the record's deadline. Zero for a deadline that has passed (or NaN), which
/// makes `PEXPIRE` delete the key at once.
fn ttl_ms(expires_at: f64, now: f64) -> i64 {
    let ms = ((expires_at - now) * 1000.0).ceil();
    if ms > 0.0 {
        ms.min(MAX_TTL_MS) as i64
    } else {
        0
    }
}

/// The commands, shared by the blocking and async stores.
#[derive(Debug)]
struct Commands {
    prefix: String,
    create: Script,
    save: Script,
    touch: Script,
    remove_if: Script,
}

impl Commands {
    fn new(prefix: &str) -> Commands {
        Commands {
            prefix: prefix.into(),
            create: Script::new(CREATE),
            save: Script::new(SAVE),
            touch: Script::new(TOUCH),
            remove_if: Script::new(REMOVE_IF),
        }
    }

    fn key(&self, key: &StoreKey) -> String {
        let mut k = self.prefix.clone();
        k.push_str(key.as_str());
        k
    }

    /// The command an operation sends (`None` for `Wait`, which sends nothing).
    fn call(&self, op: &StoreOp<'_>) -> Result<Option<Call<'_>>, StoreError> {
        Ok(Some(match *op {
            StoreOp::Load { key, .. } => {
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(self.key(&key)).arg("v").arg("d").arg("x");
                Call::Query(cmd)
            }
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => {
                let key = require_key(key, "RedisStore")?;
                let (e, now) = (expires_at.as_secs_f64(), now.as_secs_f64());
                let mut inv = self.create.key(self.key(&key));
                inv.arg(data).arg(e).arg(ttl_ms(e, now)).arg(now);
                Call::Script(inv)
            }
            StoreOp::Save {
                key,
                data,
                expected_version,
                expires_at,
                now,
            } => {
                let (e, now) = (expires_at.as_secs_f64(), now.as_secs_f64());
                let mut inv = self.save.key(self.key(&key));
                inv.arg(expected_version)
                    .arg(data)
                    .arg(e)
                    .arg(ttl_ms(e, now))
                    .arg(now);
                Call::Script(inv)
            }
            StoreOp::Touch {
                key,
                expires_at,
                now,
            } => {
                let (e, now) = (expires_at.as_secs_f64(), now.as_secs_f64());
                let mut inv = self.touch.key(self.key(&key));
                inv.arg(e).arg(ttl_ms(e, now)).arg(now);
                Call::Script(inv)
            }
            StoreOp::Remove { key } => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(self.key(&key));
                Call::Query(cmd)
            }
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => {
                let mut inv = self.remove_if.key(self.key(&key));
                inv.arg(expected_version).arg(now.as_secs_f64());
                Call::Script(inv)
            }
            StoreOp::Wait { .. } => return Ok(None),
        }))
    }

    /// What the reply to an operation's command means.
    fn answer(op: &StoreOp<'_>, reply: redis::Value) -> Result<OpResult, StoreError> {
        fn parse<T: redis::FromRedisValue>(reply: redis::Value) -> Result<T, StoreError> {
            T::from_redis_value(reply).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))
        }
        Ok(match *op {
            StoreOp::Load { now, .. } => OpResult::Loaded(stored(parse(reply)?, now.as_secs_f64())),
            StoreOp::Create { .. } => OpResult::Created(match parse::<i64>(reply)? {
                1 => CreateOutcome::Created { version: 1 },
                _ => CreateOutcome::Taken,
            }),
            StoreOp::Save { .. } => OpResult::Saved(save_outcome(parse(reply)?)),
            StoreOp::Touch { .. } => OpResult::Touched(match parse::<i64>(reply)? {
                1 => TouchOutcome::Touched,
                _ => TouchOutcome::Missing,
            }),
            StoreOp::Remove { .. } => OpResult::Removed,
            StoreOp::RemoveIf { .. } => OpResult::RemovedIf(remove_outcome(parse(reply)?)),
            StoreOp::Wait { .. } => OpResult::Waited,
        })
    }
}

/// A command as sent: a plain query, or a Lua script (by its hash, loaded on demand).
pub(super) enum Call<'s> {
    Query(Cmd),
    Script(ScriptInvocation<'s>),
}

impl Call<'_> {
    pub(super) fn run(&self, conn: &mut redis::Connection) -> redis::RedisResult<redis::Value> {
        match self {
            Call::Query(cmd) => cmd.query(conn),
            Call::Script(inv) => inv.invoke(conn),
        }
    }

    pub(super) async fn run_async<C>(&self, conn: &mut C) -> redis::RedisResult<redis::Value>
    where
        C: redis::aio::ConnectionLike + Send + Sync,
    {
        match self {
            Call::Query(cmd) => cmd.query_async(conn).await,
            Call::Script(inv) => inv.invoke_async(conn).await,
        }
    }
}

type Fields = (Option<String>, Option<Vec<u8>>, Option<String>);

/// The record the `HMGET v d x` reply describes: `None` when missing, expired at `now`,
/// or not well formed (a missing field, a version below 1, an expiry that is not a
/// finite number) — a malformed record counts as missing.
fn stored(fields: Fields, now: f64) -> Option<Record> {
    let (Some(version), Some(data), Some(expires_at)) = fields else {
        return None;
    };
    let version = version.parse::<u64>().ok().filter(|v| *v >= 1)?;
    let expires_at = expires_at.parse::<f64>().ok().filter(|x| x.is_finite())?;
    (expires_at > now).then_some(Record {
        data,
        version,
        expires_at: expires_at.into(),
    })
}

fn remove_outcome(code: i64) -> RemoveOutcome {
    match code {
        1 => RemoveOutcome::Removed,
        -2 => RemoveOutcome::Conflict,
        _ => RemoveOutcome::Missing,
    }
}

fn save_outcome(code: i64) -> SaveOutcome {
    match code {
        -1 => SaveOutcome::Missing,
        -2 => SaveOutcome::Conflict,
        v => SaveOutcome::Saved {
            version: u64::try_from(v).unwrap_or(0),
        },
    }
}

/// A small pool of blocking connections: one per concurrent caller, made on demand; a
/// connection that fails is dropped and replaced on the next call.
pub(super) struct Pool {
    client: redis::Client,
    pub(super) timeout: Duration,
    idle: Mutex<Vec<redis::Connection>>,
}

impl Pool {
    /// A pool on `url`; connects lazily, `timeout` bounds connecting and every call.
    pub(super) fn open(url: &str, timeout: Duration) -> Result<Pool, StoreError> {
        Ok(Pool {
            client: redis::Client::open(url).map_err(error)?,
            timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` on a pooled connection.
    pub(super) fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = self
                    .client
                    .get_connection_with_timeout(self.timeout)
                    .map_err(error)?;
                conn.set_read_timeout(Some(self.timeout)).map_err(error)?;
                conn.set_write_timeout(Some(self.timeout)).map_err(error)?;
                conn
            }
        };
        let result = f(&mut conn);
        // Only a connection that just worked goes back to the pool.
        if result.is_ok() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
        result.map_err(error)
    }
}

/// A blocking Redis store with a small pool of connections (one per concurrent caller,
/// made on demand; a connection that fails is dropped and replaced on the next call).
pub struct RedisStore {
    pool: Pool,
    commands: Commands,
}

impl core::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.commands.prefix)
            .field("timeout", &self.pool.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `url` (`redis://host:port/db`) with keys under `prefix` (for example
    /// `myapp:`). Connects lazily; `timeout` bounds connecting and every call.
    pub fn open(url: &str, prefix: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        Ok(RedisStore {
            pool: Pool::open(url, timeout)?,
            commands: Commands::new(prefix),
        })
    }
}

impl Store for RedisStore {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        let Some(call) = self.commands.call(&op)? else {
            if let StoreOp::Wait { delay } = op {
                std::thread::sleep(delay);
            }
            return Ok(OpResult::Waited);
        };
        let reply = self.pool.with_conn(|c| call.run(c))?;
        Commands::answer(&op, reply)
    }
}

/// A `ConnectionManager` on `url` (reconnects by itself), connected within `timeout`, with
/// `timeout` on every connection attempt and response.
pub(super) async fn connection_manager(
    url: &str,
    timeout: Duration,
) -> Result<redis::aio::ConnectionManager, StoreError> {
    let client = redis::Client::open(url).map_err(error)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    tokio::time::timeout(timeout, client.get_connection_manager_with_config(config))
        .await
        .map_err(|_| StoreError::new(StoreErrorKind::Timeout, "connecting to redis timed out"))?
        .map_err(error)
}

/// `fut`, bounded by `timeout`.
pub(super) async fn bounded<T>(
    timeout: Duration,
    fut: impl core::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result.map_err(error),
        Err(_) => Err(StoreError::new(
            StoreErrorKind::Timeout,
            "redis call timed out",
        )),
    }
}

/// An async Redis store over a `ConnectionManager` (reconnects by itself) or any other
/// multiplexed connection. Every call is bounded by the configured timeout.
pub struct AsyncRedisStore<C = redis::aio::ConnectionManager> {
    conn: C,
    commands: Commands,
    timeout: Duration,
}

impl<C> core::fmt::Debug for AsyncRedisStore<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncRedisStore")
            .field("prefix", &self.commands.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AsyncRedisStore {
    /// Connects a `ConnectionManager` to `url`, with keys under `prefix`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<AsyncRedisStore, StoreError> {
        let conn = connection_manager(url, timeout).await?;
        Ok(AsyncRedisStore::with_connection(conn, prefix, timeout))
    }
}

impl<C> AsyncRedisStore<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync,
{
    /// Uses an existing connection (e.g. a `MultiplexedConnection`).
    pub fn with_connection(conn: C, prefix: &str, timeout: Duration) -> AsyncRedisStore<C> {
        AsyncRedisStore {
            conn,
            commands: Commands::new(prefix),
            timeout,
        }
    }
}

impl<C> AsyncStore for AsyncRedisStore<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync,
{
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async move {
            let Some(call) = self.commands.call(&op)? else {
                if let StoreOp::Wait { delay } = op {
                    tokio::time::sleep(delay).await;
                }
                return Ok(OpResult::Waited);
            };
            let mut conn = self.conn.clone();
            let reply = bounded(self.timeout, call.run_async(&mut conn)).await?;
            Commands::answer(&op, reply)
        })
    }
}
