//! How this crate's stores implement the one-method contract: each writes its
//! operations as typed methods ([`BlockingOps`], [`AsyncOps`]) and [`dispatch`] /
//! [`dispatch_async`] map a [`StoreOp`] onto them, once for all stores.

#[cfg(feature = "sqlite")]
use alloc::vec::Vec;
#[cfg(any(feature = "redis", feature = "postgres"))]
use core::future::Future;
use core::time::Duration;

use crate::server::store::{CreateOutcome, TouchOutcome};
use crate::server::{OpResult, Record, RemoveOutcome, SaveOutcome, StoreError, StoreKey, StoreOp};

/// A blocking store's operations (times as Unix seconds).
pub(crate) trait BlockingOps {
    fn load(&self, key: &StoreKey, now: f64) -> Result<Option<Record>, StoreError>;
    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> Result<bool, StoreError>;
    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> Result<SaveOutcome, StoreError>;
    fn touch(&self, key: &StoreKey, expires_at: f64, now: f64) -> Result<bool, StoreError>;
    fn remove(&self, key: &StoreKey) -> Result<(), StoreError>;
    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> Result<RemoveOutcome, StoreError>;
    fn wait(&self, delay: Duration);
}

/// An async store's operations (times as Unix seconds).
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) trait AsyncOps: Sync {
    fn load(
        &self,
        key: &StoreKey,
        now: f64,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;
    fn create(
        &self,
        key: &StoreKey,
        data: &[u8],
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn save(
        &self,
        key: &StoreKey,
        data: &[u8],
        expected_version: u64,
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;
    fn touch(
        &self,
        key: &StoreKey,
        expires_at: f64,
        now: f64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn remove(&self, key: &StoreKey) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn remove_if(
        &self,
        key: &StoreKey,
        expected_version: u64,
        now: f64,
    ) -> impl Future<Output = Result<RemoveOutcome, StoreError>> + Send;
}

fn created(done: bool) -> OpResult {
    OpResult::Created(if done {
        CreateOutcome::Created
    } else {
        CreateOutcome::Taken
    })
}

fn touched(done: bool) -> OpResult {
    OpResult::Touched(if done {
        TouchOutcome::Touched
    } else {
        TouchOutcome::Missing
    })
}

/// Runs `op` on a blocking store.
pub(crate) fn dispatch<S: BlockingOps + ?Sized>(
    store: &S,
    op: StoreOp<'_>,
) -> Result<OpResult, StoreError> {
    Ok(match op {
        StoreOp::Load { key, now } => OpResult::Loaded(store.load(&key, now.as_secs_f64())?),
        StoreOp::Create {
            key,
            data,
            expires_at,
            now,
        } => created(store.create(&key, data, expires_at.as_secs_f64(), now.as_secs_f64())?),
        StoreOp::Save {
            key,
            data,
            expected_version,
            expires_at,
            now,
        } => OpResult::Saved(store.save(
            &key,
            data,
            expected_version,
            expires_at.as_secs_f64(),
            now.as_secs_f64(),
        )?),
        StoreOp::Touch {
            key,
            expires_at,
            now,
        } => touched(store.touch(&key, expires_at.as_secs_f64(), now.as_secs_f64())?),
        StoreOp::Remove { key } => {
            store.remove(&key)?;
            OpResult::Removed
        }
        StoreOp::RemoveIf {
            key,
            expected_version,
            now,
        } => OpResult::RemovedIf(store.remove_if(&key, expected_version, now.as_secs_f64())?),
        StoreOp::Wait { delay } => {
            store.wait(delay);
            OpResult::Waited
        }
    })
}

/// Runs `op` on an async store; `Wait` sleeps on Tokio's timer.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) async fn dispatch_async<S: AsyncOps + ?Sized>(
    store: &S,
    op: StoreOp<'_>,
) -> Result<OpResult, StoreError> {
    Ok(match op {
        StoreOp::Load { key, now } => OpResult::Loaded(store.load(&key, now.as_secs_f64()).await?),
        StoreOp::Create {
            key,
            data,
            expires_at,
            now,
        } => created(
            store
                .create(&key, data, expires_at.as_secs_f64(), now.as_secs_f64())
                .await?,
        ),
        StoreOp::Save {
            key,
            data,
            expected_version,
            expires_at,
            now,
        } => OpResult::Saved(
            store
                .save(
                    &key,
                    data,
                    expected_version,
                    expires_at.as_secs_f64(),
                    now.as_secs_f64(),
                )
                .await?,
        ),
        StoreOp::Touch {
            key,
            expires_at,
            now,
        } => touched(
            store
                .touch(&key, expires_at.as_secs_f64(), now.as_secs_f64())
                .await?,
        ),
        StoreOp::Remove { key } => {
            store.remove(&key).await?;
            OpResult::Removed
        }
        StoreOp::RemoveIf {
            key,
            expected_version,
            now,
        } => OpResult::RemovedIf(
            store
                .remove_if(&key, expected_version, now.as_secs_f64())
                .await?,
        ),
        StoreOp::Wait { delay } => {
            wait(delay).await;
            OpResult::Waited
        }
    })
}

#[cfg(any(feature = "redis", feature = "postgres"))]
async fn wait(delay: Duration) {
    tokio::time::sleep(delay).await;
}

/// A [`StoreOp`] that owns its data, to be moved onto another thread.
#[cfg(feature = "sqlite")]
pub(crate) struct Detached {
    op: StoreOp<'static>,
    data: Vec<u8>,
}

#[cfg(feature = "sqlite")]
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
