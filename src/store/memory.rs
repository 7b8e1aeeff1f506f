//! An in-process store: a map behind a mutex. Expired records are never returned; they
//! are dropped every [`SWEEP_EVERY`] creates, or whenever [`MemoryStore::sweep`] runs.
//!
//! # Capacity
//!
//! [`MemoryStore::with_capacity`] bounds the number of records held. When the store is
//! full, a create first sweeps expired records; if it is still full, the create fails
//! with [`StoreErrorKind::Unavailable`] (the axum layer answers 503) and nothing is
//! evicted. So when the limit is reached, new visitors are refused while everyone who
//! has a session keeps it: evicting live records instead (e.g. the least recently
//! used) would log users out, and would let anyone who can open sessions cheaply log
//! everybody out. Saves and touches never add records, so they are never refused.
//! A full store remembers the earliest expiry it holds, so refused creates do not scan
//! the records again before one of them can have expired.

extern crate std;

use alloc::boxed::Box;
use core::sync::atomic::Ordering::Relaxed;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::server::store::{require_key, BoxFuture, CreateOutcome, TouchOutcome};

use crate::server::{
    AsyncStore, OpResult, Record, RemoveOutcome, SaveOutcome, Store, StoreError, StoreErrorKind,
    StoreKey, StoreOp,
};

/// The embedded default store. Cheap to share (`Arc<MemoryStore>`); sessions do not
/// survive a restart. Unbounded unless made with [`MemoryStore::with_capacity`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<StoreKey, Record>>,
    creates: core::sync::atomic::AtomicU64,
    capacity: Option<usize>,
    /// With a capacity: a lower bound on every held record's expiry (`f64` bits, 0.0 at
    /// first), so a full store does not scan all records on every refused create before
    /// anything can have expired. Updated under the records lock.
    earliest_expiry: core::sync::atomic::AtomicU64,
}

/// Every this many creates, [`MemoryStore`] sweeps expired records by itself.
pub const SWEEP_EVERY: u64 = 1024;

impl MemoryStore {
    /// An empty store without a limit on the number of records.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store holding at most `capacity` records (a limit; nothing is
    /// allocated up front). When full, a create sweeps expired records and, if the store
    /// is still full, fails with [`StoreErrorKind::Unavailable`]; live records are never
    /// evicted (see the [module docs](self)).
    pub fn with_capacity(capacity: usize) -> MemoryStore {
        MemoryStore {
            capacity: Some(capacity),
            ..MemoryStore::default()
        }
    }

    /// The limit on the number of records, if any.
    pub fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    fn records(&self) -> MutexGuard<'_, HashMap<StoreKey, Record>> {
        // A panic elsewhere while holding the lock cannot leave a record half-written
        // (every operation replaces whole values), so a poisoned map is still usable.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Deletes every record expired at `now`; returns how many.
    pub fn sweep(&self, now: f64) -> usize {
        if !now.is_finite() {
            // A clock that is not a number must not decide that everything expired.
            return 0;
        }
        let mut records = self.records();
        let before = records.len();
        records.retain(|_, r| r.expires_at.as_secs_f64() > now);
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

    /// Lowers the bound on the records' expiries to `expires_at` (capacity only).
    fn note_expiry(&self, expires_at: f64) {
        if self.capacity.is_some() {
            let earliest = f64::from_bits(self.earliest_expiry.load(Relaxed));
            if expires_at < earliest {
                self.earliest_expiry.store(expires_at.to_bits(), Relaxed);
            }
        }
    }

    fn live<'m>(
        records: &'m mut HashMap<StoreKey, Record>,
        key: &StoreKey,
        now: f64,
    ) -> Option<&'m mut Record> {
        records
            .get_mut(key)
            .filter(|r| r.expires_at.as_secs_f64() > now)
    }
}

impl MemoryStore {
    /// Inserts a record if no live one has the key, within the capacity.
    fn create(
        &self,
        records: &mut HashMap<StoreKey, Record>,
        key: StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> Result<CreateOutcome, StoreError> {
        if Self::live(records, &key, now).is_some() {
            return Ok(CreateOutcome::Taken);
        }
        // Replacing an expired record under the same key does not grow the map.
        if let Some(capacity) = self.capacity {
            if records.len() >= capacity && !records.contains_key(&key) {
                // Nothing can have expired before the earliest expiry: skip the scan.
                if now >= f64::from_bits(self.earliest_expiry.load(Relaxed)) {
                    let mut earliest = f64::INFINITY;
                    records.retain(|_, r| {
                        let keep = r.expires_at.as_secs_f64() > now;
                        if keep {
                            earliest = earliest.min(r.expires_at.as_secs_f64());
                        }
                        keep
                    });
                    self.earliest_expiry.store(earliest.to_bits(), Relaxed);
                }
                if records.len() >= capacity {
                    return Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        format_args!(
                            "memory store full: {} live sessions (capacity {capacity}); \
                             new sessions are refused until some expire",
                            records.len()
                        ),
                    ));
                }
            }
        }
        self.note_expiry(expires_at);
        records.insert(
            key,
            Record {
                data: data.to_vec(),
                version: 1,
                expires_at: expires_at.into(),
            },
        );
        Ok(CreateOutcome::Created { version: 1 })
    }
}

// Every operation runs under the one lock, with nothing in between to wait for: a lost
// compare-and-set is retried at once (`Wait` returns immediately).
impl Store for MemoryStore {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        if let StoreOp::Create { now, .. } = op {
            let n = self.creates.fetch_add(1, Relaxed);
            if n % SWEEP_EVERY == SWEEP_EVERY - 1 {
                self.sweep(now.as_secs_f64());
            }
        }
        let mut records = self.records();
        Ok(match op {
            StoreOp::Load { key, now } => OpResult::Loaded(
                Self::live(&mut records, &key, now.as_secs_f64()).map(|r| r.clone()),
            ),
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => OpResult::Created(self.create(
                &mut records,
                require_key(key, "MemoryStore")?,
                data,
                expires_at.as_secs_f64(),
                now.as_secs_f64(),
            )?),
            StoreOp::Save {
                key,
                data,
                expected_version,
                expires_at,
                now,
            } => OpResult::Saved(match Self::live(&mut records, &key, now.as_secs_f64()) {
                None => SaveOutcome::Missing,
                Some(r) if r.version != expected_version => SaveOutcome::Conflict,
                Some(r) => {
                    r.data = data.to_vec();
                    r.version = r.version.saturating_add(1);
                    r.expires_at = expires_at;
                    self.note_expiry(expires_at.as_secs_f64());
                    SaveOutcome::Saved { version: r.version }
                }
            }),
            StoreOp::Touch {
                key,
                expires_at,
                now,
            } => OpResult::Touched(match Self::live(&mut records, &key, now.as_secs_f64()) {
                Some(r) => {
                    r.expires_at = expires_at;
                    self.note_expiry(expires_at.as_secs_f64());
                    TouchOutcome::Touched
                }
                None => TouchOutcome::Missing,
            }),
            StoreOp::Remove { key } => {
                records.remove(&key);
                OpResult::Removed
            }
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => OpResult::RemovedIf(match Self::live(&mut records, &key, now.as_secs_f64()) {
                None => RemoveOutcome::Missing,
                Some(r) if r.version != expected_version => RemoveOutcome::Conflict,
                Some(_) => {
                    records.remove(&key);
                    RemoveOutcome::Removed
                }
            }),
            StoreOp::Wait { .. } => OpResult::Waited,
        })
    }
}

// The memory store never waits, so its async operations are its blocking ones.
impl AsyncStore for MemoryStore {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(core::future::ready(Store::execute(self, op)))
    }
}
