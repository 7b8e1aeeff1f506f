//! `pyramid-session pickle decode` / `pickle encode`: the interface is a contract for
//! scripts. Replays `tests/data/pickles.json` (made by CPython 3.11) through the built
//! binary, checks the tagged JSON against the corpus's own typed trees (not against the
//! library), and pipes a value through the real CPython on `PATH` (`python3`; a missing
//! `python3` fails the test, as in `tests/pickle_python.rs`).
#![cfg(feature = "cli")]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Number, Value};

/// Runs the tool without any secret in the environment.
fn cli(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pyramid-session"))
        .args(args)
        .env_remove("PYRAMID_SESSION_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pyramid-session");
    // The tool may exit before reading stdin (e.g. a refused protocol): ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// The stdout of a run that must succeed with nothing on stderr.
fn ok(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{what}");
    out.stdout
}

/// A refusal: exit 1, nothing on stdout, one `pyramid-session: ` line on stderr.
fn assert_refused(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}: stdout {:?}", out.stdout);
    assert!(
        err.starts_with("pyramid-session: ") && err.ends_with('\n') && err.lines().count() == 1,
        "{what}: stderr {err:?}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// The printed tagged JSON: exactly one line, parsed keeping big ints and float text.
fn json_line(stdout: &[u8], what: &str) -> Value {
    let text = std::str::from_utf8(stdout).unwrap();
    let line = text.strip_suffix('\n').expect("a trailing newline");
    assert!(!line.contains('\n'), "{what}: more than one line");
    let value: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        serde_json::to_string(&value).unwrap(),
        line,
        "{what}: not compact"
    );
    value
}

fn corpus() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pickles.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Code points as UTF-8 with surrogates encoded like any other (Python's
/// `encode("utf-8", "surrogatepass")`).
fn surrogatepass(points: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in points {
        let c = p.as_u64().unwrap() as u32;
        match c {
            0..=0x7f => out.push(c as u8),
            0x80..=0x7ff => out.extend([0xc0 | (c >> 6) as u8, 0x80 | (c & 0x3f) as u8]),
            0x800..=0xffff => out.extend([
                0xe0 | (c >> 12) as u8,
                0x80 | ((c >> 6) & 0x3f) as u8,
                0x80 | (c & 0x3f) as u8,
            ]),
            _ => out.extend([
                0xf0 | (c >> 18) as u8,
                0x80 | ((c >> 12) & 0x3f) as u8,
                0x80 | ((c >> 6) & 0x3f) as u8,
                0x80 | (c & 0x3f) as u8,
            ]),
        }
    }
    out
}

/// The one `$tag` of a one-key object, and its content.
fn tag(j: &Value) -> Option<(&str, &Value)> {
    let map = j.as_object()?;
    let (k, v) = map.iter().next()?;
    (map.len() == 1 && k.starts_with('$')).then_some((k.as_str(), v))
}

/// Whether the printed tagged JSON is the corpus's typed tree (the tagged format of
/// `src/pickle/tagged.rs`, checked independently of the library; sets in any order).
fn matches(t: &Value, j: &Value) -> bool {
    let (name, x) = t.as_object().unwrap().iter().next().unwrap();
    let all = |xs: &Value, js: &Value| {
        let (Some(xs), Some(js)) = (xs.as_array(), js.as_array()) else {
            return false;
        };
        xs.len() == js.len() && xs.iter().zip(js).all(|(x, j)| matches(x, j))
    };
    let unordered = |xs: &Value, js: &Value| {
        let (Some(xs), Some(js)) = (xs.as_array(), js.as_array()) else {
            return false;
        };
        xs.len() == js.len() && xs.iter().all(|x| js.iter().any(|j| matches(x, j)))
    };
    let tagged = tag(j);
    match (name.as_str(), tagged) {
        ("none", None) => j.is_null(),
        ("bool", None) => j.as_bool() == x.as_bool(),
        // Digit for digit (`arbitrary_precision` keeps the text).
        ("int", None) => j.as_number().map(Number::as_str) == x.as_str(),
        // Python's repr, or a `$float` tag for what JSON has no number for.
        ("float", None) => j.as_number().map(Number::as_str) == x.as_str(),
        ("float", Some(("$float", s))) => s.as_str() == x.as_str(),
        ("str", None) => t.get("utf8_surrogatepass_hex").is_none() && j.as_str() == x.as_str(),
        ("str", Some(("$str", points))) => t.get("utf8_surrogatepass_hex").is_some_and(|h| {
            unhex(h.as_str().unwrap()) == surrogatepass(points.as_array().unwrap())
        }),
        ("bytes", Some(("$bytes", h))) | ("bytearray", Some(("$bytearray", h))) => {
            h.as_str() == x.as_str()
        }
        ("list", None) => all(x, j),
        ("tuple", Some(("$tuple", items))) => all(x, items),
        ("set", Some(("$set", items))) | ("frozenset", Some(("$frozenset", items))) => {
            unordered(x, items)
        }
        ("dict", Some(("$dict", pairs))) => {
            let (xs, Some(pairs)) = (x.as_array().unwrap(), pairs.as_array()) else {
                return false;
            };
            xs.len() == pairs.len()
                && xs.iter().zip(pairs).all(|(kv, pair)| {
                    pair.as_array().is_some_and(|p| p.len() == 2)
                        && matches(&kv[0], &pair[0])
                        && matches(&kv[1], &pair[1])
                })
        }
        ("dict", None) => {
            let (xs, Some(map)) = (x.as_array().unwrap(), j.as_object()) else {
                return false;
            };
            xs.len() == map.len()
                && xs.iter().zip(map).all(|(kv, (k, v))| {
                    kv[0]["str"].as_str() == Some(k.as_str())
                        && kv[0].get("utf8_surrogatepass_hex").is_none()
                        && matches(&kv[1], v)
                })
        }
        ("object", Some(("$object", o))) => {
            let name = format!(
                "{}.{}",
                o["module"].as_str().unwrap_or_default(),
                o["name"].as_str().unwrap_or_default()
            );
            x.as_str() == Some(name.as_str())
        }
        _ => false,
    }
}

fn has_object(t: &Value) -> bool {
    match t {
        Value::Object(m) => m.contains_key("object") || m.values().any(has_object),
        Value::Array(a) => a.iter().any(has_object),
        _ => false,
    }
}

#[test]
fn benign_cases_decode_to_their_tree_and_reencode_byte_exactly() {
    let corpus = corpus();
    let benign = corpus["benign"].as_array().unwrap();
    let (mut exact, mut refused_opaque) = (0, 0);
    for case in benign {
        let id = case["id"].as_str().unwrap();
        let hex = case["hex"].as_str().unwrap();
        let bytes = unhex(hex);
        let protocol = case["protocol"].as_u64().unwrap();
        let opaque = case["expect"] == "accept_opaque";
        let plain = !has_object(&case["tree"]);
        let decode_args: &[&str] = if opaque {
            &["pickle", "decode", "--hex", "--allow-opaque"]
        } else {
            &["pickle", "decode", "--hex"]
        };
        let line = ok(cli(decode_args, hex.as_bytes()), id);
        let json = json_line(&line, id);
        assert!(matches(&case["tree"], &json), "{id}: {json}");
        // Raw bytes on stdin give the same line.
        let raw_args: Vec<&str> = decode_args
            .iter()
            .copied()
            .filter(|a| *a != "--hex")
            .collect();
        assert_eq!(ok(cli(&raw_args, &bytes), id), line, "{id}: raw input");
        if opaque && !plain {
            // Objects are refused unless --allow-opaque. (The corpus's other
            // `accept_opaque` cases are bytes, bytearray and sets written through
            // `_codecs.encode`, `bytearray`, `set` on old protocols: the reader's
            // allow-list maps them back to plain data, without the flag.)
            assert_refused(&cli(&["pickle", "decode", "--hex"], hex.as_bytes()), id);
            refused_opaque += 1;
        } else {
            assert_eq!(
                ok(cli(&["pickle", "decode", "--hex"], hex.as_bytes()), id),
                line,
                "{id}"
            );
        }
        if ![2, 4, 5].contains(&protocol) {
            continue;
        }
        let p = protocol.to_string();
        let again = ok(
            cli(&["pickle", "encode", "--protocol", &p, "--hex"], &line),
            id,
        );
        let again = std::str::from_utf8(&again).unwrap();
        let again = again.strip_suffix('\n').expect("a trailing newline");
        assert!(
            again
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{id}: not lowercase hex"
        );
        let raw = ok(cli(&["pickle", "encode", "--protocol", &p], &line), id);
        assert_eq!(raw, unhex(again), "{id}: raw output");
        if case["redump_identical"] == true || plain {
            assert_eq!(again, hex, "{id}: re-encoding differs");
            exact += 1;
        }
        // Whatever was written reads back to the same value.
        assert_eq!(ok(cli(decode_args, again.as_bytes()), id), line, "{id}");
    }
    // Byte-exact: the 19 + 18 + 16 `accept` cases at protocols 5, 4 and 2, and the
    // bytes, bytearray and sets cases of protocol 2 and bytearray of protocol 4, which
    // the allow-list maps back to plain data. Refused without --allow-opaque: the six
    // protocols of `datetime_value` and of `cw_validation_error_forminfo`.
    assert_eq!((exact, refused_opaque), (57, 12));
}

#[test]
fn hostile_cases_exit_1_with_one_line() {
    let corpus = corpus();
    let mut refused = 0;
    for case in corpus["hostile"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let hex = case["hex"].as_str().unwrap();
        let out = cli(&["pickle", "decode", "--hex"], hex.as_bytes());
        if id == "float_text_p0_nan" {
            // Mislabelled in the corpus: `Fnan\n` is how protocol 0 writes float('nan'),
            // CPython loads it (see tests/pickle_vectors.rs).
            assert_eq!(ok(out, id), b"{\"$float\":\"nan\"}\n");
            continue;
        }
        assert_refused(&out, id);
        assert_refused(&cli(&["pickle", "decode"], &unhex(hex)), id);
        refused += 1;
    }
    assert_eq!(refused, corpus["hostile"].as_array().unwrap().len() - 1);
}

#[test]
fn bad_inputs_exit_1_with_one_line() {
    let encode = |protocol: &str, stdin: &str| {
        cli(
            &["pickle", "encode", "--protocol", protocol],
            stdin.as_bytes(),
        )
    };
    for (protocol, stdin) in [
        ("4", r#"{"$nope": 1}"#),
        ("4", "["),
        ("4", ""),
        ("4", "1 2"),
        ("4", r#"{"$bytes": "0"}"#),
        ("4", r#"{"$bytes": "zz"}"#),
        ("4", r#"{"$tuple": 1}"#),
        ("4", r#"{"$set": [[1]]}"#),
        ("4", r#"{"$dict": [[{"$set": []}, 1]]}"#),
        ("4", r#"{"$float": "NaN"}"#),
        ("4", r#"{"$str": [1114112]}"#),
        ("4", &format!("{}1{}", "[".repeat(150), "]".repeat(150))),
        ("3", "1"),
        ("0", "1"),
        ("1", "1"),
        ("6", "1"),
        ("x", "1"),
        ("", "1"),
        ("04", "1"),
    ] {
        assert_refused(
            &encode(protocol, stdin),
            &format!("--protocol {protocol:?} {stdin:?}"),
        );
    }
    for (args, stdin) in [
        (&["--hex"][..], &b"800"[..]),
        (&["--hex"], b"80 04"),
        (&["--hex"], b"0x"),
        (&["--hex"], b"80044b01"),
        (&["--hex"], b""),
        (&[], b""),
        (&[], b"\x80\x04K"),
        (&[], b"\x80\x04\x95"),
        (&["--allow-opaque"], b"\x80\x06K\x01."),
    ] {
        let mut all = vec!["pickle", "decode"];
        all.extend(args);
        assert_refused(&cli(&all, stdin), &format!("{args:?} {stdin:?}"));
    }
}

#[test]
fn ints_floats_and_hex_input_are_kept_exactly() {
    let big = format!("1{}", "0".repeat(400));
    let json = format!(
        r#"{{"n":1267650600228229401496703205376,"m":-{big},"f":0.1,"e":1e+16,"one":1.0,"tiny":5e-324,"neg0":-0.0,"i":[0,-1,255]}}"#
    );
    for protocol in ["2", "4", "5"] {
        let bytes = ok(
            cli(
                &["pickle", "encode", "--protocol", protocol],
                json.as_bytes(),
            ),
            protocol,
        );
        let line = ok(cli(&["pickle", "decode"], &bytes), protocol);
        assert_eq!(String::from_utf8(line).unwrap(), format!("{json}\n"));
    }
    // Any formatting on stdin, and hex with surrounding whitespace in either case.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&json).unwrap()).unwrap();
    let hex = ok(
        cli(
            &["pickle", "encode", "--protocol", "4", "--hex"],
            pretty.as_bytes(),
        ),
        "pretty",
    );
    let hex = String::from_utf8(hex).unwrap();
    let padded = format!("\n\t  {}  \r\n", hex.trim().to_uppercase());
    let line = ok(
        cli(&["pickle", "decode", "--hex"], padded.as_bytes()),
        "padded",
    );
    assert_eq!(String::from_utf8(line).unwrap(), format!("{json}\n"));
}

#[test]
fn pickle_needs_no_secret() {
    // `cli` removes PYRAMID_SESSION_SECRET; an empty one (an error for sign) is ignored too.
    let out = Command::new(env!("CARGO_BIN_EXE_pyramid-session"))
        .args(["pickle", "decode", "--hex"])
        .env("PYRAMID_SESSION_SECRET", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"80044b012e")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(ok(out, "empty env"), b"1\n");
    assert_eq!(
        ok(
            cli(&["pickle", "encode", "--protocol=2", "--hex"], b"null"),
            "encode"
        ),
        b"80024e2e\n"
    );
    // --help documents the subcommand and the tagged forms.
    let help = String::from_utf8(ok(cli(&["--help"], b""), "help")).unwrap();
    assert!(
        help.contains("pickle") && help.contains("pickle decode --hex"),
        "{help}"
    );
    let help = String::from_utf8(ok(cli(&["pickle", "--help"], b""), "help")).unwrap();
    assert!(
        help.contains("decode") && help.contains("encode") && help.contains("$tuple"),
        "{help}"
    );
    let help = String::from_utf8(ok(cli(&["pickle", "decode", "--help"], b""), "help")).unwrap();
    assert!(
        help.contains("--allow-opaque") && help.contains("--hex"),
        "{help}"
    );
}

fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 not found ({e}): apt-get install python3"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    String::from_utf8(out.stdout).unwrap()
}

const VALUE: &str = r#"{"t": (1, "é"), "b": b"\x00", "n": 2**100, "f": 0.1, "s": {1}}"#;

#[test]
fn a_cpython_value_round_trips_through_the_cli() {
    let dumped = python(
        &format!("import pickle; print(pickle.dumps({VALUE}, 4).hex())"),
        "",
    );
    let out = ok(
        cli(&["pickle", "decode", "--hex"], dumped.as_bytes()),
        "decode",
    );
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "{\"t\":{\"$tuple\":[1,\"é\"]},\"b\":{\"$bytes\":\"00\"},\
         \"n\":1267650600228229401496703205376,\"f\":0.1,\"s\":{\"$set\":[1]}}\n"
    );
    let ours = ok(
        cli(&["pickle", "encode", "--protocol", "4", "--hex"], &out),
        "encode",
    );
    let ours = String::from_utf8(ours).unwrap();
    assert_eq!(ours.trim(), dumped.trim(), "the bytes CPython wrote");
    let verdict = python(
        &format!(
            "import pickle, sys\n\
             v = {VALUE}\n\
             ours = bytes.fromhex(sys.stdin.read().strip())\n\
             w = pickle.loads(ours)\n\
             assert w == v, w\n\
             assert [type(w[k]) for k in v] == [type(v[k]) for k in v], w\n\
             assert list(w) == list(v), w\n\
             assert pickle.dumps(v, 4) == ours, pickle.dumps(v, 4).hex()\n\
             print('ok')"
        ),
        &ours,
    );
    assert_eq!(verdict, "ok\n");
}
