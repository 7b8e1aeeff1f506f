//! Lossless conversion between [`PyValue`] and `serde_json::Value` where one exists
//! (feature `json`): JSON null, booleans, numbers (integers digit for digit, floats by
//! their shortest repr), strings, arrays (lists) and objects (dicts of str keys).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Number, Value};

use super::value::{PyInt, PyStr, PyValue};

impl PyValue {
    /// The value as JSON; `None` for what JSON cannot hold losslessly (tuples, bytes,
    /// sets, opaque objects, non-str keys, NaN and infinities, lone surrogates).
    pub fn to_json(&self) -> Option<Value> {
        Some(match self {
            PyValue::None => Value::Null,
            PyValue::Bool(b) => Value::Bool(*b),
            PyValue::Int(i) => Value::Number(i.to_string().parse::<Number>().ok()?),
            PyValue::Float(f) => Value::Number(Number::from_f64(*f)?),
            PyValue::Str(s) => Value::String(String::from(s.as_str()?)),
            PyValue::List(items) => Value::Array(
                items
                    .iter()
                    .map(PyValue::to_json)
                    .collect::<Option<Vec<_>>>()?,
            ),
            PyValue::Dict(pairs) => {
                let mut map = Map::new();
                for (k, v) in pairs {
                    let PyValue::Str(k) = k else { return None };
                    map.insert(String::from(k.as_str()?), v.to_json()?);
                }
                Value::Object(map)
            }
            _ => return None,
        })
    }

    /// The value of a JSON document: integers become `Int`, other numbers `Float`.
    pub fn from_json(value: &Value) -> Option<PyValue> {
        Some(match value {
            Value::Null => PyValue::None,
            Value::Bool(b) => PyValue::Bool(*b),
            Value::Number(n) => {
                let text = n.to_string();
                match PyInt::parse_decimal(&text) {
                    Some(i) => PyValue::Int(i),
                    None => PyValue::Float(text.parse::<f64>().ok()?),
                }
            }
            Value::String(s) => PyValue::Str(PyStr::from(s.as_str())),
            Value::Array(items) => PyValue::List(
                items
                    .iter()
                    .map(PyValue::from_json)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::Object(map) => PyValue::Dict(
                map.iter()
                    .map(|(k, v)| {
                        Some((
                            PyValue::Str(PyStr::from(k.as_str())),
                            PyValue::from_json(v)?,
                        ))
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
        })
    }
}
