//! The demo as a Python app's peer: `--ini` with the ini of a CubicWeb 5 instance whose
//! sessions are Pyramid 1.10 pickled cookies (`cubicweb.pyramid.default_session`), and
//! the real pyramid 1.10.8 reading and writing the same cookies.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod demo;
mod python;

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
