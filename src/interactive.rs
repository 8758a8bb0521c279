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
