//! PostgreSQL store (feature `postgres`, `tokio-postgres`): [`AsyncPostgresStore`] (needs
//! a Tokio runtime) and [`PostgresStore`], its blocking wrapper, each on a small pool of
//! its own connections ([`AsyncPostgresStore::connect_pool`],
//! [`PostgresStore::open_pool`]; one connection with `connect` / `open`). An application
//! that already has an sqlx `PgPool` shares it instead with
//! [`SqlxPostgresStore`](crate::store::sqlx_postgres::SqlxPostgresStore) (feature
//! `sqlx-postgres`): the same table and the same statements.
//!
//! Schema, created on first use (no other migrations; run it yourself if the
//! application's role may not create tables):
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
//! Expired rows are never returned; `sweep` deletes them, in batches, and
//! `spawn_sweeper` ([`AsyncPostgresStore::spawn_sweeper`],
//! [`PostgresStore::spawn_sweeper`]) runs it periodically on its own connection, so a
//! long sweep never delays session calls.
//!
//! A row with a NULL column (in a table created without the `NOT NULL`s), a version
//! below 1, or an expiry that is NaN or infinite is treated as missing: `load` gives
//! `None`, `save` gives [`SaveOutcome::Missing`], `touch` gives `false`, and `create`
//! replaces it. Columns of another type than the schema's are a schema error: every
//! call fails.
//!
//! # Connections
//!
//! Each connection is a pipelined `tokio-postgres` client: calls on one connection do
//! not wait for each other's round trips, but the server runs them one after another in
//! one backend. A pool of `n` spreads the calls round-robin over `n` connections (`n`
//! backends working at once), made when the store opens (so a wrong URL fails at
//! once) and each remade on its next use after it breaks. Nothing is shared with other
//! stores; the sweeper has a connection of its own. Size it as a few per core of the
//! database server: a session call is one or two short statements.

extern crate std;

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;
use std::sync::{Mutex, PoisonError};

use crate::server::store::{require_key, BoxFuture, CreateOutcome, TouchOutcome};
use crate::server::{
    AsyncStore, OpResult, Record, RemoveOutcome, SaveOutcome, Store, StoreError, StoreErrorKind,
    StoreOp,
};
use crate::store::sweeper::{self, Sweep};
use crate::time::{Clock, UnixTime};

use super::sql::postgres::{
    CREATE, LIVE, LOAD, REMOVE, REMOVE_IF, SAVE, SCHEMA, SWEEP, SWEEP_BATCH, TOUCH,
};

/// Default timeout for connecting and for each statement.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn error(e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    let kind = match e.code() {
        Some(code) if *code == SqlState::QUERY_CANCELED => StoreErrorKind::Timeout,
        Some(code)
            if *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS =>
        {
            StoreErrorKind::Unavailable
        }
        Some(_) => StoreErrorKind::Other,
        // No SQLSTATE: the connection itself failed (refused, reset, closed).
        None => StoreErrorKind::Unavailable,
    };
    match e.as_db_error() {
        Some(db) => StoreError::new(
            kind,
            format_args!("{} ({})", db.message(), db.code().code()),
        ),
        None => StoreError::new(kind, e),
    }
}

/// A row of `data, version, expires_at`; `None` when it is not well-formed (the
/// queries already leave such rows out). A column of the wrong type is an error.
fn row_to_stored(row: &tokio_postgres::Row) -> Result<Option<Record>, StoreError> {
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

pub(crate) fn parse_config(
    url: &str,
    timeout: Duration,
) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::new(StoreErrorKind::Other, e))?;
    config.connect_timeout(timeout);
    let ms = timeout.as_millis();
    config.options(format!("-c statement_timeout={ms}"));
    Ok(config)
}

/// A blocking PostgreSQL store: the async store driven by a private one-thread Tokio
/// runtime, so every call — connecting included — is bounded by the timeout. Do not
/// call it from inside an async runtime (use [`AsyncPostgresStore`] there).
pub struct PostgresStore {
    rt: tokio::runtime::Runtime,
    inner: AsyncPostgresStore,
}

impl core::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db` or key=value form), creates the
    /// table if missing. `timeout` bounds connecting and every statement. One
    /// connection: [`PostgresStore::open_pool`] with 1.
    pub fn open(url: &str, timeout: Duration) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_pool(url, timeout, 1)
    }

    /// [`PostgresStore::open`] with a pool of `connections` connections (at least 1),
    /// used round-robin (see the module docs).
    pub fn open_pool(
        url: &str,
        timeout: Duration,
        connections: usize,
    ) -> Result<PostgresStore, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pyramid-session-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::new(StoreErrorKind::Other, e))?;
        let inner = rt.block_on(AsyncPostgresStore::connect_pool(url, timeout, connections))?;
        Ok(PostgresStore { rt, inner })
    }

    /// Deletes every row expired at `now`; returns how many.
    pub fn sweep(&self, now: f64) -> Result<u64, StoreError> {
        self.rt.block_on(self.inner.sweep(now))
    }

    /// Runs `sweep` every `every` (at least 1 ms; the first run is at once) at the time
    /// `clock()` (Unix seconds), on the store's own runtime and its own connection,
    /// until the returned task is aborted or the store is dropped. A failed sweep is
    /// retried at the next tick.
    pub fn spawn_sweeper(
        &self,
        every: Duration,
        clock: impl Clock + 'static,
    ) -> tokio::task::JoinHandle<()> {
        self.rt
            .spawn(sweeper::sweep_every(self.inner.sibling(), every, clock))
    }
}

impl Store for PostgresStore {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        self.rt.block_on(AsyncStore::execute(&self.inner, op))
    }
}

/// An async PostgreSQL store on a pool of pipelined `tokio-postgres` connections (one
/// with [`connect`](AsyncPostgresStore::connect), `n` with
/// [`connect_pool`](AsyncPostgresStore::connect_pool)), each reconnected when it breaks.
/// Every call is bounded by the configured timeout.
pub struct AsyncPostgresStore {
    pool: Connections,
}

type Slot = Mutex<Option<Arc<Conn>>>;

/// One connection, and the statements prepared on it (each once: a statement given as
/// text would be prepared anew, a round trip more, on every call).
pub(crate) struct Conn {
    client: tokio_postgres::Client,
    prepared: Mutex<Vec<(&'static str, tokio_postgres::Statement)>>,
}

impl core::ops::Deref for Conn {
    type Target = tokio_postgres::Client;
    fn deref(&self) -> &tokio_postgres::Client {
        &self.client
    }
}

impl Conn {
    /// `sql` as a statement prepared on this connection.
    pub(crate) async fn prepared(
        &self,
        sql: &'static str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        let known = |list: &[(&str, tokio_postgres::Statement)]| {
            list.iter()
                .find(|(text, _)| *text == sql)
                .map(|(_, statement)| statement.clone())
        };
        if let Some(statement) =
            known(&self.prepared.lock().unwrap_or_else(PoisonError::into_inner))
        {
            return Ok(statement);
        }
        let statement = self.client.prepare(sql).await?;
        let mut list = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        if known(&list).is_none() {
            list.push((sql, statement.clone()));
        }
        Ok(statement)
    }
}

/// Pipelined `tokio-postgres` connections used round-robin, each made (again) when it is
/// missing or broken, every call bounded by the timeout: what every PostgreSQL store of
/// the crate runs on (this one and `CubicWebStore`).
pub(crate) struct Connections {
    config: tokio_postgres::Config,
    timeout: Duration,
    /// The connections, `None` until made or while broken.
    slots: Box<[Slot]>,
    /// The next slot to use (round-robin).
    next: AtomicUsize,
}

impl Connections {
    /// `n` connections (at least 1) to `config`, made on first use.
    pub(crate) fn new(config: tokio_postgres::Config, timeout: Duration, n: usize) -> Connections {
        Connections {
            config,
            timeout,
            slots: (0..n.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// How many connections.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The same database, with `n` connections of their own.
    pub(crate) fn sibling(&self, n: usize) -> Connections {
        Connections::new(self.config.clone(), self.timeout, n)
    }

    /// The next connection, round-robin.
    pub(crate) async fn client(&self) -> Result<Arc<Conn>, StoreError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        self.client_in(n).await
    }

    /// Connection `n`, made (again) when it is missing or broken.
    pub(crate) async fn client_in(&self, n: usize) -> Result<Arc<Conn>, StoreError> {
        let slot = &self.slots[n % self.slots.len()];
        let current = slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(client) = current.filter(|c| !c.is_closed()) {
            return Ok(client);
        }
        let connect = self.config.connect(tokio_postgres::NoTls);
        let (client, connection) = match tokio::time::timeout(self.timeout, connect).await {
            Ok(result) => result.map_err(error)?,
            Err(_) => {
                return Err(StoreError::new(
                    StoreErrorKind::Timeout,
                    "connecting to postgres timed out",
                ))
            }
        };
        tokio::spawn(async move {
            // Ends when the connection closes; errors surface on the client's calls.
            let _ = connection.await;
        });
        let client = Arc::new(Conn {
            client,
            prepared: Mutex::new(Vec::new()),
        });
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(client.clone());
        Ok(client)
    }

    /// `fut`, bounded by the timeout.
    pub(crate) async fn bounded<T>(
        &self,
        fut: impl core::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result.map_err(error),
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                "postgres call timed out",
            )),
        }
    }
}

impl core::fmt::Debug for AsyncPostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncPostgresStore")
            .field("timeout", &self.pool.timeout)
            .field("connections", &self.pool.len())
            .finish_non_exhaustive()
    }
}

impl AsyncPostgresStore {
    /// Connects to `url` and creates the table if missing. Must run inside a Tokio
    /// runtime (the connection task is spawned on it). One connection:
    /// [`AsyncPostgresStore::connect_pool`] with 1.
    pub async fn connect(url: &str, timeout: Duration) -> Result<AsyncPostgresStore, StoreError> {
        AsyncPostgresStore::connect_pool(url, timeout, 1).await
    }

    /// [`AsyncPostgresStore::connect`] with a pool of `connections` connections (at
    /// least 1), all made now and used round-robin (see the module docs).
    pub async fn connect_pool(
        url: &str,
        timeout: Duration,
        connections: usize,
    ) -> Result<AsyncPostgresStore, StoreError> {
        let store = AsyncPostgresStore {
            pool: Connections::new(parse_config(url, timeout)?, timeout, connections),
        };
        let first = store.pool.client_in(0).await?;
        store.bounded(first.batch_execute(SCHEMA)).await?;
        for n in 1..store.pool.len() {
            store.pool.client_in(n).await?;
        }
        Ok(store)
    }

    /// How many connections the store keeps.
    pub fn connections(&self) -> usize {
        self.pool.len()
    }

    /// The next connection, round-robin.
    async fn client(&self) -> Result<Arc<Conn>, StoreError> {
        self.pool.client().await
    }

    async fn bounded<T>(
        &self,
        fut: impl core::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        self.pool.bounded(fut).await
    }

    /// Deletes every row expired at `now`, in batches; returns how many.
    pub async fn sweep(&self, now: f64) -> Result<u64, StoreError> {
        sweeper::sweep(self, now.into()).await
    }

    /// One batch of [`AsyncPostgresStore::sweep`].
    async fn sweep_one_batch(&self, now: f64) -> Result<u64, StoreError> {
        if !now.is_finite() {
            // PostgreSQL orders NaN above every number: it would delete every session.
            return Ok(0);
        }
        let client = self.client().await?;
        self.bounded(client.execute(SWEEP, &[&now, &SWEEP_BATCH]))
            .await
    }

    /// Runs `sweep` every `every` (at least 1 ms; the first run is at once) at the time
    /// `clock()` (Unix seconds) on a connection of its own, until the returned task is
    /// aborted. A failed sweep (e.g. the server is down) is retried at the next tick.
    /// Outside a Tokio runtime it fails with [`StoreErrorKind::Other`]; the runtime
    /// needs its timers enabled (`enable_time` or `enable_all`).
    pub fn spawn_sweeper(
        &self,
        every: Duration,
        clock: impl Clock + 'static,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        Ok(sweeper::spawn_sweeper_with_clock(self.sibling(), every, clock)?.detach())
    }

    /// A store on the same database with a connection of its own (made on first use).
    fn sibling(&self) -> AsyncPostgresStore {
        AsyncPostgresStore {
            pool: self.pool.sibling(1),
        }
    }
}

// One `DELETE … LIMIT` per batch, on the pool's next connection.
impl Sweep for AsyncPostgresStore {
    fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.sweep_one_batch(now.as_secs_f64()))
    }
    fn batch_size(&self) -> u64 {
        SWEEP_BATCH.unsigned_abs()
    }
}

impl AsyncPostgresStore {
    /// Is there a live, well-formed row under `hex` at `now`?
    async fn live(&self, client: &Conn, hex: &str, now: f64) -> Result<bool, StoreError> {
        let live = self.bounded(client.prepared(LIVE)).await?;
        let row = self.bounded(client.query_opt(&live, &[&hex, &now])).await?;
        Ok(row.is_some())
    }

    /// Runs `sql` (prepared once per connection) with `params`; the rows it changed.
    async fn exec(
        &self,
        client: &Conn,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let statement = self.bounded(client.prepared(sql)).await?;
        self.bounded(client.execute(&statement, params)).await
    }

    /// One operation: one statement, or for a lost conditional write a second one that
    /// tells a conflict from a missing record.
    async fn run(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        if let StoreOp::Wait { delay } = op {
            tokio::time::sleep(delay).await;
            return Ok(OpResult::Waited);
        }
        let client = self.client().await?;
        Ok(match op {
            StoreOp::Load { key, now } => {
                let (hex, now) = (key.as_str(), now.as_secs_f64());
                let load = self.bounded(client.prepared(LOAD)).await?;
                let row = self.bounded(client.query_opt(&load, &[&hex, &now])).await?;
                OpResult::Loaded(row.as_ref().map(row_to_stored).transpose()?.flatten())
            }
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => {
                let key = require_key(key, "PostgresStore")?;
                let (hex, e, now) = (key.as_str(), expires_at.as_secs_f64(), now.as_secs_f64());
                let n = self.exec(&client, CREATE, &[&hex, &data, &e, &now]).await?;
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
                // A version beyond BIGINT matches no row.
                let written = match i64::try_from(expected_version) {
                    Ok(expected) => {
                        self.exec(&client, SAVE, &[&hex, &data, &e, &expected, &now])
                            .await?
                            == 1
                    }
                    Err(_) => false,
                };
                OpResult::Saved(if written {
                    SaveOutcome::Saved {
                        version: expected_version.saturating_add(1),
                    }
                } else if self.live(&client, hex, now).await? {
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
                let (hex, e, now) = (key.as_str(), expires_at.as_secs_f64(), now.as_secs_f64());
                let n = self.exec(&client, TOUCH, &[&hex, &e, &now]).await?;
                OpResult::Touched(if n == 1 {
                    TouchOutcome::Touched
                } else {
                    TouchOutcome::Missing
                })
            }
            StoreOp::Remove { key } => {
                self.exec(&client, REMOVE, &[&key.as_str()]).await?;
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
                        self.exec(&client, REMOVE_IF, &[&hex, &expected, &now])
                            .await?
                            == 1
                    }
                    Err(_) => false,
                };
                OpResult::RemovedIf(if removed {
                    RemoveOutcome::Removed
                } else if self.live(&client, hex, now).await? {
                    RemoveOutcome::Conflict
                } else {
                    RemoveOutcome::Missing
                })
            }
            StoreOp::Wait { .. } => OpResult::Waited,
        })
    }
}

impl AsyncStore for AsyncPostgresStore {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(self.run(op))
    }
}
