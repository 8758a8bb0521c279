//! `socket.select` and the descriptor registry behind it.
//!
//! LuaSocket's select accepts any object with `getfd` and `dirty` methods (wrappers such
//! as TLS connections). Without real descriptors, a number from `getfd` is looked up in a
//! weak registry table, descriptor → socket, kept up to date as sockets are created.

use std::ffi::{CStr, c_int};
use std::time::Duration;

use super::api::{Args, LuaResult, Raise, ffi};
use super::ssl;
use crate::net::select::{Selectable, select as core_select, select_confirmed};
use crate::net::tcp::Tcp;
use crate::net::timeout::Limit;
use crate::net::tls::Tls;
use crate::net::udp::Udp;

/// The most entries one `select` table may hold: LuaSocket's `_SETSIZE`. There is no
/// descriptor set behind it, only a list of pollables; this bounds the work per call.
pub const SETSIZE: usize = 65536;

const FDS: &CStr = c"luasocket-wasi.fds";
const FOREIGN_KEY: &CStr = c"luasocket-wasi.foreign";

/// Asks a foreign object for its descriptor and dirtiness, under `pcall`.
const FOREIGN: &CStr = c"local o = ...
local t = type(o)
if (t ~= 'table' and t ~= 'userdata') or not o.getfd then return nil, false end
local fd = o:getfd()
local dirty = false
if o.dirty then dirty = o:dirty() end
return fd, dirty";

/// Creates the registry table and the foreign-object check. Called by
/// `luaopen_socket_core`.
pub fn init(args: &Args) {
    let state = args.state();
    // SAFETY: `luaopen_socket_core`'s stack; each value pushed is stored or popped.
    unsafe {
        if ffi::luaL_loadstring(state, FOREIGN.as_ptr()) == ffi::LUA_OK {
            ffi::lua_setfield(state, ffi::LUA_REGISTRYINDEX, FOREIGN_KEY.as_ptr());
        } else {
            ffi::lua_pop(state, 1);
        }
        ffi::lua_createtable(state, 0, 0);
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_pushstring(state, c"v".as_ptr());
        ffi::lua_setfield(state, -2, c"__mode".as_ptr());
        ffi::lua_setmetatable(state, -2);
        ffi::lua_setfield(state, ffi::LUA_REGISTRYINDEX, FDS.as_ptr());
    }
}

/// Records the object at `arg` under descriptor `fd`.
pub fn remember_fd(args: &Args, arg: c_int, fd: i64) {
    let arg = args.absolute(arg);
    // SAFETY: the C function's own stack; raw access to our own table, popped after.
    unsafe {
        ffi::lua_getfield(args.state(), ffi::LUA_REGISTRYINDEX, FDS.as_ptr());
        ffi::lua_pushvalue(args.state(), arg);
        ffi::lua_rawseti(args.state(), -2, fd);
        ffi::lua_pop(args.state(), 1);
    }
}

/// Pushes the socket registered under `fd`, or nil.
fn push_by_fd(args: &Args, fd: i64) {
    // SAFETY: as in `remember_fd`; leaves one value.
    unsafe {
        ffi::lua_getfield(args.state(), ffi::LUA_REGISTRYINDEX, FDS.as_ptr());
        ffi::lua_rawgeti(args.state(), -1, fd);
        ffi::lua_remove(args.state(), -2);
    }
}

/// A `select` entry: where its original value and the socket it names sit on the stack
/// (the same slot for one of ours; the registry's answer for a foreign object).
struct Anchored {
    original: c_int,
    socket: c_int,
    dirty: bool,
}

/// An entry resolved to its socket.
struct Entry {
    original: c_int,
    target: Target,
    dirty: bool,
}

/// The socket behind an entry. The pointers are to userdata anchored on the stack for
/// the whole call, taken after the last Lua code of the call has run (see `select`); no
/// two references to one socket are alive at once.
#[derive(Clone, Copy)]
enum Target {
    Tcp(*mut Tcp),
    Udp(*const Udp),
    Tls(*mut Tls),
}

impl Target {
    fn selectable<'a>(self) -> &'a dyn Selectable {
        // SAFETY: see the type.
        unsafe {
            match self {
                Target::Tcp(t) => &*t,
                Target::Udp(u) => &*u,
                Target::Tls(t) => &*t,
            }
        }
    }

    fn confirm_readable(self) -> bool {
        match self {
            // SAFETY: see the type; the shared references of the last attempt are gone.
            Target::Tcp(t) => unsafe { &mut *t }.confirm_readable(),
            Target::Udp(_) => true,
            // SAFETY: as for TCP.
            Target::Tls(t) => unsafe { &mut *t }.confirm_readable(),
        }
    }
}

/// Whether the value at `index` is one of our sockets (open or not).
fn is_ours(args: &Args, index: c_int) -> bool {
    args.test_object::<Tcp>(index).is_some()
        || args.test_object::<Udp>(index).is_some()
        || args.test_object::<ssl::Connection>(index).is_some()
}

/// The socket at `index`, if it is one of ours and open.
fn native(args: &Args, index: c_int) -> Option<Target> {
    if let Some(t) = args.test_object::<Tcp>(index) {
        return (!t.is_closed()).then(|| Target::Tcp(t.as_ptr()));
    }
    if let Some(u) = args.test_object::<Udp>(index) {
        return (!u.is_closed()).then(|| Target::Udp(u.as_ptr()));
    }
    let t = ssl::test(args, index)?;
    // SAFETY: a live connection anchored on the stack; nothing else borrows it now.
    (!unsafe { &*t }.is_closed()).then_some(Target::Tls(t))
}

/// Anchors every entry of the table at `arg` on the stack: its value, and for a foreign
/// object the socket its descriptor names. Foreign objects are asked in Lua, which may
/// do anything (close a socket, collect one), so nothing is resolved yet.
fn gather(args: &Args, arg: c_int) -> LuaResult<Vec<Anchored>> {
    let mut entries = Vec::new();
    if args.is_none_or_nil(arg) {
        return Ok(entries);
    }
    if !args.is_table(arg) {
        return Err(Raise::Type(arg, c"table"));
    }
    for i in 1.. {
        if !args.check_stack(4) {
            return Err(Raise::Arg(arg, "too many sockets".into()));
        }
        if args.push_raw_index(arg, i) == ffi::LUA_TNIL {
            args.pop(1);
            break;
        }
        if i as usize > SETSIZE {
            return Err(Raise::Arg(arg, "too many sockets".into()));
        }
        let original = args.top();
        if is_ours(args, original) {
            entries.push(Anchored {
                original,
                socket: original,
                dirty: false,
            });
            continue;
        }
        // A foreign object: ask it, then find the socket its descriptor names.
        let (fd, dirty) = foreign(args, original)?;
        let Some(fd) = fd else { continue };
        push_by_fd(args, fd);
        entries.push(Anchored {
            original,
            socket: args.top(),
            dirty,
        });
    }
    Ok(entries)
}

/// The open sockets of anchored entries. No Lua may run from here to the end of the call
/// (the targets point into userdata).
fn resolve(args: &Args, anchored: Vec<Anchored>) -> Vec<Entry> {
    anchored
        .into_iter()
        .filter_map(|a| {
            native(args, a.socket).map(|target| Entry {
                original: a.original,
                target,
                dirty: a.dirty,
            })
        })
        .collect()
}

/// `obj:getfd(), obj:dirty()` for the value at `index`, errors propagated as messages.
fn foreign(args: &Args, index: c_int) -> LuaResult<(Option<i64>, bool)> {
    let state = args.state();
    // SAFETY: the C function's own stack; the check runs protected, so an error in the
    // object's methods comes back as a message. No reference into a userdata is alive.
    unsafe {
        if ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, FOREIGN_KEY.as_ptr())
            != ffi::LUA_TFUNCTION
        {
            ffi::lua_pop(state, 1);
            return Err(Raise::Message(
                "select: the foreign-object check is missing".into(),
            ));
        }
        ffi::lua_pushvalue(state, index);
        if ffi::lua_pcall(state, 1, 2, 0) != ffi::LUA_OK {
            let message = args
                .opt_str(-1)
                .ok()
                .flatten()
                .map_or_else(|| "error in getfd".into(), |m| m.into_owned());
            args.pop(1);
            return Err(Raise::Message(message));
        }
    }
    let fd = args.to_number(-2).map(|n| n as i64).filter(|&n| n >= 0);
    let dirty = args.boolean(-1);
    args.pop(2);
    Ok((fd, dirty))
}

/// `socket.select(recvt, sendt[, timeout])` → readable, writable, err.
pub fn select(args: &Args) -> LuaResult<c_int> {
    let timeout = args.opt_number(3)?;
    let limit = Limit::from_secs(timeout).duration();
    let reads = gather(args, 1)?;
    let writes = gather(args, 2)?;
    let (reads, writes) = (resolve(args, reads), resolve(args, writes));
    let dirty = reads.iter().any(|e| e.dirty);
    let attempt = |remaining: Option<Duration>| {
        let read_refs: Vec<&dyn Selectable> = reads.iter().map(|e| e.target.selectable()).collect();
        let write_refs: Vec<&dyn Selectable> =
            writes.iter().map(|e| e.target.selectable()).collect();
        core_select(&read_refs, &write_refs, remaining)
    };
    let confirm = |i: usize| reads[i].target.confirm_readable();
    let limit = if dirty { Some(Duration::ZERO) } else { limit };
    let (mut readable, writable) = select_confirmed(limit, attempt, confirm);
    for (i, e) in reads.iter().enumerate() {
        if e.dirty && !readable.contains(&i) {
            readable.push(i);
        }
    }
    readable.sort_unstable();
    push_result(args, &reads, &readable);
    push_result(args, &writes, &writable);
    // As select.c: two values when something is ready, a third ("timeout") only when not.
    if readable.is_empty() && writable.is_empty() {
        args.push_str("timeout");
        return Ok(3);
    }
    Ok(2)
}

/// A result table: `t[k] = obj` and `t[obj] = k`.
fn push_result(args: &Args, entries: &[Entry], ready: &[usize]) {
    args.new_table(ready.len() as c_int, ready.len() as c_int);
    for (k, &i) in ready.iter().enumerate() {
        let k = k as i64 + 1;
        args.push_value(entries[i].original);
        args.set_index(-2, k);
        args.push_value(entries[i].original);
        args.push_number(k as f64);
        args.set_raw(-3);
    }
}
