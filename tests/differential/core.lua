-- The socket module itself: its fields, the helpers (try, protect, newtry, skip,
-- choose, sleep, gettime), the sources and sinks over sockets, and argument errors of
-- the functions that make sockets.
local S = require "support"
local socket = require "socket"

local function sorted_keys(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    return keys
end

-- The module's functions, then each other field with its value.
local function module_shape()
    local functions = {}
    for _, k in ipairs(sorted_keys(socket)) do
        local v = socket[k]
        if type(v) == "function" then functions[#functions + 1] = k else S.show("socket." .. k, v) end
    end
    S.show("socket functions", functions)
    S.show("require socket.core", type(require "socket.core"))
    S.show("socket.core is socket", require "socket.core" == socket)
    S.show("package.loaded.socket", package.loaded.socket == socket)
    S.show("dns keys", sorted_keys(socket.dns))
    S.show("sourcet keys", sorted_keys(socket.sourcet))
    S.show("sinkt keys", sorted_keys(socket.sinkt))
end

local function time_functions()
    local t = socket.gettime()
    S.show("gettime", math.type(t), t > 1.6e9)
    S.call("gettime extra args", function() return type(socket.gettime(1, 2)) end)
    local start = socket.gettime()
    S.fn("sleep 0.05", socket, "sleep", 0.05)
    S.took("sleep 0.05 took", socket.gettime() - start, 0.045, 1)
    for _, v in ipairs { 0, -1, "0.01", "x", true } do
        S.fn("sleep " .. S.format(v), socket, "sleep", v)
    end
    S.fn("sleep nil", socket, "sleep", nil)
    S.fn("sleep nothing", socket, "sleep")
end

local function try_protect()
    S.fn("try ok", socket, "try", 1, 2, 3)
    S.fn("try nil", socket, "try", nil, "boom")
    S.fn("try false", socket, "try", false, "boom")
    S.fn("try nothing", socket, "try")
    local caught = {}
    local try = socket.newtry(function() caught[#caught + 1] = "finalizer" end)
    S.call("newtry ok", try, "a", "b")
    S.call("newtry fail", try, nil, "oops")
    S.show("newtry finalizer ran", caught)
    S.call("newtry without finalizer", socket.newtry(), nil, "plain")
    S.fn("newtry bad finalizer", socket, "newtry", 42)
    local f = socket.protect(function(a, b)
        local v = socket.try(a, b)
        return "got", v
    end)
    S.call("protect ok", f, "x", "unused")
    S.call("protect try error", f, nil, "reason")
    S.call("protect other error", socket.protect(function() error("plain error", 0) end))
    S.call("protect table error", socket.protect(function() error({ code = 1 }) end))
    S.fn("protect non-function", socket, "protect", 1)
    S.call("protect yields", function()
        local co = coroutine.wrap(socket.protect(function(x) return coroutine.yield(x) + 1 end))
        return co(10), co(20)
    end)
end

local function skip_choose()
    S.fn("skip 1", socket, "skip", 1, "a", "b", "c")
    S.fn("skip 0", socket, "skip", 0, "a", "b")
    S.fn("skip 5", socket, "skip", 5, "a", "b")
    S.fn("skip bad", socket, "skip", "x", "a")
    S.fn("skip fraction", socket, "skip", 1.5, "a")
    S.fn("skip -1", socket, "skip", -1, "a")
    S.fn("skip string count", socket, "skip", "1", "a", "b")
    S.fn("skip nothing", socket, "skip")
    S.fn("skip huge", socket, "skip", math.maxinteger, "a")
    local pick = socket.choose { a = function(x) return "A" .. x end, default = function(x) return "D" .. tostring(x) end }
    S.call("choose a", pick, "a", 1)
    S.call("choose default", pick, "zzz", 2)
    S.call("choose non-string", pick, 7, 3)
    S.call("choose no default", socket.choose { a = print }, "b")
end

local function constructors()
    for _, name in ipairs { "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6" } do
        local ok, s = pcall(socket[name])
        S.show(name, ok and s)
        if ok and s then
            S.show(name .. " class", s.class, getmetatable(s).__name)
            S.show(name .. " family", s:getfamily())
            S.show(name .. " timeout", s:gettimeout())
            s:close()
        end
        S.call(name .. " extra argument", function() return socket[name]("x") end)
    end
end

local function argument_errors()
    S.fn("connect nil", socket, "connect")
    S.fn("connect no port", socket, "connect", "127.0.0.1")
    S.fn("connect bad port", socket, "connect", "127.0.0.1", "x")
    S.fn("connect table host", socket, "connect", {}, 80)
    S.fn("connect4 nil", socket, "connect4")
    S.fn("connect6 nil", socket, "connect6")
    S.fn("connect bad family", socket, "connect", "127.0.0.1", 1, nil, nil, "inet5")
    S.fn("connect number family", socket, "connect", "127.0.0.1", 1, nil, nil, 3)
    S.fn("connect table laddress", socket, "connect", "127.0.0.1", 1, {})
    S.fn("connect table lport", socket, "connect", "127.0.0.1", 1, nil, {})
    S.fn("bind nil", socket, "bind")
    S.fn("bind no port", socket, "bind", "127.0.0.1")
    S.fn("bind table", socket, "bind", {}, 0)
    S.fn("select bad recvt", socket, "select", 1, nil, 0)
    S.fn("select bad sendt", socket, "select", nil, "x", 0)
    S.fn("select bad timeout", socket, "select", nil, nil, "x")
    S.fn("source bad mode", socket, "source", "by-what", socket.tcp())
    S.fn("sink bad mode", socket, "sink", "sideways", socket.tcp())
    S.fn("dns.toip nil", socket.dns, "toip")
    S.fn("dns.tohostname nil", socket.dns, "tohostname")
    S.fn("dns.getaddrinfo nil", socket.dns, "getaddrinfo")
    S.fn("dns.getnameinfo nil nil", socket.dns, "getnameinfo")
    S.fn("dns.getnameinfo table", socket.dns, "getnameinfo", {})
end

local function unavailable_modules()
    -- mbox.lua is installed as "mbox" by LuaRocks, as "socket.mbox" by the makefile.
    for _, name in ipairs { "socket.unix", "socket.serial", "socket.mbox", "mbox" } do
        local ok, m = pcall(require, name)
        S.show("require " .. name, ok, ok and type(m) or S.error_text(m):match("^[^\n]*"))
    end
end

module_shape()
time_functions()
try_protect()
skip_choose()
constructors()
argument_errors()
unavailable_modules()
S.done()
