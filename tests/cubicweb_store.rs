//! `CubicWebStore` beside the real CubicWeb 5.0.1 (cubicweb-web 1.6.2, pyramid 1.10.8):
//! an instance database made by CubicWeb itself (`cubicweb.devtools`' configuration,
//! `init_repository`, as the spec's `gen_cw_real_flows.py`), on SQLite and on a
//! private PostgreSQL, whose sessions the real `CWSessionFactory` reads and writes
//! (`tests/interop/cubicweb_peer.py`) while Rust reads and writes the same rows.
//!
//! The instance is built once and copied per test: the SQLite template under
//! `target/cubicweb-instance/`, kept across runs; on PostgreSQL a template database,
//! once per run, cloned with `CREATE DATABASE ... TEMPLATE`.
// Test harness code: wall-clock time (Python's cookies carry it) and build locks.
#![allow(clippy::disallowed_methods)]

mod cw_instance;
mod python;
mod servers;

use std::path::PathBuf;
use std::sync::Arc;

use cw_instance::{peer, ADMIN_PASSWORD, BASE_URL};
use pyramid_session::driver;
use pyramid_session::server::{
    IdCookieFormat, IdScheme, Pending, ServerConfig, ServerSession, SessionId, StoreExt,
};
use pyramid_session::store::cubicweb::{CubicWebOptions, CubicWebStore};
use pyramid_session::{OsRandom, SessionConfig};
use serde_json::{json, Value};
use servers::TempDir;

const SECRET: &str = "test";

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A CubicWeb instance database, its sources file and what its builder printed.
struct Instance {
    sources: PathBuf,
    meta: Value,
    /// The SQLite file, or the PostgreSQL URL.
    db: String,
    postgres: bool,
    _dir: TempDir,
}

/// A fresh copy of the SQLite instance (built once, kept under `target/`).
fn sqlite_instance() -> Instance {
    let dir = TempDir::new("cubicweb");
    let (sources, copy, meta) = cw_instance::sqlite_copy(&dir.0);
    Instance {
        sources,
        meta,
        db: copy.to_str().unwrap().to_string(),
        postgres: false,
        _dir: dir,
    }
}

fn options() -> CubicWebOptions {
    CubicWebOptions::new(BASE_URL)
}

impl Instance {
    fn store(&self) -> CubicWebStore {
        if self.postgres {
            CubicWebStore::open_postgres(&self.db, options()).unwrap()
        } else {
            CubicWebStore::open_sqlite(&self.db, options()).unwrap()
        }
    }

    /// One request through CubicWeb's own `CWSessionFactory`.
    fn python(&self, path: &str, cookie: Option<&str>) -> Value {
        let mut args = vec!["request", path];
        args.extend(cookie);
        let answer = peer(&self.sources, &args);
        assert_eq!(answer["status"], 200, "{answer}");
        answer
    }

    fn sql(&self, sql: &str) -> Value {
        peer(&self.sources, &["sql", sql])
    }
}

fn config() -> ServerConfig {
    ServerConfig::new(
        SessionConfig::cubicweb(SECRET).build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap()
    .with_id_scheme(IdScheme::Allocated)
}

fn open(
    store: &CubicWebStore,
    config: &ServerConfig,
    cookie: Option<&str>,
    now: f64,
) -> ServerSession {
    let header = cookie.map(|c| format!("session={c}"));
    let pending = Pending::start(config, header.as_deref().map(str::as_bytes), now);
    driver::open(store, config, pending).unwrap()
}

/// Finishes the request; the new `session` cookie value, if one was sent.
fn finish(
    store: &CubicWebStore,
    config: &ServerConfig,
    session: &mut ServerSession,
) -> Option<String> {
    let set_cookie = driver::finish(store, config, session, false, &mut OsRandom).unwrap()?;
    let pair = set_cookie.split(';').next().unwrap();
    let value = pair.strip_prefix("session=").unwrap();
    (!value.is_empty()).then(|| value.to_string())
}

fn eid_of(session: &ServerSession) -> i64 {
    session.id().unwrap().as_str().parse().unwrap()
}

/// What `fill` stores on the Python side.
fn assert_filled(state: &Value, count: u64) {
    assert_eq!(
        state["pending_insert"],
        json!([{"$tuple": [1234, "in_group", 5678]}, {"$tuple": [1234, "in_group", 5679]}])
    );
    assert_eq!(state["msg"], "Modifications enregistrées — ✓");
    assert_eq!(state["count"], count);
}

/// Python makes a session (tuples, non-ASCII text, a pickled form-error object); Rust
/// loads it, writes it back with a read-modify-write; Python reads what Rust wrote
/// (tuples still tuples, the object intact), writes again, and Rust sees it.
fn python_then_rust(inst: &Instance) {
    let store = store_checked(inst);
    let config = config();
    let made = inst.python("/fill", None);
    let cookie = made["session_cookie"].as_str().unwrap().to_string();
    assert_filled(&made["body"], 1);

    let t = now();
    let mut s = open(&store, &config, Some(&cookie), t);
    assert!(!s.is_new(), "Rust loads the session Python made");
    let state = Value::Object(s.peek_state().clone().into_iter().collect());
    assert_filled(&state, 1);
    // The form error is an object: opaque to Rust, kept as it was read.
    let error = &state["form_errors"];
    assert!(
        error.is_object()
            && error
                .as_object()
                .unwrap()
                .keys()
                .all(|k| k.starts_with('$')),
        "{error}"
    );
    s.modify("count", |n| {
        Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
    });
    s.insert("from_rust", json!({"$tuple": ["été", 2]}));
    // Within the reissue time: no new cookie.
    assert_eq!(finish(&store, &config, &mut s), None);

    let read = inst.python("/read", Some(&cookie));
    let body = &read["body"];
    assert_filled(body, 2);
    assert_eq!(body["from_rust"], json!({"$tuple": ["été", 2]}));
    assert_eq!(
        body["form_errors"]["$object"],
        "yams._exceptions.ValidationError"
    );
    assert_eq!(
        body["form_errors"]["repr"],
        "ValidationError(1234, {'login': 'required field'})"
    );
    assert_eq!(made["body"]["form_errors"], body["form_errors"]);

    let incremented = inst.python("/incr", Some(&cookie));
    assert_eq!(incremented["body"]["count"], 3);
    let mut s = open(&store, &config, Some(&cookie), now());
    assert_eq!(s.get("count"), Some(&json!(3)), "Rust sees Python's write");
}

/// Rust makes a session: a new eid and the rows CubicWeb writes; Python reads it by
/// that eid, writes to it, and a Rust logout empties the row for both.
fn rust_then_python(inst: &Instance) {
    let store = store_checked(inst);
    let config = config();
    let t = now();
    let mut s = open(&store, &config, None, t);
    assert!(s.is_new());
    s.insert("pending_insert", json!([{"$tuple": [1, "in_group", 2]}]));
    s.insert("msg", json!("créé par Rust ✓"));
    let cookie = finish(&store, &config, &mut s).expect("a new session sends its cookie");
    let eid = eid_of(&s);

    // The rows CubicWeb's create_entity("CWSession") writes (cw_real_flows.json, step
    // `login`: entities, is, is_instance_of, cw_source, the row itself).
    let etype = store.cwsession_etype_eid();
    let source = store.system_source_eid();
    assert_eq!(json!(etype), inst.meta["cwsession_etype"]);
    assert_eq!(json!(source), inst.meta["system_source"]);
    assert_eq!(inst.sql("SELECT last FROM entities_id_seq"), json!([[eid]]));
    assert_eq!(
        inst.sql(&format!("SELECT eid, type FROM entities WHERE eid = {eid}")),
        json!([[eid, "CWSession"]])
    );
    for table in ["is_relation", "is_instance_of_relation"] {
        assert_eq!(
            inst.sql(&format!(
                "SELECT eid_from, eid_to FROM {table} WHERE eid_from = {eid}"
            )),
            json!([[eid, etype]]),
            "{table}"
        );
    }
    assert_eq!(
        inst.sql(&format!(
            "SELECT eid_from, eid_to FROM cw_source_relation WHERE eid_from = {eid}"
        )),
        json!([[eid, source]])
    );
    for table in ["created_by_relation", "owned_by_relation"] {
        assert_eq!(
            inst.sql(&format!(
                "SELECT eid_from FROM {table} WHERE eid_from = {eid}"
            )),
            json!([]),
            "CubicWeb writes no {table} for an internal create"
        );
    }
    let row = inst.sql(&format!(
        "SELECT cw_cwuri, cw_creation_date, cw_modification_date FROM cw_CWSession WHERE cw_eid = {eid}"
    ));
    assert_eq!(row[0][0], format!("{BASE_URL}{eid}"));
    assert_eq!(row[0][1], row[0][2], "created and modified at once");

    // Python reads it by eid, through its own session factory.
    let read = inst.python("/read", Some(&cookie));
    assert_eq!(
        read["body"],
        json!({"pending_insert": [{"$tuple": [1, "in_group", 2]}], "msg": "créé par Rust ✓"})
    );
    let incremented = inst.python("/incr", Some(&cookie));
    assert_eq!(incremented["body"]["count"], 1);

    // Python's rows and Rust's have the same shape: compare with a row Python made.
    let made = inst.python("/fill", None);
    let python_eid = python_eid(inst, &made);
    let both = inst.sql(&format!(
        "SELECT e.type, i.eid_to, o.eid_to, s.eid_to FROM entities AS e \
         JOIN is_relation AS i ON i.eid_from = e.eid \
         JOIN is_instance_of_relation AS o ON o.eid_from = e.eid \
         JOIN cw_source_relation AS s ON s.eid_from = e.eid \
         WHERE e.eid IN ({eid}, {python_eid}) ORDER BY e.eid"
    ));
    assert_eq!(both.as_array().unwrap().len(), 2);
    assert_eq!(both[0], both[1], "Rust's meta rows are Python's");

    // A Rust logout: the row stays (Python may hold the eid), emptied.
    let mut s = open(&store, &config, Some(&cookie), now());
    assert!(!s.is_new());
    s.invalidate();
    driver::finish(&store, &config, &mut s, false, &mut OsRandom).unwrap();
    assert_eq!(
        inst.sql(&format!(
            "SELECT count(*) FROM cw_CWSession WHERE cw_eid = {eid}"
        )),
        json!([[1]])
    );
    assert_eq!(inst.python("/read", Some(&cookie))["body"], json!({}));
    assert!(
        open(&store, &config, Some(&cookie), now()).is_new(),
        "gone for Rust too"
    );

    // An emptied row (a logout on either side leaves `{}`) is missing for Rust, whose
    // next write makes a new eid and re-sends the cookie.
    let mut s = open(&store, &config, Some(&cookie), now());
    s.insert("again", json!(true));
    let renewed = finish(&store, &config, &mut s).expect("a new eid, a new cookie");
    assert_ne!(eid_of(&s), eid);
    assert_eq!(
        inst.python("/read", Some(&renewed))["body"],
        json!({"again": true})
    );
}

fn python_eid(inst: &Instance, answer: &Value) -> i64 {
    let cookie = answer["session_cookie"].as_str().unwrap();
    let config = config();
    let id = config
        .format()
        .decode(config.session(), cookie.as_bytes())
        .unwrap()
        .id;
    let _ = inst;
    id.as_str().parse().unwrap()
}

/// The store, after checking that a keyed create is refused.
fn store_checked(inst: &Instance) -> CubicWebStore {
    let store = inst.store();
    let key = IdScheme::Hashed.key(&SessionId::parse("x").unwrap());
    assert!(store.create(&key, b"{}", 1.0, 0.0).is_err());
    store
}

/// Passwords CubicWeb hashed (sha512_crypt, 656,000 rounds) verify in Rust; wrong ones,
/// unknown logins and a deactivated account do not; a login updates
/// `cw_last_login_time` as CubicWeb's `UpdateLoginTimeAuthenticationPolicy` does.
fn logins(inst: &Instance) {
    let store = inst.store();
    let t = (now() * 1e6).round() / 1e6;
    let admin = store
        .authenticate("admin", ADMIN_PASSWORD, t)
        .unwrap()
        .unwrap();
    assert_eq!(
        (admin.login.as_str(), admin.groups.as_slice()),
        ("admin", &["managers".to_string()][..])
    );
    assert_eq!(store.groups(admin.eid).unwrap(), ["managers"]);
    assert_eq!(store.authenticate("admin", "gingkoW", t).unwrap(), None);
    assert_eq!(
        store.authenticate("nobody", ADMIN_PASSWORD, t).unwrap(),
        None
    );
    let alice = store
        .authenticate("alice", "pâss wörd 42", t)
        .unwrap()
        .unwrap();
    assert_eq!(json!(alice.eid), inst.meta["alice"]);
    assert_eq!(alice.groups, ["users"]);
    assert_eq!(
        store.authenticate("bob", "bob-secret", t).unwrap(),
        None,
        "bob is deactivated"
    );
    // CubicWeb reads the login time back (RQL, its own date handling).
    let times = peer(
        &inst.sources,
        &[
            "query",
            "Any L, T WHERE U login L, U last_login_time T, U login IN ('admin', 'alice', 'bob')",
        ],
    );
    let mut logged_in: Vec<&str> = Vec::new();
    for row in times.as_array().unwrap() {
        let Some(time) = row[1].as_str() else {
            continue;
        };
        logged_in.push(row[0].as_str().unwrap());
        // What Rust wrote, as CubicWeb reads it: `t`, in UTC.
        assert_eq!(time, iso_utc(t), "{row}");
    }
    logged_in.sort();
    assert_eq!(logged_in, ["admin", "alice"], "bob did not log in");
    let admin_time = inst.sql(&format!(
        "SELECT cw_last_login_time, cw_modification_date FROM cw_CWUser WHERE cw_eid = {}",
        admin.eid
    ));
    assert_eq!(admin_time[0][0], admin_time[0][1]);
}

/// `t` as Python's `datetime.isoformat()` of an aware UTC datetime.
fn iso_utc(t: f64) -> String {
    let us = (t * 1e6).round() as i64;
    let days = us.div_euclid(86_400_000_000);
    let rest = us.rem_euclid(86_400_000_000);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (s, frac) = (rest / 1_000_000, rest % 1_000_000);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    if frac != 0 {
        out.push_str(&format!(".{frac:06}"));
    }
    out.push_str("+00:00");
    out
}

/// N Rust writers incrementing one session through two store handles (two
/// connections) lose nothing; Python reads the total.
fn concurrent_writers(inst: &Instance) {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 25;
    let stores = [inst.store(), inst.store()];
    let config = Arc::new(config().with_max_retries(10_000));
    let t = now();
    let mut s = open(&stores[0], &config, None, t);
    s.insert("count", json!(0));
    let cookie = finish(&stores[0], &config, &mut s).unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|n| {
            let (store, config, cookie) = (
                stores[n as usize % 2].clone(),
                config.clone(),
                cookie.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    let mut s = open(&store, &config, Some(&cookie), now());
                    assert!(!s.is_new());
                    s.modify("count", |n| {
                        Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
                    });
                    driver::finish(&store, &config, &mut s, false, &mut OsRandom).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let read = inst.python("/read", Some(&cookie));
    assert_eq!(read["body"]["count"], THREADS * PER_THREAD);
}

/// The janitor deletes old rows with their meta rows, and only those.
fn janitor(inst: &Instance) {
    let store = inst.store();
    let config = config();
    let t = now();
    let mut s = open(&store, &config, None, t);
    s.insert("k", json!(1));
    let cookie = finish(&store, &config, &mut s).unwrap();
    let eid = eid_of(&s);
    let before = inst.sql("SELECT count(*) FROM cw_CWSession");
    // Nothing is old enough yet.
    assert_eq!(store.sweep(t).unwrap(), 0);
    let late = t + (options().timeout() + options().janitor_margin()).as_secs_f64() + 1.0;
    let swept = store.sweep(late).unwrap();
    assert!(swept >= 1, "{swept}");
    for table in [
        "cw_CWSession WHERE cw_eid",
        "entities WHERE eid",
        "is_relation WHERE eid_from",
        "is_instance_of_relation WHERE eid_from",
        "cw_source_relation WHERE eid_from",
    ] {
        assert_eq!(
            inst.sql(&format!("SELECT count(*) FROM {table} = {eid}")),
            json!([[0]]),
            "{table}"
        );
    }
    assert_ne!(before, json!([[0]]));
    // CubicWeb still works; the old cookie gives a fresh session on both sides.
    assert_eq!(inst.python("/read", Some(&cookie))["body"], json!({}));
    assert!(open(&store, &config, Some(&cookie), now()).is_new());
    // Users and other entities are untouched.
    assert_eq!(inst.sql("SELECT count(*) FROM cw_CWUser"), json!([[4]]));
}

mod sqlite {
    use super::*;

    #[test]
    fn python_session_continued_by_rust() {
        python_then_rust(&sqlite_instance());
    }

    #[test]
    fn rust_session_continued_by_python() {
        rust_then_python(&sqlite_instance());
    }

    #[test]
    fn password_logins() {
        let inst = sqlite_instance();
        logins(&inst);
        // The stored text is what Python's sqlite3 writes for CubicWeb's naive UTC
        // datetimes.
        let conn = rusqlite::Connection::open(&inst.db).unwrap();
        let text: String = conn
            .query_row(
                "SELECT cw_last_login_time FROM cw_CWUser WHERE cw_login = 'admin'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(is_python_datetime(&text), "{text}");
    }

    #[test]
    fn concurrent_rust_writers() {
        concurrent_writers(&sqlite_instance());
    }

    #[test]
    fn janitor_deletes_old_rows() {
        janitor(&sqlite_instance());
    }

    /// Rust writes dates in the text format CubicWeb's own rows have.
    #[test]
    fn dates_in_cubicwebs_format() {
        let inst = sqlite_instance();
        let made = inst.python("/fill", None);
        let python = python_eid(&inst, &made);
        let store = inst.store();
        let config = config();
        let mut s = open(&store, &config, None, now());
        s.insert("k", json!(1));
        finish(&store, &config, &mut s).unwrap();
        let rust = eid_of(&s);
        let conn = rusqlite::Connection::open(&inst.db).unwrap();
        for eid in [python, rust] {
            let (c, m, kind): (String, String, String) = conn
                .query_row(
                    "SELECT cw_creation_date, cw_modification_date, typeof(cw_cwsessiondata) \
                     FROM cw_CWSession WHERE cw_eid = ?1",
                    [eid],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert!(is_python_datetime(&c) && is_python_datetime(&m), "{c} {m}");
            assert_eq!(kind, "blob");
        }
    }

    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    fn is_python_datetime(text: &str) -> bool {
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        (b.len() == 19 || b.len() == 26)
            && digits(0..4)
            && b[4] == b'-'
            && b[10] == b' '
            && b[13] == b':'
            && digits(17..19)
            && (b.len() == 19 || (b[19] == b'.' && digits(20..26)))
    }
}

mod postgres {
    use super::*;
    use servers::PostgresServer;

    /// One cluster for the whole scenario list; CubicWeb makes the template database,
    /// each scenario gets a copy.
    #[test]
    fn real_cubicweb_on_postgres() {
        let server = PostgresServer::start();
        let meta = cw_instance::build_postgres_template(&server, "cwtemplate");
        type Scenario = (&'static str, fn(&Instance));
        let scenarios: [Scenario; 5] = [
            ("python_then_rust", python_then_rust),
            ("rust_then_python", rust_then_python),
            ("logins", logins),
            ("concurrent", concurrent_writers),
            ("janitor", janitor),
        ];
        for (name, scenario) in scenarios {
            let sub = TempDir::new("cubicweb-pg-db");
            let sources = cw_instance::pg_clone(&server, "cwtemplate", name, &sub.0);
            let inst = Instance {
                sources,
                meta: meta.clone(),
                db: server.url_for(name),
                postgres: true,
                _dir: sub,
            };
            scenario(&inst);
        }
    }
}
