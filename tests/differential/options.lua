-- setoption and getoption: every option name LuaSocket knows, on TCP masters (with and
-- without a socket yet), clients and servers, and on UDP objects; values of the wrong
-- type; names it does not know. One line per object and option: what getoption says
-- before, what setoption returns, what getoption says after.
local S = require "support"
local socket = require "socket"

-- Buffer sizes start at whatever the kernel is configured with, and Linux doubles
-- what is set: only the type, and whether at least what was asked for, can be shown.
local function sized(v, asked)
    if type(v) ~= "number" then return v end
    if not asked then return math.type(v) end
    return math.type(v) .. (v >= asked and " >= asked" or " < asked")
end

-- name, a value to set, a value of the wrong type, how to show what getoption answers
local TCP = {
    { "keepalive", true, 1 },
    { "reuseaddr", true, 1 },
    { "reuseport", true, "yes" },
    { "tcp-nodelay", true, 1 },
    { "tcp-keepidle", 30, "x" },
    { "tcp-keepcnt", 5, true },
    { "tcp-keepintvl", 10, {} },
    { "linger", { on = true, timeout = 5 }, 5 },
    { "recv-buffer-size", 65536, "big", sized },
    { "send-buffer-size", 65536, false, sized },
    { "tcp-defer-accept", 5, "x" },
    { "tcp-fastopen", 5, "x" },
    { "tcp-fastopen-connect", true, "x" },
    { "bindtodevice", "lo", 1 },
    { "ipv6-v6only", true, 1 },
}

local UDP = {
    { "dontroute", true, 1 },
    { "broadcast", true, 1 },
    { "reuseaddr", true, 1 },
    { "reuseport", true, 1 },
    { "ip-multicast-if", "127.0.0.1", 1 },
    { "ip-multicast-ttl", 4, "x" },
    { "ip-multicast-loop", false, 1 },
    { "ip-add-membership", { multiaddr = "239.255.1.2", interface = "127.0.0.1" }, "x" },
    { "ip-drop-membership", { multiaddr = "239.255.1.2", interface = "127.0.0.1" }, "x" },
    { "ipv6-unicast-hops", 10, "x" },
    { "ipv6-multicast-hops", 10, "x" },
    { "ipv6-multicast-loop", false, 1 },
    { "ipv6-add-membership", { multiaddr = "ff02::1:3", interface = 1 }, "x" },
    { "ipv6-drop-membership", { multiaddr = "ff02::1:3", interface = 1 }, "x" },
    { "ipv6-v6only", true, 1 },
    { "recv-buffer-size", 65536, "x", sized },
    { "send-buffer-size", 65536, "x", sized },
}

-- What LuaSocket's getoption knows (upstream's option tables); any other name raises
-- "unsupported option", whatever the object's state, so those are asked once per kind
-- of object (gettable_not) rather than in every state.
local TCP_GET = {
    keepalive = true, reuseaddr = true, reuseport = true, ["tcp-nodelay"] = true,
    ["tcp-keepidle"] = true, ["tcp-keepcnt"] = true, ["tcp-keepintvl"] = true, linger = true,
    ["recv-buffer-size"] = true, ["send-buffer-size"] = true, bindtodevice = true,
}
local UDP_GET = {
    dontroute = true, broadcast = true, reuseaddr = true, reuseport = true,
    ["ip-multicast-if"] = true, ["ip-multicast-loop"] = true, ["ipv6-unicast-hops"] = true,
    ["ipv6-multicast-hops"] = true, ["ipv6-multicast-loop"] = true, ["ipv6-v6only"] = true,
    ["recv-buffer-size"] = true, ["send-buffer-size"] = true,
}

local function get(sock, name, show, asked)
    local ok, v, err = S.invoke(sock, "getoption", name)
    if ok and show then v = show(v, asked) end
    return S.outcome(ok, v, err)
end

-- One option on one object, as one line: getoption before (if gettable), setoption,
-- getoption after.
local function round(state, sock, o, gettable)
    local name, value, show = o[1], o[2], o[4]
    if not gettable[name] then
        return S.line(state .. " " .. name, "set " .. S.outcome(S.invoke(sock, "setoption", name, value)))
    end
    local before = get(sock, name, show, nil)
    local set = S.outcome(S.invoke(sock, "setoption", name, value))
    local after = get(sock, name, show, value)
    S.line(state .. " " .. name, "get " .. before .. "; set " .. set .. "; get " .. after)
end

local function each(state, sock, options, gettable)
    for _, o in ipairs(options) do round(state, sock, o, gettable) end
    S.method(state .. " get error", sock, "getoption", "error")
end

-- Argument checks do not depend on the object's state: once per kind of object.
local function wrong(kind, sock, options, gettable)
    for _, o in ipairs(options) do
        S.method(kind .. " " .. o[1] .. " wrong type", sock, "setoption", o[1], o[3])
        if not gettable[o[1]] then
            S.method(kind .. " get " .. o[1], sock, "getoption", o[1])
        end
    end
    S.method(kind .. " set error", sock, "setoption", "error", 1)
    S.method(kind .. " get unknown", sock, "getoption", "no-such-option")
    S.method(kind .. " set unknown", sock, "setoption", "no-such-option", true)
    S.method(kind .. " get no name", sock, "getoption")
    S.method(kind .. " set no value", sock, "setoption", "keepalive")
    S.method(kind .. " set no name", sock, "setoption")
end

local function linger_values(sock)
    S.method("linger missing timeout", sock, "setoption", "linger", { on = true })
    S.method("linger missing on", sock, "setoption", "linger", { timeout = 1 })
    S.method("linger off", sock, "setoption", "linger", { on = false, timeout = 0 })
    S.method("linger after off", sock, "getoption", "linger")
    S.method("keepalive false", sock, "setoption", "keepalive", false)
    S.method("keepalive after false", sock, "getoption", "keepalive")
    S.method("keepalive nil", sock, "setoption", "keepalive", nil)
end

local function tcp()
    each("tcp master", socket.tcp(), TCP, TCP_GET)
    each("tcp4 master", socket.tcp4(), TCP, TCP_GET)
    each("tcp6 master", socket.tcp6(), TCP, TCP_GET)
    local client = assert(socket.connect("127.0.0.1", S.args.echo))
    each("client", client, TCP, TCP_GET)
    linger_values(client)
    client:close()
    local server = assert(socket.bind("127.0.0.1", 0))
    each("server", server, TCP, TCP_GET)
    server:close()
    wrong("tcp args", socket.tcp4(), TCP, TCP_GET)
    local closed = socket.tcp4()
    closed:close()
    round("closed", closed, TCP[1], TCP_GET)
end

local function udp()
    each("udp", socket.udp(), UDP, UDP_GET)
    each("udp4", socket.udp4(), UDP, UDP_GET)
    each("udp6", socket.udp6(), UDP, UDP_GET)
    local connected = socket.udp4()
    connected:setpeername("127.0.0.1", S.args.udp_echo)
    each("udp connected", connected, UDP, UDP_GET)
    wrong("udp args", socket.udp4(), UDP, UDP_GET)
    S.method("udp tcp option", connected, "setoption", "tcp-nodelay", true)
    S.method("udp linger", connected, "setoption", "linger", { on = true, timeout = 1 })
    S.method("udp get keepalive", connected, "getoption", "keepalive")
end

tcp()
udp()
S.done()
