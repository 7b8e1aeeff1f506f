//! The writer: CPython 3.11's C pickler (`Modules/_pickle.c`) layout for protocols 2 to 5.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::value::{How, Opaque, PyInt, PyStr, PyValue};
use super::PickleError as E;

/// CPython's `FRAME_SIZE_TARGET` and `FRAME_SIZE_MIN`.
const FRAME_TARGET: usize = 64 * 1024;
const FRAME_MIN: usize = 4;
const FRAME_HEADER: usize = 9;
const BATCH: usize = 1000;
/// Deeper values are refused (CPython's own recursion limit is about 1000).
const MAX_DEPTH: usize = 1000;

struct Writer {
    out: Vec<u8>,
    proto: u8,
    framing: bool,
    frame_start: Option<usize>,
    memo_len: u32,
    /// Objects CPython shares after `pickle.loads` (so memoizes once): the empty str and
    /// one-character Latin-1 strs (key `s` + UTF-8), the empty bytes (key `b`), the
    /// `"latin1"` constant of protocol-2 bytes (key `L`).
    shared: BTreeMap<Vec<u8>, u32>,
    globals: BTreeMap<(String, String), u32>,
    depth: usize,
}

/// Writes `value` as CPython's `pickle.dumps(value, protocol)` does (protocols 2 to 5).
pub fn encode(value: &PyValue, protocol: u8) -> Result<Vec<u8>, E> {
    if !(2..=5).contains(&protocol) {
        return Err(E::Protocol(protocol));
    }
    let mut w = Writer {
        out: Vec::new(),
        proto: protocol,
        framing: false,
        frame_start: None,
        memo_len: 0,
        shared: BTreeMap::new(),
        globals: BTreeMap::new(),
        depth: 0,
    };
    w.write(&[0x80, protocol]);
    w.framing = protocol >= 4;
    w.save(value)?;
    w.write(b".");
    w.commit_frame();
    Ok(w.out)
}

impl Writer {
    fn write(&mut self, bytes: &[u8]) {
        if self.framing && self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend_from_slice(&[0; FRAME_HEADER]);
        }
        self.out.extend_from_slice(bytes);
    }

    fn commit_frame(&mut self) {
        let Some(start) = self.frame_start.take() else {
            return;
        };
        let len = self.out.len() - start - FRAME_HEADER;
        if len >= FRAME_MIN {
            self.out[start] = 0x95;
            self.out[start + 1..start + FRAME_HEADER].copy_from_slice(&(len as u64).to_le_bytes());
        } else {
            self.out.drain(start..start + FRAME_HEADER);
        }
    }

    /// Called where CPython's `save()` starts: a full frame is closed.
    fn boundary(&mut self) {
        if let Some(start) = self.frame_start {
            if self.out.len() - start - FRAME_HEADER >= FRAME_TARGET {
                self.commit_frame();
            }
        }
    }

    /// A header and a payload; payloads of a frame's size or more go outside frames.
    fn write_payload(&mut self, header: &[u8], data: &[u8]) {
        if data.len() >= FRAME_TARGET && self.framing {
            self.commit_frame();
            self.framing = false;
            self.write(header);
            self.write(data);
            self.framing = true;
        } else {
            self.write(header);
            self.write(data);
        }
    }

    fn memo_put(&mut self) -> u32 {
        let idx = self.memo_len;
        if self.proto >= 4 {
            self.write(&[0x94]);
        } else if let Ok(i) = u8::try_from(idx) {
            self.write(&[b'q', i]);
        } else {
            let mut op = [b'r', 0, 0, 0, 0];
            op[1..].copy_from_slice(&idx.to_le_bytes());
            self.write(&op);
        }
        self.memo_len += 1;
        idx
    }

    fn memo_get(&mut self, idx: u32) {
        if let Ok(i) = u8::try_from(idx) {
            self.write(&[b'h', i]);
        } else {
            let mut op = [b'j', 0, 0, 0, 0];
            op[1..].copy_from_slice(&idx.to_le_bytes());
            self.write(&op);
        }
    }

    /// Writes a shared object once, then `GET`s it.
    fn shared(
        &mut self,
        key: Vec<u8>,
        write: impl FnOnce(&mut Writer) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(&idx) = self.shared.get(&key) {
            self.memo_get(idx);
            return Ok(());
        }
        write(self)?;
        self.shared.insert(key, self.memo_len - 1);
        Ok(())
    }

    fn save(&mut self, v: &PyValue) -> Result<(), E> {
        self.boundary();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(E::Limit("depth"));
        }
        match v {
            PyValue::None => self.write(b"N"),
            PyValue::Bool(b) => self.write(&[if *b { 0x88 } else { 0x89 }]),
            PyValue::Int(i) => self.save_int(i),
            PyValue::Float(f) => {
                self.write(b"G");
                self.write(&f.to_bits().to_be_bytes());
            }
            PyValue::Str(s) => self.save_str(s),
            PyValue::Bytes(b) => self.save_bytes(b)?,
            PyValue::ByteArray(b) if self.proto >= 5 => {
                self.write_payload(&len_header(0x96, 8, b.len()), b);
                self.memo_put();
            }
            PyValue::ByteArray(b) => {
                self.save_global("builtins", "bytearray");
                if b.is_empty() {
                    self.save_args(&[])?;
                } else {
                    self.save_args(&[PyValue::Bytes(b.clone())])?;
                }
                self.write(b"R");
                self.memo_put();
            }
            PyValue::List(items) => {
                self.write(b"]");
                self.memo_put();
                if items.len() == 1 {
                    self.save(&items[0])?;
                    self.write(b"a");
                } else {
                    for batch in items.chunks(BATCH) {
                        self.write(b"(");
                        for item in batch {
                            self.save(item)?;
                        }
                        self.write(b"e");
                    }
                }
            }
            PyValue::Tuple(items) => self.save_tuple(items)?,
            PyValue::Dict(pairs) => {
                self.write(b"}");
                self.memo_put();
                if let [(k, v)] = pairs.as_slice() {
                    self.save(k)?;
                    self.save(v)?;
                    self.write(b"s");
                } else if !pairs.is_empty() {
                    // CPython loops while a batch was full: a multiple of 1000 items ends
                    // with an empty `MARK SETITEMS`.
                    for batch in pairs.chunks(BATCH).chain(empty_if_full(pairs.len())) {
                        self.write(b"(");
                        for (k, v) in batch {
                            self.save(k)?;
                            self.save(v)?;
                        }
                        self.write(b"u");
                    }
                }
            }
            PyValue::Set(items) | PyValue::FrozenSet(items) if self.proto < 4 => {
                let name = if matches!(v, PyValue::Set(_)) {
                    "set"
                } else {
                    "frozenset"
                };
                self.save_global("builtins", name);
                self.save_args(&[PyValue::List(items.clone())])?;
                self.write(b"R");
                self.memo_put();
            }
            PyValue::Set(items) => {
                self.write(&[0x8f]);
                self.memo_put();
                if !items.is_empty() {
                    for batch in items.chunks(BATCH).chain(empty_if_full(items.len())) {
                        self.write(b"(");
                        for item in batch {
                            self.save(item)?;
                        }
                        self.write(&[0x90]);
                    }
                }
            }
            PyValue::FrozenSet(items) => {
                self.write(b"(");
                for item in items {
                    self.save(item)?;
                }
                self.write(&[0x91]);
                self.memo_put();
            }
            PyValue::Opaque(o) => self.save_opaque(o)?,
        }
        self.depth -= 1;
        Ok(())
    }

    fn save_int(&mut self, i: &PyInt) {
        match i {
            PyInt::Small(v @ 0..=0xff) => self.write(&[b'K', *v as u8]),
            PyInt::Small(v @ 0..=0xffff) => self.write(&[b'M', *v as u8, (*v >> 8) as u8]),
            PyInt::Small(v) if i32::try_from(*v).is_ok() => {
                self.write(b"J");
                self.write(&(*v as i32).to_le_bytes());
            }
            _ => {
                let b = i.to_twos_complement_le();
                match u8::try_from(b.len()) {
                    Ok(n) => self.write(&[0x8a, n]),
                    Err(_) => self.write(&len_header(0x8b, 4, b.len())),
                }
                self.write(&b);
            }
        }
    }

    fn save_str(&mut self, s: &PyStr) {
        let b = s.as_bytes();
        let single = match s.code_points().as_slice() {
            [] => true,
            [c] => *c < 256,
            _ => false,
        };
        let write = |w: &mut Writer| {
            let header = if b.len() < 256 && w.proto >= 4 {
                alloc::vec![0x8c, b.len() as u8]
            } else if b.len() > u32::MAX as usize && w.proto >= 4 {
                len_header(0x8d, 8, b.len())
            } else {
                len_header(b'X', 4, b.len())
            };
            w.write_payload(&header, b);
            w.memo_put();
            Ok(())
        };
        let key = [b"s".as_slice(), b].concat();
        // The closure never fails.
        let _ = if single {
            self.shared(key, write)
        } else {
            write(self)
        };
    }

    fn save_bytes(&mut self, b: &[u8]) -> Result<(), E> {
        let write = |w: &mut Writer| {
            if w.proto >= 3 {
                let header = match u8::try_from(b.len()) {
                    Ok(n) => alloc::vec![b'C', n],
                    Err(_) if b.len() <= u32::MAX as usize => len_header(b'B', 4, b.len()),
                    Err(_) => len_header(0x8e, 8, b.len()),
                };
                w.write_payload(&header, b);
            } else if b.is_empty() {
                w.save_global("builtins", "bytes");
                w.boundary();
                w.write(b")");
                w.write(b"R");
            } else {
                w.save_global("_codecs", "encode");
                w.boundary();
                let cps: Vec<u32> = b.iter().map(|&c| u32::from(c)).collect();
                w.boundary();
                w.save_str(&PyStr::from_code_points(&cps).unwrap_or_default());
                w.boundary();
                w.shared(b"L".to_vec(), |w| {
                    w.save_str(&PyStr::from("latin1"));
                    Ok(())
                })?;
                w.write(&[0x86]);
                w.memo_put();
                w.write(b"R");
            }
            w.memo_put();
            Ok(())
        };
        if b.is_empty() {
            self.shared(b"b".to_vec(), write)
        } else {
            write(self)
        }
    }

    fn save_tuple(&mut self, items: &[PyValue]) -> Result<(), E> {
        if items.is_empty() {
            self.write(b")");
            return Ok(());
        }
        let small = items.len() <= 3;
        if !small {
            self.write(b"(");
        }
        for item in items {
            self.save(item)?;
        }
        self.write(&[if small {
            0x84 + items.len() as u8
        } else {
            b't'
        }]);
        self.memo_put();
        Ok(())
    }

    /// An argument tuple, as `save()` of a tuple.
    fn save_args(&mut self, items: &[PyValue]) -> Result<(), E> {
        self.boundary();
        self.save_tuple(items)
    }

    /// `save(global)`: a memoized `GLOBAL` (protocols below 4) or `STACK_GLOBAL`.
    fn save_global(&mut self, module: &str, name: &str) {
        self.boundary();
        let key = (String::from(module), String::from(name));
        if let Some(&idx) = self.globals.get(&key) {
            self.memo_get(idx);
            return;
        }
        if self.proto >= 4 {
            self.boundary();
            self.save_str(&PyStr::from(module));
            self.boundary();
            self.save_str(&PyStr::from(name));
            self.write(&[0x93]);
        } else {
            let module = match module {
                "builtins" if self.proto < 3 => "__builtin__",
                "copyreg" if self.proto < 3 => "copy_reg",
                m => m,
            };
            self.write(b"c");
            self.write(module.as_bytes());
            self.write(b"\n");
            self.write(name.as_bytes());
            self.write(b"\n");
        }
        let idx = self.memo_put();
        self.globals.insert(key, idx);
    }

    fn save_opaque(&mut self, o: &Opaque) -> Result<(), E> {
        self.save_global(&o.module, &o.name);
        if o.how == How::Global {
            return Ok(());
        }
        let args = o
            .args
            .as_ref()
            .ok_or(E::Malformed("opaque object without arguments"))?;
        if !matches!(args, PyValue::Tuple(_)) {
            return Err(E::Malformed("opaque arguments not a tuple"));
        }
        self.save(args)?;
        match (o.how, &o.kwargs) {
            (How::Reduce, None) => self.write(b"R"),
            (How::NewObj, None) => self.write(&[0x81]),
            (How::NewObjEx, Some(kw)) if self.proto >= 4 => {
                self.save(kw)?;
                self.write(&[0x92]);
            }
            _ => return Err(E::Malformed("opaque object not writable at this protocol")),
        }
        self.memo_put();
        if let Some(state) = &o.state {
            self.save(state)?;
            self.write(b"b");
        }
        Ok(())
    }
}

fn len_header(op: u8, width: usize, len: usize) -> Vec<u8> {
    let mut h = alloc::vec![op];
    h.extend_from_slice(&(len as u64).to_le_bytes()[..width]);
    h
}

/// One empty batch after a full last batch (CPython's `do { … } while (i == BATCHSIZE)`).
fn empty_if_full<T>(len: usize) -> Option<&'static [T]> {
    len.is_multiple_of(BATCH).then_some(&[])
}
