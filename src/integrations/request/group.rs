//! Group commit: the writes of one process's requests to the same server-mode session.
//!
//! Requests that change one session at the same time would otherwise race each other
//! through the store's compare-and-set: each lost race is a reload, a backoff and a
//! retry, and a hot session (one user's burst of clicks, a script) turns into a storm of
//! them. Instead, every request that only saves an existing record
//! ([`ServerSession::is_plain_save`]) goes through the record's [`Group`]. Alone, it
//! saves at once, itself. When another save of the record is in flight, it is queued,
//! and one committer task per group takes the whole queue at a time: the first session absorbs
//! the others' changes (in queue order, after its own) and runs the usual plan — one
//! compare-and-set save, and, when another process wrote meanwhile, the usual reload
//! and replay of every queued change. Each request is answered only once the save that
//! holds its change is stored, with its own cookie and the committed state; a failure
//! fails every request of the batch, so no answer ever claims a write that did not
//! happen, and nothing is applied twice (a request's changes travel with it, once).
//!
//! The group also remembers the last state it committed while requests hold the
//! record: a request that loaded before that commit saves against the remembered
//! version instead of losing a round trip to a conflict.
//!
//! The committer is a spawned Tokio task, so a client that goes away (its request's
//! future dropped) cannot strand the requests queued behind it; a request saving alone
//! hands the queue that formed behind it to a committer when it ends, dropped or not.
//! Without a Tokio runtime requests save one by one, as before.

extern crate std;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::codec::json::State;
use crate::driver;
use crate::random::OsRandom;
use crate::server::{AsyncStore, ServerConfig, ServerError, ServerSession, StoreKey};

/// What a request gets back from the committer: its session (with the committed state)
/// and the outcome of its save — the cookie to send, or the error.
type Reply = (ServerSession, Result<Option<String>, ServerError>);

/// The groups of one layer, by record key: one for each record that requests of this
/// process hold (loaded, or queued to save).
#[derive(Default)]
pub(crate) struct Groups {
    map: Mutex<HashMap<StoreKey, Arc<Group>>>,
}

/// One record's queue of saves.
pub(crate) struct Group {
    key: StoreKey,
    inner: Mutex<GroupState>,
}

#[derive(Default)]
struct GroupState {
    /// Requests (and the committer) holding the group: it leaves the map at zero.
    holders: usize,
    queue: Vec<Entry>,
    committing: bool,
    /// The last state this process committed: `(version, created, state)`.
    last: Option<Arc<(u64, f64, State)>>,
}

struct Entry {
    session: ServerSession,
    failed: bool,
    reply: oneshot::Sender<Reply>,
}

/// A request's (or the committer's) hold on a record's group; dropping it lets go.
pub(crate) struct Hold {
    groups: Arc<Groups>,
    group: Arc<Group>,
}

impl Hold {
    /// The record this hold is for.
    pub(crate) fn key(&self) -> StoreKey {
        self.group.key
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut map = lock(&self.groups.map);
        let mut state = lock(&self.group.inner);
        state.holders -= 1;
        if state.holders == 0 {
            map.remove(&self.group.key);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; a poisoned one is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Groups {
    /// Holds `key`'s group (made when missing) until the [`Hold`] is dropped.
    pub(crate) fn hold(self: &Arc<Groups>, key: StoreKey) -> Hold {
        let mut map = lock(&self.map);
        let group = map
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Group {
                    key,
                    inner: Mutex::new(GroupState::default()),
                })
            })
            .clone();
        lock(&group.inner).holders += 1;
        Hold {
            groups: self.clone(),
            group,
        }
    }
}

/// Saves `session` through its group, `hold` being the request's hold on it. Alone (no
/// other save of the record queued or in flight) the request saves at once, itself;
/// otherwise it is queued behind the save in flight and committed with the ones queued
/// beside it. Answers only once the save holding this request's change is stored (or
/// failed). `None` when there is no Tokio runtime to run a committer on: the caller
/// saves alone, as without groups.
pub(crate) async fn save(
    hold: &Hold,
    store: &Arc<dyn AsyncStore>,
    config: &Arc<ServerConfig>,
    session: &mut ServerSession,
    failed: bool,
) -> Option<Result<Option<String>, ServerError>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let alone = {
        let mut state = lock(&hold.group.inner);
        (!core::mem::replace(&mut state.committing, true)).then(|| state.last.clone())
    };
    if let Some(last) = alone {
        return Some(save_alone(hold, store, config, session, failed, last, runtime).await);
    }
    let (reply, answer) = oneshot::channel();
    let placeholder = ServerSession::placeholder(config);
    let entry = Entry {
        session: core::mem::replace(session, placeholder),
        failed,
        reply,
    };
    {
        let mut state = lock(&hold.group.inner);
        if state.committing {
            state.queue.push(entry);
        } else {
            // The save in flight ended meanwhile: this one starts the committer.
            state.committing = true;
            state.queue.push(entry);
            drop(state);
            let committer = hold.groups.hold(hold.key());
            runtime.spawn(commit(committer, store.clone(), config.clone()));
        }
    }
    Some(match answer.await {
        Ok((returned, outcome)) => {
            *session = returned;
            outcome
        }
        // Only when the runtime shuts down under the committer: whether the save
        // happened is unknown, so this request must not claim it.
        Err(_) => Err(ServerError::Poisoned),
    })
}

/// The save of a request alone on its record: run by the request itself (no task, no
/// channel). The saves queued behind it meanwhile go to a committer when it ends — or
/// when it is dropped halfway (its client gone): [`HandOver`].
async fn save_alone(
    hold: &Hold,
    store: &Arc<dyn AsyncStore>,
    config: &Arc<ServerConfig>,
    session: &mut ServerSession,
    failed: bool,
    last: Option<Arc<(u64, f64, State)>>,
    runtime: tokio::runtime::Handle,
) -> Result<Option<String>, ServerError> {
    let mut hand_over = HandOver {
        hold,
        store,
        config,
        runtime,
        committed: None,
    };
    if let Some((version, created, state)) = last.as_deref() {
        if *version != session.version() {
            session.rebase(*version, *created, state);
        }
    }
    let outcome = driver::finish_async(&**store, config, session, failed, &mut OsRandom).await;
    // Remembered only for other requests holding the record.
    if outcome.is_ok() && lock(&hold.group.inner).holders > 1 {
        hand_over.committed = Some(Arc::new((
            session.version(),
            session.created(),
            session.peek_state().clone(),
        )));
    }
    outcome
}

/// Ends a save of a request alone (see [`save_alone`]), even a dropped one: records
/// what it committed (nothing when it failed or was dropped: whether it wrote is then
/// unknown) and passes the queue that formed behind it to a committer.
struct HandOver<'a> {
    hold: &'a Hold,
    store: &'a Arc<dyn AsyncStore>,
    config: &'a Arc<ServerConfig>,
    runtime: tokio::runtime::Handle,
    committed: Option<Arc<(u64, f64, State)>>,
}

impl Drop for HandOver<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.hold.group.inner);
        state.last = self.committed.take();
        if state.queue.is_empty() {
            state.committing = false;
        } else {
            drop(state);
            let committer = self.hold.groups.hold(self.hold.key());
            self.runtime
                .spawn(commit(committer, self.store.clone(), self.config.clone()));
        }
    }
}

/// The committer: takes the group's queue, a batch at a time, until it is empty.
async fn commit(hold: Hold, store: Arc<dyn AsyncStore>, config: Arc<ServerConfig>) {
    loop {
        let (batch, last) = {
            let mut state = lock(&hold.group.inner);
            if state.queue.is_empty() {
                state.committing = false;
                return;
            }
            (core::mem::take(&mut state.queue), state.last.clone())
        };
        let committed = commit_batch(&*store, &config, batch, last).await;
        lock(&hold.group.inner).last = committed;
    }
}

/// Commits one batch in one save (and the reloads another process's writes cost), and
/// answers each of its requests. Returns the committed state, if it was.
async fn commit_batch(
    store: &dyn AsyncStore,
    config: &ServerConfig,
    batch: Vec<Entry>,
    last: Option<Arc<(u64, f64, State)>>,
) -> Option<Arc<(u64, f64, State)>> {
    let mut entries = batch.into_iter();
    let mut first = entries.next()?;
    let base = &mut first.session;
    if let Some((version, created, state)) = last.as_deref() {
        if *version != base.version() {
            base.rebase(*version, *created, state);
        }
    }
    let mut rest: Vec<Entry> = entries.collect();
    for entry in &mut rest {
        base.absorb(&mut entry.session);
    }
    let outcome = driver::finish_async(store, config, base, first.failed, &mut OsRandom).await;
    let mut views = base.take_views().into_iter();
    let committed = outcome
        .is_ok()
        .then(|| Arc::new((base.version(), base.created(), base.peek_state().clone())));
    if let (Some(done), Some(view)) = (&committed, views.next()) {
        base.adopt(done.0, done.1, view);
    }
    let _ = first.reply.send((first.session, outcome.clone()));
    for mut entry in rest {
        let answer = match (&outcome, &committed, views.next()) {
            (Ok(_), Some(done), Some(view)) => finish_committed(config, &mut entry, done, view),
            (Err(error), _, _) => {
                entry.session.poison();
                Err(error.clone())
            }
            _ => Err(ServerError::Protocol("group commit lost a request's view")),
        };
        let _ = entry.reply.send((entry.session, answer));
    }
    committed
}

/// A request whose change another's save committed: its own plan (the cookie, by its
/// own reissue rule), with that save standing for its own, then the committed state.
fn finish_committed(
    config: &ServerConfig,
    entry: &mut Entry,
    (version, created, _): &(u64, f64, State),
    view: State,
) -> Result<Option<String>, ServerError> {
    let session = &mut entry.session;
    let mut finisher = session.finish(config, entry.failed, &mut OsRandom)?;
    // A plain save plans one save and nothing else: no record to encode for it.
    finisher.saved_elsewhere(*version)?;
    let cookie = finisher.into_cookie()?;
    session.adopt(*version, *created, view);
    Ok(cookie)
}
