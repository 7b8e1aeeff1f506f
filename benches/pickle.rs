//! The pickle codec on a realistic CubicWeb session, next to `serde_json` on the same
//! value as JSON.
//!
//! Benchmark ids are a contract: `pickle/decode` and `pickle/encode` (the 299-byte
//! protocol-4 pickle of the corpus case `cw_web_session/p4`, what `cubicweb_web` stores:
//! an authentication ticket, `search_state`, a `pending_insert` list of `(eid, rtype,
//! eid)` tuples, page data, a flash queue), and in the same group and run
//! `pickle/json_decode` and `pickle/json_encode`: `serde_json` (with the crate's
//! `preserve_order` and `arbitrary_precision`) reading and writing the same dict as
//! compact JSON, the tuple as a list, to and from a `serde_json::Value`.
//!
//! `cargo bench --bench pickle` (`-- --test` for a smoke run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use pyramid_session::pickle::{self, Limits, PyValue};
use serde_json::Value;

/// The corpus case benchmarked.
const CASE: &str = "cw_web_session/p4";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The pickle of [`CASE`], from the CPython corpus.
fn session_pickle() -> Vec<u8> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pickles.json"
    ))
    .unwrap();
    let corpus: Value = serde_json::from_str(&text).unwrap();
    let case = corpus["benign"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == CASE)
        .unwrap_or_else(|| panic!("{CASE} is not in the corpus"));
    assert_eq!(case["protocol"], 4);
    unhex(case["hex"].as_str().unwrap())
}

/// The value with tuples as lists: what JSON can hold.
fn listed(value: &PyValue) -> PyValue {
    match value {
        PyValue::Tuple(items) | PyValue::List(items) => {
            PyValue::List(items.iter().map(listed).collect())
        }
        PyValue::Dict(pairs) => {
            PyValue::Dict(pairs.iter().map(|(k, v)| (listed(k), listed(v))).collect())
        }
        other => other.clone(),
    }
}

fn benches(c: &mut Criterion) {
    let bytes = session_pickle();
    assert!(bytes.len() <= 300, "{} bytes", bytes.len());
    let limits = Limits::default();
    let value = pickle::decode(&bytes, &limits).unwrap();
    assert_eq!(pickle::encode(&value, 4).unwrap(), bytes, "not byte-exact");
    let json_value = listed(&value).to_json().expect("a JSON-like session");
    let json = serde_json::to_vec(&json_value).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&json).unwrap(), json_value);

    let mut group = c.benchmark_group("pickle");
    group.bench_function("decode", |b| {
        b.iter(|| pickle::decode(black_box(&bytes), &limits).unwrap())
    });
    group.bench_function("encode", |b| {
        b.iter(|| pickle::encode(black_box(&value), 4).unwrap())
    });
    group.bench_function("json_decode", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&json)).unwrap())
    });
    group.bench_function("json_encode", |b| {
        b.iter(|| serde_json::to_vec(black_box(&json_value)).unwrap())
    });
    group.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
