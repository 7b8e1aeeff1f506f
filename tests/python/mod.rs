//! Virtualenvs of the real Python packages the peer tests run against, built under
//! `target/` on first use (PyPI must be reachable then) and reused afterwards.
//!
//! `PYRAMID_SESSION_VENV_<NAME>` (e.g. `PYRAMID_SESSION_VENV_PYRAMID110`) points a test at
//! an existing virtualenv instead. A missing `python3` or a failed `pip install` fails
//! the test, never skips it.

#![allow(dead_code)]
// A test helper at the edge: it waits for a build lock by the wall clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Pyramid 1.10.8 (what CubicWeb runs) and WebOb 1.8.11; pyramid 1.10 imports
/// `pkg_resources`, so setuptools is pinned too.
pub const PYRAMID110: (&str, &[&str]) = (
    "pyramid110",
    &["pyramid==1.10.8", "webob==1.8.11", "setuptools==65.5.0"],
);

/// Pyramid 2.1 with pyramid_session_redis 1.8.1 (which requires `pyramid>=2`) and a Redis
/// client.
pub const PYRAMID21_REDIS: (&str, &[&str]) = (
    "pyramid21-redis",
    &[
        "pyramid==2.1",
        "webob==1.8.11",
        "pyramid_session_redis==1.8.1",
        "redis==5.2.1",
    ],
);

/// The real CubicWeb 5.0.1 with cubicweb-web 1.6.2 on pyramid 1.10.8 (and psycopg2 for
/// PostgreSQL instances): the exact pins of the virtualenv that made the spec's data.
pub const CUBICWEB5: (&str, &[&str]) = (
    "cubicweb5",
    &[
        "-r",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/requirements-cw5.txt"
        ),
    ],
);

/// The Python interpreter of the virtualenv `(name, requirements)`, built if needed.
pub fn python(venv: (&str, &[&str])) -> PathBuf {
    let (name, requirements) = venv;
    let var = format!(
        "PYRAMID_SESSION_VENV_{}",
        name.to_uppercase().replace('-', "_")
    );
    if let Ok(dir) = std::env::var(&var) {
        return Path::new(&dir).join("bin/python");
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let dir = target.join(format!("venv-{name}"));
    let python = dir.join("bin/python");
    let ready = dir.join(".ready");
    let wanted = requirements.join("\n");
    if std::fs::read_to_string(&ready).ok().as_deref() == Some(wanted.as_str()) {
        return python;
    }
    // One builder at a time, across test binaries and threads: `mkdir` is atomic.
    std::fs::create_dir_all(&target).unwrap();
    let lock = target.join(format!("venv-{name}.lock"));
    let start = Instant::now();
    while std::fs::create_dir(&lock).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "{} held for 15 minutes: remove it if no build is running",
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let built = (|| {
        if std::fs::read_to_string(&ready).ok().as_deref() == Some(wanted.as_str()) {
            return Ok(());
        }
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .map_err(|e| {
                format!("python3 not found ({e}): apt-get install python3 python3-venv")
            })?;
        if !status.success() {
            return Err("python3 -m venv failed: apt-get install python3-venv".to_string());
        }
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(requirements)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!(
                "pip install {} failed (is PyPI reachable?)",
                requirements.join(" ")
            ));
        }
        std::fs::write(&ready, &wanted).map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_dir(&lock);
    if let Err(e) = built {
        panic!("virtualenv {name}: {e}");
    }
    python
}

/// Runs `script` (Python source) with `args` in the virtualenv; returns its stdout.
/// A failing script fails the test with its stderr.
pub fn run(venv: (&str, &[&str]), script: &str, args: &[&str]) -> String {
    let out = Command::new(python(venv))
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
