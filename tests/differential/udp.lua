-- UDP objects in every state (unconnected, bound, connected, closed): every method on
-- each, datagrams to and from the native echo peer, truncation, empty datagrams,
-- refusals, timeouts, and the argument errors.
local S = require "support"
local socket = require "socket"

local echo, echo6, closed_port = S.args.udp_echo, S.args.udp_echo6, S.args.udp_closed

local METHODS = {
    "close", "dirty", "getfamily", "getfd", "getoption", "getpeername", "getsockname",
    "gettimeout", "receive", "receivefrom", "send", "sendto", "setfd", "setoption",
    "setpeername", "setsockname", "settimeout",
}

-- An address answer with the port shown only as how it relates to the one expected.
local function address(label, ok, ip, port, family, expected)
    if not ok then return S.report(label, ok, ip) end
    local n = tonumber(port)
    if not n then return S.show(label, ip, port, family) end
    local which = (n == expected and "expected port") or (n == 0 and "port 0")
        or (expected == nil and "some port") or n
    S.show(label, ip, which, family)
end

local function fd(label, sock)
    local ok, n = S.invoke(sock, "getfd")
    if not ok then return S.report(label, ok, n) end
    S.show(label, math.type(n), n >= 0 and "descriptor" or n)
end

-- Every method called so that it cannot block or change the object: no arguments
-- where that only raises, timeout 0 before anything that waits.
local function sweep(state, sock, peer)
    S.show(state .. " tostring", sock)
    S.show(state .. " class", sock.class)
    for _, name in ipairs(METHODS) do
        local label = state .. " " .. name
        if name == "getfd" then fd(label, sock)
        elseif name == "getsockname" then address(label, S.invoke(sock, name))
        elseif name == "getpeername" then
            local ok, ip, port, family = S.invoke(sock, name)
            address(label, ok, ip, port, family, peer)
        elseif name == "close" then
            -- close takes no arguments to check: any call closes.
        elseif name == "receive" or name == "receivefrom" then
            sock:settimeout(0)
            S.io(label, sock, name)
        elseif name == "send" then S.io(label, sock, name)
        elseif name == "settimeout" then S.method(label .. " bad", sock, name, "x")
        else S.method(label, sock, name)
        end
    end
    sock:settimeout(0)
end

local function states()
    sweep("udp", socket.udp(), nil)
    sweep("udp4", socket.udp4(), nil)
    sweep("udp6", socket.udp6(), nil)
    local bound = socket.udp4()
    S.method("setsockname 127.0.0.1", bound, "setsockname", "127.0.0.1", 0)
    sweep("bound", bound, nil)
    S.method("setsockname again", bound, "setsockname", "127.0.0.1", 0)
    local connected = socket.udp()
    S.method("setpeername echo", connected, "setpeername", "127.0.0.1", echo)
    sweep("connected", connected, echo)
    S.method("connected setsockname 127.0.0.1", connected, "setsockname", "127.0.0.1", 0)
    S.method("connected sendto echo", connected, "sendto", "x", "127.0.0.1", echo)
    S.method("setpeername *", connected, "setpeername", "*")
    S.show("after setpeername *", connected, connected.class)
    address("getpeername after *", S.invoke(connected, "getpeername"))
    S.method("close", connected, "close")
    S.method("close again", connected, "close")
    sweep("closed", connected, nil)
end

local function datagrams()
    local u = socket.udp()
    u:settimeout(2)
    S.io("sendto echo", u, "sendto", "hello world", "127.0.0.1", echo)
    local ok, data, ip, port = S.invoke(u, "receivefrom")
    S.show("receivefrom echo", ok, data, ip, port == echo, math.type(port) or type(port))
    S.io("sendto again", u, "sendto", "hello world", "127.0.0.1", echo)
    S.io("receive 5 of 11", u, "receive", 5)
    u:settimeout(0.1)
    S.io("rest is gone", u, "receive")
    u:settimeout(2)
    S.io("sendto empty", u, "sendto", "", "127.0.0.1", echo)
    S.io("receive empty", u, "receive")
    S.io("sendto 10000", u, "sendto", string.rep("y", 10000), "127.0.0.1", echo)
    S.io("receive default size", u, "receive")
    S.io("sendto 8192", u, "sendto", string.rep("z", 8192), "127.0.0.1", echo)
    S.io("receive 20000", u, "receive", 20000)
    S.io("sendto 3", u, "sendto", "abcdef", "127.0.0.1", echo)
    local ok3, d3, ip3 = S.invoke(u, "receivefrom", 3)
    S.show("receivefrom 3", ok3, d3, ip3)
    u:close()
end

local function connected_io()
    local c = assert(socket.udp())
    c:settimeout(2)
    c:setpeername("127.0.0.1", echo)
    S.io("send", c, "send", "ping")
    S.io("receive", c, "receive")
    S.io("send number", c, "send", 42)
    S.io("receive number", c, "receive")
    c:settimeout(0)
    S.io("receivefrom connected", c, "receivefrom")
    c:settimeout(0.1)
    S.timed("receive timeout", 0.05, 3, function() return c:receive() end)
    c:close()
    local r = assert(socket.udp())
    r:settimeout(1)
    r:setpeername("127.0.0.1", closed_port)
    S.io("send to a closed port", r, "send", "anyone?")
    S.io("receive refused", r, "receive")
    S.io("send after refused", r, "send", "again?")
    r:close()
    local v6 = socket.udp6()
    v6:settimeout(2)
    S.io("udp6 sendto echo6", v6, "sendto", "six", "::1", echo6)
    S.io("udp6 receive echo6", v6, "receive")
    S.io("udp6 sendto ipv4", v6, "sendto", "four", "127.0.0.1", echo)
    v6:close()
end

local function argument_errors()
    local u = socket.udp()
    u:settimeout(0)
    S.method("sendto no address", u, "sendto", "x")
    S.method("sendto no port", u, "sendto", "x", "127.0.0.1")
    S.method("sendto name", u, "sendto", "x", "localhost", echo)
    S.method("sendto bad port", u, "sendto", "x", "127.0.0.1", "p")
    S.method("sendto port 0", u, "sendto", "x", "127.0.0.1", 0)
    S.method("sendto port 65536", u, "sendto", "x", "127.0.0.1", 65536)
    S.method("sendto table", u, "sendto", {}, "127.0.0.1", echo)
    S.method("receive -1", u, "receive", -1)
    S.method("receive string", u, "receive", "x")
    S.method("setpeername no port", u, "setpeername", "127.0.0.1")
    S.method("setpeername name", u, "setpeername", "localhost", echo)
    S.method("setsockname no port", socket.udp(), "setsockname", "127.0.0.1")
    S.method("setsockname localhost", socket.udp(), "setsockname", "localhost", 0)
    S.method("setsockname bad port", socket.udp(), "setsockname", "127.0.0.1", "p")
    S.method("udp4 setpeername ::1", socket.udp4(), "setpeername", "::1", echo6)
    S.method("udp6 setpeername 127.0.0.1", socket.udp6(), "setpeername", "127.0.0.1", echo)
    S.method("udp6 setsockname 127.0.0.1", socket.udp6(), "setsockname", "127.0.0.1", 0)
    local index = getmetatable(u).__index
    S.fn("send on a tcp object", index, "send", socket.tcp(), "x")
    S.fn("receive on a string", index, "receive", "x")
    u:close()
end

states()
datagrams()
connected_io()
argument_errors()
S.done()
