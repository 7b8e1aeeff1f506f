//! The server-mode plan (`Pending` → `ServerSession` → `Finisher`) driven against a
//! small honest model store, with an arbitrary store behaviour per operation: the honest
//! answer; a legal adversarial one (a concurrent request acts on the model first, so the
//! answer is Conflict, Taken, Missing, `Loaded(None)` or a newer version); a store error
//! (the finisher is dropped, as a driver's `?` does; the write may have happened); a
//! wrong answer variant; or a driver asking for the cookie early. The session comes from
//! an earlier honest request (or there is no cookie); the request runs arbitrary
//! actions, early finishes included, then its final finish. The ids are random (the
//! core makes them) or allocated by the model store at create (`IdScheme::Allocated`,
//! CubicWeb's eids).
//!
//! Invariants (a panic is a finding):
//! - a wrong answer variant (a `Created` without an id to a keyless create, or an
//!   `Allocated` to a keyed one, included), or `into_cookie` before `next_op` returned
//!   `None`, gives `ServerError::Protocol`, never a panic; honest answers never give
//!   `Protocol`; a create carries a key exactly when the core makes the ids;
//! - a Set-Cookie names a record live in the model (at least at the session's version),
//!   never an id whose Save, Touch, RemoveIf or reload was answered `Missing`/`None`;
//! - after any error the session is poisoned: a later finish is `Err(Poisoned)` and no
//!   cookie is sent for the rest of the request;
//! - never a resurrected record: no Create on a key ever removed, and no Save, Touch or
//!   RemoveIf on a key that this request's own Remove/RemoveIf deleted;
//! - per finish: reloads after a Conflict plus Creates after a Taken ≤ max_retries, the
//!   Wait delays add up to ≤ the retry budget, and the plan ends.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::mem::discriminant;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pyramid_session::server::*;
use pyramid_session::time::UnixTime;
use pyramid_session::{RandomError, SessionConfig};
use serde_json::json;

#[derive(Arbitrary, Debug)]
enum Action {
    Get(u8),
    Insert(u8, u8),
    Remove(u8),
    Modify(u8),
    Clear,
    Invalidate,
    Regenerate,
    Finish { failed: bool },
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Answer {
    Honest,
    /// A concurrent request acts on the key first: a save if true, a logout if false.
    Concurrent(bool),
    /// A store error, after the operation ran (true) or not.
    Fail(bool),
    /// The operation runs, but the answer is another operation's variant.
    Wrong(u8),
    /// The driver asks for the cookie before the plan is done.
    EarlyCookie,
}

#[derive(Arbitrary, Debug)]
struct Input {
    cubicweb: bool,
    /// The store allocates the ids.
    allocated: bool,
    set_on_exception: bool,
    max_retries: u8,
    budget_ms: u8,
    seed: u64,
    /// Seconds since an earlier request made the session (`None`: no cookie).
    prior: Option<u16>,
    actions: Vec<Action>,
    answers: Vec<Answer>,
}

/// The store contract, honestly (live: `expires_at > now`), and what the plan was told.
#[derive(Default)]
struct Model {
    records: HashMap<StoreKey, Record>,
    /// Every key ever removed.
    removed: HashSet<StoreKey>,
    /// Keys this request's own Remove/RemoveIf deleted.
    removed_here: HashSet<StoreKey>,
    /// Keys this request was told are gone (Missing, or a reload found nothing).
    gone: HashSet<StoreKey>,
    /// The last id allocated (as CubicWeb's `entities_id_seq`).
    last_eid: u64,
}

/// An operation's key (`None` for a keyless create), expected version, data, expiry and
/// `now` (`None` for a Wait).
#[allow(clippy::type_complexity)]
fn fields<'a>(op: &StoreOp<'a>) -> Option<(Option<StoreKey>, u64, &'a [u8], UnixTime, UnixTime)> {
    let e = UnixTime::EPOCH;
    Some(match *op {
        StoreOp::Load { key, now } => (Some(key), 0, &[], e, now),
        StoreOp::Create {
            key,
            data,
            expires_at,
            now,
        } => (key, 0, data, expires_at, now),
        StoreOp::Save {
            key,
            data,
            expected_version,
            expires_at,
            now,
        } => (Some(key), expected_version, data, expires_at, now),
        StoreOp::Touch {
            key,
            expires_at,
            now,
        } => (Some(key), 0, &[], expires_at, now),
        StoreOp::Remove { key } => (Some(key), 0, &[], e, e),
        StoreOp::RemoveIf {
            key,
            expected_version,
            now,
        } => (Some(key), expected_version, &[], e, now),
        StoreOp::Wait { .. } => return None,
    })
}

fn record(data: &[u8], version: u64, expires_at: UnixTime) -> Record {
    let data = data.to_vec();
    Record {
        data,
        version,
        expires_at,
    }
}

/// One answer of each variant, for the wrong ones.
const ANSWERS: [OpResult; 7] = [
    OpResult::Loaded(None),
    OpResult::Created(CreateOutcome::Created { version: 1 }),
    OpResult::Saved(SaveOutcome::Conflict),
    OpResult::Touched(TouchOutcome::Touched),
    OpResult::Removed,
    OpResult::RemovedIf(RemoveOutcome::Removed),
    OpResult::Waited,
];

impl Model {
    fn live(&mut self, key: &StoreKey, now: UnixTime) -> Option<&mut Record> {
        self.records.get_mut(key).filter(|r| r.expires_at > now)
    }
    fn remove(&mut self, key: StoreKey, here: bool) {
        self.records.remove(&key);
        self.removed.insert(key);
        if here {
            self.removed_here.insert(key);
        }
    }
    /// Runs `op` as `answer` says; `Err` is a store error.
    fn run(&mut self, op: &StoreOp<'_>, answer: Answer) -> Result<OpResult, ()> {
        // An allocated id is never taken: no concurrent create can collide with it.
        if let (Some((Some(key), _, data, _, now)), Answer::Concurrent(save)) = (fields(op), answer)
        {
            // A concurrent request first: a save or a logout, or a create of the same key.
            match (op, self.live(&key, now)) {
                (StoreOp::Create { .. }, None) => {
                    let record = record(data, 1, now + Duration::from_secs(60));
                    self.records.insert(key, record);
                }
                (_, Some(record)) if save => record.version += 1,
                (_, Some(_)) => self.remove(key, false),
                (_, None) => {}
            }
        }
        if matches!(answer, Answer::Fail(false)) {
            return Err(());
        }
        let result = self.execute(op);
        match answer {
            Answer::Fail(_) => Err(()),
            // A create answered as the other kind of create.
            Answer::Wrong(index) if index % 2 == 0 && matches!(op, StoreOp::Create { .. }) => {
                Ok(OpResult::Created(match op {
                    StoreOp::Create { key: None, .. } => CreateOutcome::Created { version: 1 },
                    _ => CreateOutcome::Allocated {
                        id: SessionId::parse("4242").unwrap(),
                        version: 1,
                    },
                }))
            }
            Answer::Wrong(index) => Ok(ANSWERS
                .into_iter()
                .filter(|a| discriminant(a) != discriminant(&result))
                .nth(usize::from(index % 6))
                .unwrap()),
            _ => Ok(result),
        }
    }
    fn execute(&mut self, op: &StoreOp<'_>) -> OpResult {
        let Some((key, expected, data, expires_at, now)) = fields(op) else {
            return OpResult::Waited;
        };
        let Some(key) = key else {
            // A keyless create: the store allocates the next id.
            self.last_eid += 1;
            let id = SessionId::parse(&self.last_eid.to_string()).unwrap();
            let key = IdScheme::Allocated.key(&id);
            self.records.insert(key, record(data, 1, expires_at));
            return OpResult::Created(CreateOutcome::Allocated { id, version: 1 });
        };
        let live = self.live(&key, now).map(|r| r.version);
        let record = |version| record(data, version, expires_at);
        let result = match (op, live) {
            (StoreOp::Load { .. }, _) => OpResult::Loaded(self.live(&key, now).cloned()),
            (StoreOp::Create { .. }, Some(_)) => OpResult::Created(CreateOutcome::Taken),
            (StoreOp::Create { .. }, None) => {
                self.records.insert(key, record(1));
                OpResult::Created(CreateOutcome::Created { version: 1 })
            }
            (StoreOp::Save { .. }, Some(v)) if v == expected => {
                self.records.insert(key, record(v + 1));
                OpResult::Saved(SaveOutcome::Saved { version: v + 1 })
            }
            (StoreOp::Save { .. }, Some(_)) => OpResult::Saved(SaveOutcome::Conflict),
            (StoreOp::Save { .. }, None) => OpResult::Saved(SaveOutcome::Missing),
            (StoreOp::Touch { .. }, Some(_)) => {
                self.live(&key, now).unwrap().expires_at = expires_at;
                OpResult::Touched(TouchOutcome::Touched)
            }
            (StoreOp::Touch { .. }, None) => OpResult::Touched(TouchOutcome::Missing),
            (StoreOp::Remove { .. }, _) => {
                self.remove(key, true);
                OpResult::Removed
            }
            (StoreOp::RemoveIf { .. }, Some(v)) if v == expected => {
                self.remove(key, true);
                OpResult::RemovedIf(RemoveOutcome::Removed)
            }
            (StoreOp::RemoveIf { .. }, Some(_)) => OpResult::RemovedIf(RemoveOutcome::Conflict),
            (StoreOp::RemoveIf { .. }, None) => OpResult::RemovedIf(RemoveOutcome::Missing),
            (StoreOp::Wait { .. }, _) => OpResult::Waited,
        };
        if live.is_none() && !matches!(op, StoreOp::Create { .. }) {
            self.gone.insert(key);
        }
        result
    }
}

fn protocol<T: std::fmt::Debug>(r: Result<T, ServerError>) {
    assert!(matches!(r, Err(ServerError::Protocol(_))), "{r:?}");
}

/// A request's context.
struct Cx<R> {
    config: ServerConfig,
    rng: R,
    answers: std::vec::IntoIter<Answer>,
    model: Model,
}

impl<R: FnMut(&mut [u8]) -> Result<(), RandomError>> Cx<R> {
    /// One finish: `None` when it ended in an error (the finisher is dropped).
    fn finish(&mut self, session: &mut ServerSession, failed: bool) -> Option<Option<String>> {
        let (max_retries, budget) = (self.config.max_retries(), self.config.retry_budget());
        let mut finisher = session.finish(&self.config, failed, &mut self.rng).unwrap();
        let (mut ops, mut retries, mut waited, mut after_taken) = (0, 0, Duration::ZERO, false);
        loop {
            let answer = self.answers.next().unwrap_or(Answer::Honest);
            if matches!(answer, Answer::EarlyCookie) && finisher.remaining() > 0 {
                protocol(finisher.into_cookie());
                return None;
            }
            let Some(op) = finisher.next_op().expect("next_op") else {
                break;
            };
            ops += 1;
            assert!(ops <= 4 * (max_retries + 10), "the plan does not end");
            let (model, key) = (&self.model, fields(&op).map(|f| f.0));
            match op {
                StoreOp::Load { .. } => retries += 1,
                StoreOp::Create { key, .. } => {
                    retries += u32::from(after_taken);
                    let allocates = self.config.id_scheme().allocates();
                    assert_eq!(key.is_none(), allocates, "a create's key and the id scheme");
                    if let Some(key) = key {
                        assert!(!model.removed.contains(&key), "resurrecting Create");
                    }
                }
                StoreOp::Save { .. } | StoreOp::Touch { .. } | StoreOp::RemoveIf { .. } => {
                    let key = key.flatten().unwrap();
                    assert!(!model.removed_here.contains(&key), "write after removal");
                }
                StoreOp::Wait { delay } => waited += delay,
                StoreOp::Remove { .. } => {}
            }
            assert!(retries <= max_retries, "{retries} retries > {max_retries}");
            assert!(waited <= budget, "waited {waited:?} > budget {budget:?}");
            let wrong = matches!(answer, Answer::Wrong(_));
            let Ok(result) = self.model.run(&op, answer) else {
                return None; // a store error: the driver's `?` drops the finisher
            };
            after_taken = result == OpResult::Created(CreateOutcome::Taken);
            match finisher.complete(result, &mut self.rng) {
                Err(ServerError::Protocol(_)) if wrong => return None,
                Ok(()) if !wrong => {}
                Err(ServerError::Removed | ServerError::Contended) if !wrong => return None,
                r => panic!("complete: {r:?} (wrong answer: {wrong})"),
            }
        }
        match finisher.into_cookie() {
            Ok(cookie) => Some(cookie),
            Err(ServerError::Removed) => None,
            Err(e) => panic!("into_cookie, after every operation: {e:?}"),
        }
    }

    /// A Set-Cookie that names a session (not a removal) must name a live record.
    fn check_cookie(&mut self, session: &ServerSession, set_cookie: &str, now: f64) {
        if set_cookie == self.config.session().cookie().removal() {
            return;
        }
        let pair = set_cookie.split(';').next().unwrap();
        let value = &pair[pair.find('=').unwrap() + 1..];
        let (config, model) = (&self.config, &mut self.model);
        let sent = config.format().decode(config.session(), value.as_bytes());
        let id = sent.expect("our cookie verifies").id;
        assert_eq!(session.id(), Some(&id), "a cookie for another id");
        let key = config.id_scheme().key(&id);
        assert!(!model.gone.contains(&key), "a cookie for a gone record");
        let live = model.live(&key, now.into()).map(|r| r.version);
        assert!(live >= Some(session.version()), "cookie before write");
    }

    /// One request: open, run the actions, then the final finish. Returns the last
    /// Set-Cookie's `name=value`.
    fn request(&mut self, header: Option<&str>, now: f64, actions: &[Action]) -> Option<String> {
        self.model.removed_here.clear();
        self.model.gone.clear();
        let mut pending = Pending::start(&self.config, header.map(str::as_bytes), now);
        let mut session = loop {
            let loaded = match pending.load_op() {
                None => None,
                Some(op) => {
                    let answer = self.answers.next().unwrap_or(Answer::Honest);
                    let wrong = matches!(answer, Answer::Wrong(_));
                    match self.model.run(&op, answer).map(OpResult::into_loaded) {
                        Ok(Ok(loaded)) if !wrong => loaded,
                        Ok(loaded) => {
                            protocol(loaded);
                            return None;
                        }
                        Err(()) => return None,
                    }
                }
            };
            match pending.try_open(&self.config, loaded) {
                Ok(session) => break session,
                Err(next) => pending = next,
            }
        };
        self.model.gone.clear(); // a refused cookie's id is not the session's
        let (mut errored, mut last) = (false, None);
        let key = |k: &u8| format!("k{}", k % 3);
        let last_finish = Action::Finish { failed: false };
        for action in actions.iter().take(24).chain([&last_finish]) {
            match action {
                Action::Get(k) => drop(session.get(&key(k))),
                Action::Insert(k, v) => session.insert(key(k), json!(v)),
                Action::Remove(k) => drop(session.remove(&key(k))),
                Action::Modify(k) => {
                    session.modify(&key(k), |n| {
                        Some((n.and_then(|n| n.as_u64()).unwrap_or(0) + 1).into())
                    });
                }
                Action::Clear => session.clear(),
                Action::Invalidate => session.invalidate(),
                Action::Regenerate => session.regenerate_id(),
                Action::Finish { failed } if session.is_poisoned() => {
                    let r = session.finish(&self.config, *failed, &mut self.rng);
                    assert!(matches!(r, Err(ServerError::Poisoned)), "not Poisoned");
                }
                Action::Finish { failed } => match self.finish(&mut session, *failed) {
                    None => {
                        assert!(session.is_poisoned(), "error, yet not poisoned");
                        errored = true;
                    }
                    Some(None) => {}
                    Some(Some(set_cookie)) => {
                        assert!(!errored, "a cookie after an error in the same request");
                        self.check_cookie(&session, &set_cookie, now);
                        last = set_cookie.split(';').next().map(str::to_string);
                    }
                },
            }
        }
        last
    }
}

fuzz_target!(|input: Input| {
    let format = match input.cubicweb {
        true => IdCookieFormat::CubicWeb,
        false => IdCookieFormat::PyramidSessionRedis,
    };
    let session = SessionConfig::secure("fuzz").set_on_exception(input.set_on_exception);
    let scheme = match input.allocated {
        true => IdScheme::Allocated,
        false => IdScheme::Hashed,
    };
    let config = ServerConfig::new(session.build().unwrap(), format)
        .unwrap()
        .with_id_scheme(scheme)
        .with_max_retries(u32::from(input.max_retries % 8))
        .with_retry_budget(Duration::from_millis(u64::from(input.budget_ms)));
    let mut state = input.seed;
    let rng = move |buf: &mut [u8]| -> Result<(), RandomError> {
        for chunk in buf.chunks_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let z = (state ^ (state >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    };
    let (answers, model) = (Vec::new().into_iter(), Model::default());
    let mut cx = Cx {
        config,
        rng,
        answers,
        model,
    };
    let t0 = 1_700_000_000.25;
    let made = [Action::Insert(0, 1), Action::Insert(1, 2)];
    let header = input.prior.and_then(|_| cx.request(None, t0, &made));
    cx.answers = input.answers.into_iter();
    let now = t0 + f64::from(input.prior.unwrap_or(0));
    cx.request(header.as_deref(), now, &input.actions);
});
