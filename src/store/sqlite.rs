//! SQLite store (feature `sqlite`, `rusqlite` with the bundled library): sessions in the
//! database, no session server to run.
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
//! Expired rows are never returned; [`SqliteStore::sweep`] deletes them (schedule it).

extern crate std;

use std::path::Path;
use std::string::String;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};

use crate::server::{
    RemoveOutcome, SaveOutcome, Store, StoreError, StoreErrorKind, StoreKey, Stored,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pyramid_sessions (
    key        TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    version    INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pyramid_sessions_expires ON pyramid_sessions (expires_at);
";

/// A session store in an SQLite database file (or in memory).
///
/// One connection behind a mutex: SQLite serializes writers anyway, and every operation
/// is a single short statement.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
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

impl SqliteStore {
    /// Opens (or creates) the database file and the table.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::from_connection(Connection::open(path).map_err(error)?)
    }

    /// A private in-memory database (for tests).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::from_connection(Connection::open_in_memory().map_err(error)?)
    }

    /// Uses an existing connection; creates the table if missing.
    pub fn from_connection(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(error)?;
        // WAL lets readers in other processes proceed during writes; in-memory databases
        // answer "memory", which is fine.
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(error)?;
        conn.execute_batch(SCHEMA).map_err(error)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Deletes every row expired at `now`; returns how many.
    pub fn sweep(&self, now: f64) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "DELETE FROM pyramid_sessions WHERE expires_at <= ?1",
                params![now],
            )
            .map_err(error)
    }
}

fn version(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store for SqliteStore {
    fn load(&self, key: &StoreKey, now: f64) -> Result<Option<Stored>, StoreError> {
        self.conn()
            .query_row(
                "SELECT data, version, expires_at FROM pyramid_sessions WHERE key = ?1 AND expires_at > ?2",
                params![key.to_hex(), now],
                |r| Ok(Stored { data: r.get(0)?, version: version(r.get(1)?), expires_at: r.get(2)? }),
            )
            .optional()
            .map_err(error)
    }

    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> Result<bool, StoreError> {
        // An expired row under the same key counts as absent.
        let n = self
            .conn()
            .execute(
                "INSERT INTO pyramid_sessions (key, data, version, expires_at) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = 1, expires_at = excluded.expires_at
                 WHERE pyramid_sessions.expires_at <= ?4",
                params![key.to_hex(), data, expires_at, now],
            )
            .map_err(error)?;
        Ok(n == 1)
    }

    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> Result<SaveOutcome, StoreError> {
        let conn = self.conn();
        let expected = i64::try_from(expected_version).unwrap_or(i64::MAX);
        let n = conn
            .execute(
                "UPDATE pyramid_sessions SET data = ?2, version = version + 1, expires_at = ?3
                 WHERE key = ?1 AND version = ?4 AND expires_at > ?5",
                params![key.to_hex(), data, expires_at, expected, now],
            )
            .map_err(error)?;
        if n == 1 {
            return Ok(SaveOutcome::Saved {
                version: expected_version + 1,
            });
        }
        let live: Option<i64> = conn
            .query_row(
                "SELECT version FROM pyramid_sessions WHERE key = ?1 AND expires_at > ?2",
                params![key.to_hex(), now],
                |r| r.get(0),
            )
            .optional()
            .map_err(error)?;
        Ok(if live.is_some() {
            SaveOutcome::Conflict
        } else {
            SaveOutcome::Missing
        })
    }

    fn touch(&self, key: &StoreKey, expires_at: f64, now: f64) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE pyramid_sessions SET expires_at = ?2 WHERE key = ?1 AND expires_at > ?3",
                params![key.to_hex(), expires_at, now],
            )
            .map_err(error)?;
        Ok(n == 1)
    }

    fn remove(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "DELETE FROM pyramid_sessions WHERE key = ?1",
                params![key.to_hex()],
            )
            .map_err(error)?;
        Ok(())
    }

    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> Result<RemoveOutcome, StoreError> {
        let conn = self.conn();
        let expected = i64::try_from(expected_version).unwrap_or(i64::MAX);
        let n = conn
            .execute(
                "DELETE FROM pyramid_sessions WHERE key = ?1 AND version = ?2 AND expires_at > ?3",
                params![key.to_hex(), expected, now],
            )
            .map_err(error)?;
        if n == 1 {
            return Ok(RemoveOutcome::Removed);
        }
        let live: Option<i64> = conn
            .query_row(
                "SELECT version FROM pyramid_sessions WHERE key = ?1 AND expires_at > ?2",
                params![key.to_hex(), now],
                |r| r.get(0),
            )
            .optional()
            .map_err(error)?;
        Ok(if live.is_some() {
            RemoveOutcome::Conflict
        } else {
            RemoveOutcome::Missing
        })
    }
}

// Each call is one short local statement, run inline: it blocks the executor thread
// for about as long as a memory allocation under contention.
async_via_blocking!(SqliteStore);
