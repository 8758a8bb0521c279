//! What the fuzz targets share: a native Lua 5.4 state with the component's own Lua
//! modules (the same sources, installed by `luasocket_wasi::lua::install`), where
//! `socket.core` is replaced by a fake whose TCP objects serve scripted bytes through the
//! real receive-pattern code (`RecvBuffer`), and a byte-stream `Source` with a chosen
//! chunking.

use std::cell::RefCell;
use std::collections::VecDeque;

use luasocket_wasi::net::buffer::{Partial, Pattern, RecvBuffer, Source};
use luasocket_wasi::net::timeout::Deadline;
use luasocket_wasi::net::{NetError, NetResult};
use mlua::{HookTriggers, IntoLuaMulti, Lua, MultiValue, UserData, UserDataMethods, Value};

/// A peer's byte stream, delivered in chunks of chosen sizes, then an end (an error
/// `read_some` keeps returning). A chunk size of 0 stands for a wait that timed out (never
/// twice in a row, so that the stream always gets through).
pub struct Feed {
    pub data: Vec<u8>,
    pub pos: usize,
    pub chunks: Vec<usize>,
    pub next_chunk: usize,
    pub end: NetError,
    timed_out: bool,
}

impl Feed {
    pub fn new(data: Vec<u8>, chunks: Vec<usize>, end: NetError) -> Feed {
        Feed {
            data,
            pos: 0,
            chunks,
            next_chunk: 0,
            end,
            timed_out: false,
        }
    }

    /// Bytes handed out so far.
    pub fn served(&self) -> usize {
        self.pos
    }
}

impl Source for Feed {
    fn read_some(&mut self, out: &mut Vec<u8>, max: usize, _: &Deadline) -> NetResult<()> {
        assert!(max > 0, "read_some asked for 0 bytes");
        let left = self.data.len() - self.pos;
        if left == 0 {
            return Err(self.end.clone());
        }
        let size = if self.chunks.is_empty() {
            left
        } else {
            let size = self.chunks[self.next_chunk % self.chunks.len()];
            self.next_chunk += 1;
            if size == 0 && !self.timed_out {
                self.timed_out = true;
                return Err(NetError::Timeout);
            }
            size.max(1)
        };
        self.timed_out = false;
        let n = size.min(max).min(left);
        out.extend_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(())
    }
}

/// What the fake sockets saw, for the targets' oracles.
#[derive(Debug, Default)]
pub struct Observed {
    /// `"*l"` or `"*a"` receives without a maxsize, or with one above 64 KiB.
    pub unbounded_receives: Vec<String>,
    /// Everything sent, per connection.
    pub sent: Vec<Vec<u8>>,
    /// Connections made.
    pub connections: usize,
}

thread_local! {
    /// The server side of the connections the next `socket.tcp()` calls get: the bytes
    /// each one sends, and how they are chunked.
    static SCRIPT: RefCell<VecDeque<Feed>> = const { RefCell::new(VecDeque::new()) };
    static OBSERVED: RefCell<Observed> = RefCell::new(Observed::default());
}

/// Sets what the next connections will receive, and forgets what was observed.
pub fn script_connections(feeds: Vec<Feed>) {
    SCRIPT.with(|s| *s.borrow_mut() = feeds.into());
    OBSERVED.with(|o| *o.borrow_mut() = Observed::default());
}

pub fn observed() -> Observed {
    OBSERVED.with(|o| std::mem::take(&mut *o.borrow_mut()))
}

/// A TCP object of the fake `socket.core`: connects to anything; receives from its
/// scripted feed through `RecvBuffer`, with the argument checks of `src/lua/tcp.rs`.
struct FakeTcp {
    feed: Feed,
    buffer: RecvBuffer,
    closed: bool,
    connection: usize,
}

const INVALID_PATTERN: &str = "invalid receive pattern";

fn pattern(value: &Value) -> mlua::Result<Pattern> {
    let number = match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    };
    if let Some(n) = number {
        return if n >= 0.0 {
            Ok(Pattern::Bytes(n as usize))
        } else {
            Err(mlua::Error::runtime(INVALID_PATTERN))
        };
    }
    let text = match value {
        Value::Nil => b"*l".to_vec(),
        Value::String(s) => s.as_bytes().to_vec(),
        _ => return Err(mlua::Error::runtime(INVALID_PATTERN)),
    };
    match text.as_slice() {
        [b'*', b'l', ..] => Ok(Pattern::Line),
        [b'*', b'a', ..] => Ok(Pattern::All),
        _ => Err(mlua::Error::runtime(INVALID_PATTERN)),
    }
}

fn maxsize(max: Option<f64>, pattern: Pattern, prefix_len: usize) -> mlua::Result<Option<usize>> {
    let Some(max) = max else { return Ok(None) };
    if max.is_nan() || max < 1.0 {
        return Err(mlua::Error::runtime("maxsize must be at least 1"));
    }
    let max = max as usize;
    if prefix_len >= max {
        return Err(mlua::Error::runtime("prefix longer than maxsize"));
    }
    if let Pattern::Bytes(n) = pattern
        && n > max
    {
        return Err(mlua::Error::runtime("pattern asks for more than maxsize"));
    }
    Ok(Some(max))
}

impl UserData for FakeTcp {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method_mut("settimeout", |_, _, _: MultiValue| Ok(1));
        m.add_method_mut("setoption", |_, _, _: MultiValue| Ok(1));
        m.add_method_mut("connect", |_, _, (host, port): (mlua::LuaString, Value)| {
            assert!(!host.as_bytes().is_empty(), "connect to an empty host");
            assert!(
                matches!(
                    port,
                    Value::Integer(_) | Value::Number(_) | Value::String(_)
                ),
                "connect with a port that is not a number: {port:?}"
            );
            Ok(1)
        });
        m.add_method("getfd", |_, _, ()| Ok(3));
        m.add_method("dirty", |_, this, ()| Ok(this.buffer.has_data()));
        m.add_method_mut("close", |_, this, ()| {
            this.closed = true;
            Ok(1)
        });
        m.add_method_mut("shutdown", |_, _, _: MultiValue| Ok(1));
        m.add_method_mut("send", |lua, this, data: mlua::LuaString| {
            if this.closed {
                return (Value::Nil, "closed").into_lua_multi(lua);
            }
            let bytes = data.as_bytes();
            OBSERVED.with(|o| o.borrow_mut().sent[this.connection].extend_from_slice(&bytes));
            (bytes.len() as i64).into_lua_multi(lua)
        });
        m.add_method_mut(
            "receive",
            |lua, this, (pat, prefix, max): (Value, Option<mlua::LuaString>, Option<f64>)| {
                let pattern = pattern(&pat)?;
                let prefix = prefix.map(|p| p.as_bytes().to_vec()).unwrap_or_default();
                let cap = maxsize(max, pattern, prefix.len())?;
                if pattern != Pattern::Bytes(0) || cap.is_some() {
                    let unbounded = match pattern {
                        Pattern::Line | Pattern::All => cap.is_none_or(|c| c > 65536),
                        Pattern::Bytes(_) => false,
                    };
                    if unbounded {
                        OBSERVED.with(|o| {
                            o.borrow_mut()
                                .unbounded_receives
                                .push(format!("{pattern:?} maxsize {cap:?}"))
                        });
                    }
                }
                if this.closed {
                    return (Value::Nil, "closed", lua.create_string(&prefix)?).into_lua_multi(lua);
                }
                match this
                    .buffer
                    .receive(&mut this.feed, pattern, prefix, cap, &Deadline::never())
                {
                    Ok(data) => lua.create_string(&data)?.into_lua_multi(lua),
                    Err(Partial { error, data }) => {
                        (Value::Nil, error.as_str(), lua.create_string(&data)?).into_lua_multi(lua)
                    }
                }
            },
        );
    }
}

/// The fake `socket.core`: what the Lua modules use of it, and `tcp` objects that connect
/// to the next scripted feed (an empty one, closed at once, when none is left).
const FAKE_CORE: &str = r#"
local new_tcp = ...
local core = {
    _VERSION = "LuaSocket 3.1.0",
    tcp = new_tcp, tcp4 = new_tcp, tcp6 = new_tcp,
    gettime = function() return 0 end,
    sleep = function() end,
    dns = {
        toip = function(name) return "127.0.0.1", { name = name, alias = {}, ip = { "127.0.0.1" } } end,
        getaddrinfo = function() return { { family = "inet", addr = "127.0.0.1" } } end,
        gethostname = function() return "fuzz" end,
    },
}
return core
"#;

/// A Lua state with the component's modules; `socket.core` is the fake. Scripts that run
/// longer than `max_instructions` fail with "instruction limit".
pub fn lua_with_modules(max_instructions: u32) -> Lua {
    let lua = Lua::new();
    luasocket_wasi::lua::install(&lua).expect("install the modules");
    let new_tcp = lua
        .create_function(|_, ()| {
            let feed = SCRIPT
                .with(|s| s.borrow_mut().pop_front())
                .unwrap_or_else(|| Feed::new(Vec::new(), Vec::new(), NetError::Closed));
            let connection = OBSERVED.with(|o| {
                let mut o = o.borrow_mut();
                o.connections += 1;
                o.sent.push(Vec::new());
                o.sent.len() - 1
            });
            Ok(FakeTcp {
                feed,
                buffer: RecvBuffer::default(),
                closed: false,
                connection,
            })
        })
        .expect("tcp constructor");
    let core = lua
        .load(FAKE_CORE)
        .set_name("@fake_core.lua")
        .call::<mlua::Table>(new_tcp)
        .expect("fake socket.core");
    let preload: mlua::Table = lua
        .globals()
        .get::<mlua::Table>("package")
        .and_then(|p| p.get("preload"))
        .expect("package.preload");
    let loader = lua
        .create_function(move |_, _: MultiValue| Ok(core.clone()))
        .expect("loader");
    preload.set("socket.core", loader).expect("preload");
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(max_instructions),
        |_, _| Err(mlua::Error::runtime("instruction limit")),
    )
    .expect("hook");
    lua
}

/// Resets the instruction budget (the hook counts from the last reset).
pub fn reset_budget(lua: &Lua, max_instructions: u32) {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(max_instructions),
        |_, _| Err(mlua::Error::runtime("instruction limit")),
    )
    .expect("hook");
}

/// Splits `data` at each occurrence of `sep`.
pub fn split<'a>(data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(sep.len()).position(|w| w == sep) {
        parts.push(&rest[..at]);
        rest = &rest[at + sep.len()..];
    }
    parts.push(rest);
    parts
}

/// Removes every CR.
pub fn strip_cr(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().copied().filter(|&b| b != b'\r').collect()
}
