//! Tagged JSON: every [`PyValue`] as a `serde_json::Value`, losslessly (feature `json`).
//!
//! This is the one JSON view of Python values the crate uses: the session state of a
//! pickled session holds it, the CLI's `pickle decode` prints it. JSON-like values are
//! themselves — `None` is `null`, booleans, ints (any size, digit for digit) and floats
//! (Python's `repr`) are numbers, `str` a string, a list an array, a dict whose keys are
//! all `str` an object — so a handler reading `session["user"]` sees plain JSON. What
//! JSON cannot hold is a one-key object whose key names the type:
//!
//! | Python | tagged JSON |
//! |---|---|
//! | `(1, "a")` | `{"$tuple": [1, "a"]}` |
//! | `b"\x00\xff"` | `{"$bytes": "00ff"}` |
//! | `bytearray(b"a")` | `{"$bytearray": "61"}` |
//! | `{1, 2}` / `frozenset()` | `{"$set": [1, 2]}` / `{"$frozenset": []}` |
//! | `{1: "a"}` (any non-`str` key) | `{"$dict": [[1, "a"]]}` |
//! | `float("nan")`, `inf`, `-inf` | `{"$float": "nan"}`, `{"$float": "inf"}`, `{"$float": "-inf"}` |
//! | a `str` with a lone surrogate | `{"$str": [code points]}` |
//! | an opaque object | `{"$object": {"module": M, "name": N, "how": H, "args": …, "kwargs": …, "state": …}}` |
//!
//! `how` is `global`, `reduce`, `newobj` or `newobj_ex`; `args`, `kwargs` and `state` are
//! present when the object has them. Every one-key object whose key starts with `$` is
//! read as a tag (an unknown one is an error), so a dict that *looks* like a tag — one
//! `str` key starting with `$` — is written in the `$dict` form: the mapping is one to
//! one. A JSON number is an `int` when it is written without a fraction or an exponent,
//! a `float` otherwise (`1.0`, `1e+16`), as Python's `json` reads it.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde_json::{Map, Number, Value};

use super::value::{How, Opaque, PyInt, PyStr, PyValue};

/// Deeper values are refused both ways (the pickle reader's default depth; recursion
/// this deep fits the 2 MiB stack of a test or Tokio thread, even in a debug build).
const MAX_DEPTH: usize = 200;

/// Why a tagged JSON value is not a Python value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaggedError {
    /// A one-key object whose `$` key is not a known tag.
    UnknownTag(String),
    /// A tag whose content has the wrong shape (the tag is named).
    Shape(&'static str),
    /// A number that is neither a Python `int` (up to 4300 digits) nor a `float`.
    Number,
    /// A dict key or set item Python could not hash (a list, dict, set, bytearray).
    Unhashable,
    /// Nested deeper than 200 levels.
    TooDeep,
}

impl fmt::Display for TaggedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaggedError::UnknownTag(tag) => write!(f, "unknown tag {tag:?}"),
            TaggedError::Shape(tag) => write!(f, "malformed {tag} value"),
            TaggedError::Number => f.write_str("number is neither a Python int nor a float"),
            TaggedError::Unhashable => f.write_str("unhashable dict key or set item"),
            TaggedError::TooDeep => f.write_str("value nested too deeply"),
        }
    }
}

impl core::error::Error for TaggedError {}

impl PyValue {
    /// The tagged JSON form of the value (see the module docs). Fails only for values
    /// nested deeper than 200 levels.
    pub fn to_tagged(&self) -> Result<Value, TaggedError> {
        to_tagged(self, 0)
    }

    /// The Python value of a tagged JSON document (see the module docs).
    pub fn from_tagged(value: &Value) -> Result<PyValue, TaggedError> {
        from_tagged(value, 0)
    }
}

fn tag(name: &str, content: Value) -> Value {
    let mut map = Map::new();
    map.insert(name.to_string(), content);
    Value::Object(map)
}

fn hex(bytes: &[u8]) -> Value {
    let mut out = String::with_capacity(bytes.len() * 2);
    crate::encoding::hex::push_hex(bytes, &mut out);
    Value::String(out)
}

fn items(values: &[PyValue], depth: usize) -> Result<Value, TaggedError> {
    values
        .iter()
        .map(|v| to_tagged(v, depth))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// A finite float as a JSON number spelled as Python's `repr`.
fn float_number(x: f64) -> Option<Number> {
    let mut text = Vec::new();
    crate::codec::json::write_float(x, &mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

fn to_tagged(value: &PyValue, depth: usize) -> Result<Value, TaggedError> {
    if depth > MAX_DEPTH {
        return Err(TaggedError::TooDeep);
    }
    let depth = depth + 1;
    Ok(match value {
        PyValue::None => Value::Null,
        PyValue::Bool(b) => Value::Bool(*b),
        PyValue::Int(i) => Value::Number(
            // Decimal digits always parse as a number (arbitrary precision).
            i.to_string()
                .parse::<Number>()
                .map_err(|_| TaggedError::Number)?,
        ),
        PyValue::Float(x) => match float_number(*x) {
            Some(n) => Value::Number(n),
            None => {
                let name = if x.is_nan() {
                    "nan"
                } else if *x > 0.0 {
                    "inf"
                } else {
                    "-inf"
                };
                tag("$float", Value::String(name.into()))
            }
        },
        PyValue::Str(s) => match s.as_str() {
            Some(text) => Value::String(text.into()),
            None => tag(
                "$str",
                Value::Array(s.code_points().into_iter().map(Value::from).collect()),
            ),
        },
        PyValue::Bytes(b) => tag("$bytes", hex(b)),
        PyValue::ByteArray(b) => tag("$bytearray", hex(b)),
        PyValue::List(v) => items(v, depth)?,
        PyValue::Tuple(v) => tag("$tuple", items(v, depth)?),
        PyValue::Set(v) => tag("$set", items(v, depth)?),
        PyValue::FrozenSet(v) => tag("$frozenset", items(v, depth)?),
        PyValue::Dict(pairs) => match plain_object(pairs, depth)? {
            Some(map) => Value::Object(map),
            None => tag(
                "$dict",
                Value::Array(
                    pairs
                        .iter()
                        .map(|(k, v)| {
                            Ok(Value::Array(alloc::vec![
                                to_tagged(k, depth)?,
                                to_tagged(v, depth)?
                            ]))
                        })
                        .collect::<Result<Vec<_>, TaggedError>>()?,
                ),
            ),
        },
        PyValue::Opaque(o) => {
            let mut map = Map::new();
            map.insert("module".into(), Value::String(o.module.clone()));
            map.insert("name".into(), Value::String(o.name.clone()));
            let how = match o.how {
                How::Global => "global",
                How::Reduce => "reduce",
                How::NewObj => "newobj",
                How::NewObjEx => "newobj_ex",
            };
            map.insert("how".into(), Value::String(how.into()));
            for (name, part) in [
                ("args", &o.args),
                ("kwargs", &o.kwargs),
                ("state", &o.state),
            ] {
                if let Some(part) = part {
                    map.insert(name.into(), to_tagged(part, depth)?);
                }
            }
            tag("$object", Value::Object(map))
        }
    })
}

/// The dict as a JSON object, when every key is a valid-UTF-8 `str` and it cannot be
/// mistaken for a tag.
fn plain_object(
    pairs: &[(PyValue, PyValue)],
    depth: usize,
) -> Result<Option<Map<String, Value>>, TaggedError> {
    let mut map = Map::new();
    for (k, _) in pairs {
        let PyValue::Str(k) = k else { return Ok(None) };
        let Some(k) = k.as_str() else { return Ok(None) };
        if pairs.len() == 1 && k.starts_with('$') {
            return Ok(None);
        }
    }
    for (k, v) in pairs {
        let PyValue::Str(k) = k else { return Ok(None) };
        let key = k.as_str().unwrap_or_default().to_string();
        if map.insert(key, to_tagged(v, depth)?).is_some() {
            // Duplicate keys cannot come from Python; keep them all in the `$dict` form.
            return Ok(None);
        }
    }
    Ok(Some(map))
}

fn from_hex(value: &Value, name: &'static str) -> Result<Vec<u8>, TaggedError> {
    let text = value.as_str().ok_or(TaggedError::Shape(name))?;
    crate::encoding::hex::decode_hex(text).ok_or(TaggedError::Shape(name))
}

fn list<'a>(value: &'a Value, name: &'static str) -> Result<&'a [Value], TaggedError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or(TaggedError::Shape(name))
}

fn from_items(values: &[Value], depth: usize) -> Result<Vec<PyValue>, TaggedError> {
    values.iter().map(|v| from_tagged(v, depth)).collect()
}

fn from_tagged(value: &Value, depth: usize) -> Result<PyValue, TaggedError> {
    if depth > MAX_DEPTH {
        return Err(TaggedError::TooDeep);
    }
    let depth = depth + 1;
    Ok(match value {
        Value::Null => PyValue::None,
        Value::Bool(b) => PyValue::Bool(*b),
        Value::Number(n) => number(n)?,
        Value::String(s) => PyValue::Str(PyStr::from(s.as_str())),
        Value::Array(v) => PyValue::List(from_items(v, depth)?),
        Value::Object(map) => match map.iter().next() {
            Some((key, content)) if map.len() == 1 && key.starts_with('$') => {
                tagged(key, content, depth)?
            }
            _ => PyValue::Dict(
                map.iter()
                    .map(|(k, v)| Ok((PyValue::str(k), from_tagged(v, depth)?)))
                    .collect::<Result<Vec<_>, TaggedError>>()?,
            ),
        },
    })
}

fn number(n: &Number) -> Result<PyValue, TaggedError> {
    let text = n.to_string();
    if !text.contains(['.', 'e', 'E']) {
        return PyInt::parse_decimal(&text)
            .map(PyValue::Int)
            .ok_or(TaggedError::Number);
    }
    text.parse::<f64>()
        .map(PyValue::Float)
        .map_err(|_| TaggedError::Number)
}

fn tagged(key: &str, content: &Value, depth: usize) -> Result<PyValue, TaggedError> {
    Ok(match key {
        "$tuple" => PyValue::Tuple(from_items(list(content, "$tuple")?, depth)?),
        "$bytes" => PyValue::Bytes(from_hex(content, "$bytes")?),
        "$bytearray" => PyValue::ByteArray(from_hex(content, "$bytearray")?),
        "$set" => PyValue::Set(unique(from_items(list(content, "$set")?, depth)?)?),
        "$frozenset" => {
            PyValue::FrozenSet(unique(from_items(list(content, "$frozenset")?, depth)?)?)
        }
        "$float" => PyValue::Float(match content.as_str() {
            Some("nan") => f64::NAN,
            Some("inf") => f64::INFINITY,
            Some("-inf") => f64::NEG_INFINITY,
            _ => return Err(TaggedError::Shape("$float")),
        }),
        "$str" => {
            let points = list(content, "$str")?
                .iter()
                .map(|p| p.as_u64().and_then(|p| u32::try_from(p).ok()))
                .collect::<Option<Vec<u32>>>()
                .ok_or(TaggedError::Shape("$str"))?;
            PyValue::Str(PyStr::from_code_points(&points).ok_or(TaggedError::Shape("$str"))?)
        }
        "$dict" => {
            let mut pairs = Vec::new();
            for pair in list(content, "$dict")? {
                let [k, v] = list(pair, "$dict")? else {
                    return Err(TaggedError::Shape("$dict"));
                };
                pairs.push((from_tagged(k, depth)?, from_tagged(v, depth)?));
            }
            let keys = unique(pairs.iter().map(|(k, _)| k.clone()).collect())?;
            if keys.len() != pairs.len() {
                // `{1: "a", 1: "b"}` is `{1: "b"}` in Python: the last value, the first
                // key's place.
                let mut merged: Vec<(PyValue, PyValue)> = Vec::with_capacity(keys.len());
                for (k, v) in pairs {
                    match merged.iter_mut().find(|(seen, _)| *seen == k) {
                        Some(slot) => slot.1 = v,
                        None => merged.push((k, v)),
                    }
                }
                pairs = merged;
            }
            PyValue::Dict(pairs)
        }
        "$object" => {
            let map = content.as_object().ok_or(TaggedError::Shape("$object"))?;
            let text = |name: &str| {
                map.get(name)
                    .and_then(Value::as_str)
                    .map(String::from)
                    .ok_or(TaggedError::Shape("$object"))
            };
            let how = match text("how")?.as_str() {
                "global" => How::Global,
                "reduce" => How::Reduce,
                "newobj" => How::NewObj,
                "newobj_ex" => How::NewObjEx,
                _ => return Err(TaggedError::Shape("$object")),
            };
            let part = |name: &str| map.get(name).map(|v| from_tagged(v, depth)).transpose();
            PyValue::Opaque(alloc::boxed::Box::new(Opaque {
                module: text("module")?,
                name: text("name")?,
                how,
                args: part("args")?,
                kwargs: part("kwargs")?,
                state: part("state")?,
            }))
        }
        other => return Err(TaggedError::UnknownTag(other.to_string())),
    })
}

/// True for what Python can hash: no list, dict, set or bytearray inside.
fn hashable(value: &PyValue) -> bool {
    match value {
        PyValue::List(_) | PyValue::Dict(_) | PyValue::Set(_) | PyValue::ByteArray(_) => false,
        PyValue::Tuple(items) | PyValue::FrozenSet(items) => items.iter().all(hashable),
        _ => true,
    }
}

/// A structural hash for deduplication (equal values hash equal).
fn structural_hash(value: &PyValue, h: &mut u64) {
    fn mix(h: &mut u64, bytes: &[u8]) {
        for b in bytes {
            *h = (*h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    match value {
        PyValue::None => mix(h, b"N"),
        PyValue::Bool(b) => mix(h, &[b'B', u8::from(*b)]),
        PyValue::Int(i) => {
            mix(h, b"I");
            mix(h, i.to_string().as_bytes());
        }
        PyValue::Float(x) => {
            mix(h, b"F");
            mix(h, &x.to_bits().to_le_bytes());
        }
        PyValue::Str(s) => {
            mix(h, b"S");
            mix(h, s.as_bytes());
        }
        PyValue::Bytes(b) | PyValue::ByteArray(b) => {
            mix(h, b"Y");
            mix(h, b);
        }
        PyValue::Opaque(o) => {
            mix(h, b"O");
            mix(h, o.module.as_bytes());
            mix(h, o.name.as_bytes());
        }
        PyValue::List(items)
        | PyValue::Tuple(items)
        | PyValue::Set(items)
        | PyValue::FrozenSet(items) => {
            mix(h, &[b'L', items.len() as u8]);
            items.iter().for_each(|v| structural_hash(v, h));
        }
        PyValue::Dict(pairs) => {
            mix(h, b"D");
            for (k, v) in pairs {
                structural_hash(k, h);
                structural_hash(v, h);
            }
        }
    }
}

/// The items with duplicates dropped (first kept), refused when one is unhashable.
fn unique(items: Vec<PyValue>) -> Result<Vec<PyValue>, TaggedError> {
    let mut seen: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut out: Vec<PyValue> = Vec::with_capacity(items.len());
    for item in items {
        if !hashable(&item) {
            return Err(TaggedError::Unhashable);
        }
        let mut h = 0xcbf2_9ce4_8422_2325;
        structural_hash(&item, &mut h);
        let bucket = seen.entry(h).or_default();
        if bucket.iter().any(|&i| out[i] == item) {
            continue;
        }
        bucket.push(out.len());
        out.push(item);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: PyValue) -> Value {
        let tagged = value.to_tagged().unwrap();
        assert_eq!(PyValue::from_tagged(&tagged).unwrap(), value, "{tagged}");
        tagged
    }

    #[test]
    fn plain_values_are_themselves() {
        let v = PyValue::Dict(alloc::vec![
            (PyValue::str("user"), PyValue::str("ada")),
            (PyValue::str("n"), PyValue::int(3)),
            (PyValue::str("f"), PyValue::Float(1e16)),
            (
                PyValue::str("l"),
                PyValue::List(alloc::vec![PyValue::None, PyValue::Bool(true)])
            ),
        ]);
        assert_eq!(
            round_trip(v).to_string(),
            r#"{"user":"ada","n":3,"f":1e+16,"l":[null,true]}"#
        );
    }

    #[test]
    fn python_only_values_are_tagged() {
        let big = PyInt::parse_decimal("-123456789012345678901234567890").unwrap();
        let cases = [
            (
                PyValue::Tuple(alloc::vec![PyValue::int(1), PyValue::str("a")]),
                json!({"$tuple": [1, "a"]}),
            ),
            (
                PyValue::Bytes(alloc::vec![0, 255]),
                json!({"$bytes": "00ff"}),
            ),
            (
                PyValue::ByteArray(alloc::vec![b'a']),
                json!({"$bytearray": "61"}),
            ),
            (
                PyValue::Set(alloc::vec![PyValue::int(2)]),
                json!({"$set": [2]}),
            ),
            (PyValue::FrozenSet(alloc::vec![]), json!({"$frozenset": []})),
            (PyValue::Float(f64::NEG_INFINITY), json!({"$float": "-inf"})),
            (
                PyValue::Str(PyStr::from_code_points(&[0x61, 0xdc80]).unwrap()),
                json!({"$str": [0x61, 0xdc80]}),
            ),
            (
                PyValue::Dict(alloc::vec![(PyValue::int(1), PyValue::str("a"))]),
                json!({"$dict": [[1, "a"]]}),
            ),
            // A dict that looks like a tag is written in the `$dict` form.
            (
                PyValue::Dict(alloc::vec![(PyValue::str("$tuple"), PyValue::int(1))]),
                json!({"$dict": [["$tuple", 1]]}),
            ),
        ];
        for (value, tagged) in cases {
            assert_eq!(round_trip(value), tagged);
        }
        assert_eq!(
            round_trip(PyValue::Int(big)).to_string(),
            "-123456789012345678901234567890"
        );
        let nan = PyValue::from_tagged(&json!({"$float": "nan"})).unwrap();
        assert!(matches!(nan, PyValue::Float(x) if x.is_nan()));
    }

    #[test]
    fn opaque_objects_keep_their_parts() {
        let v = PyValue::Opaque(alloc::boxed::Box::new(Opaque {
            module: "yams._exceptions".into(),
            name: "ValidationError".into(),
            how: How::Reduce,
            args: Some(PyValue::Tuple(alloc::vec![PyValue::int(5)])),
            kwargs: None,
            state: Some(PyValue::Dict(alloc::vec![])),
        }));
        assert_eq!(
            round_trip(v),
            json!({"$object": {"module": "yams._exceptions", "name": "ValidationError",
                "how": "reduce", "args": {"$tuple": [5]}, "state": {}}})
        );
    }

    #[test]
    fn numbers_follow_python_json() {
        assert_eq!(PyValue::from_tagged(&json!(1)).unwrap(), PyValue::int(1));
        let one: Value = serde_json::from_str("1.0").unwrap();
        assert_eq!(PyValue::from_tagged(&one).unwrap(), PyValue::Float(1.0));
        let exp: Value = serde_json::from_str("1e5").unwrap();
        assert_eq!(PyValue::from_tagged(&exp).unwrap(), PyValue::Float(1e5));
    }

    #[test]
    fn bad_tags_are_refused() {
        let cases = [
            (json!({"$nope": 1}), TaggedError::UnknownTag("$nope".into())),
            (json!({"$tuple": 1}), TaggedError::Shape("$tuple")),
            (json!({"$bytes": "0g"}), TaggedError::Shape("$bytes")),
            (json!({"$set": [[1]]}), TaggedError::Unhashable),
            (json!({"$dict": [[{"a": 1}, 1]]}), TaggedError::Unhashable),
            (json!({"$dict": [[1]]}), TaggedError::Shape("$dict")),
            (json!({"$str": [0x110000]}), TaggedError::Shape("$str")),
            (json!({"$float": "1.5"}), TaggedError::Shape("$float")),
            (
                json!({"$object": {"module": "m"}}),
                TaggedError::Shape("$object"),
            ),
        ];
        for (value, error) in cases {
            assert_eq!(PyValue::from_tagged(&value), Err(error), "{value}");
        }
        // Sets drop duplicates; dicts keep the last value at the first key's place.
        assert_eq!(
            PyValue::from_tagged(&json!({"$set": [1, 1, 2]})).unwrap(),
            PyValue::Set(alloc::vec![PyValue::int(1), PyValue::int(2)])
        );
        assert_eq!(
            PyValue::from_tagged(&json!({"$dict": [[1, "a"], [2, "b"], [1, "c"]]})).unwrap(),
            PyValue::Dict(alloc::vec![
                (PyValue::int(1), PyValue::str("c")),
                (PyValue::int(2), PyValue::str("b"))
            ])
        );
        let mut deep = json!(1);
        for _ in 0..210 {
            deep = json!({"$tuple": [deep]});
        }
        assert_eq!(PyValue::from_tagged(&deep), Err(TaggedError::TooDeep));
    }
}
