//! The app's files, from the handler world's `bundle` import: the app itself, and a
//! `require` searcher over its modules. Edge hosts give a component no filesystem, so
//! `luasocket-wasi build` packs the files into the component (`serve` hands them over
//! from the host); either way the guest sees the same list.
//!
//! Modules are named as `package.path`'s default `?.lua;?/init.lua` names them:
//! `require "lib.router"` finds `lib/router.lua` or `lib/router/init.lua`. A file's
//! contents cross into the guest only when it is required.

use mlua::{Lua, Table, Value};

use crate::luasocket::socket::bundle;

/// The app: its path in the bundle and its source.
pub struct App {
    pub name: String,
    pub source: Vec<u8>,
}

/// The app (the bundle's first file), with `require` able to find the others in `lua`.
pub fn load(lua: &Lua) -> Result<App, String> {
    let names = bundle::names();
    let name = names
        .first()
        .cloned()
        .ok_or("the bundle holds no app (luasocket-wasi build packs one)")?;
    install_searcher(lua, names)
        .map_err(|e| format!("cannot install the bundle's searcher: {e}"))?;
    Ok(App {
        name,
        source: bundle::file(0),
    })
}

/// Puts the bundle's searcher second in `package.searchers`: after `package.preload`
/// (LuaSocket's own modules), before `package.path`.
fn install_searcher(lua: &Lua, names: Vec<String>) -> mlua::Result<()> {
    let index = lua.create_table()?;
    for (i, name) in (0u32..).zip(names) {
        index.raw_set(name, i)?;
    }
    let file = lua.create_function(|lua, i: u32| lua.create_string(bundle::file(i)))?;
    let searcher: Value = lua.load(SEARCHER).set_name("=bundle").call((index, file))?;
    let searchers: Table = lua.globals().get::<Table>("package")?.get("searchers")?;
    let insert: mlua::Function = lua.globals().get::<Table>("table")?.get("insert")?;
    insert.call::<()>((searchers, 2, searcher))
}

/// The searcher, in Lua so that its errors are the strings `require` reports, worded as
/// Lua's own file searcher words them. Source only: a binary chunk can crash the VM.
const SEARCHER: &str = r#"
local index, file = ...
local load, error, format, gsub, concat = load, error, string.format, string.gsub, table.concat
return function(name)
    local base = gsub(name, "%.", "/")
    local tried = {}
    for _, path in ipairs { base .. ".lua", base .. "/init.lua" } do
        local i = index[path]
        if i then
            local loader, message = load(file(i), "@" .. path, "t")
            if not loader then
                error(format("error loading module '%s' from file 'bundle:%s':\n\t%s",
                    name, path, message), 0)
            end
            return loader, "bundle:" .. path
        end
        tried[#tried + 1] = "no file 'bundle:" .. path .. "'"
    end
    return concat(tried, "\n\t")
end
"#;
