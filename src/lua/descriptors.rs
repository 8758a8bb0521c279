//! The descriptor registry: descriptor → socket, in a weak table in the Lua registry.
//!
//! Sockets here have no kernel descriptors a script could hand to `select`, but scripts
//! (and wrappers such as `socket.source` or LuaSec-style objects) pass around the numbers
//! `getfd` returns. Every socket object is recorded under its number when it gets one, so
//! `select` can find the socket behind a foreign object's `getfd`. A leaf module, as
//! LuaSocket's auxiliar.c is: it depends on nothing else in the bindings.

use std::ffi::{CStr, c_int};

use super::api::{Args, ffi};

const FDS: &CStr = c"luasocket-wasi.fds";

/// Creates the registry table. Called by `luaopen_socket_core`.
pub fn init(args: &Args) {
    let state = args.state();
    // SAFETY: `luaopen_socket_core`'s stack; each value pushed is stored or popped.
    unsafe {
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
pub fn push_by_fd(args: &Args, fd: i64) {
    // SAFETY: as in `remember_fd`; leaves one value.
    unsafe {
        ffi::lua_getfield(args.state(), ffi::LUA_REGISTRYINDEX, FDS.as_ptr());
        ffi::lua_rawgeti(args.state(), -1, fd);
        ffi::lua_remove(args.state(), -2);
    }
}
