//! Byte-exactness against the real CPython on `PATH` (`python3`), both ways:
//! * Rust writes random values; Python checks `pickle.dumps(pickle.loads(x), p) == x`;
//! * Python writes random values (`dumps(loads(dumps(v, p)), p)`, what a read-modify-write
//!   produces); Rust checks `encode(decode(x), p) == x`.
//!
//! A missing `python3` fails the test, naming the Debian package (`.ci/run` installs it).
#![cfg(feature = "pickle")]

use std::io::Write;
use std::process::{Command, Stdio};

use pyramid_session::pickle::{decode, encode, Limits, PyInt, PyStr, PyValue};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
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

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_value(r: &mut Rng, depth: u32) -> PyValue {
    let kind = if depth == 0 { r.below(9) } else { r.below(15) };
    let n = r.below(5) as usize;
    match kind {
        0 => PyValue::None,
        1 => PyValue::Bool(r.below(2) == 1),
        2 => PyValue::int(
            [0, 1, 255, 256, 65535, 65536, -1, -256, i64::MAX, i64::MIN][r.below(10) as usize]
                ^ r.below(3) as i64,
        ),
        3 => {
            let mag: Vec<u8> = (0..r.below(40)).map(|_| r.next() as u8).collect();
            PyValue::Int(PyInt::from_sign_magnitude(r.below(2) == 1, &mag))
        }
        4 => PyValue::Float(
            [
                0.0,
                -0.0,
                1.5,
                f64::NAN,
                f64::INFINITY,
                5e-324,
                1e300,
                f64::from_bits(r.next()),
            ][r.below(8) as usize],
        ),
        5 | 6 => {
            let pool = [0x61, 0xe9, 0x4e2d, 0x1f600, 0xd800, 0x0a, 0x5c, 0xff];
            let len = [0, 1, 1, 2, 5, 300][r.below(6) as usize];
            let cps: Vec<u32> = (0..len).map(|_| pool[r.below(8) as usize]).collect();
            PyValue::Str(PyStr::from_code_points(&cps).unwrap())
        }
        7 => PyValue::Bytes(
            (0..[0, 1, 3, 300][r.below(4) as usize])
                .map(|_| r.next() as u8)
                .collect(),
        ),
        8 => PyValue::ByteArray((0..r.below(4)).map(|_| r.next() as u8).collect()),
        9 => PyValue::List((0..n).map(|_| random_value(r, depth - 1)).collect()),
        10 => PyValue::Tuple((0..n).map(|_| random_value(r, depth - 1)).collect()),
        11 | 12 => {
            let mut pairs: Vec<(PyValue, PyValue)> = Vec::new();
            for i in 0..n {
                let key = match r.below(3) {
                    0 => PyValue::str(&format!("k{i}")),
                    1 => PyValue::int(1000 + i as i64),
                    _ => PyValue::Tuple(vec![PyValue::int(i as i64), PyValue::str("t")]),
                };
                pairs.push((key, random_value(r, depth - 1)));
            }
            PyValue::Dict(pairs)
        }
        // Small ints below 8 in ascending order: CPython's set order too.
        13 => PyValue::Set(
            (0..8)
                .filter(|_| r.below(2) == 1)
                .take(4)
                .map(PyValue::int)
                .collect(),
        ),
        _ => PyValue::FrozenSet(
            (0..8)
                .filter(|_| r.below(2) == 1)
                .take(4)
                .map(PyValue::int)
                .collect(),
        ),
    }
}

#[test]
fn python_redumps_what_rust_writes_identically() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut lines = String::new();
    let mut cases = Vec::new();
    for i in 0..400 {
        let proto = [2u8, 4, 5][i % 3];
        let bytes = encode(&random_value(&mut r, 3), proto).unwrap();
        lines.push_str(&format!("{proto} {}\n", hex(&bytes)));
        cases.push(bytes);
    }
    // Large values cross frame boundaries and batch sizes.
    let big = PyValue::Dict(vec![
        (
            PyValue::str("l"),
            PyValue::List((0..2500).map(PyValue::int).collect()),
        ),
        (
            PyValue::str("d"),
            PyValue::Dict(
                (0..2000)
                    .map(|i| (PyValue::int(i), PyValue::str(&"x".repeat(40))))
                    .collect(),
            ),
        ),
        (PyValue::str("s"), PyValue::str(&"y".repeat(70_000))),
        (PyValue::str("b"), PyValue::Bytes(vec![7; 65_536])),
    ]);
    for proto in [2u8, 4, 5] {
        lines.push_str(&format!("{proto} {}\n", hex(&encode(&big, proto).unwrap())));
    }
    let script = "import pickle,sys\nfor line in sys.stdin:\n p,h=line.split()\n x=bytes.fromhex(h)\n y=pickle.dumps(pickle.loads(x),int(p))\n print('ok' if x==y else 'DIFF '+y.hex())";
    let out = python(script, &lines);
    let bad: Vec<(usize, &str)> = out
        .lines()
        .enumerate()
        .filter(|(_, l)| *l != "ok")
        .collect();
    assert_eq!(out.lines().count(), 403);
    assert!(
        bad.is_empty(),
        "{} of 403 differ, first: {:?} (ours {})",
        bad.len(),
        bad[0],
        hex(cases.get(bad[0].0).map_or(&[][..], |c| c))
    );
}

#[test]
fn rust_redumps_what_python_writes_identically() {
    let script = r#"
import pickle, random
random.seed(7)
def s():
    return "".join(chr(random.choice([0x61, 0xe9, 0x4e2d, 0x1f600, 0xd800, 0x0a, 0x5c])) for _ in range(random.choice([0, 1, 2, 7, 300])))
def v(d):
    k = random.randrange(9 if d == 0 else 15)
    n = random.randrange(5)
    if k == 0: return None
    if k == 1: return random.random() < 0.5
    if k == 2: return random.choice([0, 1, 255, 256, 65536, -1, 2**31, -2**31 - 1, 2**63, 7**90, -(2**200)])
    if k == 3: return random.choice([0.0, -0.0, 1.5, float("nan"), float("inf"), 5e-324, random.random()])
    if k in (4, 5): return s()
    if k == 6: return bytes(random.randrange(256) for _ in range(random.choice([0, 1, 4, 300])))
    if k == 7: return bytearray(random.randrange(256) for _ in range(random.randrange(4)))
    if k == 8: return random.randrange(-10**12, 10**12)
    if k == 9: return [v(d - 1) for _ in range(n)]
    if k == 10: return tuple(v(d - 1) for _ in range(n))
    if k in (11, 12): return {random.choice([s(), random.randrange(100), (1, s())]): v(d - 1) for _ in range(n)}
    if k == 13: return set(random.sample(range(8), random.randrange(5)))
    return frozenset(random.sample(range(8), random.randrange(5)))
for i in range(400):
    p = (2, 4, 5)[i % 3]
    print(p, pickle.dumps(pickle.loads(pickle.dumps(v(3), p)), p).hex())
for p in (2, 4, 5):
    print(p, pickle.dumps(pickle.loads(pickle.dumps({"l": list(range(3000)), "s": "z" * 70000, "d": {i: "w" * 50 + str(i) for i in range(3000)}}, p)), p).hex())
"#;
    let out = python(script, "");
    let mut n = 0;
    for line in out.lines() {
        let (p, h) = line.split_once(' ').unwrap();
        let bytes = unhex(h);
        let value = decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{e}: {h}"));
        assert!(
            encode(&value, p.parse().unwrap()).unwrap() == bytes,
            "differs at protocol {p}: {h}"
        );
        n += 1;
    }
    assert_eq!(n, 403);
}
