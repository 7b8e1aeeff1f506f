//! AuthTkt tickets (CubicWeb's `auth_tkt` cookie: eid 1234, one `authticket_` token,
//! sha512, CubicWeb's session-policy settings) against their floor.
//!
//! Benchmark ids are a contract: group `authtkt`, functions
//! - `verify`: `AuthTktHelper::verify` of the cookie value, then the userid decoded
//!   (`parse_ticket` and `userid_type`);
//! - `sign`: `AuthTktHelper::ticket_value`, the signed value `remember` sets;
//! - `floor`: what both must compute, the two hashes over the same bytes (the inner hash
//!   of `ip_timestamp ‖ secret ‖ userid ‖ 0 ‖ tokens ‖ 0 ‖ user_data` from a ready
//!   buffer, its hex, the outer hash of `hex ‖ secret`);
//! - `identify` and `remember`: the whole helper calls (the `Cookie` header parsed, the
//!   identity built; the three `Set-Cookie` headers of Pyramid 1.10 rendered), for scale.
//!
//! After criterion's table (not with `--test`), the ratios `verify/floor` and
//! `sign/floor` are measured in alternating batches of about 200 µs, the median of the
//! paired ratios printed with its 10th–90th percentile (`AUTHTKT_ROUNDS`, default 1500):
//! the shared machine's drift cancels out of each pair, as in `benches/ratios.rs`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use pyramid_session::authtkt::{AuthTktHelper, DomainStyle, UserId};
use sha2::{Digest, Sha512};

const SECRET: &str = "Zeb0BVCPa4iJlxf7LvZJUOzKlO2uiKAea4TCYLzogPq2NLHZcS";
const TOKEN: &str = "authticket_Zeb0BVCPa4iJlxf7LvZJUOzKlO2uiKAea4TCYLzogPq2NLHZcS";
const NOW: f64 = 1_700_000_010.25;

struct Fixture {
    helper: AuthTktHelper,
    value: String,
    header: String,
    preimage: Vec<u8>,
}

fn fixture() -> Fixture {
    let helper = AuthTktHelper::builder(SECRET, DomainStyle::Pyramid1)
        .timeout(Some(1200))
        .reissue_time(Some(120))
        .http_only(true)
        .secure(true)
        .build()
        .unwrap();
    let value = helper
        .ticket_value("192.0.2.10", NOW - 10.0, &UserId::Int(1234), &[TOKEN])
        .unwrap();
    let header = format!("session=abc; auth_tkt={value}");
    let mut preimage = vec![0, 0, 0, 0];
    preimage.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    preimage.extend_from_slice(SECRET.as_bytes());
    preimage.extend_from_slice(b"1234\0");
    preimage.extend_from_slice(TOKEN.as_bytes());
    preimage.extend_from_slice(b"\0userid_type:int");
    Fixture {
        helper,
        value,
        header,
        preimage,
    }
}

/// The two hashes: inner over the ready preimage, its lowercase hex, outer over hex ‖
/// secret. Returns the outer digest's first byte.
fn floor(preimage: &[u8]) -> u8 {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let inner = Sha512::digest(preimage);
    let mut hex = [0u8; 128];
    for (pair, b) in hex.chunks_exact_mut(2).zip(inner.iter()) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xF)];
    }
    let mut outer = Sha512::new();
    outer.update(hex);
    outer.update(SECRET.as_bytes());
    outer.finalize()[0]
}

fn verify(f: &Fixture) -> bool {
    let ticket = f.helper.verify(black_box(&f.value), "192.0.2.10").unwrap();
    ticket.userid().is_ok()
}

fn sign(f: &Fixture) -> usize {
    f.helper
        .ticket_value("192.0.2.10", black_box(NOW), &UserId::Int(1234), &[TOKEN])
        .unwrap()
        .len()
}

fn benches(c: &mut Criterion, f: &Fixture) {
    assert!(verify(f));
    assert_eq!(sign(f), f.value.len());
    let mut group = c.benchmark_group("authtkt");
    group.bench_function("verify", |b| b.iter(|| verify(f)));
    group.bench_function("sign", |b| b.iter(|| sign(f)));
    group.bench_function("floor", |b| b.iter(|| floor(black_box(&f.preimage))));
    group.bench_function("identify", |b| {
        b.iter(|| {
            f.helper
                .identify(black_box(f.header.as_bytes()), "192.0.2.10", NOW)
                .is_some()
        })
    });
    group.bench_function("remember", |b| {
        b.iter(|| {
            f.helper
                .remember(
                    "example.com",
                    "192.0.2.10",
                    black_box(NOW),
                    &UserId::Int(1234),
                    &[TOKEN],
                    None,
                )
                .unwrap()
                .len()
        })
    });
    group.finish();
}

/// Nanoseconds per run over a batch of `n` runs.
#[allow(clippy::disallowed_methods)] // a benchmark harness reads the clock
fn time_batch(run: &mut dyn FnMut(), n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        run();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Runs in a batch of about `batch`.
fn calibrate(run: &mut dyn FnMut(), batch: Duration) -> u32 {
    let per_run = time_batch(run, 2000);
    ((batch.as_nanos() as f64 / per_run.max(1.0)) as u32).max(1)
}

/// Median and 10th/90th percentiles of `ours/base` over alternating batch pairs, and the
/// median nanoseconds of each side.
fn paired(ours: &mut dyn FnMut(), base: &mut dyn FnMut(), rounds: usize) -> [f64; 5] {
    let batch = Duration::from_micros(200);
    let (n_ours, n_base) = (calibrate(ours, batch), calibrate(base, batch));
    let mut ratios = Vec::with_capacity(rounds);
    let (mut t_ours, mut t_base) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let (a, b) = if i % 2 == 0 {
            let a = time_batch(ours, n_ours);
            (a, time_batch(base, n_base))
        } else {
            let b = time_batch(base, n_base);
            (time_batch(ours, n_ours), b)
        };
        ratios.push(a / b);
        t_ours.push(a);
        t_base.push(b);
    }
    let pick = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q) as usize]
    };
    [
        pick(&mut ratios, 0.5),
        pick(&mut ratios, 0.1),
        pick(&mut ratios, 0.9),
        pick(&mut t_ours, 0.5),
        pick(&mut t_base, 0.5),
    ]
}

fn main() {
    let f = fixture();
    let test_mode = std::env::args().any(|a| a == "--test");
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &f);
    c.final_summary();
    if test_mode {
        return;
    }
    let rounds = std::env::var("AUTHTKT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1500);
    println!(
        "\n| target | ours | floor | ratio (median of {rounds} paired batches) | p10–p90 | met |"
    );
    println!("|---|---:|---:|---:|---:|:---:|");
    let mut base = || {
        black_box(floor(black_box(&f.preimage)));
    };
    for (label, ours) in [
        (
            "authtkt/verify ≤ 1.5× floor",
            &mut (|| {
                black_box(verify(&f));
            }) as &mut dyn FnMut(),
        ),
        ("authtkt/sign ≤ 1.5× floor", &mut || {
            black_box(sign(&f));
        }),
    ] {
        let [ratio, p10, p90, ns_ours, ns_base] = paired(ours, &mut base, rounds);
        println!(
            "| {label} | {ns_ours:.0} ns | {ns_base:.0} ns | {ratio:.2}× | {p10:.2}–{p90:.2} | {} |",
            if ratio <= 1.5 { "yes" } else { "no" }
        );
    }
}
