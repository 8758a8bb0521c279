//! Lua values on the host side, as a tree, and their flattened WIT form.
//!
//! The WIT `value` is a graph (Lua tables may share or contain themselves); a host mostly
//! wants plain trees, so shared tables are copied and a cycle is an error. A host that
//! needs the sharing takes the graph itself, [`Graph`].

pub use crate::bindings::exports::luasocket::socket::lua::{Node, Value as Graph};

use Graph as Value;

/// A Lua value a host can pass to a plugin or get back from one.
#[derive(Debug, Clone, PartialEq)]
pub enum LuaValue {
    Nil,
    Boolean(bool),
    Integer(i64),
    Number(f64),
    /// A Lua string; not necessarily UTF-8.
    String(Vec<u8>),
    /// A sequence table `{v1, v2, ...}`.
    Sequence(Vec<LuaValue>),
    /// Any other table.
    Table(Vec<(LuaValue, LuaValue)>),
}

impl LuaValue {
    pub fn string(s: impl Into<Vec<u8>>) -> LuaValue {
        LuaValue::String(s.into())
    }

    /// The string, if this is one and it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            LuaValue::String(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// Looks a string key up in a table.
    pub fn get(&self, key: &str) -> Option<&LuaValue> {
        match self {
            LuaValue::Table(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Lua-like notation: `{symbol = "LUA", price = 42.5}`.
impl std::fmt::Display for LuaValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LuaValue::Nil => f.write_str("nil"),
            LuaValue::Boolean(b) => write!(f, "{b}"),
            LuaValue::Integer(n) => write!(f, "{n}"),
            LuaValue::Number(n) => write!(f, "{n:?}"),
            LuaValue::String(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            LuaValue::Sequence(items) => {
                f.write_str("{")?;
                for (i, v) in items.iter().enumerate() {
                    write!(f, "{}{v}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str("}")
            }
            LuaValue::Table(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    let sep = if i > 0 { ", " } else { "" };
                    match k
                        .as_str()
                        .filter(|s| s.chars().all(|c| c.is_alphanumeric() || c == '_'))
                    {
                        Some(name) => write!(f, "{sep}{name} = {v}")?,
                        None => write!(f, "{sep}[{k}] = {v}")?,
                    }
                }
                f.write_str("}")
            }
        }
    }
}

/// Flattens a tree into nodes, node 0 first.
pub fn to_wit(value: &LuaValue) -> Value {
    let mut nodes = Vec::new();
    push(value, &mut nodes);
    Value { nodes }
}

fn push(value: &LuaValue, nodes: &mut Vec<Node>) -> u32 {
    let index = nodes.len() as u32;
    nodes.push(Node::Nil);
    let node = match value {
        LuaValue::Nil => Node::Nil,
        LuaValue::Boolean(b) => Node::Boolean(*b),
        LuaValue::Integer(n) => Node::Integer(*n),
        LuaValue::Number(n) => Node::Number(*n),
        LuaValue::String(b) => match std::str::from_utf8(b) {
            Ok(s) => Node::Text(s.to_owned()),
            Err(_) => Node::Bytes(b.clone()),
        },
        LuaValue::Sequence(items) => Node::Sequence(items.iter().map(|v| push(v, nodes)).collect()),
        LuaValue::Table(entries) => Node::Table(
            entries
                .iter()
                .map(|(k, v)| (push(k, nodes), push(v, nodes)))
                .collect(),
        ),
    };
    nodes[index as usize] = node;
    index
}

/// Why a graph does not make a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("the value refers to node {0}, which does not exist")]
    Dangling(u32),
    #[error("the value contains a table that contains itself")]
    Cycle,
    #[error("the value nests deeper than {MAX_DEPTH} tables")]
    TooDeep,
    #[error(
        "the value is too large to copy out (more than {MAX_NODES} nodes once shared tables are copied)"
    )]
    TooLarge,
}

/// A bound on the tree built from a graph: shared tables are copied, and a guest could
/// otherwise make a few nodes expand without end.
pub const MAX_NODES: usize = 1_000_000;

/// A bound on nesting, so that building the tree cannot exhaust the host's stack.
pub const MAX_DEPTH: usize = 200;

/// Rebuilds a tree from nodes.
pub fn from_wit(value: &Value) -> Result<LuaValue, ValueError> {
    if value.nodes.is_empty() {
        return Ok(LuaValue::Nil);
    }
    let mut walk = Walk {
        on_path: vec![false; value.nodes.len()],
        depth: 0,
        budget: MAX_NODES,
    };
    build(&value.nodes, 0, &mut walk)
}

/// Where the tree building is: the nodes on the current path, and what is left.
struct Walk {
    on_path: Vec<bool>,
    depth: usize,
    budget: usize,
}

fn build(nodes: &[Node], index: u32, walk: &mut Walk) -> Result<LuaValue, ValueError> {
    let node = nodes
        .get(index as usize)
        .ok_or(ValueError::Dangling(index))?;
    if walk.on_path[index as usize] {
        return Err(ValueError::Cycle);
    }
    walk.budget = walk.budget.checked_sub(1).ok_or(ValueError::TooLarge)?;
    if walk.depth >= MAX_DEPTH {
        return Err(ValueError::TooDeep);
    }
    walk.on_path[index as usize] = true;
    walk.depth += 1;
    let value = match node {
        Node::Nil => LuaValue::Nil,
        Node::Boolean(b) => LuaValue::Boolean(*b),
        Node::Integer(n) => LuaValue::Integer(*n),
        Node::Number(n) => LuaValue::Number(*n),
        Node::Text(s) => LuaValue::String(s.clone().into_bytes()),
        Node::Bytes(b) => LuaValue::String(b.clone()),
        Node::Sequence(items) => LuaValue::Sequence(
            items
                .iter()
                .map(|&i| build(nodes, i, walk))
                .collect::<Result<_, _>>()?,
        ),
        Node::Table(entries) => LuaValue::Table(
            entries
                .iter()
                .map(|&(k, v)| Ok((build(nodes, k, walk)?, build(nodes, v, walk)?)))
                .collect::<Result<_, ValueError>>()?,
        ),
    };
    walk.on_path[index as usize] = false;
    walk.depth -= 1;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_round_trip() {
        let v = LuaValue::Table(vec![
            (LuaValue::string("name"), LuaValue::string("x")),
            (
                LuaValue::Integer(3),
                LuaValue::Sequence(vec![
                    LuaValue::Boolean(true),
                    LuaValue::Number(1.5),
                    LuaValue::Nil,
                ]),
            ),
            (LuaValue::string("raw"), LuaValue::String(vec![0xff, 0])),
        ]);
        assert_eq!(from_wit(&to_wit(&v)).unwrap(), v);
        assert_eq!(v.get("name").and_then(LuaValue::as_str), Some("x"));
        assert_eq!(
            v.to_string(),
            "{name = \"x\", [3] = {true, 1.5, nil}, raw = \"\u{fffd}\\0\"}"
        );
    }

    #[test]
    fn cycles_and_dangling_indices_are_errors() {
        let cyclic = Value {
            nodes: vec![Node::Sequence(vec![0])],
        };
        assert_eq!(from_wit(&cyclic), Err(ValueError::Cycle));
        let dangling = Value {
            nodes: vec![Node::Sequence(vec![7])],
        };
        assert_eq!(from_wit(&dangling), Err(ValueError::Dangling(7)));
        // Shared (not cyclic) tables are copied.
        let shared = Value {
            nodes: vec![Node::Sequence(vec![1, 1]), Node::Integer(5)],
        };
        assert_eq!(
            from_wit(&shared).unwrap(),
            LuaValue::Sequence(vec![LuaValue::Integer(5), LuaValue::Integer(5)])
        );
        // Sharing that doubles at every level stops at the bound instead of exploding.
        let nodes = (0..64)
            .map(|i| Node::Sequence(vec![i + 1, i + 1]))
            .chain([Node::Nil])
            .collect();
        assert_eq!(from_wit(&Value { nodes }), Err(ValueError::TooLarge));
        let nodes = (0..100_000)
            .map(|i| Node::Sequence(vec![i + 1]))
            .chain([Node::Nil])
            .collect();
        assert_eq!(from_wit(&Value { nodes }), Err(ValueError::TooDeep));
    }
}
