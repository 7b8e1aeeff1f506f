//! The store contract: what a session store must do, blocking ([`Store`]) or async
//! ([`AsyncStore`]), and the operations the plan asks for ([`StoreOp`], [`OpResult`]).

use alloc::vec::Vec;
use core::future::Future;
use core::time::Duration;

use super::id::StoreKey;
use crate::error::StoreError;

/// A record as a store holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The encoded record (JSON `{"created": …, "state": {…}}`); opaque to stores.
    pub data: Vec<u8>,
    /// Incremented by every successful save; 1 after create.
    pub version: u64,
    /// When the record stops being valid (Unix seconds).
    pub expires_at: f64,
}

/// Result of a compare-and-set save.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written; the record now has this version.
    Saved {
        /// The new version.
        version: u64,
    },
    /// The record exists with another version: someone saved in between.
    Conflict,
    /// The record is gone (removed or expired).
    Missing,
}

/// Result of a conditional remove ([`Store::remove_if`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum RemoveOutcome {
    /// The record had the expected version and is gone.
    Removed,
    /// The record exists with another version: someone saved in between; it is kept.
    Conflict,
    /// There was no live record.
    Missing,
}

/// The store contract, blocking flavour. Every write carries the record's expiry, which
/// the core computes; `now` lets stores without native expiry ignore expired records.
///
/// - `load` returns `None` for a missing or expired record and never creates one.
/// - `create` inserts only if no live record has the key (returns `false` otherwise);
///   the new record has version 1.
/// - `save` replaces the record only if it is live and has `expected_version`.
/// - `touch` moves the expiry of a live record without rewriting it; `false` if missing.
/// - `remove` deletes the record (absent is fine).
/// - `remove_if` deletes the record only if it is live and still has `expected_version`
///   (how a login moves a session to a new id without losing a concurrent write).
/// - `wait` pauses before a retry after a lost compare-and-set (backoff); the plan
///   decides how long.
pub trait Store {
    /// Loads a live record.
    fn load(&self, key: &StoreKey, now: f64) -> Result<Option<Stored>, StoreError>;
    /// Inserts a record if the key is free.
    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> Result<bool, StoreError>;
    /// Compare-and-set on the version.
    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> Result<SaveOutcome, StoreError>;
    /// Extends the expiry of a live record.
    fn touch(&self, key: &StoreKey, expires_at: f64, now: f64) -> Result<bool, StoreError>;
    /// Deletes a record.
    fn remove(&self, key: &StoreKey) -> Result<(), StoreError>;
    /// Deletes a live record only if it still has `expected_version`.
    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> Result<RemoveOutcome, StoreError>;
    /// Waits `delay` before a retry. With `std` the default sleeps the calling thread;
    /// without it, it returns at once.
    fn wait(&self, delay: Duration) {
        #[cfg(feature = "std")]
        {
            extern crate std;
            std::thread::sleep(delay);
        }
        #[cfg(not(feature = "std"))]
        let _ = delay;
    }
}

macro_rules! store_via_deref {
    ($($ty:ty),*) => {$(
        /// A reference or shared pointer to a store is a store.
        impl<S: Store + ?Sized> Store for $ty {
            fn load(&self, key: &StoreKey, now: f64) -> Result<Option<Stored>, StoreError> {
                (**self).load(key, now)
            }
            fn create(&self, key: &StoreKey, data: &[u8], expires_at: f64, now: f64) -> Result<bool, StoreError> {
                (**self).create(key, data, expires_at, now)
            }
            fn save(
                &self,
                key: &StoreKey,
                data: &[u8],
                expected_version: u64,
                expires_at: f64,
                now: f64,
            ) -> Result<SaveOutcome, StoreError> {
                (**self).save(key, data, expected_version, expires_at, now)
            }
            fn touch(&self, key: &StoreKey, expires_at: f64, now: f64) -> Result<bool, StoreError> {
                (**self).touch(key, expires_at, now)
            }
            fn remove(&self, key: &StoreKey) -> Result<(), StoreError> {
                (**self).remove(key)
            }
            fn remove_if(&self, key: &StoreKey, expected_version: u64, now: f64) -> Result<RemoveOutcome, StoreError> {
                (**self).remove_if(key, expected_version, now)
            }
            fn wait(&self, delay: Duration) {
                (**self).wait(delay)
            }
        }
    )*};
}

store_via_deref!(&S, alloc::sync::Arc<S>);

/// The store contract, async flavour: the same operations and rules as [`Store`].
pub trait AsyncStore: Sync {
    /// Loads a live record.
    fn load(
        &self,
        key: &StoreKey,
        now: f64,
    ) -> impl Future<Output = Result<Option<Stored>, StoreError>> + Send;
    /// Inserts a record if the key is free.
    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Compare-and-set on the version.
    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;
    /// Extends the expiry of a live record.
    fn touch(
        &self,
        key: &StoreKey,
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes a record.
    fn remove(&self, key: &StoreKey) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes a live record only if it still has `expected_version`.
    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> impl Future<Output = Result<RemoveOutcome, StoreError>> + Send;
    /// Waits `delay` before a retry, without blocking the executor. The default returns
    /// at once (no runtime is assumed); stores on a runtime sleep on its timer.
    fn wait(&self, delay: Duration) -> impl Future<Output = ()> + Send {
        let _ = delay;
        core::future::ready(())
    }
}

/// One store operation the driver must run, then report with [`Finisher::complete`](super::Finisher::complete).
#[derive(Debug)]
pub enum StoreOp<'a> {
    /// [`Store::load`].
    Load {
        /// Record key.
        key: StoreKey,
        /// Request time.
        now: f64,
    },
    /// [`Store::create`].
    Create {
        /// Record key.
        key: StoreKey,
        /// Encoded record.
        data: &'a [u8],
        /// Expiry.
        expires_at: f64,
        /// Request time.
        now: f64,
    },
    /// [`Store::save`].
    Save {
        /// Record key.
        key: StoreKey,
        /// Encoded record.
        data: &'a [u8],
        /// Version the record must still have.
        expected_version: u64,
        /// Expiry.
        expires_at: f64,
        /// Request time.
        now: f64,
    },
    /// [`Store::touch`].
    Touch {
        /// Record key.
        key: StoreKey,
        /// New expiry.
        expires_at: f64,
        /// Request time.
        now: f64,
    },
    /// [`Store::remove`].
    Remove {
        /// Record key.
        key: StoreKey,
    },
    /// [`Store::remove_if`].
    RemoveIf {
        /// Record key.
        key: StoreKey,
        /// Version the record must still have.
        expected_version: u64,
        /// Request time.
        now: f64,
    },
    /// [`Store::wait`]: back off before the next operation.
    Wait {
        /// How long.
        delay: Duration,
    },
}

/// What the store answered to a [`StoreOp`].
#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    /// Answer to `Load`.
    Loaded(Option<Stored>),
    /// Answer to `Create`: false when the key was taken.
    Created(bool),
    /// Answer to `Save`.
    Saved(SaveOutcome),
    /// Answer to `Touch`: false when the record was gone.
    Touched(bool),
    /// Answer to `Remove`.
    Removed,
    /// Answer to `RemoveIf`.
    RemovedIf(RemoveOutcome),
    /// Answer to `Wait`.
    Waited,
}
