//! Pyramid's `JSONSerializer`, byte for byte: Python's `json.dumps` with its defaults.
//!
//! Separators are `", "` and `": "`, object keys keep insertion order, every non-ASCII or
//! control character is escaped as lowercase `\uXXXX` (astral characters as surrogate
//! pairs), floats use Python's `repr` (`1700000000.0`, `1e+16`, `1e-05`) and integers of
//! any size are written digit for digit. Parsing is `serde_json`'s, with insertion order
//! and arbitrary-precision numbers kept, so a payload read and written back is unchanged.
//!
//! Non-finite floats are never written (Python would emit `NaN`/`Infinity`, which is not
//! JSON) and never accepted.

mod direct;
mod frame;
mod pyjson;

pub(crate) use direct::{number_literal, object_prefix, skip_ws};
pub use frame::{decode_frame, decode_typed, Frame, State};
pub use pyjson::{
    encode_frame, to_pyjson, write_float, write_object, write_string, write_value, FRAME_CAPACITY,
};
