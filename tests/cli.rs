//! The `pyramid-session` command-line tool: its interface is a contract for scripts.
//!
//! Checked against the recorded vectors and against the real Python WebOb, which the
//! test installs into a virtualenv under `target/` (PyPI must be reachable; set
//! `PYRAMID_SESSION_PYTHON` to a Python with `webob==1.8.11` to use your own).
#![cfg(feature = "cli")]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{text, vectors};
use serde_json::Value;

fn cli(args: &[String], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pyramid-session"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pyramid-session");
    // The tool may exit before reading stdin (e.g. a refused key): ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn key_args(secret: &str, salt: &str, hashalg: &str) -> Vec<String> {
    vec![
        format!("--secret={secret}"),
        format!("--salt={salt}"),
        format!("--hashalg={hashalg}"),
    ]
}

fn sign(keys: &[String], json: &str) -> String {
    let mut args = keys.to_vec();
    args.push("sign".into());
    let out = cli(&args, json.as_bytes());
    assert!(
        out.status.success(),
        "sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .strip_suffix('\n')
        .expect("a trailing newline")
        .to_string()
}

fn verify(keys: &[String], cookie: &str) -> Output {
    let mut args = keys.to_vec();
    args.extend(["verify".into(), "--".into(), cookie.into()]);
    cli(&args, b"")
}

#[test]
fn sign_and_verify_reproduce_the_vectors() {
    let v = vectors();
    let mut n = 0;
    for case in v["signed_serializer"].as_array().unwrap() {
        let (Some(salt), Some(secret)) = (text(&case["salt"]), text(&case["secret"])) else {
            continue;
        };
        let alg = case["hashalg"].as_str().unwrap();
        if pyramid_session::HashAlg::from_name(alg).is_err() {
            continue;
        }
        let keys = key_args(secret, salt, alg);
        let json_text = case["json_text"].as_str().unwrap();
        let cookie = case["cookie_value"].as_str().unwrap();
        assert_eq!(sign(&keys, json_text), cookie, "{}", case["id"]);
        // Any formatting on stdin gives the same cookie.
        let compact =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(json_text).unwrap())
                .unwrap();
        assert_eq!(sign(&keys, &compact), cookie, "{}", case["id"]);
        let out = verify(&keys, cookie);
        assert!(out.status.success());
        assert_eq!(out.stdout, format!("{json_text}\n").into_bytes());
        n += 1;
    }
    assert!(n >= 40, "{n}");
}

#[test]
fn verify_failures_exit_1_with_a_reason() {
    let keys = key_args("seekrit", "pyramid.session.", "sha512");
    let good = sign(&keys, r#"{"a": 1}"#);
    let mut tampered = good.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(tampered).unwrap(),
        format!("{good}x"),
        String::new(),
        "-abc".into(),
    ] {
        let out = verify(&keys, &bad);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pyramid-session: "));
    }
    let wrong = key_args("other", "pyramid.session.", "sha512");
    assert_eq!(verify(&wrong, &good).status.code(), Some(1));
    // Rotation: an old secret still verifies when listed after the new one.
    let mut rotated = vec!["--secret=new".to_string()];
    rotated.extend(keys.clone());
    assert!(verify(&rotated, &good).status.success());
}

#[test]
fn secrets_and_salts_may_start_with_a_dash_or_be_empty() {
    let keys = vec![
        "--secret".to_string(),
        "-dash".into(),
        "--salt".into(),
        "-s".into(),
    ];
    let cookie = sign(&keys, "[1, 2.5, {}]");
    let ring =
        pyramid_session::Keyring::new(pyramid_session::HashAlg::Sha512, "-s", &["-dash"]).unwrap();
    assert_eq!(ring.sign(b"[1, 2.5, {}]"), cookie);
    // WebOb allows an empty secret (the key is the salt alone); the tool does too.
    let empty_secret = key_args("", "pyramid.session.", "sha256");
    let ring = pyramid_session::Keyring::from_keys(
        pyramid_session::HashAlg::Sha256,
        &[b"pyramid.session."],
    )
    .unwrap();
    assert_eq!(sign(&empty_secret, "{}"), ring.sign(b"{}"));
    assert_eq!(
        cli(
            &["--secret=".into(), "--salt=".into(), "sign".into()],
            b"{}"
        )
        .status
        .code(),
        Some(1),
        "an all-empty key is refused"
    );
}

#[test]
fn inspect_and_keygen() {
    let keys = key_args("seekrit", "pyramid.session.", "sha512");
    let cookie = sign(&keys, r#"[1700000000, 1700000000.25, {"a": 1}]"#);
    let mut args = keys.clone();
    args.extend([
        "inspect".into(),
        cookie.clone(),
        "--now".into(),
        "1700001200.5".into(),
    ]);
    let out = cli(&args, b"");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        text.contains("created:    1700000000.25 (Tue, 14-Nov-2023 22:13:20 GMT)"),
        "{text}"
    );
    assert!(text.contains("expired:    yes (timeout 1200 s)"), "{text}");
    assert!(text.contains("\"a\": 1"), "{text}");
    let mut args = keys.clone();
    args.extend([
        "inspect".into(),
        cookie,
        "--now=1700000060".into(),
        "--reissue-time=120".into(),
    ]);
    let text = String::from_utf8(cli(&args, b"").stdout).unwrap();
    assert!(
        text.contains("expired:    no") && text.contains("reissue:    not due"),
        "{text}"
    );

    let a = cli(&["keygen".into()], b"");
    let b = cli(&["keygen".into()], b"");
    assert!(a.status.success());
    assert_eq!(
        a.stdout.len(),
        87,
        "64 bytes of urlsafe base64 and a newline"
    );
    assert_ne!(a.stdout, b.stdout);
}

#[test]
fn keygen_refuses_sizes_outside_32_to_1024() {
    let keygen = |bytes: &str| cli(&["keygen".into(), format!("--bytes={bytes}")], b"");
    // (No multi-GiB case: if the check regressed, the test would allocate it.)
    for bytes in ["1025", "65536", &usize::MAX.to_string(), "0", "31"] {
        let out = keygen(bytes);
        assert_eq!(out.status.code(), Some(1), "{bytes}");
        assert!(out.stdout.is_empty(), "{bytes}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("pyramid-session: ") && err.contains("32") && err.contains("1024"),
            "{bytes}: {err}"
        );
    }
    for (bytes, len) in [("32", 43), ("1024", 1366)] {
        let out = keygen(bytes);
        assert!(out.status.success(), "{bytes}");
        assert_eq!(out.stdout.len(), len + 1, "{bytes}");
    }
}

#[test]
fn sign_refuses_values_its_verify_refuses() {
    let keys = key_args("seekrit", "pyramid.session.", "sha512");
    let mut args = keys.clone();
    args.push("sign".into());
    // 4098 and 4222 characters: over the 4096 `verify` (and browsers) accept.
    for n in [3007, 3100] {
        let json = format!("\"{}\"", "x".repeat(n));
        let out = cli(&args, json.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{n}");
        assert!(out.stdout.is_empty(), "{n}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("pyramid-session: ") && err.contains("4096"),
            "{n}: {err}"
        );
    }
    // At the limit it is signed, and its own verify takes it (WebOb's SignedSerializer
    // makes such values; only Pyramid's sessions refuse them, over 4064).
    let cookie = sign(&keys, &format!("\"{}\"", "x".repeat(3006)));
    assert_eq!(cookie.len(), 4096);
    assert!(verify(&keys, &cookie).status.success());
}

/// Runs the tool with `PYRAMID_SESSION_SECRET` set to `env` (or removed).
fn cli_env(args: &[String], stdin: &[u8], env: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pyramid-session"));
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match env {
        Some(secret) => command.env("PYRAMID_SESSION_SECRET", secret),
        None => command.env_remove("PYRAMID_SESSION_SECRET"),
    };
    let mut child = command.spawn().expect("run pyramid-session");
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn stdout_line(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn secrets_from_a_file_or_the_environment() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-secrets");
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, content: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        format!("--secret-file={}", path.display())
    };
    let want = sign(&key_args("seekrit", "pyramid.session.", "sha512"), "{}");
    let sign_with = |keys: &[String], env: Option<&str>| {
        let mut args = keys.to_vec();
        args.push("sign".into());
        cli_env(&args, b"{}", env)
    };
    // One trailing newline (LF or CRLF) is stripped; the rest is the secret.
    for content in [&b"seekrit\n"[..], b"seekrit", b"seekrit\r\n"] {
        let out = sign_with(&[file("s", content)], None);
        assert_eq!(stdout_line(&out), format!("{want}\n"), "{content:?}");
    }
    let out = sign_with(&[file("s", b"seekrit\n\n")], None);
    assert_ne!(stdout_line(&out), format!("{want}\n"));
    // The environment, when the command line names no secret.
    let out = sign_with(&[], Some("seekrit"));
    assert_eq!(stdout_line(&out), format!("{want}\n"));
    let mut args = vec!["verify".to_string(), want.clone()];
    assert!(cli_env(&args, b"", Some("seekrit")).status.success());
    args.insert(0, file("s", b"seekrit\n"));
    assert!(cli_env(&args, b"", None).status.success());
    // The command line wins over the environment.
    let out = sign_with(&["--secret=seekrit".into()], Some("other"));
    assert_eq!(stdout_line(&out), format!("{want}\n"));
    let out = sign_with(&[file("s", b"seekrit\n")], Some("other"));
    assert_eq!(stdout_line(&out), format!("{want}\n"));
    // Rotation with files: the first signs, all verify.
    let out = sign_with(&[file("new", b"new\n"), file("s", b"seekrit\n")], None);
    assert_ne!(stdout_line(&out), format!("{want}\n"));
    let args = [
        file("new", b"new\n"),
        file("s", b"seekrit\n"),
        "verify".into(),
        want.clone(),
    ];
    assert!(cli_env(&args, b"", None).status.success());
    // Exactly one source: both kinds on the command line, none at all, a missing or
    // unreadable file, an empty environment variable are clear errors.
    let missing = format!("--secret-file={}", dir.join("missing").display());
    for (keys, env, needle) in [
        (
            vec!["--secret=seekrit".into(), file("s", b"x\n")],
            None,
            "--secret-file",
        ),
        (vec![], None, "PYRAMID_SESSION_SECRET"),
        (vec![missing], None, "missing"),
        (vec![file("bin", b"\xff\n")], None, "UTF-8"),
        (vec![], Some(""), "PYRAMID_SESSION_SECRET"),
    ] {
        let out = sign_with(&keys, env);
        assert_eq!(out.status.code(), Some(1), "{keys:?} {env:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("pyramid-session: ") && err.contains(needle),
            "{keys:?} {env:?}: {err}"
        );
    }
    // Keygen needs no secret; --help documents the rule.
    assert!(cli_env(&["keygen".into()], b"", None).status.success());
    let help = stdout_line(&cli_env(&["--help".into()], b"", None));
    assert!(
        help.contains("--secret-file") && help.contains("PYRAMID_SESSION_SECRET"),
        "{help}"
    );
}

/// A Python with webob 1.8.11 and pyramid 2.1: `PYRAMID_SESSION_PYTHON`, or a virtualenv
/// this test creates under `target/`.
fn python() -> PathBuf {
    if let Ok(python) = std::env::var("PYRAMID_SESSION_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(".ready");
    if !ready.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "python3 -m venv failed: install python3 and python3-venv (Debian packages)"
        );
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "webob==1.8.11",
                "pyramid==2.1",
            ])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "pip install webob==1.8.11 pyramid==2.1 failed (is PyPI reachable?)"
        );
        std::fs::write(&ready, b"").unwrap();
    }
    python
}

#[test]
fn interop_with_real_webob() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/webob_cases.py");
    let out = Command::new(python())
        .args([script, "20261128", "150"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut n = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| case[k].as_str().unwrap();
        let keys = key_args(s("secret"), s("salt"), s("hashalg"));
        // Python's cookie verifies, with Python's exact payload bytes.
        let out = verify(&keys, s("cookie"));
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", s("json_text")),
            "{line}"
        );
        // Signing the same value, however it was formatted, gives Python's cookie.
        assert_eq!(sign(&keys, s("compact")), s("cookie"), "{line}");
        // A one-character change is refused.
        let mut bad = s("cookie").as_bytes().to_vec();
        let i = bad.len() / 2;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            verify(&keys, std::str::from_utf8(&bad).unwrap())
                .status
                .code(),
            Some(1),
            "{line}"
        );
        n += 1;
    }
    assert_eq!(n, 150);
}

#[test]
fn inspect_prints_the_librarys_verdict() {
    let keys = key_args("seekrit", "pyramid.session.", "sha512");
    let cookie = sign(&keys, r#"[1700000000, 1600000000.5, {"a": 1}]"#);
    let run = |extra: &[&str]| {
        let mut args = keys.clone();
        args.extend(["inspect".into(), cookie.clone()]);
        if !extra.iter().any(|a| a.starts_with("--now")) {
            args.push("--now=1700000060".into());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = cli(&args, b"");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(&[]);
    assert!(text.contains("verdict:    valid"), "{text}");
    // Refused by the library's own rules, which inspect no longer ignores.
    let text = run(&["--max-lifetime=86400"]);
    assert!(text.contains("verdict:    lifetime exceeded"), "{text}");
    assert!(text.contains("reissue:    not due"), "{text}");
    let text = run(&["--not-before=1650000000"]);
    assert!(text.contains("verdict:    revoked"), "{text}");
    let text = run(&["--now=1699999000", "--max-future-skew=60"]);
    assert!(text.contains("verdict:    from the future"), "{text}");
    let text = run(&["--now=1700001300"]);
    assert!(text.contains("verdict:    idle timeout exceeded"), "{text}");
    assert!(text.contains("expired:    yes"), "{text}");
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sign_session_makes_the_cookie_pyramid_sends() {
    use pyramid_session::{CookieSession, SessionConfig};
    // The same state at the same time through the library: Pyramid's own cookie.
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let mut session = CookieSession::load(&config, None, 1_700_000_000.25);
    session.insert("a", serde_json::json!(1));
    let expected = session.signed_value(&config).unwrap();
    let out = cli(
        &args(&[
            "--secret=seekrit",
            "sign",
            "--session",
            "--now=1700000000.25",
        ]),
        br#"{"a": 1}"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), expected);
    // `inspect` reads it as a session; a bare `sign` of the state is not one.
    let out = cli(
        &args(&["--secret=seekrit", "inspect", "--now=1700000001", &expected]),
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict:    valid"));
    let bare = sign(&args(&["--secret=seekrit"]), r#"{"a": 1}"#);
    let out = cli(&args(&["--secret=seekrit", "inspect", &bare]), b"");
    assert_eq!(out.status.code(), Some(1));
    // --session wants an object; --now wants --session.
    let out = cli(&args(&["--secret=s", "sign", "--session"]), b"[1, 2]");
    assert_eq!(out.status.code(), Some(1));
    let out = cli(&args(&["--secret=s", "sign", "--now=1"]), b"{}");
    assert_eq!(out.status.code(), Some(2), "a usage error");
}

#[test]
fn cookies_pasted_from_a_browser_and_salt_presets() {
    let value = sign(&args(&["--secret=s"]), r#"[1, 2, {}]"#);
    for pasted in [
        value.clone(),
        format!("session={value}"),
        format!(" session={value}; "),
    ] {
        let out = cli(&args(&["--secret=s", "verify", &pasted]), b"");
        assert!(out.status.success(), "{pasted}");
        assert_eq!(out.stdout, b"[1, 2, {}]\n");
    }
    let out = cli(&args(&["--secret=s", "verify", "session=garbage"]), b"");
    assert_eq!(out.status.code(), Some(1));
    // Presets name the salts of the known formats.
    let redis = sign(
        &args(&["--secret=s", "--salt=pyramid_session_redis."]),
        "\"id\"",
    );
    let preset = sign(
        &args(&["--secret=s", "--preset=pyramid-session-redis"]),
        "\"id\"",
    );
    assert_eq!(redis, preset);
    let plain = sign(&args(&["--secret=s", "--preset=cubicweb"]), "\"id\"");
    assert_eq!(plain, sign(&args(&["--secret=s"]), "\"id\""));
    let out = cli(
        &args(&["--secret=s", "--preset=pyramid", "--salt=x", "sign"]),
        b"1",
    );
    assert_eq!(out.status.code(), Some(2), "--preset and --salt conflict");
}

#[test]
fn a_closed_pipe_ends_the_tool_quietly() {
    // `keygen` into a reader that has already gone: no "Broken pipe" message, status 0.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pyramid-session"))
        .args(["keygen", "--bytes=1024"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.status.success(), "{:?}", out.status);
}
