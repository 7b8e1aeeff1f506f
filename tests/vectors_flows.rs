//! Replays `pyramid_flows` from `tests/data/vectors.json`: multi-request flows recorded
//! through a real Pyramid router. Each step's ops run against a [`CookieSession`]; the
//! `Set-Cookie` header, per-op results and the session's `new / created / accessed /
//! renewed / state / dirty` after the ops must match Pyramid exactly, except in the
//! steps listed in [`divergence`], where the documented behaviour is asserted instead.

mod common;

use common::vectors;
use pyramid_session::codec::Accessed;
use pyramid_session::config::seconds;
use pyramid_session::session::InvalidCookie;
use pyramid_session::{
    ConfigError, CookieSession, FinishError, FrameError, HashAlg, LoadOutcome, RandomError,
    SameSite, SessionConfig, SessionData,
};
use serde_json::{json, Value};

fn config_for(factory: &Value) -> Result<SessionConfig, ConfigError> {
    let f = |k: &str| factory.get(k);
    let int = |k: &str, default: Option<i64>| match f(k) {
        None => default,
        Some(v) => v.as_i64(),
    };
    let secs = |k: &str, default: Option<i64>| int(k, default).map(seconds).transpose();
    let mut b = SessionConfig::pyramid(f("secret").unwrap().as_str().unwrap())
        .timeout(secs("timeout", Some(1200))?)
        .reissue_time(secs("reissue_time", Some(0))?)
        .max_age(secs("max_age", None)?)
        .domain(f("domain").and_then(Value::as_str))
        .secure(f("secure").and_then(Value::as_bool).unwrap_or(false))
        .httponly(f("httponly").and_then(Value::as_bool).unwrap_or(false))
        .set_on_exception(
            f("set_on_exception")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        );
    if let Some(path) = f("path") {
        b = b.path(path.as_str());
    }
    if let Some(samesite) = f("samesite") {
        b = b.samesite(samesite.as_str().map(SameSite::from_name).transpose()?);
    }
    if let Some(name) = f("cookie_name") {
        b = b.cookie_name(name.as_str().unwrap());
    }
    if let Some(alg) = f("hashalg") {
        b = b.hashalg(HashAlg::from_name(alg.as_str().unwrap())?);
    }
    if let Some(salt) = f("salt") {
        b = b.salt(salt.as_str().unwrap());
    }
    b.build()
}

/// WebOb's patched `os.urandom`: `bytes((i*37+11) % 256 for i in range(n))`.
fn patched_urandom(buf: &mut [u8]) -> Result<(), RandomError> {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = ((i * 37 + 11) % 256) as u8;
    }
    Ok(())
}

fn arg_str(op: &[Value], i: usize, default: &str) -> String {
    op.get(i)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// Runs one op the way the recording view did and returns its result.
fn apply(session: &mut CookieSession, op: &[Value]) -> Value {
    let key = || op[1].as_str().unwrap();
    match op[0].as_str().unwrap() {
        "set" => {
            session.insert(key(), op[2].clone());
            Value::Null
        }
        "get" | "getitem" => session.get(key()).cloned().unwrap_or(Value::Null),
        "del" | "pop" => session
            .remove(key())
            .unwrap_or_else(|| op.get(2).cloned().unwrap_or(Value::Null)),
        "contains" => json!(session.contains_key(key())),
        "len" => json!(session.len()),
        "bool" => json!(!session.is_empty()),
        "update" => {
            session.update(op[1].as_object().unwrap().clone());
            Value::Null
        }
        "setdefault" => session.setdefault(key(), op[2].clone()).clone(),
        "clear" => {
            session.clear();
            Value::Null
        }
        "invalidate" => {
            session.invalidate();
            Value::Null
        }
        "changed" => {
            session.changed();
            Value::Null
        }
        "flash" => {
            let allow_duplicate = op.get(3).and_then(Value::as_bool).unwrap_or(true);
            session.flash(op[1].clone(), &arg_str(op, 2, ""), allow_duplicate);
            Value::Null
        }
        "pop_flash" => Value::Array(session.pop_flash(&arg_str(op, 1, ""))),
        "peek_flash" => Value::Array(session.peek_flash(&arg_str(op, 1, ""))),
        "new_csrf_token" => json!(session.new_csrf_token(&mut patched_urandom).unwrap()),
        "get_csrf_token" => json!(session.get_csrf_token(&mut patched_urandom).unwrap()),
        "touch" => Value::Null,
        other => panic!("unknown op {other}"),
    }
}

/// What we do instead of Pyramid, per (flow, step). `None`: match Pyramid exactly.
enum Divergence {
    /// Configuration refused when built.
    Config(ConfigError),
    /// The cookie is treated as invalid: a fresh session, ops see an empty state.
    Invalid(InvalidCookie),
    /// Another cookie in the header verifies (first-that-verifies, or a broken unrelated
    /// cookie that Pyramid chokes on): the listed results and payload.
    Loaded {
        results: Value,
        payload: &'static str,
    },
    /// The end-of-request decision fails with a typed error instead of a 500.
    Finish(FinishError),
}

fn divergence(flow: &str, step: &str) -> Option<Divergence> {
    use Divergence::*;
    Some(match (flow, step) {
        ("timeout_negative", _) => Config(ConfigError::NegativeDuration),
        ("samesite_none_without_secure", _) => Config(ConfigError::SameSiteNoneWithoutSecure),
        // Timestamps 1000 s ahead of now exceed the default 60 s skew.
        ("future_timestamps", _) => Invalid(InvalidCookie::FromFuture),
        // Only JSON numbers are timestamps; only objects are state.
        ("malformed_signed_payloads", "string_times" | "bool_times" | "state_is_string") => {
            Invalid(InvalidCookie::Frame(FrameError::Shape))
        }
        ("malformed_signed_payloads", "state_is_pair_list" | "state_is_str_recent")
        | ("malformed_signed_payloads", "state_is_int_recent" | "state_is_list_recent") => {
            Invalid(InvalidCookie::Frame(FrameError::Shape))
        }
        ("malformed_signed_payloads", "nan_renewed") => {
            Invalid(InvalidCookie::Frame(FrameError::Syntax))
        }
        ("duplicate_cookie_last_wins", "good_first") => Loaded {
            results: json!(["first"]),
            payload: r#"[1700000010, 1700000000.0, {"a": "first"}]"#,
        },
        ("invalid_utf8_in_unrelated_cookie", _) => Loaded {
            results: json!([1]),
            payload: r#"[1700000010, 1700000000.0, {"a": 1}]"#,
        },
        ("size_limit", "over_limit") => Finish(FinishError::CookieTooLong {
            len: 4066,
            limit: 4064,
        }),
        _ => return None,
    })
}

fn check_accessed(ours: Accessed, after: &Value, ctx: &str) {
    match (ours, after["accessed_type"].as_str().unwrap()) {
        (Accessed::Int(n), "int") => assert_eq!(n, after["accessed"].as_i64().unwrap(), "{ctx}"),
        (Accessed::Float(x), "float") => {
            assert_eq!(x, after["accessed"].as_f64().unwrap(), "{ctx}")
        }
        (ours, kind) => panic!("{ctx}: accessed {ours:?}, Pyramid had {kind}"),
    }
}

fn decoded_payload(config: &SessionConfig, set_cookie: &str) -> String {
    let value = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    let (payload, _) = config.keyring().verify(value.as_bytes()).unwrap();
    String::from_utf8(payload).unwrap()
}

#[test]
fn pyramid_flows_replay() {
    let v = vectors();
    let mut exact_steps = 0;
    let mut divergent_steps = 0;
    for flow in v["pyramid_flows"].as_array().unwrap() {
        let flow_id = flow["id"].as_str().unwrap();
        let config = config_for(&flow["factory"]);
        for step in flow["steps"].as_array().unwrap() {
            let step_id = step["step"].as_str().unwrap();
            let ctx = format!("{flow_id}/{step_id}");
            let now = step["now"].as_f64().unwrap();
            let header = step["request_cookie_header"].as_str().map(str::as_bytes);
            let ops: Vec<Vec<Value>> = step["ops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|op| op.as_array().unwrap().clone())
                .collect();
            let failed = step["view_raises"].as_bool().unwrap_or(false);

            if let Some(Divergence::Config(e)) = divergence(flow_id, step_id) {
                assert_eq!(config.as_ref().unwrap_err(), &e, "{ctx}");
                divergent_steps += 1;
                continue;
            }
            let config = config.as_ref().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let mut session = CookieSession::load(config, header, now);
            let results: Vec<Value> = ops.iter().map(|op| apply(&mut session, op)).collect();
            let finished = session.finish(config, failed);

            match divergence(flow_id, step_id) {
                None => {
                    assert!(
                        step.get("app_exception").is_none(),
                        "{ctx}: Pyramid failed here"
                    );
                    let observed = &step["observed"];
                    let want_results: Vec<Value> = observed["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["result"].clone())
                        .collect();
                    assert_eq!(results, want_results, "{ctx}: results");
                    let after = &observed["after_ops"];
                    assert_eq!(
                        session.is_new(),
                        after["new"].as_bool().unwrap(),
                        "{ctx}: new"
                    );
                    assert_eq!(
                        session.created(),
                        after["created"].as_f64().unwrap(),
                        "{ctx}: created"
                    );
                    assert_eq!(
                        session.renewed(),
                        after["renewed"].as_f64().unwrap(),
                        "{ctx}: renewed"
                    );
                    check_accessed(session.accessed(), after, &ctx);
                    assert_eq!(
                        &Value::Object(session.peek_state().clone()),
                        &after["state"],
                        "{ctx}: state"
                    );
                    assert_eq!(
                        session.is_dirty(),
                        after["dirty"].as_bool().unwrap(),
                        "{ctx}: dirty"
                    );
                    let want: Vec<&str> = step["response_set_cookie"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| h.as_str().unwrap())
                        .collect();
                    let ours: Vec<String> = finished.unwrap().into_iter().collect();
                    assert_eq!(ours, want, "{ctx}: Set-Cookie");
                    exact_steps += 1;
                }
                Some(Divergence::Invalid(reason)) => {
                    assert_eq!(session.outcome(), LoadOutcome::Invalid(reason), "{ctx}");
                    assert!(session.is_new(), "{ctx}");
                    assert_eq!(session.created(), now, "{ctx}");
                    assert!(results.iter().all(Value::is_null), "{ctx}: {results:?}");
                    assert_eq!(finished, Ok(None), "{ctx}");
                    divergent_steps += 1;
                }
                Some(Divergence::Loaded {
                    results: want,
                    payload,
                }) => {
                    assert_eq!(Value::Array(results), want, "{ctx}");
                    let header = finished.unwrap().expect("reissued");
                    assert_eq!(decoded_payload(config, &header), payload, "{ctx}");
                    divergent_steps += 1;
                }
                Some(Divergence::Finish(e)) => {
                    assert!(step.get("app_exception").is_some(), "{ctx}");
                    assert_eq!(finished, Err(e), "{ctx}");
                    divergent_steps += 1;
                }
                Some(Divergence::Config(_)) => unreachable!(),
            }
        }
    }
    assert!(exact_steps >= 40, "{exact_steps} exact steps");
    assert!(divergent_steps >= 10, "{divergent_steps} divergent steps");
}

/// Every Set-Cookie Pyramid produced in the flows decodes with our keyring to exactly
/// the `payload_json_text` recorded, and verifies on reload.
#[test]
fn pyramid_cookies_verify_and_decode() {
    let v = vectors();
    let mut n = 0;
    for flow in v["pyramid_flows"].as_array().unwrap() {
        let Ok(config) = config_for(&flow["factory"]) else {
            continue;
        };
        for step in flow["steps"].as_array().unwrap() {
            for decoded in step["decoded_set_cookie"].as_array().into_iter().flatten() {
                let value = decoded["value"].as_str().unwrap();
                let (payload, _) = config.keyring().verify(value.as_bytes()).unwrap();
                assert_eq!(
                    payload,
                    decoded["payload_json_text"].as_str().unwrap().as_bytes()
                );
                n += 1;
            }
        }
    }
    assert!(n >= 25, "{n}");
}
