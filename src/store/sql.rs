//! The SQL of the crate's own `pyramid_sessions` table, shared by the stores over
//! rusqlite and over sqlx on SQLite ([`sqlite`]) and by the stores over tokio-postgres
//! and over sqlx on PostgreSQL ([`postgres`]): one text per dialect, so the stores of a
//! dialect cannot drift apart (same schema, same compare-and-set, same expiry filter).

/// SQLite (`SqliteStore`, `SqlxSqliteStore`): `?N` parameters.
#[cfg(any(feature = "sqlite", feature = "sqlx-sqlite"))]
pub(crate) mod sqlite {
    pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pyramid_sessions (
    key        TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    version    INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pyramid_sessions_expires ON pyramid_sessions (expires_at);
";

    /// The condition for a live, well-formed row at time `$now` (columns prefixed by
    /// `$t`). Every part is false, never NULL, when a type check fails, so the whole is
    /// 0 or 1.
    macro_rules! live {
        ($t:literal, $now:literal) => {
            concat!(
                "(typeof(",
                $t,
                "data) = 'blob' AND typeof(",
                $t,
                "version) = 'integer' AND ",
                $t,
                "version >= 1 AND typeof(",
                $t,
                "expires_at) IN ('real', 'integer') AND ",
                $t,
                "expires_at > ",
                $now,
                " AND ",
                $t,
                "expires_at < 9e999)"
            )
        };
    }

    /// `?1` key, `?2` now. The expiry as a REAL even when the row holds an integer.
    pub(crate) const LOAD: &str = concat!(
        "SELECT data, version, CAST(expires_at AS REAL) FROM pyramid_sessions WHERE key = ?1 AND ",
        live!("", "?2")
    );
    /// `?1` key, `?2` data, `?3` expiry, `?4` now. An expired or malformed row under the
    /// same key counts as absent.
    pub(crate) const CREATE: &str = concat!(
        "INSERT INTO pyramid_sessions (key, data, version, expires_at) VALUES (?1, ?2, 1, ?3)
     ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = 1, expires_at = excluded.expires_at
     WHERE ",
        live!("pyramid_sessions.", "?4"),
        " IS NOT TRUE"
    );
    /// `?1` key, `?2` data, `?3` expiry, `?4` expected version, `?5` now.
    pub(crate) const SAVE: &str = concat!(
        "UPDATE pyramid_sessions SET data = ?2, version = version + 1, expires_at = ?3
     WHERE key = ?1 AND version = ?4 AND ",
        live!("", "?5")
    );
    /// `?1` key, `?2` now.
    pub(crate) const LIVE: &str = concat!(
        "SELECT 1 FROM pyramid_sessions WHERE key = ?1 AND ",
        live!("", "?2")
    );
    /// `?1` key, `?2` expiry, `?3` now.
    pub(crate) const TOUCH: &str = concat!(
        "UPDATE pyramid_sessions SET expires_at = ?2 WHERE key = ?1 AND ",
        live!("", "?3")
    );
    /// `?1` key.
    pub(crate) const REMOVE: &str = "DELETE FROM pyramid_sessions WHERE key = ?1";
    /// `?1` key, `?2` expected version, `?3` now.
    pub(crate) const REMOVE_IF: &str = concat!(
        "DELETE FROM pyramid_sessions WHERE key = ?1 AND version = ?2 AND ",
        live!("", "?3")
    );
    /// `?1` now, `?2` batch size: through the expires_at index, a bounded batch at a
    /// time.
    pub(crate) const SWEEP: &str = "DELETE FROM pyramid_sessions WHERE key IN
     (SELECT key FROM pyramid_sessions WHERE expires_at <= ?1 LIMIT ?2)";

    /// Every this many creates, the SQLite stores delete expired rows by themselves (at
    /// most [`SWEEP_BATCH`] per time).
    pub(crate) const SWEEP_EVERY: u64 = 1024;

    /// Rows deleted per statement by the sweeps; the connection is free in between.
    pub(crate) const SWEEP_BATCH: i64 = 2 * SWEEP_EVERY as i64;
}

/// PostgreSQL (`AsyncPostgresStore`, `SqlxPostgresStore`): `$N` parameters.
#[cfg(any(feature = "postgres", feature = "sqlx-postgres"))]
pub(crate) mod postgres {
    /// The table, created by every store that creates it under one advisory lock, so
    /// that stores opening together do not race on the catalog.
    pub(crate) const SCHEMA: &str = "
BEGIN;
SELECT pg_advisory_xact_lock(727136541);
CREATE TABLE IF NOT EXISTS pyramid_sessions (
    key        TEXT PRIMARY KEY,
    data       BYTEA NOT NULL,
    version    BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS pyramid_sessions_expires ON pyramid_sessions (expires_at);
COMMIT;
";

    /// The condition for a live, well-formed row at time `$now` (columns prefixed by
    /// `$t`). NULL when a column is NULL; `IS TRUE` / `IS NOT TRUE` make that false /
    /// true. (`'Infinity'` excludes NaN too: PostgreSQL orders NaN above every number.)
    macro_rules! live {
        ($t:literal, $now:literal) => {
            concat!(
                "(",
                $t,
                "data IS NOT NULL AND ",
                $t,
                "version >= 1 AND ",
                $t,
                "expires_at > ",
                $now,
                " AND ",
                $t,
                "expires_at < 'Infinity')"
            )
        };
    }

    /// `$1` key, `$2` now.
    pub(crate) const LOAD: &str = concat!(
        "SELECT data, version, expires_at FROM pyramid_sessions WHERE key = $1 AND ",
        live!("", "$2"),
        " IS TRUE"
    );
    /// `$1` key, `$2` data, `$3` expiry, `$4` now. An expired or malformed row under the
    /// same key counts as absent.
    pub(crate) const CREATE: &str = concat!(
        "INSERT INTO pyramid_sessions (key, data, version, expires_at) VALUES ($1, $2, 1, $3)
     ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = 1, expires_at = excluded.expires_at
     WHERE ",
        live!("pyramid_sessions.", "$4"),
        " IS NOT TRUE"
    );
    /// `$1` key, `$2` data, `$3` expiry, `$4` expected version, `$5` now.
    pub(crate) const SAVE: &str = concat!(
        "UPDATE pyramid_sessions SET data = $2, version = version + 1, expires_at = $3
     WHERE key = $1 AND version = $4 AND ",
        live!("", "$5"),
        " IS TRUE"
    );
    /// `$1` key, `$2` now.
    pub(crate) const LIVE: &str = concat!(
        "SELECT 1 FROM pyramid_sessions WHERE key = $1 AND ",
        live!("", "$2"),
        " IS TRUE"
    );
    /// `$1` key, `$2` expiry, `$3` now.
    pub(crate) const TOUCH: &str = concat!(
        "UPDATE pyramid_sessions SET expires_at = $2 WHERE key = $1 AND ",
        live!("", "$3"),
        " IS TRUE"
    );
    /// `$1` key.
    pub(crate) const REMOVE: &str = "DELETE FROM pyramid_sessions WHERE key = $1";
    /// `$1` key, `$2` expected version, `$3` now.
    pub(crate) const REMOVE_IF: &str = concat!(
        "DELETE FROM pyramid_sessions WHERE key = $1 AND version = $2 AND ",
        live!("", "$3"),
        " IS TRUE"
    );
    /// `$1` now, `$2` batch size: through the expires_at index, a bounded batch per
    /// statement (each statement is bounded by the timeout, so an unbounded DELETE of a
    /// large backlog could never finish).
    pub(crate) const SWEEP: &str = "DELETE FROM pyramid_sessions WHERE key IN
     (SELECT key FROM pyramid_sessions WHERE expires_at <= $1 LIMIT $2)";
    /// Rows deleted per sweep statement.
    pub(crate) const SWEEP_BATCH: i64 = 2048;
}

/// `fut`, failing with [`StoreErrorKind::Timeout`](crate::server::StoreErrorKind::Timeout)
/// after `timeout` (the sqlx stores bound each whole call with it).
#[cfg(any(feature = "sqlx-sqlite", feature = "sqlx-postgres"))]
pub(crate) async fn bounded<T>(
    timeout: core::time::Duration,
    what: &'static str,
    fut: impl core::future::Future<Output = Result<T, crate::server::StoreError>>,
) -> Result<T, crate::server::StoreError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result,
        Err(_) => Err(crate::server::StoreError::new(
            crate::server::StoreErrorKind::Timeout,
            format_args!("{what} call did not finish within {timeout:?}"),
        )),
    }
}
