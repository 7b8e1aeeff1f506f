//! Regression tests for the server-mode defects found under attack (issue 11), driven
//! with a fixed clock through the pure plan and the blocking driver: active users are
//! never logged out, a failed write poisons the rest of its request, a login never loses
//! a write acknowledged on the old id, and a stale authentic cookie placed first never
//! hides the live one (both modes).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::counter_rng;
use pyramid_session::driver;
use pyramid_session::server::{
    IdCookieFormat, OpResult, Pending, ServerConfig, ServerError, ServerSession, SessionId, Store,
    StoreError, StoreErrorKind, StoreOp,
};
use pyramid_session::store::MemoryStore;
use pyramid_session::{CookieSession, SessionConfig, SessionData};
use serde_json::{json, Value};

const T0: f64 = 1_700_000_000.25;

fn config(format: IdCookieFormat) -> ServerConfig {
    // The secure profile: timeout 1200 s, reissue 120 s.
    let session = SessionConfig::secure("defects-secret").build().unwrap();
    ServerConfig::new(session, format).unwrap()
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

type Rng = Box<dyn FnMut(&mut [u8]) -> Result<(), pyramid_session::RandomError> + Send>;

/// A browser: keeps the cookie it was last sent (a removal clears it).
struct Browser<'a, S: Store> {
    store: &'a S,
    config: &'a ServerConfig,
    cookie: Option<String>,
    rng: Rng,
    cookies_received: usize,
}

impl<'a, S: Store> Browser<'a, S> {
    fn new(store: &'a S, config: &'a ServerConfig, seed: u64) -> Browser<'a, S> {
        Browser {
            store,
            config,
            cookie: None,
            rng: Box::new(counter_rng(seed)),
            cookies_received: 0,
        }
    }

    /// One request at `now`; `view` runs on the loaded session.
    fn request<T>(
        &mut self,
        now: f64,
        view: impl FnOnce(&mut ServerSession) -> T,
    ) -> Result<T, ServerError> {
        let pending = Pending::start(self.config, self.cookie.as_deref().map(str::as_bytes), now);
        let mut session = driver::open(self.store, self.config, pending)?;
        let out = view(&mut session);
        let set = driver::finish(self.store, self.config, &mut session, false, &mut self.rng)?;
        if let Some(set) = set {
            self.cookies_received += 1;
            let p = pair(&set);
            self.cookie = (!p.ends_with('=')).then_some(p);
        }
        Ok(out)
    }

    fn login(&mut self, now: f64, user: &str) {
        let user = user.to_string();
        self.request(now, |s| {
            s.regenerate_id();
            s.insert("user", json!(user));
        })
        .unwrap();
    }
}

fn bump(n: Option<&Value>) -> Option<Value> {
    Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
}

#[test]
fn active_users_stay_logged_in_for_hours() {
    for format in [
        IdCookieFormat::CubicWeb,
        IdCookieFormat::PyramidSessionRedis,
    ] {
        let config = config(format);
        let store = MemoryStore::new();
        let mut writer = Browser::new(&store, &config, 1);
        let mut reader = Browser::new(&store, &config, 2);
        let mut viewer = Browser::new(&store, &config, 3);
        for b in [&mut writer, &mut reader, &mut viewer] {
            b.login(T0, "ada");
        }
        // Every 60 s for 3 hours: a writer (increments), a reader (reads only) and an HTML
        // viewer (CSRF token, flash messages, user: `pop_flash` is a mutator).
        let mut t = T0;
        while t < T0 + 3.0 * 3600.0 {
            t += 60.0;
            let who = writer
                .request(t, |s| {
                    s.modify("count", bump);
                    s.get("user").cloned()
                })
                .unwrap();
            assert_eq!(
                who,
                Some(json!("ada")),
                "{format:?}: writer logged out at +{}",
                t - T0
            );
            let who = reader.request(t, |s| s.get("user").cloned()).unwrap();
            assert_eq!(
                who,
                Some(json!("ada")),
                "{format:?}: reader logged out at +{}",
                t - T0
            );
            let who = viewer
                .request(t, |s| {
                    s.get_csrf_token(&mut counter_rng(9)).unwrap();
                    s.pop_flash("");
                    s.get("user").cloned()
                })
                .unwrap();
            assert_eq!(
                who,
                Some(json!("ada")),
                "{format:?}: viewer logged out at +{}",
                t - T0
            );
        }
        let count = writer
            .request(t + 1.0, |s| s.get("count").cloned())
            .unwrap();
        assert_eq!(count, Some(json!(180)), "{format:?}");
        // The cookies are re-sent by the reissue rule, not on every request.
        for b in [&writer, &reader, &viewer] {
            assert!(
                b.cookies_received < 180 / 2 + 1,
                "{format:?}: {}",
                b.cookies_received
            );
        }
    }
}

#[test]
fn reads_under_a_binding_lifetime_do_not_resend_the_cookie_each_time() {
    for format in [
        IdCookieFormat::CubicWeb,
        IdCookieFormat::PyramidSessionRedis,
    ] {
        let session = SessionConfig::secure("defects-secret")
            .max_lifetime(Some(Duration::from_secs(3600)))
            .build()
            .unwrap();
        let config = ServerConfig::new(session, format).unwrap();
        let store = MemoryStore::new();
        let mut b = Browser::new(&store, &config, 4);
        b.login(T0, "ada");
        // Keep the session alive up to the point where the lifetime binds...
        let mut t = T0;
        while t < T0 + 3000.0 {
            t += 100.0;
            b.request(t, |s| s.get("user").cloned()).unwrap();
        }
        // ...then read every 10 s for the last ten minutes.
        b.cookies_received = 0;
        let mut reads = 0;
        while t < T0 + 3590.0 {
            t += 10.0;
            let who = b.request(t, |s| s.get("user").cloned()).unwrap();
            assert_eq!(who, Some(json!("ada")), "{format:?} at +{}", t - T0);
            reads += 1;
        }
        // At most one cookie per reissue period (CubicWeb's own `renewed` slot); the
        // record itself cannot be extended any more.
        assert!(
            b.cookies_received <= 590 / 120 + 1,
            "{format:?}: {} cookies for {reads} reads",
            b.cookies_received
        );
        // Past the lifetime the session is gone whatever the activity.
        let who = b.request(T0 + 3601.0, |s| s.get("user").cloned()).unwrap();
        assert_eq!(who, None, "{format:?}");
    }
}

/// A memory store whose next `fail` calls of the named kind fail.
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    fail_saves: AtomicUsize,
    fail_creates: AtomicUsize,
    writes: AtomicUsize,
}

impl Flaky {
    fn failing(counter: &AtomicUsize) -> Result<(), StoreError> {
        let left = counter.load(Ordering::SeqCst);
        if left > 0 {
            counter.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "injected failure",
            ));
        }
        Ok(())
    }
}

impl Store for Flaky {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        match op {
            StoreOp::Create { .. } => Flaky::failing(&self.fail_creates)?,
            StoreOp::Save { .. } => Flaky::failing(&self.fail_saves)?,
            _ => return self.inner.execute(op),
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.execute(op)
    }
}

#[test]
fn a_failed_write_is_never_committed_later_in_the_same_request() {
    let config = config(IdCookieFormat::CubicWeb);
    let store = Flaky::default();
    let mut rng = counter_rng(5);
    let mut b = Browser::new(&store, &config, 6);
    b.login(T0, "ada");
    let before = store.writes.load(Ordering::SeqCst);

    // An early save fails; the request's end must not write the same change again.
    store.fail_saves.store(1, Ordering::SeqCst);
    let cookie = b.cookie.clone().unwrap();
    let pending = Pending::start(&config, Some(cookie.as_bytes()), T0 + 10.0);
    let mut s = driver::open(&store, &config, pending).unwrap();
    s.modify("count", bump);
    let early = driver::finish(&store, &config, &mut s, false, &mut rng);
    assert!(matches!(early, Err(ServerError::Store(_))), "{early:?}");
    assert!(s.is_poisoned());
    let end = driver::finish(&store, &config, &mut s, true, &mut rng);
    assert_eq!(end, Err(ServerError::Poisoned));
    assert_eq!(
        store.writes.load(Ordering::SeqCst),
        before,
        "nothing written"
    );
    let count = b.request(T0 + 11.0, |s| s.get("count").cloned()).unwrap();
    assert_eq!(
        count, None,
        "the increment reported as failed was not applied"
    );

    // A new session whose create fails: no cookie, no record, even if the end retries.
    store.fail_creates.store(1, Ordering::SeqCst);
    let mut s = driver::open(&store, &config, Pending::start(&config, None, T0)).unwrap();
    s.insert("a", json!(1));
    assert!(driver::finish(&store, &config, &mut s, false, &mut rng).is_err());
    assert_eq!(
        driver::finish(&store, &config, &mut s, true, &mut rng),
        Err(ServerError::Poisoned)
    );
    assert!(
        store.inner.is_empty() || store.inner.len() == 1,
        "only the login's record"
    );
}

/// Runs `during` once, the first time the wrapped store is asked to `create` (a login's
/// new record: after its load, before the old record's removal).
struct Interleave<'a, F: Fn()> {
    inner: &'a MemoryStore,
    during: F,
    done: AtomicBool,
}

impl<F: Fn()> Store for Interleave<'_, F> {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        if matches!(op, StoreOp::Create { .. }) && !self.done.swap(true, Ordering::SeqCst) {
            (self.during)();
        }
        self.inner.execute(op)
    }
}

#[test]
fn login_never_loses_a_write_acknowledged_on_the_old_id() {
    let config = config(IdCookieFormat::CubicWeb);
    let store = MemoryStore::new();
    let mut first = Browser::new(&store, &config, 7);
    first
        .request(T0, |s| {
            s.insert("cart", json!(["book"]));
            s.insert("count", json!(0));
        })
        .unwrap();
    let old_cookie = first.cookie.clone().unwrap();
    // A second tab increments on the old id while the login is between its load and
    // the old record's removal; the increment is acknowledged (its finish succeeds).
    let acknowledged = AtomicUsize::new(0);
    let during = || {
        let mut tab = Browser::new(&store, &config, 8);
        tab.cookie = Some(old_cookie.clone());
        tab.request(T0 + 1.0, |s| s.modify("count", bump)).unwrap();
        acknowledged.fetch_add(1, Ordering::SeqCst);
    };
    let interleaved = Interleave {
        inner: &store,
        during,
        done: AtomicBool::new(false),
    };
    let mut login = Browser::new(&interleaved, &config, 9);
    login.cookie = Some(old_cookie.clone());
    login
        .request(T0 + 1.0, |s| {
            s.regenerate_id();
            s.insert("user", json!("ada"));
        })
        .unwrap();
    assert_eq!(acknowledged.load(Ordering::SeqCst), 1);
    assert_ne!(login.cookie.as_ref(), Some(&old_cookie), "a new id");
    let state = login.request(T0 + 2.0, |s| s.peek_state().clone()).unwrap();
    assert_eq!(
        state.get("count"),
        Some(&json!(1)),
        "the acknowledged increment survives"
    );
    assert_eq!(state.get("user"), Some(&json!("ada")));
    assert_eq!(state.get("cart"), Some(&json!(["book"])));
    // The old id is dead, and exactly one record is left.
    let mut old = Browser::new(&store, &config, 10);
    old.cookie = Some(old_cookie);
    assert!(old.request(T0 + 3.0, |s| s.is_new()).unwrap());
    assert_eq!(store.len(), 1);
}

#[test]
fn login_racing_a_logout_leaves_no_session() {
    let config = config(IdCookieFormat::CubicWeb);
    let store = MemoryStore::new();
    let mut first = Browser::new(&store, &config, 11);
    first.request(T0, |s| s.insert("cart", json!(1))).unwrap();
    let old_cookie = first.cookie.clone().unwrap();
    let during = || {
        let mut tab = Browser::new(&store, &config, 12);
        tab.cookie = Some(old_cookie.clone());
        tab.request(T0 + 1.0, |s| s.invalidate()).unwrap();
    };
    let interleaved = Interleave {
        inner: &store,
        during,
        done: AtomicBool::new(false),
    };
    let mut login = Browser::new(&interleaved, &config, 13);
    login.cookie = Some(old_cookie.clone());
    let r = login.request(T0 + 1.0, |s| {
        s.regenerate_id();
        s.insert("user", json!("ada"));
    });
    assert_eq!(r, Err(ServerError::Removed), "the logout wins");
    assert!(store.is_empty(), "no record resurrected under a new id");
}

fn id_of(config: &ServerConfig, cookie: &str) -> SessionId {
    let value = cookie.split_once('=').unwrap().1;
    config
        .format()
        .decode(config.session(), value.as_bytes())
        .unwrap()
        .id
}

#[test]
fn a_stale_authentic_cookie_placed_first_does_not_hide_the_live_one() {
    for format in [
        IdCookieFormat::CubicWeb,
        IdCookieFormat::PyramidSessionRedis,
    ] {
        let config = config(format);
        let store = MemoryStore::new();
        // The attacker's own session, logged out: authentic, but its record is gone.
        let mut attacker = Browser::new(&store, &config, 14);
        attacker.login(T0, "mallory");
        let logged_out = attacker.cookie.clone().unwrap();
        attacker.request(T0 + 1.0, |s| s.invalidate()).unwrap();
        // An authentic cookie that is too old by its own timestamps (CubicWeb format).
        let mut old = Browser::new(&store, &config, 15);
        old.login(T0 - 5000.0, "mallory");
        let expired = old.cookie.clone().unwrap();
        // The victim's live session.
        let mut victim = Browser::new(&store, &config, 16);
        victim.login(T0, "ada");
        let live = victim.cookie.clone().unwrap();
        let live_id = id_of(&config, &live);
        for stale in [&logged_out, &expired] {
            let header = format!("{stale}; {live}");
            let pending = Pending::start(&config, Some(header.as_bytes()), T0 + 2.0);
            let mut s = driver::open(&store, &config, pending).unwrap();
            assert_eq!(s.get("user"), Some(&json!("ada")), "{format:?}: {header}");
            assert_eq!(s.id(), Some(&live_id));
        }
        // At most MAX_ID_CANDIDATES loads: a header full of dead cookies ends fresh.
        let header = vec![logged_out.as_str(); 40].join("; ");
        let pending = Pending::start(&config, Some(header.as_bytes()), T0 + 2.0);
        assert!(driver::open(&store, &config, pending).unwrap().is_new());
    }
}

#[test]
fn cookie_mode_skips_a_stale_authentic_cookie_placed_first() {
    let config = SessionConfig::secure("defects-secret").build().unwrap();
    let mut old = CookieSession::load(&config, None, T0 - 5000.0);
    old.insert("user", json!("mallory"));
    let expired = pair(&old.finish(&config, false).unwrap().unwrap());
    let mut live = CookieSession::load(&config, None, T0);
    live.insert("user", json!("ada"));
    let live = pair(&live.finish(&config, false).unwrap().unwrap());
    let header = format!("{expired}; {live}");
    let mut s = CookieSession::load(&config, Some(header.as_bytes()), T0 + 10.0);
    assert_eq!(s.get("user"), Some(&json!("ada")));
    // Without a live one, the first authentic cookie still decides (expired: not new).
    let mut s = CookieSession::load(&config, Some(expired.as_bytes()), T0 + 10.0);
    assert_eq!(s.get("user"), None);
    assert!(!s.is_new());
}

/// Found by `fuzz/fuzz_targets/server_plan.rs`: a read whose renewal `Touch` finds the
/// record gone (a concurrent logout) must leave the session gone for the rest of the
/// request — no cookie for the dead id from a later finish, and no later write that
/// carries the logged-out data into a new record.
#[test]
fn a_touch_that_finds_the_record_gone_ends_the_session_for_the_request() {
    let config = config(IdCookieFormat::CubicWeb);
    let store = MemoryStore::new();
    let mut rng = counter_rng(17);
    let mut b = Browser::new(&store, &config, 18);
    b.login(T0, "ada");
    let cookie = b.cookie.clone().unwrap();
    // 255 s later (reissue is due): the handler reads, an early finish plans a Touch...
    let now = T0 + 255.0;
    let pending = Pending::start(&config, Some(cookie.as_bytes()), now);
    let mut s = driver::open(&store, &config, pending).unwrap();
    assert_eq!(s.get("user"), Some(&json!("ada")));
    // ...and a concurrent logout removes the record first.
    let mut tab = Browser::new(&store, &config, 19);
    tab.cookie = Some(cookie);
    tab.request(now, |s| s.invalidate()).unwrap();
    let early = driver::finish(&store, &config, &mut s, false, &mut rng);
    assert_eq!(early, Ok(None));
    // The request's last finish: nothing to send for the dead id.
    let end = driver::finish(&store, &config, &mut s, false, &mut rng);
    assert_eq!(end, Ok(None), "no cookie for a removed record");
    // A write afterwards starts a fresh session, without the logged-out data.
    s.insert("note", json!("after"));
    let set = driver::finish(&store, &config, &mut s, false, &mut rng).unwrap();
    assert!(set.is_some(), "a new session");
    assert_eq!(
        s.peek_state().get("user"),
        None,
        "logout wins: no resurrected data"
    );
}

#[test]
fn one_stale_cookie_repeated_under_several_paths_takes_one_candidate() {
    let config = config(IdCookieFormat::PyramidSessionRedis);
    let store = MemoryStore::new();
    let mut attacker = Browser::new(&store, &config, 20);
    attacker.login(T0, "mallory");
    let dead = attacker.cookie.clone().unwrap();
    attacker.request(T0 + 1.0, |s| s.invalidate()).unwrap();
    let mut victim = Browser::new(&store, &config, 21);
    victim.login(T0, "ada");
    let live = victim.cookie.clone().unwrap();
    // Browsers send longer paths first: the same dead value under four paths, then ours.
    let header = format!("{dead}; {dead}; {dead}; {dead}; {dead}; {live}");
    let pending = Pending::start(&config, Some(header.as_bytes()), T0 + 2.0);
    let mut s = driver::open(&store, &config, pending).unwrap();
    assert_eq!(s.get("user"), Some(&json!("ada")));
}

#[test]
fn without_a_reissue_time_reads_still_keep_the_session_alive() {
    // pyramid_session_redis's profile has no reissue time: every access renews.
    for format in [
        IdCookieFormat::PyramidSessionRedis,
        IdCookieFormat::CubicWeb,
    ] {
        let session = SessionConfig::pyramid_session_redis("defects-secret")
            .build()
            .unwrap();
        assert_eq!(session.reissue_time(), None);
        let config = ServerConfig::new(session, format).unwrap();
        let store = MemoryStore::new();
        let mut reader = Browser::new(&store, &config, 22);
        let mut writer = Browser::new(&store, &config, 23);
        reader.login(T0, "ada");
        writer.login(T0, "bob");
        let mut t = T0;
        while t < T0 + 3.0 * 3600.0 {
            t += 60.0;
            let who = reader.request(t, |s| s.get("user").cloned()).unwrap();
            assert_eq!(
                who,
                Some(json!("ada")),
                "{format:?}: reader out at +{}",
                t - T0
            );
            let who = writer
                .request(t, |s| {
                    s.modify("count", bump);
                    s.get("user").cloned()
                })
                .unwrap();
            assert_eq!(
                who,
                Some(json!("bob")),
                "{format:?}: writer out at +{}",
                t - T0
            );
        }
    }
}

#[test]
fn server_mode_refuses_a_reissue_time_not_below_the_timeout() {
    let session = SessionConfig::secure("s")
        .timeout(Some(Duration::from_secs(300)))
        .reissue_time(Some(Duration::from_secs(300)))
        .build()
        .unwrap();
    assert_eq!(
        ServerConfig::new(session, IdCookieFormat::CubicWeb).unwrap_err(),
        pyramid_session::ConfigError::ReissueNotBelowTimeout
    );
}

#[test]
fn a_replayed_pop_flash_keeps_a_message_added_meanwhile() {
    let config = config(IdCookieFormat::CubicWeb);
    let store = MemoryStore::new();
    let mut rng = counter_rng(24);
    let mut b = Browser::new(&store, &config, 25);
    b.login(T0, "ada");
    let cookie = b.cookie.clone().unwrap();
    // Tab A loads the page (no flash yet)...
    let pending = Pending::start(&config, Some(cookie.as_bytes()), T0 + 1.0);
    let mut a = driver::open(&store, &config, pending).unwrap();
    // ...tab B adds a message and saves...
    let mut tab = Browser::new(&store, &config, 26);
    tab.cookie = Some(cookie);
    tab.request(T0 + 1.0, |s| s.flash(json!("Welcome!"), "", true))
        .unwrap();
    // ...then A pops the (empty) queue and writes: its save loses and is replayed.
    assert!(a.pop_flash("").is_empty());
    a.modify("count", bump);
    driver::finish(&store, &config, &mut a, false, &mut rng).unwrap();
    let shown = b.request(T0 + 2.0, |s| s.pop_flash("")).unwrap();
    assert_eq!(shown, vec![json!("Welcome!")], "the message was not lost");
}

#[test]
fn a_clock_that_is_not_a_number_accepts_nothing_and_sweeps_nothing() {
    let config = config(IdCookieFormat::CubicWeb);
    let store = MemoryStore::new();
    let mut b = Browser::new(&store, &config, 27);
    b.login(T0, "ada");
    assert_eq!(store.sweep(f64::NAN), 0);
    assert_eq!(store.len(), 1);
    let cookie = b.cookie.clone().unwrap();
    let pending = Pending::start(&config, Some(cookie.as_bytes()), f64::NAN);
    assert!(pending.load_key().is_none(), "no candidate judged at NaN");
}
