//! Store implementations (std): [`memory::MemoryStore`], the embedded default, and
//! [`sqlite::SqliteStore`] (feature `sqlite`).
//!
//! Every store implements the contract of [`crate::server::Store`] (and
//! [`crate::server::AsyncStore`]); `tests/store_contract.rs` runs one suite against all.

/// Implements [`crate::server::AsyncStore`] for a store whose blocking operations never
/// wait (the memory store): each async call runs the blocking one inline. Not for
/// SQLite, whose calls may wait on another connection's lock (see the `sqlite` module).
macro_rules! async_via_blocking {
    ($store:ty) => {
        impl $crate::server::AsyncStore for $store {
            async fn load(
                &self,
                key: &$crate::server::StoreKey,
                now: f64,
            ) -> Result<Option<$crate::server::Stored>, $crate::server::StoreError> {
                $crate::server::Store::load(self, key, now)
            }
            async fn create(
                &self,
                key: &$crate::server::StoreKey,
                data: &[u8],
                expires_at: f64,
                now: f64,
            ) -> Result<bool, $crate::server::StoreError> {
                $crate::server::Store::create(self, key, data, expires_at, now)
            }
            async fn save(
                &self,
                key: &$crate::server::StoreKey,
                data: &[u8],
                expected_version: u64,
                expires_at: f64,
                now: f64,
            ) -> Result<$crate::server::SaveOutcome, $crate::server::StoreError> {
                $crate::server::Store::save(self, key, data, expected_version, expires_at, now)
            }
            async fn touch(
                &self,
                key: &$crate::server::StoreKey,
                expires_at: f64,
                now: f64,
            ) -> Result<bool, $crate::server::StoreError> {
                $crate::server::Store::touch(self, key, expires_at, now)
            }
            async fn remove(
                &self,
                key: &$crate::server::StoreKey,
            ) -> Result<(), $crate::server::StoreError> {
                $crate::server::Store::remove(self, key)
            }
            async fn remove_if(
                &self,
                key: &$crate::server::StoreKey,
                expected_version: u64,
                now: f64,
            ) -> Result<$crate::server::RemoveOutcome, $crate::server::StoreError> {
                $crate::server::Store::remove_if(self, key, expected_version, now)
            }
            // No `wait`: a conflict on a store that never waits in between is retried
            // at once (the blocking `wait` would stall the executor).
        }
    };
}

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
