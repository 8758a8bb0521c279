//! The layer between Lua's C API and the bindings.
//!
//! LuaSocket raises argument errors as plain strings built by `luaL_argerror`
//! ("bad argument #1 to 'receive' (invalid receive pattern)"), and scripts match on them.
//! mlua's safe callbacks can only raise userdata errors, so the socket bindings are Lua C
//! functions, written in Rust over `mlua::ffi`.
//!
//! Three rules keep this sound.
//!
//! - A Lua error is a longjmp, which skips Rust destructors. Binding functions are
//!   therefore plain `fn(&Args) -> LuaResult<c_int>` that never raise; [`call`] raises
//!   their error only after their frame has returned and dropped everything it owned.
//!   Values built for Lua are pushed from memory the Lua side or a socket owns, so an
//!   out-of-memory longjmp during a push leaks nothing.
//! - A userdata is read as a `T` only when its metatable is one registered for `T`:
//!   [`UserClass`] ties class names to Rust types, and every object access goes through it
//!   (`__gc`, `__tostring` and `__close` included, since scripts can call those with
//!   anything).
//! - A binding takes an object once, and is done with it before it does anything that
//!   can run Lua: pushing a string or a table, or creating a userdata, can run a
//!   finalizer, and a finalizer is a script's code, which may call a method (or `__gc`)
//!   of the same object. So no reference into a userdata is alive while Lua runs.

use std::borrow::Cow;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::ptr::NonNull;

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

/// # Safety
/// As [`call`], with nothing of the binding function alive.
unsafe fn raise_error(state: *mut lua_State, raise: Raise) -> ! {
    // SAFETY: as the caller promises; the message is copied into Lua before it is dropped
    // and the longjmp skips this frame.
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

/// # Safety
/// `state` is a running C function's, with a free stack slot.
unsafe fn push_bytes(state: *mut lua_State, bytes: &[u8]) {
    // SAFETY: as the caller promises; Lua copies the bytes.
    unsafe { ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len()) };
}

/// The stack of a running C function: arguments in, results out.
///
/// Only [`call`] makes one, for the state of the C function it runs, so every method may
/// use the state. Indices need not hold anything (Lua answers "none" for an empty slot).
/// A push needs a free slot: a C function starts with `LUA_MINSTACK` (20), and bindings
/// that keep more on the stack call [`Args::check_stack`] first.
pub struct Args {
    state: *mut lua_State,
}

impl Args {
    pub fn state(&self) -> *mut lua_State {
        self.state
    }

    pub fn top(&self) -> c_int {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_gettop(self.state) }
    }

    fn type_of(&self, arg: c_int) -> c_int {
        // SAFETY: see `Args`.
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
        // SAFETY: see `Args`; a conversion, the stack is left as it is.
        let n = unsafe { ffi::lua_tonumberx(self.state, arg, &mut ok) };
        (ok != 0).then_some(n)
    }

    /// The value at `arg` if it is a Lua integer already (not a float, not a string), for
    /// callers that would otherwise format it as text only to parse it back.
    pub fn as_integer(&self, arg: c_int) -> Option<i64> {
        // SAFETY: see `Args`; a check and a read, the stack is left as it is.
        unsafe {
            (ffi::lua_isinteger(self.state, arg) != 0).then(|| ffi::lua_tointeger(self.state, arg))
        }
    }

    /// An integer (as `luaL_checkinteger`).
    pub fn integer(&self, arg: c_int) -> LuaResult<i64> {
        let mut ok = 0;
        // SAFETY: as in `to_number`.
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

    /// A string proper (not a number), which [`Args::bytes`] reads without converting.
    pub fn is_string(&self, arg: c_int) -> bool {
        self.type_of(arg) == ffi::LUA_TSTRING
    }

    /// `lua_next` on the table at `arg`: after the key on top (nil to begin), pushes the
    /// next key and its value; at the end pops the key and answers false. The caller
    /// pops the value and leaves the key as it was.
    pub fn next(&self, arg: c_int) -> bool {
        let arg = self.absolute(arg);
        // SAFETY: see `Args`; the key on top is nil or one this traversal gave, unmodified,
        // so lua_next cannot raise.
        unsafe { ffi::lua_next(self.state, arg) != 0 }
    }

    /// Pushes `t[key]` for the table at `arg`, without metamethods (so it cannot raise).
    pub fn push_raw_field(&self, arg: c_int, key: &CStr) {
        let arg = self.absolute(arg);
        // SAFETY: see `Args`; raw access runs no metamethod.
        unsafe {
            ffi::lua_pushstring(self.state, key.as_ptr());
            ffi::lua_rawget(self.state, arg);
        }
    }

    /// Pushes `t[i]` for the table at `arg`, without metamethods.
    pub fn push_raw_index(&self, arg: c_int, i: i64) -> c_int {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_rawgeti(self.state, arg, i) }
    }

    /// Sets `t[key] = top` for the table at `arg`, popping the value.
    pub fn set_field(&self, arg: c_int, key: &CStr) {
        let arg = self.absolute(arg);
        // SAFETY: see `Args`; the caller has a table at `arg` and a value on top.
        unsafe { ffi::lua_setfield(self.state, arg, key.as_ptr()) }
    }

    /// `t[i] = top`, popping the value.
    pub fn set_index(&self, arg: c_int, i: i64) {
        let arg = self.absolute(arg);
        // SAFETY: as in `set_field`.
        unsafe { ffi::lua_rawseti(self.state, arg, i) }
    }

    /// `t[k] = v` with k and v the two top values, popping both.
    pub fn set_raw(&self, arg: c_int) {
        let arg = self.absolute(arg);
        // SAFETY: as in `set_field`, with a key under the value.
        unsafe { ffi::lua_rawset(self.state, arg) }
    }

    pub fn new_table(&self, narr: c_int, nrec: c_int) {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_createtable(self.state, narr, nrec) }
    }

    pub fn pop(&self, n: c_int) {
        // SAFETY: see `Args`; the caller pops what it pushed.
        unsafe { ffi::lua_pop(self.state, n) }
    }

    /// Makes sure `n` more slots fit on the stack.
    pub fn check_stack(&self, n: c_int) -> bool {
        // SAFETY: see `Args`.
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
        // SAFETY: see `Args`.
        unsafe { ffi::lua_toboolean(self.state, arg) != 0 }
    }

    pub fn push_nil(&self) {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_pushnil(self.state) }
    }

    pub fn push_number(&self, n: f64) {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_pushnumber(self.state, n) }
    }

    pub fn push_integer(&self, n: i64) {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_pushinteger(self.state, n) }
    }

    pub fn push_bool(&self, b: bool) {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_pushboolean(self.state, c_int::from(b)) }
    }

    /// Pushes a copy of `bytes`. `bytes` must not be owned by the calling frame alone
    /// (see the module comment), or be small enough not to matter.
    pub fn push_bytes(&self, bytes: &[u8]) {
        // SAFETY: see `Args`.
        unsafe { push_bytes(self.state, bytes) }
    }

    pub fn push_str(&self, s: &str) {
        self.push_bytes(s.as_bytes());
    }

    pub fn push_value(&self, arg: c_int) {
        // SAFETY: see `Args`.
        unsafe { ffi::lua_pushvalue(self.state, arg) }
    }

    /// `nil, message`: LuaSocket's failure return.
    pub fn fail(&self, message: &str) -> c_int {
        self.push_nil();
        self.push_str(message);
        2
    }

    /// The `T` at `arg`, if the userdata there has one of `T`'s metatables.
    pub fn test_object<T: UserClass>(&self, arg: c_int) -> Option<Object<'_, T>> {
        T::KINDS.iter().find_map(|&kind| {
            // SAFETY: `luaL_testudata` only compares metatables (it needs two free slots,
            // which every C function has).
            let p = unsafe { ffi::luaL_testudata(self.state, arg, T::name(kind).as_ptr()) };
            NonNull::new(p.cast::<T>()).map(|ptr| Object {
                ptr,
                kind,
                _args: PhantomData,
            })
        })
    }

    /// The `T` at `arg`, which must be of one of `kinds`; otherwise `T`'s "expected"
    /// argument error.
    pub fn object<T: UserClass>(&self, arg: c_int, kinds: &[T::Kind]) -> LuaResult<Object<'_, T>> {
        match self.test_object::<T>(arg) {
            Some(object) if kinds.contains(&object.kind) => Ok(object),
            _ => Err(T::expected(arg, kinds)),
        }
    }

    /// Pushes `value` as a new userdata of class `kind`.
    pub fn push_object<T: UserClass>(&self, value: T, kind: T::Kind) {
        const {
            assert!(
                std::mem::align_of::<T>() <= 8,
                "Lua aligns userdata to 8 bytes"
            )
        };
        // SAFETY: the block is fresh, sized and aligned for a `T`, and written before it
        // gets `T`'s metatable; nothing else can see it in between.
        unsafe {
            let p = ffi::lua_newuserdatauv(self.state, std::mem::size_of::<T>(), 0).cast::<T>();
            p.write(value);
            ffi::luaL_setmetatable(self.state, T::name(kind).as_ptr());
        }
    }

    /// Moves the `T` at `arg` to class `kind` (tcp master to client, say). Returns false,
    /// changing nothing, when there is no `T` at `arg`: only a `T` may get `T`'s metatables.
    pub fn set_class<T: UserClass>(&self, arg: c_int, kind: T::Kind) -> bool {
        if self.test_object::<T>(arg).is_none() {
            return false;
        }
        let arg = self.absolute(arg);
        // SAFETY: `arg` holds a `T`, and the metatable is another of `T`'s.
        unsafe {
            ffi::luaL_getmetatable(self.state, T::name(kind).as_ptr());
            ffi::lua_setmetatable(self.state, arg);
        }
        true
    }
}

/// An object on a binding's stack (an argument, or a value it pushed), known to hold a
/// `T`. Each use (through `Deref`/`DerefMut`) borrows the value for that expression only,
/// so that a binding can read more arguments, which may run Lua, between uses; what it
/// must not do is keep a reference it got from the object across such a call (see the
/// module comment).
pub struct Object<'a, T: UserClass> {
    ptr: NonNull<T>,
    kind: T::Kind,
    _args: PhantomData<&'a Args>,
}

impl<T: UserClass> Object<'_, T> {
    /// The class the object had when it was taken.
    pub fn kind(&self) -> T::Kind {
        self.kind
    }

    /// Where the value lives, for `select`, which holds several objects while it waits.
    pub fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T: UserClass> std::ops::Deref for Object<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the userdata is on the running call's stack, so Lua keeps it, and
        // its metatable is one of `T`'s for good (only `set_class` changes it, within
        // `T`'s; `collect` leaves a `T` behind), so it holds a live `T` (`UserClass`'s
        // contract). No `&mut` to it outlives an expression, and none is alive while
        // Lua runs (the module's borrow rule), so none is alive now.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: UserClass> std::ops::DerefMut for Object<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` keeps this handle's borrows apart.
        unsafe { self.ptr.as_mut() }
    }
}

/// A Rust type that Lua holds in userdata, and the metatables (LuaSocket's classes) such
/// userdata may have. The type system ties the two, as mlua ties metatables to
/// `TypeId`s: [`Args::object`], [`Args::test_object`], [`Args::push_object`],
/// [`Args::set_class`], [`register_class`] and [`collect`] are generic over `T` and name
/// classes by `T::Kind`, never by string, so no code can give one type's metatable to
/// another type's value, or read a value through another type's metatable.
///
/// # Safety
/// Every `name(kind)` is a registry key for this type's metatables alone: no other
/// `UserClass` and no other library (Lua's `FILE*`) uses it. Then a userdata with one of
/// these metatables holds a `Self`, because scripts cannot change that: the registry is
/// out of their reach (`runner` removes `debug.getregistry`) and `debug.setmetatable`
/// refuses userdata (`lua::harden`).
pub unsafe trait UserClass: Sized + 'static {
    /// The classes of the type: tcp has three (master, client, server).
    type Kind: Copy + PartialEq + 'static;
    /// Every class of the type.
    const KINDS: &'static [Self::Kind];
    /// Group names set to `true` in each metatable, as LuaSocket's `auxiliar.c` marks
    /// them (`tcp{any}`, `select{able}`).
    const GROUPS: &'static [&'static CStr] = &[];
    /// Whether `__index` carries a `class` field with the name (LuaSocket's classes do,
    /// LuaSec's do not).
    const CLASS_FIELD: bool = false;
    /// What `__gc` returns when a script calls it: LuaSocket's returns `1.0` (it is
    /// `close`), LuaSec's nothing.
    const GC_RESULT: Option<f64> = None;
    /// The registry name of a class's metatable, which is also its `__name`.
    fn name(kind: Self::Kind) -> &'static CStr;
    /// The error for a value at `arg` that is none of `kinds`: LuaSocket's
    /// "tcp{client} expected", or the group's (the first of `GROUPS`) when more than one
    /// class would do.
    fn expected(arg: c_int, kinds: &[Self::Kind]) -> Raise {
        let name = match (kinds, Self::GROUPS.first()) {
            ([kind], _) | ([kind, ..], None) => Self::name(*kind),
            (_, Some(group)) => group,
            ([], None) => c"object",
        };
        Raise::Arg(arg, format!("{} expected", name.to_string_lossy()).into())
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
        // SAFETY: as the caller promises; each function is pushed and stored at once.
        unsafe {
            ffi::lua_pushcfunction(state, *f);
            ffi::lua_setfield(state, -2, name.as_ptr());
        }
    }
}

/// Registers class `kind` of `T`: a metatable whose `__index` is a table of `methods`
/// (plus `class`, and the groups, where `T` has them), with `meta` as metamethods. Leaves
/// the stack as it found it. Registering again (a second `require` of the module) updates
/// the same metatable.
///
/// # Safety
/// `state` is valid, with two free stack slots.
pub unsafe fn register_class<T: UserClass>(
    state: *mut lua_State,
    kind: T::Kind,
    methods: &[Entry],
    meta: &[Entry],
) {
    let name = T::name(kind);
    // SAFETY: as the caller promises; every push is popped or stored.
    unsafe {
        ffi::luaL_newmetatable(state, name.as_ptr());
        set_functions(state, meta);
        for group in T::GROUPS {
            ffi::lua_pushboolean(state, 1);
            ffi::lua_setfield(state, -2, group.as_ptr());
        }
        ffi::lua_createtable(state, 0, methods.len() as c_int + 1);
        set_functions(state, methods);
        if T::CLASS_FIELD {
            ffi::lua_pushstring(state, name.as_ptr());
            ffi::lua_setfield(state, -2, c"class".as_ptr());
        }
        ffi::lua_setfield(state, -2, c"__index".as_ptr());
        ffi::lua_pop(state, 1);
    }
}

/// `__gc` for `T`: drops the value, leaving a `T::default()` behind, since the object may
/// be used again (a finalizer can resurrect it, and a script can call `__gc` itself).
/// Anything but a `T` gets `T`'s "expected" error, as LuaSocket's and LuaSec's `__gc` do.
pub fn collect<T: UserClass + Default>(args: &Args) -> LuaResult<c_int> {
    let mut object = args.object::<T>(1, T::KINDS)?;
    // Dropping runs no Lua: the sockets' drops are Rust and wasi calls only.
    drop(std::mem::take(&mut *object));
    match T::GC_RESULT {
        Some(n) => {
            args.push_number(n);
            Ok(1)
        }
        None => Ok(0),
    }
}

/// The address of a userdata, as `%p` shows it in `tostring`; null for anything else.
pub fn address(args: &Args, arg: c_int) -> *const c_void {
    // SAFETY: reads the stack slot's pointer; nothing is dereferenced.
    unsafe { ffi::lua_touserdata(args.state, arg) }
}
