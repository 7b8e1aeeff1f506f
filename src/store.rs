//! Store implementations (std): [`memory::MemoryStore`], the embedded default, and
//! [`sqlite::SqliteStore`] (feature `sqlite`).
//!
//! Every store implements the one-method contract of [`crate::server::Store`] (and
//! [`crate::server::AsyncStore`]); `tests/store_contract.rs` runs one suite against all.
//! Each store's `execute` is one `match` over the [`crate::server::StoreOp`] vocabulary.

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{AsyncPostgresStore, PostgresStore};
#[cfg(feature = "redis")]
pub use redis::{AsyncRedisStore, RedisStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
