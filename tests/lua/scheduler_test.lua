-- A small line protocol served to many concurrent clients by the copas-style coroutine
-- scheduler of sched.lua (settimeout(0), socket.select, coroutines that yield whenever an
-- operation says "timeout", the non-blocking connect dance). tests/lua must be preopened
-- so that require finds sched.lua:
--
--   luasocket-wasi run --allow-net=127.0.0.1 --timeout 60 --dir tests/lua tests/lua/scheduler_test.lua both [N]
--       the server and N client coroutines (default 200) in this one script; every
--       client checks every answer. Prints "ok: N clients, N served, peak N open", then
--       how the connects went: "connects: A at once, B already connected, C second ok".
--   luasocket-wasi run ... tests/lua/scheduler_test.lua serve [N]
--       only the server: prints its port, serves N connections (from anywhere, e.g.
--       native clients), then prints "served N peak P" (P: most connections open at once).
--   ... both|serve N tls DIR
--       the same over TLS: every connection wrapped with LuaSec's API, the handshakes
--       non-blocking too ("wantread"/"wantwrite" wait like "timeout"). DIR holds ca.pem,
--       server.pem and server.key (tests/common/pki.rs makes them).
--
-- The protocol, one request line each, answered with one line (and data where said):
--   HELLO x        -> WELCOME x
--   ADD a b        -> SUM a+b
--   REVERSE text   -> text reversed
--   DATA n tag     -> LEN n, then n bytes: blob(tag, n)
--   UPLOAD n tag   followed by n bytes -> GOT n ok, or GOT n mismatch if they are not
--                  blob(tag, n)
--   BYE            -> BYE k (k: requests on this connection, BYE included), then close
--   anything else  -> ERR unknown command
-- blob(tag, n) is "tag;" repeated and cut to n bytes: each client's data is its own, so
-- bytes delivered to the wrong connection are caught.

local socket = require("socket")

local mode = arg[1] or "both"
local N = tonumber(arg[2] or "200")
local tls = arg[3] == "tls"
assert((mode == "both" or mode == "serve") and N and N >= 1 and (not arg[3] or (tls and arg[4])),
    "usage: scheduler_test.lua both|serve [N [tls DIR]]")

local sched = require("sched")
local spawn, receive, send, accept, connect = sched.spawn, sched.receive, sched.send,
    sched.accept, sched.connect
local stats = sched.stats

local HOST = "127.0.0.1"

-- TLS: the server's and the clients' contexts, and wrapping a connection with one.
local contexts
if tls then
    local ssl = require("ssl")
    local dir = arg[4]
    contexts = {
        server = assert(ssl.newcontext { mode = "server",
            certificate = dir .. "/server.pem", key = dir .. "/server.key" }),
        client = assert(ssl.newcontext { mode = "client", cafile = dir .. "/ca.pem" }),
    }
end

local function secure(sock, side)
    if not tls then return sock end
    return sched.secure(sock, contexts[side], side == "client" and "localhost" or nil)
end

-- The protocol ---------------------------------------------------------------------------

local function blob(tag, n)
    local unit = tag .. ";"
    return string.rep(unit, n // #unit + 1):sub(1, n)
end

local served, open, peak = 0, 0, 0

-- One connection, until BYE (or the peer goes away, which counts as not served).
local function handle(c)
    c = assert(secure(c, "server"))
    open = open + 1
    peak = math.max(peak, open)
    local requests = 0
    local function reply(line) assert(send(c, line .. "\n")) end
    for _ = 1, 100 do
        local line, err = receive(c, "*l")
        if not line then
            io.stderr:write("a connection ended without BYE: ", err, "\n")
            break
        end
        requests = requests + 1
        local command, rest = line:match("^(%u+) ?(.*)$")
        if command == "HELLO" then
            reply("WELCOME " .. rest)
        elseif command == "ADD" then
            local a, b = rest:match("^(%-?%d+) (%-?%d+)$")
            reply("SUM " .. (math.tointeger(a) + math.tointeger(b)))
        elseif command == "REVERSE" then
            reply(rest:reverse())
        elseif command == "DATA" then
            local n, tag = rest:match("^(%d+) (%S+)$")
            n = math.tointeger(n)
            assert(send(c, "LEN " .. n .. "\n" .. blob(tag, n)))
        elseif command == "UPLOAD" then
            local n, tag = rest:match("^(%d+) (%S+)$")
            n = math.tointeger(n)
            local body = assert(receive(c, n))
            reply("GOT " .. n .. (body == blob(tag, n) and " ok" or " mismatch"))
        elseif command == "BYE" then
            reply("BYE " .. requests)
            served = served + 1
            break
        else
            reply("ERR unknown command")
        end
    end
    c:close()
    open = open - 1
end

local server = socket.tcp()
assert(server:bind(HOST, 0))
-- Room for every client at once: with socket.bind's backlog of 32, a burst of
-- connects overflows the queue and the kernel retries the rest a second later.
assert(server:listen(N + 16))
server:settimeout(0)
local _, port = server:getsockname()

spawn(function()
    for _ = 1, N do
        local c = assert(accept(server))
        spawn(function() handle(c) end)
    end
    server:close()
end)

-- The clients ------------------------------------------------------------------------------

local finished = 0

local function expect(got, want, what)
    if got ~= want then
        error(string.format("%s: expected %q, got %q", what, tostring(want), tostring(got)), 2)
    end
end

local function client(i, all_greeted)
    local c = assert(secure(assert(connect(HOST, port)), "client"))
    local function ask(line)
        assert(send(c, line .. "\n"))
        return assert(receive(c, "*l"))
    end
    expect(ask("HELLO " .. i), "WELCOME " .. i, "hello")
    -- Every client holds its connection open here until all are connected and greeted:
    -- the server really has N conversations going at once.
    all_greeted()
    expect(ask("ADD " .. i .. " 1000"), "SUM " .. (i + 1000), "add")
    local text = "client-" .. i .. "-says-hi"
    expect(ask("REVERSE " .. text), text:reverse(), "reverse")
    local down, tag = 1000 + 97 * i, "down" .. i
    expect(ask("DATA " .. down .. " " .. tag), "LEN " .. down, "data header")
    local body = assert(receive(c, down))
    expect(#body, down, "data length")
    expect(body == blob(tag, down), true, "data bytes")
    local up, uptag = 20000 + 131 * i, "up" .. i
    assert(send(c, "UPLOAD " .. up .. " " .. uptag .. "\n" .. blob(uptag, up)))
    expect(receive(c, "*l"), "GOT " .. up .. " ok", "upload")
    expect(ask("NOSUCH thing"), "ERR unknown command", "unknown command")
    expect(ask("BYE"), "BYE 7", "bye")
    -- The server closes after BYE.
    local data, err = receive(c, 1)
    expect(data, nil, "nothing after BYE")
    expect(err, "closed", "the server closed")
    c:close()
    finished = finished + 1
end

if mode == "serve" then
    -- The port first, at once: the caller connects as soon as it has read it.
    io.stdout:setvbuf("no")
    print(port)
else
    local all_greeted = sched.barrier(N)
    for i = 1, N do spawn(function() client(i, all_greeted) end) end
end

local t0 = socket.gettime()
sched.run()
local elapsed = socket.gettime() - t0

io.stderr:write(string.format(
    "scheduler_test %s: %d served in %.2f s; connects: %d at once, %d already connected, %d in progress, %d second ok; waits: %d read, %d write; %d selects\n",
    mode, served, elapsed, stats.connected_at_once, stats.already_connected,
    stats.in_progress, stats.second_connect_ok, stats.read_waits, stats.write_waits,
    stats.selects))

if mode == "serve" then
    print(string.format("served %d peak %d", served, peak))
else
    expect(finished, N, "clients finished")
    expect(served, N, "connections served")
    expect(peak, N, "connections open at once")
    -- Every client connected (a second connect may come too early and be retried).
    expect(stats.connected_at_once + stats.already_connected + stats.second_connect_ok, N,
        "connects that succeeded")
    print(string.format("ok: %d clients, %d served, peak %d open", finished, served, peak))
    print(string.format("connects: %d at once, %d already connected, %d second ok",
        stats.connected_at_once, stats.already_connected, stats.second_connect_ok))
end
