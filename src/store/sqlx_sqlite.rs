//! SQLite store over the application's own sqlx pool (feature `sqlx-sqlite`, sqlx 0.8):
//! [`SqlxSqliteStore`], an [`AsyncStore`] on a [`sqlx::SqlitePool`].
//!
//! # Why a store over sqlx, beside the rusqlite one
//!
//! Only one crate in a build may link the native `sqlite3` library (`links = "sqlite3"`
//! of `libsqlite3-sys`), and sqlx 0.8 asks for `libsqlite3-sys` 0.30 where rusqlite 0.43
//! asks for 0.40: an application on sqlx's SQLite could not enable the `sqlite` feature
//! at all. Two ways out, and why this one:
//!
//! - *Aligning the versions* alone (rusqlite 0.32, the last on `libsqlite3-sys` 0.30)
//!   makes the build resolve, but pins every user to a rusqlite from 2024, still
//!   gives the application two sets of connections to its database (its pool and our
//!   store's connection, each with its own busy timeout, journal mode and limits), and
//!   breaks again whenever sqlx or rusqlite moves to another `libsqlite3-sys`.
//! - *A store over the application's pool* (this module) uses the connections, the
//!   options (`SqliteConnectOptions`: journal mode, busy timeout, foreign keys) and the
//!   `libsqlite3-sys` the application already has, whatever sqlx 0.8 release it is on;
//!   our crate adds no second SQLite. That is what an sqlx user expects: hand over the
//!   `SqlitePool`, as to any other library.
//!
//! So an sqlx application enables `sqlx-sqlite` instead of `sqlite`. The rusqlite store
//! stays for applications without sqlx, and both features can still be on together:
//! the crate asks for rusqlite as a range (`>=0.32.1, <0.44`), and Cargo picks the
//! newest rusqlite whose `libsqlite3-sys` agrees with the rest of the build (0.43 on its
//! own, 0.32 beside sqlx 0.8). `tests/sqlx_app` builds an sqlx application with
//! `sqlite`, `sqlx-sqlite` and `sqlx-postgres` together; `tests/rusqlite_app` builds
//! the `sqlite` stores against rusqlite 0.43.
//!
//! # Schema and semantics
//!
//! The table and every statement are the rusqlite store's
//! ([`SqliteStore`](crate::store::SqliteStore), the same text): a database written by
//! one is read by the other.
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS pyramid_sessions (
//!     key        TEXT PRIMARY KEY,   -- hex SHA-256 of the session id
//!     data       BLOB NOT NULL,      -- the encoded record
//!     version    INTEGER NOT NULL,   -- compare-and-set version, 1 after create
//!     expires_at REAL NOT NULL       -- Unix seconds
//! );
//! CREATE INDEX IF NOT EXISTS pyramid_sessions_expires ON pyramid_sessions (expires_at);
//! ```
//!
//! [`SqlxSqliteStore::new`] creates it if missing; [`SqlxSqliteStore::from_pool`] leaves
//! that to the application's migrations ([`SCHEMA`] is the text). Saves and conditional
//! removals are compare-and-set on `version` in one statement; a write on a missing or
//! expired row answers `Missing` and writes nothing (no resurrection); expired rows are
//! never returned; a row that is not well-formed (a `data` that is not a blob, a
//! `version` that is not an integer of at least 1, an `expires_at` that is not a finite
//! number) counts as missing and a create replaces it. Every [`SWEEP_EVERY`] creates,
//! the store deletes up to `2 × SWEEP_EVERY` expired rows by itself;
//! [`SqlxSqliteStore::sweep`] deletes all of them and
//! [`SqlxSqliteStore::spawn_sweeper`] runs it periodically.
//!
//! # Waiting
//!
//! sqlx runs each SQLite connection on a thread of its own, so a call waiting on the
//! database lock never holds an executor worker. Each call — waiting for a pool
//! connection, SQLite's busy handler (the pool's `busy_timeout`, sqlx's default 5 s) and
//! the statements — is bounded by the store's timeout ([`DEFAULT_TIMEOUT`],
//! [`SqlxSqliteStore::with_timeout`]); then that call fails with
//! [`StoreErrorKind::Timeout`] (the axum layer answers 503). A statement already handed
//! to SQLite still finishes on its connection thread: a timed-out save may have been
//! written, which the next request sees as a newer version (a compare-and-set conflict,
//! retried), never as a lost update.

extern crate std;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::sql::bounded;
use super::sql::sqlite::{
    CREATE, LIVE, LOAD, REMOVE, REMOVE_IF, SAVE, SWEEP, SWEEP_BATCH, SWEEP_EVERY as EVERY, TOUCH,
};
use crate::server::store::{require_key, BoxFuture, CreateOutcome, TouchOutcome};
use crate::server::{
    AsyncStore, OpResult, Record, RemoveOutcome, SaveOutcome, StoreError, StoreErrorKind, StoreOp,
};
use crate::store::sweeper::{self, Sweep};
use crate::time::{Clock, UnixTime};

/// The table and its index, as [`SqlxSqliteStore::new`] creates them (for an
/// application that runs its own migrations and opens the store with
/// [`SqlxSqliteStore::from_pool`]).
pub const SCHEMA: &str = super::sql::sqlite::SCHEMA;

/// The default bound on one call (pool wait, lock wait and statements together).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Every this many creates, [`SqlxSqliteStore`] deletes expired rows by itself (at most
/// `2 × SWEEP_EVERY` per time).
pub const SWEEP_EVERY: u64 = EVERY;

/// A session store in the `pyramid_sessions` table of the application's SQLite
/// database, over its [`SqlitePool`]. A cheap handle (`Clone`: clones share the pool
/// and the create counter), e.g. for the axum layer and
/// [`SqlxSqliteStore::spawn_sweeper`].
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use pyramid_session::store::SqlxSqliteStore;
///
/// let pool = sqlx::SqlitePool::connect("sqlite://app.db?mode=rwc").await?;
/// let store = SqlxSqliteStore::new(pool.clone()).await?; // creates the table if missing
/// // … the application keeps using `pool` for its own tables.
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlxSqliteStore {
    pool: SqlitePool,
    timeout: Duration,
    creates: Arc<AtomicU64>,
}

impl core::fmt::Debug for SqlxSqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqlxSqliteStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An sqlx error as a [`StoreError`]: SQLite's busy and locked codes and an exhausted
/// pool are timeouts; a database that cannot be opened, written or reached is
/// unavailable; a corrupt file is corrupt.
fn error(e: sqlx::Error) -> StoreError {
    let kind = match &e {
        sqlx::Error::PoolTimedOut => StoreErrorKind::Timeout,
        sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            StoreErrorKind::Unavailable
        }
        sqlx::Error::Database(db) => {
            // SQLite's extended result code; the primary code is its low byte.
            let primary = db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map(|code| code & 0xff);
            match primary {
                // SQLITE_BUSY, SQLITE_LOCKED
                Some(5 | 6) => StoreErrorKind::Timeout,
                // SQLITE_READONLY, SQLITE_FULL, SQLITE_CANTOPEN
                Some(8 | 13 | 14) => StoreErrorKind::Unavailable,
                // SQLITE_CORRUPT, SQLITE_NOTADB
                Some(11 | 26) => StoreErrorKind::Corrupt,
                _ => StoreErrorKind::Other,
            }
        }
        _ => StoreErrorKind::Other,
    };
    StoreError::new(kind, e)
}

/// A row of `data, version, expires_at` (the query leaves out rows that are not well
/// formed; `None` for any that slips through).
fn decode(row: &SqliteRow) -> Result<Option<Record>, StoreError> {
    let data: Vec<u8> = row.try_get(0).map_err(error)?;
    let version: i64 = row.try_get(1).map_err(error)?;
    let expires_at: f64 = row.try_get(2).map_err(error)?;
    Ok((version >= 1 && expires_at.is_finite()).then(|| Record {
        data,
        version: version.unsigned_abs(),
        expires_at: expires_at.into(),
    }))
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

impl SqlxSqliteStore {
    /// The store on `pool`, creating the table and its index if missing ([`SCHEMA`]).
    /// The call timeout is [`DEFAULT_TIMEOUT`].
    pub async fn new(pool: SqlitePool) -> Result<SqlxSqliteStore, StoreError> {
        let store = SqlxSqliteStore::from_pool(pool);
        bounded(store.timeout, "sqlite", async {
            sqlx::raw_sql(SCHEMA)
                .execute(&store.pool)
                .await
                .map_err(error)
        })
        .await?;
        Ok(store)
    }

    /// The store on `pool`, whose database already has the table ([`SCHEMA`], e.g. from
    /// the application's migrations). Nothing is run until the first call.
    pub fn from_pool(pool: SqlitePool) -> SqlxSqliteStore {
        SqlxSqliteStore {
            pool,
            timeout: DEFAULT_TIMEOUT,
            creates: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sets the bound on one call (see the module docs); applies to this handle and
    /// clones made from it afterwards.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> SqlxSqliteStore {
        self.timeout = timeout;
        self
    }

    /// The bound on one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Deletes every row expired at `now`, in batches of at most `2 × SWEEP_EVERY`
    /// (each bounded by the timeout; the pool's connections are free in between);
    /// returns how many.
    pub async fn sweep(&self, now: f64) -> Result<u64, StoreError> {
        sweeper::sweep(self, now.into()).await
    }

    async fn sweep_one_batch(&self, now: f64) -> Result<u64, StoreError> {
        if !now.is_finite() {
            // A clock that is not a number must not decide that everything expired.
            return Ok(0);
        }
        let done = sqlx::query(SWEEP)
            .bind(now)
            .bind(SWEEP_BATCH)
            .execute(&self.pool)
            .await
            .map_err(error)?;
        Ok(done.rows_affected())
    }

    /// Runs [`SqlxSqliteStore::sweep`] every `every` (at least 1 ms; the first run is
    /// at once) at the time `clock()` (Unix seconds), until the returned task is
    /// aborted. A failed sweep (e.g. a locked database) is retried at the next tick.
    /// Outside a Tokio runtime it fails with [`StoreErrorKind::Other`]; the runtime
    /// needs its timers enabled (`enable_time` or `enable_all`).
    pub fn spawn_sweeper(
        &self,
        every: Duration,
        clock: impl Clock + 'static,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        Ok(sweeper::spawn_sweeper_with_clock(self.clone(), every, clock)?.detach())
    }

    /// Runs one statement; how many rows it changed.
    async fn change(&self, query: SqliteQuery<'_>) -> Result<u64, StoreError> {
        Ok(query
            .execute(&self.pool)
            .await
            .map_err(error)?
            .rows_affected())
    }

    /// Is there a live, well-formed row under `hex` at `now`?
    async fn live(&self, hex: &str, now: f64) -> Result<bool, StoreError> {
        let row = sqlx::query(LIVE)
            .bind(hex)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(error)?;
        Ok(row.is_some())
    }

    /// One operation: one statement, or for a lost conditional write a second one that
    /// tells a conflict from a missing record.
    async fn run(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        Ok(match op {
            StoreOp::Load { key, now } => {
                let row = sqlx::query(LOAD)
                    .bind(key.as_str())
                    .bind(now.as_secs_f64())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(error)?;
                OpResult::Loaded(row.as_ref().map(decode).transpose()?.flatten())
            }
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => {
                let key = require_key(key, "SqlxSqliteStore")?;
                let now = now.as_secs_f64();
                let n = self
                    .change(
                        sqlx::query(CREATE)
                            .bind(key.as_str())
                            .bind(data)
                            .bind(expires_at.as_secs_f64())
                            .bind(now),
                    )
                    .await?;
                let creates = self.creates.fetch_add(1, Ordering::Relaxed);
                if creates % SWEEP_EVERY == SWEEP_EVERY - 1 {
                    // Housekeeping: the create happened; a failed sweep is retried later.
                    let _ = self.sweep_one_batch(now).await;
                }
                OpResult::Created(if n == 1 {
                    CreateOutcome::Created { version: 1 }
                } else {
                    CreateOutcome::Taken
                })
            }
            StoreOp::Save {
                key,
                data,
                expected_version,
                expires_at,
                now,
            } => {
                let (hex, now) = (key.as_str(), now.as_secs_f64());
                // A version beyond SQLite's integers matches no row.
                let written = match i64::try_from(expected_version) {
                    Ok(expected) => {
                        let query = sqlx::query(SAVE)
                            .bind(hex)
                            .bind(data)
                            .bind(expires_at.as_secs_f64())
                            .bind(expected)
                            .bind(now);
                        self.change(query).await? == 1
                    }
                    Err(_) => false,
                };
                OpResult::Saved(if written {
                    SaveOutcome::Saved {
                        version: expected_version.saturating_add(1),
                    }
                } else if self.live(hex, now).await? {
                    SaveOutcome::Conflict
                } else {
                    SaveOutcome::Missing
                })
            }
            StoreOp::Touch {
                key,
                expires_at,
                now,
            } => {
                let query = sqlx::query(TOUCH)
                    .bind(key.as_str())
                    .bind(expires_at.as_secs_f64())
                    .bind(now.as_secs_f64());
                OpResult::Touched(if self.change(query).await? == 1 {
                    TouchOutcome::Touched
                } else {
                    TouchOutcome::Missing
                })
            }
            StoreOp::Remove { key } => {
                self.change(sqlx::query(REMOVE).bind(key.as_str())).await?;
                OpResult::Removed
            }
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => {
                let (hex, now) = (key.as_str(), now.as_secs_f64());
                let removed = match i64::try_from(expected_version) {
                    Ok(expected) => {
                        let query = sqlx::query(REMOVE_IF).bind(hex).bind(expected).bind(now);
                        self.change(query).await? == 1
                    }
                    Err(_) => false,
                };
                OpResult::RemovedIf(if removed {
                    RemoveOutcome::Removed
                } else if self.live(hex, now).await? {
                    RemoveOutcome::Conflict
                } else {
                    RemoveOutcome::Missing
                })
            }
            StoreOp::Wait { delay } => {
                tokio::time::sleep(delay).await;
                OpResult::Waited
            }
        })
    }
}

// One `DELETE … LIMIT` per batch, bounded by the timeout.
impl Sweep for SqlxSqliteStore {
    fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(bounded(
            self.timeout,
            "sqlite",
            self.sweep_one_batch(now.as_secs_f64()),
        ))
    }
    fn batch_size(&self) -> u64 {
        SWEEP_BATCH.unsigned_abs()
    }
}

impl AsyncStore for SqlxSqliteStore {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async move {
            if let StoreOp::Wait { .. } = op {
                // A wait is no database call: not bounded by the timeout.
                return self.run(op).await;
            }
            bounded(self.timeout, "sqlite", self.run(op)).await
        })
    }
}
