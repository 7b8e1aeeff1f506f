//! The real Pyramid 1.10.8 (`SignedCookieSessionFactory`, pickled frames) as a peer: a
//! session written by Python is read and continued by Rust, and back, with what a
//! CubicWeb session holds (non-ASCII text, big ints, floats, tuples, nested dicts).
// The peer runs on the wall clock (Python reads `time.time()`), so these tests do too.
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

/// Runs the CLI with `args`, `stdin`; returns (exit code, stdout, stderr).
fn cli(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_pyramid-session"))
        .args(["--secret", SECRET])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_cli_reads_and_signs_pyramid_1_cookies() {
    let written = py(&["write", SECRET]);
    // verify: the frame as tagged JSON; signing it again gives Python's cookie back.
    let (code, frame, err) = cli(&["verify", "--serializer", "pickle", &written], b"");
    assert_eq!(code, 0, "{err}");
    let tagged: Value = serde_json::from_str(&frame).unwrap();
    let items = tagged["$tuple"].as_array().unwrap();
    assert_eq!(
        items[2]["pending_insert"],
        json!([{"$tuple": [761, "in_group", 3]}])
    );
    let (code, signed, err) = cli(&["sign", "--serializer", "pickle"], frame.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(signed.trim(), written);
    // inspect: the dates and the state.
    let (code, shown, err) = cli(&["inspect", "--serializer", "pickle", &written], b"");
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains("verdict:    valid"), "{shown}");
    assert!(shown.contains("\"$tuple\""), "{shown}");
    // The JSON serializer refuses the pickle, naming it.
    let (code, _, err) = cli(&["inspect", &written], b"");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("pyramid-session: not a session cookie"),
        "{err}"
    );
    // sign: a frame from JSON, read by Pyramid 1.10 (the array is the frame's tuple).
    let t = now() as i64;
    let frame = format!(r#"[{t}, {t}.5, {{"user": "ada", "t": {{"$tuple": [1, "é"]}}}}]"#);
    let (code, signed, err) = cli(&["sign", "--serializer", "pickle"], frame.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        py(&["read", SECRET, signed.trim()]),
        "{'user': 'ada', 't': (1, 'é')}"
    );
    // Bad tagged JSON is refused with one line.
    let (code, out, err) = cli(&["sign", "--serializer", "pickle"], br#"{"$nope": 1}"#);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn legacy_pyramid_redis_sessions_cookies_are_read_for_a_migration() {
    use pyramid_session::driver;
    use pyramid_session::server::{
        IdCookieFormat, IdScheme, LegacyRedisCookie, Pending, ServerConfig, SessionId,
    };
    use pyramid_session::store::MemoryStore;

    // Pyramid 1.10's own `signed_serialize`, as pyramid_redis_sessions calls it.
    let id = format!("session:{}", "ab01".repeat(16));
    let script = "import sys, warnings\nwarnings.simplefilter('ignore')\n\
                  from pyramid.session import signed_serialize\n\
                  print(signed_serialize(sys.argv[1], sys.argv[2]))";
    let python = python::run(python::PYRAMID110, script, &[&id, "s3cret é"]);
    let legacy = LegacyRedisCookie::new("s3cret é");
    let session_id = SessionId::parse(&id).unwrap();
    assert_eq!(legacy.encode(&session_id), python.trim());
    assert_eq!(legacy.decode(python.trim().as_bytes()), Some(session_id));

    // A server configured for pyramid_session_redis serves the legacy session and moves
    // its cookie to the new format.
    let session = SessionConfig::pyramid_session_redis("new secret")
        .build()
        .unwrap();
    let config = ServerConfig::new(session, IdCookieFormat::PyramidSessionRedis)
        .unwrap()
        .with_id_scheme(IdScheme::pyramid_session_redis("session:").unwrap())
        .with_legacy_cookie(legacy);
    let store = MemoryStore::new();
    let t0 = 1_700_000_000.0;
    // The record under the legacy id (the ids are looked up as they are).
    use pyramid_session::server::StoreExt;
    let key = config.id_scheme().key(&SessionId::parse(&id).unwrap());
    let record = br#"{"created": 1699999000.0, "state": {"user": "ada"}}"#;
    assert!(store
        .create(&key, record, t0 + 600.0, t0)
        .unwrap()
        .is_created());

    let header = format!("session={}", python.trim());
    let mut s = driver::open(
        &store,
        &config,
        Pending::start(&config, Some(header.as_bytes()), t0),
    )
    .unwrap();
    assert!(!s.is_new());
    assert_eq!(s.get("user"), Some(&json!("ada")));
    let mut rng = pyramid_session::OsRandom;
    let cookie = driver::finish(&store, &config, &mut s, false, &mut rng)
        .unwrap()
        .expect("the legacy cookie is re-sent in the new format");
    let moved = IdCookieFormat::PyramidSessionRedis
        .decode(config.session(), value_of(&cookie).as_bytes())
        .unwrap();
    assert_eq!(moved.id.as_str(), id);
    // Without the migration setting, the legacy cookie is just not a session.
    let plain = ServerConfig::new(
        SessionConfig::pyramid_session_redis("new secret")
            .build()
            .unwrap(),
        IdCookieFormat::PyramidSessionRedis,
    )
    .unwrap()
    .with_id_scheme(IdScheme::pyramid_session_redis("session:").unwrap());
    let s = driver::open(
        &store,
        &plain,
        Pending::start(&plain, Some(header.as_bytes()), t0),
    )
    .unwrap();
    assert!(s.is_new());
}

/// A remembered session ("remember me", `set_expiry`) shared with the real Pyramid 1.10:
/// Python reads it as an ordinary session with one more key, `_expiry_`, keeps that key
/// when it writes the session back, and Rust still finds its own expiry there. (Python
/// judges the cookie by its own configured timeout; the wall clock cannot show that
/// here without waiting it out: `tests/expiry.rs` covers the Rust side.)
#[test]
fn a_remembered_session_survives_a_python_write() {
    use pyramid_session::policy::Expiry;
    use std::time::Duration;

    let config = config();
    let month = Some(Expiry::OnInactivity(Duration::from_secs(30 * 86_400)));
    let mut session = CookieSession::load(&config, None, now());
    session.insert("count", json!(1));
    session.insert("pending_insert", json!([{"$tuple": [761, "in_group", 3]}]));
    session.set_expiry(month);
    let set_cookie = session.finish(&config, false).unwrap().unwrap();
    assert!(set_cookie.contains("; Max-Age=2592000;"), "{set_cookie}");
    let from_rust = value_of(&set_cookie);
    assert_eq!(
        py(&["read", SECRET, &from_rust]),
        "{'count': 1, 'pending_insert': [(761, 'in_group', 3)], '_expiry_': 2592000}"
    );
    let bumped = py(&["bump", SECRET, &from_rust]);
    let mut session = load(&bumped);
    assert_eq!(session.outcome(), LoadOutcome::Valid);
    assert_eq!(session.get("count"), Some(&json!(2)));
    assert_eq!(session.expiry(), month);
}
