//! `socket.core`: the namespace LuaSocket implements in C — object constructors, time,
//! and the constants scripts read. The rest of `socket` is Lua (`lua/socket.lua`).

use std::ffi::c_int;
use std::time::Duration;

use super::api::{Args, Entry, LuaResult, cfunction, ffi, set_functions};
use super::{descriptors, dns, select, tcp, udp};
use crate::net::addr::Family;
use crate::net::poll;

/// `require "socket.core"`.
pub fn open(args: &Args) -> LuaResult<c_int> {
    let state = args.state();
    let functions: &[Entry] = &[
        (c"__unload", cfunction!(unload)),
        (c"gettime", cfunction!(gettime)),
        (c"sleep", cfunction!(sleep)),
        (c"tcp", cfunction!(tcp_unspec)),
        (c"tcp4", cfunction!(tcp4)),
        (c"tcp6", cfunction!(tcp6)),
        (c"udp", cfunction!(udp_unspec)),
        (c"udp4", cfunction!(udp4)),
        (c"udp6", cfunction!(udp6)),
        (c"select", cfunction!(select::select)),
    ];
    // SAFETY: the C function's own stack; each value is stored as soon as it is pushed.
    unsafe {
        ffi::lua_createtable(state, 0, 16);
        set_functions(state, functions);
        ffi::lua_pushboolean(state, 1);
        ffi::lua_setfield(state, -2, c"_DEBUG".as_ptr());
        ffi::lua_pushstring(state, c"LuaSocket 3.1.0".as_ptr());
        ffi::lua_setfield(state, -2, c"_VERSION".as_ptr());
    }
    let constants: &[(&std::ffi::CStr, f64)] = &[
        (c"_SETSIZE", select::SETSIZE as f64),
        (c"_DATAGRAMSIZE", crate::net::udp::DATAGRAM_SIZE as f64),
        (c"_SOCKETINVALID", crate::net::id::INVALID as f64),
    ];
    for (name, value) in constants {
        // Integers, as LuaSocket pushes them.
        args.push_integer(*value as i64);
        args.set_field(-2, name);
    }
    dns::push_table(args);
    args.set_field(-2, c"dns");
    descriptors::init(args);
    tcp::register(args);
    udp::register(args);
    Ok(1)
}

/// LuaSocket's unload hook (luasocket.c's `global_unload`): it closes the socket library,
/// which WASI has nothing of to close. Kept so scripts that list or call it find it.
fn unload(_args: &Args) -> LuaResult<c_int> {
    Ok(0)
}

fn gettime(args: &Args) -> LuaResult<c_int> {
    args.push_number(poll::wall_time_secs());
    Ok(1)
}

fn sleep(args: &Args) -> LuaResult<c_int> {
    let secs = args.number(1)?;
    // As LuaSocket: negative (and NaN) sleeps not at all; the top is clamped to INT_MAX s.
    let secs = if secs.is_nan() {
        0.0
    } else {
        secs.clamp(0.0, f64::from(i32::MAX))
    };
    poll::sleep(Duration::from_secs_f64(secs));
    Ok(0)
}

fn tcp_unspec(args: &Args) -> LuaResult<c_int> {
    tcp::create(args, None)
}

fn tcp4(args: &Args) -> LuaResult<c_int> {
    tcp::create(args, Some(Family::Inet4))
}

fn tcp6(args: &Args) -> LuaResult<c_int> {
    tcp::create(args, Some(Family::Inet6))
}

fn udp_unspec(args: &Args) -> LuaResult<c_int> {
    udp::create(args, None)
}

fn udp4(args: &Args) -> LuaResult<c_int> {
    udp::create(args, Some(Family::Inet4))
}

fn udp6(args: &Args) -> LuaResult<c_int> {
    udp::create(args, Some(Family::Inet6))
}
