//! SQLite store (feature `sqlite`, `rusqlite` with the bundled library): sessions in the
//! database, no session server to run.
//!
//! An application that already uses sqlx's SQLite shares its `SqlitePool` with
//! [`SqlxSqliteStore`](crate::store::sqlx_sqlite::SqlxSqliteStore) (feature
//! `sqlx-sqlite`) instead; that module says why. Both can be on in one build: rusqlite is
//! required as a range (`>=0.32.1, <0.44`), so Cargo picks the rusqlite whose
//! `libsqlite3-sys` sqlx's agrees with (Cargo allows one crate linking `sqlite3`).
//!
//! Schema, created on first use (no other migrations):
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
//! # Waiting
//!
//! SQLite has one writer at a time per database file. While another connection (another
//! process, a backup, a migration) holds the write lock, a write here waits for it, but
//! never longer than the store's *busy timeout* ([`DEFAULT_BUSY_TIMEOUT`], set with
//! [`SqliteStore::with_busy_timeout`]); then that one call fails with
//! [`StoreErrorKind::Timeout`] (the axum layer answers that request with 503). The
//! timeout bounds the whole call, including the wait for the store's connection while
//! another call of this store holds it, so calls queued behind a lock do not add up
//! their waits.
//!
//! # Async use
//!
//! The [`AsyncStore`](crate::server::AsyncStore) implementation runs every call on Tokio's blocking thread pool
//! (`tokio::task::spawn_blocking`), so a call waiting on the database lock holds a pool
//! thread, never an executor worker: requests that do not use the session, or use
//! another store, go on. The blocking pool was chosen over a dedicated store thread
//! because it needs no thread owned and shut down by the store, the blocking [`Store`]
//! interface keeps working on the same value, and the pool grows when calls wait (each
//! waiting call is bounded by the busy timeout, so waiting threads do not pile up for
//! long). The cost is one hand-off to a pool thread and one copy of the record per call.
//! A store value is a cheap handle (`Clone`; clones share the connection). Outside a
//! Tokio runtime the async calls run inline.
//!
//! # Growth
//!
//! Expired rows are never returned. Every [`SWEEP_EVERY`] creates, the store deletes up
//! to `2 × SWEEP_EVERY` expired rows by itself (every row comes from a create, so that
//! keeps up with any traffic); [`SqliteStore::sweep`] deletes all of them, and
//! [`SqliteStore::spawn_sweeper`] runs it periodically on a Tokio runtime.
//!
//! # Records that are not well-formed
//!
//! SQLite columns are not strictly typed, and the table may come from elsewhere. A row
//! whose `data` is not a blob, whose `version` is not an integer of at least 1, or whose
//! `expires_at` is not a finite number is treated as missing: `load` gives `None`,
//! `save` gives [`SaveOutcome::Missing`], `touch` gives `false`, and `create` replaces
//! it. The sweeps delete expired rows only (through the `expires_at` index); rows that
//! are not well-formed stay until a create takes their key.

extern crate std;

pub(crate) mod off_executor;

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use crate::server::store::{require_key, CreateOutcome, TouchOutcome};

use crate::server::{
    OpResult, Record, RemoveOutcome, SaveOutcome, Store, StoreError, StoreErrorKind, StoreOp,
};

use super::sql::sqlite::{
    CREATE, LIVE, LOAD, REMOVE, REMOVE_IF, SAVE, SCHEMA, SWEEP, SWEEP_BATCH, TOUCH,
};

/// The default bound on waiting for the database (another writer's lock) in one call.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest busy timeout SQLite accepts (`i32::MAX` milliseconds, about 24 days);
/// longer ones are cut to it.
pub const MAX_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Every this many creates, [`SqliteStore`] deletes expired rows by itself (at most
/// `2 × SWEEP_EVERY` per time).
pub const SWEEP_EVERY: u64 = super::sql::sqlite::SWEEP_EVERY;

/// A session store in an SQLite database file (or in memory).
///
/// One connection, shared by all clones of the store and used by one call at a time:
/// SQLite serializes writers anyway, and every operation is a single short statement.
/// Clone it to share it (e.g. between the axum layer and [`SqliteStore::spawn_sweeper`]).
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
    busy_timeout: Duration,
}

struct Shared {
    /// The connection, `None` while a call has it.
    slot: Mutex<Option<Connection>>,
    /// Signalled when the connection is put back.
    returned: Condvar,
    creates: AtomicU64,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("busy_timeout", &self.busy_timeout)
            .finish_non_exhaustive()
    }
}

fn error(e: rusqlite::Error) -> StoreError {
    let kind = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreErrorKind::Timeout
        }
        Some(
            rusqlite::ErrorCode::CannotOpen
            | rusqlite::ErrorCode::ReadOnly
            | rusqlite::ErrorCode::DiskFull,
        ) => StoreErrorKind::Unavailable,
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            StoreErrorKind::Corrupt
        }
        _ => StoreErrorKind::Other,
    };
    StoreError::new(kind, e)
}

/// The store's connection, held by one call; put back (and a waiter woken) on drop.
struct Checkout<'a> {
    shared: &'a Shared,
    conn: Option<Connection>,
}

impl Checkout<'_> {
    fn conn(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("the connection is taken out of a checkout only when it is dropped")
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            *self.shared.slot() = Some(conn);
            self.shared.returned.notify_one();
        }
    }
}

impl Shared {
    fn slot(&self) -> MutexGuard<'_, Option<Connection>> {
        // The slot only ever holds a whole connection or nothing; a panic elsewhere
        // cannot leave it half-written.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SqliteStore {
    /// Opens (or creates) the database file and the table.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::from_connection(Connection::open(path).map_err(error)?)
    }

    /// A private in-memory database (for tests).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::from_connection(Connection::open_in_memory().map_err(error)?)
    }

    /// Uses an existing connection; creates the table if missing. The busy timeout is
    /// [`DEFAULT_BUSY_TIMEOUT`].
    pub fn from_connection(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(error)?;
        // WAL lets readers in other processes proceed during writes; in-memory databases
        // answer "memory", which is fine.
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(error)?;
        conn.execute_batch(SCHEMA).map_err(error)?;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                slot: Mutex::new(Some(conn)),
                returned: Condvar::new(),
                creates: AtomicU64::new(0),
            }),
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        })
    }

    /// Sets how long one call may wait for the database — for another connection's
    /// lock and for this store's connection together — before it fails with
    /// [`StoreErrorKind::Timeout`]. Applies to this handle and clones made from it
    /// afterwards; at most [`MAX_BUSY_TIMEOUT`]. Zero fails at once on a locked database.
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> SqliteStore {
        self.busy_timeout = timeout.min(MAX_BUSY_TIMEOUT);
        self
    }

    /// The busy timeout of this handle.
    pub fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// Takes the connection, waiting at most the busy timeout for it, and gives SQLite's
    /// busy handler what is left of the timeout.
    #[expect(
        clippy::disallowed_methods,
        reason = "bounds its own wait on a monotonic clock; session logic takes `now`"
    )]
    fn checkout(&self) -> Result<Checkout<'_>, StoreError> {
        let started = std::time::Instant::now();
        let slot = self.shared.slot();
        let (mut slot, _) = self
            .shared
            .returned
            .wait_timeout_while(slot, self.busy_timeout, |c| c.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        let Some(conn) = slot.take() else {
            return Err(StoreError::new(
                StoreErrorKind::Timeout,
                format_args!(
                    "sqlite store busy: no connection free within {:?}",
                    self.busy_timeout
                ),
            ));
        };
        drop(slot);
        let checkout = Checkout {
            shared: &self.shared,
            conn: Some(conn),
        };
        let left = self.busy_timeout.saturating_sub(started.elapsed());
        checkout.conn().busy_timeout(left).map_err(error)?;
        Ok(checkout)
    }

    /// Deletes every row expired at `now`; returns how many. Works in batches, letting
    /// other calls use the connection in between.
    pub fn sweep(&self, now: f64) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = sweep_batch(self.checkout()?.conn(), now)?;
            total += n;
            if n < SWEEP_BATCH as usize {
                return Ok(total);
            }
        }
    }
}

fn sweep_batch(conn: &Connection, now: f64) -> Result<usize, StoreError> {
    if !now.is_finite() {
        // A clock that is not a number must not decide that everything expired.
        return Ok(0);
    }
    conn.execute(SWEEP, params![now, SWEEP_BATCH])
        .map_err(error)
}

/// A row of `data, version, expires_at`, or `None` when it is not well-formed.
fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Record>> {
    let data = match row.get_ref(0)? {
        ValueRef::Blob(b) => b.to_vec(),
        _ => return Ok(None),
    };
    let version = match row.get_ref(1)? {
        ValueRef::Integer(v) if v >= 1 => v.unsigned_abs(),
        _ => return Ok(None),
    };
    let expires_at = match row.get_ref(2)? {
        ValueRef::Real(x) => x,
        ValueRef::Integer(x) => x as f64,
        _ => return Ok(None),
    };
    Ok(expires_at.is_finite().then_some(Record {
        data,
        version,
        expires_at: expires_at.into(),
    }))
}

/// Is there a live, well-formed row under `hex` at `now`?
fn live(conn: &Connection, hex: &str, now: f64) -> Result<bool, StoreError> {
    let row = conn
        .query_row(LIVE, params![hex, now], |_| Ok(()))
        .optional()
        .map_err(error)?;
    Ok(row.is_some())
}

impl Store for SqliteStore {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        if let StoreOp::Wait { delay } = op {
            std::thread::sleep(delay);
            return Ok(OpResult::Waited);
        }
        let checkout = self.checkout()?;
        let conn = checkout.conn();
        let run =
            |sql: &str, params: &[&dyn rusqlite::ToSql]| conn.execute(sql, params).map_err(error);
        Ok(match op {
            StoreOp::Load { key, now } => {
                let row = conn
                    .query_row(LOAD, params![key.as_str(), now.as_secs_f64()], decode)
                    .optional()
                    .map_err(error)?;
                OpResult::Loaded(row.flatten())
            }
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => {
                let key = require_key(key, "SqliteStore")?;
                let (e, now) = (expires_at.as_secs_f64(), now.as_secs_f64());
                let n = run(CREATE, params![key.as_str(), data, e, now])?;
                let creates = self.shared.creates.fetch_add(1, Ordering::Relaxed);
                if creates % SWEEP_EVERY == SWEEP_EVERY - 1 {
                    // Housekeeping: the create happened; a failed sweep is retried later.
                    let _ = sweep_batch(conn, now);
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
                let (hex, e, now) = (key.as_str(), expires_at.as_secs_f64(), now.as_secs_f64());
                // A version beyond SQLite's integers matches no row.
                let written = match i64::try_from(expected_version) {
                    Ok(expected) => run(SAVE, params![hex, data, e, expected, now])? == 1,
                    Err(_) => false,
                };
                OpResult::Saved(if written {
                    SaveOutcome::Saved {
                        version: expected_version.saturating_add(1),
                    }
                } else if live(conn, hex, now)? {
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
                let n = run(
                    TOUCH,
                    params![key.as_str(), expires_at.as_secs_f64(), now.as_secs_f64()],
                )?;
                OpResult::Touched(if n == 1 {
                    TouchOutcome::Touched
                } else {
                    TouchOutcome::Missing
                })
            }
            StoreOp::Remove { key } => {
                run(REMOVE, params![key.as_str()])?;
                OpResult::Removed
            }
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => {
                let (hex, now) = (key.as_str(), now.as_secs_f64());
                let removed = match i64::try_from(expected_version) {
                    Ok(expected) => run(REMOVE_IF, params![hex, expected, now])? == 1,
                    Err(_) => false,
                };
                OpResult::RemovedIf(if removed {
                    RemoveOutcome::Removed
                } else if live(conn, hex, now)? {
                    RemoveOutcome::Conflict
                } else {
                    RemoveOutcome::Missing
                })
            }
            StoreOp::Wait { .. } => OpResult::Waited,
        })
    }
}
