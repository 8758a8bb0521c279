-- A coroutine scheduler in the style of copas, written here over plain LuaSocket:
-- sockets with settimeout(0), socket.select to wait, coroutines that yield whenever an
-- operation says "timeout", and the non-blocking connect dance ("timeout", select for
-- writing, connect again: "already connected"). It serves a small line protocol to many
-- concurrent clients.
--
--   luasocket-wasi run --allow-net=127.0.0.1 --timeout 60 tests/lua/scheduler_test.lua both [N]
--       the server and N client coroutines (default 200) in this one script; every
--       client checks every answer. Prints "ok: N clients, N served, peak N open", then
--       how the connects went: "connects: A at once, B already connected, C second ok".
--   luasocket-wasi run --allow-net=127.0.0.1 --timeout 60 tests/lua/scheduler_test.lua serve [N]
--       only the server: prints its port, serves N connections (from anywhere, e.g.
--       native clients), then prints "served N peak P" (P: most connections open at once).
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
assert((mode == "both" or mode == "serve") and N and N >= 1,
    "usage: scheduler_test.lua both|serve [N]")

local HOST = "127.0.0.1"
-- The whole run must end within this many seconds; the scheduler fails it otherwise.
local LIMIT = 45
-- No single operation may wait more often than this (a bound on each retry loop; the
-- deadline above is the real limit).
local MAX_WAITS = 100000

local stats = {
    connected_at_once = 0,   -- connect returned 1 straight away
    already_connected = 0,   -- "timeout", select for writing, then "already connected"
    in_progress = 0,         -- a second connect asked too early (woken before connected)
    second_connect_ok = 0,   -- "timeout", select for writing, then connect returned 1
    read_waits = 0,          -- receive/accept said "timeout": the task waited for reading
    write_waits = 0,         -- send said "timeout" (partly sent): waited for writing
    selects = 0,
}

-- The scheduler ------------------------------------------------------------------------

local ready = {}          -- coroutines to resume on the next round
local reading = {}        -- socket -> the coroutine waiting until it is readable
local writing = {}        -- socket -> the coroutine waiting until it is writable
local live = 0            -- tasks not finished yet

local function spawn(fn)
    live = live + 1
    ready[#ready + 1] = coroutine.create(fn)
end

-- Resumes one task and files it under what it now waits for. A task's error ends the
-- whole run, with the task's own traceback.
local function step(co)
    local ok, what, sock = coroutine.resume(co)
    if not ok then error(debug.traceback(co, what), 0) end
    if coroutine.status(co) == "dead" then
        live = live - 1
    elseif what == "read" then
        assert(reading[sock] == nil, "two tasks reading one socket")
        reading[sock] = co
    elseif what == "write" then
        assert(writing[sock] == nil, "two tasks writing one socket")
        writing[sock] = co
    elseif what ~= "park" then -- parked tasks are held by whoever parked them
        error("a task yielded " .. tostring(what))
    end
end

local function keys(map)
    local list = {}
    for k in pairs(map) do list[#list + 1] = k end
    return list
end

-- Runs until every task has finished, or fails after LIMIT seconds.
local function run()
    local deadline = socket.gettime() + LIMIT
    while live > 0 do
        local batch = ready
        ready = {}
        for _, co in ipairs(batch) do step(co) end
        if live == 0 then break end
        local recvt, sendt = keys(reading), keys(writing)
        if #ready == 0 and #recvt == 0 and #sendt == 0 then
            error(live .. " tasks are parked with nothing that could wake them")
        end
        local remaining = deadline - socket.gettime()
        if remaining <= 0 then
            error(string.format("still %d tasks after %d s (%d waiting to read, %d to write)",
                live, LIMIT, #recvt, #sendt))
        end
        -- Tasks already runnable: only look, do not wait.
        local r, w = socket.select(recvt, sendt, #ready > 0 and 0 or remaining)
        stats.selects = stats.selects + 1
        for _, s in ipairs(r) do
            ready[#ready + 1] = reading[s]
            reading[s] = nil
        end
        for _, s in ipairs(w) do
            ready[#ready + 1] = writing[s]
            writing[s] = nil
        end
    end
end

-- A rendezvous: tasks that arrive wait until `count` have arrived.
local function barrier(count)
    local left, parked = count, {}
    return function()
        left = left - 1
        if left == 0 then
            for _, co in ipairs(parked) do ready[#ready + 1] = co end
            parked = {}
        else
            parked[#parked + 1] = coroutine.running()
            coroutine.yield("park")
        end
    end
end

-- Socket operations for tasks: as LuaSocket's, but a "timeout" (would block) yields
-- to the scheduler until select says the socket is ready, then tries again.

local function receive(sock, pattern)
    local prefix
    for _ = 1, MAX_WAITS do
        local data, err, partial = sock:receive(pattern, prefix)
        if data then return data end
        if err ~= "timeout" then return nil, err, partial end
        -- What arrived so far goes back in as the prefix, as copas does.
        prefix = partial
        stats.read_waits = stats.read_waits + 1
        coroutine.yield("read", sock)
    end
    error("receive waited too often")
end

local function send(sock, data)
    local from = 1
    for _ = 1, MAX_WAITS do
        local last, err, sent = sock:send(data, from)
        if last then return last end
        if err ~= "timeout" then return nil, err end
        -- `sent` is the index of the last byte that went out.
        from = sent + 1
        stats.write_waits = stats.write_waits + 1
        coroutine.yield("write", sock)
    end
    error("send waited too often")
end

local function accept(server)
    for _ = 1, MAX_WAITS do
        local client, err = server:accept()
        if client then
            client:settimeout(0)
            return client
        end
        if err ~= "timeout" then return nil, err end
        stats.read_waits = stats.read_waits + 1
        coroutine.yield("read", server)
    end
    error("accept waited too often")
end

-- LuaSocket's non-blocking connect: "timeout" means under way; once select reports the
-- socket writable, connecting again answers "already connected" if it worked. Native
-- LuaSocket on Linux answers 1 instead (the kernel's connect() reports the finished
-- handshake as success once, and EISCONN only after that), so, like copas, both count as
-- connected; which one came is counted and printed for the caller to check.
local function connect(host, port)
    local sock = socket.tcp()
    sock:settimeout(0)
    local ok, err = sock:connect(host, port)
    if ok then
        stats.connected_at_once = stats.connected_at_once + 1
        return sock
    end
    if err ~= "timeout" then return nil, err end
    for _ = 1, MAX_WAITS do
        coroutine.yield("write", sock)
        ok, err = sock:connect(host, port)
        if err == "already connected" then
            stats.already_connected = stats.already_connected + 1
            return sock
        elseif ok then
            stats.second_connect_ok = stats.second_connect_ok + 1
            return sock
        elseif err == "Operation already in progress" or err == "timeout" then
            stats.in_progress = stats.in_progress + 1
        else
            return nil, err
        end
    end
    error("connect waited too often")
end

-- The protocol ---------------------------------------------------------------------------

local function blob(tag, n)
    local unit = tag .. ";"
    return string.rep(unit, n // #unit + 1):sub(1, n)
end

local served, open, peak = 0, 0, 0

-- One connection, until BYE (or the peer goes away, which counts as not served).
local function handle(c)
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
    local c = assert(connect(HOST, port))
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
    local all_greeted = barrier(N)
    for i = 1, N do spawn(function() client(i, all_greeted) end) end
end

local t0 = socket.gettime()
run()
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
