//! The async side of [`SqliteStore`]: every call on Tokio's blocking pool, and the
//! periodic sweeper.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use super::SqliteStore;
use crate::server::store::BoxFuture;
use crate::server::{AsyncStore, OpResult, Store, StoreError, StoreErrorKind, StoreOp};
use crate::store::sweeper::{self, Sweep};
use crate::time::{Clock, UnixTime};

impl SqliteStore {
    /// Runs [`SqliteStore::sweep`] every `every` (at least 1 ms; the first run is at
    /// once) at the time `clock()` (Unix seconds), on Tokio's blocking pool, until the
    /// returned task is aborted. A failed sweep (e.g. a locked database) is retried at
    /// the next tick. Outside a Tokio runtime it fails with [`StoreErrorKind::Other`];
    /// the runtime needs its timers enabled (`enable_time` or `enable_all`).
    pub fn spawn_sweeper(
        &self,
        every: Duration,
        clock: impl Clock + 'static,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        // The one sweeper loop, each batch on the blocking pool (`Sweep` below).
        Ok(sweeper::spawn_sweeper_with_clock(self.clone(), every, clock)?.detach())
    }

    /// Runs `op` on Tokio's blocking pool (inline when there is no Tokio runtime).
    async fn off_executor<T: Send + 'static>(
        &self,
        op: impl FnOnce(&SqliteStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(move || op(&store))
                .await
                .map_err(|e| {
                    StoreError::new(
                        StoreErrorKind::Other,
                        format_args!("sqlite call did not finish: {e}"),
                    )
                })?,
            Err(_) => op(&store),
        }
    }
}

// One batch per call, on the blocking pool: the connection is free in between.
impl Sweep for SqliteStore {
    fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        let now = now.as_secs_f64();
        Box::pin(
            self.off_executor(move |s| {
                super::sweep_batch(s.checkout()?.conn(), now).map(|n| n as u64)
            }),
        )
    }
    fn batch_size(&self) -> u64 {
        super::SWEEP_BATCH.unsigned_abs()
    }
}

// Every call goes to the blocking pool: a locked database must not stall the executor.
impl AsyncStore for SqliteStore {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async move {
            if let StoreOp::Wait { delay } = op {
                tokio::time::sleep(delay).await;
                return Ok(OpResult::Waited);
            }
            let detached = Detached::new(op);
            self.off_executor(move |s| Store::execute(s, detached.op()))
                .await
        })
    }
}

/// A [`StoreOp`] that owns its data, to be moved onto another thread.
pub(crate) struct Detached {
    op: StoreOp<'static>,
    data: Vec<u8>,
}

impl Detached {
    pub(crate) fn new(op: StoreOp<'_>) -> Detached {
        let (op, data) = match op {
            StoreOp::Create {
                key,
                data,
                expires_at,
                now,
            } => (
                StoreOp::Create {
                    key,
                    data: &[],
                    expires_at,
                    now,
                },
                data.to_vec(),
            ),
            StoreOp::Save {
                key,
                data,
                expected_version,
                expires_at,
                now,
            } => (
                StoreOp::Save {
                    key,
                    data: &[],
                    expected_version,
                    expires_at,
                    now,
                },
                data.to_vec(),
            ),
            StoreOp::Load { key, now } => (StoreOp::Load { key, now }, Vec::new()),
            StoreOp::Touch {
                key,
                expires_at,
                now,
            } => (
                StoreOp::Touch {
                    key,
                    expires_at,
                    now,
                },
                Vec::new(),
            ),
            StoreOp::Remove { key } => (StoreOp::Remove { key }, Vec::new()),
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => (
                StoreOp::RemoveIf {
                    key,
                    expected_version,
                    now,
                },
                Vec::new(),
            ),
            StoreOp::Wait { delay } => (StoreOp::Wait { delay }, Vec::new()),
        };
        Detached { op, data }
    }

    pub(crate) fn op(&self) -> StoreOp<'_> {
        match self.op {
            StoreOp::Create {
                key,
                expires_at,
                now,
                ..
            } => StoreOp::Create {
                key,
                data: &self.data,
                expires_at,
                now,
            },
            StoreOp::Save {
                key,
                expected_version,
                expires_at,
                now,
                ..
            } => StoreOp::Save {
                key,
                data: &self.data,
                expected_version,
                expires_at,
                now,
            },
            other => other,
        }
    }
}
