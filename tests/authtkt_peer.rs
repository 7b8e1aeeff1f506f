//! The real `AuthTktAuthenticationPolicy` of pyramid 1.10.8 and of pyramid 2.1 (from
//! PyPI, in the virtualenvs of `tests/python`) as peers of `pyramid_session::authtkt`:
//! for CubicWeb's session and persistent policies and an `include_ip` one (IPv4 and
//! IPv6), userids of every type (eids, negative and 71-bit ints, non-ASCII and empty
//! text, bytes) and zero to three tokens (two and more quoted by WebOb):
//! - Python's and Rust's `remember` write the same `Set-Cookie` headers, byte for byte;
//! - Rust identifies Python's tickets, and Python Rust's, with the same identity, the
//!   same reissue headers (after 120 s / a day) and the same expiry (after 1200 s).

// Test harness code times its own waits (the virtualenv builder); the crate does not.
#![allow(clippy::disallowed_methods)]

mod python;

use pyramid_session::authtkt::{AuthTktHelper, DomainStyle, UserId};
use serde_json::{json, Value};

const SCRIPT: &str = include_str!("interop/authtkt_peer.py");
const TOKEN: &str = "authticket_Zeb0BVCPa4iJlxf7LvZJUOzKlO2uiKAea4TCYLzogPq2NLHZcS";
const HOST: &str = "testing.cubicweb:8080";
const T: f64 = 1_700_000_000.25;

fn configs() -> Vec<(Value, &'static str)> {
    vec![
        (
            json!({"secret": "authtkt-session-s\u{e9}cret", "cookie_name": "auth_tkt", "timeout": 1200,
                   "reissue_time": 120, "http_only": true, "secure": true, "hashalg": "sha512"}),
            "192.0.2.10",
        ),
        (
            json!({"secret": "authtkt-persistent", "cookie_name": "pauth_tkt", "max_age": 2592000,
                   "reissue_time": 86400, "http_only": true, "secure": true, "hashalg": "sha512"}),
            "192.0.2.10",
        ),
        (
            json!({"secret": "ip-bound", "include_ip": true, "timeout": 1200, "reissue_time": 120,
                   "hashalg": "sha256", "parent_domain": true}),
            "192.0.2.10",
        ),
        (
            json!({"secret": "ip-bound", "include_ip": true, "timeout": 1200, "reissue_time": 120,
                   "hashalg": "sha384", "wild_domain": false}),
            "2001:db8::1",
        ),
    ]
}

fn userids() -> Vec<(UserId, Value)> {
    let big: i128 = 1 << 70;
    vec![
        (UserId::Int(1234), json!({"type": "int", "decimal": "1234"})),
        (UserId::Int(-5), json!({"type": "int", "decimal": "-5"})),
        (
            UserId::Int(big),
            json!({"type": "int", "decimal": big.to_string()}),
        ),
        (
            UserId::from("\u{e9}lodie"),
            json!({"type": "str", "value": "\u{e9}lodie"}),
        ),
        (
            UserId::from("\u{7528}\u{6237}\u{1f600}"),
            json!({"type": "str", "value": "\u{7528}\u{6237}\u{1f600}"}),
        ),
        (UserId::from(""), json!({"type": "str", "value": ""})),
        (
            UserId::Bytes(vec![0, 0xff, b'r', b'a', b'w']),
            json!({"type": "bytes", "hex": "00ff726177"}),
        ),
    ]
}

fn token_lists() -> Vec<Vec<&'static str>> {
    vec![
        vec![],
        vec![TOKEN],
        vec!["admin", TOKEN],
        vec!["a", "x-y_z+1", TOKEN],
    ]
}

fn helper(config: &Value, style: DomainStyle) -> AuthTktHelper {
    let c = config.as_object().unwrap();
    let mut b = AuthTktHelper::builder(c["secret"].as_str().unwrap(), style);
    for (key, v) in c {
        b = match key.as_str() {
            "secret" => b,
            "hashalg" => b.hashalg(
                pyramid_session::authtkt::HashAlg::from_name(v.as_str().unwrap()).unwrap(),
            ),
            "cookie_name" => b.cookie_name(v.as_str().unwrap()),
            "timeout" => b.timeout(v.as_u64()),
            "reissue_time" => b.reissue_time(v.as_u64()),
            "max_age" => b.max_age(v.as_i64()),
            "http_only" => b.http_only(v.as_bool().unwrap()),
            "secure" => b.secure(v.as_bool().unwrap()),
            "include_ip" => b.include_ip(v.as_bool().unwrap()),
            "parent_domain" => b.parent_domain(v.as_bool().unwrap()),
            "wild_domain" => b.wild_domain(v.as_bool().unwrap()),
            other => panic!("{other}"),
        };
    }
    b.build().unwrap()
}

fn userid_json(u: &UserId) -> Value {
    match u {
        UserId::Int(n) => json!({"type": "int", "decimal": n.to_string()}),
        UserId::Text(s) => json!({"type": "str", "value": s}),
        UserId::Bytes(b) => {
            json!({"type": "bytes", "hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>()})
        }
    }
}

/// What a browser sends back for a `Set-Cookie` value: `name=value`.
fn cookie_of(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

/// Runs the jobs in the peer script (through a file: they exceed an argument's size).
fn run_jobs(venv: (&str, &[&str]), jobs: &[Value]) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "authtkt_peer_{}_{}.json",
        venv.0,
        jobs.len()
    ));
    std::fs::write(&path, Value::from(jobs.to_vec()).to_string()).unwrap();
    let out = python::run(venv, SCRIPT, &[path.to_str().unwrap()]);
    serde_json::from_str(&out).unwrap()
}

fn peer(venv: (&str, &[&str]), style: DomainStyle) {
    // The requests (config, remote address, userid, tokens) and their remembers.
    let mut cases = Vec::new();
    let mut jobs = Vec::new();
    for (config, addr) in configs() {
        for (uid, typed) in userids() {
            for tokens in token_lists() {
                jobs.push(
                    json!({"op": "remember", "config": config, "host": HOST, "remote_addr": addr,
                                 "now": T, "userid": typed, "tokens": tokens}),
                );
                cases.push((config.clone(), addr, uid.clone(), tokens));
            }
        }
    }
    let out = run_jobs(venv, &jobs);
    assert_eq!(out.len(), cases.len());
    // Both sides identify both sides' tickets at +10 s, at the reissue time and past the
    // timeout.
    let mut identify_jobs = Vec::new();
    let mut expected = Vec::new();
    for ((config, addr, uid, tokens), python_out) in cases.iter().zip(&out) {
        let h = helper(config, style);
        let rust = h.remember(HOST, addr, T, uid, tokens, None).unwrap();
        let python: Vec<String> = serde_json::from_value(python_out["set_cookie"].clone()).unwrap();
        assert_eq!(rust, python, "{config} {uid:?} {tokens:?}");
        let reissue_after = config["reissue_time"].as_f64().unwrap();
        for now in [
            T + 10.0,
            T.floor() + reissue_after + 1.0,
            T.floor() + 1200.5,
        ] {
            for cookie in [cookie_of(&python[0]), cookie_of(&rust[0])] {
                identify_jobs.push(json!({"op": "identify", "config": config, "host": HOST,
                                          "remote_addr": addr, "now": now, "cookie": cookie}));
                let identity = h.identify(cookie.as_bytes(), addr, now);
                let reissue = identity
                    .as_ref()
                    .and_then(|i| i.reissue.as_ref())
                    .map(|r| h.reissue_headers(r, HOST))
                    .unwrap_or_default();
                let identity = identity.map(|i| {
                    json!({"timestamp": i.ticket.timestamp(), "userid": userid_json(&i.userid),
                           "tokens": i.tokens, "userdata": i.ticket.user_data()})
                });
                expected.push(json!({"identity": identity, "reissue": reissue}));
            }
        }
    }
    let got = run_jobs(venv, &identify_jobs);
    assert_eq!(got.len(), expected.len());
    let (mut authenticated, mut reissued, mut expired) = (0, 0, 0);
    for ((job, python), rust) in identify_jobs.iter().zip(&got).zip(&expected) {
        assert_eq!(python, rust, "{job}");
        if rust["identity"].is_null() {
            expired += 1;
        } else {
            authenticated += 1;
        }
        reissued += usize::from(!rust["reissue"].as_array().unwrap().is_empty());
    }
    // Every ticket identifies until its timeout; the persistent policy has none.
    let n = cases.len();
    let per_config = n / configs().len();
    assert_eq!(expired, 2 * (n - per_config), "{authenticated} {reissued}");
    assert_eq!(reissued, 2 * n, "reissued at the reissue time");
    println!(
        "{}: {n} remembers equal, {} identifies equal",
        venv.0,
        got.len()
    );
}

#[test]
fn pyramid_1_10_8_authtkt_policy_is_a_peer() {
    peer(python::PYRAMID110, DomainStyle::Pyramid1);
}

#[test]
fn pyramid_2_1_authtkt_policy_is_a_peer() {
    peer(python::PYRAMID21_REDIS, DomainStyle::Pyramid2);
}
