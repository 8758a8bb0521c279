//! Interactive input, taken as the `lua` interpreter's read-eval-print loop takes it
//! (lua.c's `loadline`, `docall` and `l_print`): a line is first tried as an expression,
//! then as statements; a statement cut off at the end of the input asks for more; values
//! are printed with the global `print`; and an interrupt stops the running input with
//! `"interrupted!"` while the state lives on.
//!
//! A Lua state needs the WASI imports, so this is tested through the component
//! (`tests/repl.rs`), not natively.

use std::cell::{Cell, RefCell};

use mlua::{Function, MultiValue, ffi};

use crate::runner::{self, Failure, Session};

/// What became of a piece of input.
#[derive(Debug, PartialEq)]
pub enum Evaluation {
    /// It ran (and printed its values, if any).
    Done,
    /// It stops in the middle of a statement: more lines are needed.
    Incomplete,
}

/// lua.c's name for what is typed at its prompt.
const CHUNK_NAME: &str = "=stdin";

/// `l_print`: the values, if any, through whatever `print` is at the time (a script may
/// replace it); a failing `print` is reported as lua.c reports it, without a traceback.
const PRINT_RESULTS: &str = r##"
local pcall, select, tostring = pcall, select, tostring
return function(...)
    if select("#", ...) == 0 then return nil end
    local ok, err = pcall(print, ...)
    if not ok then return ("error calling 'print' (%s)"):format(tostring(err)) end
    return nil
end
"##;

impl Session {
    /// Evaluates `source`, the lines typed so far, joined with newlines. `interrupted` is
    /// asked every [`interrupt::CHECK_EVERY`] Lua instructions while it runs.
    pub fn eval(
        &self,
        source: &[u8],
        interrupted: impl Fn() -> bool + 'static,
    ) -> Result<Evaluation, Failure> {
        let Some(chunk) = self.compile_input(source)? else {
            return Ok(Evaluation::Incomplete);
        };
        let result = interrupt::during(self.lua(), Box::new(interrupted), || {
            self.protected_call(chunk, MultiValue::new())
        })
        .and_then(|values| self.print_results(values));
        runner::flush_stdio();
        self.exit_as_failure(result).map(|()| Evaluation::Done)
    }

    /// The chunk to run, or `None` when the input is an unfinished statement.
    fn compile_input(&self, source: &[u8]) -> Result<Option<Function>, Failure> {
        // lua.c tries `return` only on the first line of a statement (addreturn), and
        // with a `;` after it, so that a trailing comment cannot swallow the end.
        if !source.contains(&b'\n') {
            let expression = [b"return ".as_slice(), source, b";"].concat();
            if let Ok(chunk) = self.compile_raw(CHUNK_NAME, &expression) {
                return Ok(Some(chunk));
            }
        }
        match self.compile_raw(CHUNK_NAME, source) {
            Ok(chunk) => Ok(Some(chunk)),
            Err(mlua::Error::SyntaxError {
                incomplete_input: true,
                ..
            }) => Ok(None),
            Err(e) => Err(runner::failure(e)),
        }
    }

    fn print_results(&self, values: MultiValue) -> Result<(), Failure> {
        if values.is_empty() {
            return Ok(());
        }
        let print: Function = self
            .lua()
            .load(PRINT_RESULTS)
            .set_name("=print")
            .call(())
            .map_err(runner::failure)?;
        match print.call::<Option<String>>(values) {
            Ok(None) => Ok(()),
            Ok(Some(message)) => Err(Failure::Runtime(message)),
            Err(e) => Err(runner::failure(e)),
        }
    }
}

/// The interrupt: a count hook on the main thread that asks the host's check, and stops
/// the running code as lua.c's SIGINT handler (`lstop`) does, with `luaL_error` from the
/// hook. Only the main thread is watched, as in lua.c: a loop inside a coroutine runs on.
pub mod interrupt {
    use super::*;

    /// Lua instructions between two checks: a few microseconds of Lua, so the check (a
    /// host call) costs little and an interrupt is felt at once.
    pub const CHECK_EVERY: i32 = 10_000;

    type Check = Box<dyn Fn() -> bool>;

    thread_local! {
        static CHECK: RefCell<Option<Check>> = const { RefCell::new(None) };
        /// The main thread's state while the hook is ours on it.
        static WATCHED: Cell<*mut ffi::lua_State> = const { Cell::new(std::ptr::null_mut()) };
    }

    /// The interrupt has been seen outside Lua (a wait ended by it): the hook now fires on
    /// the very next instruction, as lua.c's does after SIGINT, instead of after up to
    /// [`CHECK_EVERY`] of them.
    pub fn hurry() {
        let state = WATCHED.with(Cell::get);
        if !state.is_null() {
            // SAFETY: the state is alive while `during` runs, and lua_sethook may be called
            // at any time (lua.c calls it from a signal handler).
            unsafe {
                ffi::lua_sethook(
                    state,
                    Some(stop_if_interrupted),
                    ffi::LUA_MASKCALL | ffi::LUA_MASKRET | ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT,
                    1,
                );
            }
        }
    }

    /// Runs `f` with `check` watched. A hook the script set itself (`debug.sethook`) is
    /// left in place: the input then cannot be interrupted this way.
    pub fn during<T>(lua: &mlua::Lua, check: Check, f: impl FnOnce() -> T) -> T {
        CHECK.with(|c| *c.borrow_mut() = Some(check));
        let installed = set(lua, true);
        let out = f();
        if installed {
            set(lua, false);
        }
        CHECK.with(|c| *c.borrow_mut() = None);
        out
    }

    /// Installs (or removes) the hook on the main thread, unless another hook is there;
    /// says whether it did.
    fn set(lua: &mlua::Lua, on: bool) -> bool {
        // SAFETY: the hook functions only read and set the state's hook.
        let done = unsafe {
            lua.exec_raw::<bool>((), |state| {
                let hook = ffi::lua_gethook(state);
                let ours = hook
                    .is_some_and(|h| std::ptr::fn_addr_eq(h, stop_if_interrupted as ffi::lua_Hook));
                let free = hook.is_none();
                let done = if on { free } else { ours };
                WATCHED.with(|w| {
                    w.set(if done && on {
                        state
                    } else {
                        std::ptr::null_mut()
                    })
                });
                if done && on {
                    ffi::lua_sethook(
                        state,
                        Some(stop_if_interrupted),
                        ffi::LUA_MASKCOUNT,
                        CHECK_EVERY,
                    );
                } else if done {
                    ffi::lua_sethook(state, None, 0, 0);
                }
                ffi::lua_pushboolean(state, done as i32);
            })
        };
        done.unwrap_or(false)
    }

    fn interrupted() -> bool {
        CHECK.with(|c| c.borrow().as_ref().is_some_and(|check| check()))
    }

    /// `lstop`: the hook removed, then the error raised where the code was running.
    unsafe extern "C-unwind" fn stop_if_interrupted(
        state: *mut ffi::lua_State,
        _: *mut ffi::lua_Debug,
    ) {
        if !interrupted() {
            return;
        }
        // SAFETY: a hook may raise errors; nothing of Rust's is alive in this frame.
        unsafe {
            ffi::lua_sethook(state, None, 0, 0);
            ffi::luaL_error(state, c"interrupted!".as_ptr());
        }
    }
}

/// Lua's `io.stdin` read so that an interrupt can end a read that waits, as SIGINT ends
/// lua.c's `read(2)` with `EINTR`: the read fails with "Interrupted system call", and the
/// input stops with `"interrupted!"` as it returns (the interrupt's [`interrupt::hurry`]).
///
/// wasi-libc's own stdin makes a `blocking-read`, a host call the component cannot leave
/// until input comes. Here `io.stdin` (the `luaL_Stream` that `io.read` and `io.lines`
/// use) is given a FILE of its own (`fopencookie`) over the same `wasi:cli/stdin` stream:
/// with no interrupt watched it reads just as wasi-libc does, one `blocking-read` per
/// buffer; while interactive input runs, it reads only what is there and otherwise waits
/// in the socket core's wait, which ends when the interrupt comes. A read given up takes
/// nothing from the stream, when the host's stream does not read ahead (the CLI's
/// interactive stdin does not: `Sandbox::stdin_shared`).
pub mod stdin {
    /// Gives the state's `io.stdin` the interruptible FILE. Nothing happens when there is
    /// no `io.stdin` to change, or outside WASI (unit tests, fuzzing).
    pub fn install(lua: &mlua::Lua) {
        #[cfg(target_os = "wasi")]
        wasi::install(lua);
        #[cfg(not(target_os = "wasi"))]
        let _ = lua;
    }

    #[cfg(target_os = "wasi")]
    mod wasi {
        use std::cell::OnceCell;
        use std::ffi::{c_char, c_int, c_void};

        use mlua::ffi;
        use wasip2::cli::stdin::get_stdin;
        use wasip2::io::streams::{InputStream, StreamError};

        /// wasi-libc's errno values.
        const EINTR: c_int = 27;
        const EIO: c_int = 29;

        /// `luaL_Stream` (lauxlib.h): what a Lua file handle holds.
        #[repr(C)]
        struct LuaStream {
            f: *mut c_void,
            closef: *mut c_void,
        }

        /// `cookie_io_functions_t` (musl's stdio.h).
        #[repr(C)]
        struct CookieFunctions {
            read: Option<unsafe extern "C" fn(*mut c_void, *mut c_char, usize) -> isize>,
            write: Option<unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> isize>,
            seek: Option<unsafe extern "C" fn(*mut c_void, *mut i64, c_int) -> c_int>,
            close: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
        }

        unsafe extern "C" {
            fn fopencookie(
                cookie: *mut c_void,
                mode: *const c_char,
                functions: CookieFunctions,
            ) -> *mut c_void;
            fn __errno_location() -> *mut c_int;
        }

        thread_local! {
            /// One stream for every state's FILE: there is one stdin.
            static STREAM: OnceCell<InputStream> = const { OnceCell::new() };
        }

        pub fn install(lua: &mlua::Lua) {
            // SAFETY: only the registry's loaded `io` table is read, and the `f` of a
            // userdata checked to be a Lua file handle written; the stack is left as found.
            let _ = unsafe {
                lua.exec_raw::<()>((), |state| {
                    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, ffi::LUA_LOADED_TABLE);
                    if ffi::lua_getfield(state, -1, c"io".as_ptr()) == ffi::LUA_TTABLE {
                        ffi::lua_getfield(state, -1, c"stdin".as_ptr());
                        let handle =
                            ffi::luaL_testudata(state, -1, c"FILE*".as_ptr()).cast::<LuaStream>();
                        if !handle.is_null() && !(*handle).f.is_null() {
                            let functions = CookieFunctions {
                                read: Some(read),
                                write: None,
                                seek: None,
                                close: None,
                            };
                            let file = fopencookie(std::ptr::null_mut(), c"r".as_ptr(), functions);
                            if !file.is_null() {
                                (*handle).f = file;
                            }
                        }
                    }
                    ffi::lua_settop(state, 0);
                })
            };
        }

        /// The cookie's read: up to `size` bytes into `buf`; 0 at the end of input, -1
        /// with errno set on an error (`EINTR` when the interrupt ended the wait).
        unsafe extern "C" fn read(_: *mut c_void, buf: *mut c_char, size: usize) -> isize {
            let result = STREAM.with(|s| {
                let stream = s.get_or_init(get_stdin);
                let size = size as u64;
                loop {
                    let interruptible = crate::watch::is_watched();
                    let got = if interruptible {
                        stream.read(size)
                    } else {
                        stream.blocking_read(size)
                    };
                    match got {
                        Ok(bytes) if !bytes.is_empty() => return Ok(bytes),
                        // Nothing there yet: wait for it, or for the interrupt.
                        Ok(_) => {
                            if !crate::net::poll::block_unless_interrupted(&stream.subscribe()) {
                                return Err(EINTR);
                            }
                        }
                        Err(StreamError::Closed) => return Ok(Vec::new()),
                        Err(StreamError::LastOperationFailed(_)) => return Err(EIO),
                    }
                }
            });
            match result {
                Ok(bytes) => {
                    // SAFETY: the FILE asked for at most `size` bytes at `buf`, and the
                    // stream returns no more than asked for.
                    unsafe {
                        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast(), bytes.len())
                    };
                    bytes.len() as isize
                }
                Err(errno) => {
                    // SAFETY: wasi-libc's errno, of this (the only) thread.
                    unsafe { *__errno_location() = errno };
                    -1
                }
            }
        }
    }
}
