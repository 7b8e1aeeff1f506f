//! The targets as ratios measured side by side: each pair of scenarios (ours and
//! its baseline, from `scenarios/mod.rs`, the same closures criterion times) runs in
//! alternating short batches, and the ratio of each adjacent pair of batches is kept.
//! The median of those paired ratios does not move when the machine speeds up or slows
//! down between benchmarks, which moves criterion's separately timed medians by up to
//! 2x on a shared VM.
//!
//! `cargo bench --bench ratios` (about a minute; `-- --test` for a smoke run,
//! `RATIO_ROUNDS=N` to change the number of batch pairs per target, default 1500;
//! `RATIO_ONLY=TEXT` to run only the targets whose label contains TEXT; `RATIO_BOUNDS=1`
//! to add the bounds table, see [`print_bounds`]).
//! Prints a Markdown table; `benches/compare.sh` includes it.
//!
//! With `PYTHON_BASELINE` naming a Python that has `pyramid` and `webob` (compare.sh
//! sets it to its virtualenv), the last row times `request/cookie_mode` at 300 B in
//! alternation with a Pyramid request served by `benches/python_baseline.py --serve`.

mod scenarios;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One target: `ours` at most `limit` times `base` (or, with `faster`, `base` over
/// `ours` above `limit`).
struct Target {
    label: &'static str,
    group: &'static str,
    ours: &'static str,
    base: &'static str,
    size: usize,
    limit: f64,
    faster: bool,
}

const fn at_most(
    label: &'static str,
    group: &'static str,
    ours: &'static str,
    size: usize,
    limit: f64,
) -> Target {
    Target {
        label,
        group,
        ours,
        base: "floor",
        size,
        limit,
        faster: false,
    }
}

const fn beats_cookie(label: &'static str, group: &'static str, size: usize) -> Target {
    Target {
        label,
        group,
        ours: "pyramid_session_sha256",
        base: "cookie_crate_sha256",
        size,
        limit: 1.0,
        faster: true,
    }
}

const TARGETS: [Target; 14] = [
    at_most(
        "sign/pyramid_session ≤ 1.5× floor at 300 B",
        "sign",
        "pyramid_session",
        300,
        1.5,
    ),
    at_most(
        "sign/pyramid_session ≤ 1.7× floor at 2900 B",
        "sign",
        "pyramid_session",
        2900,
        1.7,
    ),
    at_most(
        "verify/pyramid_session ≤ 1.7× floor at 300 B",
        "verify",
        "pyramid_session",
        300,
        1.7,
    ),
    at_most(
        "verify/reject ≤ 1.3× floor at 300 B",
        "verify",
        "reject",
        300,
        1.3,
    ),
    beats_cookie("sign sha256 faster than cookie crate at 100 B", "sign", 100),
    beats_cookie("sign sha256 faster than cookie crate at 300 B", "sign", 300),
    beats_cookie(
        "sign sha256 faster than cookie crate at 1024 B",
        "sign",
        1024,
    ),
    beats_cookie(
        "sign sha256 faster than cookie crate at 2900 B",
        "sign",
        2900,
    ),
    beats_cookie(
        "verify sha256 faster than cookie crate at 100 B",
        "verify",
        100,
    ),
    beats_cookie(
        "verify sha256 faster than cookie crate at 300 B",
        "verify",
        300,
    ),
    beats_cookie(
        "verify sha256 faster than cookie crate at 1024 B",
        "verify",
        1024,
    ),
    beats_cookie(
        "verify sha256 faster than cookie crate at 2900 B",
        "verify",
        2900,
    ),
    at_most(
        "request/cookie_mode ≤ 4× floor at 300 B",
        "request",
        "cookie_mode",
        300,
        4.0,
    ),
    at_most(
        "request/server_memory ≤ 2.5× floor at 100 B",
        "request",
        "server_memory",
        100,
        2.5,
    ),
];

/// Nanoseconds per run of `run` over a batch of `n` runs.
#[allow(clippy::disallowed_methods)] // a benchmark harness reads the clock
fn time_batch(run: &mut dyn FnMut(), n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        run();
    }
    black_box(start.elapsed()).as_nanos() as f64 / f64::from(n)
}

/// Runs in a batch of about `batch` for `run`, at least one.
fn calibrate(run: &mut dyn FnMut(), batch: Duration) -> u32 {
    let mut n = 1u32;
    loop {
        let per_run = time_batch(run, n);
        if per_run * f64::from(n) >= batch.as_nanos() as f64 / 4.0 || n >= 1 << 20 {
            return ((batch.as_nanos() as f64 / per_run.max(1.0)) as u32).max(1);
        }
        n *= 2;
    }
}

/// Paired times (Python, ours) in ns per request: `ours` against the Pyramid request at
/// `size`, run by `python` in alternating batches of about 20 ms.
fn against_python(
    python: &str,
    ours: &mut dyn FnMut(),
    size: usize,
    rounds: usize,
) -> Vec<(f64, f64)> {
    let mut child = Command::new(python)
        .args(["benches/python_baseline.py", "--serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start benches/python_baseline.py --serve");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut python_batch = || {
        writeln!(stdin, "{size}").expect("write to the Python baseline");
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read from the Python baseline");
        line.trim().parse::<f64>().expect("ns per request")
    };
    python_batch(); // calibration and warm-up
    let n = calibrate(ours, Duration::from_millis(20));
    let mut pairs = Vec::new();
    for round in 0..rounds {
        let (py, rust) = if round % 2 == 0 {
            let py = python_batch();
            (py, time_batch(ours, n))
        } else {
            let rust = time_batch(ours, n);
            (python_batch(), rust)
        };
        pairs.push((py, rust));
    }
    drop(stdin);
    let _ = child.wait();
    pairs
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    let rounds: usize = if smoke {
        5
    } else {
        std::env::var("RATIO_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1500)
    };
    let batch = Duration::from_micros(if smoke { 20 } else { 200 });
    println!(
        "| target | ours | baseline | ratio (median of {rounds} paired batches) | p10–p90 | met |"
    );
    println!("|---|---:|---:|---:|---:|:---:|");
    let only = std::env::var("RATIO_ONLY").unwrap_or_default();
    for t in TARGETS.iter().filter(|t| t.label.contains(only.as_str())) {
        let mut ours = scenario_run(t.group, t.ours, t.size);
        let mut base = scenario_run(t.group, t.base, t.size);
        let pairs = paired(&mut ours, &mut base, rounds, batch);
        let ratios = sorted(
            pairs
                .iter()
                .map(|&(a, b)| if t.faster { b / a } else { a / b }),
        );
        let ours_ns = sorted(pairs.iter().map(|p| p.0));
        let base_ns = sorted(pairs.iter().map(|p| p.1));
        let ratio = percentile(&ratios, 0.5);
        let met = if t.faster {
            ratio > t.limit
        } else {
            ratio <= t.limit
        };
        println!(
            "| {} | {:.0} ns | {:.0} ns | {:.2}×{} | {:.2}–{:.2} | {} |",
            t.label,
            percentile(&ours_ns, 0.5),
            percentile(&base_ns, 0.5),
            ratio,
            if t.faster { " faster" } else { "" },
            percentile(&ratios, 0.1),
            percentile(&ratios, 0.9),
            if met { "yes" } else { "no" }
        );
    }
    let label = "request/cookie_mode ≥ 30× faster than Python at 300 B";
    let python = std::env::var("PYTHON_BASELINE").ok().filter(|_| !smoke);
    match &python {
        Some(python) if label.contains(only.as_str()) => {
            let mut ours = scenario_run("request", "cookie_mode", 300);
            let pairs = against_python(python, &mut ours, 300, rounds.min(150));
            let ratios = sorted(pairs.iter().map(|(py, rust)| py / rust));
            let py_ns = sorted(pairs.iter().map(|p| p.0));
            let ours_ns = sorted(pairs.iter().map(|p| p.1));
            let ratio = percentile(&ratios, 0.5);
            println!(
                "| {label} | {:.0} ns | {:.0} ns | {ratio:.1}× faster | {:.1}–{:.1} | {} |",
                percentile(&ours_ns, 0.5),
                percentile(&py_ns, 0.5),
                percentile(&ratios, 0.1),
                percentile(&ratios, 0.9),
                if ratio >= 30.0 { "yes" } else { "no" }
            );
        }
        _ => println!("| {label} | - | - | not measured (set PYTHON_BASELINE) | - | - |"),
    }
    if std::env::var("RATIO_BOUNDS").is_ok_and(|b| b == "1") {
        print_bounds(rounds, batch, python.as_deref());
    }
}

/// The closure of scenario `group/function/size`.
fn scenario_run(group: &str, function: &str, size: usize) -> Box<dyn FnMut()> {
    scenarios::scenarios(group, size)
        .into_iter()
        .find(|s| s.function == function)
        .unwrap_or_else(|| panic!("no scenario {group}/{function}/{size}"))
        .run
}

/// `rounds` pairs of batch times (ns per run of `ours`, of `base`), the two timed in
/// alternation, each first in every other round so a steady drift favours neither.
fn paired(
    ours: &mut dyn FnMut(),
    base: &mut dyn FnMut(),
    rounds: usize,
    batch: Duration,
) -> Vec<(f64, f64)> {
    let (n_ours, n_base) = (calibrate(ours, batch), calibrate(base, batch));
    (0..rounds)
        .map(|round| {
            if round % 2 == 0 {
                let a = time_batch(ours, n_ours);
                (a, time_batch(base, n_base))
            } else {
                let b = time_batch(base, n_base);
                (time_batch(ours, n_ours), b)
            }
        })
        .collect()
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values
}

/// `RATIO_BOUNDS=1`: how far the missed targets could go at best. The cookie crate
/// against our sha256 sign/verify with base64 replaced by a plain copy, and (with
/// `PYTHON_BASELINE`) Pyramid's request against the request floor, the two HMACs alone.
fn print_bounds(rounds: usize, batch: Duration, python: Option<&str>) {
    println!();
    println!("| bound | cookie crate / ours (> 1: ours faster) |");
    println!("|---|---:|");
    for group in ["sign", "verify"] {
        for size in [300, 1024, 2900] {
            let mut cookie = scenario_run(group, "cookie_crate_sha256", size);
            let mut bound = scenarios::without_base64(group, size).run;
            let pairs = paired(&mut bound, &mut cookie, rounds, batch);
            let ratio = percentile(&sorted(pairs.iter().map(|(a, b)| b / a)), 0.5);
            println!("| {group} sha256 at {size} B, base64 replaced by a copy | {ratio:.2}× |");
        }
    }
    if let Some(python) = python {
        let mut floor = scenario_run("request", "floor", 300);
        let pairs = against_python(python, &mut floor, 300, rounds.min(150));
        let ratios = sorted(pairs.iter().map(|(py, rust)| py / rust));
        println!(
            "| Pyramid request / request floor at 300 B (the most any request could be faster) | {:.1}× |",
            percentile(&ratios, 0.5)
        );
    }
}
