//! The real Pyramid 1.10.8 (`SignedCookieSessionFactory`, pickled frames) as a peer: a
//! session written by Python is read and continued by Rust, and back, with what a
//! CubicWeb session holds (non-ASCII text, big ints, floats, tuples, nested dicts).
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

use std::time::{SystemTime, UNIX_EPOCH};

use pyramid_session::codec::Accessed;
use pyramid_session::{CookieSession, LoadOutcome, SessionConfig};
use serde_json::{json, Value};

mod python;

const SECRET: &str = "pyramid-1.10-peer-secret";
const SCRIPT: &str = include_str!("interop/pyramid1_cookie.py");

fn py(args: &[&str]) -> String {
    python::run(python::PYRAMID110, SCRIPT, args)
        .trim()
        .to_string()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn config() -> SessionConfig {
    SessionConfig::pyramid1(SECRET).build().unwrap()
}

fn load(value: &str) -> CookieSession {
    let header = format!("session={value}");
    CookieSession::load(&config(), Some(header.as_bytes()), now())
}

/// The cookie value of a `Set-Cookie` header.
fn value_of(set_cookie: &str) -> String {
    let (_, rest) = set_cookie.split_once('=').unwrap();
    rest.split(';').next().unwrap().to_string()
}

/// What Python's `repr(dict(session))` shows for the session Python wrote, with `count`
/// and the extra entries given.
fn python_repr(count: u32, extra: &str) -> String {
    format!(
        "{{'user': 'Ada Lovelace éè ☃ 😀', 'big': 1267650600228229401496703205376, \
         'neg': -1180591620717411303424, 'ratio': 0.1, 'created_at': 1700000000.25, \
         'pending_insert': [(761, 'in_group', 3)], \
         'page': {{'vid': 'primary', 'nested': {{'a': [1, 2.5, None, True]}}}}, \
         'raw': b'\\x00\\xff', 'tags': {{'x'}}, 'count': {count}{extra}}}"
    )
}

#[test]
fn a_python_session_is_continued_by_rust_and_back() {
    let written = py(&["write", SECRET]);
    assert_eq!(py(&["read", SECRET, &written]), python_repr(1, ""));

    // Rust reads Python's values, Python-only types as tagged JSON.
    let mut session = load(&written);
    assert_eq!(session.outcome(), LoadOutcome::Valid);
    let state = json!(session.peek_state());
    assert_eq!(state["user"], "Ada Lovelace éè ☃ 😀");
    assert_eq!(state["big"].to_string(), "1267650600228229401496703205376");
    assert_eq!(state["neg"].to_string(), "-1180591620717411303424");
    assert_eq!(state["ratio"].to_string(), "0.1");
    assert_eq!(state["created_at"].to_string(), "1700000000.25");
    assert_eq!(
        state["pending_insert"],
        json!([{"$tuple": [761, "in_group", 3]}])
    );
    assert_eq!(state["page"]["nested"]["a"], json!([1, 2.5, null, true]));
    assert_eq!(state["raw"], json!({"$bytes": "00ff"}));
    assert_eq!(state["tags"], json!({"$set": ["x"]}));

    // Written back unchanged, the payload is the one Python wrote, byte for byte.
    let config = config();
    let payload = config
        .keyring()
        .with_verified(written.as_bytes(), |v| v.map(|v| v.payload.to_vec()))
        .unwrap();
    let frame = config.serializer().decode(&payload).unwrap();
    let mut again = Vec::new();
    config
        .serializer()
        .encode(
            Accessed::Int(frame.renewed as i64),
            frame.created,
            &frame.state,
            &mut again,
        )
        .unwrap();
    assert_eq!(again, payload);

    // Rust continues the session; Python reads the change, the tuple still a tuple.
    let count = session.get("count").and_then(Value::as_u64).unwrap();
    session.insert("count", json!(count + 1));
    session.insert("from_rust", json!({"$tuple": ["é", 2]}));
    let set_cookie = session.finish(&config, false).unwrap().unwrap();
    let from_rust = value_of(&set_cookie);
    assert_eq!(
        py(&["read", SECRET, &from_rust]),
        python_repr(2, ", 'from_rust': ('é', 2)")
    );

    // Python continues Rust's cookie; Rust reads it.
    let bumped = py(&["bump", SECRET, &from_rust]);
    let mut session = load(&bumped);
    assert_eq!(session.outcome(), LoadOutcome::Valid);
    assert_eq!(session.get("count"), Some(&json!(3)));
    assert_eq!(session.get("from_rust"), Some(&json!({"$tuple": ["é", 2]})));
}

#[test]
fn a_rust_session_is_read_by_python() {
    let config = config();
    let mut session = CookieSession::load(&config, None, now());
    session.insert("user", json!("Grace ✓"));
    session.insert(
        "big",
        serde_json::from_str::<Value>("-1234567890123456789012345").unwrap(),
    );
    session.insert("pair", json!({"$tuple": [1, {"$tuple": []}]}));
    session.insert(
        "keys",
        json!({"$dict": [[1, "one"], [{"$tuple": [2, 3]}, null]]}),
    );
    session.insert("ratio", json!(2.5));
    let value = value_of(&session.finish(&config, false).unwrap().unwrap());
    assert_eq!(
        py(&["read", SECRET, &value]),
        "{'user': 'Grace ✓', 'big': -1234567890123456789012345, 'pair': (1, ()), \
         'keys': {1: 'one', (2, 3): None}, 'ratio': 2.5}"
    );
    // A cookie signed with another secret is refused by Python as by Rust.
    let other = SessionConfig::pyramid1("another secret").build().unwrap();
    let mut session = CookieSession::load(&other, None, now());
    session.insert("user", json!("mallory"));
    let forged = value_of(&session.finish(&other, false).unwrap().unwrap());
    assert_eq!(py(&["read", SECRET, &forged]), "NEW");
    assert!(matches!(load(&forged).outcome(), LoadOutcome::Invalid(_)));
}
