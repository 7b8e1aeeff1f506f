//! The real CubicWeb 5.0.1 instance of the CubicWeb tests (`tests/cubicweb_store.rs`,
//! `tests/cubicweb_e2e.rs`): its database made by CubicWeb itself
//! (`tests/interop/cubicweb_peer.py build`: `cubicweb.devtools`' configuration,
//! `init_repository`, as the spec's `gen_cw_real_flows.py`), on SQLite and PostgreSQL.
//!
//! The SQLite template is built once under `target/cubicweb-instance/` and kept across
//! runs (bump [`TEMPLATE_VERSION`] when the builder changes); each test copies it. On
//! PostgreSQL a test builds a template database once per run
//! ([`build_postgres_template`]) and clones it with `CREATE DATABASE ... TEMPLATE`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::python;
use crate::servers::{PostgresServer, TempDir};

pub const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/cubicweb_peer.py"
);
/// The instance's `base-url` (`cubicweb.devtools`' default).
pub const BASE_URL: &str = "https://testing.cubicweb/";
/// The devtools admin's password.
pub const ADMIN_PASSWORD: &str = "gingkow";
/// alice's password (the builder's; group `users`).
pub const ALICE_PASSWORD: &str = "pâss wörd 42";
/// Bump it when the instance the builder makes changes (the cached template is rebuilt).
pub const TEMPLATE_VERSION: &str = "v1";

pub fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cubicweb-instance")
}

/// An instance home: `bootstrap_cubes` is empty (no cubes).
pub fn make_apphome(home: &Path) {
    std::fs::create_dir_all(home).unwrap();
    let cubes = home.join("bootstrap_cubes");
    if !cubes.exists() {
        std::fs::write(&cubes, "").unwrap();
    }
}

/// The shared instance home of the one-shot peer commands.
pub fn apphome() -> PathBuf {
    let home = target().join("home");
    make_apphome(&home);
    home
}

/// Runs a one-shot command of the peer script; its stdout's last line as JSON.
pub fn peer(sources: &Path, args: &[&str]) -> Value {
    let out = Command::new(python::python(python::CUBICWEB5))
        .arg(PEER)
        .arg(apphome())
        .arg(args[0])
        .arg(sources)
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cubicweb_peer.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A lock across test binaries and threads (`mkdir` is atomic).
pub fn locked<T>(name: &str, f: impl FnOnce() -> T) -> T {
    std::fs::create_dir_all(target()).unwrap();
    let lock = target().join(format!("{name}.lock"));
    let start = Instant::now();
    while std::fs::create_dir(&lock).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "{} held for 15 minutes: remove it if no build is running",
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let _ = std::fs::remove_dir(&lock);
    result.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Writes the `system` source of a sources file into `dir`.
pub fn write_sources(dir: &Path, system: Value) -> PathBuf {
    let path = dir.join("sources.json");
    std::fs::write(&path, system.to_string()).unwrap();
    path
}

/// A fresh copy of the SQLite instance database (built once, kept under `target/`), in
/// `dir`: its sources file, the database file and what the builder printed (the
/// `CWSession` type's eid, the `system` source's, alice's and bob's).
pub fn sqlite_copy(dir: &Path) -> (PathBuf, PathBuf, Value) {
    let template = target().join(format!("sqlite-{TEMPLATE_VERSION}"));
    let db = template.join("db.sqlite");
    let meta_file = template.join("meta.json");
    locked("sqlite-template", || {
        if meta_file.exists() {
            return;
        }
        let _ = std::fs::remove_dir_all(&template);
        std::fs::create_dir_all(&template).unwrap();
        let sources = write_sources(
            &template,
            json!({"db-driver": "sqlite", "db-name": db.to_str().unwrap()}),
        );
        let meta = peer(&sources, &["build"]);
        std::fs::write(&meta_file, meta.to_string()).unwrap();
    });
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(&meta_file).unwrap()).unwrap();
    let copy = dir.join("db.sqlite");
    std::fs::copy(&db, &copy).unwrap();
    let sources = write_sources(
        dir,
        json!({"db-driver": "sqlite", "db-name": copy.to_str().unwrap()}),
    );
    (sources, copy, meta)
}

/// Runs SQL as the cluster's superuser.
pub fn pg_admin(server: &PostgresServer, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
    });
}

/// The `system` source of database `name` on `server`.
pub fn pg_system(server: &PostgresServer, name: &str) -> Value {
    json!({"db-driver": "postgres", "db-host": "127.0.0.1", "db-port": server.port.to_string(),
           "db-user": "postgres", "db-password": null, "db-name": name})
}

/// CubicWeb makes the instance database `name` on `server` (to be cloned with
/// [`pg_clone`]); what the builder printed.
pub fn build_postgres_template(server: &PostgresServer, name: &str) -> Value {
    let dir = TempDir::new("cubicweb-pg");
    pg_admin(server, &format!("CREATE DATABASE {name}"));
    let sources = write_sources(&dir.0, pg_system(server, name));
    peer(&sources, &["build"])
}

/// A copy `name` of the template database `template`; its sources file in `dir`.
pub fn pg_clone(server: &PostgresServer, template: &str, name: &str, dir: &Path) -> PathBuf {
    pg_admin(
        server,
        &format!("CREATE DATABASE {name} TEMPLATE {template}"),
    );
    write_sources(dir, pg_system(server, name))
}
