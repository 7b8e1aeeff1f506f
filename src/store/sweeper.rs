//! The one sweeper of every store (feature `sweeper`, which the SQL stores and the
//! integrations turn on): a store deletes one batch of its expired records
//! ([`Sweep::sweep_batch`]); [`sweep`] runs batches until one comes back short, and
//! [`spawn_sweeper`] does that periodically on Tokio with the system clock, until the
//! returned [`Sweeper`] is dropped or aborted.
//!
//! Every store's own `spawn_sweeper` (and `CubicWebStore::spawn_janitor`) is this loop.
//! The stores keep their expiry by themselves without it (expired records are never
//! read, and the SQLite and memory stores sweep as creates go by); a sweeper bounds how
//! long expired rows take up room.
//!
//! Keep an `Arc` of the store for the sweeper while the session layer holds another:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use pyramid_session::store::{spawn_sweeper, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(MemoryStore::new());
//! let sweeper = spawn_sweeper(store.clone(), Duration::from_secs(60))?;
//! // ... SessionLayer::server(config, store) ...
//! drop(sweeper); // stops it (or `sweeper.abort()`; `detach()` lets it run on)
//! # Ok(()) }
//! ```

extern crate std;

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::time::Duration;

use crate::server::store::BoxFuture;
use crate::server::{StoreError, StoreErrorKind};
use crate::time::{Clock, SystemClock, UnixTime};
use crate::trace::event;

/// A store that can delete its expired records, one batch at a time: what [`sweep`] and
/// [`spawn_sweeper`] run. Each store implements its one batch-delete; the loops are
/// written once, here.
pub trait Sweep: Send + Sync {
    /// Deletes at most [`Sweep::batch_size`] of the records expired at `now` (expiry
    /// `<= now`); how many it deleted. Called only with a finite `now`.
    fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// The most records one batch deletes: a batch deleting fewer ends the sweep.
    /// `u64::MAX` (the default) when one batch deletes them all.
    fn batch_size(&self) -> u64 {
        u64::MAX
    }
}

macro_rules! via_pointer {
    ($($ty:ty),*) => {$(
        impl<S: Sweep + ?Sized> Sweep for $ty {
            fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
                (**self).sweep_batch(now)
            }
            fn batch_size(&self) -> u64 {
                (**self).batch_size()
            }
        }
    )*};
}

via_pointer!(&S, Box<S>, Arc<S>);

/// Deletes every record expired at `now`, batch after batch (the store is free for other
/// calls in between); how many. A `now` that is not finite deletes nothing: a clock
/// that is not a number must not decide that everything expired.
pub async fn sweep<S: Sweep + ?Sized>(store: &S, now: UnixTime) -> Result<u64, StoreError> {
    if !now.as_secs_f64().is_finite() {
        return Ok(0);
    }
    let batch = store.batch_size();
    let mut total = 0u64;
    loop {
        let n = store.sweep_batch(now).await?;
        total = total.saturating_add(n);
        if n < batch {
            return Ok(total);
        }
    }
}

/// Runs [`sweep`] on `store` every `every` (at least 1 ms; the first run at once) at the
/// system clock's time, on the current Tokio runtime, until the returned [`Sweeper`]
/// is dropped or aborted. A failed sweep (a locked database, a server down) is retried
/// at the next tick (and reported to `tracing`, feature `tracing`). Outside a Tokio
/// runtime it fails with [`StoreErrorKind::Other`]; the runtime needs its timers
/// enabled (`enable_time` or `enable_all`). Pass an `Arc` of the store to keep using it
/// elsewhere (see the [module docs](self)).
pub fn spawn_sweeper<S: Sweep + 'static>(store: S, every: Duration) -> Result<Sweeper, StoreError> {
    spawn_sweeper_with_clock(store, every, SystemClock)
}

/// [`spawn_sweeper`] reading the time from `clock` (tests, a `ManualClock`).
pub fn spawn_sweeper_with_clock<S: Sweep + 'static>(
    store: S,
    every: Duration,
    clock: impl Clock + 'static,
) -> Result<Sweeper, StoreError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| StoreError::new(StoreErrorKind::Other, e))?;
    Ok(Sweeper {
        task: Some(runtime.spawn(sweep_every(store, every, clock))),
    })
}

/// The sweeper's loop, for a store that spawns it on a runtime of its own.
pub(crate) async fn sweep_every<S: Sweep>(store: S, every: Duration, clock: impl Clock) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Errors are retried at the next tick.
        if let Err(e) = sweep(&store, clock.now()).await {
            event!(warn, kind = ?e.kind, error = %e, "session sweep failed; retrying at the next tick");
            let _ = e;
        }
    }
}

/// A running sweeper ([`spawn_sweeper`]): stops when dropped or aborted.
#[derive(Debug)]
#[must_use = "the sweeper stops when this handle is dropped"]
pub struct Sweeper {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sweeper {
    /// Stops the sweeper (a sweep under way stops at its next await).
    pub fn abort(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// True once the task ended (aborted, or its runtime shut down).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Lets the sweeper run on after this handle is gone: its Tokio task's handle, which
    /// does not stop it when dropped (`abort` does).
    pub fn detach(mut self) -> tokio::task::JoinHandle<()> {
        match self.task.take() {
            Some(task) => task,
            // Only `detach` and `drop` take the task, and both consume the handle.
            None => unreachable!("a sweeper's task is taken only once"),
        }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

// The memory store deletes every expired record in one pass under its lock.
impl Sweep for super::MemoryStore {
    fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        let n = self.sweep(now.as_secs_f64());
        Box::pin(core::future::ready(Ok(n as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{SessionId, StoreExt, StoreKey};
    use crate::store::MemoryStore;

    /// Deletes `left` records in batches of 3.
    struct Batches {
        left: std::sync::Mutex<u64>,
        calls: core::sync::atomic::AtomicU64,
    }

    impl Sweep for Batches {
        fn sweep_batch(&self, _: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
            self.calls
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            let mut left = self.left.lock().unwrap();
            let n = (*left).min(3);
            *left -= n;
            Box::pin(core::future::ready(Ok(n)))
        }
        fn batch_size(&self) -> u64 {
            3
        }
    }

    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn sweep_runs_batches_until_one_is_short() {
        for (left, calls) in [(0, 1), (2, 1), (3, 2), (7, 3), (9, 4)] {
            let store = Batches {
                left: std::sync::Mutex::new(left),
                calls: Default::default(),
            };
            assert_eq!(block_on(sweep(&store, UnixTime::from(1.0))).unwrap(), left);
            assert_eq!(
                store.calls.load(core::sync::atomic::Ordering::Relaxed),
                calls
            );
            // A clock that is not a number deletes nothing and asks nothing.
            assert_eq!(
                block_on(sweep(&store, UnixTime::from(f64::NAN))).unwrap(),
                0
            );
            assert_eq!(
                store.calls.load(core::sync::atomic::Ordering::Relaxed),
                calls
            );
        }
    }

    #[test]
    fn outside_a_runtime_spawning_fails() {
        let err = spawn_sweeper(MemoryStore::new(), Duration::from_millis(5)).unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Other);
    }

    #[test]
    fn the_memory_store_sweeps_through_an_arc() {
        let store = Arc::new(MemoryStore::new());
        let key = StoreKey::hashed(&SessionId::parse("abc").unwrap());
        assert!(store.create(&key, b"{}", 10.0, 1.0).unwrap().is_created());
        assert_eq!(block_on(sweep(&store, UnixTime::from(5.0))).unwrap(), 0);
        assert_eq!(block_on(sweep(&store, UnixTime::from(10.0))).unwrap(), 1);
        assert!(store.is_empty());
    }
}
