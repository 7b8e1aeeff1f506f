//! Signing, verification and whole requests, against the physical floor (bare HMAC with
//! a precomputed key), a naive implementation, and the `cookie` crate's `SignedJar`.
//!
//! Benchmark ids are a contract for `benches/compare.sh`:
//! `sign/{pyramid_session,pyramid_session_sha256,floor,naive,cookie_crate_sha256}/SIZE`,
//! `verify/{pyramid_session,pyramid_session_value,reject,pyramid_session_sha256,floor,naive,cookie_crate_sha256}/SIZE`,
//! `request/{cookie_mode,server_memory,floor}/SIZE`, SIZE in 100, 300, 1024, 2900 bytes
//! of JSON state.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use pyramid_session::codec::json::{decode_frame, decode_typed, encode_frame, State};
use pyramid_session::codec::Accessed;
use pyramid_session::server::{IdCookieFormat, Pending, ServerConfig};
use pyramid_session::signer::{HashAlg, Keyring, MAX_DECODED_LEN};
use pyramid_session::store::MemoryStore;
use pyramid_session::{driver, Session, SessionConfig};
use serde::Deserialize;
use serde_json::{json, Value};

const SIZES: [usize; 4] = [100, 300, 1024, 2900];
const NOW: f64 = 1_700_000_000.25;
const SALT: &str = "pyramid.session.";
const SECRET: &str = "a-long-random-secret-for-the-benchmarks-0123456789";

/// The state a benchmark signs: a user, a CSRF token, and padding up to `size` bytes of
/// JSON state.
#[derive(Deserialize)]
#[allow(dead_code)]
struct TypedState {
    user: String,
    _csrft_: String,
    blob: String,
}

fn state(size: usize) -> State {
    let base =
        json!({"user": "ada", "_csrft_": "0b30557a9fc4e90e33587da2c7ec11365b80a5ca", "blob": ""});
    let overhead = serde_json::to_string(&base).unwrap().len() + 4; // Python separators
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

fn cookie_key() -> cookie::Key {
    cookie::Key::from(&[7u8; 64])
}

fn sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    let ring512 = Keyring::new(HashAlg::Sha512, SALT, &[SECRET]).unwrap();
    let ring256 = Keyring::new(HashAlg::Sha256, SALT, &[SECRET]).unwrap();
    let floor_mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
    let ckey = cookie_key();
    for size in SIZES {
        let st = state(size);
        let payload = frame(size);
        let value = Value::Array(vec![
            json!(1_700_000_000),
            json!(NOW),
            Value::Object(st.clone()),
        ]);
        let text = String::from_utf8(payload.clone()).unwrap();
        group.throughput(Throughput::Bytes(payload.len() as u64));
        let mut buf = Vec::with_capacity(4096);
        group.bench_with_input(BenchmarkId::new("pyramid_session", size), &st, |b, st| {
            b.iter(|| {
                buf.clear();
                encode_frame(Accessed::Int(1_700_000_000), NOW, st, &mut buf).unwrap();
                black_box(ring512.sign(&buf))
            })
        });
        group.bench_with_input(
            BenchmarkId::new("pyramid_session_sha256", size),
            &st,
            |b, st| {
                b.iter(|| {
                    buf.clear();
                    encode_frame(Accessed::Int(1_700_000_000), NOW, st, &mut buf).unwrap();
                    black_box(ring256.sign(&buf))
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("floor", size), &payload, |b, payload| {
            b.iter(|| {
                let mut mac = floor_mac.clone();
                mac.update(payload);
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_with_input(BenchmarkId::new("naive", size), &value, |b, value| {
            b.iter(|| {
                let json = serde_json::to_vec(value).unwrap();
                let mut mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
                mac.update(&json);
                let mut raw = mac.finalize().into_bytes().to_vec();
                raw.extend_from_slice(&json);
                black_box(b64().encode(raw))
            })
        });
        group.bench_with_input(
            BenchmarkId::new("cookie_crate_sha256", size),
            &text,
            |b, text| {
                b.iter(|| {
                    let mut jar = cookie::CookieJar::new();
                    jar.signed_mut(&ckey)
                        .add(cookie::Cookie::new("session", text.clone()));
                    black_box(jar.get("session").map(|c| c.value().len()))
                })
            },
        );
    }
    group.finish();
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    let ring512 = Keyring::new(HashAlg::Sha512, SALT, &[SECRET]).unwrap();
    let ring256 = Keyring::new(HashAlg::Sha256, SALT, &[SECRET]).unwrap();
    let floor_mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
    let ckey = cookie_key();
    for size in SIZES {
        let payload = frame(size);
        let text = String::from_utf8(payload.clone()).unwrap();
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
        let signed_by_cookie = jar.get("session").unwrap().value().to_string();
        group.throughput(Throughput::Bytes(payload.len() as u64));
        let mut buf = [0u8; MAX_DECODED_LEN];

        group.bench_with_input(
            BenchmarkId::new("pyramid_session", size),
            &signed512,
            |b, v| {
                b.iter(|| {
                    let verified = ring512.verify_in(v.as_bytes(), &mut buf).unwrap();
                    black_box(decode_typed::<TypedState>(verified.payload).unwrap())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("pyramid_session_value", size),
            &signed512,
            |b, v| {
                b.iter(|| {
                    let verified = ring512.verify_in(v.as_bytes(), &mut buf).unwrap();
                    black_box(decode_frame(verified.payload).unwrap())
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("reject", size), &bad, |b, v| {
            b.iter(|| black_box(ring512.verify_in(v, &mut buf).is_err()))
        });
        group.bench_with_input(
            BenchmarkId::new("pyramid_session_sha256", size),
            &signed256,
            |b, v| {
                b.iter(|| {
                    let verified = ring256.verify_in(v.as_bytes(), &mut buf).unwrap();
                    black_box(decode_typed::<TypedState>(verified.payload).unwrap())
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("floor", size), &payload, |b, payload| {
            b.iter(|| {
                let mut mac = floor_mac.clone();
                mac.update(payload);
                black_box(mac.verify_slice(&tag).is_ok())
            })
        });
        group.bench_with_input(BenchmarkId::new("naive", size), &signed512, |b, v| {
            b.iter(|| {
                let raw = b64().decode(v).unwrap();
                let (sig, body) = raw.split_at(64);
                let mut mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
                mac.update(body);
                mac.verify_slice(sig).unwrap();
                black_box(serde_json::from_slice::<Value>(body).unwrap())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("cookie_crate_sha256", size),
            &signed_by_cookie,
            |b, v| {
                b.iter(|| {
                    let mut jar = cookie::CookieJar::new();
                    jar.add_original(cookie::Cookie::new("session", v.clone()));
                    black_box(jar.signed(&ckey).get("session").map(|c| c.value().len()))
                })
            },
        );
    }
    group.finish();
}

fn request(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    let config = SessionConfig::pyramid(SECRET).build().unwrap();
    let server_config = ServerConfig::new(
        SessionConfig::pyramid(SECRET).build().unwrap(),
        IdCookieFormat::PyramidSessionRedis,
    )
    .unwrap();
    let floor_mac = Hmac::<sha2::Sha512>::new_from_slice(&key()).unwrap();
    for size in SIZES {
        // Cookie mode: the request carries the whole state.
        let mut s = Session::load(&config, None, NOW);
        for (k, v) in state(size) {
            s.insert(k, v);
        }
        let set = s.finish(&config, false).unwrap().unwrap();
        let header = format!("other=1; {}; tracking=abc", set.split(';').next().unwrap());
        let payload = frame(size);
        group.throughput(Throughput::Bytes(payload.len() as u64));

        group.bench_with_input(
            BenchmarkId::new("cookie_mode", size),
            &header,
            |b, header| {
                b.iter(|| {
                    let mut s = Session::load(&config, Some(header.as_bytes()), NOW + 10.0);
                    black_box(s.get("user").cloned());
                    s.insert("last_page", json!("/account"));
                    black_box(s.finish(&config, false).unwrap())
                })
            },
        );

        // Server mode: the same state in a MemoryStore; the cookie carries the id.
        let store = MemoryStore::new();
        let mut rng = pyramid_session::OsRandom;
        let mut s = driver::open(
            &store,
            &server_config,
            Pending::start(&server_config, None, NOW),
        )
        .unwrap();
        for (k, v) in state(size) {
            s.insert(k, v);
        }
        let set = driver::finish(&store, &server_config, &mut s, false, &mut rng)
            .unwrap()
            .unwrap();
        let id_header = format!("other=1; {}; tracking=abc", set.split(';').next().unwrap());
        group.bench_with_input(
            BenchmarkId::new("server_memory", size),
            &id_header,
            |b, header| {
                b.iter(|| {
                    let pending =
                        Pending::start(&server_config, Some(header.as_bytes()), NOW + 10.0);
                    let mut s = driver::open(&store, &server_config, pending).unwrap();
                    black_box(s.get("user").cloned());
                    s.insert("last_page", json!("/account"));
                    black_box(
                        driver::finish(&store, &server_config, &mut s, false, &mut rng).unwrap(),
                    )
                })
            },
        );

        // Floor: one HMAC to verify the incoming cookie, one to sign the outgoing one.
        group.bench_with_input(BenchmarkId::new("floor", size), &payload, |b, payload| {
            b.iter(|| {
                let mut mac = floor_mac.clone();
                mac.update(payload);
                let tag = mac.finalize().into_bytes();
                let mut mac = floor_mac.clone();
                mac.update(payload);
                black_box((tag, mac.finalize().into_bytes()))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sign, verify, request);
criterion_main!(benches);
