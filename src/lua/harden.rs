//! The few standard functions a script could use to break the native parts' assumptions,
//! replaced by native versions that keep the safe part of their behaviour.
//!
//! - `load`, `loadfile`: text chunks only. Precompiled bytecode is not verified by Lua
//!   and can break the VM's memory safety. (`dofile` and `require`'s file searcher are
//!   rebuilt in Lua over these, see `HARDEN_LUA`.)
//! - `debug.setmetatable` on userdata, `debug.setupvalue` and `debug.upvaluejoin` on C
//!   functions: they would let a script re-type a userdata (a socket's metatable on a
//!   file handle) or reach inside native closures.
//! - `debug.setlocal` on a C function's frame: a finalizer running inside a binding could
//!   overwrite the argument slot that keeps the binding's socket or string alive.
//!
//! These must be native: a Lua wrapper would hold the original function as an upvalue
//! (`debug.getupvalue` hands it out) and call it (a call hook sees it as the callee).
//! Nothing here keeps a reference to the originals; they become unreachable.

use std::ffi::{CStr, c_int};

use super::api::{Args, Entry, LuaResult, Raise, cfunction, ffi, set_functions};

/// The Lua half: `dofile` and the `package.searchers` entry for Lua files, over the
/// text-only `loadfile` (nothing here is more powerful than what a script can write).
const HARDEN_LUA: &str = r#"
local loadfile, error, select, searchpath, package = loadfile, error, select, package.searchpath, package
function dofile(filename)
    local f, err = loadfile(filename)
    if not f then error(err, 0) end
    return f()
end
package.searchers[2] = function(name)
    if type(package.path) ~= "string" then error("'package.path' must be a string") end
    local filename, err = searchpath(name, package.path)
    if not filename then return err end
    local f, lerr = loadfile(filename)
    if not f then
        error(("error loading module '%s' from file '%s':\n\t%s"):format(name, filename, lerr), 0)
    end
    return f, filename
end
"#;

/// Installs the native replacements, then the Lua half.
pub fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: the functions follow the rules in `api`; the globals and `debug` exist.
    unsafe {
        let _ = lua.exec_raw::<()>((), |state| {
            let globals: &[Entry] = &[
                (c"load", cfunction!(load)),
                (c"loadfile", cfunction!(loadfile)),
            ];
            let debug: &[Entry] = &[
                (c"setmetatable", cfunction!(debug_setmetatable)),
                (c"setlocal", cfunction!(debug_setlocal)),
                (c"setupvalue", cfunction!(debug_setupvalue)),
                (c"upvaluejoin", cfunction!(debug_upvaluejoin)),
            ];
            ffi::lua_pushglobaltable(state);
            set_functions(state, globals);
            ffi::lua_pop(state, 1);
            if ffi::lua_getglobal(state, c"debug".as_ptr()) == ffi::LUA_TTABLE {
                set_functions(state, debug);
            }
            ffi::lua_pop(state, 1);
        });
    }
    lua.load(HARDEN_LUA).set_name("=harden").exec()
}

/// The only mode a chunk may be loaded in.
const TEXT: &CStr = c"t";

/// Lua's refusal when the mode argument excludes text.
fn check_mode(args: &Args, arg: c_int) -> LuaResult<Option<String>> {
    match args.opt_str(arg)? {
        Some(mode) if !mode.contains('t') => Ok(Some(format!(
            "attempt to load a text chunk (mode is '{mode}')"
        ))),
        _ => Ok(None),
    }
}

/// After a load: sets the environment from slot `env` (if the call passed it, even as
/// nil, as Lua's `load` does) and returns the function, or `nil, message`.
fn loaded(args: &Args, status: c_int, env: Option<c_int>) -> c_int {
    let state = args.state();
    // SAFETY: the loaded function or the message is on top of the stack.
    unsafe {
        if status != ffi::LUA_OK {
            ffi::lua_pushnil(state);
            ffi::lua_insert(state, -2);
            return 2;
        }
        if let Some(env) = env {
            ffi::lua_pushvalue(state, env);
            if ffi::lua_setupvalue(state, -2, 1).is_null() {
                ffi::lua_pop(state, 1);
            }
        }
    }
    1
}

/// `load(chunk [, chunkname [, mode [, env]]])`, text chunks only.
fn load(args: &Args) -> LuaResult<c_int> {
    let state = args.state();
    if let Some(refusal) = check_mode(args, 3)? {
        return Ok(args.fail(&refusal));
    }
    let env = (args.top() >= 4).then_some(4);
    // SAFETY: stack slots are checked before use; the source bytes stay on the stack (a
    // string argument) or in a Lua buffer (the pieces from a reader) while loading.
    unsafe {
        // Slot 5 holds the chunk's source as one string, slot 6 its name.
        ffi::lua_settop(state, 4);
        match ffi::lua_type(state, 1) {
            ffi::LUA_TSTRING => {
                ffi::lua_pushvalue(state, 1);
                if args.is_none_or_nil(2) {
                    ffi::lua_pushvalue(state, 1);
                } else {
                    args.bytes(2)?;
                    ffi::lua_pushvalue(state, 2);
                }
            }
            ffi::LUA_TFUNCTION => {
                let named = args.opt_bytes(2)?.is_some();
                if let Err(message) = read_pieces(state) {
                    return Ok(args.fail(&message));
                }
                if named {
                    ffi::lua_pushvalue(state, 2);
                } else {
                    ffi::lua_pushstring(state, c"=(load)".as_ptr());
                }
            }
            _ => return Err(Raise::Type(1, c"string")),
        }
        let mut len = 0;
        let source = ffi::lua_tolstring(state, 5, &mut len);
        let name = ffi::lua_tolstring(state, 6, std::ptr::null_mut());
        let status = ffi::luaL_loadbufferx(state, source, len, name, TEXT.as_ptr());
        Ok(loaded(args, status, env))
    }
}

/// Calls the reader at slot 1 until it returns nothing, leaving the pieces joined on top
/// of the stack. Errors in the reader come back as the message, as Lua's `load` does.
///
/// # Safety
/// A C function's stack with the reader at slot 1.
unsafe fn read_pieces(state: *mut ffi::lua_State) -> Result<(), String> {
    // SAFETY: as the caller promises; each call has three free slots, and the reader runs
    // protected, so its errors come back as values.
    unsafe {
        let mut pieces = 0;
        loop {
            if ffi::lua_checkstack(state, 3) == 0 {
                return Err("too many pieces from the reader function".into());
            }
            ffi::lua_pushvalue(state, 1);
            if ffi::lua_pcall(state, 0, 1, 0) != ffi::LUA_OK {
                let message = text_at(state, -1);
                return Err(message);
            }
            match ffi::lua_type(state, -1) {
                ffi::LUA_TNIL => {
                    ffi::lua_pop(state, 1);
                    break;
                }
                ffi::LUA_TSTRING if string_len(state, -1) == 0 => {
                    ffi::lua_pop(state, 1);
                    break;
                }
                ffi::LUA_TSTRING => {
                    pieces += 1;
                    // Keep the stack short: join as we go.
                    if pieces > 1 {
                        ffi::lua_concat(state, 2);
                    }
                }
                _ => return Err("reader function must return a string".into()),
            }
        }
        if pieces == 0 {
            ffi::lua_pushstring(state, c"".as_ptr());
        }
        Ok(())
    }
}

/// The length of the string at `index`.
///
/// # Safety
/// `index` is a valid stack index holding a string.
unsafe fn string_len(state: *mut ffi::lua_State, index: c_int) -> usize {
    let mut len = 0;
    // SAFETY: as the caller promises; a string converts to nothing else.
    unsafe { ffi::lua_tolstring(state, index, &mut len) };
    len
}

/// The string (or a description) at `index`.
///
/// # Safety
/// `index` is a valid stack index.
unsafe fn text_at(state: *mut ffi::lua_State, index: c_int) -> String {
    // SAFETY: as the caller promises; the bytes are copied while the value is there.
    unsafe {
        let mut len = 0;
        let p = ffi::lua_tolstring(state, index, &mut len);
        if p.is_null() {
            return "(error object is not a string)".into();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(p.cast(), len)).into_owned()
    }
}

/// `loadfile([filename [, mode [, env]]])`, text chunks only.
fn loadfile(args: &Args) -> LuaResult<c_int> {
    let state = args.state();
    if let Some(refusal) = check_mode(args, 2)? {
        return Ok(args.fail(&refusal));
    }
    args.opt_bytes(1)?;
    let env = (args.top() >= 3).then_some(3);
    // SAFETY: the file name stays on the stack while loading.
    unsafe {
        ffi::lua_settop(state, 3);
        let name = if args.is_none_or_nil(1) {
            std::ptr::null()
        } else {
            ffi::lua_tolstring(state, 1, std::ptr::null_mut())
        };
        let status = ffi::luaL_loadfilex(state, name, TEXT.as_ptr());
        Ok(loaded(args, status, env))
    }
}

/// `debug.setmetatable(value, table)`, except on userdata.
fn debug_setmetatable(args: &Args) -> LuaResult<c_int> {
    let state = args.state();
    // SAFETY: argument slots are checked before use.
    unsafe {
        let t = ffi::lua_type(state, 2);
        if t != ffi::LUA_TNIL && t != ffi::LUA_TTABLE {
            return Err(Raise::Type(2, c"nil or table"));
        }
        let kind = ffi::lua_type(state, 1);
        if kind == ffi::LUA_TUSERDATA || kind == ffi::LUA_TLIGHTUSERDATA {
            return Err(sandbox_refusal(
                state,
                "debug.setmetatable on userdata is disabled in the sandbox",
            ));
        }
        if kind == ffi::LUA_TNONE {
            return Err(Raise::Arg(1, "value expected".into()));
        }
        ffi::lua_settop(state, 2);
        ffi::lua_setmetatable(state, 1);
    }
    Ok(1)
}

/// Whether the function at `arg` is a Lua function (not a C one); raises otherwise.
fn lua_function(args: &Args, arg: c_int, what: &str) -> LuaResult<()> {
    let state = args.state();
    // SAFETY: checking the type of an argument slot.
    unsafe {
        if ffi::lua_type(state, arg) != ffi::LUA_TFUNCTION {
            return Err(Raise::Type(arg, c"function"));
        }
        if ffi::lua_iscfunction(state, arg) != 0 {
            return Err(sandbox_refusal(
                state,
                &format!("{what} on C functions is disabled in the sandbox"),
            ));
        }
    }
    Ok(())
}

/// `debug.setupvalue(f, up, value)`, for Lua functions only.
fn debug_setupvalue(args: &Args) -> LuaResult<c_int> {
    lua_function(args, 1, "debug.setupvalue")?;
    let n = args.integer(2)?;
    let state = args.state();
    // SAFETY: slots 1-3 are checked; the name returned stays valid (it is the upvalue's).
    unsafe {
        if ffi::lua_type(state, 3) == ffi::LUA_TNONE {
            return Err(Raise::Arg(3, "value expected".into()));
        }
        let Ok(n) = c_int::try_from(n) else {
            return Ok(0);
        };
        ffi::lua_settop(state, 3);
        let name = ffi::lua_setupvalue(state, 1, n);
        if name.is_null() {
            return Ok(0);
        }
        ffi::lua_pushstring(state, name);
    }
    Ok(1)
}

/// `debug.setlocal([thread,] level, local, value)`, for Lua functions' frames only (as
/// ldblib.c's, otherwise). A C function's slots hold what native code relies on staying
/// where it is: the object a binding works on, the string it reads.
fn debug_setlocal(args: &Args) -> LuaResult<c_int> {
    let state = args.state();
    // SAFETY: slot 1 is checked before it is taken as a thread.
    let (thread, arg) = unsafe {
        match ffi::lua_type(state, 1) {
            ffi::LUA_TTHREAD => (ffi::lua_tothread(state, 1), 1),
            _ => (state, 0),
        }
    };
    let level = c_int::try_from(args.integer(arg + 1)?).unwrap_or(-1);
    let n = c_int::try_from(args.integer(arg + 2)?).unwrap_or(0);
    // SAFETY: `lua_Debug` is plain integers and pointers, all-zero is a valid value; it is
    // filled by `lua_getstack` before use, and `thread` is a live thread (held at slot 1).
    // The value moves to `thread` only after its stack has room.
    unsafe {
        let mut frame: ffi::lua_Debug = std::mem::zeroed();
        if level < 0 || ffi::lua_getstack(thread, level, &mut frame) == 0 {
            return Err(Raise::Arg(arg + 1, "level out of range".into()));
        }
        ffi::lua_getinfo(thread, c"S".as_ptr(), &mut frame);
        if CStr::from_ptr(frame.what) == c"C" {
            return Err(sandbox_refusal(
                state,
                "debug.setlocal on C functions is disabled in the sandbox",
            ));
        }
        if ffi::lua_type(state, arg + 3) == ffi::LUA_TNONE {
            return Err(Raise::Arg(arg + 3, "value expected".into()));
        }
        if thread != state && ffi::lua_checkstack(thread, 1) == 0 {
            return Err(Raise::Message("stack overflow".into()));
        }
        ffi::lua_settop(state, arg + 3);
        ffi::lua_xmove(state, thread, 1);
        let name = ffi::lua_setlocal(thread, &frame, n);
        if name.is_null() {
            ffi::lua_pop(thread, 1);
        }
        // A null name pushes nil, as Lua's own setlocal answers an unknown local.
        ffi::lua_pushstring(state, name);
    }
    Ok(1)
}

/// `debug.upvaluejoin(f1, n1, f2, n2)`, for Lua functions only.
fn debug_upvaluejoin(args: &Args) -> LuaResult<c_int> {
    lua_function(args, 1, "debug.upvaluejoin")?;
    lua_function(args, 3, "debug.upvaluejoin")?;
    let state = args.state();
    let index = |arg: c_int| -> LuaResult<c_int> {
        let n = c_int::try_from(args.integer(arg)?).unwrap_or(0);
        // SAFETY: the function at `arg - 1` was checked above.
        let id = unsafe { ffi::lua_upvalueid(state, arg - 1, n) };
        if id.is_null() {
            return Err(Raise::Arg(arg, "invalid upvalue index".into()));
        }
        Ok(n)
    };
    let (n1, n2) = (index(2)?, index(4)?);
    // SAFETY: both functions are Lua functions with those upvalues.
    unsafe { ffi::lua_upvaluejoin(state, 1, n1, 3, n2) };
    Ok(0)
}

/// A refusal raised with the caller's position, as `error(message, 2)` would.
///
/// # Safety
/// `state` is the state of a running C function.
unsafe fn sandbox_refusal(state: *mut ffi::lua_State, message: &str) -> Raise {
    // SAFETY: as the caller promises; `luaL_where` pushes one string, popped here.
    unsafe {
        ffi::luaL_where(state, 1);
        let place = text_at(state, -1);
        ffi::lua_pop(state, 1);
        Raise::Message(format!("{place}{message}"))
    }
}
