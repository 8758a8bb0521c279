//! `luasocket:socket/lua`: the one-shot runner, plugin states, and values crossing
//! between Lua and WIT as flattened graphs.

use std::collections::HashMap;
use std::mem::ManuallyDrop;

use mlua::{Lua, MultiValue, Table, Value as LuaValue};
use wasip2::io::poll::Pollable;

use super::Component;
use crate::exports::luasocket::socket::lua::{
    Completion, Evaluation, Failure, Guest, GuestState, Invocation, Node, State, Value,
};
use crate::interactive;
use crate::runner::{self, Session};

impl Guest for Component {
    type State = StateResource;

    fn run(inv: Invocation) -> Result<Completion, Failure> {
        completion(runner::run(invocation(inv)))
    }

    fn new_state() -> Result<State, Failure> {
        Ok(State::new(StateResource(Session::new().map_err(failure)?)))
    }
}

fn invocation(inv: Invocation) -> runner::Invocation {
    runner::Invocation {
        chunk_name: inv.chunk_name,
        source: inv.source,
        args: inv.args,
        arg_table: inv.arg_table,
    }
}

fn completion(c: Result<runner::Completion, runner::Failure>) -> Result<Completion, Failure> {
    match c {
        Ok(runner::Completion::Returned(values)) => Ok(Completion::Returned(values)),
        Ok(runner::Completion::Exited(code)) => Ok(Completion::Exited(code)),
        Err(f) => Err(failure(f)),
    }
}

fn failure(f: runner::Failure) -> Failure {
    match f {
        runner::Failure::Syntax(m) => Failure::Syntax(m),
        runner::Failure::Runtime(m) => Failure::Runtime(m),
        runner::Failure::OutOfMemory(m) => Failure::OutOfMemory(m),
        runner::Failure::Exited(code) => Failure::Exited(code),
    }
}

pub struct StateResource(Session);

impl GuestState for StateResource {
    fn load(&self, chunk_name: String, source: Vec<u8>) -> Result<Vec<Value>, Failure> {
        let results = self.0.load(chunk_name, &source).map_err(failure)?;
        let values = to_wit(results);
        runner::flush_stdio();
        values
    }

    fn call(&self, name: String, args: Vec<Value>) -> Result<Vec<Value>, Failure> {
        let lua = self.0.lua();
        let args = args
            .iter()
            .map(|v| from_wit(lua, v))
            .collect::<Result<MultiValue, String>>()
            .map_err(Failure::Runtime)?;
        let results = self.0.call(&name, args).map_err(failure)?;
        let values = to_wit(results);
        runner::flush_stdio();
        values
    }

    fn exec(&self, inv: Invocation) -> Result<Completion, Failure> {
        completion(self.0.exec(invocation(inv)))
    }

    fn eval(&self, source: Vec<u8>, interrupt: &Pollable) -> Result<Evaluation, Failure> {
        let handle = interrupt.handle();
        let interrupted = move || {
            // SAFETY: the pollable is borrowed for this whole call, and the check is only
            // made during it; ManuallyDrop keeps the borrowed handle from being dropped.
            let pollable = ManuallyDrop::new(unsafe { Pollable::from_handle(handle) });
            pollable.ready()
        };
        let hurry = interactive::interrupt::hurry;
        let evaluation =
            crate::net::poll::interruptible(interrupt, hurry, || self.0.eval(&source, interrupted));
        match evaluation.map_err(failure)? {
            interactive::Evaluation::Done => Ok(Evaluation::Done),
            interactive::Evaluation::Incomplete => Ok(Evaluation::Incomplete),
        }
    }
}

fn to_wit(values: MultiValue) -> Result<Vec<Value>, Failure> {
    values
        .iter()
        .map(|v| graph(v).map_err(Failure::Runtime))
        .collect()
}

/// Flattens a Lua value into nodes, node 0 first. Tables are visited without recursion
/// (a deep nesting cannot exhaust the stack) and each table once (cycles are kept).
fn graph(root: &LuaValue) -> Result<Value, String> {
    let mut nodes = Vec::new();
    let mut seen: HashMap<*const std::ffi::c_void, u32> = HashMap::new();
    let mut pending: Vec<(Table, u32)> = Vec::new();
    let mut add = |v: &LuaValue,
                   nodes: &mut Vec<Node>,
                   pending: &mut Vec<(Table, u32)>|
     -> Result<u32, String> {
        if let LuaValue::Table(t) = v
            && let Some(&i) = seen.get(&t.to_pointer())
        {
            return Ok(i);
        }
        let index = u32::try_from(nodes.len()).map_err(|_| "value too large".to_owned())?;
        nodes.push(match v {
            LuaValue::Nil => Node::Nil,
            LuaValue::Boolean(b) => Node::Boolean(*b),
            LuaValue::Integer(n) => Node::Integer(*n),
            LuaValue::Number(n) => Node::Number(*n),
            LuaValue::String(s) => match std::str::from_utf8(&s.as_bytes()) {
                Ok(text) => Node::Text(text.to_owned()),
                Err(_) => Node::Bytes(s.as_bytes().to_vec()),
            },
            LuaValue::Table(t) => {
                seen.insert(t.to_pointer(), index);
                pending.push((t.clone(), index));
                Node::Nil
            }
            other => {
                return Err(format!(
                    "a {} value cannot cross to the host",
                    other.type_name()
                ));
            }
        });
        Ok(index)
    };
    add(root, &mut nodes, &mut pending)?;
    while let Some((table, index)) = pending.pop() {
        let len = table.raw_len();
        let mut pairs = Vec::new();
        for pair in table.pairs::<LuaValue, LuaValue>() {
            pairs.push(pair.map_err(|e| e.to_string())?);
        }
        let sequence = pairs.len() == len
            && pairs
                .iter()
                .all(|(k, _)| matches!(k, LuaValue::Integer(i) if *i >= 1 && (*i as usize) <= len));
        nodes[index as usize] = if sequence {
            let mut items = vec![0; len];
            for (k, v) in &pairs {
                if let LuaValue::Integer(i) = k {
                    items[*i as usize - 1] = add(v, &mut nodes, &mut pending)?;
                }
            }
            Node::Sequence(items)
        } else {
            let mut entries = Vec::with_capacity(pairs.len());
            for (k, v) in &pairs {
                entries.push((
                    add(k, &mut nodes, &mut pending)?,
                    add(v, &mut nodes, &mut pending)?,
                ));
            }
            Node::Table(entries)
        };
    }
    Ok(Value { nodes })
}

/// Rebuilds a Lua value from nodes: tables first (so references and cycles resolve),
/// then their contents. Indices are checked; a bad graph is an error, not a trap.
fn from_wit(lua: &Lua, value: &Value) -> Result<LuaValue, String> {
    let nodes = &value.nodes;
    if nodes.is_empty() {
        return Ok(LuaValue::Nil);
    }
    let lua_err = |e: mlua::Error| e.to_string();
    let mut tables: HashMap<usize, Table> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if matches!(node, Node::Sequence(_) | Node::Table(_)) {
            tables.insert(i, lua.create_table().map_err(lua_err)?);
        }
    }
    let scalar = |i: u32| -> Result<LuaValue, String> {
        let i = i as usize;
        if let Some(t) = tables.get(&i) {
            return Ok(LuaValue::Table(t.clone()));
        }
        Ok(
            match nodes
                .get(i)
                .ok_or_else(|| format!("value node {i} does not exist"))?
            {
                Node::Nil => LuaValue::Nil,
                Node::Boolean(b) => LuaValue::Boolean(*b),
                Node::Integer(n) => LuaValue::Integer(*n),
                Node::Number(n) => LuaValue::Number(*n),
                Node::Text(s) => LuaValue::String(lua.create_string(s).map_err(lua_err)?),
                Node::Bytes(b) => LuaValue::String(lua.create_string(b).map_err(lua_err)?),
                Node::Sequence(_) | Node::Table(_) => unreachable!("tables were created above"),
            },
        )
    };
    for (i, table) in &tables {
        match &nodes[*i] {
            Node::Sequence(items) => {
                for (k, &item) in items.iter().enumerate() {
                    table.raw_set(k + 1, scalar(item)?).map_err(lua_err)?;
                }
            }
            Node::Table(entries) => {
                for &(k, v) in entries {
                    let key = scalar(k)?;
                    if matches!(key, LuaValue::Nil)
                        || matches!(key, LuaValue::Number(n) if n.is_nan())
                    {
                        return Err("a table key cannot be nil or NaN".to_owned());
                    }
                    table.raw_set(key, scalar(v)?).map_err(lua_err)?;
                }
            }
            _ => {}
        }
    }
    scalar(0)
}
