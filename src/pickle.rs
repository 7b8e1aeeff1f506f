//! A safe pickle codec for the plain data Python sessions hold (feature `pickle`).
//!
//! [`decode`] reads protocols 0 to 5 into a [`PyValue`] tree and **never imports, calls or
//! instantiates anything**: a `GLOBAL`/`STACK_GLOBAL` followed by `REDUCE`, `NEWOBJ`,
//! `NEWOBJ_EX` or `BUILD` becomes an [`Opaque`] node, refused unless
//! [`Limits::allow_opaque`] is set. A small allow-list maps back what CPython itself writes
//! for plain data on old protocols: `_codecs.encode(str, "latin1")` and `bytes()` (bytes on
//! protocols 0 to 2), `set`/`frozenset`/`bytearray` of a list or bytes (protocols below 4
//! or 5). `INST`, `OBJ`, `EXT1/2/4`, `PERSID`/`BINPERSID`, out-of-band buffers, unknown
//! opcodes, protocols above 5 and recursive structures are refused. Every length prefix is
//! checked against the remaining input before anything is allocated, and input size,
//! nesting depth, memo size, container lengths and the size of the result are capped
//! ([`Limits`]). The reader keeps its own stack: deep inputs cannot overflow the thread's.
//!
//! Choices where Python differs or leaves room:
//! * bytes after `STOP` are ignored, as `pickle.loads` does;
//! * Python 2 `str` (`STRING`, `BINSTRING`, `SHORT_BINSTRING`) decodes to `str`: ASCII as
//!   Python 3 does, other bytes as Latin-1 where Python 3 raises `UnicodeDecodeError`;
//! * shared references (memo `GET`) are copied: the tree has no identity;
//! * dict keys and set items are deduplicated structurally (`1` and `True` stay distinct).
//!
//! [`encode`] writes protocols 2, 4 and 5 byte for byte as CPython 3.11's C pickler does
//! for the same value as `pickle.loads` would build it (framing, memoization, int
//! opcodes, batches of 1000), so `pickle.dumps(pickle.loads(x), p) == x` holds for ours.
//! Sets are written in the stored order (CPython writes its hash order).

#[cfg(feature = "json")]
mod json;
mod read;
#[cfg(feature = "json")]
mod tagged;
mod value;
mod write;

use core::fmt;

pub use read::decode;
#[cfg(feature = "json")]
pub use tagged::TaggedError;
pub use value::{How, Opaque, PyInt, PyStr, PyValue};
pub use write::encode;

/// Caps on what [`decode`] accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest input, in bytes (default 1 MiB).
    pub max_input: usize,
    /// Deepest nesting of the result (default 200).
    pub max_depth: usize,
    /// Most memo entries (default 65 536).
    pub max_memo: usize,
    /// Most items in one list, tuple, dict or set (default 100 000).
    pub max_container: usize,
    /// Most nodes plus payload bytes in the result, shared references counted each time
    /// (default 16 MiB).
    pub max_output: usize,
    /// Whether opaque objects are kept (default `false`: refused).
    pub allow_opaque: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_input: 1 << 20,
            max_depth: 200,
            max_memo: 1 << 16,
            max_container: 100_000,
            max_output: 16 << 20,
            allow_opaque: false,
        }
    }
}

impl Limits {
    /// The defaults, with opaque objects kept.
    pub fn with_opaque() -> Limits {
        Limits {
            allow_opaque: true,
            ..Limits::default()
        }
    }
}

/// Why a pickle was refused (decoding) or could not be written (encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PickleError {
    /// The input ends before `STOP` or inside an argument.
    Truncated,
    /// An opcode that does not exist.
    UnknownOpcode(u8),
    /// An opcode this reader never executes (`INST`, `OBJ`, `EXT*`, `PERSID`, buffers).
    Forbidden(&'static str),
    /// A protocol above 5 (decoding) or one the writer does not emit (encoding).
    Protocol(u8),
    /// A global, or an object built from one, while opaque objects are not allowed.
    Opaque,
    /// Malformed pickle: stack underflow, missing mark, bad argument, wrong types.
    Malformed(&'static str),
    /// A `GET` of a memo slot never stored.
    MemoMissing,
    /// A container that contains itself.
    Recursive,
    /// A dict key or set item that Python could not hash (a list, dict, set, bytearray).
    Unhashable,
    /// One of the [`Limits`] (or the writer's depth cap) was reached.
    Limit(&'static str),
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PickleError::Truncated => f.write_str("pickle truncated"),
            PickleError::UnknownOpcode(op) => write!(f, "unknown pickle opcode 0x{op:02x}"),
            PickleError::Forbidden(op) => write!(f, "pickle opcode {op} refused"),
            PickleError::Protocol(p) => write!(f, "unsupported pickle protocol {p}"),
            PickleError::Opaque => f.write_str("pickle holds an object (opaque nodes not allowed)"),
            PickleError::Malformed(why) => write!(f, "malformed pickle: {why}"),
            PickleError::MemoMissing => f.write_str("pickle reads a memo slot never written"),
            PickleError::Recursive => f.write_str("pickle holds a recursive structure"),
            PickleError::Unhashable => {
                f.write_str("pickle uses an unhashable dict key or set item")
            }
            PickleError::Limit(what) => write!(f, "pickle exceeds the {what} limit"),
        }
    }
}

impl core::error::Error for PickleError {}
