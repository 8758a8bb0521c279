-- The checks the *_test.lua scripts share (the name after LuaSocket's test/testsupport.lua):
--
--   local support = require("testsupport")
--   local eq, yes, R, returns, raises = support.eq, support.yes, support.R, support.returns,
--       support.raises
--
-- Every check counts in `support.checks` (the scripts report it) and a failed one raises
-- an error that names the script's line, not this file's. Nothing here is global.
--
-- The scripts find this file through package.path: in the component, by mounting
-- tests/lua at /tests-lua (`--dir tests/lua::/tests-lua`, tests/common/mod.rs
-- `test_lua_dir`); under a native Lua 5.4, with LUA_PATH="tests/lua/?.lua;;".

local support = { checks = 0 }

-- A value as a message shows it: strings quoted.
function support.show(v)
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
end

local show = support.show

-- One check: `got == want`, else an error blaming the line `level` calls above this one.
local function same(got, want, what, level)
    support.checks = support.checks + 1
    if got ~= want then
        error(what .. ": expected " .. show(want) .. ", got " .. show(got), level + 1)
    end
end

-- One check: `cond` holds, else the error `what`, blaming as `same` does.
local function holds(cond, what, level)
    support.checks = support.checks + 1
    if not cond then error(what, level + 1) end
end

function support.eq(got, want, what)
    same(got, want, what, 2)
end

function support.yes(cond, what)
    holds(cond, what, 2)
end

-- Two lists (tables) of the same length with equal elements.
function support.list_eq(got, want, what)
    same(type(got), "table", what .. " is a list", 2)
    same(#got, #want, what .. " (length)", 2)
    for i = 1, #want do same(got[i], want[i], what .. " [" .. i .. "]", 2) end
end

-- The expected results of a call, nils included.
support.R = table.pack

-- Exactly the values `want` (made by R), compared one by one, so a missing or extra
-- result (a message where a bare nil was due) is caught.
function support.returns(what, want, ...)
    same(select("#", ...), want.n, what .. ": number of results", 2)
    for i = 1, want.n do same((select(i, ...)), want[i], what .. ": result " .. i, 2) end
end

-- `f(...)` raises an error, a string that contains `fragment` (plain text); returns it.
function support.raises(f, fragment, what, ...)
    local ok, err = pcall(f, ...)
    same(ok, false, what .. " raises", 2)
    holds(type(err) == "string" and err:find(fragment, 1, true),
        what .. ": message " .. show(err) .. " should contain " .. show(fragment), 2)
    return err
end

return support
