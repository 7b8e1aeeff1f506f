//! Drivers: run the pure server-mode plan ([`crate::server`]) against a store.
//!
//! The decisions live once, in [`Pending`], [`ServerSession`] and [`Finisher`](crate::server::Finisher); the
//! blocking and async drivers only carry each [`StoreOp`] to the store
//! and its answer back: two small loops each.

use alloc::string::String;

use crate::random::RandomSource;
use crate::server::{
    AsyncStore, OpResult, Pending, ServerConfig, ServerError, ServerSession, Store, StoreOp,
};
use crate::trace::event;

/// Reports an operation's failure or its backoff (feature `tracing`), and passes the
/// answer on.
fn traced(
    op: &StoreOp<'_>,
    answer: Result<OpResult, crate::server::StoreError>,
) -> Result<OpResult, ServerError> {
    match (&answer, op) {
        (Err(e), _) => {
            event!(warn, kind = ?e.kind, error = %e, "session store operation failed");
            let _ = e;
        }
        (Ok(_), StoreOp::Wait { delay }) => {
            event!(
                debug,
                delay_ms = delay.as_millis() as u64,
                "lost a compare-and-set; retrying"
            );
            let _ = delay;
        }
        _ => {}
    }
    Ok(answer?)
}

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
            Some(op) => traced(&op, store.execute(op))?.into_loaded()?,
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
        let result = traced(&op, store.execute(op))?;
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
            Some(op) => traced(&op, store.execute(op).await)?.into_loaded()?,
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
        let result = traced(&op, store.execute(op).await)?;
        finisher.complete(result, rng)?;
    }
    finisher.into_cookie()
}
