//! Store implementations (std): [`memory::MemoryStore`], the embedded default,
//! [`sqlite::SqliteStore`] (feature `sqlite`), the Redis stores (feature `redis`: the
//! crate's own layout, [`redis::RedisStore`], and pyramid_session_redis's, shared with a
//! Python app, [`pyramid_session_redis::PyramidSessionRedisStore`]) and the PostgreSQL
//! stores (feature `postgres`), the stores over the application's own sqlx pool
//! ([`sqlx_sqlite::SqlxSqliteStore`], feature `sqlx-sqlite`, and
//! [`sqlx_postgres::SqlxPostgresStore`], feature `sqlx-postgres`); with `sqlite` or
//! `postgres`, [`cubicweb::CubicWebStore`],
//! CubicWeb's own `cw_CWSession` rows and `cw_CWUser` logins, shared with a Python
//! CubicWeb instance.
//!
//! Every store implements the one-method contract of [`crate::server::Store`] (and
//! [`crate::server::AsyncStore`]); `tests/store_contract.rs` runs one suite against all.
//! Each store's `execute` is one `match` over the [`crate::server::StoreOp`] vocabulary.
//!
//! With feature `sweeper` (on with every SQL store and integration), each store that
//! keeps expired records until deleted implements [`sweeper::Sweep`] (its one
//! batch-delete), and [`spawn_sweeper`] runs the periodic sweep of any of them — an
//! `Arc` of the store too, so the layer can hold another.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod cubicweb;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod pyramid_session_redis;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres"
))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "sqlx-postgres")]
pub mod sqlx_postgres;
#[cfg(feature = "sqlx-sqlite")]
pub mod sqlx_sqlite;
#[cfg(feature = "sweeper")]
pub mod sweeper;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use cubicweb::{CubicWebOptions, CubicWebStore, CwUser};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{AsyncPostgresStore, PostgresStore};
#[cfg(feature = "redis")]
pub use pyramid_session_redis::{
    AsyncPyramidSessionRedisStore, PyramidSessionRedisOptions, PyramidSessionRedisStore,
};
#[cfg(feature = "redis")]
pub use redis::{AsyncRedisStore, RedisStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
#[cfg(feature = "sqlx-postgres")]
pub use sqlx_postgres::SqlxPostgresStore;
#[cfg(feature = "sqlx-sqlite")]
pub use sqlx_sqlite::SqlxSqliteStore;
#[cfg(feature = "sweeper")]
pub use sweeper::{spawn_sweeper, sweep, Sweep, Sweeper};
