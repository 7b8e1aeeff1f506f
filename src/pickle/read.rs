//! The reader: opcodes into an arena of nodes, then the arena into a [`PyValue`] tree.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::value::{How, PyInt, PyStr, PyValue};
use super::{Limits, PickleError as E};

type Id = usize;

/// Dict keys / set items by hash, for deduplication.
type Index = BTreeMap<u64, Vec<usize>>;

enum Node {
    None,
    Bool(bool),
    Int(PyInt),
    Float(f64),
    Str(PyStr),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<Id>),
    /// Items and the hash when hashable.
    Tuple(Vec<Id>, Option<u64>),
    Dict(Vec<(Id, Id)>, Index),
    Set(Vec<Id>, Index),
    FrozenSet(Vec<Id>, u64),
    Global(String, String),
    Opaque {
        global: Id,
        how: How,
        args: Option<Id>,
        kwargs: Option<Id>,
        state: Option<Id>,
    },
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: BTreeMap<u64, Id>,
}

/// Decodes a pickle (protocols 0 to 5) into a value, within `limits`; see the module
/// documentation for what is refused.
pub fn decode(data: &[u8], limits: &Limits) -> Result<PyValue, E> {
    if data.len() > limits.max_input {
        return Err(E::Limit("input size"));
    }
    let mut r = Reader {
        data,
        pos: 0,
        limits,
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: BTreeMap::new(),
    };
    let root = r.run()?;
    r.materialize(root)
}

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], E> {
        if self.data.len() - self.pos < n {
            return Err(E::Truncated);
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, E> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, E> {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(self.take(n)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A length prefix, checked against the remaining input.
    fn len(&mut self, n: usize) -> Result<usize, E> {
        let l = self.le(n)?;
        if l > (self.data.len() - self.pos) as u64 {
            return Err(E::Truncated);
        }
        Ok(l as usize)
    }

    fn line(&mut self) -> Result<&[u8], E> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or(E::Truncated)?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    fn push(&mut self, node: Node) -> Result<(), E> {
        let id = self.nodes.len();
        self.nodes.push(node);
        self.stack.push(id);
        Ok(())
    }

    fn pop(&mut self) -> Result<Id, E> {
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err(E::Malformed("stack underflow"));
        }
        self.stack.pop().ok_or(E::Malformed("stack underflow"))
    }

    fn top(&self) -> Result<Id, E> {
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err(E::Malformed("stack underflow"));
        }
        self.stack
            .last()
            .copied()
            .ok_or(E::Malformed("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, E> {
        let m = self.marks.pop().ok_or(E::Malformed("missing MARK"))?;
        Ok(self.stack.split_off(m))
    }

    fn str_at(&self, id: Id) -> Option<&PyStr> {
        match &self.nodes[id] {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    fn check_len(&self, n: usize) -> Result<(), E> {
        if n > self.limits.max_container {
            return Err(E::Limit("container length"));
        }
        Ok(())
    }

    fn memo_put(&mut self, idx: u64) -> Result<(), E> {
        let id = self.top()?;
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&idx) {
            return Err(E::Limit("memo size"));
        }
        self.memo.insert(idx, id);
        Ok(())
    }

    fn memo_get(&mut self, idx: u64) -> Result<(), E> {
        let id = *self.memo.get(&idx).ok_or(E::MemoMissing)?;
        self.stack.push(id);
        Ok(())
    }

    fn run(&mut self) -> Result<Id, E> {
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    let p = self.byte()?;
                    if p > 5 {
                        return Err(E::Protocol(p));
                    }
                }
                0x95 => {
                    self.len(8)?;
                }
                b'.' => {
                    let id = self.pop()?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(E::Malformed("items left on the stack at STOP"));
                    }
                    return Ok(id);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let id = self.top()?;
                    self.stack.push(id);
                }
                b'N' => self.push(Node::None)?,
                0x88 => self.push(Node::Bool(true))?,
                0x89 => self.push(Node::Bool(false))?,
                b'I' => {
                    let node = match self.line()? {
                        b"01" => Node::Bool(true),
                        b"00" => Node::Bool(false),
                        l => Node::Int(text_int(l)?),
                    };
                    self.push(node)?;
                }
                b'L' => {
                    let l = self.line()?;
                    let l = l.strip_suffix(b"L").unwrap_or(l);
                    let v = text_int(l)?;
                    self.push(Node::Int(v))?;
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push(Node::Int(PyInt::Small(i64::from(v))))?;
                }
                b'K' => {
                    let v = self.le(1)?;
                    self.push(Node::Int(PyInt::Small(v as i64)))?;
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.push(Node::Int(PyInt::Small(v as i64)))?;
                }
                0x8a | 0x8b => {
                    let n = self.len(if op == 0x8a { 1 } else { 4 })?;
                    let v = PyInt::from_twos_complement_le(self.take(n)?);
                    self.push(Node::Int(v))?;
                }
                b'F' => {
                    let l = self.line()?;
                    let v = core::str::from_utf8(l)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or(E::Malformed("bad FLOAT"))?;
                    self.push(Node::Float(v))?;
                }
                b'G' => {
                    let v = f64::from_bits(self.le(8)?.swap_bytes());
                    self.push(Node::Float(v))?;
                }
                b'S' => {
                    let s = py2_quoted(self.line()?)?;
                    self.push(Node::Str(s))?;
                }
                b'T' | b'U' => {
                    let n = self.len(if op == b'T' { 4 } else { 1 })?;
                    let s = latin1(self.take(n)?);
                    self.push(Node::Str(s))?;
                }
                b'V' => {
                    let s = raw_unicode_escape(self.line()?)?;
                    self.push(Node::Str(s))?;
                }
                b'X' | 0x8c | 0x8d => {
                    let n = self.len(match op {
                        0x8c => 1,
                        b'X' => 4,
                        _ => 8,
                    })?;
                    let b = self.take(n)?.to_vec();
                    let s = PyStr::from_surrogatepass(b).ok_or(E::Malformed("bad UTF-8"))?;
                    self.push(Node::Str(s))?;
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = self.len(match op {
                        b'C' => 1,
                        b'B' => 4,
                        _ => 8,
                    })?;
                    let b = self.take(n)?.to_vec();
                    self.push(if op == 0x96 {
                        Node::ByteArray(b)
                    } else {
                        Node::Bytes(b)
                    })?;
                }
                b']' => self.push(Node::List(Vec::new()))?,
                b')' => self.push(Node::Tuple(Vec::new(), Some(FNV0)))?,
                b'}' => self.push(Node::Dict(Vec::new(), Index::new()))?,
                0x8f => self.push(Node::Set(Vec::new(), Index::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len())?;
                    self.push(Node::List(items))?;
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.make_tuple(items)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.make_tuple(items)?;
                }
                b'a' => {
                    let item = self.pop()?;
                    self.extend_list(alloc::vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Dict(Vec::new(), Index::new()))?;
                    self.set_items(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(alloc::vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    let target = self.top()?;
                    if !matches!(self.nodes[target], Node::Set(..)) {
                        return Err(E::Malformed("ADDITEMS on a non-set"));
                    }
                    self.add_to_set(target, items)?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.make_frozenset(items)?;
                }
                b'p' => {
                    let i = text_index(self.line()?)?;
                    self.memo_put(i)?;
                }
                b'q' => {
                    let i = self.le(1)?;
                    self.memo_put(i)?;
                }
                b'r' => {
                    let i = self.le(4)?;
                    self.memo_put(i)?;
                }
                0x94 => {
                    let i = self.memo.len() as u64;
                    self.memo_put(i)?;
                }
                b'g' => {
                    let i = text_index(self.line()?)?;
                    self.memo_get(i)?;
                }
                b'h' => {
                    let i = self.le(1)?;
                    self.memo_get(i)?;
                }
                b'j' => {
                    let i = self.le(4)?;
                    self.memo_get(i)?;
                }
                b'c' => {
                    let module = ascii_name(self.line()?)?;
                    let name = ascii_name(self.line()?)?;
                    self.push(Node::Global(module, name))?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(m), Some(n)) = (self.str_at(module), self.str_at(name)) else {
                        return Err(E::Malformed("STACK_GLOBAL needs two str"));
                    };
                    let (Some(m), Some(n)) = (m.as_str(), n.as_str()) else {
                        return Err(E::Malformed("STACK_GLOBAL needs two str"));
                    };
                    let node = Node::Global(String::from(m), String::from(n));
                    self.push(node)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let global = self.pop()?;
                    self.reduce(global, args)?;
                }
                0x81 => {
                    let args = self.pop()?;
                    let global = self.pop()?;
                    self.opaque(global, How::NewObj, Some(args), None)?;
                }
                0x92 => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let global = self.pop()?;
                    if !matches!(self.nodes[kwargs], Node::Dict(..)) {
                        return Err(E::Malformed("NEWOBJ_EX kwargs not a dict"));
                    }
                    self.opaque(global, How::NewObjEx, Some(args), Some(kwargs))?;
                }
                b'b' => {
                    let st = self.pop()?;
                    let target = self.top()?;
                    match &mut self.nodes[target] {
                        Node::Opaque {
                            state: state @ None,
                            ..
                        } => *state = Some(st),
                        _ => return Err(E::Malformed("BUILD on a non-object")),
                    }
                }
                b'i' => return Err(E::Forbidden("INST")),
                b'o' => return Err(E::Forbidden("OBJ")),
                0x82..=0x84 => return Err(E::Forbidden("EXT")),
                b'P' | b'Q' => return Err(E::Forbidden("PERSID")),
                0x97 | 0x98 => return Err(E::Forbidden("buffer")),
                other => return Err(E::UnknownOpcode(other)),
            }
        }
    }
}

mod build;
mod text;

use text::{ascii_name, latin1, py2_quoted, raw_unicode_escape, text_index, text_int};
