//! Drivers: run the pure server-mode plan ([`crate::server`]) against a store.
//!
//! The decisions live once, in [`Pending`], [`ServerSession`] and [`Finisher`](crate::server::Finisher); the
//! blocking and async drivers only carry each [`StoreOp`](crate::server::StoreOp) to the store
//! and its answer back: two small loops each.

use alloc::string::String;

use crate::random::RandomSource;
use crate::server::{AsyncStore, Pending, ServerConfig, ServerError, ServerSession, Store};

/// Loads the session's record, if its cookie carried an id: no I/O without one, one
/// `Load` per candidate id cookie until a live record is found (at most
/// [`MAX_ID_CANDIDATES`](crate::server::MAX_ID_CANDIDATES)).
pub fn open<S: Store + ?Sized>(
    store: &S,
    config: &ServerConfig,
    mut pending: Pending,
) -> Result<ServerSession, ServerError> {
    loop {
        let loaded = match pending.load_op() {
            Some(op) => store.execute(op)?.into_loaded()?,
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
        let result = store.execute(op)?;
        finisher.complete(result, rng)?;
    }
    finisher.into_cookie()
}

/// [`open`] for an [`AsyncStore`].
pub async fn open_async<S: AsyncStore + ?Sized>(
    store: &S,
    config: &ServerConfig,
    mut pending: Pending,
) -> Result<ServerSession, ServerError> {
    loop {
        let loaded = match pending.load_op() {
            Some(op) => store.execute(op).await?.into_loaded()?,
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
        let result = store.execute(op).await?;
        finisher.complete(result, rng)?;
    }
    finisher.into_cookie()
}
