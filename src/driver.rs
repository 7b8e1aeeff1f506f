//! Drivers: run the pure server-mode plan ([`crate::server`]) against a store.
//!
//! The decisions live once, in [`Pending`], [`ServerSession`] and [`Finisher`](crate::server::Finisher); the
//! blocking and async drivers only carry each [`StoreOp`] to the store and its answer back.

use alloc::string::String;

use crate::random::RandomSource;
use crate::server::{
    AsyncStore, OpResult, Pending, ServerConfig, ServerError, ServerSession, Store, StoreOp,
};

/// Loads the session's record, if its cookie carried an id: no I/O without one, one
/// `load` per candidate id cookie until a live record is found (at most
/// [`MAX_ID_CANDIDATES`](crate::server::MAX_ID_CANDIDATES)).
pub fn open<S: Store + ?Sized>(
    store: &S,
    config: &ServerConfig,
    mut pending: Pending,
) -> Result<ServerSession, ServerError> {
    loop {
        let loaded = match pending.load_key() {
            Some(key) => store.load(&key, pending.now())?,
            None => None,
        };
        match pending.try_open(config, loaded) {
            Ok(session) => return Ok(session),
            Err(next) => pending = next,
        }
    }
}

/// Runs the end-of-request writes; returns the `Set-Cookie` value to send once they all
/// succeeded. Any error means: send no cookie.
pub fn finish<S: Store + ?Sized>(
    store: &S,
    config: &ServerConfig,
    session: &mut ServerSession,
    failed: bool,
    rng: &mut impl RandomSource,
) -> Result<Option<String>, ServerError> {
    let mut finisher = session.finish(config, failed, rng)?;
    while let Some(op) = finisher.next_op()? {
        let result = run(store, op)?;
        finisher.complete(result, rng)?;
    }
    finisher.into_cookie()
}

fn run<S: Store + ?Sized>(store: &S, op: StoreOp<'_>) -> Result<OpResult, ServerError> {
    Ok(match op {
        StoreOp::Load { key, now } => OpResult::Loaded(store.load(&key, now)?),
        StoreOp::Create {
            key,
            data,
            expires_at,
            now,
        } => OpResult::Created(store.create(&key, data, expires_at, now)?),
        StoreOp::Save {
            key,
            data,
            expected_version,
            expires_at,
            now,
        } => OpResult::Saved(store.save(&key, data, expected_version, expires_at, now)?),
        StoreOp::Touch {
            key,
            expires_at,
            now,
        } => OpResult::Touched(store.touch(&key, expires_at, now)?),
        StoreOp::Remove { key } => {
            store.remove(&key)?;
            OpResult::Removed
        }
        StoreOp::RemoveIf {
            key,
            expected_version,
            now,
        } => OpResult::RemovedIf(store.remove_if(&key, expected_version, now)?),
        StoreOp::Wait { delay } => {
            store.wait(delay);
            OpResult::Waited
        }
    })
}

/// [`open`] for an [`AsyncStore`].
pub async fn open_async<S: AsyncStore + ?Sized>(
    store: &S,
    config: &ServerConfig,
    mut pending: Pending,
) -> Result<ServerSession, ServerError> {
    loop {
        let loaded = match pending.load_key() {
            Some(key) => store.load(&key, pending.now()).await?,
            None => None,
        };
        match pending.try_open(config, loaded) {
            Ok(session) => return Ok(session),
            Err(next) => pending = next,
        }
    }
}

/// [`finish`] for an [`AsyncStore`].
pub async fn finish_async<S: AsyncStore + ?Sized>(
    store: &S,
    config: &ServerConfig,
    session: &mut ServerSession,
    failed: bool,
    rng: &mut (impl RandomSource + Send),
) -> Result<Option<String>, ServerError> {
    let mut finisher = session.finish(config, failed, rng)?;
    while let Some(op) = finisher.next_op()? {
        let result = run_async(store, op).await?;
        finisher.complete(result, rng)?;
    }
    finisher.into_cookie()
}

async fn run_async<S: AsyncStore + ?Sized>(
    store: &S,
    op: StoreOp<'_>,
) -> Result<OpResult, ServerError> {
    Ok(match op {
        StoreOp::Load { key, now } => OpResult::Loaded(store.load(&key, now).await?),
        StoreOp::Create {
            key,
            data,
            expires_at,
            now,
        } => OpResult::Created(store.create(&key, data, expires_at, now).await?),
        StoreOp::Save {
            key,
            data,
            expected_version,
            expires_at,
            now,
        } => OpResult::Saved(
            store
                .save(&key, data, expected_version, expires_at, now)
                .await?,
        ),
        StoreOp::Touch {
            key,
            expires_at,
            now,
        } => OpResult::Touched(store.touch(&key, expires_at, now).await?),
        StoreOp::Remove { key } => {
            store.remove(&key).await?;
            OpResult::Removed
        }
        StoreOp::RemoveIf {
            key,
            expected_version,
            now,
        } => OpResult::RemovedIf(store.remove_if(&key, expected_version, now).await?),
        StoreOp::Wait { delay } => {
            store.wait(delay).await;
            OpResult::Waited
        }
    })
}
