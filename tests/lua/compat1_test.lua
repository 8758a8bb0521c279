-- Tests for socket.compat1 (lua/socket/compat1.lua), LuaSocket 1.x's global API: both
-- peers of every conversation inside the component, plus the protocol helpers' failures
-- that need no server (tests/compat1.rs runs them against real servers). Prints "ok"
-- when every check passes.
--
-- Run with loopback and "localhost" allowed, and nothing else:
--   luasocket-wasi run --allow-net=127.0.0.1,[::1],localhost \
--       --dir lua::/lua --dir tests/lua::/tests-lua tests/lua/compat1_test.lua
-- 10.1.2.3 and the name "denied.example" must stay denied: they stand for what the policy
-- refuses.
--
-- Each UDP socket here sends at most once and never connects after a receive timed out:
-- see the report on the core's UDP permits.

local socket = require("socket")

-- The 3.x table as it was before the compatibility module came in.
local before = {}
for k, v in pairs(socket) do before[k] = v end
local version_before = _VERSION
local globals_before = {}
for k in pairs(_G) do globals_before[k] = true end

local s1 = require("socket.compat1")

local support = require("testsupport")
local eq, yes, R, returns, raises = support.eq, support.yes, support.R, support.returns,
    support.raises

local LIMIT = 10 -- seconds any wait in this test may take before it fails

-- Polls until `sock` is ready for `operation`, failing after LIMIT seconds.
local function ready(sock, operation, what)
    local deadline = socket.gettime() + LIMIT
    while socket.gettime() < deadline do
        if poll(sock, operation) == 1 then
            support.checks = support.checks + 1
            return
        end
        socket.sleep(0.005)
    end
    error(what .. ": not ready within the limit", 2)
end

-- A port nothing listens on (a server was just there).
local function closed_port()
    local s = assert(bind("127.0.0.1", 0))
    local _, port = getsockname(s)
    close(s)
    return port
end

local GLOBALS = {
    "connect", "bind", "udpsocket", "toip", "tohostname",
    "accept", "close", "getpeername", "getsockname", "poll", "receive", "receivefrom",
    "send", "sendto", "setpeername", "setsockname", "timeout",
    "http_request", "http_get", "http_post", "smtp_mail", "mail", "ftp_get", "ftp_put",
}

-- The module ------------------------------------------------------------------------

do
    for _, name in ipairs(GLOBALS) do
        eq(type(s1[name]), "function", "module has " .. name)
        eq(_G[name], s1[name], "global " .. name .. " is the module's")
    end
    local count = 0
    for _ in pairs(s1) do count = count + 1 end
    eq(count, #GLOBALS, "the module holds exactly the 1.x functions")
    local wanted = {}
    for _, name in ipairs(GLOBALS) do wanted[name] = true end
    for k in pairs(_G) do
        yes(globals_before[k] or wanted[k], "no other global was added: " .. tostring(k))
    end
    eq(require("socket.compat1"), s1, "a second require gives the same table")
    eq(_VERSION, version_before, "Lua's _VERSION untouched")
    -- The 3.x table: the same fields, the same values, nothing added.
    for k, v in pairs(before) do eq(socket[k], v, "socket." .. tostring(k) .. " untouched") end
    for k in pairs(socket) do yes(before[k] ~= nil, "nothing added to socket: " .. tostring(k)) end
    eq(require("socket").connect, before.connect, "3.x connect still the 3.x one")
end

-- TCP: bind, connect, accept, names --------------------------------------------------

local server = assert(bind("127.0.0.1", 0))
local sip, sport = getsockname(server)
eq(sip, "127.0.0.1", "bind: address")
eq(math.type(sport), "integer", "bind: port is an integer")
yes(sport > 0, "bind: an ephemeral port was chosen")
returns("server:getsockname (method form)", R(sip, sport), server:getsockname())
returns("getpeername on a server makes no sense", R(nil), getpeername(server))

local client = assert(connect("127.0.0.1", sport))
local conn = assert(accept(server))
do
    local cip, cport = getsockname(client)
    eq(cip, "127.0.0.1", "client getsockname address")
    returns("accepted end's peer is the client", R(cip, cport), getpeername(conn))
    returns("client's peer is the server", R("127.0.0.1", sport), getpeername(client))
    returns("client:getpeername (method form)", R("127.0.0.1", sport), client:getpeername())
    eq(tostring(client):sub(1, 13), "client socket", "tostring names the kind")
end

-- TCP: send ---------------------------------------------------------------------------

returns("send: nil, then the bytes", R(nil, 10), send(client, "line one\r\n"))
returns("send several strings, a number among them", R(nil, 5), send(client, "ab", "c", 42))
returns("send nothing", R(nil, 0), send(client))
returns("send (method form)", R(nil, 1), client:send("\n"))
returns("*l after a send of pieces", R("line one", nil), receive(conn))
returns("pieces arrive in order", R("abc42", nil), receive(conn, "*l"))

-- TCP: receive patterns ----------------------------------------------------------------

send(client, "dos\r\nun\rix\r\n12345678", "tail\n")
returns("*l drops every CR; *lu keeps them; numbers; numeric strings",
    R("dos", "un\rix\r", "123", "45", nil), receive(conn, "*l", "*lu", 3, "2"))
returns("receive 0 bytes", R("", nil), receive(conn, 0))
returns("a fraction is truncated, as 1.x's C cast did", R("67", nil), receive(conn, 2.9))
returns("conn:receive (method form)", R("8tail", nil), conn:receive())

-- Bad patterns raise before anything is read, so no data is lost.
send(client, "kept\n")
raises(function() receive(conn, "*l", "*x") end,
    "bad argument #3 to 'receive' (invalid receive pattern)",
    "an unknown pattern")
raises(function() receive(conn, "*line") end,
    "invalid receive pattern", "1.x knew no abbreviations")
raises(function() receive(conn, -1) end, "invalid receive pattern", "a negative count")
raises(function() receive(conn, 1 / 0) end, "invalid receive pattern", "an infinite count")
raises(function() receive(conn, 0 / 0) end, "invalid receive pattern", "a count that is NaN")
raises(function() receive(conn, 2 ^ 63) end,
    "invalid receive pattern", "a count beyond the integers")
raises(function() receive(conn, {}) end, "bad argument #2 to 'receive' (invalid receive pattern)",
    "a table pattern")
raises(function() receive(conn, "*l", nil) end, "bad argument #3 to 'receive'", "a nil pattern")
returns("nothing was read by the failed calls", R("kept", nil), receive(conn))

-- Bad strings raise before anything is sent.
raises(function() send(client, "lost?\n", {}) end,
    "bad argument #3 to 'send' (string expected, got table)",
    "a table to send")
send(client, "after\n")
returns("the string before the bad one was not sent", R("after", nil), receive(conn))

-- TCP: timeouts ----------------------------------------------------------------------------

returns("timeout returns nothing", R(), timeout(conn, 0.05))
send(client, "tail")
returns("a line cut by the timeout: what came, then 'timeout'",
    R("tail", "timeout"), receive(conn, "*l"))
send(client, "x\nab")
returns("a later pattern times out: earlier values kept, the failing one partial",
    R("x", "ab", "timeout"), receive(conn, "*l", "*l"))
send(client, "abc")
returns("after the failing pattern (partial) the rest are nil", R("ab", "c", nil, "timeout"),
    receive(conn, 2, "*lu", 1))
send(client, "d\r")
returns("*lu times out with what it has, CR included", R("d\r", "timeout"), receive(conn, "*lu"))
returns("*a times out with what it has", R("", "timeout"), receive(conn, "*a"))

-- The return timeout ("r") bounds the whole call; the block timeout ("b") each wait. The
-- smaller one decides.
do
    timeout(conn, nil)
    returns("timeout with mode r returns nothing", R(), timeout(conn, 0.2, "r"))
    local start = socket.gettime()
    returns("return timeout", R("", "timeout"), receive(conn, "*l"))
    local took = socket.gettime() - start
    yes(took >= 0.15 and took < LIMIT, "the return timeout waited about 0.2 s, not " .. took)

    timeout(conn, 0.05)
    timeout(conn, 30, "r")
    start = socket.gettime()
    returns("the block timeout is the smaller here", R("", "timeout"), receive(conn, 4))
    took = socket.gettime() - start
    yes(took < LIMIT, "the block timeout decided, not the 30 s return timeout")

    timeout(conn, nil, "b")
    timeout(conn, 0.1, "return") -- only the first letter counts, as in 1.x
    returns("'return' is the r mode", R("", nil, "timeout"), receive(conn, "*l", "*l"))

    timeout(conn, -1, "r") -- negative: no limit
    timeout(conn, 0.05)
    returns("a negative return timeout clears it", R("", "timeout"), receive(conn, "*l"))
    timeout(conn, nil)
    send(client, "blocking again\n")
    returns("no timeout: waits for the line", R("blocking again", nil), conn:receive("*l"))
end

raises(function() timeout(conn, 1, "x") end, "bad argument #3 to 'timeout' (invalid timeout mode)",
    "an unknown timeout mode")
raises(function() timeout(conn, 1, "") end, "invalid timeout mode", "an empty timeout mode")
raises(function() timeout(conn, "soon") end,
    "bad argument #2 to 'timeout' (number expected, got string)",
    "a timeout that is no number")
returns("conn:timeout (method form)", R(), conn:timeout(nil))

-- TCP: accept with a timeout, poll ---------------------------------------------------

do
    returns("server timeout", R(), timeout(server, 0.05))
    returns("accept times out", R(nil, "timeout"), accept(server))
    returns("poll *r on an idle server", R(nil), poll(server, "*r"))
    local second = assert(connect("127.0.0.1", sport))
    ready(server, "*r", "a pending connection makes the server readable")
    local second_conn = assert(server:accept())
    returns("poll *r with nothing to read", R(nil), poll(second_conn, "*r"))
    returns("poll *s on a connected socket", R(1), poll(second, "*s"))
    send(second, "ping\n")
    ready(second_conn, "*r", "data makes the socket readable")
    returns("poll (method form)", R(1), second_conn:poll("*r"))
    returns("the data", R("ping", nil), receive(second_conn))
    raises(function() poll(second, "*x") end, "bad argument #2 to 'poll' (invalid poll operation)",
        "an unknown poll operation")
    raises(function() poll(second) end, "invalid poll operation", "no poll operation")

    -- The peer closes: "*a" completes, everything else reports "closed".
    send(second, "last words")
    close(second)
    returns("*a reads until the peer closes, and that is no error", R("last words", nil),
        receive(second_conn, "*a"))
    returns("*a again: empty, still no error", R("", nil), receive(second_conn, "*a"))
    returns("*l after the close", R("", "closed"), receive(second_conn, "*l"))
    returns("a count after the close", R("", "closed"), receive(second_conn, 3))
    returns("*lu after the close", R("", "closed"), receive(second_conn, "*lu"))
    returns("*a before *l: *a succeeds, *l reports the close", R("", "", "closed"),
        receive(second_conn, "*a", "*l"))
    close(second_conn)
end

do
    local third = assert(connect("127.0.0.1", sport))
    local third_conn = assert(accept(server))
    send(third, "abc")
    close(third)
    returns("a count cut by the close: what came, then 'closed'", R("abc", "closed"),
        receive(third_conn, 10))
    -- Sending to a peer that closed fails sooner or later (the first sends may still be
    -- buffered); the failure is "closed" with a byte count.
    local err, sent
    for _ = 1, 200 do
        err, sent = send(third_conn, string.rep("x", 65536))
        if err then break end
        socket.sleep(0.005)
    end
    eq(err, "closed", "sending to a closed peer")
    eq(math.type(sent), "integer", "the byte count comes with the error")
    close(third_conn)
end

-- TCP: what is raised ------------------------------------------------------------------

raises(function() receive(server) end,
    "bad argument #1 to 'receive' (client or udp socket expected, got server socket)",
    "receive on a server")
raises(function() accept(client) end,
    "bad argument #1 to 'accept' (server socket expected, got client socket)",
    "accept on a client")
raises(function() sendto(client, "x", "127.0.0.1", 1) end, "udp socket expected, got client socket",
    "sendto on TCP")
raises(function() send({}, "x") end, "bad argument #1 to 'send' (socket expected, got table)",
    "send on a table")
raises(function() close("sock") end, "bad argument #1 to 'close' (socket expected, got string)",
    "close on a string")
raises(function() getsockname() end, "socket expected, got no value", "getsockname of nothing")
raises(function() client.send(socket.tcp(), "x") end, "socket expected, got userdata",
    "a 3.x object is no 1.x socket")
eq(server.receive, nil, "a server has no receive method, as in 1.x")
eq(client.accept, nil, "a client has no accept method")

raises(function() connect("127.0.0.1", 70000) end,
    "bad argument #2 to 'connect' (port number out of range)",
    "connect to a port out of range")
raises(function() connect(nil, 1) end,
    "bad argument #1 to 'connect' (string expected, got no value)",
    "connect to nothing")
raises(function() bind("127.0.0.1", "x") end,
    "bad argument #2 to 'bind' (port number expected, got string)",
    "bind to a port that is no number")
raises(function() bind("127.0.0.1", 0, -1) end, "bad argument #3 to 'bind' (backlog out of range)",
    "a negative backlog")

-- The error message points at the caller's line, whichever form was used.
do
    local ok, err = pcall(function() send(client, {}) end)
    eq(ok, false, "send of a table raises")
    yes(err:find("compat1_test.lua:%d+: bad argument #2 to 'send'"),
        "the position is the script's: " .. err)
    ok, err = pcall(function() client:send({}) end)
    yes(err:find("compat1_test.lua:%d+: bad argument #2 to 'send'"),
        "also in the method form: " .. err)
end

-- TCP: errors returned -----------------------------------------------------------------

returns("connect to a closed port",
    R(nil, "connection refused"), connect("127.0.0.1", closed_port()))
returns("connect to a denied address", R(nil, "permission denied"), connect("10.1.2.3", 80))
returns("connect to a denied name", R(nil, "permission denied"), connect("denied.example", 80))
returns("bind to a denied address", R(nil, "permission denied"), bind("10.1.2.3", 0))
returns("'*' is every IPv4 address (0.0.0.0, denied here)",
    R(nil, "permission denied"), bind("*", 0))
returns("bind to a port in use", R(nil, "address already in use"), bind("127.0.0.1", sport))

do
    local named = assert(bind("localhost", 0, 5))
    local ip, port = getsockname(named)
    yes(ip == "127.0.0.1" or ip == "::1", "bind resolves a name: " .. tostring(ip))
    local c = assert(connect("localhost", port))
    local a = assert(accept(named))
    send(a, "over a name\n")
    returns("connect resolves a name", R("over a name", nil), receive(c))
    close(c); close(a); close(named)
end

do
    local server6 = assert(bind("::1", 0))
    local ip, port = getsockname(server6)
    eq(ip, "::1", "an IPv6 server")
    local c = assert(connect("::1", port))
    local a = assert(accept(server6))
    returns("an IPv6 peer", R("::1", port), getpeername(c))
    send(c, "six\n")
    returns("over IPv6", R("six", nil), receive(a))
    close(c); close(a); close(server6)
end

-- TCP: closing ----------------------------------------------------------------------------

returns("close returns nothing", R(), close(client))
returns("closing twice is harmless", R(), client:close())
raises(function() send(client, "x") end, "bad argument #1 to 'send' (socket is closed)",
    "send on a closed socket")
raises(function() receive(client) end, "socket is closed", "receive on a closed socket")
raises(function() getsockname(client) end, "socket is closed", "getsockname on a closed socket")
raises(function() timeout(client, 1) end, "socket is closed", "timeout on a closed socket")
raises(function() poll(client, "*r") end, "socket is closed", "poll on a closed socket")
close(conn)
close(server)
raises(function() accept(server) end, "socket is closed", "accept on a closed server")

-- UDP -----------------------------------------------------------------------------------

local u = assert(udpsocket())
returns("an unbound UDP socket has no name yet", R(nil), getsockname(u))
returns("nor a peer", R(nil), getpeername(u))
returns("setsockname: nil", R(nil), setsockname(u, "127.0.0.1", 0))
local uip, uport = getsockname(u)
eq(uip, "127.0.0.1", "setsockname: address")
eq(math.type(uport), "integer", "setsockname: integer port")

do
    local v = assert(udpsocket())
    returns("sendto: nil", R(nil), sendto(v, "hello", "127.0.0.1", uport))
    local _, vport = getsockname(v)
    yes(vport > 0, "the first sendto bound the socket")
    ready(u, "*r", "a datagram makes the socket readable")
    returns("receivefrom: data, ip, port", R("hello", "127.0.0.1", vport), receivefrom(u))
    returns("poll *r with no datagram waiting", R(nil), poll(u, "*r"))
    returns("poll *s on UDP", R(1), u:poll("*s"))
    -- Without a size, receive takes a whole datagram, however large (3.x's default is 8 KiB).
    local big = string.rep("z", 20000)
    returns("a large datagram leaves", R(nil), sendto(assert(udpsocket()), big, "127.0.0.1", uport))
    ready(u, "*r", "the large datagram")
    eq(receive(u), big, "receive without a size: the whole datagram")
    returns("sendto (method form)", R(nil), u:sendto("reply longer than asked", "127.0.0.1", vport))
    ready(v, "*r", "the reply")
    returns("receive cuts a datagram to the size asked", R("reply"), receive(v, 5))
    returns("timeout on UDP", R(), timeout(v, 0.05))
    returns("and the rest of it is gone", R(nil, "timeout"), receive(v))
    returns("receivefrom times out too", R(nil, "timeout"), v:receivefrom())
    timeout(v, 0.05, "r")
    returns("a return timeout on UDP", R(nil, "timeout"), receive(v, 10))
    raises(function() receive(v, -1) end, "bad argument #2 to 'receive' (size out of range)",
        "a negative size")
    raises(function() receivefrom(v, "big") end,
        "bad argument #2 to 'receivefrom' (size expected, got string)",
        "a size that is no number")
    close(v)
end

do
    local named = assert(udpsocket())
    returns("setpeername to a name: nil", R(nil), setpeername(named, "localhost", uport))
    local nip, nport = getpeername(named)
    yes(nip == "127.0.0.1" or nip == "::1", "setpeername resolved the name: " .. tostring(nip))
    eq(nport, uport, "the peer's port")
    close(named)
    local c = assert(udpsocket())
    returns("setpeername: nil", R(nil), setpeername(c, "127.0.0.1", uport))
    returns("getpeername once a peer is set", R("127.0.0.1", uport), getpeername(c))
    raises(function() sendto(c, "x", "127.0.0.1", uport) end, "sendto on connected socket",
        "sendto after setpeername")
    raises(function() receivefrom(c) end,
        "receivefrom on connected socket", "receivefrom after setpeername")
    returns("setsockname after setpeername", R("already connected"), setsockname(c, "127.0.0.1", 0))
    returns("send to the peer: nil", R(nil), send(c, "via the peer"))
    local _, cport = getsockname(c)
    ready(u, "*r", "the datagram sent to the peer")
    returns("it came from the connected socket",
        R("via the peer", "127.0.0.1", cport), receivefrom(u))
    close(c)
end

do
    -- A connected socket receives what its peer sends.
    local d = assert(udpsocket())
    setsockname(d, "127.0.0.1", 0)
    local _, dport = getsockname(d)
    local c = assert(udpsocket())
    setpeername(c, "127.0.0.1", dport)
    send(c, "ping")
    ready(d, "*r", "ping")
    local data, ip, port = receivefrom(d)
    eq(data, "ping", "ping arrived")
    sendto(d, "pong", ip, port)
    ready(c, "*r", "pong")
    returns("receive on a connected socket", R("pong"), c:receive())
    close(c); close(d)
end

do
    local x = assert(udpsocket())
    setpeername(x, "127.0.0.1", uport)
    returns("setpeername '*' takes the peer away", R(nil), x:setpeername("*"))
    returns("so there is no peer", R(nil), getpeername(x))
    raises(function() send(x, "a") end, "send on unconnected socket", "send without a peer")
    close(x)
end

do
    local r = assert(udpsocket())
    setpeername(r, "127.0.0.1", closed_port())
    returns("a datagram to a closed port leaves", R(nil), send(r, "anyone?"))
    timeout(r, LIMIT)
    returns("and the refusal comes back", R(nil, "refused"), receive(r))
    close(r)
end

returns("sendto a name: only addresses", R("Name or service not known"),
    sendto(udpsocket(), "x", "localhost", 9))
returns("sendto a denied address", R("permission denied"), sendto(udpsocket(), "x", "10.1.2.3", 9))
returns("setsockname to a denied address",
    R("permission denied"), setsockname(udpsocket(), "10.1.2.3", 0))
returns("setpeername to a denied name",
    R("permission denied"), setpeername(udpsocket(), "denied.example", 9))
raises(function() send(udpsocket(), "x") end,
    "send on unconnected socket", "send without setpeername")
raises(function() sendto(udpsocket(), "x", "127.0.0.1") end,
    "bad argument #4 to 'sendto' (port number expected, got no value)", "sendto without a port")
raises(function() accept(udpsocket()) end,
    "server socket expected, got udp socket", "accept on UDP")

returns("UDP close returns nothing", R(), close(u))
raises(function() receive(u) end, "socket is closed", "receive on a closed UDP socket")
raises(function() sendto(u, "x", "127.0.0.1", 9) end,
    "socket is closed", "sendto on a closed UDP socket")

-- DNS --------------------------------------------------------------------------------------

do
    local ip, resolved = toip("localhost")
    eq(ip, "127.0.0.1", "toip: the first address")
    eq(type(resolved), "table", "toip: the resolver's table")
    eq(type(resolved.name), "string", "toip: a canonic name")
    eq(type(resolved.alias), "table", "toip: an alias list")
    eq(resolved.ip[1], "127.0.0.1", "toip: the address list")
    ip, resolved = toip("127.0.0.1")
    eq(ip, "127.0.0.1", "toip of an address")
    eq(resolved.ip[1], "127.0.0.1", "toip of an address: its table")
    -- No reverse lookup in WASI 0.2: an address is its own name, a name stays as written.
    local name
    name, resolved = tohostname("127.0.0.1")
    eq(name, "127.0.0.1", "tohostname of an address")
    eq(type(resolved), "table", "tohostname: the resolver's table")
    returns("tohostname of a name", R("localhost"), (tohostname("localhost")))
    returns("toip of a denied name", R(nil, "permission denied"), toip("denied.example"))
    returns("tohostname of a denied name",
        R(nil, "permission denied"), tohostname("denied.example"))
    raises(function() toip() end,
        "bad argument #1 to 'toip' (string expected, got no value)", "toip of nothing")
    raises(function() tohostname({}) end,
        "bad argument #1 to 'tohostname'", "tohostname of a table")
end

-- Protocol helpers: what fails without a server ----------------------------------------------

do
    local port = closed_port()
    local base = "http://127.0.0.1:" .. port
    returns("http_get, refused", R(nil, nil, nil, "connection refused"), http_get(base .. "/"))
    returns("http_get without the scheme", R(nil, nil, nil, "connection refused"),
        http_get("127.0.0.1:" .. port .. "/x"))
    returns("http_post, refused",
        R(nil, nil, nil, "connection refused"), http_post(base .. "/", "a=1"))
    returns("http_request, refused", R(nil, nil, nil, "connection refused"),
        http_request("PUT", base .. "/f", { ["x-test"] = "1" }, "data"))
    returns("http_get of an ftp URL",
        R(nil, nil, nil, "unsupported scheme 'ftp'"), http_get("ftp://127.0.0.1/"))
    returns("http_get of a denied host",
        R(nil, nil, nil, "permission denied"), http_get("http://10.1.2.3/"))
    raises(function() http_get() end,
        "bad argument #1 to 'http_get' (string expected, got no value)",
        "http_get of nothing")
    raises(function() http_get(base, "headers") end,
        "bad argument #2 to 'http_get' (table expected, got string)",
        "http_get with headers that are no table")
    raises(function() http_post(base) end,
        "bad argument #2 to 'http_post' (string expected, got no value)",
        "http_post without a body")
    raises(function() http_request(nil, base) end,
        "bad argument #1 to 'http_request'", "a request without a method")

    local server = "127.0.0.1:" .. port
    returns("smtp_mail, refused", R("connection refused"),
        smtp_mail("a@example.com", { "b@example.com" }, { subject = "x" }, "body", server))
    returns("smtp_mail, one recipient as a string", R("connection refused"),
        smtp_mail("a@example.com", "b@example.com", nil, nil, server))
    returns("smtp_mail to a denied server", R("permission denied"),
        smtp_mail("a@example.com", { "b@example.com" }, {}, "body", "10.1.2.3"))
    raises(function() smtp_mail("a@example.com", { "b@example.com" }, {}, "body") end,
        "bad argument #5 to 'smtp_mail' (string expected, got no value)",
        "smtp_mail without a server")
    raises(function() smtp_mail("a@example.com", { {} }, {}, "body", server) end,
        "bad argument #2 to 'smtp_mail'", "a recipient that is no string")

    returns("mail, refused", R("connection refused"),
        mail { to = "b@example.com", from = "a@example.com", mailserver = server })
    returns("mail without a server", R("mail: field 'mailserver' is required"),
        mail { to = "b@example.com", from = "a@example.com" })
    returns("mail without a sender", R("mail: field 'from' is required"),
        mail { to = "b@example.com", mailserver = server })
    returns("mail with a subject that is no string", R("mail: field 'subject' must be a string"),
        mail { to = "b@example.com", from = "a@example.com", subject = 1, mailserver = server })
    raises(function() mail("b@example.com") end,
        "bad argument #1 to 'mail' (table expected, got string)",
        "mail of a string")

    local ftp = "ftp://127.0.0.1:" .. port
    returns("ftp_get, refused", R(nil, "connection refused"), ftp_get(ftp .. "/f.txt"))
    returns("ftp_get without the scheme",
        R(nil, "connection refused"), ftp_get("127.0.0.1:" .. port .. "/"))
    returns("ftp_put, refused", R("connection refused"), ftp_put(ftp .. "/f.txt", "data", "b"))
    returns("ftp_get of an http URL", R(nil, "wrong scheme 'http'"), ftp_get("http://127.0.0.1/"))
    returns("ftp_put of an http URL", R("wrong scheme 'http'"), ftp_put("http://127.0.0.1/", "x"))
    returns("ftp_get with a bad ;type",
        R(nil, "invalid type 'type=x'"), ftp_get(ftp .. "/f;type=x"))
    returns("ftp_get of a denied host", R(nil, "permission denied"), ftp_get("ftp://10.1.2.3/f"))
    raises(function() ftp_get(ftp .. "/f", "i") end,
        "bad argument #2 to 'ftp_get' (invalid transfer type)",
        "ftp_get with type 'i' (1.x had 'a' and 'b')")
    raises(function() ftp_put(ftp .. "/f", "x", "z") end,
        "bad argument #3 to 'ftp_put' (invalid transfer type)",
        "ftp_put with an unknown type")
    raises(function() ftp_put(ftp .. "/f") end,
        "bad argument #2 to 'ftp_put' (string expected, got no value)",
        "ftp_put without data")
end

print("ok")
io.stderr:write(support.checks, " checks\n")
