-- Tests for lsocket (lua/lsocket.lua), both peers inside the component, driven with
-- lsocket.select. Prints "ok" when every check passes.
--
-- Run with loopback, "localhost" and the wildcard addresses allowed:
--   luasocket-wasi run --allow-net=127.0.0.1,[::1],localhost,0.0.0.0,[::] \
--       --dir lua::/lua --dir tests/lua::/tests-lua tests/lua/lsocket_test.lua
-- 10.1.2.3 must stay denied: it stands for an address the policy refuses.

local ls = require("lsocket")
local core = require("socket.core")

local support = require("testsupport")
local show, eq, yes, R, returns, raises = support.show, support.eq, support.yes, support.R,
    support.returns, support.raises

local NO_UNIX = "unix domain sockets are not available: WASI 0.2 has no Unix-domain sockets"
local NO_MCAST = "multicast is not available: WASI 0.2 has no multicast or broadcast"
local LIMIT = 10 -- seconds any single wait in this test may take before it fails

-- Waits until `sock` is ready for reading, failing the test after LIMIT seconds.
local function readable(sock, what)
    local r = ls.select({ sock }, LIMIT)
    yes(r and r[1] == sock, what .. ": readable within the limit")
end

local function writable(sock, what)
    local r, w = ls.select(nil, { sock }, LIMIT)
    yes(r and #r == 0 and w[1] == sock, what .. ": writable within the limit")
end

-- Reads exactly n bytes (TCP data may arrive in pieces).
local function recv_exactly(sock, n, what)
    local parts, have = {}, 0
    while have < n do
        readable(sock, what)
        local data = sock:recv(n - have)
        yes(type(data) == "string", what .. ": data, not " .. show(data))
        parts[#parts + 1] = data
        have = have + #data
    end
    return table.concat(parts)
end

-- A connected pair: a client made by lsocket.connect and the server's accepted end.
local function pair(server, address)
    local port = server:info("socket").port
    local c = assert(ls.connect(address, port))
    writable(c, "pair: connect")
    eq(c:status(), true, "pair: connected")
    readable(server, "pair: pending connection")
    local a, addr, p = server:accept()
    yes(a, "pair: accepted " .. show(addr))
    return c, a, addr, p
end

-- A port nobody listens on: bound, read, and released.
local function dead_port(kind, address)
    local s = assert(ls.bind(kind, address, 0))
    local port = s:info("socket").port
    s:close()
    return port
end

------------------------------------------------------------------------------
-- The module
------------------------------------------------------------------------------
eq(type(ls._VERSION), "string", "_VERSION")
yes(ls._VERSION:find("^lsocket "), "_VERSION names lsocket")
eq(ls.INADDR_ANY, "0.0.0.0", "INADDR_ANY")
eq(ls.IN6ADDR_ANY, "::", "IN6ADDR_ANY")
for _, name in ipairs({ "bind", "connect", "select", "resolve", "getinterfaces" }) do
    eq(type(ls[name]), "function", "lsocket." .. name)
end

------------------------------------------------------------------------------
-- A TCP server and client over IPv4
------------------------------------------------------------------------------
local server = assert(ls.bind("127.0.0.1", 0))
local info = server:info()
eq(info.family, "inet", "server info family")
eq(info.type, "tcp", "server info type")
eq(info.listening, true, "server info listening")
eq(info.multicast, false, "server info multicast")
eq(math.type(info.fd), "integer", "server info fd is an integer")
eq(info.fd, server:getfd(), "info fd is getfd")
yes(info.fd >= 0, "server fd is valid")
local here = server:info("socket")
eq(here.family, "inet", "server socket family")
eq(here.addr, "127.0.0.1", "server socket addr")
eq(math.type(here.port), "integer", "server port is an integer")
yes(here.port > 0, "an ephemeral port was given")
local no_peer, why = server:info("peer")
eq(no_peer, nil, "a listening socket has no peer")
eq(type(why), "string", "a listening socket has no peer: message")
yes(tostring(server):find("^lsocket%.tcp{listening}: 127%.0%.0%.1:%d+ %(inet, fd %d+%)$"),
    "tostring of a server: " .. tostring(server))
eq(server:status(), true, "server status")

-- Nothing to accept yet: would block.
returns("accept with nothing pending", R(false), server:accept())
returns("select on an idle server", R(false), ls.select({ server }, 0))

-- connect returns at once, still connecting; select for writing tells when it is done.
local client = assert(ls.connect("127.0.0.1", here.port))
do
    local text = tostring(client)
    yes(text:find("^lsocket%.tcp{connecting}: %-> 127%.0%.0%.1:" .. here.port .. " %(inet, fd %d+%)$")
        or text:find("^lsocket%.tcp{connected}: "), "tostring of a new client: " .. text)
end
local cinfo = client:info()
eq(cinfo.listening, false, "client info listening")
eq(cinfo.type, "tcp", "client info type")
eq(cinfo.family, "inet", "client info family")
eq(client:status(), true, "status while connecting has no error")
local r, w = ls.select(nil, { client }, LIMIT)
eq(type(r), "table", "select(nil, write): read table")
eq(#r, 0, "select(nil, write): read table is empty")
eq(w[1], client, "select(nil, write): the connected client")
eq(#w, 1, "select(nil, write): one socket")
eq(client:status(), true, "status once connected")
yes(tostring(client):find("^lsocket%.tcp{connected}: 127%.0%.0%.1:%d+ %-> 127%.0%.0%.1:"
    .. here.port), "tostring of a client: " .. tostring(client))

-- One table in, one table out.
eq(select("#", ls.select({ server }, LIMIT)), 1, "select(read, timeout) returns one value")
local acc, addr, port = server:accept()
yes(getmetatable(acc) == getmetatable(client), "accept returns an lsocket socket")
eq(addr, "127.0.0.1", "accept: peer address")
eq(port, client:info("socket").port, "accept: peer port is the client's")
eq(math.type(port), "integer", "accept: port is an integer")
eq(acc:info().listening, false, "accepted socket is not listening")
local peer = client:info("peer")
eq(peer.addr, "127.0.0.1", "client peer addr")
eq(peer.port, here.port, "client peer port")
eq(peer.family, "inet", "client peer family")
eq(acc:info("peer").port, client:info("socket").port, "accepted peer is the client")

-- Nothing sent yet: would block, on both recv and recvfrom.
returns("recv with no data", R(false), acc:recv())
returns("recvfrom with no data", R(false), acc:recvfrom())

-- Data both ways.
returns("send", R(5), client:send("hello"))
readable(acc, "server side")
eq(acc:recv(), "hello", "recv")
returns("send back", R(6), acc:send("world!"))
eq(recv_exactly(client, 6, "client side"), "world!", "recv on the client")

-- recv(size) takes at most size bytes; the rest stays for the next call.
returns("send abcdef", R(6), client:send("abcdef"))
eq(recv_exactly(acc, 2, "recv(2)"), "ab", "recv(2)")
eq(recv_exactly(acc, 4, "the rest"), "cdef", "the rest after recv(2)")

-- recvfrom on TCP names the peer; sendto on TCP ignores the address.
returns("sendto on tcp", R(3), client:sendto("xyz", "10.1.2.3", 9))
readable(acc, "recvfrom on tcp")
local data, from, fport = acc:recvfrom()
eq(data, "xyz", "recvfrom on tcp: data")
eq(from, "127.0.0.1", "recvfrom on tcp: address")
eq(fport, client:info("socket").port, "recvfrom on tcp: port")

-- What a listening socket and a client cannot do.
returns("accept on a client", R(nil, "socket is not listening"), client:accept())
returns("recv on a listening socket", R(nil, "socket is not connected"), server:recv())
returns("send on a listening socket", R(nil, "socket is not connected"), server:send("x"))

-- A full send buffer: send answers false rather than blocking.
do
    local chunk = string.rep("0123456789abcdef", 4096) -- 64 KiB
    local total, blocked = 0, false
    for _ = 1, 4096 do -- at most 256 MiB: far more than any socket buffer
        local n = client:send(chunk)
        if n == false then blocked = true break end
        yes(type(n) == "number" and n > 0 and n <= #chunk, "send progress " .. show(n))
        total = total + n
    end
    yes(blocked, "send returns false once the peer stops reading")
    -- Drain it all with select on both ends, and check every byte arrived in order.
    local got = 0
    local ok = true
    while got < total do
        readable(acc, "draining")
        local piece = acc:recv(100000)
        yes(type(piece) == "string", "draining: " .. show(piece))
        for i = 1, #piece, 997 do
            local at = (got + i - 1) % #chunk + 1
            if piece:byte(i) ~= chunk:byte(at) then ok = false end
        end
        got = got + #piece
    end
    eq(got, total, "every byte sent arrived")
    yes(ok, "the bytes arrived in order")
    returns("nothing more", R(false), acc:recv())
end

-- The peer closes: select reports it readable and recv answers a bare nil.
returns("close", R(true), acc:close())
returns("close again", R(true), acc:close())
eq(acc:getfd(), -1, "getfd after close")
eq(acc:info().fd, -1, "info fd after close")
returns("status after close", R(nil, "socket is closed"), acc:status())
returns("recv after close", R(nil, "socket is closed"), acc:recv())
returns("send after close", R(nil, "socket is closed"), acc:send("x"))
returns("info(socket) after close", R(nil, "socket is closed"), acc:info("socket"))
eq(tostring(acc), "lsocket.tcp{closed}", "tostring after close")
readable(client, "peer closed")
returns("recv from a closed peer", R(nil), client:recv())
returns("recv again from a closed peer", R(nil), client:recv())
returns("recvfrom from a closed peer", R(nil), client:recvfrom())
eq(client:status(), true, "a closed peer is no socket error")
-- Sending to a closed peer fails (after at most a few sends, once the reset arrives).
do
    local n, err
    for _ = 1, 200 do
        n, err = client:send("anyone?")
        if n == nil then break end
        ls.select(0.01)
    end
    eq(n, nil, "sending to a closed peer fails")
    eq(type(err), "string", "sending to a closed peer: message")
end
client:close()

-- Closed sockets are ignored by select: alone, they leave nothing to wait on.
returns("select on closed sockets only", R(nil, "select: no open sockets to wait on and no timeout"),
    ls.select({ acc }, { client }))
returns("select on closed sockets, with a timeout", R(false), ls.select({ acc }, 0.01))

------------------------------------------------------------------------------
-- Reading-select waits for data, not just for the connect to finish
------------------------------------------------------------------------------
do
    local c = assert(ls.connect("127.0.0.1", here.port))
    returns("select for reading before data", R(false), ls.select({ c }, 0.3))
    eq(c:status(), true, "connected meanwhile")
    readable(server, "second connection")
    local a = assert(server:accept())
    a:send("data")
    readable(c, "data for the connecting client")
    -- select read the data ahead for recv: the socket says so to socket.select.
    eq(c:dirty(), true, "dirty while select holds data")
    eq(c:recv(), "data", "data after the connect")
    eq(c:dirty(), false, "not dirty once taken")
    -- socket.select takes lsocket sockets too (by getfd/dirty).
    a:send("more")
    local cr = core.select({ c }, nil, LIMIT)
    eq(cr[1], c, "socket.select returns the lsocket socket")
    eq(type(c:dirty()), "boolean", "dirty answers a boolean")
    eq(c:recv(), "more", "data after socket.select")
    -- select with both tables given: two results, in the order passed.
    local r2, w2 = ls.select({ c }, { a, c }, 0)
    eq(#r2, 0, "nothing to read")
    eq(w2[1], a, "writable in order: first")
    eq(w2[2], c, "writable in order: second")
    eq(select("#", ls.select({ c }, nil, 0.01)), 1, "timeout: one false")
    -- setfd(-1) detaches, which here closes; the peer sees the close.
    returns("setfd(5)", R(nil, "invalid descriptor: only -1 can be set"), c:setfd(5))
    returns("setfd(-1)", R(true), c:setfd(-1))
    eq(c:getfd(), -1, "getfd after setfd(-1)")
    returns("status after setfd(-1)", R(nil, "socket is closed"), c:status())
    readable(a, "peer of a detached socket")
    returns("peer of a detached socket reads the close", R(nil), a:recv())
    a:close()
end

------------------------------------------------------------------------------
-- A select-driven echo server with several clients at once
------------------------------------------------------------------------------
do
    local clients, expect = {}, {}
    for i = 1, 4 do
        clients[i] = assert(ls.connect("127.0.0.1", here.port))
        expect[clients[i]] = string.rep(string.char(64 + i), 1000 * i)
    end
    local conns, sent, echoed = {}, {}, {}
    local deadline = core.gettime() + LIMIT
    local done = 0
    while done < #clients do
        yes(core.gettime() < deadline, "echo round within the limit")
        local reads = { server }
        for _, c in ipairs(conns) do reads[#reads + 1] = c end
        for _, c in ipairs(clients) do reads[#reads + 1] = c end
        local writes = {}
        for _, c in ipairs(clients) do
            if not sent[c] then writes[#writes + 1] = c end
        end
        local rr, ww = ls.select(reads, writes, 1)
        for _, c in ipairs(rr or {}) do
            if c == server then
                conns[#conns + 1] = assert(server:accept())
            elseif expect[c] then
                local piece = c:recv()
                if piece then
                    echoed[c] = (echoed[c] or "") .. piece
                    if #echoed[c] == #expect[c] then done = done + 1 end
                end
            else
                local piece = c:recv()
                if piece then
                    -- Small echoes fit the send buffer: the whole piece goes out.
                    eq(c:send(piece), #piece, "echo sends it all")
                end
            end
        end
        for _, c in ipairs(ww or {}) do
            eq(c:send(expect[c]), #expect[c], "client sends its text")
            sent[c] = true
        end
    end
    for _, c in ipairs(clients) do
        eq(echoed[c], expect[c], "echo of client " .. expect[c]:sub(1, 1))
        c:close()
    end
    for _, c in ipairs(conns) do c:close() end
end

------------------------------------------------------------------------------
-- Connection refused: reported by status() after select, or at once
------------------------------------------------------------------------------
do
    local port = dead_port("tcp", "127.0.0.1")
    local c, err = ls.connect("127.0.0.1", port)
    if c then
        writable(c, "refused connect")
        returns("status of a refused connect", R(nil, "connection refused"), c:status())
        returns("status stays", R(nil, "connection refused"), c:status())
        returns("recv on a refused socket", R(nil, "connection refused"), c:recv())
        returns("send on a refused socket", R(nil, "connection refused"), c:send("x"))
        eq(tostring(c), "lsocket.tcp{failed}: connection refused", "tostring of a failed socket")
        -- A failed socket is ready at once, for reading and writing alike.
        local rr, ww = ls.select({ c }, { c }, LIMIT)
        eq(rr[1], c, "failed socket readable")
        eq(ww[1], c, "failed socket writable")
        returns("close a failed socket", R(true), c:close())
    else
        eq(err, "connection refused", "refused at once")
    end
end

------------------------------------------------------------------------------
-- Errors: policy, names, arguments
------------------------------------------------------------------------------
returns("connect to a denied address", R(nil, "permission denied"), ls.connect("10.1.2.3", 80))
returns("bind to a denied address", R(nil, "permission denied"), ls.bind("10.1.2.3", 0))
returns("connect to a denied name", R(nil, "permission denied"),
    ls.connect("example.invalid", 80))
returns("resolve a denied name", R(nil, "permission denied"), ls.resolve("example.invalid"))
returns("udp to a denied address", R(nil, "permission denied"), ls.connect("udp", "10.1.2.3", 9))

raises(function() ls.connect() end, "bad argument #1 to 'connect'", "connect()")
-- Argument errors point at the script's line, as Lua's own do.
do
    local _, err = pcall(function() ls.bind("tcp", {}) end)
    yes(tostring(err):find("^[^\n]*lsocket_test%.lua:%d+: bad argument #2 to 'bind'"),
        "argument error position: " .. show(err))
    _, err = pcall(server.recv, server, -1)
    yes(tostring(err):find("bad argument #1 to 'recv' (size out of range)", 1, true),
        "recv(-1): " .. show(err))
    yes(tostring(err):find("lsocket%.lua:") == nil, "errors never point into the module")
end
raises(function() server:recv(1.5) end, "size has no integer representation", "recv(1.5)")
raises(function() ls.connect("tcp") end, "bad argument #2 to 'connect'", "connect(type)")
raises(function() ls.connect("127.0.0.1") end, "bad argument #2 to 'connect'", "connect without port")
raises(function() ls.connect("127.0.0.1", 70000) end, "port number out of range", "port 70000")
raises(function() ls.connect("127.0.0.1", "http") end, "port number expected", "port by name")
raises(function() ls.bind("tcp", {}, 1) end, "bad argument #2 to 'bind'", "bind with a table")
raises(function() ls.bind("127.0.0.1", 0, -1) end, "backlog out of range", "negative backlog")
raises(function() ls.resolve() end, "bad argument #1 to 'resolve'", "resolve()")
raises(function() ls.select("x") end, "bad argument #1 to 'select'", "select(string)")
raises(function() ls.select({ 1 }) end, "table of lsocket sockets expected", "select({1})")
raises(function() ls.select({}, {}, {}, 1) end, "bad argument #3 to 'select'", "select(4 args)")
raises(function() ls.select(0 / 0) end, "timeout is not a number", "select(NaN)")
raises(function() server:recv(0) end, "bad argument #1 to 'recv'", "recv(0)")
raises(function() server:recvfrom("x") end, "bad argument #1 to 'recvfrom'", "recvfrom('x')")
raises(function() server:send() end, "bad argument #1 to 'send'", "send()")
raises(function() server:sendto("x") end, "bad argument #2 to 'sendto'", "sendto without address")
raises(function() server:info("bogus") end, "invalid option 'bogus'", "info('bogus')")
raises(function() server.recv({}) end, "lsocket socket expected", "recv on a plain table")
raises(function() server.close(nil) end, "lsocket socket expected", "close(nil)")

-- A port in use.
do
    local again, err = ls.bind("127.0.0.1", here.port)
    eq(again, nil, "bind to a port in use")
    eq(type(err), "string", "bind to a port in use: message")
end

------------------------------------------------------------------------------
-- Defaults: INADDR_ANY, and the port given where the address would be
------------------------------------------------------------------------------
do
    local any = assert(ls.bind())
    eq(any:info("socket").addr, "0.0.0.0", "bind() binds INADDR_ANY")
    eq(any:info().type, "tcp", "bind() is tcp")
    local c, a = pair(any, "127.0.0.1")
    eq(c:send("any"), 3, "send via INADDR_ANY")
    eq(recv_exactly(a, 3, "INADDR_ANY"), "any", "data via INADDR_ANY")
    c:close() a:close() any:close()
    local port = dead_port("tcp", "127.0.0.1")
    local byport = assert(ls.bind(port))
    eq(byport:info("socket").port, port, "bind(port)")
    eq(byport:info("socket").addr, "0.0.0.0", "bind(port) binds INADDR_ANY")
    byport:close()
    local six = assert(ls.bind("tcp", ls.IN6ADDR_ANY, 0, 1))
    eq(six:info().family, "inet6", "IN6ADDR_ANY makes an IPv6 socket")
    eq(six:info("socket").addr, "::", "bound to IN6ADDR_ANY")
    six:close()
end

------------------------------------------------------------------------------
-- IPv6
------------------------------------------------------------------------------
do
    local s6 = assert(ls.bind("tcp", "::1", 0))
    eq(s6:info().family, "inet6", "::1 makes an IPv6 server")
    eq(s6:info("socket").addr, "::1", "IPv6 server address")
    yes(tostring(s6):find("^lsocket%.tcp{listening}: %[::1%]:%d+ %(inet6, fd %d+%)$"),
        "tostring of an IPv6 server: " .. tostring(s6))
    local c6, a6, addr6 = pair(s6, "::1")
    eq(addr6, "::1", "IPv6 accept address")
    eq(c6:info().family, "inet6", "IPv6 client family")
    eq(c6:info("peer").family, "inet6", "IPv6 peer family")
    eq(c6:info("peer").addr, "::1", "IPv6 peer address")
    eq(c6:send("six"), 3, "IPv6 send")
    eq(recv_exactly(a6, 3, "IPv6"), "six", "IPv6 recv")
    c6:close()
    readable(a6, "IPv6 close")
    returns("IPv6 closed peer", R(nil), a6:recv())
    a6:close() s6:close()
end

------------------------------------------------------------------------------
-- Names
------------------------------------------------------------------------------
do
    local list = ls.resolve("127.0.0.1")
    eq(#list, 1, "resolve a literal: one entry")
    eq(list[1].family, "inet", "resolve literal family")
    eq(list[1].addr, "127.0.0.1", "resolve literal addr")
    local l6 = ls.resolve("::1")
    eq(l6[1].family, "inet6", "resolve IPv6 literal family")
    eq(l6[1].addr, "::1", "resolve IPv6 literal addr")
    local names = assert(ls.resolve("localhost"))
    yes(#names >= 1, "localhost resolves")
    for _, e in ipairs(names) do
        local loop = (e.family == "inet" and e.addr:find("^127%.")) or
            (e.family == "inet6" and e.addr == "::1")
        yes(loop, "localhost is loopback: " .. show(e.family) .. " " .. show(e.addr))
    end
    -- The family follows the name's first address.
    local sl = assert(ls.bind("localhost", 0))
    eq(sl:info().family, names[1].family, "bind(localhost) takes the first address's family")
    local cl, al = pair(sl, "localhost")
    eq(cl:info().family, names[1].family, "connect(localhost) family")
    eq(cl:send("name"), 4, "send over a name")
    eq(recv_exactly(al, 4, "by name"), "name", "recv over a name")
    cl:close() al:close() sl:close()
end

------------------------------------------------------------------------------
-- UDP
------------------------------------------------------------------------------
local function udp_exchange(host)
    local fam = host:find(":") and "inet6" or "inet"
    local u = assert(ls.bind("udp", host, 0))
    local ui = u:info()
    eq(ui.type, "udp", host .. ": udp info type")
    eq(ui.family, fam, host .. ": udp info family")
    eq(ui.listening, true, host .. ": a bound udp socket counts as made by bind")
    eq(ui.multicast, false, host .. ": not multicast")
    local uport = u:info("socket").port
    eq(u:info("socket").addr, host, host .. ": udp socket addr")
    returns(host .. ": recvfrom with nothing there", R(false), u:recvfrom())
    returns(host .. ": recv with nothing there", R(false), u:recv())
    returns(host .. ": bound udp has no peer", R(nil, "socket is not connected"), u:info("peer"))
    returns(host .. ": send without a peer", R(nil, "destination address required: use sendto"),
        u:send("x"))

    local v = assert(ls.connect("udp", host, uport))
    eq(v:info().listening, false, host .. ": connected udp is not listening")
    eq(v:status(), true, host .. ": udp status")
    local vport = v:info("socket").port
    eq(v:info("peer").port, uport, host .. ": udp peer port")
    eq(v:info("peer").addr, host, host .. ": udp peer addr")
    yes(tostring(v):find("^lsocket%.udp{connected}: "), host .. ": tostring " .. tostring(v))
    yes(tostring(u):find("^lsocket%.udp{bound}: "), host .. ": tostring " .. tostring(u))
    returns(host .. ": udp send", R(4), v:send("ping"))
    readable(u, host .. ": datagram")
    returns(host .. ": recvfrom", R("ping", host, vport), u:recvfrom())
    returns(host .. ": sendto", R(4), u:sendto("pong", host, vport))
    readable(v, host .. ": reply")
    returns(host .. ": recv on connected udp", R("pong"), v:recv())
    returns(host .. ": sendto on connected udp", R(nil, "already connected: use send"),
        v:sendto("x", host, uport))
    -- Datagrams longer than the size are truncated, the rest is dropped.
    eq(v:send("abcdef"), 6, host .. ": long datagram")
    readable(u, host .. ": long datagram")
    returns(host .. ": recvfrom(2) truncates", R("ab", host, vport), u:recvfrom(2))
    returns(host .. ": the rest is gone", R(false), u:recvfrom())
    -- recvfrom on a connected socket names its peer.
    eq(u:sendto("again", host, vport), 5, host .. ": sendto again")
    readable(v, host .. ": again")
    returns(host .. ": recvfrom on connected udp", R("again", host, uport), v:recvfrom())
    -- An empty datagram is data, not "would block".
    eq(v:send(""), 0, host .. ": empty datagram")
    readable(u, host .. ": empty datagram")
    eq(u:recv(), "", host .. ": recv an empty datagram")
    -- The other family's address cannot be reached from this socket.
    local other = fam == "inet" and "::1" or "127.0.0.1"
    returns(host .. ": sendto the other family", R(nil, "address family not supported by protocol"),
        u:sendto("x", other, vport))
    returns(host .. ": sendto a unix path", R(nil, NO_UNIX), u:sendto("x", "/tmp/sock", 0))
    v:close() u:close()
    returns(host .. ": recvfrom after close", R(nil, "socket is closed"), u:recvfrom())
    returns(host .. ": sendto after close", R(nil, "socket is closed"), u:sendto("x", host, 9))
end
udp_exchange("127.0.0.1")
udp_exchange("::1")

-- sendto looks names up, picking an address of the socket's family.
do
    local u = assert(ls.bind("udp", "127.0.0.1", 0))
    local v = assert(ls.bind("udp", "127.0.0.1", 0))
    eq(v:sendto("named", "localhost", u:info("socket").port), 5, "sendto a name")
    readable(u, "sendto a name")
    eq(u:recvfrom(), "named", "datagram sent to a name")
    -- bind("udp") alone: INADDR_ANY, ephemeral port.
    local any = assert(ls.bind("udp"))
    eq(any:info("socket").addr, "0.0.0.0", "bind('udp') binds INADDR_ANY")
    eq(v:sendto("to any", "127.0.0.1", any:info("socket").port), 6, "sendto INADDR_ANY socket")
    readable(any, "INADDR_ANY udp")
    eq(any:recvfrom(), "to any", "datagram on INADDR_ANY")
    u:close() v:close() any:close()
end

-- A datagram to a port nobody listens on comes back refused.
do
    local v = assert(ls.connect("udp", "127.0.0.1", dead_port("udp", "127.0.0.1")))
    eq(v:send("anyone?"), 7, "send to nobody")
    readable(v, "refusal")
    returns("refused datagram", R(nil, "connection refused"), v:recv())
    returns("nothing after the refusal", R(false), v:recv())
    v:close()
end

------------------------------------------------------------------------------
-- select as a sleep, and its edge cases
------------------------------------------------------------------------------
do
    local t0 = core.gettime()
    returns("select(timeout)", R(false), ls.select(0.05))
    yes(core.gettime() - t0 >= 0.04, "select(timeout) sleeps")
    returns("select() without sockets or timeout",
        R(nil, "select: no open sockets to wait on and no timeout"), ls.select())
    returns("select({}, {}, timeout)", R(false), ls.select({}, {}, 0.01))
    returns("a negative timeout is no timeout", R(nil, "select: no open sockets to wait on and no timeout"),
        ls.select({}, -1))
end

------------------------------------------------------------------------------
-- What WASI 0.2 cannot do
------------------------------------------------------------------------------
returns("bind a unix path", R(nil, NO_UNIX), ls.bind("/tmp/lsocket.sock"))
returns("bind an abstract unix name", R(nil, NO_UNIX), ls.bind("@abstract"))
returns("bind a unix path, udp", R(nil, NO_UNIX), ls.bind("udp", "/tmp/lsocket.sock"))
returns("connect a unix path", R(nil, NO_UNIX), ls.connect("/tmp/lsocket.sock"))
returns("connect an abstract unix name", R(nil, NO_UNIX), ls.connect("tcp", "@abstract"))
returns("bind mcast", R(nil, NO_MCAST), ls.bind("mcast", "127.0.0.1", 0))
returns("connect mcast", R(nil, NO_MCAST), ls.connect("mcast", "239.1.2.3", 5000, 2))
returns("connect mcast over IPv6", R(nil, NO_MCAST), ls.connect("mcast", "ff02::1", 5000))
do
    local ifs = ls.getinterfaces()
    eq(type(ifs), "table", "getinterfaces returns a table")
    eq(#ifs, 2, "getinterfaces: the loopback addresses")
    local seen = {}
    for _, i in ipairs(ifs) do
        eq(i.name, "lo", "interface name")
        eq(type(i.mask), "string", "interface mask")
        seen[i.family .. " " .. i.addr] = true
    end
    yes(seen["inet 127.0.0.1"], "getinterfaces lists 127.0.0.1")
    yes(seen["inet6 ::1"], "getinterfaces lists ::1")
    -- Every address it lists can be bound (the sandbox allows loopback here).
    for _, i in ipairs(ifs) do
        local s = assert(ls.bind("udp", i.addr, 0))
        s:close()
    end
end

server:close()
returns("server closed", R(nil, "socket is closed"), server:accept())
io.stderr:write("lsocket_test: ", support.checks, " checks\n")
print("ok")
