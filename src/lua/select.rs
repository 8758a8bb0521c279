//! `socket.select`.
//!
//! LuaSocket's select accepts any object with `getfd` and `dirty` methods (wrappers such
//! as TLS connections, `socket.source` over a socket). Without real descriptors, a number
//! from `getfd` is looked up in the descriptor registry (`descriptors.rs`). What select.c does with descriptors is kept: an entry is
//! its descriptor (listed twice, reported once), the object reported for a descriptor is
//! the last one listed with it, dirty entries are readable at once, and results come in
//! descriptor order after the dirty ones.

use std::collections::BTreeMap;
use std::ffi::c_int;
use std::time::Duration;

use super::api::{Args, LuaResult, Raise, ffi};
use super::descriptors::push_by_fd;
use super::ssl;
use crate::net::select::{Selectable, select as core_select, select_confirmed};
use crate::net::tcp::Tcp;
use crate::net::timeout::Limit;
use crate::net::tls::Tls;
use crate::net::udp::Udp;

/// The most entries one `select` table may hold: LuaSocket's `_SETSIZE`. There is no
/// descriptor set behind it, only a list of pollables; this bounds the work per call.
pub const SETSIZE: usize = 65536;

/// A `select` entry with a descriptor, anchored on the stack: its value, where the
/// socket its descriptor names sits (itself, for one of ours; the registry's answer for a
/// foreign object), and what it said.
struct Anchored {
    original: c_int,
    socket: c_int,
    fd: i64,
    dirty: bool,
}

/// What select asks a foreign entry: `dirty()` only in the read table, as select.c.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ask {
    Getfd,
    GetfdAndDirty,
}

/// The socket behind a descriptor. The pointers are to userdata anchored on the stack for
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

/// The descriptor of the value at `index` if it is one of our objects (`-1` when it has
/// none: closed, or no socket yet), as its `getfd` would answer.
fn own_fd(args: &Args, index: c_int) -> Option<i64> {
    if let Some(t) = args.test_object::<Tcp>(index) {
        return Some(t.fd());
    }
    if let Some(u) = args.test_object::<Udp>(index) {
        return Some(u.fd());
    }
    args.test_object::<ssl::Connection>(index)?;
    // SAFETY: a live connection anchored on the stack; nothing else borrows it now.
    Some(ssl::test(args, index).map_or(crate::net::id::INVALID, |t| unsafe { &*t }.fd()))
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

/// Anchors the entries of the table at `arg` that have a descriptor on the stack: each
/// value, and for a foreign object the socket its descriptor names. Foreign objects are
/// asked in Lua, which may do anything (close a socket, collect one), so nothing is
/// resolved yet.
fn gather(args: &Args, arg: c_int, ask: Ask) -> LuaResult<Vec<Anchored>> {
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
        let (fd, dirty, socket) = match own_fd(args, original) {
            Some(fd) => (fd, false, original),
            None => {
                let (fd, dirty) = probe(args, original, ask)?;
                push_by_fd(args, fd);
                (fd, dirty, args.top())
            }
        };
        if fd >= 0 {
            entries.push(Anchored {
                original,
                socket,
                fd,
                dirty,
            });
        }
    }
    Ok(entries)
}

/// select.c's getfd() and dirty(): `o.getfd` and `o.dirty` looked up as Lua does (so a
/// number, boolean or function in a table raises "attempt to index"), each called if
/// present. Returns the descriptor (`-1` for none: no getfd, not a number, negative) and,
/// when asked and the descriptor is valid, dirtiness.
fn probe(args: &Args, index: c_int, ask: Ask) -> LuaResult<(i64, bool)> {
    let state = args.state();
    // SAFETY: the C function's own stack; `probe_in_lua` runs protected, so an error in
    // the object or its methods comes back as a message. No reference into a userdata
    // is alive.
    unsafe {
        ffi::lua_pushcfunction(state, probe_in_lua);
        ffi::lua_pushvalue(state, index);
        ffi::lua_pushboolean(state, c_int::from(ask == Ask::GetfdAndDirty));
        if ffi::lua_pcall(state, 2, 2, 0) != ffi::LUA_OK {
            let message = args
                .opt_str(-1)
                .ok()
                .flatten()
                .map_or_else(|| "error in getfd".into(), |m| m.into_owned());
            args.pop(1);
            return Err(Raise::Message(message));
        }
    }
    let fd = args
        .to_number(-2)
        .filter(|&n| n >= 0.0)
        .map_or(-1, |n| n as i64);
    let dirty = args.boolean(-1);
    args.pop(2);
    Ok((fd, dirty))
}

/// `probe`'s Lua side, `(object, ask_dirty) -> fd, dirty`. A raw C function: it holds
/// nothing of Rust's, so the errors indexing or calling may raise are plain Lua errors,
/// worded by Lua itself and with no position (the caller is C), as in LuaSocket.
unsafe extern "C-unwind" fn probe_in_lua(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by `probe` through lua_pcall with two arguments.
    unsafe {
        ffi::lua_settop(state, 2);
        if ffi::lua_getfield(state, 1, c"getfd".as_ptr()) == ffi::LUA_TNIL {
            ffi::lua_pushboolean(state, 0);
            return 2;
        }
        ffi::lua_pushvalue(state, 1);
        ffi::lua_call(state, 1, 1);
        let mut ok = 0;
        let fd = ffi::lua_tonumberx(state, 3, &mut ok);
        if ok == 0 || fd < 0.0 || ffi::lua_toboolean(state, 2) == 0 {
            ffi::lua_pushboolean(state, 0);
            return 2;
        }
        if ffi::lua_getfield(state, 1, c"dirty".as_ptr()) != ffi::LUA_TNIL {
            ffi::lua_pushvalue(state, 1);
            ffi::lua_call(state, 1, 1);
        }
        2
    }
}

/// One table's side of the call: the descriptors to wait on, in ascending order (each
/// once, dirty ones left out: they are ready already), with their sockets; and the
/// entries that were dirty, in table order.
struct Side {
    fds: Vec<i64>,
    targets: Vec<Target>,
    dirty: Vec<c_int>,
}

/// The open sockets behind anchored entries. No Lua may run from here to the end of the
/// call (the targets point into userdata). A descriptor that names no open socket can
/// never be ready and is left out.
fn resolve(args: &Args, anchored: &[Anchored]) -> Side {
    let dirty: Vec<c_int> = anchored
        .iter()
        .filter(|a| a.dirty)
        .map(|a| a.original)
        .collect();
    let mut sockets = BTreeMap::new();
    for a in anchored {
        sockets.entry(a.fd).or_insert(a.socket);
    }
    for a in anchored.iter().filter(|a| a.dirty) {
        sockets.remove(&a.fd);
    }
    let (fds, targets) = sockets
        .into_iter()
        .filter_map(|(fd, socket)| native(args, socket).map(|t| (fd, t)))
        .unzip();
    Side {
        fds,
        targets,
        dirty,
    }
}

/// `socket.select(recvt, sendt[, timeout])` → readable, writable, err.
pub fn select(args: &Args) -> LuaResult<c_int> {
    let timeout = args.opt_number(3)?;
    let limit = Limit::from_secs(timeout).duration();
    let reads = gather(args, 1, Ask::GetfdAndDirty)?;
    let writes = gather(args, 2, Ask::Getfd)?;
    let answers = answering_objects(&reads, &writes);
    let (read, write) = (resolve(args, &reads), resolve(args, &writes));
    let attempt = |remaining: Option<Duration>| {
        let read_refs: Vec<&dyn Selectable> = read.targets.iter().map(|t| t.selectable()).collect();
        let write_refs: Vec<&dyn Selectable> =
            write.targets.iter().map(|t| t.selectable()).collect();
        core_select(&read_refs, &write_refs, remaining)
    };
    let confirm = |i: usize| read.targets[i].confirm_readable();
    let limit = if read.dirty.is_empty() {
        limit
    } else {
        Some(Duration::ZERO)
    };
    let (readable, writable) = select_confirmed(limit, attempt, confirm);
    let readable: Vec<c_int> = (read.dirty.iter().copied())
        .chain(
            readable
                .iter()
                .filter_map(|&i| answers.get(&read.fds[i]).copied()),
        )
        .collect();
    let writable: Vec<c_int> = (writable.iter())
        .filter_map(|&i| answers.get(&write.fds[i]).copied())
        .collect();
    push_result(args, &readable);
    push_result(args, &writable);
    // As select.c: two values when something is ready, a third ("timeout") only when not.
    if readable.is_empty() && writable.is_empty() {
        args.push_str("timeout");
        return Ok(3);
    }
    Ok(2)
}

/// The object reported for each descriptor: the last entry listed with it, the write
/// table's after the read table's (select.c keeps one descriptor → object table for both).
fn answering_objects(reads: &[Anchored], writes: &[Anchored]) -> BTreeMap<i64, c_int> {
    reads
        .iter()
        .chain(writes)
        .map(|a| (a.fd, a.original))
        .collect()
}

/// A result table of the values at `slots`: `t[k] = obj` and `t[obj] = k`.
fn push_result(args: &Args, slots: &[c_int]) {
    args.new_table(slots.len() as c_int, slots.len() as c_int);
    for (k, &slot) in slots.iter().enumerate() {
        let k = k as i64 + 1;
        args.push_value(slot);
        args.set_index(-2, k);
        args.push_value(slot);
        args.push_number(k as f64);
        args.set_raw(-3);
    }
}
