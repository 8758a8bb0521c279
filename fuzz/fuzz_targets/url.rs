//! socket.url, the component's own lua/socket/url.lua, run by native Lua 5.4: parse,
//! build, absolute, escape/unescape and the path functions on arbitrary strings.
//!
//! Oracles: no Lua error on any string; `unescape(escape(s)) == s` and `escape` leaves
//! only letters, digits, `_` and `%xx`; `parse(build(parse(s)))` gives the same
//! components as `parse(s)`; `parse_path(build_path(parse_path(p)))` gives the same
//! segments and flags; `absolute` returns a string for any base (string or table) and
//! reference, and keeps the reference's scheme when it has one.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use luasocket_wasi_fuzz::{lua_with_modules, reset_budget, split};
use mlua::{Function, Lua};

const BUDGET: u32 = 20_000_000;

const HARNESS: &str = r#"
local url = require("socket.url")
local FIELDS = { "scheme", "host", "port", "user", "password", "userinfo", "path", "params",
    "query", "fragment" }

local function same_components(p, q, what)
    for _, k in ipairs(FIELDS) do
        if p[k] ~= q[k] then
            error(string.format("%s: %s differs: %q vs %q", what, k, tostring(p[k]),
                tostring(q[k])), 0)
        end
    end
end

return function(a, b)
    -- escaping
    local e = url.escape(a)
    assert(not string.find(e, "[^A-Za-z0-9_%%]"), "escape left a reserved byte")
    assert(url.unescape(e) == a, "unescape(escape(s)) ~= s")
    assert(type(url.unescape(a)) == "string")

    -- parse and build
    local p, err = url.parse(a)
    if a == "" then
        assert(p == nil and err == "invalid url", "parse accepted the empty string")
    else
        assert(type(p) == "table", "parse failed on a non-empty string")
        local s = url.build(p)
        assert(type(s) == "string")
        same_components(p, url.parse(s) or {}, "parse(build(parse(s)))")
        -- defaults fill what is missing and are not modified
        local default = { scheme = "http", host = "h", port = "80", path = "/" }
        local q = url.parse(a, default)
        assert(default.scheme == "http" and default.host == "h" and default.path == "/")
        for k, v in pairs(p) do assert(q[k] == v, "a default overrode " .. k) end
    end

    -- paths
    local segs = url.parse_path(a)
    local again = url.parse_path(url.build_path(segs))
    assert(#segs == #again, "build_path/parse_path changed the segment count")
    for i = 1, #segs do assert(segs[i] == again[i], "segment " .. i .. " changed") end
    assert(segs.is_absolute == again.is_absolute and segs.is_directory == again.is_directory,
        "build_path/parse_path changed the flags")
    assert(type(url.build_path(segs, true)) == "string")

    -- resolution
    local r = url.absolute(a, b)
    assert(type(r) == "string", "absolute returned " .. type(r))
    if p then assert(type(url.absolute(p, b)) == "string") end
    local rp = b ~= "" and url.parse(b)
    if rp and rp.scheme and a ~= "" then
        assert(url.parse(r).scheme == rp.scheme, "absolute lost the reference's scheme")
    end
    return true
end
"#;

thread_local! {
    static STATE: RefCell<Option<(Lua, Function)>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    // Two strings: base and reference, split at the first NUL NUL (none: the reference is
    // the input reversed, for variety).
    let parts = split(data, b"\0\0");
    let (a, b) = match parts.as_slice() {
        [a] => (a.to_vec(), a.iter().rev().copied().collect::<Vec<u8>>()),
        [a, b, ..] => (a.to_vec(), b.to_vec()),
        [] => unreachable!(),
    };
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let (lua, check) = state.get_or_insert_with(|| {
            let lua = lua_with_modules(BUDGET);
            let check: Function = lua
                .load(HARNESS)
                .set_name("@url_harness.lua")
                .call(())
                .expect("harness");
            (lua, check)
        });
        reset_budget(lua, BUDGET);
        let a = lua.create_string(&a).unwrap();
        let b = lua.create_string(&b).unwrap();
        if let Err(e) = check.call::<bool>((a, b)) {
            panic!("url property failed: {e}");
        }
        if lua.used_memory() > 64 << 20 {
            lua.gc_collect().unwrap();
        }
    });
});
