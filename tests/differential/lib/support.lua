-- The prelude every differential script requires. The same script runs under native
-- Lua 5.4 + LuaSocket/LuaSec and inside the component; tests/differential.rs compares
-- what the two print, line by line. So everything printed goes through here, as one
-- labelled line ("label: values") per observation, with the values written the same way
-- in both runtimes:
--
-- * strings quoted, every byte outside printable ASCII escaped, so one value never spans
--   two lines; long strings cut, with their length and a checksum;
-- * userdata as their tostring without the address ("tcp{client}"), functions and
--   threads as their type: addresses differ between any two runs;
-- * tables as their keys and values, sorted, so iteration order does not matter;
-- * NaN as "nan", whatever sign the C library prints;
-- * error messages in full, except the directory and line number of a library file
--   (native's modules live in /usr/share/lua, ours are built in, and the line numbers of
--   two implementations have nothing to do with each other). The file's name is kept.
--
-- Scripts never print ports, addresses of ephemeral sockets, descriptors or times raw;
-- they print what can be compared (`port == expected`, `type(t)`), and S.hide names
-- paths that change run to run.

local S = {}

local LONG = 160

-- Adler-32: a short fingerprint of a long string, computed the same way everywhere.
local function adler32(s)
    local a, b = 1, 0
    for i = 1, #s do
        a = (a + s:byte(i)) % 65521
        b = (b + a) % 65521
    end
    return string.format("%08x", b * 65536 + a)
end

local ESCAPES = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function escape(s)
    return (s:gsub('[%c"\\\128-\255]', function(c)
        return ESCAPES[c] or string.format("\\%03d", c:byte())
    end))
end

-- Texts that differ run to run (a scratch directory's path) and what stands for them.
local hidden = {}

-- Every string shown from now on has `text` written as `name`.
function S.hide(text, name)
    hidden[#hidden + 1] = { text:gsub("%p", "%%%0"), (name:gsub("%%", "%%%%")) }
end

local function unhidden(s)
    for _, h in ipairs(hidden) do s = s:gsub(h[1], h[2]) end
    return s
end

local function quote(s)
    s = unhidden(s)
    if #s <= LONG then return '"' .. escape(s) .. '"' end
    return string.format('"%s"... (#%d, adler32 %s)', escape(s:sub(1, LONG // 2)), #s, adler32(s))
end

-- "tcp{client}: 0x55d0c4a0" and "SSL connection: 0x1638a0" lose the address.
local function unaddressed(v)
    local ok, text = pcall(tostring, v)
    if not ok then return "<tostring failed>" end
    return (text:gsub(":? ?0x%x+", ""))
end

local format

local function number(n)
    if n ~= n then return "nan" end
    return tostring(n)
end

-- Numbers before strings before everything else, each group in its natural order.
local function key_order(a, b)
    local ta, tb = type(a.key) == "number", type(b.key) == "number"
    if ta ~= tb then return ta end
    if ta and a.key ~= b.key then return a.key < b.key end
    return a.text < b.text
end

local function key_text(k, seen)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
    return "[" .. format(k, seen) .. "]"
end

local function dump(t, seen)
    if seen[t] then return "<cycle>" end
    seen[t] = true
    local entries = {}
    for k, v in pairs(t) do
        entries[#entries + 1] = { key = k, text = key_text(k, seen), value = v }
    end
    table.sort(entries, key_order)
    local parts = {}
    for i, e in ipairs(entries) do parts[i] = e.text .. "=" .. format(e.value, seen) end
    seen[t] = nil
    return "{" .. table.concat(parts, ", ") .. "}"
end

-- One value as the line shows it.
function format(v, seen)
    local kind = type(v)
    if kind == "string" then return quote(v) end
    if kind == "number" then return number(v) end
    if kind == "table" then return dump(v, seen or {}) end
    if kind == "userdata" then return unaddressed(v) end
    if kind == "function" or kind == "thread" then return kind end
    return tostring(v)
end
S.format = format

-- Values as a line shows them: all of them, trailing nils included, since how many a
-- function returns is part of its interface; "(nothing)" for none.
local function values(n, ...)
    if n == 0 then return "(nothing)" end
    local parts = {}
    for i = 1, n do parts[i] = format((select(i, ...))) end
    return table.concat(parts, ", ")
end

function S.show(label, ...)
    S.line(label, values(select("#", ...), ...))
end

-- "/usr/share/lua/5.4/socket/url.lua:123: x" and "socket/url.lua:45: x" both become
-- "url.lua:N: x". The script's own chunk name is the same path in both runtimes and
-- is left alone.
--
-- "(call):1: " is where the prelude's own callers (below) raise from: the same in both
-- runtimes, and not what a script's caller would see, so it goes.
--
-- A C function reached through two names in package.loaded ("socket.core" and
-- "socket" are one table) is named in argument errors by whichever Lua's string hash,
-- seeded at random each run, finds first: 'socket.core.sleep' one run, 'socket.sleep'
-- the next, in either runtime. Both spellings are shown as the short one.
local function error_text(e)
    if type(e) ~= "string" then return format(e) end
    e = unhidden(e)
    e = e:gsub("([^%s:]*%.lua):%d+:", function(path)
        if path == S.script then return nil end
        return path:match("([%w_]+%.lua)$") .. ":N:"
    end)
    e = e:gsub("^%(call%):1: ", "")
    return (e:gsub("'(%a+)%.core%.", "'%1."))
end
S.error_text = error_text

-- What a pcall returned, as a line shows it.
local function outcome(ok, ...)
    if ok then return values(select("#", ...), ...) end
    return "error: " .. error_text((...))
end
S.outcome = outcome

-- A line of text already formatted (by S.format or S.outcome).
function S.line(label, text)
    io.write(label, ": ", text, "\n")
    io.flush()
end

local function report(label, ok, ...)
    S.line(label, outcome(ok, ...))
end
S.report = report

-- A protected call of a function value: its results, or the error it raised. Called
-- this way, an argument error names the function as Lua finds it in package.loaded;
-- S.fn and S.method name it as a call in a script does.
function S.call(label, f, ...)
    report(label, pcall(f, ...))
end

-- Callers written out as source, `t.name(...)` or `t:name(...)`, so that an argument
-- error says what it says in user code ("bad argument #1 to 'connect'", "calling
-- 'receive' on bad self"): Lua names a function after the expression that called it,
-- and a call through pcall or a computed key has no such name.
local callers = {}

local function caller(separator, name)
    local key = separator .. name
    if not callers[key] then
        assert(name:match("^[%a_][%w_]*$"), "not a name: " .. name)
        local code = "return function(t, ...) return table.pack(t" .. key .. "(...)) end"
        callers[key] = assert(load(code, "=(call)"))()
    end
    return callers[key]
end

local function unpacked(ok, r)
    if not ok then return ok, r end
    return ok, table.unpack(r, 1, r.n)
end

-- pcall(object.name, object, ...), but called as `object:name(...)`: for scripts
-- that show the results their own way (S.report shows an error as S.method would).
function S.invoke(object, name, ...)
    return unpacked(pcall(caller(":", name), object, ...))
end

-- pcall(t.name, ...), called as `t.name(...)`.
function S.apply(t, name, ...)
    return unpacked(pcall(caller(".", name), t, ...))
end

-- The results of `t.name(...)`, or what it raised.
function S.fn(label, t, name, ...)
    report(label, S.apply(t, name, ...))
end

-- The results of `object:name(...)`, or what it raised; objects without such a
-- method say so.
local function has_method(object, name)
    local ok, method = pcall(function() return object[name] end)
    return ok and type(method) == "function"
end

function S.method(label, object, name, ...)
    if not has_method(object, name) then return S.show(label, "no method " .. name) end
    report(label, S.invoke(object, name, ...))
end

-- send and receive return one more value in the debug build LuaSocket's LuaRocks
-- package is (and the component is): the seconds the call took. Debian's build leaves
-- it out, and its value is a time anyway; so an I/O result is shown as its first three
-- values, the only place that value is dropped. Scripts show `_DEBUG` and the count
-- of values once, so the difference stays visible.
local function three(ok, ...)
    if not ok then return ok, ... end
    return ok, (select(1, ...)), (select(2, ...)), (select(3, ...))
end

-- `object:name(...)` as S.method shows it, but only the first three results.
function S.io(label, object, name, ...)
    if not has_method(object, name) then return S.show(label, "no method " .. name) end
    report(label, three(S.invoke(object, name, ...)))
end

-- Whether a duration fell in [low, high]; the duration itself differs run to run.
function S.took(label, seconds, low, high)
    if seconds >= low and seconds <= high then return S.show(label, "in range") end
    S.show(label, string.format("%.3f s, outside [%g, %g]", seconds, low, high))
end

-- Times a call: what it returns (first three values, as S.io), and whether it took
-- between low and high seconds.
function S.timed(label, low, high, f, ...)
    local socket = require "socket"
    local start = socket.gettime()
    report(label, three(pcall(f, ...)))
    S.took(label .. " took", socket.gettime() - start, low, high)
end

-- The script's arguments, given as key=value by tests/differential.rs, identically to
-- both runtimes. Numeric values are numbers (ports).
S.args = {}
for _, a in ipairs(arg or {}) do
    local k, v = a:match("^([^=]+)=(.*)$")
    if k then S.args[k] = tonumber(v) or v end
end
S.script = arg and arg[0]

-- The last line: a script that stopped early is missing it.
function S.done()
    S.show("done", true)
end

return S
