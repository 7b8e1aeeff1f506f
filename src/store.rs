//! Store implementations (std): [`memory::MemoryStore`], the embedded default,
//! [`sqlite::SqliteStore`] (feature `sqlite`), the Redis stores (feature `redis`: the
//! crate's own layout, [`redis::RedisStore`], and pyramid_session_redis's, shared with a
//! Python app, [`pyramid_session_redis::PyramidSessionRedisStore`]) and the PostgreSQL
//! stores (feature `postgres`); with either SQL feature, [`cubicweb::CubicWebStore`],
//! CubicWeb's own `cw_CWSession` rows and `cw_CWUser` logins, shared with a Python
//! CubicWeb instance.
//!
//! Every store implements the one-method contract of [`crate::server::Store`] (and
//! [`crate::server::AsyncStore`]); `tests/store_contract.rs` runs one suite against all.
//! Each store's `execute` is one `match` over the [`crate::server::StoreOp`] vocabulary.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod cubicweb;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod pyramid_session_redis;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;

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
