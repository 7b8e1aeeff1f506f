//! Server-mode request lifecycle: what each kind of request costs in store operations,
//! fixation and logout, no lost updates, failures that issue no cookie, id cookie
//! formats against the `cw_session` and `redis` vectors.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{counter_rng, vectors, webob_key};
use pyramid_session::codec::Accessed;
use pyramid_session::driver;
use pyramid_session::server::{
    IdCookieFormat, OpResult, Pending, ServerConfig, ServerError, ServerSession, SessionId, Store,
    StoreError, StoreErrorKind, StoreExt, StoreOp,
};
use pyramid_session::store::MemoryStore;
use pyramid_session::{Keyring, SessionConfig};
use serde_json::{json, Value};

const T0: f64 = 1_700_000_000.5;

/// Wraps a store, logs every call, and fails the calls named in `fail`.
#[derive(Default)]
struct Recorder {
    inner: MemoryStore,
    log: Mutex<Vec<&'static str>>,
    fail: Mutex<Vec<&'static str>>,
}

impl Recorder {
    fn take_log(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.log.lock().unwrap())
    }
    fn fail_on(&self, ops: &[&'static str]) {
        *self.fail.lock().unwrap() = ops.to_vec();
    }
    fn call(&self, op: &'static str) -> Result<(), StoreError> {
        self.log.lock().unwrap().push(op);
        if self.fail.lock().unwrap().contains(&op) {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "injected failure",
            ));
        }
        Ok(())
    }
}

impl Store for Recorder {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        self.call(match op {
            StoreOp::Load { .. } => "load",
            StoreOp::Create { .. } => "create",
            StoreOp::Save { .. } => "save",
            StoreOp::Touch { .. } => "touch",
            StoreOp::Remove { .. } => "remove",
            StoreOp::RemoveIf { .. } => "remove_if",
            StoreOp::Wait { .. } => "wait",
        })?;
        self.inner.execute(op)
    }
}

fn config() -> ServerConfig {
    // timeout 1200 s, reissue 120 s, Secure + HttpOnly + Lax.
    ServerConfig::new(
        SessionConfig::secure("server-secret").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap()
}

struct Client<'a> {
    store: &'a Recorder,
    config: ServerConfig,
    cookie: Option<String>,
    rng: pyramid_session::OsRandom,
}

impl<'a> Client<'a> {
    fn new(store: &'a Recorder) -> Client<'a> {
        Client {
            store,
            config: config(),
            cookie: None,
            rng: pyramid_session::OsRandom,
        }
    }

    /// One request: `view` runs on the opened session (`None`: the view never touches it).
    /// Returns the Set-Cookie header and the store calls it made.
    #[allow(clippy::type_complexity)]
    fn request(
        &mut self,
        now: f64,
        view: Option<&dyn Fn(&mut ServerSession)>,
    ) -> (Result<Option<String>, ServerError>, Vec<&'static str>) {
        self.store.take_log();
        let pending = Pending::start(&self.config, self.cookie.as_deref().map(str::as_bytes), now);
        let result = match view {
            None => Ok(None),
            Some(view) => {
                driver::open(self.store, &self.config, pending).and_then(|mut session| {
                    view(&mut session);
                    driver::finish(self.store, &self.config, &mut session, false, &mut self.rng)
                })
            }
        };
        if let Ok(Some(set_cookie)) = &result {
            let pair = set_cookie.split(';').next().unwrap().to_string();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        (result, self.store.take_log())
    }

    fn id(&self) -> Option<SessionId> {
        let value = self.cookie.as_ref()?.split_once('=')?.1;
        Some(
            IdCookieFormat::CubicWeb
                .decode(self.config.session(), value.as_bytes())?
                .id,
        )
    }
}

fn set(key: &'static str, value: Value) -> impl Fn(&mut ServerSession) {
    move |s: &mut ServerSession| s.insert(key, value.clone())
}

fn read(key: &'static str) -> impl Fn(&mut ServerSession) {
    move |s: &mut ServerSession| {
        s.get(key);
    }
}

#[test]
fn store_operations_per_request() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    // Untouched: nothing at all.
    assert_eq!(c.request(T0, None), (Ok(None), vec![]));
    // New and only read: no record, no cookie.
    assert_eq!(c.request(T0, Some(&read("a"))), (Ok(None), vec![]));
    // New and written: one create, a cookie.
    let (r, ops) = c.request(T0, Some(&set("a", json!(1))));
    assert!(r
        .unwrap()
        .unwrap()
        .ends_with("; Path=/; secure; HttpOnly; SameSite=Lax"));
    assert_eq!(ops, ["create"]);
    // Read within the reissue window: one load, no cookie.
    assert_eq!(
        c.request(T0 + 60.0, Some(&read("a"))),
        (Ok(None), vec!["load"])
    );
    // Untouched with a cookie: still nothing (lazy load).
    assert_eq!(c.request(T0 + 61.0, None), (Ok(None), vec![]));
    // Changed within the window: load + save, no cookie.
    assert_eq!(
        c.request(T0 + 90.0, Some(&set("a", json!(2)))),
        (Ok(None), vec!["load", "save"])
    );
    // Read after the reissue time (since the save at +90): load + touch + cookie.
    let (r, ops) = c.request(T0 + 211.0, Some(&read("a")));
    assert!(r.unwrap().is_some());
    assert_eq!(ops, ["load", "touch"]);
    // Changed after the reissue time: load + save + cookie.
    let (r, ops) = c.request(T0 + 400.0, Some(&set("a", json!(3))));
    assert!(r.unwrap().is_some());
    assert_eq!(ops, ["load", "save"]);
    // Invalidate: load + remove, and a removal cookie.
    let (r, ops) = c.request(T0 + 401.0, Some(&|s: &mut ServerSession| s.invalidate()));
    assert!(r
        .unwrap()
        .unwrap()
        .starts_with("session=; Max-Age=0; Path=/; expires=Wed, 31-Dec-97 23:59:59 GMT; secure"));
    assert_eq!(ops, ["load", "remove"]);
}

#[test]
fn bad_cookies_never_reach_the_store() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    for cookie in ["session=garbage", "session=", "session=AAAA", "other=1"] {
        c.cookie = Some(cookie.to_string());
        let (r, ops) = c.request(T0, Some(&read("a")));
        assert_eq!((r, ops), (Ok(None), vec![]), "{cookie}");
    }
    // A well-signed id that was never issued is looked up once and not adopted.
    let forged = IdCookieFormat::CubicWeb
        .encode(
            config().session(),
            &SessionId::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap(),
            Accessed::Int(1_700_000_000),
            T0,
        )
        .unwrap();
    c.cookie = Some(format!("session={forged}"));
    let (r, ops) = c.request(T0 + 1.0, Some(&set("a", json!(1))));
    assert!(r.unwrap().is_some());
    assert_eq!(ops, ["load", "create"]);
    assert_ne!(
        c.id().unwrap().as_str(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    );
}

#[test]
fn regenerate_id_moves_the_data_and_kills_the_old_id() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    c.request(T0, Some(&set("cart", json!(["book"]))))
        .0
        .unwrap();
    let old_cookie = c.cookie.clone().unwrap();
    let old_id = c.id().unwrap();
    let (r, ops) = c.request(
        T0 + 1.0,
        Some(&|s: &mut ServerSession| {
            s.regenerate_id();
            s.insert("user", json!("ada"));
        }),
    );
    assert!(r.unwrap().is_some());
    assert_eq!(ops, ["load", "create", "remove_if"]);
    assert_ne!(c.id().unwrap(), old_id);
    assert_eq!(
        store.inner.load(&old_id.store_key(), T0 + 1.0).unwrap(),
        None
    );
    let check = |s: &mut ServerSession| {
        assert_eq!(s.get("cart"), Some(&json!(["book"])));
        assert_eq!(s.get("user"), Some(&json!("ada")));
    };
    c.request(T0 + 2.0, Some(&check)).0.unwrap();
    // The old cookie now opens an empty, new session.
    c.cookie = Some(old_cookie);
    c.request(
        T0 + 3.0,
        Some(&|s: &mut ServerSession| {
            assert!(s.is_new());
            assert_eq!(s.get("user"), None);
        }),
    )
    .0
    .unwrap();
}

#[test]
fn invalidate_then_write_starts_a_new_session() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    c.request(T0, Some(&set("user", json!("ada")))).0.unwrap();
    let old_id = c.id().unwrap();
    let (r, ops) = c.request(
        T0 + 1.0,
        Some(&|s: &mut ServerSession| {
            s.invalidate();
            s.insert("flash", json!("bye"));
        }),
    );
    assert!(r.unwrap().is_some());
    assert_eq!(ops, ["load", "create", "remove"]);
    assert_ne!(c.id().unwrap(), old_id);
    c.request(
        T0 + 2.0,
        Some(&|s: &mut ServerSession| {
            assert_eq!(s.get("user"), None);
            assert_eq!(s.get("flash"), Some(&json!("bye")));
        }),
    )
    .0
    .unwrap();
}

#[test]
fn store_failures_issue_no_cookie() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    store.fail_on(&["create"]);
    let (r, _) = c.request(T0, Some(&set("a", json!(1))));
    assert!(matches!(
        r,
        Err(ServerError::Store(StoreError {
            kind: StoreErrorKind::Unavailable,
            ..
        }))
    ));
    assert!(c.cookie.is_none());
    store.fail_on(&[]);
    c.request(T0, Some(&set("a", json!(1)))).0.unwrap();
    let cookie = c.cookie.clone().unwrap();
    for op in ["load", "save"] {
        store.fail_on(&[op]);
        let (r, _) = c.request(T0 + 200.0, Some(&set("a", json!(2))));
        assert!(matches!(r, Err(ServerError::Store(_))), "{op}");
        assert_eq!(
            c.cookie.as_ref(),
            Some(&cookie),
            "no new cookie after a failed {op}"
        );
    }
    // A failed removal at logout: an error, and the session is still there (not half-gone).
    store.fail_on(&["remove"]);
    let (r, _) = c.request(T0 + 201.0, Some(&|s: &mut ServerSession| s.invalidate()));
    assert!(r.is_err());
    store.fail_on(&[]);
    c.request(
        T0 + 202.0,
        Some(&|s: &mut ServerSession| assert_eq!(s.get("a"), Some(&json!(1)))),
    )
    .0
    .unwrap();
    // A failed regenerate: the new record may be orphaned, but the old cookie still works.
    let cookie = c.cookie.clone().unwrap();
    store.fail_on(&["remove_if"]);
    let (r, ops) = c.request(T0 + 203.0, Some(&|s: &mut ServerSession| s.regenerate_id()));
    assert!(r.is_err());
    assert_eq!(ops, ["load", "create", "remove_if"]);
    assert_eq!(c.cookie.as_ref(), Some(&cookie));
    store.fail_on(&[]);
    c.request(
        T0 + 204.0,
        Some(&|s: &mut ServerSession| assert_eq!(s.get("a"), Some(&json!(1)))),
    )
    .0
    .unwrap();
}

#[test]
fn a_logout_racing_a_write_is_never_undone() {
    let store = MemoryStore::new();
    let config = config();
    let mut rng = counter_rng(1);
    let mut s = driver::open(&store, &config, Pending::start(&config, None, T0)).unwrap();
    s.insert("user", json!("ada"));
    let cookie = driver::finish(&store, &config, &mut s, false, &mut rng)
        .unwrap()
        .unwrap();
    let header = cookie.split(';').next().unwrap().to_string();
    let start = || Pending::start(&config, Some(header.as_bytes()), T0 + 1.0);

    // Request A loads, request B logs out, then A saves.
    let mut a = driver::open(&store, &config, start()).unwrap();
    let mut b = driver::open(&store, &config, start()).unwrap();
    b.invalidate();
    driver::finish(&store, &config, &mut b, false, &mut rng).unwrap();
    a.insert("cart", json!(1));
    assert_eq!(
        driver::finish(&store, &config, &mut a, false, &mut rng),
        Err(ServerError::Removed)
    );
    let mut after = driver::open(&store, &config, start()).unwrap();
    assert!(after.is_new());
    assert_eq!(after.get("user"), None);
    assert!(store.is_empty());

    // Same with a read-only request past the reissue time: the touch finds nothing.
    let mut s = driver::open(&store, &config, Pending::start(&config, None, T0)).unwrap();
    s.insert("user", json!("bob"));
    let header = driver::finish(&store, &config, &mut s, false, &mut rng)
        .unwrap()
        .unwrap();
    let header = header.split(';').next().unwrap().to_string();
    let late = || Pending::start(&config, Some(header.as_bytes()), T0 + 500.0);
    let mut reader = driver::open(&store, &config, late()).unwrap();
    let mut logout = driver::open(&store, &config, late()).unwrap();
    logout.invalidate();
    driver::finish(&store, &config, &mut logout, false, &mut rng).unwrap();
    reader.get("user");
    assert_eq!(
        driver::finish(&store, &config, &mut reader, false, &mut rng),
        Ok(None)
    );
    assert!(store.is_empty());
}

#[test]
fn concurrent_saves_are_rebased_not_lost() {
    let store = MemoryStore::new();
    let config = config();
    let mut rng = counter_rng(2);
    let mut s = driver::open(&store, &config, Pending::start(&config, None, T0)).unwrap();
    s.insert("n", json!(0));
    s.insert("a", json!("keep"));
    let header = driver::finish(&store, &config, &mut s, false, &mut rng)
        .unwrap()
        .unwrap();
    let header = header.split(';').next().unwrap().to_string();
    let start = || Pending::start(&config, Some(header.as_bytes()), T0 + 1.0);
    let inc = |n: Option<&Value>| Some(json!(n.and_then(Value::as_u64).unwrap() + 1));

    let mut a = driver::open(&store, &config, start()).unwrap();
    let mut b = driver::open(&store, &config, start()).unwrap();
    a.modify("n", inc);
    a.insert("from_a", json!(true));
    b.modify("n", inc);
    b.remove("a");
    driver::finish(&store, &config, &mut b, false, &mut rng).unwrap();
    driver::finish(&store, &config, &mut a, false, &mut rng).unwrap();
    assert_eq!(a.version(), 3, "A reloaded B's version and saved on top");
    let mut check = driver::open(&store, &config, start()).unwrap();
    assert_eq!(check.get("n"), Some(&json!(2)));
    assert_eq!(check.get("from_a"), Some(&json!(true)));
    assert_eq!(check.get("a"), None);
}

#[test]
fn colliding_ids_are_retried_and_never_overwrite() {
    let store = MemoryStore::new();
    let config = config();
    // The same "random" bytes twice, then fresh ones.
    let mut calls = 0;
    let mut rng = move |buf: &mut [u8]| {
        calls += 1;
        buf.fill(if calls <= 2 { 0x42 } else { calls as u8 });
        Ok(())
    };
    let mut first = driver::open(&store, &config, Pending::start(&config, None, T0)).unwrap();
    first.insert("owner", json!("first"));
    driver::finish(&store, &config, &mut first, false, &mut rng)
        .unwrap()
        .unwrap();
    let mut second = driver::open(&store, &config, Pending::start(&config, None, T0)).unwrap();
    second.insert("owner", json!("second"));
    let cookie = driver::finish(&store, &config, &mut second, false, &mut rng)
        .unwrap()
        .unwrap();
    assert_eq!(store.len(), 2);
    let header = cookie.split(';').next().unwrap().to_string();
    let mut s = driver::open(
        &store,
        &config,
        Pending::start(&config, Some(header.as_bytes()), T0),
    )
    .unwrap();
    assert_eq!(s.get("owner"), Some(&json!("second")));
}

#[test]
fn expiry_idle_and_absolute() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    c.request(T0, Some(&set("a", json!(1)))).0.unwrap();
    // At the timeout (the cookie says int(T0), so 1200 s later is T0 + 1199.5) the
    // session is alive, and is touched since the reissue time has passed.
    let alive = |s: &mut ServerSession| assert_eq!(s.get("a"), Some(&json!(1)));
    let (r, ops) = c.request(T0 + 1199.5, Some(&alive));
    assert!(r.unwrap().is_some());
    assert_eq!(ops, ["load", "touch"]);
    // 1200 s after that touch it is gone, and the next write gets a fresh id.
    let old = c.id().unwrap();
    c.request(
        T0 + 2400.5,
        Some(&|s: &mut ServerSession| {
            assert!(s.is_new());
            s.insert("b", json!(2));
        }),
    )
    .0
    .unwrap();
    assert_ne!(c.id().unwrap(), old);

    // Absolute lifetime: reissued reads cannot keep it alive past max_lifetime.
    let store = Recorder::default();
    let mut c = Client::new(&store);
    c.config = ServerConfig::new(
        SessionConfig::secure("server-secret")
            .max_lifetime(Some(Duration::from_secs(3000)))
            .build()
            .unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    c.request(T0, Some(&set("a", json!(1)))).0.unwrap();
    for step in 1..=3 {
        c.request(T0 + 900.0 * f64::from(step), Some(&alive))
            .0
            .unwrap();
    }
    c.request(
        T0 + 3000.5,
        Some(&|s: &mut ServerSession| assert!(s.is_new())),
    )
    .0
    .unwrap();
}

#[test]
fn server_config_needs_an_expiry() {
    let cfg = SessionConfig::pyramid("s").timeout(None).build().unwrap();
    assert_eq!(
        ServerConfig::new(cfg, IdCookieFormat::CubicWeb).unwrap_err(),
        pyramid_session::ConfigError::NoExpiry
    );
}

#[test]
fn async_driver_runs_the_same_plan() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = MemoryStore::new();
        let config = config();
        let mut rng = counter_rng(3);
        let mut s = driver::open_async(&store, &config, Pending::start(&config, None, T0))
            .await
            .unwrap();
        s.insert("a", json!(1));
        let cookie = driver::finish_async(&store, &config, &mut s, false, &mut rng)
            .await
            .unwrap()
            .unwrap();
        let header = cookie.split(';').next().unwrap().to_string();
        let pending = Pending::start(&config, Some(header.as_bytes()), T0 + 500.0);
        let mut s = driver::open_async(&store, &config, pending).await.unwrap();
        assert_eq!(s.get("a"), Some(&json!(1)));
        s.regenerate_id();
        let new = driver::finish_async(&store, &config, &mut s, false, &mut rng)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(new.split(';').next().unwrap(), header);
        assert_eq!(store.len(), 1);
    });
}

#[test]
fn redis_cookie_vectors() {
    let v = vectors();
    let redis = &v["redis"];
    for case in redis["pyramid_session_redis_cookie"].as_array().unwrap() {
        let secret = case["secret"]["value"].as_str().unwrap();
        let salt = case["salt"].as_str().unwrap();
        assert_eq!(salt, pyramid_session::server::PYRAMID_SESSION_REDIS_SALT);
        let config = SessionConfig::pyramid_session_redis(secret)
            .build()
            .unwrap();
        let id = SessionId::parse(case["session_id"].as_str().unwrap()).unwrap();
        let cookie = IdCookieFormat::PyramidSessionRedis
            .encode(&config, &id, Accessed::Int(0), 0.0)
            .unwrap();
        assert_eq!(cookie, case["cookie_value"].as_str().unwrap());
        let decoded = IdCookieFormat::PyramidSessionRedis
            .decode(&config, cookie.as_bytes())
            .unwrap();
        assert_eq!((decoded.id, decoded.times), (id, None));
        let ring = Keyring::from_keys(
            pyramid_session::HashAlg::Sha512,
            &[&webob_key(
                &json!({"type": "str", "value": salt}),
                &case["secret"],
            )],
        )
        .unwrap();
        assert_eq!(
            ring.sign(case["session_id"].as_str().unwrap().as_bytes()),
            cookie
        );
    }
    // The default Set-Cookie of pyramid_session_redis, and its delete cookie.
    let config = SessionConfig::pyramid_session_redis("redis-secret")
        .build()
        .unwrap();
    let first = &redis["pyramid_session_redis_cookie"][0];
    let value = first["cookie_value"].as_str().unwrap();
    let attrs = config.cookie().attributes();
    assert_eq!(
        pyramid_session::cookie::render_set_cookie("session", value, &attrs, T0),
        redis["pyramid_session_redis_set_cookie_default"]
            .as_str()
            .unwrap()
    );
    assert_eq!(
        config.cookie().removal(),
        redis["pyramid_session_redis_delete_cookie"]
            .as_str()
            .unwrap()
    );
    // Deliberate: legacy pyramid_redis_sessions cookies (SHA-1 + pickle) are refused.
    for case in redis["pyramid_redis_sessions_legacy_cookie"]
        .as_array()
        .unwrap()
    {
        let secret = case["secret"]["value"].as_str().unwrap();
        let config = SessionConfig::pyramid_session_redis(secret)
            .build()
            .unwrap();
        let value = case["cookie_value"].as_str().unwrap();
        assert_eq!(
            IdCookieFormat::PyramidSessionRedis.decode(&config, value.as_bytes()),
            None
        );
    }
}

#[test]
fn cubicweb_cookie_vectors() {
    let v = vectors();
    let mut n = 0;
    let mut pickled = 0;
    for flow in v["cw_session"]["flows"].as_array().unwrap() {
        let secret = flow["factory"]["secret"].as_str().unwrap();
        let config = SessionConfig::cubicweb(secret).build().unwrap();
        for step in flow["steps"].as_array().unwrap() {
            for set in step["decoded_set_cookie"].as_array().into_iter().flatten() {
                let payload = &set["payload"];
                let eid = payload[2]["sessioneid"].as_u64().unwrap().to_string();
                let id = SessionId::parse(&eid).unwrap();
                // CubicWeb's id cookie, byte for byte (integer eids stay integers).
                let accessed = Accessed::Int(payload[0].as_i64().unwrap());
                let ours = IdCookieFormat::CubicWeb
                    .encode(&config, &id, accessed, payload[1].as_f64().unwrap())
                    .unwrap();
                assert_eq!(ours, set["value"].as_str().unwrap());
                let decoded = IdCookieFormat::CubicWeb
                    .decode(&config, ours.as_bytes())
                    .unwrap();
                assert_eq!(decoded.id, id);
                n += 1;
            }
            // Every request cookie CubicWeb accepted decodes to its eid, the pickled one
            // (CubicWeb's JSONSerializerWithPickleFallback) too.
            if let Some(header) = step["request_cookie_header"].as_str() {
                let value = header.strip_prefix("session=").unwrap();
                let decoded = IdCookieFormat::CubicWeb.decode(&config, value.as_bytes());
                if flow["id"] == "cw_invalid_cookie" {
                    assert_eq!(decoded, None);
                } else {
                    let eid = step["observed"]["before_ops"]["sessioneid"].clone();
                    if let Some(eid) = eid.as_u64() {
                        assert_eq!(decoded.unwrap().id.as_str(), eid.to_string());
                        pickled += usize::from(flow["id"] == "cw_pickle_fallback_cookie");
                    }
                }
            }
        }
    }
    assert!(n >= 5, "{n}");
    assert_eq!(pickled, 1);
}

/// CubicWeb quirks we deliberately fix (pyramid-semantics §5.4, §7 #14, #24, #25, #27).
#[test]
fn cubicweb_quirks_are_fixed() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    // #24: CubicWeb writes on every request; a read-only request here only loads.
    c.request(T0, Some(&set("k", json!("v")))).0.unwrap();
    assert_eq!(c.request(T0 + 30.0, Some(&read("k"))).1, ["load"]);
    // #25: a cookie whose record is gone gets a new id *and* a new cookie, once — no
    // orphan row per request.
    store.inner.remove(&c.id().unwrap().store_key()).unwrap();
    let (r, ops) = c.request(T0 + 31.0, Some(&set("k", json!("w"))));
    assert!(r.unwrap().is_some(), "the new id is sent at once");
    assert_eq!(ops, ["load", "create"]);
    assert_eq!(
        c.request(T0 + 32.0, Some(&set("k", json!("x")))).1,
        ["load", "save"]
    );
    assert_eq!(store.inner.len(), 1);
    // #14: invalidate() rotates the id instead of keeping the same eid.
    let before = c.id().unwrap();
    c.request(
        T0 + 33.0,
        Some(&|s: &mut ServerSession| {
            s.invalidate();
            s.insert("k", json!("fresh"));
        }),
    )
    .0
    .unwrap();
    assert_ne!(c.id().unwrap(), before);
    // #27: a store error is reported to the caller, not swallowed.
    store.fail_on(&["save"]);
    assert!(c.request(T0 + 34.0, Some(&set("k", json!("y")))).0.is_err());
}

#[test]
fn junk_cookies_after_the_id_cookie_do_not_log_out() {
    let store = Recorder::default();
    let mut c = Client::new(&store);
    let (r, _) = c.request(T0, Some(&set("a", json!(1))));
    assert!(r.unwrap().is_some());
    let id = c.id().unwrap();
    let mut header = c.cookie.clone().unwrap();
    let mut i = 0;
    while header.len() <= 2 * pyramid_session::cookie::MAX_COOKIE_HEADER_LEN {
        header.push_str(&format!("; junk{i}={}", "x".repeat(60)));
        i += 1;
    }
    let pending = Pending::start(&c.config, Some(header.as_bytes()), T0 + 1.0);
    assert_eq!(pending.load_key(), Some(id.store_key()));
    let session = driver::open(&store, &c.config, pending).unwrap();
    assert_eq!(session.peek_state().get("a"), Some(&json!(1)));
}

#[test]
fn id_cookies_over_4096_bytes_with_their_name_are_refused() {
    let session = |name_len: usize| {
        SessionConfig::secure("server-secret")
            .cookie_name(&"n".repeat(name_len))
            .build()
            .unwrap()
    };
    let id = SessionId::parse(&"a".repeat(43)).unwrap();
    for format in [
        IdCookieFormat::CubicWeb,
        IdCookieFormat::PyramidSessionRedis,
    ] {
        let value_len = format
            .encode(&session(7), &id, Accessed::Int(1_700_000_000), T0)
            .unwrap()
            .len();
        let fits = session(4096 - 1 - value_len);
        assert!(format
            .encode(&fits, &id, Accessed::Int(1_700_000_000), T0)
            .is_ok());
        let over = session(4097 - 1 - value_len);
        let err = format
            .encode(&over, &id, Accessed::Int(1_700_000_000), T0)
            .unwrap_err();
        assert!(
            matches!(
                err,
                pyramid_session::FinishError::CookieTooLong { len: 4097, .. }
            ),
            "{format:?}: {err:?}"
        );
        // A whole request: the record is written, but no cookie that browsers would drop.
        let store = MemoryStore::default();
        let config = ServerConfig::new(over, format).unwrap();
        let pending = Pending::start(&config, None, T0);
        let mut s = driver::open(&store, &config, pending).unwrap();
        s.insert("a", json!(1));
        let result = driver::finish(
            &store,
            &config,
            &mut s,
            false,
            &mut pyramid_session::OsRandom,
        );
        assert!(
            matches!(
                result,
                Err(ServerError::Finish(
                    pyramid_session::FinishError::CookieTooLong { .. }
                ))
            ),
            "{format:?}: {result:?}"
        );
    }
}
