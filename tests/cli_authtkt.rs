//! `pyramid-session authtkt verify` and `authtkt sign` (a contract) against the tickets
//! and decisions of the real pyramid 1.10.8 and 2.1 (`tests/data/authtkt_vectors.json`).

use std::process::Command;

use serde_json::Value;

/// Identify cases Python accepts through its lenient `int()` and that Rust refuses (the
/// library's documented deviations, `tests/authtkt_vectors.rs`).
const IDENTIFY_DEVIATIONS: [&str; 7] = [
    "timestamp_0x_prefix",
    "timestamp_plus_sign",
    "timestamp_underscore",
    "timestamp_spaces",
    "userid_type_int_spaces",
    "userid_type_int_underscore",
    "userid_type_int_arabic_digits",
];

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/authtkt_vectors.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cli(args: &[String]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pyramid-session"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The text of a tagged `{"type": "str", "value": ...}` vector value.
fn text(v: &Value) -> Option<String> {
    (v["type"] == "str").then(|| v["value"].as_str().unwrap().to_string())
}

/// `--secret`, `--hashalg` and `--include-ip` for a case's configuration, or `None` when
/// the CLI cannot express it (a bytes secret, a legacy hash).
fn key_args(config: &Value, remote_addr: &str) -> Option<Vec<String>> {
    let secret = match config.get("secret") {
        Some(s) => text(s)?,
        None => "seekrit".into(),
    };
    if secret.is_empty() {
        return None;
    }
    let hashalg = config["hashalg"].as_str().unwrap_or("sha512");
    if !["sha512", "sha384", "sha256", "sha224"].contains(&hashalg) {
        return None;
    }
    let mut args = vec![
        format!("--secret={secret}"),
        format!("--hashalg={hashalg}"),
        "authtkt".into(),
    ];
    if config["include_ip"] == true {
        args.push(format!("--include-ip={remote_addr}"));
    }
    Some(args)
}

#[test]
fn verify_decides_as_pyramid_identify() {
    let v = vectors();
    let mut checked = 0;
    for version in ["1.10.8", "2.1"] {
        for case in v["by_pyramid_version"][version]["identify"]
            .as_array()
            .unwrap()
        {
            let id = case["id"].as_str().unwrap();
            let Some(value) = case["parsed_request_cookie"].as_str() else {
                continue;
            };
            let config = &case["config"];
            let remote_addr = case["request"]["remote_addr"].as_str().unwrap();
            let Some(mut args) = key_args(config, remote_addr) else {
                continue;
            };
            args.push("verify".into());
            args.push(format!("--now={}", case["now"]));
            for (key, flag) in [("timeout", "--timeout"), ("reissue_time", "--reissue-time")] {
                if let Some(n) = config[key].as_u64() {
                    args.push(format!("{flag}={n}"));
                }
            }
            args.push("--".into());
            args.push(value.into());
            let (code, out, err) = cli(&args);
            let ctx = format!("{version} {id}: {out}{err}");
            match &case["result"] {
                Value::Object(result) => {
                    if IDENTIFY_DEVIATIONS.contains(&id) {
                        assert_eq!(code, 1, "{ctx}");
                        continue;
                    }
                    assert_eq!(code, 0, "{ctx}");
                    let got: Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(got["timestamp"], result["timestamp"], "{ctx}");
                    assert_eq!(got["tokens"], result["tokens"], "{ctx}");
                    assert_eq!(got["user_data"], result["userdata"], "{ctx}");
                    let userid = &result["userid"];
                    match userid["type"].as_str().unwrap() {
                        "int" => assert_eq!(
                            got["userid"].to_string(),
                            userid["decimal"].as_str().unwrap(),
                            "{ctx}"
                        ),
                        "str" => assert_eq!(got["userid"], userid["value"], "{ctx}"),
                        _ => {}
                    }
                    assert_eq!(got["expired"], false, "{ctx}");
                    // (A forget or remember later in those requests cancelled the reissue
                    // `identify` decided.)
                    let cancelled = ["reissue_then_forget", "reissue_then_remember"];
                    let reissued = case["reissued"] == true || cancelled.contains(&id);
                    assert_eq!(got["reissue"], reissued, "{ctx}");
                }
                // Python found no identity (or raised): refused, or authentic but expired.
                _ => {
                    if code == 0 {
                        let got: Value = serde_json::from_str(&out).unwrap();
                        assert_eq!(got["expired"], true, "{ctx}");
                        assert_eq!(got["reissue"], false, "{ctx}");
                    } else {
                        assert_eq!(code, 1, "{ctx}");
                        assert_eq!(err.lines().count(), 1, "{ctx}");
                        assert!(err.starts_with("pyramid-session: ticket refused"), "{ctx}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 120, "{checked}");
}

#[test]
fn sign_writes_the_value_of_pyramid_remember() {
    let v = vectors();
    let mut checked = 0;
    for version in ["1.10.8", "2.1"] {
        for case in v["by_pyramid_version"][version]["remember"]
            .as_array()
            .unwrap()
        {
            let Some(set_cookie) = case["set_cookie"].as_array().and_then(|l| l.first()) else {
                continue;
            };
            let config = &case["config"];
            let remote_addr = case["request"]["remote_addr"].as_str().unwrap();
            let Some(mut args) = key_args(config, remote_addr) else {
                continue;
            };
            let userid = &case["userid"];
            let (value, kind) = match userid["type"].as_str().unwrap() {
                "int" => (userid["decimal"].as_str().unwrap().to_string(), "int"),
                "str" => (userid["value"].as_str().unwrap().to_string(), "b64unicode"),
                _ => continue,
            };
            args.extend([
                "sign".into(),
                format!("--userid={value}"),
                format!("--userid-type={kind}"),
                format!("--now={}", case["now"]),
            ]);
            let tokens = case["remember_kwargs"]["tokens"].as_array();
            for token in tokens.into_iter().flatten() {
                let Some(t) = token.as_str() else { continue };
                args.push(format!("--token={t}"));
            }
            let expected = set_cookie
                .as_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1;
            let (code, out, err) = cli(&args);
            let ctx = format!("{version} {}: {err}", case["id"]);
            assert_eq!(code, 0, "{ctx}");
            assert_eq!(out.trim_end(), expected, "{ctx}");
            // And the value verifies back to its userid (before 2106: a 9-digit hex
            // timestamp never verifies, in Pyramid either).
            if case["now"].as_f64().unwrap() >= 4_294_967_296.0 {
                checked += 1;
                continue;
            }
            let mut back = key_args(config, remote_addr).unwrap();
            back.extend(["verify".into(), "--".into(), out.trim_end().into()]);
            let (code, shown, err) = cli(&back);
            assert_eq!(code, 0, "{ctx} {err}");
            let shown: Value = serde_json::from_str(&shown).unwrap();
            assert_eq!(shown["userid_type"], kind, "{ctx}");
            checked += 1;
        }
    }
    assert!(checked >= 60, "{checked}");
    // Refusals: one line, exit 1.
    for args in [
        vec![
            "--secret=s",
            "authtkt",
            "sign",
            "--userid=x",
            "--userid-type=int",
        ],
        vec![
            "--secret=s",
            "authtkt",
            "sign",
            "--userid=1",
            "--token=1bad",
        ],
        vec!["--secret=s", "--hashalg=md5", "authtkt", "verify", "x"],
        vec!["--secret=s", "authtkt", "verify", "not a ticket"],
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let (code, out, err) = cli(&args);
        assert_eq!((code, out.as_str()), (1, ""), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}
