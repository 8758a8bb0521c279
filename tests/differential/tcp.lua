-- TCP objects in every state (master, bound master, server, client, failed client,
-- closed): every method on each, the transitions between them, the wrong-class and
-- wrong-argument errors, and timeouts. Receive patterns have their own script.
local S = require "support"
local socket = require "socket"

local echo, refused = S.args.echo, S.args.refused

local METHODS = {
    "accept", "bind", "close", "connect", "dirty", "getfamily", "getfd", "getoption",
    "getpeername", "getsockname", "getstats", "gettimeout", "listen", "receive", "send",
    "setfd", "setoption", "setpeername", "setsockname", "setstats", "settimeout",
    "shutdown",
}

-- What a getsockname/getpeername answer shows: the address and family, and the port
-- only as how it relates to the one expected (nil: any ephemeral port). The port's
-- type is shown once, by port_type.
local function address(label, sock, method, port)
    local ok, ip, p, family = S.invoke(sock, method)
    if not ok then return S.report(label, ok, ip) end
    local n = tonumber(p)
    if not n then return S.show(label, ip, p, family) end
    local which = (n == port and "expected port") or (n == 0 and "port 0")
        or (port == nil and "some port") or n
    S.show(label, ip, which, family)
end

local function port_type()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    S.show("getsockname port type", math.type(port) or type(port))
    s:close()
end

local function stats(label, sock)
    local ok, r, s, age = S.invoke(sock, "getstats")
    if not ok then return S.report(label, ok, r) end
    S.show(label, r, s, math.type(age), age ~= nil and age >= 0)
end

local function fd(label, sock)
    local ok, n = S.invoke(sock, "getfd")
    if not ok then return S.report(label, ok, n) end
    S.show(label, math.type(n), n >= 0 and "descriptor" or n)
end

-- Every method called in a way that cannot block or change the object's state: no
-- arguments where that only raises, timeout 0 before anything that waits. The
-- answers show which methods each class has and what they say.
local function sweep(state, sock, port, peer)
    S.show(state .. " tostring", sock)
    S.show(state .. " class", sock.class)
    S.show(state .. " metatable name", getmetatable(sock).__name)
    for _, name in ipairs(METHODS) do
        local label = state .. " " .. name
        if name == "getfd" then fd(label, sock)
        elseif name == "getstats" then stats(label, sock)
        elseif name == "getsockname" then address(label, sock, name, port)
        elseif name == "getpeername" then address(label, sock, name, peer)
        elseif name == "close" then
            -- close takes no arguments to check: any call closes.
        elseif name == "listen" or name == "shutdown" then
            S.method(label .. " bad argument", sock, name, {})
        elseif name == "accept" or name == "receive" or name == "send" then
            sock:settimeout(0)
            S.io(label, sock, name, name == "send" and "" or nil)
        else
            S.method(label, sock, name)
        end
    end
    sock:settimeout(0)
end

local function wrong_objects()
    local index = getmetatable(socket.tcp()).__index
    S.fn("receive on a string", index, "receive", "x")
    S.fn("receive on nothing", index, "receive")
    S.fn("close on a udp object", index, "close", socket.udp())
    S.fn("getfd on a table", index, "getfd", {})
end

-- tcp() makes no socket until a family is known; tcp4() and tcp6() make one at once.
local function masters()
    sweep("tcp master", socket.tcp(), 0, nil)
    sweep("tcp4 master", socket.tcp4(), 0, nil)
    local m6 = socket.tcp6()
    S.method("tcp6 master getfamily", m6, "getfamily")
    address("tcp6 master getsockname", m6, "getsockname", 0)
    fd("tcp6 master getfd", m6)
    for _, make in ipairs { "tcp", "tcp4", "tcp6" } do
        local m = socket[make]()
        S.method(make .. " close", m, "close")
        S.method(make .. " close again", m, "close")
        S.show(make .. " closed", m, m.class)
        fd(make .. " closed getfd", m)
        address(make .. " closed getsockname", m, "getsockname", 0)
        S.method(make .. " closed bind", m, "bind", "127.0.0.1", 0)
        S.method(make .. " closed connect", m, "connect", "127.0.0.1", echo)
    end
end

local function bound_master()
    local m = socket.tcp()
    S.method("bind 127.0.0.1:0", m, "bind", "127.0.0.1", 0)
    sweep("bound master", m, nil, nil)
    S.method("bind again", m, "bind", "127.0.0.1", 0)
    local server = assert(socket.bind("127.0.0.1", 0))
    local ip, port = server:getsockname()
    S.method("bind a port in use", socket.tcp(), "bind", ip, port)
    server:close()
    S.method("bind bad port", socket.tcp(), "bind", "127.0.0.1", "x")
    S.method("bind port -1", socket.tcp(), "bind", "127.0.0.1", -1)
    S.method("bind port 65536", socket.tcp(), "bind", "127.0.0.1", 65536)
    S.method("bind localhost", socket.tcp(), "bind", "localhost", 0)
    S.method("bind ::1 on tcp4", socket.tcp4(), "bind", "::1", 0)
    S.method("bind 127.0.0.1 on tcp6", socket.tcp6(), "bind", "127.0.0.1", 0)
    S.method("listen default", m, "listen")
    S.show("listen makes a server", m.class)
    m:close()
end

local function servers()
    local s = assert(socket.bind("127.0.0.1", 0))
    local port = tonumber((select(2, s:getsockname())))
    sweep("server", s, port, nil)
    S.method("server listen again", s, "listen", 5)
    S.timed("accept timeout 0.1", 0.09, 2, function() s:settimeout(0.1); return s:accept() end)
    local c = assert(socket.connect("127.0.0.1", port))
    s:settimeout(2)
    local a = s:accept()
    S.show("accepted", a)
    S.show("accepted timeout", a and a:gettimeout())
    address("accepted sockname", a, "getsockname", port)
    S.method("server close", s, "close")
    S.show("closed server", s, s.class)
    S.io("closed server accept", s, "accept")
    address("closed server getsockname", s, "getsockname", nil)
    S.method("closed server listen", s, "listen")
    a:close()
    c:close()
    local s6 = socket.bind("::1", 0)
    S.show("bind ::1", s6, s6 and s6:getfamily())
    if s6 then s6:close() end
    S.call("socket.bind localhost", function()
        local l = socket.bind("localhost", 0, 8)
        return l, l:getfamily(), l:close()
    end)
    S.call("socket.bind number port", function()
        local l, e = socket.bind("127.0.0.1", "0")
        return l, e, l and l:close()
    end)
end

local function clients()
    local c = socket.tcp()
    S.method("connect echo", c, "connect", "127.0.0.1", echo)
    sweep("client", c, nil, echo)
    S.method("connect again", c, "connect", "127.0.0.1", echo)
    S.method("client bind 127.0.0.1", c, "bind", "127.0.0.1", 0)
    S.method("client listen 1", c, "listen", 1)
    S.method("client setoption keepalive", c, "setoption", "keepalive", true)
    S.method("client shutdown send", c, "shutdown", "send")
    S.method("client shutdown receive", c, "shutdown", "receive")
    S.method("client shutdown both", c, "shutdown")
    S.method("client close", c, "close")
    sweep("closed client", c, nil, nil)
    S.call("socket.connect echo", function()
        local sock, err = socket.connect("127.0.0.1", echo)
        return sock, err, sock and sock:getfamily(), sock and sock:close()
    end)
    S.call("socket.connect4 echo", function()
        local sock = socket.connect4("127.0.0.1", echo)
        return sock, sock and sock:getfamily(), sock and sock:close()
    end)
    S.call("socket.connect6 echo6", function()
        local sock = socket.connect6("::1", S.args.echo6)
        return sock, sock and sock:getfamily(), sock and sock:close()
    end)
    S.call("socket.connect localhost", function()
        local sock = socket.connect("localhost", echo)
        return sock, sock and sock:getfamily(), sock and sock:close()
    end)
    S.call("socket.connect string port", function()
        local sock = socket.connect("127.0.0.1", tostring(echo))
        return sock, sock and sock:close()
    end)
    S.call("socket.connect from 127.0.0.1", function()
        local sock, err = socket.connect("127.0.0.1", echo, "127.0.0.1", 0)
        if not sock then return sock, err end
        local ip = sock:getsockname()
        return sock, ip, sock:close()
    end)
    S.call("socket.connect6 to ipv4", function()
        local sock, err = socket.connect6("127.0.0.1", echo)
        if not sock then return sock, err end
        return sock, sock:getfamily(), (sock:getpeername())
    end)
    S.call("socket.connect4 to ipv6", function()
        local sock, err = socket.connect4("::1", S.args.echo6)
        if not sock then return sock, err end
        return sock, sock:getfamily(), (sock:getpeername())
    end)
    local c4 = socket.tcp4()
    S.method("tcp4 connect echo", c4, "connect", "127.0.0.1", echo)
    S.method("tcp4 connect again", c4, "connect", "127.0.0.1", echo)
    c4:close()
end

local function failed_connects()
    S.fn("socket.connect refused", socket, "connect", "127.0.0.1", refused)
    local c = socket.tcp()
    S.method("connect refused", c, "connect", "127.0.0.1", refused)
    sweep("refused client", c, nil, nil)
    c:close()
    S.method("connect port 0", socket.tcp(), "connect", "127.0.0.1", 0)
    S.method("connect6 to ipv4 address", socket.tcp6(), "connect", "127.0.0.1", echo)
    S.method("connect4 to ipv6 address", socket.tcp4(), "connect", "::1", S.args.echo6)
end

-- connect with timeout 0, then select for writing and connect again: the pattern
-- non-blocking clients (copas, lsocket-style schedulers) use.
local function nonblocking_connects()
    local c = socket.tcp()
    c:settimeout(0)
    S.method("nonblocking connect", c, "connect", "127.0.0.1", echo)
    S.show("nonblocking connect class", c.class)
    local _, w, err = socket.select(nil, { c }, 2)
    S.show("nonblocking select", #w, w[c] == c, err)
    S.method("nonblocking connect done", c, "connect", "127.0.0.1", echo)
    S.method("nonblocking connect after", c, "connect", "127.0.0.1", echo)
    S.method("nonblocking error option", c, "getoption", "error")
    c:close()
    local r = socket.tcp()
    r:settimeout(0)
    S.method("nonblocking refused connect", r, "connect", "127.0.0.1", refused)
    local _, w2 = socket.select(nil, { r }, 2)
    S.show("nonblocking refused select", #w2)
    S.method("nonblocking refused error", r, "getoption", "error")
    S.method("nonblocking refused error again", r, "getoption", "error")
    S.method("nonblocking refused connect again", r, "connect", "127.0.0.1", refused)
    r:close()
end

local function timeouts()
    local c = socket.tcp()
    for _, args in ipairs { { 1 }, { 1, "b" }, { 2, "t" }, { 3, "r" }, { -1 }, { nil, "t" }, { 0.5, "x" }, { "1" }, { {} } } do
        S.method("settimeout " .. S.format(args[1]) .. " " .. S.format(args[2]), c, "settimeout", args[1], args[2])
        S.method("gettimeout after " .. S.format(args[1]) .. " " .. S.format(args[2]), c, "gettimeout")
    end
    S.method("settimeout 0/0", c, "settimeout", 0 / 0)
    S.method("gettimeout after 0/0", c, "gettimeout")
    S.method("settimeout huge", c, "settimeout", math.huge)
    S.method("gettimeout after huge", c, "gettimeout")
    c:close()
end

local function stats_and_fds()
    local c = assert(socket.connect("127.0.0.1", echo))
    c:settimeout(2)
    c:send("12345\n")
    c:receive()
    stats("stats after a line", c)
    S.method("setstats", c, "setstats", 10, 20, 0)
    stats("stats after setstats", c)
    S.method("setstats bad", c, "setstats", "x")
    S.method("setstats none", c, "setstats")
    stats("stats after setstats none", c)
    S.method("setfd -1", c, "setfd", -1)
    fd("getfd after setfd -1", c)
    S.method("close after setfd -1", c, "close")
    S.method("setfd string", socket.tcp(), "setfd", "x")
end

local function collected()
    local c = assert(socket.connect("127.0.0.1", echo))
    local weak = setmetatable({ c }, { __mode = "v" })
    c = nil
    collectgarbage()
    collectgarbage()
    S.show("collected", weak[1] == nil)
end

wrong_objects()
port_type()
masters()
bound_master()
servers()
clients()
failed_connects()
nonblocking_connects()
timeouts()
stats_and_fds()
collected()
S.done()
