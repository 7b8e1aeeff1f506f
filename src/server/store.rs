//! The store contract: one method, [`Store::execute`] (or [`AsyncStore::execute`]), over
//! one vocabulary, the operations the plan asks for ([`StoreOp`]) and their answers
//! ([`OpResult`]).
//!
//! Why one method over a vocabulary rather than one trait method per operation: the
//! plan ([`Finisher`](super::Finisher)) already speaks in [`StoreOp`] values, so a store
//! that executes them needs no forwarding layer — the drivers are two small loops, a
//! store behind `&`, `Arc` or `Box` is a store, an async store is usable as
//! `dyn AsyncStore` without a hand-written shim, and a test can log, fail or delay any
//! operation by wrapping one method. The cost — a store could answer a `Save` with a
//! `Created` — is caught by the plan and reported as
//! [`ServerError::Protocol`].
//!
//! # The operations
//!
//! Keys are [`StoreKey`]s, which the configuration's [`IdScheme`](super::IdScheme)
//! derives from the session id: by default its SHA-256 in hex, never the id itself; the
//! id itself only where Python shares the store and looks records up by id (see "How
//! ids are made" below for who makes the id). Every write
//! carries the record's expiry, which the core computes; `now` lets a store without
//! native expiry ignore expired records. A record is *live* at `now` when it exists, is
//! well formed and `expires_at > now`; anything else counts as missing.
//!
//! | operation | must | answer |
//! |---|---|---|
//! | `Load { key, now }` | return the live record; never create one | `Loaded(Some(record))` or `Loaded(None)` |
//! | `Create { key: Some(key), data, expires_at, now }` | insert only if no live record has the key | `Created(Created { version })` or `Created(Taken)` |
//! | `Create { key: None, data, expires_at, now }` | allocate a new id and insert the record under it | `Created(Allocated { id, version })` |
//! | `Save { key, data, expected_version, expires_at, now }` | replace the live record only if it has `expected_version`, with a new version | `Saved(Saved { version })`, `Saved(Conflict)` or `Saved(Missing)` |
//! | `Touch { key, expires_at, now }` | move a live record's expiry without rewriting it | `Touched(Touched)` or `Touched(Missing)` |
//! | `Remove { key }` | delete the record; absent is fine | `Removed` |
//! | `RemoveIf { key, expected_version, now }` | delete the live record only if it has `expected_version` | `RemovedIf(Removed)`, `RemovedIf(Conflict)` or `RemovedIf(Missing)` |
//! | `Wait { delay }` | pause before a retry, without blocking an async executor | `Waited` |
//!
//! A version is the compare-and-set token: never 0, and different after every save.
//! The crate's own stores count (1 at create, +1 a save); a store that shares records
//! with Python, which writes no version, derives it from the record's content.
//!
//! Each operation is atomic on its own (compare-and-set runs in one statement or one
//! script); none spans two keys, so sharded stores (Redis Cluster) work unchanged.
//!
//! A store that shares its records with Python may also be unable to expire them
//! itself: `store::cubicweb::CubicWebStore` keeps CubicWeb's rows, which
//! CubicWeb never expires, and reports an `expires_at` derived from the row's
//! modification date and the configured timeout, which may have passed. The core then
//! treats the record as missing, as it treats any record with `expires_at <= now`.
//!
//! # How ids are made
//!
//! The id scheme ([`IdScheme`](super::IdScheme), on
//! [`ServerConfig::with_id_scheme`](super::ServerConfig::with_id_scheme)) says who makes
//! a new session's id, and is the one place that decides it:
//!
//! - [`IdScheme::Hashed`](super::IdScheme::Hashed) and
//!   [`IdScheme::Raw`](super::IdScheme::Raw): the core draws a random id before the
//!   write and asks for `Create { key: Some(key), .. }`; a store answers `Taken` when a
//!   live record already has the key, and the core retries with a new random id.
//! - [`IdScheme::Allocated`](super::IdScheme::Allocated): the store makes the id, inside
//!   the create (CubicWeb's eids come from its `entities_id_seq` table, so only the
//!   database can hand out the next one). The core asks for `Create { key: None, .. }`
//!   and the store answers `Allocated { id, version }`; the core adopts `id` (its key
//!   is the id itself) and sends the cookie for it. An allocated id is never taken.
//!
//! A store serves one kind: a store keyed by the core answers a keyless `Create` with a
//! [`StoreError`] (see [`require_key`]), and an allocating store answers a keyed one
//! with a [`StoreError`]. The core checks the pairing too: `Created` to a keyless
//! create, or `Allocated` to a keyed one, is [`ServerError::Protocol`]. Nothing else in
//! the contract depends on who made the id: loads, saves, touches and removals name the
//! record by its key either way.
//!
//! # Security
//!
//! - A store must never resurrect a record: a `Save`, `Touch` or `RemoveIf` on a missing
//!   record answers `Missing` and writes nothing. "Removal wins" — a logout racing a
//!   write — rests on this.
//! - `Create` must not overwrite a live record: a colliding id is retried with a new one.
//! - With the default scheme the key is a hash of the bearer secret: a leaked store holds
//!   no usable cookie (a raw-id scheme gives that up for compatibility). Store
//!   errors carry a category and a message for logs; neither may contain session ids.
//!
//! # Performance
//!
//! A request costs at most one `Load` before its handler runs and, at its end, one write
//! (plus one `RemoveIf` at login). `Wait` is only asked for after a lost compare-and-set.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;

use super::id::{SessionId, StoreKey};
use crate::error::{ServerError, StoreError};
use crate::time::UnixTime;

/// A boxed, sendable future: what [`AsyncStore::execute`] returns, so that the trait is
/// usable as `dyn AsyncStore`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A record as a store holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The encoded record (JSON `{"created": …, "state": {…}}`); opaque to stores.
    pub data: Vec<u8>,
    /// The compare-and-set token: never 0, and changed by every successful save (the
    /// counting stores: 1 after create, incremented by each save).
    pub version: u64,
    /// When the record stops being valid.
    pub expires_at: UnixTime,
}

/// The old name of [`Record`].
#[deprecated(since = "0.2.0", note = "renamed to `Record`")]
pub type Stored = Record;

/// Answer to a `Create`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum CreateOutcome {
    /// Inserted under the key the core gave (`Create { key: Some(_), .. }`).
    Created {
        /// The record's version (1 for the counting stores).
        version: u64,
    },
    /// Inserted under an id the store allocated (`Create { key: None, .. }`, with
    /// [`IdScheme::Allocated`](super::IdScheme::Allocated)).
    Allocated {
        /// The new session id; the record's key is this id itself.
        id: SessionId,
        /// The record's version.
        version: u64,
    },
    /// A live record already has the key; nothing was written.
    Taken,
}

impl CreateOutcome {
    /// True when the record was inserted.
    pub fn is_created(&self) -> bool {
        matches!(
            self,
            CreateOutcome::Created { .. } | CreateOutcome::Allocated { .. }
        )
    }

    /// The new record's version, when it was inserted.
    pub fn version(&self) -> Option<u64> {
        match self {
            CreateOutcome::Created { version } | CreateOutcome::Allocated { version, .. } => {
                Some(*version)
            }
            CreateOutcome::Taken => None,
        }
    }
}

/// The key of a `Create`, for a store whose keys the core makes: a keyless `Create`
/// (the configuration's id scheme is [`IdScheme::Allocated`](super::IdScheme::Allocated))
/// is an error of kind `Other` naming `store`, which allocates no ids.
pub fn require_key(key: Option<StoreKey>, store: &str) -> Result<StoreKey, StoreError> {
    key.ok_or_else(|| allocates_no_ids(store))
}

/// The error of [`require_key`].
pub(crate) fn allocates_no_ids(store: &str) -> StoreError {
    StoreError::new(
        crate::error::StoreErrorKind::Other,
        alloc::format!(
            "{store} allocates no session ids: configure an id scheme that makes them \
             (IdScheme::Hashed or IdScheme::Raw), not IdScheme::Allocated"
        ),
    )
}

/// Answer to a compare-and-set `Save`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
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

/// Answer to a `Touch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum TouchOutcome {
    /// The expiry moved.
    Touched,
    /// There was no live record.
    Missing,
}

impl TouchOutcome {
    /// True when the expiry moved.
    pub fn is_touched(self) -> bool {
        self == TouchOutcome::Touched
    }
}

/// Answer to a conditional `RemoveIf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum RemoveOutcome {
    /// The record had the expected version and is gone.
    Removed,
    /// The record exists with another version: someone saved in between; it is kept.
    Conflict,
    /// There was no live record.
    Missing,
}

/// One store operation planned by the core (the contract of each is in the module
/// docs). Not `#[non_exhaustive]`: a new operation must break every store's `match`.
#[derive(Clone, Copy, Debug)]
pub enum StoreOp<'a> {
    /// Load the live record.
    Load {
        /// Record key.
        key: StoreKey,
        /// Request time.
        now: UnixTime,
    },
    /// Insert if no live record has the key; without a key, under an id the store
    /// allocates ([`IdScheme::Allocated`](super::IdScheme::Allocated)).
    Create {
        /// Record key; `None` when the store allocates the id.
        key: Option<StoreKey>,
        /// Encoded record.
        data: &'a [u8],
        /// Expiry.
        expires_at: UnixTime,
        /// Request time.
        now: UnixTime,
    },
    /// Compare-and-set on the version.
    Save {
        /// Record key.
        key: StoreKey,
        /// Encoded record.
        data: &'a [u8],
        /// Version the record must still have.
        expected_version: u64,
        /// Expiry.
        expires_at: UnixTime,
        /// Request time.
        now: UnixTime,
    },
    /// Move a live record's expiry.
    Touch {
        /// Record key.
        key: StoreKey,
        /// New expiry.
        expires_at: UnixTime,
        /// Request time.
        now: UnixTime,
    },
    /// Delete the record.
    Remove {
        /// Record key.
        key: StoreKey,
    },
    /// Delete the live record if it still has the version.
    RemoveIf {
        /// Record key.
        key: StoreKey,
        /// Version the record must still have.
        expected_version: u64,
        /// Request time.
        now: UnixTime,
    },
    /// Back off before the next operation.
    Wait {
        /// How long.
        delay: Duration,
    },
}

/// What the store answered to a [`StoreOp`].
#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    /// Answer to `Load`.
    Loaded(Option<Record>),
    /// Answer to `Create`.
    Created(CreateOutcome),
    /// Answer to `Save`.
    Saved(SaveOutcome),
    /// Answer to `Touch`.
    Touched(TouchOutcome),
    /// Answer to `Remove`.
    Removed,
    /// Answer to `RemoveIf`.
    RemovedIf(RemoveOutcome),
    /// Answer to `Wait`.
    Waited,
}

impl<'a> StoreOp<'a> {
    /// The same operation with every instant (`now`, `expires_at`) mapped through `f`:
    /// for adapters that translate between clocks, e.g. a store whose own clock is
    /// known to run ahead.
    #[must_use]
    pub fn map_times(self, f: impl Fn(UnixTime) -> UnixTime) -> StoreOp<'a> {
        match self {
            StoreOp::Load { key, now } => StoreOp::Load { key, now: f(now) },
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => StoreOp::Create {
                key,
                data,
                expires_at: f(expires_at),
                now: f(now),
            },
            StoreOp::Save {
                key,
                data,
                expected_version,
                expires_at,
                now,
            } => StoreOp::Save {
                key,
                data,
                expected_version,
                expires_at: f(expires_at),
                now: f(now),
            },
            StoreOp::Touch {
                key,
                expires_at,
                now,
            } => StoreOp::Touch {
                key,
                expires_at: f(expires_at),
                now: f(now),
            },
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => StoreOp::RemoveIf {
                key,
                expected_version,
                now: f(now),
            },
            op @ (StoreOp::Remove { .. } | StoreOp::Wait { .. }) => op,
        }
    }
}

impl OpResult {
    /// The answer to a `Load`; any other answer is [`ServerError::Protocol`].
    pub fn into_loaded(self) -> Result<Option<Record>, ServerError> {
        match self {
            OpResult::Loaded(record) => Ok(record),
            _ => Err(ServerError::Protocol(
                "store answered a Load with another result",
            )),
        }
    }
}

/// A blocking session store: executes one [`StoreOp`] (see the module docs for what
/// each must do).
pub trait Store {
    /// Runs `op` and returns its answer.
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError>;
}

/// An async session store: the same contract as [`Store`], awaited. `Wait` must not block
/// the executor (sleep on the runtime's timer).
pub trait AsyncStore: Send + Sync {
    /// Runs `op` and returns its answer.
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>>;
}

macro_rules! via_pointer {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
                (**self).execute(op)
            }
        }
        impl<S: AsyncStore + ?Sized> AsyncStore for $ty {
            fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
                (**self).execute(op)
            }
        }
    )*};
}

via_pointer!(&S, Box<S>, alloc::sync::Arc<S>);

/// A store that holds nothing: every load finds no record and every write is taken as
/// done, so every request starts a fresh session (a null implementation, for tests and
/// for wiring a layer before a real store exists).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullStore;

impl Store for NullStore {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        Ok(match op {
            StoreOp::Load { .. } => OpResult::Loaded(None),
            StoreOp::Create { key, .. } => {
                require_key(key, "NullStore")?;
                OpResult::Created(CreateOutcome::Created { version: 1 })
            }
            StoreOp::Save { .. } => OpResult::Saved(SaveOutcome::Missing),
            StoreOp::Touch { .. } => OpResult::Touched(TouchOutcome::Missing),
            StoreOp::Remove { .. } => OpResult::Removed,
            StoreOp::RemoveIf { .. } => OpResult::RemovedIf(RemoveOutcome::Missing),
            StoreOp::Wait { .. } => OpResult::Waited,
        })
    }
}

impl AsyncStore for NullStore {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(core::future::ready(Store::execute(self, op)))
    }
}

/// Typed calls on any [`Store`], one per operation: `store.load(&key, now)` instead of
/// matching on [`Store::execute`]'s answer (for tests, tools and migrations; the plan
/// speaks [`StoreOp`] directly). A store answering the wrong variant gives
/// [`StoreError`] of kind `Other`.
pub trait StoreExt: Store {
    /// `Load`.
    fn load(&self, key: &StoreKey, now: impl Into<UnixTime>) -> Result<Option<Record>, StoreError> {
        match self.execute(StoreOp::Load {
            key: *key,
            now: now.into(),
        })? {
            OpResult::Loaded(record) => Ok(record),
            other => Err(mismatch(other)),
        }
    }
    /// `Create` under `key`.
    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: impl Into<UnixTime>,
        now: impl Into<UnixTime>,
    ) -> Result<CreateOutcome, StoreError> {
        match self.execute(StoreOp::Create {
            key: Some(*key),
            data,
            expires_at: expires_at.into(),
            now: now.into(),
        })? {
            OpResult::Created(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }
    /// `Create` without a key: the store allocates the id (answered in
    /// [`CreateOutcome::Allocated`]).
    fn allocate(
        &self,
        data: &[u8],
        expires_at: impl Into<UnixTime>,
        now: impl Into<UnixTime>,
    ) -> Result<CreateOutcome, StoreError> {
        match self.execute(StoreOp::Create {
            key: None,
            data,
            expires_at: expires_at.into(),
            now: now.into(),
        })? {
            OpResult::Created(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }
    /// `Save`.
    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: impl Into<UnixTime>,
        now: impl Into<UnixTime>,
    ) -> Result<SaveOutcome, StoreError> {
        match self.execute(StoreOp::Save {
            key: *key,
            data,
            expected_version,
            expires_at: expires_at.into(),
            now: now.into(),
        })? {
            OpResult::Saved(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }
    /// `Touch`.
    fn touch(
        &self,
        key: &StoreKey,
        expires_at: impl Into<UnixTime>,
        now: impl Into<UnixTime>,
    ) -> Result<TouchOutcome, StoreError> {
        match self.execute(StoreOp::Touch {
            key: *key,
            expires_at: expires_at.into(),
            now: now.into(),
        })? {
            OpResult::Touched(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }
    /// `Remove`.
    fn remove(&self, key: &StoreKey) -> Result<(), StoreError> {
        match self.execute(StoreOp::Remove { key: *key })? {
            OpResult::Removed => Ok(()),
            other => Err(mismatch(other)),
        }
    }
    /// `RemoveIf`.
    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: impl Into<UnixTime>,
    ) -> Result<RemoveOutcome, StoreError> {
        match self.execute(StoreOp::RemoveIf {
            key: *key,
            expected_version,
            now: now.into(),
        })? {
            OpResult::RemovedIf(outcome) => Ok(outcome),
            other => Err(mismatch(other)),
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

fn mismatch(answer: OpResult) -> StoreError {
    StoreError::new(
        crate::error::StoreErrorKind::Other,
        alloc::format!("store answered {answer:?} to another operation"),
    )
}
