//! The demo as a Python app's peer: `--ini` with the ini of a CubicWeb 5 instance whose
//! sessions are Pyramid 1.10 pickled cookies (`cubicweb.pyramid.default_session`), and
//! the real pyramid 1.10.8 reading and writing the same cookies.
// The demo and its helpers run on the wall clock.
#![allow(clippy::disallowed_methods)]

mod demo;
mod python;
mod servers;

use demo::{Client, Demo};
use serde_json::json;

const SECRET: &str = "pyramid-1.10-peer-secret";
const SCRIPT: &str = include_str!("interop/pyramid1_cookie.py");

fn py(args: &[&str]) -> String {
    python::run(python::PYRAMID110, SCRIPT, args)
        .trim()
        .to_string()
}

/// The demo started with an ini written into its working directory.
fn demo_with_ini(ini: &str) -> Demo {
    let dir = std::env::temp_dir().join(format!("pyramid-session-ini-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pyramid.ini");
    std::fs::write(&path, ini).unwrap();
    Demo::start(&["--ini", path.to_str().unwrap()])
}

#[test]
fn the_demo_shares_pickled_cookie_sessions_with_pyramid_1_10() {
    // The CubicWeb 5 template's session include, as a real instance's ini has it; the
    // `%%` and the inline `#` are ConfigParser's (the secret is `<SECRET>`).
    let ini = format!(
        "[main]\n\
         cubicweb.session.secret = {SECRET}\n\
         cubicweb.includes =\n    cubicweb.pyramid.auth\n    cubicweb.pyramid.default_session\n\
         cubicweb.auth.authtkt.session.secret = other %% secret # kept\n"
    );
    let demo = demo_with_ini(&ini);
    let mut client = Client::new();

    // Python's session, as the demo sees it.
    let written = py(&["write", SECRET]);
    client.cookies.insert("session".into(), written);
    let reply = client.get(&demo.url("/api/session"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"user": "Ada Lovelace éè ☃ 😀", "count": 1})
    );

    // The demo continues it; Python reads the count, every other value unchanged.
    let reply = client.post_form(&demo.url("/api/increment"), &[]);
    assert_eq!(reply.json(), json!({"count": 2}));
    let cookie = client.cookies["session"].clone();
    let seen = py(&["read", SECRET, &cookie]);
    assert!(seen.contains("'count': 2}"), "{seen}");
    assert!(
        seen.contains("'pending_insert': [(761, 'in_group', 3)]"),
        "{seen}"
    );
    assert!(seen.contains("'raw': b'\\x00\\xff'"), "{seen}");

    // Python continues the demo's cookie; the demo sees it.
    let bumped = py(&["bump", SECRET, &cookie]);
    client.cookies.insert("session".into(), bumped);
    let reply = client.get(&demo.url("/api/session"));
    assert_eq!(reply.json()["count"], 3);

    // A login on the demo is a session Python reads.
    let mut fresh = Client::new();
    let reply = fresh.post_form(&demo.url("/api/login"), &[("user", "grace")]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = py(&["read", SECRET, &fresh.cookies["session"]]);
    assert!(seen.contains("'user': 'grace'"), "{seen}");
    assert!(seen.contains("'_csrft_': '"), "{seen}");
}

#[test]
fn an_ini_without_a_usable_session_factory_is_refused() {
    let dir = std::env::temp_dir().join(format!("pyramid-session-ini-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.ini");
    for (ini, needle) in [
        (
            "[main]\npyramid.includes = pyramid_redis_sessions\nredis.sessions.secret = s\n",
            "bad configuration",
        ),
        (
            "[main]\ncubicweb.includes = cubicweb.pyramid.auth\ncubicweb.session.secret = s\n",
            "bad configuration",
        ),
        ("[main]\nsession.secret = %(missing)s\n", "missing"),
    ] {
        std::fs::write(&path, ini).unwrap();
        let out = std::process::Command::new(demo::binary())
            .args(["--ini", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{ini}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("demo: ") && err.contains(needle),
            "{ini}: {err}"
        );
    }
}

const PSR_SECRET: &str = "shared-secret-of-both-apps";
const PSR_PEER: &str = include_str!("interop/pyramid_session_redis_peer.py");

/// The pyramid_session_redis peer app (`tests/interop/pyramid_session_redis_peer.py`).
fn psr_peer(server: &servers::RedisServer, args: &[&str]) -> serde_json::Value {
    let url = server.url();
    let mut all = vec![args[0], url.as_str(), PSR_SECRET, "app:"];
    all.extend_from_slice(&args[1..]);
    let out = python::run(python::PYRAMID21_REDIS, PSR_PEER, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_demo_shares_pyramid_session_redis_sessions() {
    use pyramid_session::pickle::{self, Limits, PyValue};
    use pyramid_session::server::IdCookieFormat;

    let redis = servers::RedisServer::start();
    let ini = format!(
        "[app:main]\n\
         pyramid.includes = pyramid_session_redis\n\
         redis.sessions.secret = {PSR_SECRET}\n\
         redis.sessions.prefix = app:\n\
         redis.sessions.url = {}\n\
         redis.sessions.timeout = 1200\n",
        redis.url()
    );
    let demo = demo_with_ini(&ini);

    // Python's session, as the demo sees it; the demo's increment, as Python sees it.
    let written = psr_peer(&redis, &["write"]);
    let set_cookie = written["set_cookie"][0].as_str().unwrap();
    let (name, value) = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap();
    assert_eq!(name, "session");
    let mut client = Client::new();
    client.cookies.insert("session".into(), value.into());
    let reply = client.get(&demo.url("/api/session"));
    assert_eq!(
        reply.json(),
        json!({"user": null, "count": 1}),
        "{}",
        reply.body
    );
    let reply = client.post_form(&demo.url("/api/increment"), &[]);
    assert_eq!(reply.json(), json!({"count": 2}));
    let id = written["id"].as_str().unwrap();
    let cookie = format!("session={}", client.cookies["session"]);
    psr_peer(&redis, &["check", &cookie, id, "dict(VALUES, count=2)"]);
    // Without an ini: `--store pyramid_session_redis+URL` and the shared secret.
    let store = format!("pyramid_session_redis+{}", redis.url());
    let bare = Demo::start(&["--store", &store, "--secret", PSR_SECRET]);
    let reply = client.get(&bare.url("/api/session"));
    assert_eq!(
        reply.json(),
        json!({"user": null, "count": 2}),
        "{}",
        reply.body
    );

    // A login on the demo: Python's layout, under a pyramid_session_redis id.
    let mut fresh = Client::new();
    let reply = fresh.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let config = pyramid_session::SessionConfig::pyramid_session_redis(PSR_SECRET)
        .build()
        .unwrap();
    let id = IdCookieFormat::PyramidSessionRedis
        .decode(&config, fresh.cookies["session"].as_bytes())
        .unwrap()
        .id;
    assert!(id.as_str().starts_with("app:") && id.as_str().len() == 4 + 64);
    let peek = psr_peer(&redis, &["peek", id.as_str()]);
    let stored = peek["after"]["value"].as_str().unwrap();
    let bytes: Vec<u8> = (0..stored.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&stored[i..i + 2], 16).unwrap())
        .collect();
    let PyValue::Dict(payload) = pickle::decode(&bytes, &Limits::default()).unwrap() else {
        panic!("not a dict");
    };
    let state = &payload
        .iter()
        .find(|(k, _)| *k == PyValue::str("m"))
        .unwrap()
        .1;
    let PyValue::Dict(state) = state else {
        panic!("m is not a dict")
    };
    assert!(state.contains(&(PyValue::str("user"), PyValue::str("ada"))));
    let cookie = format!("session={}", fresh.cookies["session"]);
    let read = psr_peer(&redis, &["read", &cookie]);
    assert_eq!(read["new"], false, "{read}");
    assert_eq!(read["id"], id.as_str());
    assert_eq!(read["session"]["user"], "'ada'", "{read}");
}
