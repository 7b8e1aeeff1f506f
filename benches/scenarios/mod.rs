//! The benchmark scenarios, shared by the criterion benches (`sessions.rs`) and the
//! instruction counter (`instructions.rs`): each is an id `GROUP/FUNCTION/SIZE` and a
//! closure doing one operation.
// Each bench target uses a different part of this module.
#![allow(dead_code)]

use std::borrow::Cow;
use std::hint::black_box;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use pyramid_session::codec::json::{decode_frame, decode_typed, encode_frame, State};
use pyramid_session::codec::Accessed;
use pyramid_session::server::{IdCookieFormat, Pending, ServerConfig};
use pyramid_session::signer::{HashAlg, Keyring, MAX_DECODED_LEN};
use pyramid_session::store::MemoryStore;
use pyramid_session::{driver, CookieSession, LoadOutcome, SessionConfig};
use serde::Deserialize;
use serde_json::{json, Value};

/// Bytes of JSON state.
pub const SIZES: [usize; 4] = [100, 300, 1024, 2900];
const NOW: f64 = 1_700_000_000.25;
const SALT: &str = "pyramid.session.";
const SECRET: &str = "a-long-random-secret-for-the-benchmarks-0123456789";

/// The typed view of the benchmark state (for lazily/typed decoding): its strings borrow
/// from the verified payload, copied only where they hold escapes.
#[derive(Deserialize)]
#[allow(dead_code)]
struct TypedState<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    _csrft_: Cow<'a, str>,
    #[serde(borrow)]
    blob: Cow<'a, str>,
}

/// A user, a CSRF token, and padding up to `size` bytes of JSON state.
fn state(size: usize) -> State {
    let base =
        json!({"user": "ada", "_csrft_": "0b30557a9fc4e90e33587da2c7ec11365b80a5ca", "blob": ""});
    let overhead = serde_json::to_string(&base).unwrap().len() + 4; // Python's separators
    let mut map = base.as_object().unwrap().clone();
    map.insert(
        "blob".into(),
        json!("x".repeat(size.saturating_sub(overhead))),
    );
    map
}

fn frame(size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(Accessed::Int(1_700_000_000), NOW, &state(size), &mut out).unwrap();
    out
}

fn key() -> Vec<u8> {
    pyramid_session::signer::salted_secret(SALT, SECRET)
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// One benchmark: its function name and size (the group is the caller's), the payload
/// size it processes, and the operation.
pub struct Scenario {
    pub function: &'static str,
    pub size: usize,
    pub bytes: usize,
    pub run: Box<dyn FnMut()>,
}

fn scenario(
    _group: &'static str,
    function: &'static str,
    size: usize,
    bytes: usize,
    run: impl FnMut() + 'static,
) -> Scenario {
    Scenario {
        function,
        size,
        bytes,
        run: Box::new(run),
    }
}

/// Every scenario of `group` at `size`.
pub fn scenarios(group: &str, size: usize) -> Vec<Scenario> {
    let payload = frame(size);
    let bytes = payload.len();
    let ring512 = Keyring::new(HashAlg::Sha512, SALT, &[SECRET]).unwrap();
    let ring256 = Keyring::new(HashAlg::Sha256, SALT, &[SECRET]).unwrap();
    let floor_mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
    let ckey = cookie::Key::from(&[7u8; 64]);
    let text = String::from_utf8(payload.clone()).unwrap();
    match group {
        "sign" => {
            let st = state(size);
            let value = Value::Array(vec![
                json!(1_700_000_000),
                json!(NOW),
                Value::Object(st.clone()),
            ]);
            let sign_with = |ring: Keyring, st: State| {
                let mut buf = Vec::with_capacity(4096);
                move || {
                    buf.clear();
                    encode_frame(Accessed::Int(1_700_000_000), NOW, &st, &mut buf).unwrap();
                    black_box(ring.sign(&buf));
                }
            };
            let (p, m) = (payload.clone(), floor_mac.clone());
            vec![
                scenario(
                    "sign",
                    "pyramid_session",
                    size,
                    bytes,
                    sign_with(ring512, st.clone()),
                ),
                scenario(
                    "sign",
                    "pyramid_session_sha256",
                    size,
                    bytes,
                    sign_with(ring256, st),
                ),
                scenario("sign", "floor", size, bytes, move || {
                    let mut mac = m.clone();
                    mac.update(&p);
                    black_box(mac.finalize().into_bytes());
                }),
                scenario("sign", "naive", size, bytes, move || {
                    let json = serde_json::to_vec(&value).unwrap();
                    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
                    mac.update(&json);
                    let mut raw = mac.finalize().into_bytes().to_vec();
                    raw.extend_from_slice(&json);
                    black_box(b64().encode(raw));
                }),
                scenario("sign", "cookie_crate_sha256", size, bytes, move || {
                    let mut jar = cookie::CookieJar::new();
                    jar.signed_mut(&ckey)
                        .add(cookie::Cookie::new("session", text.clone()));
                    black_box(jar.get("session").map(|c| c.value().len()));
                }),
            ]
        }
        "verify" => {
            let signed512 = ring512.sign(&payload);
            let signed256 = ring256.sign(&payload);
            let mut bad = signed512.clone().into_bytes();
            bad[10] = if bad[10] == b'A' { b'B' } else { b'A' };
            let tag = {
                let mut mac = floor_mac.clone();
                mac.update(&payload);
                mac.finalize().into_bytes()
            };
            let mut jar = cookie::CookieJar::new();
            jar.signed_mut(&ckey)
                .add(cookie::Cookie::new("session", text.clone()));
            let by_cookie = jar.get("session").unwrap().value().to_string();
            let (r1, r2, r3, r4) = (ring512.clone(), ring512.clone(), ring512, ring256);
            let (s1, s2) = (signed512.clone(), signed512.clone());
            let mut buf = [0u8; MAX_DECODED_LEN];
            let mut buf2 = [0u8; MAX_DECODED_LEN];
            let mut buf3 = [0u8; MAX_DECODED_LEN];
            let mut buf4 = [0u8; MAX_DECODED_LEN];
            let p = payload.clone();
            vec![
                scenario("verify", "pyramid_session", size, bytes, move || {
                    let verified = r1.verify_in(s1.as_bytes(), &mut buf).unwrap();
                    black_box(decode_typed::<TypedState<'_>>(verified.payload).unwrap());
                }),
                scenario("verify", "pyramid_session_value", size, bytes, move || {
                    let verified = r2.verify_in(s2.as_bytes(), &mut buf2).unwrap();
                    black_box(decode_frame(verified.payload).unwrap());
                }),
                scenario("verify", "reject", size, bytes, move || {
                    black_box(r3.verify_in(&bad, &mut buf3).is_err());
                }),
                scenario("verify", "pyramid_session_sha256", size, bytes, move || {
                    let verified = r4.verify_in(signed256.as_bytes(), &mut buf4).unwrap();
                    black_box(decode_typed::<TypedState<'_>>(verified.payload).unwrap());
                }),
                scenario("verify", "floor", size, bytes, move || {
                    let mut mac = floor_mac.clone();
                    mac.update(&p);
                    black_box(mac.verify_slice(&tag).is_ok());
                }),
                scenario("verify", "naive", size, bytes, move || {
                    let raw = b64().decode(&signed512).unwrap();
                    let (sig, body) = raw.split_at(64);
                    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
                    mac.update(body);
                    mac.verify_slice(sig).unwrap();
                    black_box(serde_json::from_slice::<Value>(body).unwrap());
                }),
                scenario("verify", "cookie_crate_sha256", size, bytes, move || {
                    let mut jar = cookie::CookieJar::new();
                    jar.add_original(cookie::Cookie::new("session", by_cookie.clone()));
                    black_box(jar.signed(&ckey).get("session").map(|c| c.value().len()));
                }),
            ]
        }
        "request" => {
            // Cookie mode: the request carries the whole state.
            let config = SessionConfig::pyramid(SECRET).build().unwrap();
            let mut s = CookieSession::load(&config, None, NOW);
            for (k, v) in state(size) {
                s.insert(k, v);
            }
            let set = s.finish(&config, false).unwrap().unwrap();
            let header = format!("other=1; {}; tracking=abc", set.split(';').next().unwrap());
            // The timed request must load the state, not start over.
            let check = CookieSession::load(&config, Some(header.as_bytes()), NOW + 10.0);
            assert_eq!(check.outcome(), LoadOutcome::Valid);

            // Server mode: the same state in a MemoryStore; the cookie carries the id.
            let server = ServerConfig::new(
                SessionConfig::pyramid(SECRET).build().unwrap(),
                IdCookieFormat::PyramidSessionRedis,
            )
            .unwrap();
            let store = MemoryStore::new();
            let mut s = driver::open(&store, &server, Pending::start(&server, None, NOW)).unwrap();
            for (k, v) in state(size) {
                s.insert(k, v);
            }
            let set = driver::finish(
                &store,
                &server,
                &mut s,
                false,
                &mut pyramid_session::OsRandom,
            )
            .unwrap()
            .unwrap();
            let id_header = format!("other=1; {}; tracking=abc", set.split(';').next().unwrap());
            let pending = Pending::start(&server, Some(id_header.as_bytes()), NOW + 10.0);
            let mut check = driver::open(&store, &server, pending).unwrap();
            assert!(
                check.get("user").is_some(),
                "the server-mode state must load"
            );
            vec![
                scenario("request", "cookie_mode", size, bytes, move || {
                    let mut s = CookieSession::load(&config, Some(header.as_bytes()), NOW + 10.0);
                    black_box(s.get("user").cloned());
                    s.insert("last_page", json!("/account"));
                    black_box(s.finish(&config, false).unwrap());
                }),
                scenario("request", "server_memory", size, bytes, move || {
                    let pending = Pending::start(&server, Some(id_header.as_bytes()), NOW + 10.0);
                    let mut s = driver::open(&store, &server, pending).unwrap();
                    black_box(s.get("user").cloned());
                    s.insert("last_page", json!("/account"));
                    black_box(
                        driver::finish(
                            &store,
                            &server,
                            &mut s,
                            false,
                            &mut pyramid_session::OsRandom,
                        )
                        .unwrap(),
                    );
                }),
                // Floor: one HMAC to verify the incoming cookie, one to sign the outgoing one.
                scenario("request", "floor", size, bytes, move || {
                    let mut mac = floor_mac.clone();
                    mac.update(&payload);
                    let tag = mac.finalize().into_bytes();
                    let mut mac = floor_mac.clone();
                    mac.update(&payload);
                    black_box((tag, mac.finalize().into_bytes()));
                }),
            ]
        }
        other => panic!("unknown group {other}"),
    }
}

/// Lower bounds, for `benches/ratios.rs`: our sha256 sign (`group` "sign") or verify
/// ("verify") at `size` with the base64 step replaced by a plain copy of the bytes it
/// would read — what no base64 implementation can beat. Everything else (JSON framing,
/// the HMAC from a precomputed key, the typed decoding) is the real work.
pub fn without_base64(group: &str, size: usize) -> Scenario {
    let st = state(size);
    let mac = Hmac::<sha2::Sha256>::new_from_slice(&key()).unwrap();
    let mut payload = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(4096);
    let run: Box<dyn FnMut()> = match group {
        "sign" => Box::new(move || {
            payload.clear();
            encode_frame(Accessed::Int(1_700_000_000), NOW, &st, &mut payload).unwrap();
            let mut m = mac.clone();
            m.update(&payload);
            out.clear();
            out.extend_from_slice(&m.finalize().into_bytes());
            out.extend_from_slice(&payload);
            black_box(&out);
        }),
        "verify" => {
            let mut signed = Vec::new();
            encode_frame(Accessed::Int(1_700_000_000), NOW, &st, &mut payload).unwrap();
            let mut m = mac.clone();
            m.update(&payload);
            signed.extend_from_slice(&m.finalize().into_bytes());
            signed.extend_from_slice(&payload);
            let mut buf = [0u8; MAX_DECODED_LEN];
            Box::new(move || {
                let n = signed.len();
                buf[..n].copy_from_slice(black_box(&signed));
                let (tag, body) = buf[..n].split_at(32);
                let mut m = mac.clone();
                m.update(body);
                assert!(m.verify_slice(tag).is_ok());
                black_box(decode_typed::<TypedState<'_>>(body).unwrap());
            })
        }
        other => panic!("no bound for {other}"),
    };
    Scenario {
        function: "without_base64",
        size,
        bytes: size,
        run,
    }
}
