//! Building containers and objects in the arena, and the arena into a tree.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{fnv, Id, Index, Node, Reader, FNV0};
use crate::pickle::value::{How, Opaque, PyValue};
use crate::pickle::PickleError as E;

impl Reader<'_> {
    /// The hash of a hashable node (`None` when Python could not hash it).
    fn hash(&self, id: Id) -> Option<u64> {
        let h = |tag: u8, b: &[u8]| fnv(fnv(FNV0, &[tag]), b);
        Some(match &self.nodes[id] {
            Node::None => h(0, &[]),
            Node::Bool(b) => h(1, &[u8::from(*b)]),
            Node::Int(i) => {
                let (neg, mag) = i.to_sign_magnitude();
                h(2 + u8::from(neg), &mag)
            }
            Node::Float(f) => h(4, &f.to_bits().to_le_bytes()),
            Node::Str(s) => h(5, s.as_bytes()),
            Node::Bytes(b) => h(6, b),
            Node::Tuple(_, hash) => (*hash)?,
            Node::FrozenSet(_, hash) => *hash,
            Node::Global(..) | Node::Opaque { .. } => h(9, &id.to_le_bytes()),
            Node::List(_) | Node::Dict(..) | Node::Set(..) | Node::ByteArray(_) => return None,
        })
    }

    /// Structural equality of two hashable nodes, without recursion.
    fn same(&self, a: Id, b: Id) -> bool {
        let mut todo = alloc::vec![(a, b)];
        while let Some((a, b)) = todo.pop() {
            if a == b {
                continue;
            }
            let eq = match (&self.nodes[a], &self.nodes[b]) {
                (Node::None, Node::None) => true,
                (Node::Bool(x), Node::Bool(y)) => x == y,
                (Node::Int(x), Node::Int(y)) => x == y,
                (Node::Float(x), Node::Float(y)) => x.to_bits() == y.to_bits(),
                (Node::Str(x), Node::Str(y)) => x == y,
                (Node::Bytes(x), Node::Bytes(y)) => x == y,
                (Node::Tuple(x, _), Node::Tuple(y, _))
                | (Node::FrozenSet(x, _), Node::FrozenSet(y, _)) => {
                    todo.extend(x.iter().copied().zip(y.iter().copied()));
                    x.len() == y.len()
                }
                _ => false,
            };
            if !eq {
                return false;
            }
        }
        true
    }

    /// Where `key` already is among `keys` (through `index`), or records it at `pos`.
    fn find_or_index(
        &self,
        index: &mut Index,
        key_at: impl Fn(usize) -> Id,
        key: Id,
        pos: usize,
    ) -> Result<Option<usize>, E> {
        let h = self.hash(key).ok_or(E::Unhashable)?;
        let slot = index.entry(h).or_default();
        if let Some(&p) = slot.iter().find(|&&p| self.same(key_at(p), key)) {
            return Ok(Some(p));
        }
        slot.push(pos);
        Ok(None)
    }

    pub(super) fn make_tuple(&mut self, items: Vec<Id>) -> Result<(), E> {
        self.check_len(items.len())?;
        let mut h = Some(fnv(FNV0, &[7]));
        for &i in &items {
            h = match (h, self.hash(i)) {
                (Some(h), Some(x)) => Some(fnv(h, &x.to_le_bytes())),
                _ => None,
            };
        }
        self.push(Node::Tuple(items, h))
    }

    pub(super) fn make_frozenset(&mut self, items: Vec<Id>) -> Result<(), E> {
        let id = self.nodes.len();
        self.nodes.push(Node::Set(Vec::new(), Index::new()));
        self.add_to_set(id, items)?;
        let Node::Set(items, _) = core::mem::replace(&mut self.nodes[id], Node::None) else {
            return Err(E::Malformed("internal"));
        };
        let mut h = 0u64;
        for &i in &items {
            h = h.wrapping_add(self.hash(i).ok_or(E::Unhashable)?);
        }
        self.nodes[id] = Node::FrozenSet(items, fnv(FNV0, &h.to_le_bytes()));
        self.stack.push(id);
        Ok(())
    }

    pub(super) fn extend_list(&mut self, items: Vec<Id>) -> Result<(), E> {
        let target = self.top()?;
        let max = self.limits.max_container;
        match &mut self.nodes[target] {
            Node::List(l) if l.len() + items.len() <= max => {
                l.extend(items);
                Ok(())
            }
            Node::List(_) => Err(E::Limit("container length")),
            _ => Err(E::Malformed("APPEND on a non-list")),
        }
    }

    pub(super) fn set_items(&mut self, items: Vec<Id>) -> Result<(), E> {
        if !items.len().is_multiple_of(2) {
            return Err(E::Malformed("odd number of items for SETITEMS"));
        }
        let target = self.top()?;
        let Node::Dict(mut pairs, mut index) =
            core::mem::replace(&mut self.nodes[target], Node::None)
        else {
            return Err(E::Malformed("SETITEM on a non-dict"));
        };
        let result = (|| {
            for kv in items.chunks(2) {
                match self.find_or_index(&mut index, |p| pairs[p].0, kv[0], pairs.len())? {
                    Some(p) => pairs[p].1 = kv[1],
                    None => pairs.push((kv[0], kv[1])),
                }
                self.check_len(pairs.len())?;
            }
            Ok(())
        })();
        self.nodes[target] = Node::Dict(pairs, index);
        result
    }

    pub(super) fn add_to_set(&mut self, target: Id, items: Vec<Id>) -> Result<(), E> {
        let Node::Set(mut set, mut index) = core::mem::replace(&mut self.nodes[target], Node::None)
        else {
            return Err(E::Malformed("ADDITEMS on a non-set"));
        };
        let result = (|| {
            for i in items {
                if self
                    .find_or_index(&mut index, |p| set[p], i, set.len())?
                    .is_none()
                {
                    set.push(i);
                }
                self.check_len(set.len())?;
            }
            Ok(())
        })();
        self.nodes[target] = Node::Set(set, index);
        result
    }

    pub(super) fn opaque(
        &mut self,
        global: Id,
        how: How,
        args: Option<Id>,
        kwargs: Option<Id>,
    ) -> Result<(), E> {
        if !matches!(self.nodes[global], Node::Global(..)) {
            return Err(E::Malformed("call of a non-global"));
        }
        if args.is_some_and(|a| !matches!(self.nodes[a], Node::Tuple(..))) {
            return Err(E::Malformed("arguments not a tuple"));
        }
        if !self.limits.allow_opaque {
            return Err(E::Opaque);
        }
        self.push(Node::Opaque {
            global,
            how,
            args,
            kwargs,
            state: None,
        })
    }

    /// `REDUCE`: the allow-list of data CPython writes with a global, else opaque.
    pub(super) fn reduce(&mut self, global: Id, args: Id) -> Result<(), E> {
        let (Node::Global(m, n), Node::Tuple(a, _)) = (&self.nodes[global], &self.nodes[args])
        else {
            return self.opaque(global, How::Reduce, Some(args), None);
        };
        let (m, n, a) = (m.clone(), n.clone(), a.clone());
        let builtin = m == "builtins" || m == "__builtin__";
        let node = |i: usize| a.get(i).map(|&id| &self.nodes[id]);
        let latin1 = |i: usize| match node(i) {
            Some(Node::Str(s)) => s
                .code_points()
                .iter()
                .map(|&c| u8::try_from(c).ok())
                .collect::<Option<Vec<u8>>>(),
            _ => None,
        };
        let is_latin1_name = |i: usize| matches!(node(i), Some(Node::Str(s)) if s.as_bytes() == b"latin1" || s.as_bytes() == b"latin-1");
        let set_items = match (m.as_str(), n.as_str(), a.len()) {
            (_, "set" | "frozenset", 0 | 1) if builtin => match node(0) {
                None => Some(Vec::new()),
                Some(Node::List(l)) => Some(l.clone()),
                _ => None,
            },
            _ => None,
        };
        if let Some(items) = set_items {
            if n == "set" {
                let id = self.nodes.len();
                self.nodes.push(Node::Set(Vec::new(), Index::new()));
                self.add_to_set(id, items)?;
                self.stack.push(id);
            } else {
                self.make_frozenset(items)?;
            }
            return Ok(());
        }
        let made = match (m.as_str(), n.as_str(), a.len()) {
            ("_codecs", "encode", 2) if is_latin1_name(1) => latin1(0).map(Node::Bytes),
            (_, "bytes", 0) if builtin => Some(Node::Bytes(Vec::new())),
            (_, "bytearray", 0) if builtin => Some(Node::ByteArray(Vec::new())),
            (_, "bytearray", 1) if builtin => match node(0) {
                Some(Node::Bytes(b)) => Some(Node::ByteArray(b.clone())),
                _ => None,
            },
            (_, "bytearray", 2) if builtin && is_latin1_name(1) => latin1(0).map(Node::ByteArray),
            _ => None,
        };
        match made {
            Some(n) => self.push(n),
            None => self.opaque(global, How::Reduce, Some(args), None),
        }
    }

    /// The tree rooted at `root`, built with an explicit stack: refuses recursion, caps
    /// depth and output size (shared references are copied and counted each time).
    pub(super) fn materialize(&self, root: Id) -> Result<PyValue, E> {
        struct Frame {
            id: Id,
            children: Vec<Id>,
            done: Vec<PyValue>,
        }
        let mut on_path = alloc::vec![false; self.nodes.len()];
        let mut budget = self.limits.max_output;
        let mut frames: Vec<Frame> = Vec::new();
        let mut pending = Some(root);
        loop {
            if let Some(id) = pending.take() {
                if on_path[id] {
                    return Err(E::Recursive);
                }
                if frames.len() >= self.limits.max_depth {
                    return Err(E::Limit("depth"));
                }
                let (cost, children) = self.children(id);
                budget = budget
                    .checked_sub(cost + 1)
                    .ok_or(E::Limit("output size"))?;
                on_path[id] = true;
                let n = children.len();
                frames.push(Frame {
                    id,
                    children,
                    done: Vec::with_capacity(n),
                });
            }
            let Some(top) = frames.last_mut() else {
                return Err(E::Malformed("internal"));
            };
            if top.done.len() < top.children.len() {
                pending = Some(top.children[top.done.len()]);
                continue;
            }
            let Some(frame) = frames.pop() else {
                return Err(E::Malformed("internal"));
            };
            on_path[frame.id] = false;
            let value = self.assemble(frame.id, frame.done)?;
            match frames.last_mut() {
                Some(parent) => parent.done.push(value),
                None => return Ok(value),
            }
        }
    }

    /// The payload size and the children (in order) of a node.
    fn children(&self, id: Id) -> (usize, Vec<Id>) {
        match &self.nodes[id] {
            Node::Str(s) => (s.as_bytes().len(), Vec::new()),
            Node::Bytes(b) | Node::ByteArray(b) => (b.len(), Vec::new()),
            Node::List(l) | Node::Tuple(l, _) | Node::Set(l, _) | Node::FrozenSet(l, _) => {
                (0, l.clone())
            }
            Node::Dict(p, _) => (0, p.iter().flat_map(|&(k, v)| [k, v]).collect()),
            Node::Global(m, n) => (m.len() + n.len(), Vec::new()),
            Node::Opaque {
                global,
                args,
                kwargs,
                state,
                ..
            } => {
                let mut c = alloc::vec![*global];
                c.extend(args.iter().chain(kwargs).chain(state).copied());
                (0, c)
            }
            _ => (0, Vec::new()),
        }
    }

    fn assemble(&self, id: Id, mut done: Vec<PyValue>) -> Result<PyValue, E> {
        Ok(match &self.nodes[id] {
            Node::None => PyValue::None,
            Node::Bool(b) => PyValue::Bool(*b),
            Node::Int(i) => PyValue::Int(i.clone()),
            Node::Float(f) => PyValue::Float(*f),
            Node::Str(s) => PyValue::Str(s.clone()),
            Node::Bytes(b) => PyValue::Bytes(b.clone()),
            Node::ByteArray(b) => PyValue::ByteArray(b.clone()),
            Node::List(_) => PyValue::List(done),
            Node::Tuple(..) => PyValue::Tuple(done),
            Node::Set(..) => PyValue::Set(done),
            Node::FrozenSet(..) => PyValue::FrozenSet(done),
            Node::Dict(..) => {
                let mut pairs = Vec::with_capacity(done.len() / 2);
                let mut it = done.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                PyValue::Dict(pairs)
            }
            Node::Global(m, n) => {
                if !self.limits.allow_opaque {
                    return Err(E::Opaque);
                }
                opaque(m, n, How::Global, None, None, None)
            }
            Node::Opaque {
                how,
                args,
                kwargs,
                state,
                ..
            } => {
                let mut rest = done.split_off(1).into_iter();
                let Some(PyValue::Opaque(g)) = done.pop() else {
                    return Err(E::Malformed("internal"));
                };
                let args = if args.is_some() { rest.next() } else { None };
                let kwargs = if kwargs.is_some() { rest.next() } else { None };
                let state = if state.is_some() { rest.next() } else { None };
                opaque(&g.module, &g.name, *how, args, kwargs, state)
            }
        })
    }
}

fn opaque(
    m: &str,
    n: &str,
    how: How,
    args: Option<PyValue>,
    kwargs: Option<PyValue>,
    state: Option<PyValue>,
) -> PyValue {
    PyValue::Opaque(Box::new(Opaque {
        module: m.into(),
        name: n.into(),
        how,
        args,
        kwargs,
        state,
    }))
}
