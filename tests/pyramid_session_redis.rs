//! `PyramidSessionRedisStore` against the real peer: a Pyramid 2.1 app on
//! pyramid_session_redis 1.8.1 (`tests/interop/pyramid_session_redis_peer.py`, in the
//! `pyramid21-redis` virtualenv) sharing a private redis-server and the secret. Python
//! writes, Rust reads and continues, Python reads Rust's change back; Rust creates,
//! Python reads; the bytes and TTLs Rust writes are Python's; Rust writers never lose an
//! update; garbage under a key is a missing record.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]
#![cfg(feature = "redis")]

mod python;
mod servers;

use std::sync::Arc;

use pyramid_session::driver;
use pyramid_session::pickle::{self, Limits, PyValue};
use pyramid_session::server::{
    IdCookieFormat, IdScheme, Pending, SaveOutcome, ServerConfig, ServerError, ServerSession,
    SessionId, StoreErrorKind, StoreExt, StoreKey,
};
use pyramid_session::store::pyramid_session_redis::DEFAULT_TIMEOUT;
use pyramid_session::store::{PyramidSessionRedisOptions, PyramidSessionRedisStore};
use pyramid_session::{OsRandom, SessionConfig};
use serde_json::{json, Value};
use servers::RedisServer;

const SECRET: &str = "shared-secret-of-both-apps";
const PREFIX: &str = "app:";
const PEER: &str = include_str!("interop/pyramid_session_redis_peer.py");

fn wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Runs the Python peer: `command` with its arguments, against `server`.
fn peer(server: &RedisServer, command: &str, args: &[&str]) -> Value {
    let url = server.url();
    let mut all = vec![command, url.as_str(), SECRET, PREFIX];
    all.extend_from_slice(args);
    let out = python::run(python::PYRAMID21_REDIS, PEER, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The `name=value` pair of a Set-Cookie header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn config() -> ServerConfig {
    let session = SessionConfig::pyramid_session_redis(SECRET)
        .build()
        .unwrap();
    ServerConfig::new(session, IdCookieFormat::PyramidSessionRedis)
        .unwrap()
        .with_id_scheme(IdScheme::pyramid_session_redis(PREFIX).unwrap())
}

fn store(server: &RedisServer) -> PyramidSessionRedisStore {
    PyramidSessionRedisStore::open(
        &server.url(),
        PyramidSessionRedisOptions::new(1200),
        DEFAULT_TIMEOUT,
    )
    .unwrap()
}

fn raw(server: &RedisServer, key: &str) -> Option<Vec<u8>> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    redis::cmd("GET").arg(key).query(&mut conn).unwrap()
}

fn set_raw(server: &RedisServer, key: &str, value: &[u8], ttl_secs: Option<u64>) {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(ttl) = ttl_secs {
        cmd.arg("EX").arg(ttl);
    }
    let () = cmd.query(&mut conn).unwrap();
}

/// The stored payload's top-level entries, by name.
fn payload(value: &[u8]) -> Vec<(String, PyValue)> {
    let PyValue::Dict(pairs) = pickle::decode(value, &Limits::with_opaque()).unwrap() else {
        panic!("not a dict");
    };
    pairs
        .into_iter()
        .map(|(k, v)| match k {
            PyValue::Str(s) => (s.as_str().unwrap().to_string(), v),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn int_field(value: &[u8], name: &str) -> i64 {
    match payload(value).into_iter().find(|(k, _)| k == name) {
        Some((_, PyValue::Int(pyramid_session::pickle::PyInt::Small(n)))) => n,
        other => panic!("{name}: {other:?}"),
    }
}

/// What the Python peer's VALUES are in the crate's (tagged JSON) state.
fn python_values() -> Value {
    serde_json::from_str(
        r#"{
            "name": "Zoë ☕ 日本語 🚀",
            "big": 1267650600228229401496703205376,
            "neg_big": -1180591620717411303424,
            "pi": 3.141592653589793,
            "tiny": 5e-324,
            "half": -0.5,
            "pair": {"$tuple": [1, "two", 3.0]},
            "nested": {"a": {"b": [1, 2, {"c": null}], "flag": true}, "é": ["ü", {"$tuple": [4, 5]}]},
            "when": {"$object": {"module": "datetime", "name": "datetime", "how": "reduce",
                     "args": {"$tuple": [{"$bytes": "07e80102030405000006"}]}}},
            "count": 1
        }"#,
    )
    .unwrap()
}

fn open(store: &PyramidSessionRedisStore, cookie: Option<&str>, now: f64) -> ServerSession {
    let config = config();
    driver::open(
        store,
        &config,
        Pending::start(&config, cookie.map(str::as_bytes), now),
    )
    .unwrap()
}

fn finish(store: &PyramidSessionRedisStore, session: &mut ServerSession) -> Option<String> {
    driver::finish(store, &config(), session, false, &mut OsRandom).unwrap()
}

#[test]
fn sessions_are_shared_with_the_python_app_both_ways() {
    let server = RedisServer::start();
    let store = store(&server);

    // Python writes; its cookie carries the id, which is the Redis key.
    let written = peer(&server, "write", &[]);
    let python_cookie = cookie_pair(written["set_cookie"][0].as_str().unwrap());
    let id = written["id"].as_str().unwrap().to_string();
    assert!(
        id.starts_with(PREFIX) && id.len() == PREFIX.len() + 64,
        "{id}"
    );
    let python_value = unhex(written["after"]["value"].as_str().unwrap());
    let python_pttl = written["after"]["pttl"].as_i64().unwrap();
    assert!(
        (1_190_000..=1_200_000).contains(&python_pttl),
        "{python_pttl}"
    );
    let names: Vec<String> = payload(&python_value).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, ["m", "c", "v", "x", "t"]);
    let (c, x) = (int_field(&python_value, "c"), int_field(&python_value, "x"));
    assert_eq!(int_field(&python_value, "t"), 1200);

    // The same payload written by Rust, from a state built here, is Python's byte for
    // byte: the same `c`, and written at the second Python wrote it (so the same `x`).
    let twin = StoreKey::raw(&SessionId::parse("app:twin").unwrap());
    let record =
        serde_json::to_vec(&json!({"created": c as f64, "state": python_values()})).unwrap();
    let python_now = (x - 1200) as f64;
    assert!(store
        .create(&twin, &record, python_now + 1200.0, python_now)
        .unwrap()
        .is_created());
    let twin_value = raw(&server, twin.as_str()).unwrap();
    assert_eq!(
        hex(&twin_value),
        hex(&python_value),
        "Rust's bytes are Python's"
    );
    // And the TTL is Python's: the timeout, to the millisecond.
    let twin_pttl = server.pttl(twin.as_str());
    assert!(
        (1_190_000..=1_200_000).contains(&twin_pttl) && (twin_pttl - python_pttl).abs() < 10_000,
        "Rust {twin_pttl} ms, Python {python_pttl} ms"
    );

    // Rust reads what Python wrote, from Python's cookie.
    let now = wall_clock();
    let mut s = open(&store, Some(&python_cookie), now);
    assert!(!s.is_new(), "Rust must load Python's session");
    assert_eq!(s.id().unwrap().as_str(), id);
    assert_eq!(Value::Object(s.peek_state().clone()), python_values());
    assert_eq!(s.created(), c as f64);
    // ...and continues it: a counter, a new key, the tuple and the object kept.
    s.modify("count", |n| {
        Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
    });
    s.insert("rust", json!("écrit par Rust ✓"));
    finish(&store, &mut s);
    let rust_value = raw(&server, &id).unwrap();
    assert_eq!(int_field(&rust_value, "c"), c, "created is kept");
    assert!(int_field(&rust_value, "x") >= now.ceil() as i64 + 1200);
    let rust_pttl = server.pttl(&id);
    assert!((1_190_000..=1_200_000).contains(&rust_pttl), "{rust_pttl}");

    // Python reads Rust's change back (strictly: the tuple is still a tuple, the
    // datetime a datetime), and finds the value to be what Python itself writes for it.
    let checked = peer(
        &server,
        "check",
        &[
            &python_cookie,
            &id,
            "dict(VALUES, count=2, rust='écrit par Rust ✓')",
        ],
    );
    assert_eq!(checked["new"], json!(false));
    assert_eq!(checked["before"]["value"], json!(hex(&rust_value)));

    // Rust creates a session from scratch; Python reads it.
    let mut s = open(&store, None, wall_clock());
    assert!(s.is_new());
    s.insert("who", json!("Rust ✓"));
    s.insert("t", json!({"$tuple": [1, {"$tuple": [2, 3]}]}));
    s.insert(
        "n",
        serde_json::from_str::<Value>("1208925819614629174706176").unwrap(),
    );
    s.insert("f", json!(0.1));
    s.insert("d", json!({"k": [null, true], "b": {"$bytes": "00ff"}}));
    let rust_cookie = cookie_pair(&finish(&store, &mut s).expect("a new session sets a cookie"));
    let rust_id = s.id().unwrap().as_str().to_string();
    assert!(rust_id.starts_with(PREFIX) && rust_id.len() == PREFIX.len() + 64);
    let checked = peer(
        &server,
        "check",
        &[
            &rust_cookie,
            &rust_id,
            "{'who': 'Rust ✓', 't': (1, (2, 3)), 'n': 2**80, 'f': 0.1, \
             'd': {'k': [None, True], 'b': b'\\x00\\xff'}}",
        ],
    );
    assert_eq!(checked["new"], json!(false));
    assert_eq!(checked["id"], json!(rust_id));
    let pttl = checked["before"]["pttl"].as_i64().unwrap();
    assert!((1_190_000..=1_200_000).contains(&pttl), "{pttl}");

    // A logout on either side ends the session for both.
    peer(&server, "logout", &[&rust_cookie]);
    assert!(raw(&server, &rust_id).is_none());
    assert!(open(&store, Some(&rust_cookie), wall_clock()).is_new());
    let mut s = open(&store, Some(&python_cookie), wall_clock());
    s.invalidate();
    let set_cookie = finish(&store, &mut s).unwrap();
    assert!(set_cookie.contains("Max-Age=0"), "{set_cookie}");
    assert!(raw(&server, &id).is_none());
    let checked = peer(&server, "check", &[&python_cookie, &id, "{}"]);
    assert_eq!(checked["new"], json!(true));
}

/// A Rust request that only reads renews the record the way Python checks it: `x` moves
/// with the TTL, so Python keeps the session alive as long as Rust does.
#[test]
fn a_read_in_rust_moves_pythons_expiry() {
    let server = RedisServer::start();
    let store = store(&server);
    let written = peer(&server, "write", &[]);
    let cookie = cookie_pair(written["set_cookie"][0].as_str().unwrap());
    let id = written["id"].as_str().unwrap().to_string();
    let before = raw(&server, &id).unwrap();
    // Five seconds later by the app's clock (Redis TTLs are relative, so no sleep).
    let now = wall_clock() + 5.0;
    let mut s = open(&store, Some(&cookie), now);
    assert_eq!(s.get("count"), Some(&json!(1)));
    finish(&store, &mut s);
    let after = raw(&server, &id).unwrap();
    assert_eq!(int_field(&after, "x"), now.ceil() as i64 + 1200);
    assert!(int_field(&after, "x") >= int_field(&before, "x") + 4);
    assert_eq!(int_field(&after, "c"), int_field(&before, "c"));
    // Only `x` changed.
    let strip = |v: &[u8]| {
        payload(v)
            .into_iter()
            .filter(|(k, _)| k != "x")
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&after), strip(&before));
    peer(&server, "check", &[&cookie, &id, "dict(VALUES, count=1)"]);
}

/// N Rust writers incrementing a counter in a session Python created never lose an
/// update, and Python reads the total.
#[test]
fn rust_writers_never_lose_an_update() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 40;
    let server = RedisServer::start();
    let store = Arc::new(store(&server));
    let written = peer(&server, "write", &[]);
    let cookie = cookie_pair(written["set_cookie"][0].as_str().unwrap());
    let id = written["id"].as_str().unwrap().to_string();
    let config = Arc::new(config().with_max_retries(100_000));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (store, config, cookie) = (store.clone(), config.clone(), cookie.clone());
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    let pending = Pending::start(&config, Some(cookie.as_bytes()), wall_clock());
                    let mut s = driver::open(&*store, &config, pending).unwrap();
                    assert!(!s.is_new(), "the session must load");
                    s.modify("count", |n| {
                        Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
                    });
                    driver::finish(&*store, &config, &mut s, false, &mut OsRandom).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let total = 1 + THREADS * PER_THREAD;
    peer(
        &server,
        "check",
        &[&cookie, &id, &format!("dict(VALUES, count={total})")],
    );
}

/// Whatever is under a key, the store answers with a typed result: a value Python would
/// not load is a missing record, never a panic.
#[test]
fn what_python_would_not_load_is_a_missing_record() {
    let server = RedisServer::start();
    let store = store(&server);
    let now = wall_clock();
    let entry = |name: &str, pairs: Vec<(&str, PyValue)>| {
        let dict = PyValue::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (PyValue::str(k), v))
                .collect(),
        );
        (name.to_string(), pickle::encode(&dict, 4).unwrap())
    };
    let m = |k: PyValue| PyValue::Dict(vec![(k, PyValue::str("ada"))]);
    let cases = vec![
        ("app:garbage".to_string(), b"\x00\xffnot a pickle".to_vec()),
        ("app:empty".to_string(), Vec::new()),
        (
            "app:list".to_string(),
            pickle::encode(&PyValue::List(vec![PyValue::int(1)]), 4).unwrap(),
        ),
        (
            "app:json".to_string(),
            br#"{"m": {"user": "ada"}, "c": 1, "v": 1}"#.to_vec(),
        ),
        entry(
            "app:int-key",
            vec![
                ("m", m(PyValue::int(1))),
                ("c", PyValue::int(1)),
                ("v", PyValue::int(1)),
            ],
        ),
        entry(
            "app:no-m",
            vec![("c", PyValue::int(1)), ("v", PyValue::int(1))],
        ),
        entry(
            "app:legacy",
            vec![("m", m(PyValue::str("user"))), ("c", PyValue::int(1))],
        ),
        entry(
            "app:timed-out",
            vec![
                ("m", m(PyValue::str("user"))),
                ("c", PyValue::int(1)),
                ("v", PyValue::int(1)),
                ("x", PyValue::int(now as i64 - 10)),
                ("t", PyValue::int(1200)),
            ],
        ),
    ];
    for (name, value) in &cases {
        set_raw(&server, name, value, Some(600));
        let key = StoreKey::raw(&SessionId::parse(name).unwrap());
        assert_eq!(store.load(&key, now).unwrap(), None, "{name}");
        assert!(
            !store.touch(&key, now + 60.0, now).unwrap().is_touched(),
            "{name}"
        );
        assert_eq!(
            store
                .save(
                    &key,
                    br#"{"created": 1.0, "state": {}}"#,
                    1,
                    now + 60.0,
                    now
                )
                .unwrap(),
            SaveOutcome::Missing,
            "{name}"
        );
        assert_eq!(
            raw(&server, name).as_deref(),
            Some(value.as_slice()),
            "{name}: untouched"
        );
        // The server-mode session starts afresh, under a new id.
        let cookie = format!(
            "session={}",
            IdCookieFormat::PyramidSessionRedis
                .encode(
                    config().session(),
                    &SessionId::parse(name).unwrap(),
                    pyramid_session::codec::Accessed::Int(now as i64),
                    now,
                )
                .unwrap()
        );
        let mut s = open(&store, Some(&cookie), now);
        assert!(s.is_new(), "{name}");
        s.insert("user", json!("bob"));
        finish(&store, &mut s);
        assert_ne!(s.id().unwrap().as_str(), name.as_str());
        // A create on the dead value's key replaces it.
        let created = store
            .create(
                &key,
                br#"{"created": 1.0, "state": {"a": 1}}"#,
                now + 60.0,
                now,
            )
            .unwrap();
        assert!(created.is_created(), "{name}");
        assert!(store.load(&key, now).unwrap().is_some(), "{name}");
    }

    // A value with neither `x` nor a TTL is live, expiring a timeout from now.
    set_raw(
        &server,
        "app:forever",
        &entry(
            "",
            vec![
                ("m", m(PyValue::str("user"))),
                ("c", PyValue::int(1)),
                ("v", PyValue::int(1)),
            ],
        )
        .1,
        None,
    );
    let key = StoreKey::raw(&SessionId::parse("app:forever").unwrap());
    let r = store.load(&key, now).unwrap().unwrap();
    assert_eq!(r.expires_at.as_secs_f64(), now + 1200.0);
    assert_eq!(r.data, br#"{"created": 1.0, "state": {"user": "ada"}}"#);

    // A hashed key (the default id scheme) is refused with the fix in the message.
    let hashed = SessionId::parse("app:forever").unwrap().store_key();
    let err = store.load(&hashed, now).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Other);
    assert!(
        err.message
            .contains("with_id_scheme(IdScheme::pyramid_session_redis(prefix))"),
        "{err}"
    );
    let wrong = ServerConfig::new(
        SessionConfig::pyramid_session_redis(SECRET)
            .build()
            .unwrap(),
        IdCookieFormat::PyramidSessionRedis,
    )
    .unwrap();
    let mut s = driver::open(&store, &wrong, Pending::start(&wrong, None, now)).unwrap();
    s.insert("user", json!("ada"));
    assert!(matches!(
        driver::finish(&store, &wrong, &mut s, false, &mut OsRandom),
        Err(ServerError::Store(e)) if e.message.contains("IdScheme::pyramid_session_redis")
    ));
}

/// An object Python pickled into the session (here a `datetime`) is kept as opaque data
/// through a Rust rewrite, never instantiated, and Python reads it back as it was.
#[test]
fn opaque_objects_survive_a_rust_rewrite() {
    let server = RedisServer::start();
    let store = store(&server);
    let written = peer(&server, "write", &[]);
    let cookie = cookie_pair(written["set_cookie"][0].as_str().unwrap());
    let id = written["id"].as_str().unwrap().to_string();
    let mut s = open(&store, Some(&cookie), wall_clock());
    let when = s.get("when").unwrap().clone();
    assert_eq!(when["$object"]["module"], json!("datetime"));
    s.remove("pi");
    s.insert("when_copy", when);
    finish(&store, &mut s);
    peer(
        &server,
        "check",
        &[
            &cookie,
            &id,
            "dict({k: v for k, v in VALUES.items() if k != 'pi'}, count=1, \
             when_copy=datetime.datetime(2024, 1, 2, 3, 4, 5, 6))",
        ],
    );
}
