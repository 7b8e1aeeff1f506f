//! The text arguments of protocol 0 and Python 2 strings.

use alloc::string::String;
use alloc::vec::Vec;

use crate::pickle::value::{PyInt, PyStr};
use crate::pickle::PickleError as E;

pub(super) fn text_int(l: &[u8]) -> Result<PyInt, E> {
    core::str::from_utf8(l)
        .ok()
        .and_then(|s| PyInt::parse_decimal(s.trim()))
        .ok_or(E::Malformed("bad text int"))
}

pub(super) fn text_index(l: &[u8]) -> Result<u64, E> {
    core::str::from_utf8(l)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(E::Malformed("bad memo index"))
}

/// A `GLOBAL` line, with Python 2 module names mapped as Python 3's `fix_imports` does
/// for the two a data pickle uses.
pub(super) fn ascii_name(l: &[u8]) -> Result<String, E> {
    let s = core::str::from_utf8(l).map_err(|_| E::Malformed("bad GLOBAL name"))?;
    Ok(String::from(match s {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        s => s,
    }))
}

pub(super) fn latin1(b: &[u8]) -> PyStr {
    let cps: Vec<u32> = b.iter().map(|&c| u32::from(c)).collect();
    // Latin-1 code points are all valid.
    PyStr::from_code_points(&cps).unwrap_or_default()
}

/// Protocol 0 `STRING`: a Python 2 repr, quoted, with backslash escapes.
pub(super) fn py2_quoted(l: &[u8]) -> Result<PyStr, E> {
    let bad = E::Malformed("bad STRING");
    let q = *l.first().ok_or(E::Malformed("bad STRING"))?;
    if l.len() < 2 || (q != b'\'' && q != b'"') || l[l.len() - 1] != q {
        return Err(bad);
    }
    let body = &l[1..l.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *body.get(i).ok_or(E::Malformed("bad STRING"))?;
        i += 1;
        match e {
            b'\n' => {}
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' => {
                let h = body.get(i..i + 2).ok_or(E::Malformed("bad STRING"))?;
                let v = core::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(v.ok_or(E::Malformed("bad STRING"))?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'\\' | b'\'' | b'"' => out.push(e),
            other => out.extend_from_slice(&[b'\\', other]),
        }
    }
    Ok(latin1(&out))
}

/// Protocol 0 `UNICODE`: raw-unicode-escape (`\uXXXX`, `\UXXXXXXXX`, else Latin-1).
pub(super) fn raw_unicode_escape(l: &[u8]) -> Result<PyStr, E> {
    let mut cps: Vec<u32> = Vec::with_capacity(l.len());
    let mut i = 0;
    let mut backslashes = 0usize;
    while i < l.len() {
        let c = l[i];
        if (c == b'u' || c == b'U') && backslashes % 2 == 1 {
            let n = if c == b'u' { 4 } else { 8 };
            let h = l
                .get(i + 1..i + 1 + n)
                .ok_or(E::Malformed("bad UNICODE escape"))?;
            let v = core::str::from_utf8(h)
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok());
            let v = v
                .filter(|v| *v <= 0x10_ffff)
                .ok_or(E::Malformed("bad UNICODE escape"))?;
            cps.pop();
            cps.push(v);
            i += 1 + n;
            backslashes = 0;
            continue;
        }
        backslashes = if c == b'\\' { backslashes + 1 } else { 0 };
        cps.push(u32::from(c));
        i += 1;
    }
    PyStr::from_code_points(&cps).ok_or(E::Malformed("bad UNICODE escape"))
}
