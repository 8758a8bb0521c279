//! Running a chunk: a fresh Lua state with LuaSocket preloaded and a memory budget, the
//! chunk called under a message handler that adds a traceback (as the `lua` interpreter
//! does), and results converted as `tostring` would.

use std::ffi::c_void;

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Value};

use crate::net::closing;

/// One run, as the WIT `invocation` record describes it.
pub struct Invocation {
    pub chunk_name: String,
    pub source: Vec<u8>,
    pub args: Vec<String>,
    pub arg_table: Vec<(i32, String)>,
}

/// Why a run or call failed.
#[derive(Debug, PartialEq)]
pub enum Failure {
    Syntax(String),
    Runtime(String),
    OutOfMemory(String),
    /// `os.exit` during a plugin call (a run reports it as a completion instead).
    Exited(i32),
}

/// The environment variable through which a host sets the Lua heap budget, in bytes.
/// The host keeps its own (store) limit a little above it, so that Lua reaches its budget
/// first and raises a catchable "not enough memory" instead of the instance trapping.
pub const MEMORY_LIMIT_VAR: &str = "LUASOCKET_WASI_LUA_MEMORY";

/// Without a host setting: most of a 32-bit address space, leaving room for the rest.
const DEFAULT_MEMORY_LIMIT: usize = 3 << 30;

const OUT_OF_MEMORY: &str = "not enough memory";

/// Removes the `debug` functions that would hand a script the registry (where the
/// native parts keep their metatables) or a userdata's user values. The rest of the
/// hardening is native (`lua::harden`): text-only `load`, and `debug.setmetatable` /
/// `setupvalue` / `upvaluejoin` refused on userdata and C functions.
const HARDEN_DEBUG: &str = r#"
debug.getregistry = nil
debug.setuservalue = nil
"#;

/// `os.exit` for a component: WASI 0.2's exit carries only success or failure, and an
/// instance that exits cannot report anything else, so `os.exit(code)` instead unwinds to
/// the runner, which reports the code. pcall must not stop it: a hook re-raises on every
/// instruction of the exiting threads, and resuming a coroutine that exited re-raises
/// in the resumer. Returns the function the runner asks for the code.
///
/// The status is taken as lua.c's `os_exit` takes it: booleans, else `luaL_optinteger`
/// (numeric strings too, with its two error messages), then C's `(int)` cast, so the code
/// is the low 32 bits; the OS keeps the low 8 of those, as the CLI does.
const EXIT_SUPPORT: &str = r#"
local coroutine, sethook, error, type, math = coroutine, debug.sethook, error, type, math
local tonumber, rawget, getmetatable = tonumber, rawget, debug.getmetatable
-- luaL_typeerror's name for a value: its metatable's __name, else its type.
local function typename(v)
    local mt = getmetatable(v)
    local name = mt and rawget(mt, "__name")
    return type(name) == "string" and name or type(v)
end
-- Level 4: bad, exit_code, os.exit, then the caller, whom the message is about.
local function bad(message) error("bad argument #1 to 'exit' (" .. message .. ")", 4) end
local function exit_code(status)
    if status == nil or status == true then return 0 end
    if status == false then return 1 end
    local n = (type(status) == "number" or type(status) == "string") and tonumber(status)
    if not n then bad("number expected, got " .. typename(status)) end
    local i = math.tointeger(n) or bad("number has no integer representation")
    i = i & 0xFFFFFFFF
    return i >= 0x80000000 and i - 0x100000000 or i
end
local main = coroutine.running()
local EXIT = setmetatable({}, { __tostring = function() return "os.exit" end })
local code
local function unwind() error(EXIT, 0) end
local function stop_here()
    sethook(main, unwind, "", 1)
    local current = coroutine.running()
    if current ~= main then sethook(current, unwind, "", 1) end
    error(EXIT, 0)
end
os.exit = function(status)
    code = exit_code(status)
    stop_here()
end
local resume, wrap = coroutine.resume, coroutine.wrap
local function check(...) if code then stop_here() end return ... end
coroutine.resume = function(co, ...) return check(resume(co, ...)) end
coroutine.wrap = function(f)
    local g = wrap(f)
    return function(...) return check(g(...)) end
end
return function() local c = code; code = nil; return c end
"#;

/// The message handler: the error (or a description of a non-string one) followed by a
/// traceback, like lua.c's `msghandler`.
const MESSAGE_HANDLER: &str = r#"
local msg = ...
if type(msg) ~= "string" and type(msg) ~= "number" then
    local mt = getmetatable(msg)
    if mt and mt.__tostring then
        local ok, s = pcall(tostring, msg)
        if ok and type(s) == "string" then return s end
    end
    msg = "(error object is a " .. type(msg) .. " value)"
end
-- The last frame is the runner's own xpcall: not the script's business.
return (debug.traceback(msg, 2):gsub("\n\t%[C%]: in function 'xpcall'$", ""))
"#;

/// A Lua state as every run gets it.
pub fn new_state() -> mlua::Result<Lua> {
    libc_tables::build();
    // SAFETY: the `debug` library is loaded, then hardened before any script runs.
    let lua = unsafe { Lua::unsafe_new_with(StdLib::ALL, LuaOptions::default()) };
    // Through mlua's allocator first, which tells mlua that memory errors are to be
    // expected (so it protects the calls that allocate); then ours takes over.
    lua.set_memory_limit(memory_limit())?;
    budget::take_over(&lua, memory_limit());
    lua.load(HARDEN_DEBUG).set_name("=harden").exec()?;
    crate::lua::harden::install(&lua)?;
    crate::lua::install(&lua)?;
    lua.load(NO_C_MODULES).set_name("=cmodules").exec()?;
    warnings::install(&lua);
    Ok(lua)
}

/// `require`'s searchers for C modules (the third and fourth), replaced: the component
/// cannot load native code, and Lua's own searchers said only "dynamic libraries not
/// enabled; check your Lua installation" about a module that is there. These look along
/// `package.cpath` the same way and, where a C module is found, fail with the reason.
/// A Lua module of the same name still wins: its searcher comes first.
const NO_C_MODULES: &str = r#"
local package, error, find, sub = package, error, string.find, string.sub
local function refuse(name, file)
    error(("error loading module '%s' from file '%s':\n\t"):format(name, file)
        .. "C modules cannot load in the sandbox (luasocket-wasi runs Lua modules only)", 0)
end
local function c_module(name)
    local file, missing = package.searchpath(name, package.cpath)
    if not file then return missing end
    refuse(name, file)
end
-- The all-in-one loader: `a.b` inside the C library of `a`.
local function c_root(name)
    local dot = find(name, ".", 1, true)
    if not dot then return nil end
    local file, missing = package.searchpath(sub(name, 1, dot - 1), package.cpath)
    if not file then return missing end
    refuse(name, file)
end
package.searchers[3] = c_module
package.searchers[4] = c_root
"#;

/// `warn` as `lua` has it (lauxlib's warning function): off until `warn("@on")` (or the
/// CLI's `-W`), then `Lua warning: ` and the message on stderr, pieces joined. mlua's
/// state starts with no warning function, so `warn` did nothing at all.
mod warnings {
    use std::cell::Cell;
    use std::io::Write;

    use mlua::Lua;

    pub fn install(lua: &Lua) {
        let on = Cell::new(false);
        let continuing = Cell::new(false);
        lua.set_warning_function(move |_, message, more| {
            if !continuing.get() {
                // Control messages are whole messages starting with '@'.
                if !more && message.starts_with('@') {
                    match message {
                        "@on" => on.set(true),
                        "@off" => on.set(false),
                        _ => {}
                    }
                    return Ok(());
                }
                if !on.get() {
                    return Ok(());
                }
            }
            let mut line = String::new();
            if !continuing.get() {
                line.push_str("Lua warning: ");
            }
            line.push_str(message);
            if !more {
                line.push('\n');
            }
            continuing.set(more);
            let _ = std::io::stderr().write_all(line.as_bytes());
            Ok(())
        });
    }
}

/// Lua's allocator. mlua's aborts the instance when the underlying allocation fails, which
/// happens before Lua's budget is spent when the instance's memory is fragmented or taken
/// by socket buffers (a reallocation briefly needs old and new block). This one returns
/// NULL instead, so Lua raises its catchable "not enough memory". The budget is shared by
/// every Lua state of the instance, as they share its memory.
mod budget {
    use std::alloc::{Layout, alloc, dealloc, realloc};
    use std::cell::Cell;
    use std::ffi::c_void;
    use std::ptr::null_mut;

    use mlua::{Lua, ffi};

    /// The alignment mlua's allocator uses, so blocks it allocated can be freed here.
    const ALIGN: usize = ffi::SYS_MIN_ALIGN;

    thread_local! {
        static USED: Cell<usize> = const { Cell::new(0) };
        static LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
    }

    /// Switches `lua` to this allocator, counting what mlua's allocated so far.
    pub fn take_over(lua: &Lua, limit: usize) {
        LIMIT.with(|l| l.set(limit));
        USED.with(|u| u.set(u.get() + lua.used_memory()));
        // SAFETY: replaces the allocator of the state's global state; blocks allocated
        // before are compatible (same global allocator, same alignment).
        unsafe {
            let _ = lua.exec_raw::<()>((), |state| {
                ffi::lua_setallocf(state, allocate, null_mut());
            });
        }
    }

    fn fits(more: usize) -> bool {
        USED.with(|u| u.get().saturating_add(more) <= LIMIT.with(Cell::get))
    }

    fn adjust(freed: usize, taken: usize) {
        USED.with(|u| u.set(u.get().saturating_sub(freed).saturating_add(taken)));
    }

    /// `lua_Alloc`: Lua's contract (osize is a type tag when ptr is NULL).
    unsafe extern "C" fn allocate(
        _: *mut c_void,
        ptr: *mut c_void,
        osize: usize,
        nsize: usize,
    ) -> *mut c_void {
        // SAFETY: `ptr`, when not NULL, is a block of `osize` bytes from this allocator or
        // mlua's, both allocating with `Layout(size, ALIGN)`.
        unsafe {
            if nsize == 0 {
                if !ptr.is_null() {
                    dealloc(ptr.cast(), Layout::from_size_align_unchecked(osize, ALIGN));
                    adjust(osize, 0);
                }
                return null_mut();
            }
            if ptr.is_null() {
                let Ok(layout) = Layout::from_size_align(nsize, ALIGN) else {
                    return null_mut();
                };
                if !fits(nsize) {
                    return null_mut();
                }
                let block = alloc(layout);
                if !block.is_null() {
                    adjust(0, nsize);
                }
                return block.cast();
            }
            if nsize > osize && !fits(nsize - osize) {
                return null_mut();
            }
            if Layout::from_size_align(nsize, ALIGN).is_err() {
                return null_mut();
            }
            let block = realloc(
                ptr.cast(),
                Layout::from_size_align_unchecked(osize, ALIGN),
                nsize,
            );
            if !block.is_null() {
                adjust(osize, nsize);
            }
            block.cast()
        }
    }
}

fn memory_limit() -> usize {
    std::env::var(MEMORY_LIMIT_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MEMORY_LIMIT)
}

/// Runs `inv` in a fresh state.
pub fn run(inv: Invocation) -> Result<Completion, Failure> {
    let result = Session::new().and_then(|session| {
        session.set_arg_table(inv.arg_table)?;
        session.run_chunk(inv.chunk_name, &inv.source, inv.args)
    });
    finish();
    result
}

/// Ends a run: output flushed, and connections still draining to a peer that does not
/// read left to the host (dropping them would block).
pub fn finish() {
    flush_stdio();
    closing::abandon();
}

/// How a chunk ended, when it did not fail.
#[derive(Debug, PartialEq)]
pub enum Completion {
    /// Its return values, as `tostring` shows them.
    Returned(Vec<String>),
    /// It called `os.exit` with this status.
    Exited(i32),
}

/// A Lua state that runs one chunk after another, as `lua -e a -e b script` does, or
/// serves a plugin's calls.
pub struct Session {
    lua: Lua,
    /// Taken at creation, so a script that replaces the globals changes nothing here.
    xpcall: Function,
    tostring: Function,
    handler: Function,
    exit_code: Function,
}

impl Session {
    pub fn new() -> Result<Session, Failure> {
        let lua = new_state().map_err(failure)?;
        let exit_code = lua
            .load(EXIT_SUPPORT)
            .set_name("=exit")
            .call(())
            .map_err(failure)?;
        let handler = lua
            .load(MESSAGE_HANDLER)
            .set_name("=msghandler")
            .into_function()
            .map_err(failure)?;
        let xpcall = lua.globals().get("xpcall").map_err(failure)?;
        let tostring = lua.globals().get("tostring").map_err(failure)?;
        Ok(Session {
            lua,
            xpcall,
            tostring,
            handler,
            exit_code,
        })
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Sets the global `arg`; an empty table description sets nothing.
    pub fn set_arg_table(&self, entries: Vec<(i32, String)>) -> Result<(), Failure> {
        if entries.is_empty() {
            return Ok(());
        }
        let arg = self.lua.create_table().map_err(failure)?;
        for (i, v) in entries {
            arg.raw_set(i, v).map_err(failure)?;
        }
        self.lua.globals().set("arg", arg).map_err(failure)
    }

    /// Compiles and runs one chunk with `args` as `...`; results as `tostring` shows them.
    /// A script (named `@file` or `=stdin`) is read as `lua` reads one: see `skip_shebang`.
    pub fn run_chunk(
        &self,
        chunk_name: String,
        source: &[u8],
        args: Vec<String>,
    ) -> Result<Completion, Failure> {
        let source = if is_script(&chunk_name) {
            skip_shebang(source)
        } else {
            source
        };
        let result = self.compile(chunk_name, source).and_then(|chunk| {
            let args = args
                .into_iter()
                .map(|a| self.lua.create_string(a).map(Value::String))
                .collect::<mlua::Result<MultiValue>>();
            self.protected_call(chunk, args.map_err(failure)?)
        });
        let result =
            result.and_then(|values| values.into_iter().map(|v| self.to_text(v)).collect());
        match self.take_exit() {
            Some(code) => Ok(Completion::Exited(code)),
            None => result.map(Completion::Returned),
        }
    }

    /// One step of a command line in this state: `arg` set (unless `arg_table` is empty),
    /// then the chunk run with its arguments, as [`run`] does in a fresh state.
    pub fn exec(&self, inv: Invocation) -> Result<Completion, Failure> {
        self.set_arg_table(inv.arg_table)?;
        let completion = self.run_chunk(inv.chunk_name, &inv.source, inv.args);
        flush_stdio();
        completion
    }

    /// Runs a chunk and returns its values as they are (a plugin's `load`).
    pub fn load(&self, chunk_name: String, source: &[u8]) -> Result<MultiValue, Failure> {
        let result = self
            .compile(chunk_name, source)
            .and_then(|chunk| self.protected_call(chunk, MultiValue::new()));
        self.exit_as_failure(result)
    }

    /// Calls the global function `name` (a plugin's `call`).
    pub fn call(&self, name: &str, args: MultiValue) -> Result<MultiValue, Failure> {
        let function = match self.lua.globals().raw_get::<Value>(name).map_err(failure)? {
            Value::Function(f) => f,
            other => {
                return Err(Failure::Runtime(format!(
                    "no function '{name}' (the global is {})",
                    other.type_name()
                )));
            }
        };
        let result = self.protected_call(function, args);
        self.exit_as_failure(result)
    }

    fn compile(&self, chunk_name: String, source: &[u8]) -> Result<Function, Failure> {
        self.compile_raw(&chunk_name, source).map_err(failure)
    }

    /// Compiles, keeping mlua's error (which tells an incomplete statement apart).
    pub(crate) fn compile_raw(&self, chunk_name: &str, source: &[u8]) -> mlua::Result<Function> {
        // Text only: precompiled chunks can break the VM's memory safety.
        self.lua
            .load(source)
            .set_name(chunk_name)
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
    }

    /// Calls `f` under the message handler; errors come back with their traceback.
    pub(crate) fn protected_call(
        &self,
        f: Function,
        args: MultiValue,
    ) -> Result<MultiValue, Failure> {
        let mut call_args = MultiValue::with_capacity(args.len() + 2);
        call_args.push_back(Value::Function(f));
        call_args.push_back(Value::Function(self.handler.clone()));
        call_args.extend(args);
        let mut results: MultiValue = self.xpcall.call(call_args).map_err(failure)?;
        if !matches!(results.pop_front(), Some(Value::Boolean(true))) {
            return Err(error_value(results.pop_front()));
        }
        Ok(results)
    }

    fn to_text(&self, v: Value) -> Result<String, Failure> {
        let s: mlua::LuaString = self.tostring.call(v).map_err(failure)?;
        Ok(String::from_utf8_lossy(&s.as_bytes()).into_owned())
    }

    /// The status of an `os.exit` during the last call, which is then forgotten.
    fn take_exit(&self) -> Option<i32> {
        // An exit leaves its unwinding hook on the main thread.
        self.lua.remove_hook();
        self.exit_code.call::<Option<i32>>(()).ok().flatten()
    }

    pub(crate) fn exit_as_failure<T>(&self, result: Result<T, Failure>) -> Result<T, Failure> {
        match self.take_exit() {
            Some(code) => Err(Failure::Exited(code)),
            None => result,
        }
    }
}

/// The value an xpcall returned with `false`. Lua does not call the message handler for
/// memory errors, so a bare "not enough memory" is exactly the out-of-memory case.
fn error_value(value: Option<Value>) -> Failure {
    let message = match &value {
        Some(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Some(other) => format!("(error object is a {} value)", other.type_name()),
        None => "(error object is a nil value)".to_owned(),
    };
    if message == OUT_OF_MEMORY {
        Failure::OutOfMemory(message)
    } else {
        Failure::Runtime(message)
    }
}

pub(crate) fn failure(e: mlua::Error) -> Failure {
    match e {
        mlua::Error::SyntaxError { message, .. } => Failure::Syntax(message),
        mlua::Error::MemoryError(message) => Failure::OutOfMemory(message),
        other => Failure::Runtime(other.to_string()),
    }
}

unsafe extern "C" {
    fn fflush(stream: *mut c_void) -> i32;
}

/// wasi-libc builds two tables with malloc on their first use, and never retries: the
/// descriptor table holding stdin, stdout and stderr (its "initialized" flag is set before
/// the allocation is tried), and the list of preopened directories (whose failure is
/// `_Exit(EX_SOFTWARE)`). If that first use comes right after a script caught "not enough
/// memory" with the instance's memory still full of garbage, every later write to stdout
/// or stderr fails, and the first file open ends the instance with status 1. Building both
/// before any script runs keeps a caught memory error something the script can carry on
/// from. Idempotent and cheap after the first time.
mod libc_tables {
    #[cfg(target_os = "wasi")]
    pub fn build() {
        unsafe extern "C" {
            fn fcntl(fd: i32, cmd: i32, ...) -> i32;
            fn __wasilibc_populate_preopens();
        }
        /// wasi-libc's `F_GETFD`: answered from the descriptor table alone.
        const F_GETFD: i32 = 1;
        // SAFETY: both only touch wasi-libc's own tables; fd 1 is stdout.
        unsafe {
            fcntl(1, F_GETFD);
            __wasilibc_populate_preopens();
        }
    }

    /// Native builds (unit tests, fuzzing) use the system's libc, which has no such tables.
    #[cfg(not(target_os = "wasi"))]
    pub fn build() {}
}

/// Lua writes through C stdio, which buffers; a reactor has no exit to flush it.
pub fn flush_stdio() {
    // SAFETY: fflush(NULL) flushes every open output stream.
    unsafe { fflush(std::ptr::null_mut()) };
}

/// Whether a chunk is a script file or stdin (Lua's chunk names `@path`, `=stdin`), whose
/// source is read as a file rather than taken as given (`-e` chunks, plugin sources).
fn is_script(chunk_name: &str) -> bool {
    chunk_name.starts_with('@') || chunk_name == "=stdin"
}

/// A script file's source as `lua` reads it (luaL_loadfilex): a UTF-8 byte-order mark
/// dropped, and a first line starting with `#` (`#!/usr/bin/env lua`) emptied, its
/// newline kept so that line numbers in messages stay right. Only for files and stdin:
/// `-e` chunks are taken as they are, as `lua` takes them.
fn skip_shebang(source: &[u8]) -> &[u8] {
    let source = source.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(source);
    if !source.starts_with(b"#") {
        return source;
    }
    match source.iter().position(|&b| b == b'\n') {
        Some(end) => &source[end..],
        None => &[],
    }
}

/// The `arg` table `lua` builds: every argv entry, indexed relative to the script's
/// position (negative for the interpreter and its options, 0 for the script).
pub fn arg_table(argv: &[String], script: usize) -> Vec<(i32, String)> {
    argv.iter()
        .enumerate()
        .map(|(i, a)| (i as i32 - script as i32, a.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_line_starting_with_hash_is_skipped_and_its_line_kept() {
        assert_eq!(
            skip_shebang(b"#!/usr/bin/env lua\nprint(1)\n"),
            b"\nprint(1)\n"
        );
        assert_eq!(skip_shebang(b"#"), b"");
        assert_eq!(skip_shebang(b"# only"), b"");
        assert_eq!(skip_shebang(b"\xEF\xBB\xBFprint(1)"), b"print(1)");
        assert_eq!(skip_shebang(b"\xEF\xBB\xBF#!lua\nx"), b"\nx");
        assert_eq!(skip_shebang(b"x = 1 # 2\n"), b"x = 1 # 2\n");
        assert_eq!(
            skip_shebang(b"print(1) # not first\n"),
            b"print(1) # not first\n"
        );
    }

    #[test]
    fn scripts_are_files_and_stdin_not_command_line_chunks() {
        assert!(is_script("@s.lua") && is_script("=stdin"));
        assert!(!is_script("=(command line)") && !is_script("plugin"));
    }
}
