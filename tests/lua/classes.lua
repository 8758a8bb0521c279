-----------------------------------------------------------------------------
-- Class checks: every metamethod and method of every class, called on objects of every
-- other class and on foreign values, raises LuaSocket's or LuaSec's own argument error,
-- and never reads what it was given as the wrong type.
--
-- One script, three drivers:
--   classes.lua wrong         wrong-class calls only; tests/classes.rs runs it in
--                             luasocket-wasi and in native Lua 5.4 with LuaSocket 3.1 and
--                             LuaSec, where the rules below come from
--   classes.lua all           also every member on the objects it accepts (with assorted
--                             arguments), select and ssl.wrap on everything, then the
--                             wrong-class calls again on the closed and collected objects
--   classes.lua program HEX   calls decoded from HEX (the `classes` fuzz target's input)
-- It returns a summary and, for the fuzz target, the features the calls reached; every
-- mismatch is collected and raised at the end.
-----------------------------------------------------------------------------
local socket = require("socket")
local ssl = require("ssl")
local mode, program = ...

-- Any certificate will do: only its class matters here.
local PEM = [[
-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIUVVYwaibNCc4EUNdhOtFyjhdgb+wwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMY2xhc3Nlcy50ZXN0MCAXDTI2MTIwNjIxNDI1NloYDzIxMjYx
MTEyMjE0MjU2WjAXMRUwEwYDVQQDDAxjbGFzc2VzLnRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAS3ThLl5J3e9kRZW4bb3ycldYB5T1esPIzoHMaIjWjP5TzN
REmQ4l8Mf3R30eew1P4e0bBjvE4WTkBzhsJs9Y34o1MwUTAdBgNVHQ4EFgQUDT2o
E49DXZgfzXq+0oZvbwqC3RMwHwYDVR0jBBgwFoAUDT2oE49DXZgfzXq+0oZvbwqC
3RMwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBhtbCfdODojaf7
HGHnTc57PFG/KkzvvJNjOJgHxSw/4QIgAXQdDpIwkepOPcHPMw5bfEnGJpXXytbN
ViqpxF1sKc4=
-----END CERTIFICATE-----
]]
-- LuaSec proper loads certificates through ssl.x509.
local loadcertificate = ssl.loadcertificate or require("ssl.x509").load

-----------------------------------------------------------------------------
-- The rules. LuaSocket checks a class or a group (auxiliar.c): "bad argument #1 to '?'
-- (tcp{client} expected)", the group's name for "any". LuaSec checks its one class with
-- luaL_checkudata: "(SSL:Connection expected, got <__name or type>)". A LuaSocket
-- __tostring is auxiliar.c's, which takes anything whose metatable's __index has a
-- `class` string. LuaSec's `info` is a Lua wrapper, whose error names the C function it
-- calls: only the parenthesised part is compared.
-----------------------------------------------------------------------------
local TCP_KINDS = { "tcp{master}", "tcp{client}", "tcp{server}" }
local UDP_KINDS = { "udp{unconnected}", "udp{connected}" }

local CLASSES = {
    { name = "tcp", kinds = TCP_KINDS, group = "tcp{any}", members = {
        __gc = "any", __tostring = "auxiliar", accept = "tcp{server}", bind = "tcp{master}",
        close = "any", connect = "any", dirty = "any", getfamily = "any", getfd = "any",
        getoption = "any", getpeername = "any", getsockname = "any",
        getstats = "tcp{client}", gettimeout = "any", listen = "tcp{master}",
        receive = "tcp{client}", send = "tcp{client}", setfd = "any", setoption = "any",
        setstats = "tcp{client}", settimeout = "any", shutdown = "tcp{client}" } },
    { name = "udp", kinds = UDP_KINDS, group = "udp{any}", members = {
        __gc = "any", __tostring = "auxiliar", close = "any", dirty = "any",
        getfamily = "any", getfd = "any", getoption = "any", getpeername = "udp{connected}",
        getsockname = "any", gettimeout = "any", receive = "any",
        receivefrom = "udp{unconnected}", send = "udp{connected}",
        sendto = "udp{unconnected}", setfd = "any", setoption = "any", setpeername = "any",
        setsockname = "udp{unconnected}", settimeout = "any" } },
    { name = "SSL:Context", kinds = { "SSL:Context" }, members = {
        __gc = "self", __close = "self", __tostring = "self", setverifyext = "self" } },
    { name = "SSL:Connection", kinds = { "SSL:Connection" }, members = {
        __gc = "self", __close = "self", __tostring = "self", close = "self",
        dirty = "self", dohandshake = "self", exportkeyingmaterial = "self",
        getalpn = "self", getfd = "self", getpeercertificate = "self",
        getpeerchain = "self", getpeerverification = "self", getsniname = "self",
        getstats = "self", info = "wrapper", receive = "self", send = "self",
        setstats = "self", settimeout = "self", sni = "self", want = "self" } },
    { name = "SSL:Certificate", kinds = { "SSL:Certificate" }, members = {
        __gc = "self", __close = "self", __tostring = "self", digest = "self",
        extensions = "self", getsignaturename = "self", issued = "self", issuer = "self",
        notafter = "self", notbefore = "self", pem = "self", pubkey = "self",
        serial = "self", setencode = "self", subject = "self", validat = "self" } },
}

local KNOWN = {}
for _, class in ipairs(CLASSES) do
    for _, kind in ipairs(class.kinds) do KNOWN[kind] = class end
end

-- The class of one of our objects, as its metatable says (it changes: connect, listen,
-- setpeername); nil for anything else, a table claiming a class included.
local function class_of(value)
    if type(value) ~= "userdata" then return nil end
    local mt = getmetatable(value)
    local name = type(mt) == "table" and rawget(mt, "__name")
    return KNOWN[name] and name or nil
end

-- What luaL_typeerror calls a value: its metatable's __name, or its type.
local function typename(object)
    if object.none then return "no value" end
    local mt = getmetatable(object.value)
    if type(mt) == "table" and type(rawget(mt, "__name")) == "string" then
        return rawget(mt, "__name")
    end
    return type(object.value)
end

local function contains(list, item)
    for _, v in ipairs(list) do if v == item then return true end end
    return false
end

-- What calling `member` of `class` on `object` must raise: nil when the object is
-- accepted, or the message and whether it is compared whole. For auxiliar.c's
-- __tostring, also the class name the result must start with.
local function expectation(class, member, object)
    local rule = class.members[member]
    local kind = not object.none and class_of(object.value)
    if rule == "auxiliar" then
        local mt = not object.none and getmetatable(object.value)
        local index = type(mt) == "table" and rawget(mt, "__index")
        local name = type(index) == "table" and rawget(index, "class")
        if type(name) == "string" then return nil, nil, name end
        return "invalid object passed to 'auxiliar.c:__tostring'", true
    end
    if class.group then
        local accepted = rule == "any" and contains(class.kinds, kind) or kind == rule
        if accepted then return nil end
        return ("bad argument #1 to '?' (%s expected)"):format(
            rule == "any" and class.group or rule), true
    end
    if kind == class.name then return nil end
    local why = ("(%s expected, got %s)"):format(class.name, typename(object))
    if rule == "wrapper" then
        -- Called with nothing, a Lua wrapper passes nil on: "got nil", not "no value".
        return object.none and why:gsub("got .*", "got ") or why, false
    end
    return "bad argument #1 to '?' " .. why, true
end

-----------------------------------------------------------------------------
-- The objects: one of each class and state, and foreign values.
-----------------------------------------------------------------------------
local listener = assert(socket.bind("127.0.0.1", 0))
local LISTEN_IP, LISTEN_PORT = listener:getsockname()
listener:settimeout(1)

-- A connected client, and the listener's end of it (kept so the peer stays open).
local peers = {}
local function connected_pair()
    local client = assert(socket.connect(LISTEN_IP, LISTEN_PORT))
    peers[#peers + 1] = assert(listener:accept())
    return client
end

local function new_context()
    return assert(ssl.newcontext({ mode = "client", protocol = "any", verify = "none" }))
end

-- One context for every connection: building one is the costly part of an input.
local shared_context
local function context()
    shared_context = shared_context or new_context()
    return shared_context
end

local function collected(value)
    getmetatable(value).__gc(value)
    return value
end

local function closed(value)
    value:close()
    return value
end

local function udp_connected()
    local u = socket.udp()
    assert(u:setpeername(LISTEN_IP, 9))
    return u
end

-- Constructors by name, so that the fuzz target can renew what it has closed.
local MAKERS = {
    { "tcp master", function() return socket.tcp() end },
    { "tcp master6", function() return socket.tcp6() end },
    { "tcp client", connected_pair },
    { "tcp accepted", function() connected_pair(); return table.remove(peers) end },
    { "tcp server", function() return assert(socket.bind("127.0.0.1", 0)) end },
    { "tcp closed client", function() return closed(connected_pair()) end },
    { "tcp collected client", function() return collected(connected_pair()) end },
    { "tcp collected master", function() return collected(socket.tcp()) end },
    { "udp unconnected", function() return socket.udp() end },
    { "udp connected", udp_connected },
    { "udp closed", function() return closed(socket.udp()) end },
    { "udp collected", function() return collected(udp_connected()) end },
    { "ssl context", new_context },
    { "ssl collected context", function() return collected(new_context()) end },
    { "ssl connection", function() return assert(ssl.wrap(connected_pair(), context())) end },
    { "ssl closed connection", function()
        return closed(assert(ssl.wrap(connected_pair(), context()))) end },
    { "ssl collected connection", function()
        return collected(assert(ssl.wrap(connected_pair(), context()))) end },
    { "ssl certificate", function() return assert(loadcertificate(PEM)) end },
    { "ssl collected certificate", function() return collected(assert(loadcertificate(PEM))) end },
    { "file", function() return io.stdout end },
    { "file stderr", function() return io.stderr end },
    { "table", function() return {} end },
    { "table posing as tcp", function()
        return setmetatable({}, { __name = "tcp{client}", __index = { class = "tcp{client}",
            getfd = function() return 3 end, dirty = function() return false end } })
    end },
    { "table posing as ssl", function()
        return setmetatable({}, { __name = "SSL:Connection", __index = {} }) end },
    { "nil", function() return nil end },
    { "integer", function() return 3 end },
    { "float", function() return 0.5 end },
    { "string", function() return "tcp{client}" end },
    { "boolean", function() return true end },
    { "function", function() return print end },
    { "thread", function() return coroutine.create(function() end) end },
}

local function make_objects()
    local objects = {}
    for i, maker in ipairs(MAKERS) do
        objects[i] = { name = maker[1], value = maker[2]() }
    end
    objects[#objects + 1] = { name = "no value", none = true }
    return objects
end

-----------------------------------------------------------------------------
-- Calling.
-----------------------------------------------------------------------------
-- Every member of every class, in a fixed order: { class, name, function }. Members the
-- library does not have are listed in `absent`.
local function members(objects)
    local sample = {}
    for _, object in ipairs(objects) do
        local kind = not object.none and class_of(object.value)
        if kind and not sample[KNOWN[kind]] then sample[KNOWN[kind]] = object.value end
    end
    local list, absent = {}, {}
    for _, class in ipairs(CLASSES) do
        local names = {}
        for name in pairs(class.members) do names[#names + 1] = name end
        table.sort(names)
        local mt = getmetatable(assert(sample[class], class.name))
        for _, name in ipairs(names) do
            local f = rawget(mt, name) or rawget(rawget(mt, "__index"), name)
            if type(f) == "function" then
                list[#list + 1] = { class = class, name = name, f = f }
            else
                absent[#absent + 1] = class.name .. "." .. name
            end
        end
    end
    return list, absent
end

local mismatches = {}
local counts = { wrong = 0, right = 0 }

local function call(member, object, args)
    if object.none then return pcall(member.f) end
    return pcall(member.f, object.value, table.unpack(args or {}))
end

local function describe(member, object)
    return ("%s.%s(%s)"):format(member.class.name, member.name, object.name)
end

-- A wrong-class call: must raise the expected message. Returns whether it raised.
local function check_wrong(member, object, expected, whole)
    counts.wrong = counts.wrong + 1
    local ok, err = call(member, object)
    local matches = not ok and type(err) == "string"
        and (whole and err == expected or not whole and err:find(expected, 1, true))
    if not matches then
        mismatches[#mismatches + 1] = ("%s: expected %q, got %s %s"):format(
            describe(member, object), expected, tostring(ok), tostring(err))
    end
    return not ok
end

-- auxiliar.c's __tostring on something it takes: "class: 0x...", or "(nil)" for a
-- value that is not a userdata (what C's %p prints for NULL).
local function check_tostring(member, object, name)
    counts.wrong = counts.wrong + 1
    local ok, text = call(member, object)
    local address = type(object.value) == "userdata" and "0x%x+" or "%(nil%)"
    if not (ok and type(text) == "string" and text:find("^" .. name:gsub("%p", "%%%0")
        .. ": " .. address .. "$")) then
        mismatches[#mismatches + 1] = ("%s: expected %q, got %s %s"):format(
            describe(member, object), name .. ": " .. address, tostring(ok), tostring(text))
    end
end

-- Whatever a call on an object it accepts does, it must come back (as a result or an
-- error); small timeouts keep it from waiting long.
local function quick(object)
    local kind = class_of(object.value)
    local settimeout = kind and rawget(getmetatable(object.value), "__index").settimeout
    if settimeout then pcall(settimeout, object.value, 0.001) end
end

-- One call of `member` on `object`: checked when the class is wrong, made when right.
-- Returns a number for what happened (0 accepted and returned, 1 accepted and raised,
-- 2 refused).
local function try(member, object, args)
    local expected, whole, name = expectation(member.class, member.name, object)
    if name then
        check_tostring(member, object, name)
        return 0
    elseif expected then
        check_wrong(member, object, expected, whole)
        return 2
    end
    counts.right = counts.right + 1
    quick(object)
    local ok = call(member, object, args)
    return ok and 0 or 1
end

local ARGS = {
    {}, { 0 }, { 1 }, { -1 }, { 0.5 }, { 1e308 }, { 0 / 0 }, { "*a" }, { "*l" },
    { "*l", "prefix", 4 }, { 8 }, { "x" }, { "" }, { "127.0.0.1", 0 }, { "127.0.0.1", 1 },
    { "*", 0 }, { "::1", 0 }, { "reuseaddr", true }, { "keepalive", false },
    { "tcp-nodelay", true }, { "linger", { on = false, timeout = 0 } }, { "error" },
    { "send" }, { "both" }, { "sha256" }, { 2e9 }, { "data", "127.0.0.1", 9 }, { {} },
    { true }, { io.stdout },
}

-- Destructive members go last in the `all` pass, so the others see live objects first.
local LAST = { close = 1, __close = 2, __gc = 3 }
local function by_destructiveness(a, b)
    local x, y = LAST[a.name] or 0, LAST[b.name] or 0
    if x ~= y then return x < y end
    return false
end

local function wrong_pass(list, objects)
    for _, member in ipairs(list) do
        for _, object in ipairs(objects) do
            local expected, whole, name = expectation(member.class, member.name, object)
            if name then
                check_tostring(member, object, name)
            elseif expected then
                check_wrong(member, object, expected, whole)
            end
        end
    end
end

local function right_pass(list, objects)
    local ordered = { table.unpack(list) }
    table.sort(ordered, by_destructiveness)
    for _, member in ipairs(ordered) do
        for _, object in ipairs(objects) do
            if not object.none and not expectation(member.class, member.name, object) then
                for _, args in ipairs(ARGS) do try(member, object, args) end
            end
        end
    end
end

-- What select raises for a set, as select.c: it indexes every entry for getfd, so the
-- first value that cannot be indexed raises Lua's own "attempt to index"; anything else
-- that is not a socket is ignored. nil when it must not raise.
local UNINDEXABLE = { number = true, boolean = true, ["function"] = true, thread = true }
local function select_error(set)
    for _, v in ipairs(set) do
        if UNINDEXABLE[type(v)] then return "attempt to index a " .. type(v) .. " value" end
    end
end

-- Whether select on `set` (as both tables) did what LuaSocket's would: a mismatch noted.
local function check_select(set, name)
    local ok, err = pcall(socket.select, set, set, 0)
    local expected = select_error(set)
    if ok ~= (expected == nil) or (not ok and err ~= expected) then
        mismatches[#mismatches + 1] = ("select on %s: %s, expected %s"):format(
            name, ok and "no error" or tostring(err), expected or "no error")
    end
    return ok
end

-- select ignores what is not a socket (or raises, as above); ssl.wrap refuses it.
-- Neither may trap.
local function select_and_wrap(objects)
    for _, object in ipairs(objects) do
        if not object.none then
            quick(object)
            check_select({ object.value }, object.name)
            pcall(ssl.wrap, object.value, context())
        end
    end
end

-----------------------------------------------------------------------------
-- The fuzz target's programs: three bytes a call (what, on which object, with which
-- arguments). Each call is also a feature number, for the fuzzer's guidance.
-----------------------------------------------------------------------------
local MAX_CALLS = 48

local function run_program(hex)
    local bytes = hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    local objects = make_objects()
    local list = members(objects)
    local specials = { "select", "wrap", "renew", "collect" }
    local features = {}
    for i = 1, math.min(#bytes // 3, MAX_CALLS) * 3, 3 do
        local what, which, how = bytes:byte(i, i + 2)
        local op = what % (#list + #specials) + 1
        local index = which % #objects + 1
        if which >= 128 and list[op] then
            -- Half the time, an object the member takes, so that calls get made.
            local takers = {}
            for k, o in ipairs(objects) do
                if not expectation(list[op].class, list[op].name, o) then takers[#takers + 1] = k end
            end
            if #takers > 0 then index = takers[which % #takers + 1] end
        end
        local object = objects[index]
        local args = ARGS[how % #ARGS + 1]
        if how >= 224 then
            -- Another object as the first argument after self.
            local other = objects[how % #objects + 1]
            args = other.none and {} or { other.value }
        end
        local outcome = 0
        local special = specials[op - #list]
        if not special then
            outcome = try(list[op], object, args)
        elseif special == "select" then
            local other = objects[how % #objects + 1]
            for _, o in ipairs({ object, other }) do if not o.none then quick(o) end end
            local set = {}
            for _, o in ipairs({ object, other }) do
                if not o.none then set[#set + 1] = o.value end
            end
            outcome = check_select(set, object.name .. " and " .. other.name) and 0 or 1
        elseif special == "wrap" then
            outcome = pcall(ssl.wrap, object.value, context()) and 0 or 1
        elseif special == "renew" and MAKERS[index] then
            object.value = MAKERS[index][2]()
        else
            collectgarbage("step")
        end
        features[#features + 1] = ((op - 1) * (#objects + 1) + index) * 3 + outcome
    end
    return table.concat(features, ",")
end

-----------------------------------------------------------------------------
local features = ""
if mode == "program" then
    features = run_program(assert(program, "program mode needs a hex program"))
else
    local objects = make_objects()
    local list, absent = members(objects)
    wrong_pass(list, objects)
    if mode == "all" then
        right_pass(list, objects)
        select_and_wrap(objects)
        -- The same objects, closed or collected now, are still what they were.
        wrong_pass(list, objects)
    else
        assert(mode == "wrong", "mode: wrong, all or program")
    end
    print("absent: " .. (#absent > 0 and table.concat(absent, " ") or "none"))
end
collectgarbage()
collectgarbage()
if #mismatches > 0 then
    error(#mismatches .. " mismatches:\n" .. table.concat(mismatches, "\n"), 0)
end
local summary = ("checked %d wrong-class calls, made %d right-class calls"):format(
    counts.wrong, counts.right)
if mode ~= "program" then print(summary) end
return summary, features
