//! The host's functions as a Lua module: `local host = require "host"` (the host picks
//! the name), one field per function, each a Lua C function that calls the host and
//! returns its results. A call is a plain synchronous call out of the component, so it
//! works wherever a C function may run: under `pcall`, in coroutines, metamethods,
//! `string.gsub` callbacks, `table.sort` comparators, with sockets open. A host with
//! async I/O suspends the whole instance meanwhile, which Lua never sees.
//!
//! Values cross as graphs (`lua::graph`); a host error is raised as a Lua error with the
//! host's message, after the caller's position as `luaL_error` puts it.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::ffi::{CStr, c_int, c_void};

use mlua::{Function, Lua, Table};

use super::api::{Args, LuaResult, Raise, cfunction, ffi};
use super::graph::{self, PushError};
use crate::exports::luasocket::socket::lua::Value;

/// What the host offers: the module's name and its functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub module: String,
    pub functions: Vec<String>,
}

/// Where host calls go: the `host` import in the plugin world (`crate::world`); a
/// stand-in in tests.
pub trait Host: Sync {
    fn offer(&self) -> Offer;
    /// Calls `name`; `Err` is the host's message.
    fn call(&self, name: &str, args: &[Value]) -> Result<Vec<Value>, String>;
}

/// Registers the host's module in `package.preload`, if the host offers any function.
/// The functions are made when the module is first required.
pub fn install(lua: &Lua, host: &'static &'static dyn Host) -> mlua::Result<()> {
    let offer = host.offer();
    if offer.functions.is_empty() {
        return Ok(());
    }
    let package: Table = lua.globals().get("package")?;
    let preload: Table = package.get("preload")?;
    let loaded: Table = package.get("loaded")?;
    // `require` would find the built-in first, and never the host's module.
    let name = offer.module.as_str();
    if preload.contains_key(name)? || loaded.contains_key(name)? {
        return Err(mlua::Error::runtime(format!(
            "the host's module name '{name}' is a built-in module's"
        )));
    }
    let Offer { module, functions } = offer;
    let loader = lua.create_function(move |lua, ()| {
        let table = lua.create_table_with_capacity(0, functions.len())?;
        for name in &functions {
            table.raw_set(name.as_str(), function(lua, name, host)?)?;
        }
        Ok(table)
    })?;
    preload.set(module, loader)
}

/// A C closure calling the host function `name`: its upvalues are the name and `host`.
fn function(lua: &Lua, name: &str, host: &'static &'static dyn Host) -> mlua::Result<Function> {
    let host = mlua::LightUserData((host as *const &dyn Host).cast_mut().cast::<c_void>());
    let name = lua.create_string(name)?;
    // SAFETY: the two arguments are on the stack; the closure takes them as upvalues and
    // is the one value left, which `exec_raw` returns.
    unsafe {
        lua.exec_raw((name, host), |state| {
            ffi::lua_pushcclosure(state, cfunction!(call), 2);
        })
    }
}

/// The body of every host function: arguments to graphs, the call, results pushed.
fn call(args: &Args) -> LuaResult<c_int> {
    let state = args.state();
    // SAFETY: only the closures `function` makes run this, with their two upvalues.
    let (name, host) = unsafe { upvalues(state) };
    // SAFETY: 1..=top are this call's arguments.
    let values = unsafe { graph::read(state, 1, args.top()) }
        .map_err(|e| Raise::Arg(e.position as c_int, e.reason.into()))?;
    let results = match host.call(name, &values) {
        Ok(results) => results,
        // SAFETY: `state` is this call's.
        Err(message) => return Err(Raise::Message(unsafe { position(state) } + &message)),
    };
    drop(values);
    // SAFETY: a C function may run a protected call.
    match unsafe { graph::push(state, &results) } {
        Ok(n) => Ok(n),
        Err(PushError::Malformed(why)) => Err(Raise::Message(format!(
            "host function '{name}' returned a bad value: {why}"
        ))),
        Err(e) => Err(Raise::Message(e.to_string())),
    }
}

/// The function's name and host, from its upvalues.
///
/// # Safety
/// `state` runs a closure made by `function`. The name lives as long as the closure, which
/// is running; the host is `'static`.
unsafe fn upvalues<'a>(state: *mut ffi::lua_State) -> (&'a str, &'static dyn Host) {
    // SAFETY: as the caller promises: upvalue 1 is a string, 2 a light userdata pointing
    // to a `&'static dyn Host`.
    unsafe {
        let mut len = 0;
        let p = ffi::lua_tolstring(state, ffi::lua_upvalueindex(1), &mut len);
        let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len);
        // Names come from the host as WIT strings: always UTF-8.
        let name = std::str::from_utf8(bytes).unwrap_or("?");
        let host = ffi::lua_touserdata(state, ffi::lua_upvalueindex(2)).cast::<&'static dyn Host>();
        (name, *host)
    }
}

/// `chunk:line: ` of the caller, as `luaL_where(L, 1)` gives it, without pushing anything
/// (so without allocating inside Lua).
///
/// # Safety
/// `state` is a running C function's.
unsafe fn position(state: *mut ffi::lua_State) -> String {
    // SAFETY: `lua_Debug` is plain data that Lua fills; "Sl" only writes into it.
    unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getstack(state, 1, &mut ar) == 0
            || ffi::lua_getinfo(state, c"Sl".as_ptr(), &mut ar) == 0
        {
            return String::new();
        }
        if ar.currentline <= 0 {
            return String::new();
        }
        let source = CStr::from_ptr(ar.short_src.as_ptr());
        format!("{}:{}: ", source.to_string_lossy(), ar.currentline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::luasocket::socket::lua::Node;

    /// A host that echoes, fails, and returns odd values, by name.
    struct Fake;

    impl Host for Fake {
        fn offer(&self) -> Offer {
            let functions = ["echo", "fail", "none", "cycle", "dangling", "nil_key"];
            Offer {
                module: "host".into(),
                functions: functions.map(String::from).to_vec(),
            }
        }

        fn call(&self, name: &str, args: &[Value]) -> Result<Vec<Value>, String> {
            let one = |nodes| Ok(vec![Value { nodes }]);
            match name {
                "echo" => Ok(args.to_vec()),
                "fail" => Err(format!("{name} failed with {} arguments", args.len())),
                "none" => Ok(Vec::new()),
                "cycle" => one(vec![
                    Node::Table(vec![(1, 0), (2, 3)]),
                    Node::Text("self".into()),
                    Node::Text("n".into()),
                    Node::Integer(7),
                ]),
                "dangling" => one(vec![Node::Sequence(vec![5])]),
                "nil_key" => one(vec![Node::Table(vec![(1, 1)]), Node::Nil]),
                _ => Err(format!("no host function '{name}'")),
            }
        }
    }

    static FAKE: &dyn Host = &Fake;

    /// A plain Lua state: the component's own (`runner::new_state`) reads WASI's clock,
    /// which native tests do not have. A preloaded `socket` stands for the built-ins.
    fn bare_state() -> Lua {
        let lua = Lua::new();
        lua.load(r#"package.preload.socket = function() return {} end"#)
            .exec()
            .unwrap();
        lua
    }

    fn state() -> Lua {
        let lua = bare_state();
        install(&lua, &FAKE).unwrap();
        lua
    }

    /// Runs `chunk` as `=test`; it fails the test by raising.
    fn check(chunk: &str) {
        let lua = state();
        if let Err(e) = lua.load(chunk).set_name("=test").exec() {
            panic!("{e}");
        }
    }

    #[test]
    fn every_value_type_crosses_both_ways() {
        check(
            r##"
            local host = require "host"
            local a, b, c, d, e, f, g = host.echo(nil, true, -7, 2.5, "text", "\255\0", math.mininteger)
            assert(a == nil and b == true and c == -7 and math.type(c) == "integer")
            assert(d == 2.5 and math.type(d) == "float" and e == "text" and f == "\255\0")
            assert(g == math.mininteger)
            assert(select("#", host.echo(nil, nil)) == 2 and select("#", host.none()) == 0)
            local t = host.echo({1, "two", {3}, x = {y = {z = true}}, [2.5] = "k"})
            assert(t[1] == 1 and t[2] == "two" and t[3][1] == 3 and t.x.y.z == true and t[2.5] == "k")
            local seq = host.echo({10, 20, 30})
            assert(#seq == 3 and seq[3] == 30)
            assert(next(host.echo({})) == nil)
            "##,
        );
    }

    #[test]
    fn shared_and_self_referencing_tables_keep_their_shape() {
        check(
            r##"
            local host = require "host"
            local t = {} t.self = t
            local back = host.echo(t)
            assert(back ~= t and back.self == back)
            local shared = {1}
            local pair = host.echo({a = shared, b = shared, [shared] = shared})
            assert(pair.a == pair.b and pair[pair.a] == pair.a)
            local c = host.cycle()
            assert(c.self == c and c.n == 7)
            "##,
        );
    }

    #[test]
    fn host_errors_are_lua_errors_with_the_callers_position() {
        check(
            r##"
            local host = require "host"
            local ok, e = pcall(host.fail, 1, 2)
            assert(not ok and e == "fail failed with 2 arguments", e)
            -- Lua 5.4 runs a tail call of a C function inside the caller's frame.
            local ok, e = pcall(function() return host.fail() end)
            assert(not ok and e == "test:6: fail failed with 0 arguments", e)
            local ok, e = pcall(function()
                local x = host.fail()
            end)
            assert(not ok and e == "test:9: fail failed with 0 arguments", e)
            -- as string.rep's own errors are placed
            local _, lua_own = pcall(function()
                local x = string.rep()
            end)
            assert(lua_own:match("^test:14: "), lua_own)
            "##,
        );
    }

    #[test]
    fn values_that_cannot_cross_are_argument_errors() {
        check(
            r##"
            local host = require "host"
            local ok, e = pcall(function() host.echo(1, print) end)
            assert(e:find("bad argument #2 to 'echo' (a function value cannot cross to the host)", 1, true), e)
            local ok, e = pcall(function() host.echo({co = coroutine.create(print)}) end)
            assert(e:find("bad argument #1 to 'echo' (a thread value cannot cross to the host)", 1, true), e)
            local ok, e = pcall(host.dangling)
            assert(e == "host function 'dangling' returned a bad value: value node 5 does not exist", e)
            local ok, e = pcall(host.nil_key)
            assert(e == "host function 'nil_key' returned a bad value: a table key cannot be nil", e)
            "##,
        );
    }

    #[test]
    fn calls_work_from_every_kind_of_lua_code() {
        check(
            r##"
            local host = require "host"
            -- a coroutine, across a yield
            local co = coroutine.wrap(function(x)
                local y = coroutine.yield(host.echo(x))
                return host.echo(y + 1)
            end)
            assert(co(1) == 1 and co(2) == 3)
            -- metamethods
            local proxy = setmetatable({}, {
                __index = function(_, k) return host.echo(k .. "!") end,
                __add = function(a, b) return host.echo(40) + 2 end,
                __close = function() closed = host.echo(true) end,
            })
            assert(proxy.key == "key!" and proxy + proxy == 42)
            do local c <close> = proxy end
            assert(closed)
            -- callbacks of C functions, where Lua cannot yield
            assert(("a-b"):gsub("%a", host.echo) == "a-b")
            assert(("a-b"):gsub("%a", function(c) return host.echo(c:upper()) end) == "A-B")
            local t = {3, 1, 2}
            table.sort(t, function(a, b) return host.echo(a < b) end)
            assert(t[1] == 1 and t[3] == 3)
            -- a host error inside a coroutine stays inside it
            local ok, e = coroutine.resume(coroutine.create(function() host.fail() end))
            assert(not ok and e:find("fail failed"))
            "##,
        );
    }

    struct Named(&'static str, Vec<&'static str>);

    impl Host for Named {
        fn offer(&self) -> Offer {
            Offer {
                module: self.0.into(),
                functions: self.1.iter().map(|s| s.to_string()).collect(),
            }
        }

        fn call(&self, _: &str, _: &[Value]) -> Result<Vec<Value>, String> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn the_module_needs_functions_and_a_name_of_its_own() {
        static APP: &dyn Host = &Named("app", vec![]);
        let lua = bare_state();
        install(&lua, &APP).unwrap();
        let missing = lua
            .load(r##"return pcall(require, "app")"##)
            .eval::<(bool, String)>();
        assert!(!missing.unwrap().0, "no functions: no module");
        for taken in ["socket", "string", "package"] {
            let host: &'static &'static dyn Host =
                Box::leak(Box::new(
                    &*Box::leak(Box::new(Named(taken, vec!["f"]))) as &dyn Host
                ));
            let lua = bare_state();
            let e = install(&lua, host).unwrap_err().to_string();
            assert!(
                e.contains(&format!("the host's module name '{taken}' is a built-in")),
                "{e}"
            );
        }
    }
}
