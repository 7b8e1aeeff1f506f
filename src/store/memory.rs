//! An in-process store: a map behind a mutex. Expired records are never returned; they
//! are dropped every [`SWEEP_EVERY`] creates, or whenever [`MemoryStore::sweep`] runs.

extern crate std;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::server::{RemoveOutcome, SaveOutcome, Store, StoreError, StoreKey, Stored};

/// The embedded default store. Cheap to share (`Arc<MemoryStore>`); sessions do not
/// survive a restart.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<StoreKey, Stored>>,
    creates: core::sync::atomic::AtomicU64,
}

/// Every this many creates, [`MemoryStore`] sweeps expired records by itself.
pub const SWEEP_EVERY: u64 = 1024;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn records(&self) -> MutexGuard<'_, HashMap<StoreKey, Stored>> {
        // A panic elsewhere while holding the lock cannot leave a record half-written
        // (every operation replaces whole values), so a poisoned map is still usable.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Deletes every record expired at `now`; returns how many.
    pub fn sweep(&self, now: f64) -> usize {
        let mut records = self.records();
        let before = records.len();
        records.retain(|_, r| r.expires_at > now);
        before - records.len()
    }

    /// Number of records held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.records().len()
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn live<'m>(
        records: &'m mut HashMap<StoreKey, Stored>,
        key: &StoreKey,
        now: f64,
    ) -> Option<&'m mut Stored> {
        records.get_mut(key).filter(|r| r.expires_at > now)
    }
}

impl Store for MemoryStore {
    fn load(&self, key: &StoreKey, now: f64) -> Result<Option<Stored>, StoreError> {
        Ok(Self::live(&mut self.records(), key, now).map(|r| r.clone()))
    }

    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> Result<bool, StoreError> {
        let n = self
            .creates
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        if n % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now);
        }
        let mut records = self.records();
        if Self::live(&mut records, key, now).is_some() {
            return Ok(false);
        }
        records.insert(
            *key,
            Stored {
                data: data.to_vec(),
                version: 1,
                expires_at,
            },
        );
        Ok(true)
    }

    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> Result<SaveOutcome, StoreError> {
        let mut records = self.records();
        Ok(match Self::live(&mut records, key, now) {
            None => SaveOutcome::Missing,
            Some(r) if r.version != expected_version => SaveOutcome::Conflict,
            Some(r) => {
                r.data = data.to_vec();
                r.version += 1;
                r.expires_at = expires_at;
                SaveOutcome::Saved { version: r.version }
            }
        })
    }

    fn touch(&self, key: &StoreKey, expires_at: f64, now: f64) -> Result<bool, StoreError> {
        Ok(match Self::live(&mut self.records(), key, now) {
            Some(r) => {
                r.expires_at = expires_at;
                true
            }
            None => false,
        })
    }

    fn remove(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.records().remove(key);
        Ok(())
    }

    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> Result<RemoveOutcome, StoreError> {
        let mut records = self.records();
        Ok(match Self::live(&mut records, key, now) {
            None => RemoveOutcome::Missing,
            Some(r) if r.version != expected_version => RemoveOutcome::Conflict,
            Some(_) => {
                records.remove(key);
                RemoveOutcome::Removed
            }
        })
    }

    fn wait(&self, _delay: core::time::Duration) {
        // Every operation runs under one lock, with nothing in between to wait for.
    }
}

// The memory store never waits, so its async operations are its blocking ones.
async_via_blocking!(MemoryStore);
