//! The Lua face of the socket core: LuaSocket's modules, made available to `require`.
//! Native parts (`socket.core`) are Lua C functions over the core; the Lua parts are the
//! files under `lua/`, compiled into the component.

// Every `unsafe` here says why it holds: the bindings are where Lua's C API meets Rust.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod api;
mod descriptors;
mod dns;
pub mod graph;
pub mod harden;
pub mod host;
mod mime;
mod options;
mod os;
#[cfg(feature = "handler-world")]
mod outgoing;
mod results;
mod select;
mod socket;
mod ssl;
mod stream;
mod tcp;
mod timeout;
mod udp;

use std::ffi::c_int;

use mlua::{Lua, Table};

use api::{cfunction, ffi};

/// The Lua modules shipped in the component: `require` name and Lua 5.4 bytecode, compiled
/// from the files under `lua/` by build.rs.
const MODULES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/modules.rs"));

/// Makes LuaSocket's modules loadable. They go into `package.preload`, so they take
/// precedence over any same-named file on `package.path`, as a built-in should. The Lua
/// modules are compiled only when first required: compiling all of them up front cost
/// start-up time, and their functions stayed in the heap for every GC cycle to traverse.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let preload: Table = lua.globals().get::<Table>("package")?.get("preload")?;
    // SAFETY: `socket::open` is a binding function following the rules in `api`.
    let core = unsafe { lua.create_c_function(cfunction!(socket::open))? };
    preload.set("socket.core", core)?;
    // SAFETY: as above.
    let mime_core = unsafe { lua.create_c_function(cfunction!(mime::open))? };
    preload.set("mime.core", mime_core)?;
    // SAFETY: as above.
    let ssl_core = unsafe { lua.create_c_function(cfunction!(ssl::open))? };
    preload.set("ssl.core", ssl_core)?;
    // SAFETY: `load_builtin` is a Lua C function that only uses the stack it is given.
    let loader = unsafe { lua.create_c_function(load_builtin)? };
    for &(name, _) in MODULES {
        preload.set(name, &loader)?;
    }
    os::install(lua)?;
    #[cfg(feature = "handler-world")]
    outgoing::install(lua)?;
    // Last, so that a host module never takes a built-in's name.
    match crate::world::host() {
        Some(h) => host::install(lua, h),
        None => Ok(()),
    }
}

/// The loader of every built-in Lua module, called by `require` as `loader(name, extra)`:
/// loads the module named by its first argument and runs it with the arguments it was
/// given, as the loader of a file would. Errors propagate as plain Lua errors.
///
/// Binary chunks are loaded here only: these are built from the sources in `lua/` at build
/// time, while a script's `load` stays text-only (`harden`), as bytecode can break the
/// interpreter's memory safety.
unsafe extern "C-unwind" fn load_builtin(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: Lua calls this with a valid state; the bytecode is static and was produced
    // by this Lua release's own compiler (build.rs).
    unsafe {
        let name = if ffi::lua_type(state, 1) == ffi::LUA_TSTRING {
            let mut len = 0;
            let p = ffi::lua_tolstring(state, 1, &mut len);
            std::slice::from_raw_parts(p.cast::<u8>(), len)
        } else {
            &[]
        };
        let Some(&(_, bytecode)) = MODULES.iter().find(|(n, _)| n.as_bytes() == name) else {
            ffi::lua_pushstring(state, c"not a built-in module".as_ptr());
            ffi::lua_error(state);
        };
        // The chunk carries its own source name (`@socket/http.lua`); this one would only
        // name a malformed chunk.
        let status = ffi::luaL_loadbufferx(
            state,
            bytecode.as_ptr().cast(),
            bytecode.len(),
            c"=built-in module".as_ptr(),
            c"b".as_ptr(),
        );
        if status != ffi::LUA_OK {
            ffi::lua_error(state);
        }
        ffi::lua_insert(state, 1);
        let args = ffi::lua_gettop(state) - 1;
        ffi::lua_call(state, args, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}
