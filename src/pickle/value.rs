//! The Python value model: what a pickle of plain data holds.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A Python `int` of any size.
///
/// Invariant (kept by every constructor): a value that fits in `i64` is `Small`; `Big`
/// holds the magnitude little-endian without trailing zero bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PyInt {
    /// Fits in an `i64`.
    Small(i64),
    /// Does not fit in an `i64`.
    Big {
        /// `true` below zero.
        negative: bool,
        /// Little-endian magnitude, no trailing zero bytes.
        magnitude: Vec<u8>,
    },
}

impl PyInt {
    /// From a sign and a little-endian magnitude (any trailing zeros).
    pub fn from_sign_magnitude(negative: bool, magnitude: &[u8]) -> PyInt {
        let mut mag: Vec<u8> = magnitude.to_vec();
        while mag.last() == Some(&0) {
            mag.pop();
        }
        if mag.len() <= 8 {
            let mut buf = [0u8; 8];
            buf[..mag.len()].copy_from_slice(&mag);
            let m = u64::from_le_bytes(buf);
            if !negative && m <= i64::MAX as u64 {
                return PyInt::Small(m as i64);
            }
            if negative && m <= 1u64 << 63 {
                return PyInt::Small((m as i64).wrapping_neg());
            }
        }
        PyInt::Big {
            negative: negative && !mag.is_empty(),
            magnitude: mag,
        }
    }

    /// From little-endian two's complement bytes (how `LONG1`/`LONG4` store ints).
    pub fn from_twos_complement_le(bytes: &[u8]) -> PyInt {
        let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
        if !negative {
            return PyInt::from_sign_magnitude(false, bytes);
        }
        // Negate: invert and add one.
        let mut mag: Vec<u8> = bytes.iter().map(|b| !b).collect();
        for b in mag.iter_mut() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        PyInt::from_sign_magnitude(true, &mag)
    }

    /// The sign and the little-endian magnitude.
    pub fn to_sign_magnitude(&self) -> (bool, Vec<u8>) {
        match self {
            PyInt::Small(v) => {
                let mut m = v.unsigned_abs().to_le_bytes().to_vec();
                while m.last() == Some(&0) {
                    m.pop();
                }
                (*v < 0, m)
            }
            PyInt::Big {
                negative,
                magnitude,
            } => (*negative, magnitude.clone()),
        }
    }

    /// CPython's `LONG1` payload: the shortest little-endian two's complement
    /// (`encode_long` in `_pickle.c`); empty for zero.
    pub fn to_twos_complement_le(&self) -> Vec<u8> {
        let (negative, mag) = self.to_sign_magnitude();
        if mag.is_empty() {
            return Vec::new();
        }
        let mut out = mag.clone();
        out.push(0);
        if negative {
            for b in out.iter_mut() {
                *b = !*b;
            }
            for b in out.iter_mut() {
                let (v, carry) = b.overflowing_add(1);
                *b = v;
                if !carry {
                    break;
                }
            }
            let n = out.len();
            if n > 1 && out[n - 1] == 0xff && out[n - 2] & 0x80 != 0 {
                out.pop();
            }
        } else if out.len() > 1 && out[out.len() - 2] & 0x80 == 0 {
            out.pop();
        }
        out
    }

    /// Parses an optional sign and decimal digits (at most 4300 digits, CPython's
    /// default `int` string limit). `None` when malformed.
    pub fn parse_decimal(text: &str) -> Option<PyInt> {
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if digits.is_empty() || digits.len() > 4300 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Base 10^9 chunks into a little-endian u32 limb vector.
        let mut limbs: Vec<u32> = Vec::new();
        for chunk in digits.as_bytes().chunks(9) {
            let mut mul: u64 = 1;
            let mut add: u64 = 0;
            for &d in chunk {
                mul *= 10;
                add = add * 10 + u64::from(d - b'0');
            }
            let mut carry = add;
            for limb in limbs.iter_mut() {
                let v = u64::from(*limb) * mul + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                limbs.push(carry as u32);
            }
        }
        let mag: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
        Some(PyInt::from_sign_magnitude(negative, &mag))
    }
}

impl fmt::Display for PyInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (negative, mag) = match self {
            PyInt::Small(v) => return write!(f, "{v}"),
            PyInt::Big {
                negative,
                magnitude,
            } => (*negative, magnitude),
        };
        let mut limbs: Vec<u32> = mag
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect();
        let mut chunks: Vec<u32> = Vec::new();
        while !limbs.is_empty() {
            let mut rem: u64 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        if negative {
            f.write_str("-")?;
        }
        let mut iter = chunks.iter().rev();
        if let Some(first) = iter.next() {
            write!(f, "{first}")?;
        }
        for c in iter {
            write!(f, "{c:09}")?;
        }
        Ok(())
    }
}

/// A Python `str`, stored as the bytes `str.encode("utf-8", "surrogatepass")` gives:
/// UTF-8 that may also hold surrogate code points (U+D800 to U+DFFF, three bytes each,
/// never combined into a pair). Without surrogates it is plain UTF-8 ([`PyStr::as_str`]).
/// This is exactly the payload of the pickle string opcodes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PyStr(Vec<u8>);

impl PyStr {
    /// Checks `bytes` as surrogatepass UTF-8 (shortest forms, code points up to U+10FFFF).
    pub fn from_surrogatepass(bytes: Vec<u8>) -> Option<PyStr> {
        if core::str::from_utf8(&bytes).is_ok() || valid_generalized_utf8(&bytes) {
            Some(PyStr(bytes))
        } else {
            None
        }
    }

    /// From Unicode code points (surrogates allowed); `None` above U+10FFFF.
    pub fn from_code_points(points: &[u32]) -> Option<PyStr> {
        let mut out = Vec::with_capacity(points.len());
        for &cp in points {
            push_code_point(&mut out, cp)?;
        }
        Some(PyStr(out))
    }

    /// The text, when it holds no lone surrogate.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.0).ok()
    }

    /// The surrogatepass UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The code points, decoded from the stored bytes.
    pub fn code_points(&self) -> Vec<u32> {
        let b = &self.0;
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let c = u32::from(b[i]);
            let (cp, n) = if c < 0x80 {
                (c, 1)
            } else if c < 0xe0 {
                (((c & 0x1f) << 6) | (u32::from(b[i + 1]) & 0x3f), 2)
            } else if c < 0xf0 {
                let v = ((c & 0x0f) << 12) | ((u32::from(b[i + 1]) & 0x3f) << 6);
                (v | (u32::from(b[i + 2]) & 0x3f), 3)
            } else {
                let v = ((c & 0x07) << 18) | ((u32::from(b[i + 1]) & 0x3f) << 12);
                (
                    v | ((u32::from(b[i + 2]) & 0x3f) << 6) | (u32::from(b[i + 3]) & 0x3f),
                    4,
                )
            };
            out.push(cp);
            i += n;
        }
        out
    }
}

impl From<&str> for PyStr {
    fn from(s: &str) -> PyStr {
        PyStr(s.as_bytes().to_vec())
    }
}

impl From<String> for PyStr {
    fn from(s: String) -> PyStr {
        PyStr(s.into_bytes())
    }
}

impl fmt::Debug for PyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "PyStr(surrogatepass {:02x?})", self.0),
        }
    }
}

pub(crate) fn push_code_point(out: &mut Vec<u8>, cp: u32) -> Option<()> {
    match cp {
        0..=0x7f => out.push(cp as u8),
        0x80..=0x7ff => out.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
        0x800..=0xffff => out.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        0x1_0000..=0x10_ffff => out.extend_from_slice(&[
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        _ => return None,
    }
    Some(())
}

/// UTF-8 that also allows encoded surrogates (what CPython's surrogatepass accepts).
fn valid_generalized_utf8(b: &[u8]) -> bool {
    let mut i = 0;
    let cont = |i: usize| b.get(i).is_some_and(|c| c & 0xc0 == 0x80);
    while i < b.len() {
        let c = b[i];
        let n = match c {
            0x00..=0x7f => 1,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => return false,
        };
        if !(1..n).all(|k| cont(i + k)) {
            return false;
        }
        let c1 = b.get(i + 1).copied().unwrap_or(0);
        let bad = (c == 0xe0 && c1 < 0xa0) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f);
        if bad {
            return false;
        }
        i += n;
    }
    true
}

/// How an opaque object was built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum How {
    /// `GLOBAL`/`STACK_GLOBAL` alone: a reference to a class or function.
    Global,
    /// `callable(*args)` (`REDUCE`).
    Reduce,
    /// `cls.__new__(cls, *args)` (`NEWOBJ`).
    NewObj,
    /// `cls.__new__(cls, *args, **kwargs)` (`NEWOBJ_EX`).
    NewObjEx,
}

/// An object the reader kept without importing, calling or instantiating anything.
#[derive(Clone, Debug, PartialEq)]
pub struct Opaque {
    /// The module of the global (`datetime`).
    pub module: String,
    /// The qualified name of the global (`datetime`).
    pub name: String,
    /// How the object was built.
    pub how: How,
    /// The argument tuple (`None` for [`How::Global`]).
    pub args: Option<PyValue>,
    /// The keyword arguments of [`How::NewObjEx`].
    pub kwargs: Option<PyValue>,
    /// The `BUILD` state (`__setstate__` argument), if any.
    pub state: Option<PyValue>,
}

/// A Python value. Dicts and sets keep the order the pickle gives (insertion order).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PyValue {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(PyInt),
    /// `float` (compared bit for bit by `==`, so NaN equals itself).
    Float(f64),
    /// `str`.
    Str(PyStr),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `bytearray`.
    ByteArray(Vec<u8>),
    /// `list`.
    List(Vec<PyValue>),
    /// `tuple`.
    Tuple(Vec<PyValue>),
    /// `dict`, in insertion order.
    Dict(Vec<(PyValue, PyValue)>),
    /// `set`.
    Set(Vec<PyValue>),
    /// `frozenset`.
    FrozenSet(Vec<PyValue>),
    /// Anything else, kept as data.
    Opaque(Box<Opaque>),
}

impl PartialEq for PyValue {
    fn eq(&self, other: &PyValue) -> bool {
        use PyValue as V;
        match (self, other) {
            (V::None, V::None) => true,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Int(a), V::Int(b)) => a == b,
            (V::Float(a), V::Float(b)) => a.to_bits() == b.to_bits(),
            (V::Str(a), V::Str(b)) => a == b,
            (V::Bytes(a), V::Bytes(b)) | (V::ByteArray(a), V::ByteArray(b)) => a == b,
            (V::List(a), V::List(b))
            | (V::Tuple(a), V::Tuple(b))
            | (V::Set(a), V::Set(b))
            | (V::FrozenSet(a), V::FrozenSet(b)) => a == b,
            (V::Dict(a), V::Dict(b)) => a == b,
            (V::Opaque(a), V::Opaque(b)) => a == b,
            _ => false,
        }
    }
}

impl PyValue {
    /// A `str` value.
    pub fn str(s: &str) -> PyValue {
        PyValue::Str(PyStr::from(s))
    }

    /// An `int` value.
    pub fn int(v: i64) -> PyValue {
        PyValue::Int(PyInt::Small(v))
    }
}
