//! End-to-end: the demo (`examples/demo.rs`) as a peer of a real CubicWeb 5.0.1
//! instance (cubicweb-web 1.6.2, pyramid 1.10.8). Both serve HTTP: the Python instance
//! is the Pyramid app CubicWeb builds from the instance's `pyramid.ini`
//! (`config_from_cwconfig`, under waitress: `tests/interop/cubicweb_peer.py serve`), and
//! the demo is started with the same `pyramid.ini` and the same database. One cookie
//! jar talks to both, as one browser talks to two apps of one site.
//!
//! Deployments, each with `cubicweb.pyramid.auth` (CubicWeb's AuthTkt login policies):
//!
//! - **database sessions** (`cubicweb.pyramid.session`, `cw_CWSession` rows), on SQLite
//!   and on PostgreSQL: the demo with `--store cubicweb+...` and `--base-url`;
//! - **pickled cookie sessions** (`cubicweb.pyramid.default_session`, the CubicWeb 5
//!   template's), SQLite users: `--store cubicweb+sqlite:` names the users' database;
//! - **pyramid_session_redis** (`pyramid.includes = pyramid_session_redis`), SQLite
//!   users: `--store pyramid_session_redis+redis://...` and `--cubicweb-db`. pip refuses
//!   to install pyramid_session_redis 1.8.1 beside CubicWeb (it declares `pyramid>=2`,
//!   CubicWeb 5.0.1 `pyramid<2`), but its code runs on pyramid 1.10.8: the Python app
//!   loads it, and the redis client, from the pyramid 2.1 virtualenv without its
//!   metadata, so the real CubicWeb login policies run on the real pyramid_session_redis.
//!
//! The instance database is the cached template of `tests/cw_instance` (SQLite: built
//! once, kept under `target/`; PostgreSQL: built once per run), copied per deployment.
// Test harness code: wall-clock time and real processes.
#![allow(clippy::disallowed_methods)]

mod cw_instance;
mod demo;
mod python;
mod servers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cw_instance::{ALICE_PASSWORD, BASE_URL};
use demo::{Client, Demo, Reply};
use serde_json::{json, Value};
use servers::TempDir;

const SESSION_SECRET: &str = "cw session secret";
const AUTHTKT_SESSION_SECRET: &str = "authtkt session secret";
const AUTHTKT_PERSISTENT_SECRET: &str = "authtkt persistent secret";
const REDIS_SECRET: &str = "cw redis session secret";

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The instance's `pyramid.ini`, as CubicWeb 5's template writes it (`pyramid.ini.tmpl`:
/// the comment inside `cubicweb.includes`, `secure = no` for both login cookies), with
/// `session` the session factory's include line(s), if any.
fn pyramid_ini(session: &str) -> String {
    format!(
        "[main]\n\
         cubicweb.includes =\n  \
         # Warning: Everything added here will be added before every includeme of every cubes.\n  \
         cubicweb.pyramid.auth\n\
         {session}\
         cubicweb.session.secret = {SESSION_SECRET}\n\
         cubicweb.pyramid.enable_csrf = yes\n\
         cubicweb.auth.authtkt.session.secret = {AUTHTKT_SESSION_SECRET}\n\
         cubicweb.auth.authtkt.persistent.secret = {AUTHTKT_PERSISTENT_SECRET}\n\
         cubicweb.auth.authtkt.session.secure = no\n\
         cubicweb.auth.authtkt.persistent.secure = no\n"
    )
}

/// The real instance served by waitress on a free port.
struct PythonApp {
    port: u16,
    child: Child,
}

impl PythonApp {
    /// Serves the instance of `sources` with the `pyramid.ini` of `home`; `pythonpath`
    /// adds packages.
    fn start(home: &Path, sources: &Path, pythonpath: Option<&Path>) -> PythonApp {
        let port = demo::free_port();
        let mut command = Command::new(python::python(python::CUBICWEB5));
        command
            .arg(cw_instance::PEER)
            .arg(home)
            .arg("serve")
            .arg(sources)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(path) = pythonpath {
            command.env("PYTHONPATH", path);
        }
        let mut child = command.spawn().expect("start the CubicWeb instance");
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the CubicWeb instance exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the CubicWeb instance did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        PythonApp { port, child }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PythonApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a logout leaves replayable: with server-side sessions (the database, Redis) the
/// old cookies are anonymous; a pickled cookie session still holds the ticket, so its
/// old cookies log back in, in Python as in the demo.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sessions {
    Database,
    Cookie,
    Redis,
}

/// The Python instance and the demo, sharing the database and the session store.
struct Peers {
    python: PythonApp,
    demo: Demo,
    sessions: Sessions,
    alice: i64,
    /// The instance's sources file (for SQL through CubicWeb).
    sources: PathBuf,
    _home: TempDir,
}

impl Peers {
    // -- Python -----------------------------------------------------------------------

    /// `GET /auth` on Python: `{"userid", "login", "groups", "last_login_time"}`.
    fn py_auth(&self, c: &mut Client) -> Value {
        let r = c.get(&self.python.url("/auth"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// A POST to Python with the CSRF token CubicWeb wants (its `csrf_token` cookie).
    fn py_post(&self, c: &mut Client, path: &str, form: &[(&str, &str)]) -> Reply {
        if !c.cookies.contains_key("csrf_token") {
            self.py_auth(c);
        }
        let token = c.cookies["csrf_token"].clone();
        let mut form = form.to_vec();
        form.push(("csrf_token", &token));
        c.post_form(&self.python.url(path), &form)
    }

    /// Python's password login form: `__login`, `__password`, `__setauthcookie=1` for
    /// "remember me".
    fn py_login(&self, c: &mut Client, login: &str, password: &str, persistent: bool) -> Reply {
        let mut form = vec![("__login", login), ("__password", password)];
        if persistent {
            form.push(("__setauthcookie", "1"));
        }
        self.py_post(c, "/login", &form)
    }

    /// Python's session values (tagged JSON: tuples, objects).
    fn py_session(&self, c: &mut Client) -> Value {
        let r = c.get(&self.python.url("/session"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    fn py_session_post(&self, c: &mut Client, path: &str) -> Value {
        let r = self.py_post(c, path, &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    // -- the demo ---------------------------------------------------------------------

    fn demo_auth(&self, c: &mut Client) -> Value {
        let r = c.get(&self.demo.url("/api/auth"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    fn demo_login(&self, c: &mut Client, login: &str, password: &str, persistent: bool) -> Reply {
        let mut form = vec![("login", login), ("password", password)];
        if persistent {
            form.push(("persistent", "1"));
        }
        c.post_form(&self.demo.url("/api/login"), &form)
    }

    fn demo_session(&self, c: &mut Client) -> Value {
        let r = c.get(&self.demo.url("/api/session"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    fn demo_increment(&self, c: &mut Client) -> Value {
        let r = c.post_form(&self.demo.url("/api/increment"), &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["count"].clone()
    }

    // -- both -------------------------------------------------------------------------

    /// Both peers answer that `c` is alice (groups `users`).
    fn both_see_alice(&self, c: &mut Client, context: &str) {
        let py = self.py_auth(c);
        assert_eq!(
            (&py["userid"], &py["login"], &py["groups"]),
            (&json!(self.alice), &json!("alice"), &json!(["users"])),
            "Python, {context}: {py}"
        );
        assert_eq!(
            self.demo_auth(c),
            json!({"userid": self.alice, "groups": ["users"]}),
            "the demo, {context}"
        );
    }

    /// Both peers answer that `c` is anonymous.
    fn both_anonymous(&self, c: &mut Client, context: &str) {
        let py = self.py_auth(c);
        assert_eq!(py["userid"], Value::Null, "Python, {context}: {py}");
        assert_eq!(
            self.demo_auth(c),
            json!({"userid": null, "groups": []}),
            "the demo, {context}"
        );
    }

    /// After a logout: the old cookies replayed.
    fn replayed(&self, stolen: &Client, context: &str) {
        let mut replay = stolen.clone();
        match self.sessions {
            Sessions::Database | Sessions::Redis => {
                self.both_anonymous(&mut replay, &format!("{context}, old cookies replayed"))
            }
            // The documented limit of cookie sessions: the old cookie still holds the
            // ticket, and Python logs it back in as the demo does.
            Sessions::Cookie => {
                self.both_see_alice(&mut replay, &format!("{context}, old cookies replayed"))
            }
        }
    }
}

/// The login cookie of a login: `pauth_tkt` ("remember me") or `auth_tkt`, never both.
fn assert_login_cookie(c: &Client, persistent: bool) {
    let (present, absent) = if persistent {
        ("pauth_tkt", "auth_tkt")
    } else {
        ("auth_tkt", "pauth_tkt")
    };
    assert!(
        c.cookies.contains_key(present) && !c.cookies.contains_key(absent),
        "{:?}",
        c.cookies.keys()
    );
    assert!(c.cookies.contains_key("session"), "{:?}", c.cookies.keys());
}

/// The eid in CubicWeb's id cookie: signed `[accessed, created, {"sessioneid": eid}]`,
/// readable (signed, not encrypted).
fn session_eid(c: &Client) -> i64 {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&c.cookies["session"])
        .unwrap();
    let payload: Value = serde_json::from_slice(&raw[64..]).unwrap();
    // An integer, as CubicWeb writes it.
    payload[2]["sessioneid"]
        .as_i64()
        .unwrap_or_else(|| panic!("{payload}"))
}

fn assert_logged_out_cookies(c: &Client) {
    for name in ["auth_tkt", "pauth_tkt"] {
        assert!(!c.cookies.contains_key(name), "{name}: {:?}", c.cookies);
    }
}

// -- scenarios --------------------------------------------------------------------------

/// Log in on Python (session or persistent cookie) → the demo sees alice; log out on the
/// demo → both answer anonymous, and so do the old cookies (server-side sessions).
fn python_login_demo_logout(p: &Peers, persistent: bool) {
    let mut c = Client::new();
    p.both_anonymous(&mut c, "before any login");
    let r = p.py_login(&mut c, "alice", ALICE_PASSWORD, persistent);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_login_cookie(&c, persistent);
    p.both_see_alice(&mut c, "after Python's login");
    // Still alice for Python after the demo's requests (and their reissues, if any).
    p.both_see_alice(&mut c, "again");

    let stolen = c.clone();
    let r = c.post_form(&p.demo.url("/api/logout"), &[]);
    assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
    assert_logged_out_cookies(&c);
    p.both_anonymous(&mut c, "after the demo's logout");
    p.replayed(&stolen, "after the demo's logout");
}

/// Log in on the demo (session or persistent cookie) → Python sees alice, with her
/// `last_login_time` the demo wrote; log out on Python → both answer anonymous, and so
/// do the old cookies (server-side sessions).
fn demo_login_python_logout(p: &Peers, persistent: bool) {
    let mut c = Client::new();
    let before = now();
    let r = p.demo_login(&mut c, "alice", ALICE_PASSWORD, persistent);
    assert_eq!((r.status, r.json()), (200, json!({"userid": p.alice})));
    assert_login_cookie(&c, persistent);
    p.both_see_alice(&mut c, "after the demo's login");
    let last = p.py_auth(&mut c)["last_login_time"].as_f64().unwrap();
    assert!(
        last >= before - 0.001 && last <= now(),
        "last_login_time {last}, login at {before}"
    );
    if p.sessions == Sessions::Database {
        // The demo's session row, as CubicWeb reads it: `cw_cwuri` from `--base-url`.
        let eid = session_eid(&c);
        let rows = cw_instance::peer(
            &p.sources,
            &[
                "sql",
                &format!("SELECT cw_cwuri FROM cw_CWSession WHERE cw_eid = {eid}"),
            ],
        );
        assert_eq!(rows, json!([[format!("{BASE_URL}{eid}")]]));
    }

    let stolen = c.clone();
    let r = p.py_post(&mut c, "/logout", &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_logged_out_cookies(&c);
    p.both_anonymous(&mut c, "after Python's logout");
    p.replayed(&stolen, "after Python's logout");
}

/// Wrong passwords, unknown logins and a deactivated account are refused by both.
fn refused_logins(p: &Peers) {
    for (login, password) in [
        ("alice", "pâss wörd 43"),
        ("alice", ""),
        ("nobody", ALICE_PASSWORD),
        // Deactivated (its password is right).
        ("bob", "bob-secret"),
    ] {
        let mut c = Client::new();
        let r = p.demo_login(&mut c, login, password, false);
        assert_eq!(
            (r.status, r.json()),
            (403, json!({"error": "authentication failed"})),
            "the demo, {login}"
        );
        assert_logged_out_cookies(&c);
        let r = p.py_login(&mut c, login, password, false);
        assert_eq!(r.status, 403, "Python, {login}: {}", r.body);
        assert_logged_out_cookies(&c);
        p.both_anonymous(&mut c, login);
    }
}

/// What Python's `/fill` stores (`cubicweb_peer.py`): tuples, non-ASCII text, a yams
/// `ValidationError` (a pickled object), the count.
fn assert_filled(state: &Value, count: u64) {
    assert_eq!(
        state["pending_insert"],
        json!([{"$tuple": [1234, "in_group", 5678]}, {"$tuple": [1234, "in_group", 5679]}]),
        "{state}"
    );
    assert_eq!(state["msg"], "Modifications enregistrées — ✓", "{state}");
    assert_eq!(
        state["form_errors"],
        json!({"$object": "yams._exceptions.ValidationError",
               "repr": "ValidationError(1234, {'login': 'required field'})"}),
        "{state}"
    );
    assert_eq!(state["count"], count, "{state}");
    assert!(
        state["authentication_ticket"]
            .as_str()
            .is_some_and(|t| t.starts_with("authticket_")),
        "{state}"
    );
}

/// Session values both ways: Python's values (tuples, a pickled `ValidationError`) read
/// by the demo and kept through its read-modify-writes; the demo's writes read by Python.
fn values_both_ways(p: &Peers) {
    let mut c = Client::new();
    let r = p.py_login(&mut c, "alice", ALICE_PASSWORD, false);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_filled(&p.py_session_post(&mut c, "/fill"), 1);

    // The demo reads Python's count and increments it (a read-modify-write of the whole
    // pickled state); Python reads every value back, the object and tuples intact.
    assert_eq!(p.demo_session(&mut c), json!({"user": null, "count": 1}));
    assert_eq!(p.demo_increment(&mut c), json!(2));
    assert_filled(&p.py_session(&mut c), 2);
    p.both_see_alice(&mut c, "after the demo's write");

    // Python's write, read by the demo.
    assert_filled(&p.py_session_post(&mut c, "/incr"), 3);
    assert_eq!(p.demo_session(&mut c), json!({"user": null, "count": 3}));

    // The demo's own login (`user=`, a new session id, the values moved along).
    let r = c.post_form(&p.demo.url("/api/login"), &[("user", "ada")]);
    assert_eq!((r.status, r.json()), (200, json!({"user": "ada"})));
    let state = p.py_session(&mut c);
    assert_filled(&state, 3);
    assert_eq!(state["user"], "ada", "{state}");
    assert_eq!(p.demo_session(&mut c), json!({"user": "ada", "count": 3}));
    p.both_see_alice(&mut c, "after the demo's user= login");
}

/// Concurrent demo writers on one session lose nothing, and Python reads the total
/// with its own values intact.
fn concurrent_demo_writers(p: &Peers) {
    const WRITERS: usize = 4;
    const EACH: u64 = 8;
    let mut c = Client::new();
    let r = p.py_login(&mut c, "alice", ALICE_PASSWORD, false);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_filled(&p.py_session_post(&mut c, "/fill"), 1);
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            let mut writer = c.clone();
            scope.spawn(move || {
                for _ in 0..EACH {
                    let r = writer.post_form(&p.demo.url("/api/increment"), &[]);
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            });
        }
    });
    let total = 1 + WRITERS as u64 * EACH;
    assert_eq!(p.demo_session(&mut c)["count"], total);
    assert_filled(&p.py_session(&mut c), total);
    p.both_see_alice(&mut c, "after the concurrent writes");
}

/// A named scenario.
type Scenario<'a> = (&'static str, &'a dyn Fn(&Peers));

/// Runs the scenarios, naming each on stderr.
fn run(p: &Peers, scenarios: &[Scenario<'_>]) {
    for (name, scenario) in scenarios {
        let start = Instant::now();
        scenario(p);
        eprintln!(
            "cubicweb_e2e {:?}: {name} ok ({:.1} s)",
            p.sessions,
            start.elapsed().as_secs_f64()
        );
    }
}

fn every_scenario(p: &Peers) {
    let mut scenarios: Vec<Scenario<'_>> = vec![
        ("python login (auth_tkt) / demo logout", &|p| {
            python_login_demo_logout(p, false)
        }),
        ("python login (pauth_tkt) / demo logout", &|p| {
            python_login_demo_logout(p, true)
        }),
        ("demo login (auth_tkt) / python logout", &|p| {
            demo_login_python_logout(p, false)
        }),
        ("demo login (pauth_tkt) / python logout", &|p| {
            demo_login_python_logout(p, true)
        }),
        ("refused logins", &refused_logins),
        ("values both ways, form error kept", &values_both_ways),
    ];
    // Cookie sessions cannot merge concurrent writes: each request carries its own copy.
    if p.sessions != Sessions::Cookie {
        scenarios.push(("concurrent demo writers", &concurrent_demo_writers));
    }
    run(p, &scenarios);
}

/// An instance home with `ini` as its `pyramid.ini`.
fn home_with(ini: &str) -> TempDir {
    let home = TempDir::new("cubicweb-home");
    cw_instance::make_apphome(&home.0);
    std::fs::write(home.0.join("pyramid.ini"), ini).unwrap();
    home
}

fn ini_path(home: &TempDir) -> String {
    home.0.join("pyramid.ini").to_str().unwrap().to_string()
}

fn alice_of(meta: &Value) -> i64 {
    meta["alice"].as_i64().unwrap()
}

/// pyramid_session_redis 1.8.1 and its redis client, from the pyramid 2.1 virtualenv,
/// in a directory for `PYTHONPATH` (without pyramid 2.1 itself).
fn pyramid_session_redis_path(dir: &Path) -> PathBuf {
    let python = python::python(python::PYRAMID21_REDIS);
    let venv = python.parent().unwrap().parent().unwrap();
    let lib = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
        })
        .expect("the pyramid 2.1 virtualenv's lib/python3.*");
    let overlay = dir.join("pyramid-session-redis");
    std::fs::create_dir_all(&overlay).unwrap();
    for package in ["pyramid_session_redis", "redis"] {
        let target = lib.join("site-packages").join(package);
        assert!(target.is_dir(), "{} is missing", target.display());
        std::os::unix::fs::symlink(&target, overlay.join(package)).unwrap();
    }
    overlay
}

mod sqlite {
    use super::*;

    /// The peer's flags are checked at start-up; without `cubicweb.pyramid.auth` the
    /// demo serves CubicWeb's database sessions with its own logins only, and its API
    /// says so.
    #[test]
    fn peer_flags_and_sessions_without_logins() {
        let dir = TempDir::new("cubicweb-e2e-flags");
        let (_, db, meta) = cw_instance::sqlite_copy(&dir.0);
        let home = home_with(&pyramid_ini("  cubicweb.pyramid.session\n"));
        let ini = ini_path(&home);
        let store = format!("cubicweb+sqlite:{}", db.display());
        let missing = format!("cubicweb+sqlite:{}", dir.0.join("none.sqlite").display());
        let cases: [(&[&str], &str); 4] = [
            (&["--ini", &ini, "--store", &store], "--base-url"),
            (
                &["--ini", &ini, "--store", &missing, "--base-url", BASE_URL],
                "no CubicWeb database there",
            ),
            (
                &[
                    "--ini",
                    &ini,
                    "--store",
                    "cubicweb+mysql://h/db",
                    "--base-url",
                    BASE_URL,
                ],
                "unknown CubicWeb database",
            ),
            (&["--store", "memory", "--cubicweb-db", &store], "--ini"),
        ];
        for (args, needle) in cases {
            let out = Command::new(demo::binary())
                .args(args)
                .env("XDG_DATA_HOME", &dir.0)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.starts_with("demo: ") && err.contains(needle),
                "{args:?}: {err}"
            );
        }

        let no_logins = home_with(
            &pyramid_ini("  cubicweb.pyramid.session\n").replace("  cubicweb.pyramid.auth\n", ""),
        );
        let demo = Demo::start(&[
            "--ini",
            &ini_path(&no_logins),
            "--store",
            &store,
            "--base-url",
            BASE_URL,
        ]);
        let mut c = Client::new();
        let r = c.post_form(
            &demo.url("/api/login"),
            &[("login", "alice"), ("password", ALICE_PASSWORD)],
        );
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not configured"));
        let r = c.get(&demo.url("/api/auth"));
        assert_eq!(r.json(), json!({"userid": null, "groups": []}));
        // The demo's own login, in a new `cw_CWSession` row.
        let r = c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
        assert_eq!((r.status, r.json()), (200, json!({"user": "ada"})));
        assert!(session_eid(&c) > meta["bob"].as_i64().unwrap());
        assert_eq!(
            c.get(&demo.url("/api/session")).json(),
            json!({"user": "ada", "count": 0})
        );
    }

    /// CubicWeb's database sessions (`cubicweb.pyramid.session`) on SQLite.
    #[test]
    fn database_sessions() {
        let dir = TempDir::new("cubicweb-e2e");
        let (sources, db, meta) = cw_instance::sqlite_copy(&dir.0);
        let home = home_with(&pyramid_ini("  cubicweb.pyramid.session\n"));
        let python = PythonApp::start(&home.0, &sources, None);
        let store = format!("cubicweb+sqlite:{}", db.display());
        let demo = Demo::start(&[
            "--ini",
            &ini_path(&home),
            "--store",
            &store,
            "--base-url",
            BASE_URL,
        ]);
        every_scenario(&Peers {
            python,
            demo,
            sessions: Sessions::Database,
            alice: alice_of(&meta),
            sources,
            _home: home,
        });
    }

    /// The CubicWeb 5 template's pickled cookie sessions
    /// (`cubicweb.pyramid.default_session`); `--store cubicweb+sqlite:` is the users'
    /// database.
    #[test]
    fn pickled_cookie_sessions() {
        let dir = TempDir::new("cubicweb-e2e");
        let (sources, db, meta) = cw_instance::sqlite_copy(&dir.0);
        let home = home_with(&pyramid_ini("  cubicweb.pyramid.default_session\n"));
        let python = PythonApp::start(&home.0, &sources, None);
        let store = format!("cubicweb+sqlite:{}", db.display());
        let demo = Demo::start(&["--ini", &ini_path(&home), "--store", &store]);
        every_scenario(&Peers {
            python,
            demo,
            sessions: Sessions::Cookie,
            alice: alice_of(&meta),
            sources,
            _home: home,
        });
    }

    /// pyramid_session_redis sessions in Redis; `--cubicweb-db` is the users' database.
    #[test]
    fn pyramid_session_redis_sessions() {
        let redis = servers::RedisServer::start();
        let dir = TempDir::new("cubicweb-e2e");
        let (sources, db, meta) = cw_instance::sqlite_copy(&dir.0);
        let ini = format!(
            "{}pyramid.includes = pyramid_session_redis\n\
             redis.sessions.secret = {REDIS_SECRET}\n\
             redis.sessions.redis_url = {}\n\
             redis.sessions.prefix = cw:\n",
            pyramid_ini(""),
            redis.url()
        );
        let home = home_with(&ini);
        let overlay = pyramid_session_redis_path(&dir.0);
        let python = PythonApp::start(&home.0, &sources, Some(&overlay));
        let store = format!("pyramid_session_redis+{}", redis.url());
        let users = format!("cubicweb+sqlite:{}", db.display());
        let demo = Demo::start(&[
            "--ini",
            &ini_path(&home),
            "--store",
            &store,
            "--cubicweb-db",
            &users,
        ]);
        let peers = Peers {
            python,
            demo,
            sessions: Sessions::Redis,
            alice: alice_of(&meta),
            sources,
            _home: home,
        };
        every_scenario(&peers);
        // Every session is pyramid_session_redis's key, with the ini's prefix.
        let keys = redis.keys("*");
        assert!(
            !keys.is_empty() && keys.iter().all(|k| k.starts_with("cw:")),
            "{keys:?}"
        );
    }
}

mod postgres {
    use super::*;
    use servers::PostgresServer;

    /// CubicWeb's database sessions (`cubicweb.pyramid.session`) on PostgreSQL.
    #[test]
    fn database_sessions() {
        let server = PostgresServer::start();
        let meta = cw_instance::build_postgres_template(&server, "cwtemplate");
        let dir = TempDir::new("cubicweb-e2e-pg");
        let sources = cw_instance::pg_clone(&server, "cwtemplate", "e2e", &dir.0);
        let home = home_with(&pyramid_ini("  cubicweb.pyramid.session\n"));
        let python = PythonApp::start(&home.0, &sources, None);
        let store = format!("cubicweb+{}", server.url_for("e2e"));
        let demo = Demo::start(&[
            "--ini",
            &ini_path(&home),
            "--store",
            &store,
            "--base-url",
            BASE_URL,
        ]);
        every_scenario(&Peers {
            python,
            demo,
            sessions: Sessions::Database,
            alice: alice_of(&meta),
            sources,
            _home: home,
        });
    }
}
