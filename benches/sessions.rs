//! Signing, verification and whole requests, against the physical floor (bare HMAC with
//! a precomputed key), a naive implementation, and the `cookie` crate's `SignedJar`.
//!
//! Benchmark ids are a contract for `benches/compare.sh`:
//! `sign/{pyramid_session,pyramid_session_sha256,floor,naive,cookie_crate_sha256}/SIZE`,
//! `verify/{pyramid_session,pyramid_session_value,reject,pyramid_session_sha256,floor,naive,cookie_crate_sha256}/SIZE`,
//! `request/{cookie_mode,server_memory,floor}/SIZE`, SIZE in 100, 300, 1024, 2900 bytes
//! of JSON state. The scenarios live in `scenarios/mod.rs`, shared with the instruction
//! counter (`instructions.rs`).

mod scenarios;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn run_group(c: &mut Criterion, group_name: &str) {
    let mut group = c.benchmark_group(group_name);
    for size in scenarios::SIZES {
        for mut s in scenarios::scenarios(group_name, size) {
            group.throughput(Throughput::Bytes(s.bytes as u64));
            group.bench_function(BenchmarkId::new(s.function, s.size), |b| b.iter(&mut s.run));
        }
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    for group in ["sign", "verify", "request"] {
        run_group(c, group);
    }
}

criterion_group!(all, benches);
criterion_main!(all);
