//! The request's stages as values: [`Pending`] (the verified cookie, before any I/O)
//! and [`Finisher`] (the end-of-request store operations, then the cookie).

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::config::{ServerConfig, BACKOFF_BASE, BACKOFF_CAP, MAX_ID_CANDIDATES};
use super::id::{IdCookie, IdCookieFormat, StoreKey};
use super::session::ServerSession;
use super::store::{
    CreateOutcome, OpResult, Record, RemoveOutcome, SaveOutcome, StoreOp, TouchOutcome,
};
use crate::codec::json::State;
use crate::codec::record::{decode_record, encode_record};
use crate::codec::Accessed;
use crate::cookie::{cookie_values, render_set_cookie};
use crate::error::ServerError;
use crate::policy::{self, Expiry, Verdict};
use crate::random::RandomSource;
use crate::time::UnixTime;

/// A request's session before its record is loaded (stage 1).
#[derive(Clone, Debug)]
#[must_use = "a pending session does nothing until it is opened"]
pub struct Pending {
    /// Authentic, in-time id cookies, in header order, with their records' keys; the
    /// first is tried first.
    candidates: VecDeque<(IdCookie, StoreKey)>,
    /// Cookies of the session's name that did not verify or were out of time.
    rejected: usize,
    now: f64,
}

impl Pending {
    /// Verifies the request's cookies at time `now`. No store I/O. Every cookie of the
    /// session's name that verifies and, for a CubicWeb cookie, whose own timestamps pass
    /// the time checks ([`crate::SessionConfig::judge`]) is a candidate, up to
    /// [`MAX_ID_CANDIDATES`] distinct ids: a stale authentic cookie placed first (an
    /// attacker's own, tossed from a sibling domain, even repeated under several paths)
    /// cannot hide the live one. Only many *distinct* stale ids could; `__Host-` cookie
    /// names, which no sibling can set, close that too.
    pub fn start(config: &ServerConfig, cookie_header: Option<&[u8]>, now: f64) -> Pending {
        let s = config.session();
        let mut candidates: VecDeque<(IdCookie, StoreKey)> = VecDeque::new();
        let values = || {
            cookie_header
                .into_iter()
                .flat_map(|header| cookie_values(header, s.cookie().name()))
        };
        let verified = values()
            .filter_map(|value| config.format().decode(s, value))
            .filter(|c| match c.times {
                None => true,
                // The widest rules: the session's own expiry is only known once its
                // record is loaded (`try_open` judges the times again by it).
                Some((renewed, created)) => {
                    s.policy().widest().judge(now, renewed, created) == Verdict::Valid
                }
            });
        // A migration's legacy cookies come after: re-sent in the configured format.
        #[cfg(feature = "pickle")]
        let verified = verified.chain(config.legacy_cookie().into_iter().flat_map(|legacy| {
            values().filter_map(|value| {
                Some(IdCookie {
                    id: legacy.decode(value)?,
                    times: None,
                    key_index: 0,
                    legacy: true,
                })
            })
        }));
        let mut accepted = 0;
        for candidate in verified {
            accepted += 1;
            if candidates.len() == MAX_ID_CANDIDATES {
                break;
            }
            if !candidates.iter().any(|(c, _)| c.id == candidate.id) {
                let key = config.id_scheme().key(&candidate.id);
                candidates.push_back((candidate, key));
            }
        }
        let rejected = values().count().saturating_sub(accepted);
        Pending {
            candidates,
            rejected,
            now,
        }
    }

    /// How many cookies of the session's name were refused (a bad signature or format,
    /// or a CubicWeb frame out of time), for logs: a client sending only refused ones
    /// gets a fresh session.
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    /// The request time.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// The record to load before [`Pending::open`], if the cookie carried an id.
    pub fn load_key(&self) -> Option<StoreKey> {
        self.candidates.front().map(|(_, key)| *key)
    }

    /// The `Load` to run before [`Pending::try_open`], if the cookie carried an id.
    pub fn load_op(&self) -> Option<StoreOp<'static>> {
        Some(StoreOp::Load {
            key: self.load_key()?,
            now: self.now.into(),
        })
    }

    /// Stage 2: the session, given what the store returned for [`Pending::load_key`]
    /// (`None` when there was no key or no live record). Unknown, undecodable, expired
    /// or revoked records give a fresh session that will get a new id. Only the first
    /// candidate is tried; [`Pending::try_open`] tries the others.
    pub fn open(self, config: &ServerConfig, loaded: Option<Record>) -> ServerSession {
        let now = self.now;
        match self.try_open(config, loaded) {
            Ok(session) => session,
            Err(_) => ServerSession::fresh(config, now),
        }
    }

    /// Stage 2, one candidate at a time: the session when the loaded record is usable or
    /// no candidate is left (then a fresh session), otherwise `Err` with the next
    /// candidate to load (at most [`MAX_ID_CANDIDATES`] loads in all).
    pub fn try_open(
        mut self,
        config: &ServerConfig,
        loaded: Option<Record>,
    ) -> Result<ServerSession, Pending> {
        let now = self.now;
        let Some((candidate, _)) = self.candidates.pop_front() else {
            return Ok(ServerSession::fresh(config, now));
        };
        let usable = loaded
            .and_then(|stored| usable_record(config, stored, now))
            .filter(|(_, _, state)| {
                // The id cookie's own times, by the session's own expiry.
                candidate.times.is_none_or(|(renewed, created)| {
                    let expiry = Expiry::from_state(state);
                    config.session().judge_for(now, renewed, created, expiry) == Verdict::Valid
                })
            });
        match usable {
            Some((stored, created, state)) => {
                let mut session = ServerSession::fresh(config, now);
                let cookie_renewed = candidate.times.map(|(renewed, _)| renewed);
                let estimate = config
                    .policy_for(Expiry::from_state(&state))
                    .renewed_from(stored.expires_at.as_secs_f64(), created);
                session.renewed = cookie_renewed.map_or(estimate, |c| c.max(estimate));
                session.cookie_renewed = cookie_renewed;
                session.id = Some(candidate.id);
                session.version = stored.version;
                session.state = state;
                session.created = created;
                session.expires_at = stored.expires_at.as_secs_f64();
                session.rotated = candidate.key_index > 0 || candidate.legacy;
                Ok(session)
            }
            None if self.candidates.is_empty() => Ok(ServerSession::fresh(config, now)),
            None => Err(self),
        }
    }
}

/// A loaded record, decoded, if it is still good at `now`.
fn usable_record(config: &ServerConfig, stored: Record, now: f64) -> Option<(Record, f64, State)> {
    let (created, state) = decode_record(&stored.data)?;
    // The record's own expiry stands for the idle timeout; every other rule is judged
    // on `created` (the record's renewal time is not stored: `now` stands in).
    let good = stored.expires_at.as_secs_f64() > now
        && config.session().judge(now, now, created) == Verdict::Valid;
    good.then_some((stored, created, state))
}

#[derive(Debug)]
pub(super) enum Step {
    Create,
    Save,
    /// A reload after a lost compare-and-set, then the save again.
    Reload,
    Touch,
    Remove(StoreKey),
    /// A login's move: remove the old record if it still has the copied version.
    RemoveMoved,
    /// A reload of the old record after [`Step::RemoveMoved`] lost.
    ReloadMoved,
    /// Backoff before a retry.
    Wait(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CookieAction {
    None,
    Set,
    Remove,
}

/// The end of a server-mode request, as a sequence of store operations (stage 3).
///
/// ```text
/// while let Some(op) = finisher.next_op()? { let r = run(op)?; finisher.complete(r)?; }
/// let set_cookie = finisher.into_cookie()?;
/// ```
///
/// If the driver stops early (a store error), the session stays poisoned: a later
/// finish in the same request writes nothing ([`ServerError::Poisoned`]).
#[derive(Debug)]
#[must_use = "the store writes happen only when the finisher's operations are run"]
pub struct Finisher<'s> {
    session: &'s mut ServerSession,
    config: &'s ServerConfig,
    steps: VecDeque<Step>,
    cookie: CookieAction,
    retries: u32,
    waited: Duration,
    /// Set when the plan must end in an error once its clean-up steps ran.
    failure: Option<ServerError>,
    data: Vec<u8>,
}

impl<'s> Finisher<'s> {
    pub(super) fn new(
        session: &'s mut ServerSession,
        config: &'s ServerConfig,
        steps: VecDeque<Step>,
        cookie: CookieAction,
    ) -> Finisher<'s> {
        Finisher {
            session,
            config,
            steps,
            cookie,
            retries: 0,
            waited: Duration::ZERO,
            failure: None,
            data: Vec::new(),
        }
    }

    /// The number of operations still planned (reloads after conflicts add more).
    pub fn remaining(&self) -> usize {
        self.steps.len()
    }

    /// The record key; Save, Reload and Touch are only planned once the session has an
    /// id (and Create too, unless the store allocates it), so a missing one is an
    /// internal error, never a write to a made-up key.
    fn key(&self) -> Result<StoreKey, ServerError> {
        let scheme = self.config.id_scheme();
        self.session
            .id
            .as_ref()
            .map(|id| scheme.key(id))
            .ok_or(ServerError::Protocol(
                "store write planned without a session id",
            ))
    }

    /// The key of a `Create`: `None` when the store allocates the id.
    fn create_key(&self) -> Result<Option<StoreKey>, ServerError> {
        if self.config.id_scheme().allocates() {
            Ok(None)
        } else {
            self.key().map(Some)
        }
    }

    fn moved_from(&self) -> Result<(StoreKey, u64), ServerError> {
        self.session
            .moved_from
            .as_ref()
            .map(|(id, version)| (self.config.id_scheme().key(id), *version))
            .ok_or(ServerError::Protocol("move planned without an old id"))
    }

    /// The next operation to run, or `None` when all are done.
    pub fn next_op(&mut self) -> Result<Option<StoreOp<'_>>, ServerError> {
        let now = UnixTime::from(self.session.now);
        let expires_at = UnixTime::from(self.session.expires_at);
        let Some(step) = self.steps.front() else {
            return Ok(None);
        };
        Ok(Some(match step {
            Step::Remove(key) => StoreOp::Remove { key: *key },
            Step::Wait(delay) => StoreOp::Wait { delay: *delay },
            Step::RemoveMoved => {
                let (key, expected_version) = self.moved_from()?;
                StoreOp::RemoveIf {
                    key,
                    expected_version,
                    now,
                }
            }
            Step::ReloadMoved => StoreOp::Load {
                key: self.moved_from()?.0,
                now,
            },
            Step::Reload => StoreOp::Load {
                key: self.key()?,
                now,
            },
            Step::Touch => StoreOp::Touch {
                key: self.key()?,
                expires_at,
                now,
            },
            Step::Create => {
                let key = self.create_key()?;
                self.data = encode_record(self.session.created, &self.session.state)
                    .map_err(ServerError::Finish)?;
                StoreOp::Create {
                    key,
                    data: &self.data,
                    expires_at,
                    now,
                }
            }
            Step::Save => {
                let key = self.key()?;
                self.data = encode_record(self.session.created, &self.session.state)
                    .map_err(ServerError::Finish)?;
                StoreOp::Save {
                    key,
                    data: &self.data,
                    expected_version: self.session.version,
                    expires_at,
                    now,
                }
            }
        }))
    }

    fn retry(&mut self) -> Result<(), ServerError> {
        self.retries = self.retries.saturating_add(1);
        if self.retries > self.config.max_retries() {
            return Err(ServerError::Contended);
        }
        Ok(())
    }

    /// Counts a retry after a lost compare-and-set and plans its backoff: exponential
    /// from [`BACKOFF_BASE`] to [`BACKOFF_CAP`], with full jitter from `rng`, within the
    /// configured time budget.
    fn back_off(&mut self, rng: &mut impl RandomSource) -> Result<(), ServerError> {
        self.retry()?;
        let doublings = self.retries.saturating_sub(1).min(16);
        let ceiling = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP);
        let mut bytes = [0u8; 4];
        rng.fill(&mut bytes).map_err(|_| ServerError::Random)?;
        let fraction = u64::from(u32::from_le_bytes(bytes));
        let nanos = (ceiling.as_nanos() as u64).saturating_mul(fraction) >> 32;
        let delay = Duration::from_nanos(nanos);
        if self.waited + delay > self.config.retry_budget() {
            return Err(ServerError::Contended);
        }
        self.waited += delay;
        if !delay.is_zero() {
            self.steps.push_front(Step::Wait(delay));
        }
        Ok(())
    }

    /// The old record of a move is gone (a concurrent logout, or expiry): the logout
    /// wins. A new record already written for the move is removed again, and the plan
    /// ends in [`ServerError::Removed`] without a cookie.
    fn move_lost(&mut self) -> Result<(), ServerError> {
        self.session.moved_from = None;
        if self.session.version > 0 {
            let key = self.key()?;
            self.steps.push_front(Step::Remove(key));
        }
        self.session.id = None;
        self.failure = Some(ServerError::Removed);
        Ok(())
    }

    /// Reports the store's answer to the operation [`Finisher::next_op`] returned.
    /// `rng` makes a new id when a created id collides, and jitters backoffs.
    pub fn complete(
        &mut self,
        result: OpResult,
        rng: &mut impl RandomSource,
    ) -> Result<(), ServerError> {
        let step = self.steps.pop_front();
        match (step, result) {
            (Some(Step::Create), OpResult::Created(CreateOutcome::Created { version }))
                if !self.config.id_scheme().allocates() =>
            {
                self.session.version = version;
                Ok(())
            }
            (Some(Step::Create), OpResult::Created(CreateOutcome::Allocated { id, version }))
                if self.config.id_scheme().allocates() =>
            {
                self.session.id = Some(id);
                self.session.version = version;
                Ok(())
            }
            (Some(Step::Create), OpResult::Created(CreateOutcome::Taken)) => {
                self.retry()?;
                self.session.id = self
                    .config
                    .id_scheme()
                    .generate(rng)
                    .map_err(|_| ServerError::Random)?;
                self.steps.push_front(Step::Create);
                Ok(())
            }
            (Some(Step::Save), OpResult::Saved(SaveOutcome::Saved { version })) => {
                self.session.version = version;
                Ok(())
            }
            (Some(Step::Save), OpResult::Saved(SaveOutcome::Conflict)) => {
                self.steps.push_front(Step::Save);
                self.steps.push_front(Step::Reload);
                self.back_off(rng)
            }
            (Some(Step::Save), OpResult::Saved(SaveOutcome::Missing)) => Err(ServerError::Removed),
            (Some(Step::Reload), OpResult::Loaded(fresh)) => {
                let (created, state, version) =
                    self.session.replay_on(fresh).ok_or(ServerError::Removed)?;
                self.session.state = state;
                self.session.created = created;
                self.session.version = version;
                // The fresh state may carry another expiry of its own.
                self.session.expires_at = self.session.deadline_now(self.config);
                Ok(())
            }
            (Some(Step::Touch), OpResult::Touched(outcome)) => {
                if outcome == TouchOutcome::Missing {
                    // Removed meanwhile (a logout wins): nothing to extend, nothing to
                    // re-send, now or later in this request.
                    self.cookie = CookieAction::None;
                    self.session.removed_meanwhile(self.config);
                }
                Ok(())
            }
            (Some(Step::Remove(_)), OpResult::Removed) => Ok(()),
            (Some(Step::Wait(_)), OpResult::Waited) => Ok(()),
            (Some(Step::RemoveMoved), OpResult::RemovedIf(RemoveOutcome::Removed)) => {
                self.session.moved_from = None;
                Ok(())
            }
            (Some(Step::RemoveMoved), OpResult::RemovedIf(RemoveOutcome::Conflict)) => {
                self.steps.push_front(Step::ReloadMoved);
                self.back_off(rng)
            }
            (Some(Step::RemoveMoved), OpResult::RemovedIf(RemoveOutcome::Missing)) => {
                self.move_lost()
            }
            (Some(Step::ReloadMoved), OpResult::Loaded(fresh)) => {
                let Some((created, state, version)) = self.session.replay_on(fresh) else {
                    return self.move_lost();
                };
                let session = &mut *self.session;
                session.state = state;
                session.created = created;
                if let Some((_, copied)) = session.moved_from.as_mut() {
                    *copied = version;
                }
                // Write the fresh state under the new id, then try the removal again.
                self.steps.push_front(Step::RemoveMoved);
                if session.version > 0 {
                    self.steps.push_front(Step::Save);
                } else if !session.state.is_empty() {
                    session.id = self
                        .config
                        .id_scheme()
                        .generate(rng)
                        .map_err(|_| ServerError::Random)?;
                    session.expires_at = session.deadline_now(self.config);
                    self.steps.push_front(Step::Create);
                    self.cookie = CookieAction::Set;
                }
                Ok(())
            }
            (_, _) => Err(ServerError::Protocol(
                "store answered an operation with another's result",
            )),
        }
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    /// Group commit: the one save this plan holds was committed by another request's
    /// save (with this request's changes in it), as `version`; it is done without an
    /// operation. Any other plan is refused.
    pub(crate) fn saved_elsewhere(&mut self, version: u64) -> Result<(), ServerError> {
        match (self.steps.pop_front(), self.steps.is_empty()) {
            (Some(Step::Save), true) => {
                self.session.version = version;
                Ok(())
            }
            _ => Err(ServerError::Protocol("group commit planned another write")),
        }
    }

    /// After every operation succeeded: the `Set-Cookie` value to send, if any.
    pub fn into_cookie(self) -> Result<Option<String>, ServerError> {
        if !self.steps.is_empty() {
            return Err(ServerError::Protocol(
                "cookie requested before the store writes finished",
            ));
        }
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        // Everything planned is written: a later finish in the same request (after an
        // early `save`) only writes what changes after this point.
        self.session.poisoned = false;
        self.session.dirty = false;
        self.session.ops.clear();
        self.session.rotated = false;
        let s = self.config.session();
        match (self.cookie, &self.session.id) {
            (CookieAction::Set, Some(id)) => {
                let whole = policy::whole_seconds(self.session.now);
                let value = self
                    .config
                    .format()
                    .encode(s, id, Accessed::Int(whole), self.session.created)
                    .map_err(ServerError::Finish)?;
                if self.config.format() == IdCookieFormat::CubicWeb {
                    self.session.cookie_renewed = Some(whole as f64);
                }
                let cookie = s.cookie();
                let max_age = s.cookie_max_age(self.session.expiry());
                Ok(Some(render_set_cookie(
                    cookie.name(),
                    &value,
                    &cookie.attributes_with_max_age(max_age),
                    self.session.now,
                )))
            }
            (CookieAction::Remove, _) => Ok(Some(s.cookie().removal())),
            _ => Ok(None),
        }
    }
}
