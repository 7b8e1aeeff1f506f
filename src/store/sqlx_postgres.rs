//! PostgreSQL store over the application's own sqlx pool (feature `sqlx-postgres`,
//! sqlx 0.8): [`SqlxPostgresStore`], an [`AsyncStore`] on a [`sqlx::PgPool`].
//!
//! An application on sqlx already has a pool, sized and configured for its database
//! (TLS, credentials, `max_connections`, `acquire_timeout`); this store borrows
//! connections from it per call, so sessions need no connection, credentials or TLS
//! setup of their own. (Without sqlx, the `postgres` feature's
//! [`AsyncPostgresStore`](crate::store::AsyncPostgresStore) keeps a small pool of its
//! own `tokio-postgres` connections.) The module docs of
//! [`sqlx_sqlite`](crate::store::sqlx_sqlite) say why the crate offers stores over sqlx
//! rather than only aligning its driver versions with sqlx's.
//!
//! # Schema and semantics
//!
//! The table and every statement are the `tokio-postgres` store's (the same text): both
//! stores can serve one database at once.
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS pyramid_sessions (
//!     key        TEXT PRIMARY KEY,            -- hex SHA-256 of the session id
//!     data       BYTEA NOT NULL,              -- the encoded record
//!     version    BIGINT NOT NULL,             -- compare-and-set version, 1 after create
//!     expires_at DOUBLE PRECISION NOT NULL    -- Unix seconds
//! );
//! CREATE INDEX IF NOT EXISTS pyramid_sessions_expires ON pyramid_sessions (expires_at);
//! ```
//!
//! [`SqlxPostgresStore::new`] creates it if missing (in a transaction under an advisory
//! lock, so application instances starting together do not race);
//! [`SqlxPostgresStore::from_pool`] leaves that to the application's migrations
//! ([`SCHEMA`] is the text, for a role that may not create tables). Saves and
//! conditional removals are compare-and-set on `version` in one statement; a write on a
//! missing or expired row answers `Missing` and writes nothing (no resurrection);
//! expired rows are never returned; a row with a NULL column, a version below 1, or an
//! expiry that is NaN or infinite counts as missing and a create replaces it; columns of
//! another type than the schema's are a schema error (every call fails).
//! [`SqlxPostgresStore::sweep`] deletes expired rows in batches, and
//! [`SqlxPostgresStore::spawn_sweeper`] runs it periodically.
//!
//! # Timeouts
//!
//! Each call — waiting for a pool connection and its one or two statements — is bounded
//! by the store's timeout ([`DEFAULT_TIMEOUT`], [`SqlxPostgresStore::with_timeout`]);
//! then it fails with [`StoreErrorKind::Timeout`] (the axum layer answers 503). The pool
//! is the application's, so the store sets no `statement_timeout` on its connections: a
//! statement the server is already running finishes there (a timed-out save may have
//! been written, which the next request sees as a newer version — a compare-and-set
//! conflict, retried — never as a lost update). Set one in the pool's connect options
//! if the server should give up too.

extern crate std;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::sql::bounded;
use super::sql::postgres::{
    CREATE, LIVE, LOAD, REMOVE, REMOVE_IF, SAVE, SWEEP, SWEEP_BATCH, TOUCH,
};
use crate::server::store::{require_key, BoxFuture, CreateOutcome, TouchOutcome};
use crate::server::{
    AsyncStore, OpResult, Record, RemoveOutcome, SaveOutcome, StoreError, StoreErrorKind, StoreOp,
};
use crate::store::sweeper::{self, Sweep};
use crate::time::{Clock, UnixTime};

/// The table and its index, as [`SqlxPostgresStore::new`] creates them, in one
/// transaction under an advisory lock (for an application that runs its own migrations
/// and opens the store with [`SqlxPostgresStore::from_pool`]).
pub const SCHEMA: &str = super::sql::postgres::SCHEMA;

/// The default bound on one call (pool wait and statements together).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A session store in the `pyramid_sessions` table of the application's PostgreSQL
/// database, over its [`PgPool`]. A cheap handle (`Clone`; clones share the pool).
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use pyramid_session::store::SqlxPostgresStore;
///
/// let pool = sqlx::postgres::PgPoolOptions::new()
///     .max_connections(16)
///     .connect("postgres://app@localhost/app")
///     .await?;
/// let store = SqlxPostgresStore::new(pool.clone()).await?; // creates the table if missing
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlxPostgresStore {
    pool: PgPool,
    timeout: Duration,
}

impl core::fmt::Debug for SqlxPostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqlxPostgresStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An sqlx error as a [`StoreError`], by SQLSTATE as the `tokio-postgres` store maps
/// them; an exhausted pool is a timeout, a failed connection unavailable.
fn error(e: sqlx::Error) -> StoreError {
    let kind = match &e {
        sqlx::Error::PoolTimedOut => StoreErrorKind::Timeout,
        sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreErrorKind::Unavailable,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // query_canceled (statement_timeout)
            Some("57014") => StoreErrorKind::Timeout,
            // admin_shutdown, cannot_connect_now, too_many_connections
            Some("57P01" | "57P03" | "53300") => StoreErrorKind::Unavailable,
            _ => StoreErrorKind::Other,
        },
        _ => StoreErrorKind::Other,
    };
    match &e {
        sqlx::Error::Database(db) => StoreError::new(
            kind,
            format_args!("{} ({})", db.message(), db.code().unwrap_or_default()),
        ),
        _ => StoreError::new(kind, e),
    }
}

/// A row of `data, version, expires_at`; `None` when it is not well-formed (the
/// queries already leave such rows out). A column of the wrong type is an error.
fn decode(row: &PgRow) -> Result<Option<Record>, StoreError> {
    let data: Option<Vec<u8>> = row.try_get(0).map_err(error)?;
    let version: Option<i64> = row.try_get(1).map_err(error)?;
    let expires_at: Option<f64> = row.try_get(2).map_err(error)?;
    Ok(match (data, version, expires_at) {
        (Some(data), Some(version), Some(expires_at)) if version >= 1 && expires_at.is_finite() => {
            Some(Record {
                data,
                version: version.unsigned_abs(),
                expires_at: expires_at.into(),
            })
        }
        _ => None,
    })
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl SqlxPostgresStore {
    /// The store on `pool`, creating the table and its index if missing ([`SCHEMA`]).
    /// The call timeout is [`DEFAULT_TIMEOUT`].
    pub async fn new(pool: PgPool) -> Result<SqlxPostgresStore, StoreError> {
        let store = SqlxPostgresStore::from_pool(pool);
        bounded(store.timeout, "postgres", async {
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
    pub fn from_pool(pool: PgPool) -> SqlxPostgresStore {
        SqlxPostgresStore {
            pool,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the bound on one call (see the module docs); applies to this handle and
    /// clones made from it afterwards.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> SqlxPostgresStore {
        self.timeout = timeout;
        self
    }

    /// The bound on one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Deletes every row expired at `now`, in batches (each bounded by the timeout; the
    /// pool's connections are free in between); returns how many.
    pub async fn sweep(&self, now: f64) -> Result<u64, StoreError> {
        sweeper::sweep(self, now.into()).await
    }

    /// One batch of [`SqlxPostgresStore::sweep`].
    async fn sweep_one_batch(&self, now: f64) -> Result<u64, StoreError> {
        if !now.is_finite() {
            // PostgreSQL orders NaN above every number: it would delete every session.
            return Ok(0);
        }
        let query = sqlx::query(SWEEP).bind(now).bind(SWEEP_BATCH);
        bounded(self.timeout, "postgres", self.change(query)).await
    }

    /// Runs [`SqlxPostgresStore::sweep`] every `every` (at least 1 ms; the first run is
    /// at once) at the time `clock()` (Unix seconds), on the store's pool, until the
    /// returned task is aborted. A failed sweep (e.g. the server is down) is retried at
    /// the next tick. Outside a Tokio runtime it fails with [`StoreErrorKind::Other`];
    /// the runtime needs its timers enabled (`enable_time` or `enable_all`).
    pub fn spawn_sweeper(
        &self,
        every: Duration,
        clock: impl Clock + 'static,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        Ok(sweeper::spawn_sweeper_with_clock(self.clone(), every, clock)?.detach())
    }

    /// Runs one statement; how many rows it changed.
    async fn change(&self, query: PgQuery<'_>) -> Result<u64, StoreError> {
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
                let key = require_key(key, "SqlxPostgresStore")?;
                let query = sqlx::query(CREATE)
                    .bind(key.as_str())
                    .bind(data)
                    .bind(expires_at.as_secs_f64())
                    .bind(now.as_secs_f64());
                OpResult::Created(if self.change(query).await? == 1 {
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
                // A version beyond BIGINT matches no row.
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
impl Sweep for SqlxPostgresStore {
    fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.sweep_one_batch(now.as_secs_f64()))
    }
    fn batch_size(&self) -> u64 {
        SWEEP_BATCH.unsigned_abs()
    }
}

impl AsyncStore for SqlxPostgresStore {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async move {
            if let StoreOp::Wait { .. } = op {
                // A wait is no database call: not bounded by the timeout.
                return self.run(op).await;
            }
            bounded(self.timeout, "postgres", self.run(op)).await
        })
    }
}
