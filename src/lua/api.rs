//! The small, careful layer between Lua's C API and the bindings.
//!
//! LuaSocket raises argument errors as plain strings built by `luaL_argerror`
//! ("bad argument #1 to 'receive' (invalid receive pattern)"), and scripts match on them.
//! mlua's safe callbacks can only raise userdata errors, so the socket bindings are Lua C
//! functions, written in Rust over `mlua::ffi`.
//!
//! The one rule that keeps this sound: a Lua error is a longjmp, which skips Rust
//! destructors. Binding functions are therefore plain `fn(&Args) -> LuaResult<c_int>`
//! that never raise; [`call`] raises their error only after their frame has returned and
//! dropped everything it owned. Values built for Lua are pushed from memory the Lua side
//! or a socket owns, so an out-of-memory longjmp during a push leaks nothing.

use std::borrow::Cow;
use std::ffi::{CStr, c_char, c_int, c_void};

pub use mlua::ffi;
use mlua::ffi::lua_State;

unsafe extern "C-unwind" {
    // Part of lauxlib's API in 5.4, not bound by mlua-sys.
    fn luaL_typeerror(state: *mut lua_State, arg: c_int, tname: *const c_char) -> c_int;
}

/// An error to raise in Lua once the binding function has returned.
#[derive(Debug)]
pub enum Raise {
    /// `luaL_argerror`: "bad argument #n to 'f' (message)".
    Arg(c_int, Cow<'static, str>),
    /// `luaL_typeerror`: "bad argument #n to 'f' (T expected, got U)".
    Type(c_int, &'static CStr),
    /// A plain message.
    Message(String),
}

pub type LuaResult<T> = Result<T, Raise>;

/// Makes a `lua_CFunction` out of `fn(&Args) -> LuaResult<c_int>`.
macro_rules! cfunction {
    ($f:path) => {{
        unsafe extern "C-unwind" fn trampoline(
            state: *mut $crate::lua::api::ffi::lua_State,
        ) -> ::std::ffi::c_int {
            // SAFETY: Lua calls this with a valid state, as a C function.
            unsafe { $crate::lua::api::call(state, $f) }
        }
        trampoline as $crate::lua::api::ffi::lua_CFunction
    }};
}
pub(crate) use cfunction;

/// Runs a binding function and turns its error into a Lua error.
///
/// # Safety
/// `state` is the state of a running Lua C function.
pub unsafe fn call(state: *mut lua_State, f: fn(&Args) -> LuaResult<c_int>) -> c_int {
    let result = f(&Args { state });
    match result {
        Ok(n) => n,
        // SAFETY: nothing of `f` is alive any more.
        Err(raise) => unsafe { raise_error(state, raise) },
    }
}

unsafe fn raise_error(state: *mut lua_State, raise: Raise) -> ! {
    unsafe {
        match raise {
            Raise::Arg(arg, message) => {
                push_bytes(state, message.as_bytes());
                drop(message);
                let extra = ffi::lua_tolstring(state, -1, std::ptr::null_mut());
                ffi::luaL_argerror(state, arg, extra);
            }
            Raise::Type(arg, expected) => {
                luaL_typeerror(state, arg, expected.as_ptr());
            }
            Raise::Message(message) => {
                push_bytes(state, message.as_bytes());
                drop(message);
            }
        }
        ffi::lua_error(state)
    }
}

unsafe fn push_bytes(state: *mut lua_State, bytes: &[u8]) {
    unsafe { ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len()) };
}

/// The stack of a running C function: arguments in, results out.
pub struct Args {
    state: *mut lua_State,
}

impl Args {
    pub fn state(&self) -> *mut lua_State {
        self.state
    }

    pub fn top(&self) -> c_int {
        unsafe { ffi::lua_gettop(self.state) }
    }

    fn type_of(&self, arg: c_int) -> c_int {
        unsafe { ffi::lua_type(self.state, arg) }
    }

    pub fn is_none_or_nil(&self, arg: c_int) -> bool {
        self.type_of(arg) <= ffi::LUA_TNIL
    }

    /// A string argument, or a number converted to one (as `luaL_checklstring`).
    pub fn bytes(&self, arg: c_int) -> LuaResult<&[u8]> {
        match self.type_of(arg) {
            ffi::LUA_TSTRING | ffi::LUA_TNUMBER => {
                let mut len = 0;
                // SAFETY: the string stays on the stack, unmodified, for the whole call.
                unsafe {
                    let p = ffi::lua_tolstring(self.state, arg, &mut len);
                    Ok(std::slice::from_raw_parts(p.cast(), len))
                }
            }
            _ => Err(Raise::Type(arg, c"string")),
        }
    }

    pub fn opt_bytes(&self, arg: c_int) -> LuaResult<Option<&[u8]>> {
        if self.is_none_or_nil(arg) {
            Ok(None)
        } else {
            self.bytes(arg).map(Some)
        }
    }

    /// A string argument as text; bytes that are not UTF-8 make it unusable as a name.
    pub fn str(&self, arg: c_int) -> LuaResult<Cow<'_, str>> {
        Ok(String::from_utf8_lossy(self.bytes(arg)?))
    }

    pub fn opt_str(&self, arg: c_int) -> LuaResult<Option<Cow<'_, str>>> {
        Ok(self.opt_bytes(arg)?.map(String::from_utf8_lossy))
    }

    /// A number, or a string convertible to one (as `luaL_checknumber`).
    pub fn number(&self, arg: c_int) -> LuaResult<f64> {
        self.to_number(arg).ok_or(Raise::Type(arg, c"number"))
    }

    pub fn opt_number(&self, arg: c_int) -> LuaResult<Option<f64>> {
        if self.is_none_or_nil(arg) {
            Ok(None)
        } else {
            self.number(arg).map(Some)
        }
    }

    /// The number at `arg` if it is one (or a numeric string), without raising.
    pub fn to_number(&self, arg: c_int) -> Option<f64> {
        let mut ok = 0;
        let n = unsafe { ffi::lua_tonumberx(self.state, arg, &mut ok) };
        (ok != 0).then_some(n)
    }

    /// An integer (as `luaL_checkinteger`).
    pub fn integer(&self, arg: c_int) -> LuaResult<i64> {
        let mut ok = 0;
        let n = unsafe { ffi::lua_tointegerx(self.state, arg, &mut ok) };
        if ok != 0 {
            Ok(n)
        } else if self.to_number(arg).is_some() {
            Err(Raise::Arg(
                arg,
                "number has no integer representation".into(),
            ))
        } else {
            Err(Raise::Type(arg, c"number"))
        }
    }

    pub fn is_boolean(&self, arg: c_int) -> bool {
        self.type_of(arg) == ffi::LUA_TBOOLEAN
    }

    pub fn is_table(&self, arg: c_int) -> bool {
        self.type_of(arg) == ffi::LUA_TTABLE
    }

    /// Pushes `t[key]` for the table at `arg`, without metamethods (so it cannot raise).
    pub fn push_raw_field(&self, arg: c_int, key: &CStr) {
        let arg = self.absolute(arg);
        unsafe {
            ffi::lua_pushstring(self.state, key.as_ptr());
            ffi::lua_rawget(self.state, arg);
        }
    }

    /// Pushes `t[i]` for the table at `arg`, without metamethods.
    pub fn push_raw_index(&self, arg: c_int, i: i64) -> c_int {
        unsafe { ffi::lua_rawgeti(self.state, arg, i) }
    }

    /// Sets `t[key] = top` for the table at `arg`, popping the value.
    pub fn set_field(&self, arg: c_int, key: &CStr) {
        let arg = self.absolute(arg);
        unsafe { ffi::lua_setfield(self.state, arg, key.as_ptr()) }
    }

    /// `t[i] = top`, popping the value.
    pub fn set_index(&self, arg: c_int, i: i64) {
        let arg = self.absolute(arg);
        unsafe { ffi::lua_rawseti(self.state, arg, i) }
    }

    /// `t[k] = v` with k and v the two top values, popping both.
    pub fn set_raw(&self, arg: c_int) {
        let arg = self.absolute(arg);
        unsafe { ffi::lua_rawset(self.state, arg) }
    }

    pub fn new_table(&self, narr: c_int, nrec: c_int) {
        unsafe { ffi::lua_createtable(self.state, narr, nrec) }
    }

    pub fn pop(&self, n: c_int) {
        unsafe { ffi::lua_pop(self.state, n) }
    }

    /// Makes sure `n` more slots fit on the stack.
    pub fn check_stack(&self, n: c_int) -> bool {
        unsafe { ffi::lua_checkstack(self.state, n) != 0 }
    }

    /// An index that stays valid while the stack grows.
    pub fn absolute(&self, arg: c_int) -> c_int {
        if arg < 0 && arg > ffi::LUA_REGISTRYINDEX {
            self.top() + arg + 1
        } else {
            arg
        }
    }

    pub fn boolean(&self, arg: c_int) -> bool {
        unsafe { ffi::lua_toboolean(self.state, arg) != 0 }
    }

    pub fn push_nil(&self) {
        unsafe { ffi::lua_pushnil(self.state) }
    }

    pub fn push_number(&self, n: f64) {
        unsafe { ffi::lua_pushnumber(self.state, n) }
    }

    pub fn push_integer(&self, n: i64) {
        unsafe { ffi::lua_pushinteger(self.state, n) }
    }

    pub fn push_bool(&self, b: bool) {
        unsafe { ffi::lua_pushboolean(self.state, c_int::from(b)) }
    }

    /// Pushes a copy of `bytes`. `bytes` must not be owned by the calling frame alone
    /// (see the module comment), or be small enough not to matter.
    pub fn push_bytes(&self, bytes: &[u8]) {
        unsafe { push_bytes(self.state, bytes) }
    }

    pub fn push_str(&self, s: &str) {
        self.push_bytes(s.as_bytes());
    }

    pub fn push_value(&self, arg: c_int) {
        unsafe { ffi::lua_pushvalue(self.state, arg) }
    }

    /// `nil, message`: LuaSocket's failure return.
    pub fn fail(&self, message: &str) -> c_int {
        self.push_nil();
        self.push_str(message);
        2
    }

    /// The userdata at `arg` if its metatable is one of `classes`.
    pub fn test_object<T: 'static>(&self, arg: c_int, classes: &[&CStr]) -> Option<*mut T> {
        classes.iter().find_map(|class| {
            let p = unsafe { ffi::luaL_testudata(self.state, arg, class.as_ptr()) };
            (!p.is_null()).then_some(p.cast::<T>())
        })
    }

    /// The userdata at `arg`, which must be one of `classes`; otherwise LuaSocket's
    /// "<expected> expected" argument error.
    ///
    /// Every metatable in `classes` must hold a `T`.
    #[allow(clippy::mut_from_ref)]
    pub fn object<T: 'static>(
        &self,
        arg: c_int,
        classes: &[&CStr],
        expected: &'static str,
    ) -> LuaResult<&mut T> {
        match self.test_object::<T>(arg, classes) {
            // SAFETY: the metatable says it is a live T; Lua keeps it alive while it is an
            // argument, and bindings take only one `&mut` to it at a time.
            Some(p) => Ok(unsafe { &mut *p }),
            None => Err(Raise::Arg(arg, format!("{expected} expected").into())),
        }
    }

    /// Pushes `value` as a new userdata with the metatable registered as `class`.
    pub fn push_object<T: 'static>(&self, value: T, class: &CStr) {
        const {
            assert!(
                std::mem::align_of::<T>() <= 8,
                "Lua aligns userdata to 8 bytes"
            )
        };
        unsafe {
            let p = ffi::lua_newuserdatauv(self.state, std::mem::size_of::<T>(), 0).cast::<T>();
            p.write(value);
            ffi::luaL_setmetatable(self.state, class.as_ptr());
        }
    }

    /// Gives the userdata at `arg` the metatable registered as `class`; both classes must
    /// hold the same Rust type.
    pub fn set_class(&self, arg: c_int, class: &CStr) {
        unsafe {
            ffi::luaL_getmetatable(self.state, class.as_ptr());
            ffi::lua_setmetatable(self.state, arg);
        }
    }
}

/// A function to register under a name.
pub type Entry = (&'static CStr, ffi::lua_CFunction);

/// Sets each entry as a field of the table on top of the stack.
///
/// # Safety
/// `state` is valid and has a table on top.
pub unsafe fn set_functions(state: *mut lua_State, entries: &[Entry]) {
    for (name, f) in entries {
        unsafe {
            ffi::lua_pushcfunction(state, *f);
            ffi::lua_setfield(state, -2, name.as_ptr());
        }
    }
}

/// Registers a class: a metatable named `class` whose `__index` is a table of `methods`
/// plus a `class` field holding the name, with `meta` as metamethods. Leaves the stack
/// as it found it.
///
/// # Safety
/// `state` is valid.
pub unsafe fn register_class(
    state: *mut lua_State,
    class: &CStr,
    methods: &[Entry],
    meta: &[Entry],
) {
    unsafe {
        ffi::luaL_newmetatable(state, class.as_ptr());
        set_functions(state, meta);
        ffi::lua_createtable(state, 0, methods.len() as c_int + 1);
        set_functions(state, methods);
        ffi::lua_pushstring(state, class.as_ptr());
        ffi::lua_setfield(state, -2, c"class".as_ptr());
        ffi::lua_setfield(state, -2, c"__index".as_ptr());
        ffi::lua_pop(state, 1);
    }
}

/// `__gc` for a class holding `T`: drops the value, leaving a `T::default()` behind in
/// case a finalizer resurrects the object.
pub fn collect<T: Default + 'static>(args: &Args) -> LuaResult<c_int> {
    let p = unsafe { ffi::lua_touserdata(args.state, 1) }.cast::<T>();
    if !p.is_null() {
        // SAFETY: `__gc` is only installed in metatables of userdata holding a T.
        drop(unsafe { std::ptr::replace(p, T::default()) });
    }
    Ok(0)
}

/// The address of a userdata, as `%p` shows it in `tostring`.
pub fn address(args: &Args, arg: c_int) -> *const c_void {
    unsafe { ffi::lua_touserdata(args.state, arg) }
}
