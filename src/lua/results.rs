//! LuaSocket's result shapes, shared by every socket class: `1` or `nil, message`,
//! addresses as `ip, port, family`, family names, `tostring`.

use std::ffi::{CStr, c_int};
use std::net::SocketAddr;

use super::api::{Args, LuaResult, Raise, ffi};
use crate::net::NetError;
use crate::net::addr::Family;

/// `1` on success, `nil, message` on failure, as most LuaSocket methods answer.
pub fn done(args: &Args, result: Result<(), NetError>) -> c_int {
    match result {
        Ok(()) => {
            args.push_number(1.0);
            1
        }
        Err(e) => args.fail(e.as_str()),
    }
}

/// `ip, port, family`, family spelled "inet"/"inet6" as `getsockname` spells it.
pub fn address(args: &Args, address: Result<SocketAddr, NetError>) -> c_int {
    match address {
        Ok(a) => {
            args.push_str(&a.ip().to_string());
            args.push_integer(i64::from(a.port()));
            args.push_str(if a.is_ipv4() { "inet" } else { "inet6" });
            3
        }
        Err(e) => args.fail(e.as_str()),
    }
}

/// The family as `getfamily` spells it.
pub fn family(args: &Args, family: Option<Family>) -> c_int {
    args.push_str(match family {
        Some(Family::Inet4) => "inet4",
        Some(Family::Inet6) => "inet6",
        // LuaSocket's getfamily names only AF_INET6 as such, everything else "inet4".
        None => "inet4",
    });
    1
}

/// `tostring(obj)` for the LuaSec objects: "name: 0x…".
pub fn describe(args: &Args, name: &CStr) -> c_int {
    let text = format!("{}: {}", name.to_string_lossy(), pointer(args));
    args.push_str(&text);
    1
}

/// The address of the userdata at 1 as C's `%p` prints it (glibc's "(nil)" for none, as
/// LuaSocket shows anything else).
fn pointer(args: &Args) -> String {
    let p = super::api::address(args, 1);
    if p.is_null() {
        "(nil)".into()
    } else {
        format!("{p:p}")
    }
}

/// LuaSocket's `__tostring` (auxiliar.c's), shared by the tcp and udp classes:
/// "tcp{client}: 0x…" for anything whose metatable's `__index` has a `class` string, so
/// tcp's takes a udp object too. It reads the metatable, never the userdata.
pub fn tostring(args: &Args) -> LuaResult<c_int> {
    let state = args.state();
    // SAFETY: the C function's own stack, three slots at most. The lookups are not raw,
    // as in auxiliar.c: a foreign object's metamethods may run, and may raise, which is
    // fine while this frame holds nothing.
    let has_class = unsafe {
        ffi::lua_getmetatable(state, 1) != 0
            && ffi::lua_getfield(state, -1, c"__index".as_ptr()) == ffi::LUA_TTABLE
            && ffi::lua_getfield(state, -1, c"class".as_ptr()) != ffi::LUA_TNIL
            && ffi::lua_isstring(state, -1) != 0
    };
    if !has_class {
        return Err(Raise::Message(
            "invalid object passed to 'auxiliar.c:__tostring'".into(),
        ));
    }
    let mut text = args.bytes(-1)?.to_vec();
    text.extend_from_slice(b": ");
    text.extend_from_slice(pointer(args).as_bytes());
    args.push_bytes(&text);
    Ok(1)
}

/// `setfd`'s effect on the descriptor registry, once the object took the number.
pub fn after_setfd(args: &Args, fd: i64) -> c_int {
    if fd >= 0 {
        super::descriptors::remember_fd(args, 1, fd);
    }
    0
}
