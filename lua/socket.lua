-- LuaSocket's Lua half: conveniences written in Lua over the native `socket.core`.
-- As in LuaSocket, `require "socket"` and `require "socket.core"` are the same table.
local socket = require("socket.core")

local math, string, setmetatable, type, pcall, select, error, tonumber, tostring, rawget =
    math, string, setmetatable, type, pcall, select, error, tonumber, tostring, rawget
-- A host may leave the debug library out (an embedder's sandbox, mlua's safe set): then
-- errors name the function '?' and a userdata's __name is read through getmetatable.
local debug = debug
local getinfo = debug and debug.getinfo
local rawmetatable = debug and debug.getmetatable or getmetatable

-- Argument checks ------------------------------------------------------------------
-- What lauxlib's luaL_check* raise, for the functions LuaSocket writes in C and this
-- file writes in Lua: the same words, at the caller's position, under the name the
-- caller used. Each check is called straight from the function it checks.

local function argerror(i, message)
    -- Levels: 1 this function, 2 the check, 3 the checked function, 4 its caller.
    local name = getinfo and getinfo(3, "n").name or "?"
    error(string.format("bad argument #%d to '%s' (%s)", i, name, message), 4)
end

local function typename(v, present)
    if not present then return "no value" end
    local mt = rawmetatable(v)
    local name = type(mt) == "table" and rawget(mt, "__name")
    return type(name) == "string" and name or type(v)
end

local function asstring(v)
    local t = type(v)
    if t == "string" then return v end
    if t == "number" then return tostring(v) end
end

-- `count` is select("#", ...) of the checked function's arguments: a missing argument
-- is "no value", an explicit nil is "nil".
local function checkstring(count, i, v)
    return asstring(v) or argerror(i, "string expected, got " .. typename(v, i <= count))
end

local function optstring(count, i, v, default)
    if v == nil then return default end
    return asstring(v) or argerror(i, "string expected, got " .. typename(v, i <= count))
end

local function checkinteger(count, i, v)
    local n = (type(v) == "number" or type(v) == "string") and tonumber(v)
    if n then
        local integer = math.tointeger(n)
        if integer then return integer end
        argerror(i, "number has no integer representation")
    end
    argerror(i, "number expected, got " .. typename(v, i <= count))
end

local function checkoption(count, i, v, default, options)
    local name = v == nil and default or asstring(v)
        or argerror(i, "string expected, got " .. typename(v, i <= count))
    if options[name] == nil then argerror(i, "invalid option '" .. name .. "'") end
    return options[name]
end

-- Creating sockets -----------------------------------------------------------------

local families = { unspec = "tcp", inet = "tcp4", inet6 = "tcp6" }

-- Connects a new TCP object to address:port, optionally bound to a local address first.
-- `family` ("inet" or "inet6") pins the address family; "unspec" (the default) lets the
-- address decide. The arguments are checked as LuaSocket's C global_connect checks them.
function socket.connect(...)
    local count = select("#", ...)
    local address, port, laddress, lport, family = ...
    address = checkstring(count, 1, address)
    port = checkstring(count, 2, port)
    laddress = optstring(count, 3, laddress)
    lport = optstring(count, 4, lport, "0")
    local create = socket[checkoption(count, 5, family, "unspec", families)]
    local sock, err = create()
    if not sock then return nil, err end
    if laddress then
        local ok
        ok, err = sock:bind(laddress, lport)
        if not ok then sock:close(); return nil, err end
    end
    local ok
    ok, err = sock:connect(address, port)
    if not ok then sock:close(); return nil, err end
    return sock
end

local function both(a, b) return a, b end

-- Not tail calls, so that an argument error names `connect` from here, as LuaSocket's
-- (whose connect is C) does.
function socket.connect4(address, port, laddress, lport)
    return both(socket.connect(address, port, laddress, lport, "inet"))
end

function socket.connect6(address, port, laddress, lport)
    return both(socket.connect(address, port, laddress, lport, "inet6"))
end

-- A server socket bound to host:port and listening, as LuaSocket's socket.bind makes it:
-- "*" is every IPv4 address; each address the host resolves to is tried in turn.
function socket.bind(host, port, backlog)
    if host == "*" then host = "0.0.0.0" end
    local addresses, err = socket.dns.getaddrinfo(host)
    if not addresses then return nil, err end
    for _, a in ipairs(addresses) do
        local sock
        sock, err = (a.family == "inet6" and socket.tcp6 or socket.tcp4)()
        if not sock then return nil, err end
        sock:setoption("reuseaddr", true)
        local ok
        ok, err = sock:bind(a.addr, port)
        if ok then
            ok, err = sock:listen(backlog or 32)
            if ok then return sock end
        end
        sock:close()
    end
    return nil, err
end

-- Exceptions: try / newtry / protect ------------------------------------------------
-- `try` raises its second argument, wrapped, when its first is nil or false; `protect`
-- turns exactly those errors back into `nil, message` and lets every other error through.
-- Pure Lua over pcall, so protected functions may yield (Lua 5.4's pcall is yieldable).

local failure = {
    __tostring = function(e) return tostring(e[1]) end,
}

function socket.newtry(finalizer)
    return function(...)
        if not (...) then
            if finalizer then finalizer() end
            error(setmetatable({ (select(2, ...)) }, failure), 0)
        end
        return ...
    end
end

local function unwrap(ok, ...)
    if ok then return ... end
    local err = ...
    if type(err) == "table" and getmetatable(err) == failure then return nil, err[1] end
    error(err, 0)
end

function socket.protect(f)
    return function(...) return unwrap(pcall(f, ...)) end
end

socket.try = socket.newtry()

-- Drops the first `d` arguments. As LuaSocket's C global_skip: `d` is checked as an
-- integer, and -1 keeps `d` itself too (it returns the top gettop - d - 1 values).
function socket.skip(...)
    local count = select("#", ...)
    -- global_skip casts the count to a C int: keep its low 32 bits, as that cast does.
    local d = checkinteger(count, 1, (...)) & 0xFFFFFFFF
    if d >= 0x80000000 then d = d - 0x100000000 end
    if d < 0 then return ... end
    if d >= count - 1 then return end
    return select(d + 2, ...)
end

-- A function that picks an entry of `t` by its first argument ("default" when nil).
function socket.choose(t)
    return function(name, opt1, opt2)
        if type(name) ~= "string" then
            name, opt1, opt2 = "default", name, opt1
        end
        local f = t[name or "nil"]
        if not f then error("unknown key (" .. tostring(name) .. ")", 3) end
        return f(opt1, opt2)
    end
end

-- LTN12 sources and sinks over sockets ---------------------------------------------

socket.BLOCKSIZE = 2048

local sinkt, sourcet = {}, {}
socket.sinkt, socket.sourcet = sinkt, sourcet

-- What select needs to wait on a source or sink as on its socket.
local function selectable(sock, call)
    return setmetatable({
        getfd = function() return sock:getfd() end,
        dirty = function() return sock:dirty() end,
    }, { __call = call })
end

sinkt["close-when-done"] = function(sock)
    return selectable(sock, function(_, chunk)
        if chunk then return sock:send(chunk) end
        sock:close()
        return 1
    end)
end

sinkt["keep-open"] = function(sock)
    return selectable(sock, function(_, chunk)
        if chunk then return sock:send(chunk) end
        return 1
    end)
end

sinkt["default"] = sinkt["keep-open"]
socket.sink = socket.choose(sinkt)

-- How many bytes a source asks for at a time: socket.BLOCKSIZE, which callers may change, but
-- at least one. receive(0), like receive(0.5) (LuaSocket truncates a count), takes nothing,
-- so a size below one byte would have a source answer "" for ever.
local function blocksize()
    local size = tonumber(socket.BLOCKSIZE)
    if not (size and size >= 1) then return 1 end
    return size
end

-- Exactly `length` bytes, or as many whole bytes as it holds: a fraction left over ends the
-- source. LuaSocket's ran on to receive(0.5), which answers "" without taking anything, for
-- ever (the loop a Content-Length of ".5" once caused). NaN is no length at all; a
-- non-number fails to compare and raises, as in LuaSocket.
sourcet["by-length"] = function(sock, length)
    return selectable(sock, function()
        if length ~= length then return nil, "invalid length" end
        if length < 1 then return nil end
        local chunk, err = sock:receive(math.min(blocksize(), length))
        if err then return nil, err end
        length = length - #chunk
        return chunk
    end)
end

sourcet["until-closed"] = function(sock)
    local done = false
    return selectable(sock, function()
        if done then return nil end
        local chunk, err, partial = sock:receive(blocksize())
        if not err then return chunk end
        if err == "closed" then
            sock:close()
            done = true
            return partial
        end
        return nil, err
    end)
end

sourcet["default"] = sourcet["until-closed"]
socket.source = socket.choose(sourcet)

return socket
