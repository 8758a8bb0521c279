//! Lua values and the WIT value graph (`lua`'s `value`, and `host`'s alike), over Lua's
//! C API: the one conversion both crossings use, plugin calls (`wit::lua`, the host
//! calling Lua) and host calls (`lua::host`, Lua calling the host).
//!
//! A graph keeps what a tree cannot: a table reached twice is one node referred to twice,
//! so shared tables and cycles survive in both directions.
//!
//! Reading Lua values never raises: it only inspects (no allocation inside Lua, so no
//! collection and no finalizer runs either), and a table waiting to be read is kept
//! reachable on the stack, not in a Lua table. Pushing values allocates, and any Lua
//! allocation may raise "not enough memory" (a longjmp that skips Rust destructors), so
//! it runs in a protected call, and everything Rust owns lives outside it.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::collections::HashMap;
use std::ffi::{CStr, c_int, c_void};

use mlua::ffi::{self, lua_State};
use mlua::{Lua, MultiValue};

use crate::exports::luasocket::socket::lua::{Node, Value};

/// Why a Lua value cannot cross.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ReadError {
    /// Which of the values read (1: the first).
    pub position: usize,
    pub reason: String,
}

/// Why values could not be pushed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The graph does not describe a Lua value (a dangling index, a nil key, …).
    #[error("{0}")]
    Malformed(String),
    /// Lua ran out of memory building the values.
    #[error("not enough memory")]
    Memory,
    /// Another Lua error (a finalizer that ran during the push raised it).
    #[error("{0}")]
    Lua(String),
}

/// `values` as graphs, read inside a call of `lua`'s own (`wit::lua` returning a plugin's
/// results to the host).
pub fn read_values(lua: &Lua, values: MultiValue) -> Result<Vec<Value>, ReadError> {
    let mut graphs = Ok(Vec::new());
    // SAFETY: the values are the protected function's arguments, 1..=top; reading them
    // neither raises nor leaves anything, so nothing is returned.
    let done = unsafe {
        lua.exec_raw::<()>(values, |state| {
            graphs = read(state, 1, ffi::lua_gettop(state));
            ffi::lua_settop(state, 0);
        })
    };
    done.map_err(|e| ReadError {
        position: 0,
        reason: e.to_string(),
    })?;
    graphs
}

/// Rebuilds Lua values from graphs in `lua` (the host's arguments to a plugin call); a
/// malformed graph is an error, not a trap.
pub fn push_values(lua: &Lua, values: &[Value]) -> Result<MultiValue, PushError> {
    let mut pushed = Ok(0);
    // SAFETY: the function pushes the values and returns them, or pushes nothing.
    let values = unsafe {
        lua.exec_raw::<MultiValue>((), |state| {
            pushed = push(state, values);
        })
    };
    pushed?;
    values.map_err(|e| PushError::Lua(e.to_string()))
}

/// Reads the values at stack indices `first..=last` (absolute) as graphs.
///
/// # Safety
/// `state` is valid and `first..=last` are valid indices of its stack.
pub unsafe fn read(
    state: *mut lua_State,
    first: c_int,
    last: c_int,
) -> Result<Vec<Value>, ReadError> {
    let mut values = Vec::with_capacity((last - first + 1).max(0) as usize);
    for (n, index) in (first..=last).enumerate() {
        // SAFETY: as the caller promises.
        let value = unsafe { read_one(state, index) };
        values.push(value.map_err(|reason| ReadError {
            position: n + 1,
            reason,
        })?);
    }
    Ok(values)
}

/// # Safety
/// As [`read`].
unsafe fn read_one(state: *mut lua_State, index: c_int) -> Result<Value, String> {
    // SAFETY: as the caller promises; the reader leaves the stack as it found it.
    unsafe {
        let top = ffi::lua_gettop(state);
        let mut reader = Reader {
            state,
            nodes: Vec::new(),
            seen: HashMap::new(),
            pending: Vec::new(),
            base: top,
        };
        let result = reader.read(index);
        ffi::lua_settop(state, top);
        result.map(|()| Value {
            nodes: reader.nodes,
        })
    }
}

/// A breadth-first walk: the tables still to read sit on the stack above `base`, in the
/// order of `pending` (their node indices). A table found while another is iterated goes
/// in below the iteration's key, so `lua_next` still finds its key on top.
struct Reader {
    state: *mut lua_State,
    nodes: Vec<Node>,
    seen: HashMap<*const c_void, u32>,
    pending: Vec<u32>,
    base: c_int,
}

impl Reader {
    /// # Safety
    /// `index` is a valid absolute index of `state`'s stack, at or below `base`.
    unsafe fn read(&mut self, index: c_int) -> Result<(), String> {
        // SAFETY: as the caller promises.
        unsafe { self.add(index)? };
        let mut next = 0;
        while next < self.pending.len() {
            let slot = self.base + 1 + next as c_int;
            // SAFETY: `slot` holds the `next`th pending table (see `Reader`).
            unsafe { self.fill(slot, self.pending[next])? };
            next += 1;
        }
        Ok(())
    }

    /// Adds the value at `index` (absolute) as a node, unless it is a table already seen;
    /// a new table is pushed for reading later. Returns its node index, and whether it
    /// pushed.
    ///
    /// # Safety
    /// `index` is a valid absolute index.
    unsafe fn add(&mut self, index: c_int) -> Result<(u32, bool), String> {
        let state = self.state;
        // SAFETY: as the caller promises; each read below matches the slot's type, and
        // none converts in place or allocates.
        let node = unsafe {
            match ffi::lua_type(state, index) {
                ffi::LUA_TNIL => Node::Nil,
                ffi::LUA_TBOOLEAN => Node::Boolean(ffi::lua_toboolean(state, index) != 0),
                ffi::LUA_TNUMBER if ffi::lua_isinteger(state, index) != 0 => {
                    Node::Integer(ffi::lua_tointegerx(state, index, std::ptr::null_mut()))
                }
                ffi::LUA_TNUMBER => {
                    Node::Number(ffi::lua_tonumberx(state, index, std::ptr::null_mut()))
                }
                ffi::LUA_TSTRING => {
                    let mut len = 0;
                    let p = ffi::lua_tolstring(state, index, &mut len);
                    let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len);
                    match std::str::from_utf8(bytes) {
                        Ok(text) => Node::Text(text.to_owned()),
                        Err(_) => Node::Bytes(bytes.to_vec()),
                    }
                }
                ffi::LUA_TTABLE => return self.add_table(index),
                other => {
                    let name = CStr::from_ptr(ffi::lua_typename(state, other));
                    return Err(format!(
                        "a {} value cannot cross to the host",
                        name.to_string_lossy()
                    ));
                }
            }
        };
        Ok((self.push_node(node)?, false))
    }

    /// # Safety
    /// `index` is a valid absolute index holding a table.
    unsafe fn add_table(&mut self, index: c_int) -> Result<(u32, bool), String> {
        // SAFETY: as the caller promises; the stack is grown before the push.
        unsafe {
            let pointer = ffi::lua_topointer(self.state, index);
            if let Some(&node) = self.seen.get(&pointer) {
                return Ok((node, false));
            }
            // The table itself, and `lua_next`'s key and value above it.
            if ffi::lua_checkstack(self.state, 3) == 0 {
                return Err("the value has too many tables to cross".to_owned());
            }
            let node = self.push_node(Node::Nil)?;
            self.seen.insert(pointer, node);
            self.pending.push(node);
            ffi::lua_pushvalue(self.state, index);
            Ok((node, true))
        }
    }

    fn push_node(&mut self, node: Node) -> Result<u32, String> {
        let index =
            u32::try_from(self.nodes.len()).map_err(|_| "the value is too large".to_owned())?;
        self.nodes.push(node);
        Ok(index)
    }

    /// Reads the table at `slot` into node `node`: a sequence when its keys are exactly
    /// 1..#t, else key and value pairs.
    ///
    /// # Safety
    /// `slot` is a valid absolute index holding a table.
    unsafe fn fill(&mut self, slot: c_int, node: u32) -> Result<(), String> {
        // SAFETY: as the caller promises.
        unsafe {
            let len = ffi::lua_rawlen(self.state, slot);
            self.nodes[node as usize] = if is_sequence(self.state, slot, len) {
                Node::Sequence(self.items(slot, len)?)
            } else {
                Node::Table(self.entries(slot)?)
            };
        }
        Ok(())
    }

    /// # Safety
    /// `slot` holds a sequence of `len` items.
    unsafe fn items(&mut self, slot: c_int, len: usize) -> Result<Vec<u32>, String> {
        let mut items = Vec::with_capacity(len);
        for i in 1..=len {
            // SAFETY: as the caller promises; raw access runs no metamethod, and `add`
            // grew the stack for what it pushes.
            unsafe {
                ffi::lua_rawgeti(self.state, slot, i as ffi::lua_Integer);
                let item = ffi::lua_gettop(self.state);
                let (index, pushed) = self.add(item)?;
                self.settle(item, c_int::from(pushed), 1);
                items.push(index);
            }
        }
        Ok(items)
    }

    /// # Safety
    /// `slot` holds a table.
    unsafe fn entries(&mut self, slot: c_int) -> Result<Vec<(u32, u32)>, String> {
        let mut entries = Vec::new();
        // SAFETY: as the caller promises; `settle` leaves the key on top for `lua_next`,
        // and the table is not changed while it is iterated.
        unsafe {
            ffi::lua_pushnil(self.state);
            while ffi::lua_next(self.state, slot) != 0 {
                let key = ffi::lua_gettop(self.state) - 1;
                let (k, pushed_k) = self.add(key)?;
                let (v, pushed_v) = self.add(key + 1)?;
                self.settle(key, c_int::from(pushed_k) + c_int::from(pushed_v), 1);
                entries.push((k, v));
            }
        }
        Ok(entries)
    }

    /// Moves the `pushed` tables on top below the iteration's values from `at` on, then
    /// pops the topmost `drop` of those (the value read, leaving `lua_next`'s key), so
    /// the pending tables stay together right above `base`.
    ///
    /// # Safety
    /// `at..=top` are the iteration's values followed by `pushed` tables.
    unsafe fn settle(&self, at: c_int, pushed: c_int, drop: c_int) {
        // SAFETY: as the caller promises.
        unsafe {
            if pushed > 0 {
                ffi::lua_rotate(self.state, at, pushed);
            }
            ffi::lua_pop(self.state, drop);
        }
    }
}

/// Whether the table's keys are exactly the integers 1..=len.
///
/// # Safety
/// `slot` is a valid absolute index holding a table, with room for two more values.
unsafe fn is_sequence(state: *mut lua_State, slot: c_int, len: usize) -> bool {
    let mut count = 0usize;
    // SAFETY: as the caller promises; the iteration pops what it pushes.
    unsafe {
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, slot) != 0 {
            let in_range = ffi::lua_isinteger(state, -2) != 0 && {
                let k = ffi::lua_tointegerx(state, -2, std::ptr::null_mut());
                k >= 1 && k as u64 <= len as u64
            };
            if !in_range {
                ffi::lua_pop(state, 2);
                return false;
            }
            count += 1;
            ffi::lua_pop(state, 1);
        }
    }
    count == len
}

/// Pushes each of `values` as a Lua value and returns how many it pushed; on an error it
/// pushes nothing.
///
/// # Safety
/// `state` is valid and is not inside a call that forbids errors (pushing runs a
/// protected call, which the running C function may do).
pub unsafe fn push(state: *mut lua_State, values: &[Value]) -> Result<c_int, PushError> {
    let count = c_int::try_from(values.len())
        .map_err(|_| PushError::Malformed("too many values".to_owned()))?;
    let mut job = Job {
        values,
        slots: Vec::new(),
        malformed: None,
    };
    // SAFETY: the protected function gets `job` as a light userdata and uses it only
    // during the call, while `job` lives here; Lua's stack is grown first.
    unsafe {
        if ffi::lua_checkstack(state, 3) == 0 {
            return Err(PushError::Memory);
        }
        let top = ffi::lua_gettop(state);
        ffi::lua_pushcfunction(state, push_protected);
        ffi::lua_pushlightuserdata(state, (&raw mut job).cast::<c_void>());
        let status = ffi::lua_pcall(state, 1, ffi::LUA_MULTRET, 0);
        if status != ffi::LUA_OK {
            let error = lua_error_text(state, status);
            ffi::lua_settop(state, top);
            return Err(error);
        }
        if let Some(message) = job.malformed {
            ffi::lua_settop(state, top);
            return Err(PushError::Malformed(message));
        }
        debug_assert_eq!(ffi::lua_gettop(state) - top, count);
    }
    Ok(count)
}

/// What the protected push works on: all of it owned out here, so a longjmp out of the
/// protected function leaks nothing.
struct Job<'a> {
    values: &'a [Value],
    /// For each node of the value being pushed, its table's index in the scratch table
    /// (0: not a table).
    slots: Vec<ffi::lua_Integer>,
    malformed: Option<String>,
}

/// The protected part of [`push`]: pushes every value and returns them, or returns nothing
/// with `malformed` set.
unsafe extern "C-unwind" fn push_protected(state: *mut lua_State) -> c_int {
    // SAFETY: `push` passes its `Job` as the one argument and outlives this call; only
    // borrows are held while Lua runs.
    unsafe {
        let job = &mut *ffi::lua_touserdata(state, 1).cast::<Job>();
        ffi::lua_pop(state, 1);
        let count = job.values.len() as c_int;
        // The values, and the scratch table with a table and a key or value above it.
        if ffi::lua_checkstack(state, count.saturating_add(4)) == 0 {
            job.malformed = Some("too many values".to_owned());
            return 0;
        }
        for value in job.values {
            if let Err(message) = push_value(state, &value.nodes, &mut job.slots) {
                job.malformed = Some(message);
                return 0;
            }
        }
        count
    }
}

/// # Safety
/// Called only by [`push_protected`], with room on the stack for four more values.
unsafe fn push_value(
    state: *mut lua_State,
    nodes: &[Node],
    slots: &mut Vec<ffi::lua_Integer>,
) -> Result<(), String> {
    let Some(root) = nodes.first() else {
        // SAFETY: as the caller promises.
        unsafe { ffi::lua_pushnil(state) };
        return Ok(());
    };
    if !is_table(root) {
        // SAFETY: as the caller promises.
        unsafe { push_scalar(state, root) };
        return Ok(());
    }
    slots.clear();
    slots.resize(nodes.len(), 0);
    // SAFETY: as the caller promises; the scratch table is popped once the root is out.
    unsafe {
        let scratch = make_tables(state, nodes, slots);
        for (node, &slot) in nodes.iter().zip(slots.iter()) {
            if slot != 0 {
                fill_table(state, scratch, slot, node, nodes, slots)?;
            }
        }
        ffi::lua_rawgeti(state, scratch, slots[0]);
        ffi::lua_replace(state, scratch);
    }
    Ok(())
}

fn is_table(node: &Node) -> bool {
    matches!(node, Node::Sequence(_) | Node::Table(_))
}

/// Creates every table of the graph, kept in a scratch table (not on the stack, whose
/// size is limited) at the indices recorded in `slots`; returns the scratch table's
/// (absolute) index.
///
/// # Safety
/// As [`push_value`].
unsafe fn make_tables(
    state: *mut lua_State,
    nodes: &[Node],
    slots: &mut [ffi::lua_Integer],
) -> c_int {
    let tables = nodes.iter().filter(|n| is_table(n)).count();
    // SAFETY: as the caller promises.
    unsafe {
        ffi::lua_createtable(state, c_int::try_from(tables).unwrap_or(c_int::MAX), 0);
        let scratch = ffi::lua_gettop(state);
        let mut next = 0;
        for (node, slot) in nodes.iter().zip(slots.iter_mut()) {
            let (narr, nrec) = match node {
                Node::Sequence(items) => (items.len(), 0),
                Node::Table(entries) => (0, entries.len()),
                _ => continue,
            };
            next += 1;
            *slot = next;
            let size = |n: usize| c_int::try_from(n).unwrap_or(c_int::MAX);
            ffi::lua_createtable(state, size(narr), size(nrec));
            ffi::lua_rawseti(state, scratch, next);
        }
        scratch
    }
}

/// # Safety
/// As [`push_value`]; `scratch` holds the graph's tables at `slots`, and `slot` is
/// `node`'s.
unsafe fn fill_table(
    state: *mut lua_State,
    scratch: c_int,
    slot: ffi::lua_Integer,
    node: &Node,
    nodes: &[Node],
    slots: &[ffi::lua_Integer],
) -> Result<(), String> {
    // SAFETY: as the caller promises; the table is popped on every path.
    unsafe {
        ffi::lua_rawgeti(state, scratch, slot);
        let table = ffi::lua_gettop(state);
        let result = match node {
            Node::Sequence(items) => items.iter().enumerate().try_for_each(|(i, &item)| {
                push_node(state, scratch, item, nodes, slots)?;
                ffi::lua_rawseti(state, table, i as ffi::lua_Integer + 1);
                Ok(())
            }),
            Node::Table(entries) => entries.iter().try_for_each(|&(k, v)| {
                check_key(nodes, k)?;
                push_node(state, scratch, k, nodes, slots)?;
                if let Err(e) = push_node(state, scratch, v, nodes, slots) {
                    ffi::lua_pop(state, 1);
                    return Err(e);
                }
                ffi::lua_rawset(state, table);
                Ok(())
            }),
            _ => Ok(()),
        };
        ffi::lua_pop(state, 1);
        result
    }
}

/// Lua tables take neither nil nor NaN as a key (`lua_rawset` would raise).
fn check_key(nodes: &[Node], key: u32) -> Result<(), String> {
    match nodes.get(key as usize) {
        Some(Node::Nil) => Err("a table key cannot be nil".to_owned()),
        Some(Node::Number(n)) if n.is_nan() => Err("a table key cannot be NaN".to_owned()),
        _ => Ok(()),
    }
}

/// # Safety
/// As [`fill_table`].
unsafe fn push_node(
    state: *mut lua_State,
    scratch: c_int,
    index: u32,
    nodes: &[Node],
    slots: &[ffi::lua_Integer],
) -> Result<(), String> {
    let i = index as usize;
    let node = nodes
        .get(i)
        .ok_or_else(|| format!("value node {i} does not exist"))?;
    // SAFETY: as the caller promises.
    unsafe {
        match slots[i] {
            0 => push_scalar(state, node),
            slot => {
                ffi::lua_rawgeti(state, scratch, slot);
            }
        }
    }
    Ok(())
}

/// # Safety
/// `state` has room for one more value; `node` is not a table.
unsafe fn push_scalar(state: *mut lua_State, node: &Node) {
    // SAFETY: as the caller promises.
    unsafe {
        match node {
            Node::Nil | Node::Sequence(_) | Node::Table(_) => ffi::lua_pushnil(state),
            Node::Boolean(b) => ffi::lua_pushboolean(state, c_int::from(*b)),
            Node::Integer(n) => ffi::lua_pushinteger(state, *n),
            Node::Number(n) => ffi::lua_pushnumber(state, *n),
            Node::Text(s) => {
                ffi::lua_pushlstring(state, s.as_ptr().cast(), s.len());
            }
            Node::Bytes(b) => {
                ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
            }
        }
    }
}

/// The error a failed protected call left on top, as a [`PushError`].
///
/// # Safety
/// The error object of a call that returned `status` is on top.
unsafe fn lua_error_text(state: *mut lua_State, status: c_int) -> PushError {
    if status == ffi::LUA_ERRMEM {
        return PushError::Memory;
    }
    // SAFETY: as the caller promises; only a string is read, which converts nothing.
    unsafe {
        if ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
            let mut len = 0;
            let p = ffi::lua_tolstring(state, -1, &mut len);
            let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len);
            return PushError::Lua(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    PushError::Lua("an error object that is not a string".to_owned())
}
