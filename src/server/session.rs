//! [`ServerSession`]: a loaded server-mode session, and the log of this request's
//! changes that is replayed onto a fresh record after a lost compare-and-set.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use super::config::ServerConfig;
use super::id::SessionId;
use super::plan::{CookieAction, Finisher, Step};
use super::store::Record;
use crate::codec::json::State;
use crate::codec::record::decode_record;
use crate::error::ServerError;
use crate::policy::Expiry;
use crate::random::RandomSource;
use crate::session::EXPIRY_KEY;

pub use crate::session::Modifier;

/// One change this request made, replayed onto a fresh record after a lost save.
pub(super) enum Op {
    Set(String, Value),
    Remove(String),
    Clear,
    Modify(String, Modifier),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Set(k, _) => write!(f, "Set({k:?})"),
            Op::Remove(k) => write!(f, "Remove({k:?})"),
            Op::Clear => f.write_str("Clear"),
            Op::Modify(k, _) => write!(f, "Modify({k:?})"),
        }
    }
}

pub(super) fn apply(state: &mut State, op: &Op) {
    match op {
        Op::Set(k, v) => {
            state.insert(k.clone(), v.clone());
        }
        Op::Remove(k) => {
            state.shift_remove(k);
        }
        Op::Clear => state.clear(),
        Op::Modify(k, f) => match f(state.get(k)) {
            Some(v) => {
                state.insert(k.clone(), v);
            }
            None => {
                state.shift_remove(k);
            }
        },
    }
}

/// A server-mode session, loaded (stage 2). Methods mirror the cookie-mode
/// [`crate::Session`]; every change is also recorded so it can be replayed.
#[derive(Debug)]
pub struct ServerSession {
    pub(super) id: Option<SessionId>,
    pub(super) version: u64,
    pub(super) state: State,
    pub(super) created: f64,
    pub(super) renewed: f64,
    /// The `renewed` slot of the cookie this request presented (CubicWeb format), or of
    /// the cookie this request sent: what the browser's cookie is judged by.
    pub(super) cookie_renewed: Option<f64>,
    pub(super) expires_at: f64,
    pub(super) ops: Vec<Op>,
    pub(super) dirty: bool,
    pub(super) read: bool,
    pub(super) rotated: bool,
    /// Records removed unconditionally at the end (logout).
    pub(super) remove_ids: Vec<SessionId>,
    /// A login's move: the old id and the version whose state was copied.
    pub(super) moved_from: Option<(SessionId, u64)>,
    /// A store operation of this request failed: nothing more is written.
    pub(super) poisoned: bool,
    pub(super) now: f64,
    /// Group commit: where each absorbed request's changes end in `ops`, and the state
    /// each of those requests sees (the state right after its own changes).
    pub(super) marks: Vec<usize>,
    pub(super) views: Vec<State>,
}

impl ServerSession {
    pub(super) fn fresh(config: &ServerConfig, now: f64) -> ServerSession {
        ServerSession {
            id: None,
            version: 0,
            state: State::new(),
            created: now,
            renewed: now,
            cookie_renewed: None,
            expires_at: config.deadline(now, now),
            ops: Vec::new(),
            dirty: false,
            read: false,
            rotated: false,
            remove_ids: Vec::new(),
            moved_from: None,
            poisoned: false,
            now,
            marks: Vec::new(),
            views: Vec::new(),
        }
    }

    /// True when the session has no stored record yet (new, or its old id was refused).
    pub fn is_new(&self) -> bool {
        self.id.is_none()
    }
    /// The session id, once the session has a stored record (for "log out my other
    /// devices" lists). Treat it as a secret: it is the bearer credential.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }
    /// When the session was created.
    pub fn created(&self) -> f64 {
        self.created
    }
    /// When the session was last renewed: the later of the cookie's own `renewed` slot
    /// and what the record's expiry tells.
    pub fn renewed(&self) -> f64 {
        self.renewed
    }
    /// The loaded record's version (0 when new).
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The state, without counting as a read.
    pub fn peek_state(&self) -> &State {
        &self.state
    }
    /// True when this request changed the session.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
    /// True once a store operation of this request failed: later finishes write nothing
    /// and send no cookie ([`ServerError::Poisoned`]).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// The session's own expiry, if it has one (`None`: the configuration's timeout and
    /// `max_age`). Not a read.
    pub fn expiry(&self) -> Option<Expiry> {
        Expiry::from_state(&self.state)
    }

    /// Gives this session its own expiry ("remember me"), or back the configuration's
    /// with `None`: the record's expiry (the store's TTL), its renewals and the id
    /// cookie's `Max-Age` follow it from this request on ([`ServerConfig::policy_for`],
    /// `SessionConfig::cookie_max_age`). Stored in the record's state under
    /// [`EXPIRY_KEY`] (replayed like any change after a lost compare-and-set), so
    /// [`ServerSession::clear`] and [`ServerSession::invalidate`] drop it. When it
    /// changes anything, the record is saved and the cookie re-sent.
    ///
    /// ```
    /// use core::time::Duration;
    /// use pyramid_session::policy::Expiry;
    /// use pyramid_session::server::{IdCookieFormat, Pending, ServerConfig};
    /// use pyramid_session::{driver, store::MemoryStore, OsRandom, SessionConfig};
    ///
    /// let config = ServerConfig::new(SessionConfig::secure("s3cret").build()?, IdCookieFormat::CubicWeb)?;
    /// let store = MemoryStore::new();
    /// let mut session = driver::open(&store, &config, Pending::start(&config, None, 1700000000.0))?;
    /// session.insert("user", "ada".into());
    /// session.set_expiry(Some(Expiry::OnInactivity(Duration::from_secs(30 * 86400))));
    /// let set_cookie = driver::finish(&store, &config, &mut session, false, &mut OsRandom)?.unwrap();
    /// assert!(set_cookie.contains("; Max-Age=2592000;"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_expiry(&mut self, expiry: Option<Expiry>) {
        if self.expiry() == expiry {
            return;
        }
        match expiry {
            Some(e) => self.record(Op::Set(EXPIRY_KEY.into(), e.to_state_value())),
            None => self.record(Op::Remove(EXPIRY_KEY.into())),
        }
        // The cookie's `Max-Age` changes: re-send it.
        self.rotated = true;
    }

    /// The record's expiry if the session is renewed now, by its own expiry.
    pub(super) fn deadline_now(&self, config: &ServerConfig) -> f64 {
        config.deadline_for(self.now, self.created, self.expiry())
    }

    fn record(&mut self, op: Op) {
        apply(&mut self.state, &op);
        self.ops.push(op);
        self.dirty = true;
    }

    /// Reads a value.
    pub fn get(&mut self, key: &str) -> Option<&Value> {
        self.read = true;
        self.state.get(key)
    }
    /// True when `key` is set.
    pub fn contains_key(&mut self, key: &str) -> bool {
        self.read = true;
        self.state.contains_key(key)
    }
    /// Number of keys.
    pub fn len(&mut self) -> usize {
        self.read = true;
        self.state.len()
    }
    /// True when no key is set.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
    /// Sets a value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        self.record(Op::Set(key.into(), value));
    }
    /// Removes a value, returning it.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let old = self.state.get(key).cloned();
        self.record(Op::Remove(key.to_string()));
        old
    }
    /// Removes every value.
    pub fn clear(&mut self) {
        self.record(Op::Clear);
    }
    /// Read-modify-write of one key that survives concurrent requests: `f` gets the
    /// current value and returns the new one (`None` removes the key). If the save loses
    /// to a concurrent one, `f` runs again on the fresh value. Returns the new value.
    ///
    /// ```
    /// # use pyramid_session::server::*;
    /// # use pyramid_session::SessionConfig;
    /// # let config = ServerConfig::new(SessionConfig::secure("s").build()?, IdCookieFormat::PyramidSessionRedis)?;
    /// # let mut session = Pending::start(&config, None, 1.0).open(&config, None);
    /// let count = session.modify("count", |n| Some((n.and_then(|n| n.as_u64()).unwrap_or(0) + 1).into()));
    /// assert_eq!(count, Some(1.into()));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn modify<F>(&mut self, key: &str, f: F) -> Option<Value>
    where
        F: Fn(Option<&Value>) -> Option<Value> + Send + Sync + 'static,
    {
        self.modify_boxed(key, Box::new(f))
    }

    /// The recorded form of [`ServerSession::modify`], for boxed functions.
    pub fn modify_boxed(&mut self, key: &str, f: Modifier) -> Option<Value> {
        self.record(Op::Modify(key.to_string(), f));
        self.state.get(key).cloned()
    }

    /// Logs out: the stored record is removed and the data dropped. Writing afterwards in
    /// the same request starts a new session under a new id.
    pub fn invalidate(&mut self) {
        if let Some(id) = self.id.take() {
            self.remove_ids.push(id);
        }
        if let Some((id, _)) = self.moved_from.take() {
            self.remove_ids.push(id);
        }
        self.state.clear();
        self.ops.clear();
        self.dirty = false;
        self.version = 0;
        self.created = self.now;
        self.renewed = self.now;
    }

    /// The record was found gone (a concurrent logout) while this request only read it:
    /// the session ends here as if invalidated — no cookie for the dead id, and a later
    /// write in the same request starts a fresh session without the old data.
    pub(super) fn removed_meanwhile(&mut self, config: &ServerConfig) {
        self.id = None;
        self.version = 0;
        self.state.clear();
        self.ops.clear();
        self.dirty = false;
        self.read = false;
        self.rotated = false;
        self.cookie_renewed = None;
        self.created = self.now;
        self.renewed = self.now;
        self.expires_at = config.deadline(self.now, self.now);
    }

    /// Moves the data to a new id and removes the old record: call it at login, against
    /// session fixation. The old record is removed only if it still has the version
    /// whose state was copied; when a concurrent request wrote to it meanwhile, its
    /// fresh state is moved instead (with this request's changes replayed on it), so
    /// an acknowledged write on the old id is never lost.
    pub fn regenerate_id(&mut self) {
        if let Some(id) = self.id.take() {
            self.moved_from = Some((id, self.version));
            self.version = 0;
            self.dirty = true;
        }
    }

    /// Stage 3: plans the store writes and the cookie. `failed` says the request ended in
    /// an error; with `set_on_exception` off nothing at all is written then.
    ///
    /// Fails with [`ServerError::Poisoned`] when an earlier finish of this request did not
    /// complete (a store operation failed or the plan was abandoned).
    pub fn finish<'s>(
        &'s mut self,
        config: &'s ServerConfig,
        failed: bool,
        rng: &mut impl RandomSource,
    ) -> Result<Finisher<'s>, ServerError> {
        if self.poisoned {
            return Err(ServerError::Poisoned);
        }
        // Poisoned until the plan completes (or plans nothing): a failure from here on,
        // the random source's included, stops every later write of this request.
        self.poisoned = true;
        let mut steps = VecDeque::new();
        let mut cookie = CookieAction::None;
        if failed && !config.session().set_on_exception() {
            // No cookie and no write — but a logout's removals still run: removing can
            // never bring a record back, and a logout must not survive an error page.
            for id in self.remove_ids.drain(..) {
                steps.push_back(Step::Remove(config.id_scheme().key(&id)));
            }
            self.poisoned = !steps.is_empty();
            return Ok(Finisher::new(self, config, steps, cookie));
        }
        let had_old = !self.remove_ids.is_empty() || self.moved_from.is_some();
        let now = self.now;
        match &self.id {
            None => {
                // A new (or re-keyed) session is only stored once it holds something.
                if self.dirty && !self.state.is_empty() {
                    // `None` when the store allocates the id: the Create answers it.
                    self.id = config
                        .id_scheme()
                        .generate(rng)
                        .map_err(|_| ServerError::Random)?;
                    self.renewed = now;
                    self.expires_at = self.deadline_now(config);
                    steps.push_back(Step::Create);
                    cookie = CookieAction::Set;
                } else if had_old {
                    cookie = CookieAction::Remove;
                }
            }
            Some(_) => {
                // Two renewals, each by Pyramid's reissue rule: the record's expiry
                // (extended by a write, or by a touch on a read), and the browser's
                // cookie, judged by its own `renewed` slot whatever the store did — a
                // writer's cookie ages even though every write renews the record.
                let extend = config.policy_for(self.expiry()).extension_due(
                    now,
                    self.expires_at,
                    self.created,
                );
                let cookie_due = match self.cookie_renewed {
                    Some(renewed) => config.policy().reissue_due(now, renewed),
                    // The cookie carries no time: it follows the record.
                    None => extend,
                };
                if self.dirty {
                    self.renewed = now;
                    self.expires_at = self.deadline_now(config);
                    steps.push_back(Step::Save);
                } else if self.read && (extend || cookie_due) {
                    // A re-sent cookie is good for a full timeout: so must the record be.
                    let extended = self.deadline_now(config);
                    if extended > self.expires_at {
                        self.renewed = now;
                        self.expires_at = extended;
                        steps.push_back(Step::Touch);
                    }
                }
                if cookie_due && (self.dirty || self.read) || self.rotated {
                    cookie = CookieAction::Set;
                }
            }
        }
        // Old ids go last, so a failed create leaves the old session intact.
        if self.moved_from.is_some() {
            steps.push_back(Step::RemoveMoved);
        }
        for id in self.remove_ids.drain(..) {
            steps.push_back(Step::Remove(config.id_scheme().key(&id)));
        }
        // Until the plan completes, a later finish in this request writes nothing.
        self.poisoned = !steps.is_empty();
        Ok(Finisher::new(self, config, steps, cookie))
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// True when this request's end is one compare-and-set save of an existing record
    /// and nothing else (no login move, no logout): the writes that requests of one
    /// process may commit together ([`ServerSession::absorb`]).
    pub(crate) fn is_plain_save(&self, config: &ServerConfig, failed: bool) -> bool {
        self.id.is_some()
            && self.dirty
            && self.moved_from.is_none()
            && self.remove_ids.is_empty()
            && !self.poisoned
            && (!failed || config.session().set_on_exception())
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// Takes over `other`'s changes, applied after this session's own: one save then
    /// commits both (group commit). `other` keeps no change to replay, and its own save
    /// is answered with this one's outcome ([`ServerSession::adopt`]).
    /// Each request of the batch is then told the state right after its own changes
    /// ([`ServerSession::take_views`]): the first one's, then each absorbed one's, in
    /// this order, as if they had been saved one after another.
    pub(crate) fn absorb(&mut self, other: &mut ServerSession) {
        if self.marks.is_empty() {
            self.marks.push(self.ops.len());
            self.views.push(self.state.clone());
        }
        for op in other.ops.drain(..) {
            apply(&mut self.state, &op);
            self.ops.push(op);
        }
        self.marks.push(self.ops.len());
        self.views.push(self.state.clone());
        self.dirty = true;
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// After a batch's save: the state each of its requests sees (see
    /// [`ServerSession::absorb`]; empty when nothing was absorbed).
    pub(crate) fn take_views(&mut self) -> Vec<State> {
        self.marks.clear();
        core::mem::take(&mut self.views)
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// Moves this request's changes onto a newer state of the same record (the last one
    /// this process committed), as a reload after a lost compare-and-set would.
    pub(crate) fn rebase(&mut self, version: u64, created: f64, state: &State) {
        let mut fresh = state.clone();
        for op in &self.ops {
            apply(&mut fresh, op);
        }
        self.state = fresh;
        self.created = created;
        self.version = version;
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// Takes the state another request's save committed, with this session's changes in
    /// it: what a reload would read now.
    pub(crate) fn adopt(&mut self, version: u64, created: f64, state: State) {
        self.state = state;
        self.created = created;
        self.version = version;
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// Stands in for a session handed elsewhere for a moment.
    pub(crate) fn placeholder(config: &ServerConfig) -> ServerSession {
        ServerSession::fresh(config, 0.0)
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// Marks the session as failed: nothing more is written for this request.
    pub(crate) fn poison(&mut self) {
        self.poisoned = true;
    }

    /// The record's state after a lost compare-and-set: `fresh` with this request's
    /// changes replayed on it. `None` when the record is gone or undecodable.
    /// A batch's views (see [`ServerSession::absorb`]) are taken anew on the way.
    pub(super) fn replay_on(&mut self, fresh: Option<Record>) -> Option<(f64, State, u64)> {
        let stored = fresh?;
        let (created, mut state) = decode_record(&stored.data)?;
        let mut marks = self.marks.iter().peekable();
        let mut views = Vec::with_capacity(self.marks.len());
        for (done, op) in core::iter::once(None)
            .chain(self.ops.iter().map(Some))
            .enumerate()
        {
            if let Some(op) = op {
                apply(&mut state, op);
            }
            while marks.next_if(|&&mark| mark == done).is_some() {
                views.push(state.clone());
            }
        }
        self.views = views;
        Some((created, state, stored.version))
    }
}

impl crate::session::SessionData for ServerSession {
    fn get(&mut self, key: &str) -> Option<&Value> {
        ServerSession::get(self, key)
    }
    fn insert(&mut self, key: &str, value: Value) {
        ServerSession::insert(self, key, value);
    }
    fn modify(&mut self, key: &str, f: Modifier) -> Option<Value> {
        self.modify_boxed(key, f)
    }
}
