-- A copas-style coroutine scheduler over plain LuaSocket, for the tests: sockets under
-- settimeout(0), socket.select to wait, tasks (coroutines) that yield whenever an
-- operation says "timeout" (or, over TLS, "wantread"/"wantwrite"), and the non-blocking
-- connect dance ("timeout", select for writing, connect again: "already connected").
-- Used by scheduler_test.lua and load_echo_server.lua (require "sched", with tests/lua
-- preopened so require finds it).
local socket = require("socket")

local M = {}

-- The whole run must end within this many seconds; the scheduler fails it otherwise.
M.LIMIT = 45
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
M.stats = stats

-- The scheduler ------------------------------------------------------------------------

local ready = {}          -- coroutines to resume on the next round
local reading = {}        -- socket -> the coroutine waiting until it is readable
local writing = {}        -- socket -> the coroutine waiting until it is writable
local live = 0            -- tasks not finished yet

function M.spawn(fn)
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

-- Runs until every task has finished, or fails after M.LIMIT seconds.
function M.run()
    local deadline = socket.gettime() + M.LIMIT
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
                live, M.LIMIT, #recvt, #sendt))
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
function M.barrier(count)
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
-- to the scheduler until select says the socket is ready, then tries again. Over TLS,
-- LuaSec says which way the protocol is blocked: "wantread" or "wantwrite".

-- What an error means for the task: wait to read, wait to write, or a real failure.
local WAIT = { timeout = "read", wantread = "read", wantwrite = "write" }

function M.receive(sock, pattern)
    local prefix
    for _ = 1, MAX_WAITS do
        local data, err, partial = sock:receive(pattern, prefix)
        if data then return data end
        if not WAIT[err] then return nil, err, partial end
        -- What arrived so far goes back in as the prefix, as copas does.
        prefix = partial
        stats.read_waits = stats.read_waits + 1
        coroutine.yield(WAIT[err], sock)
    end
    error("receive waited too often")
end

function M.send(sock, data)
    local from = 1
    for _ = 1, MAX_WAITS do
        local last, err, sent = sock:send(data, from)
        if last then return last end
        if not WAIT[err] then return nil, err end
        -- `sent` is the index of the last byte that went out.
        from = sent + 1
        stats.write_waits = stats.write_waits + 1
        coroutine.yield(err == "timeout" and "write" or WAIT[err], sock)
    end
    error("send waited too often")
end

function M.accept(server)
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

-- Wraps a connected socket with a LuaSec context (`sni`: the name a client asks for)
-- and shakes hands without blocking.
function M.secure(sock, ctx, sni)
    local conn, err = require("ssl").wrap(sock, ctx)
    if not conn then return nil, err end
    if sni then conn:sni(sni) end
    conn:settimeout(0)
    for _ = 1, MAX_WAITS do
        local ok, herr = conn:dohandshake()
        if ok then return conn end
        if not WAIT[herr] then return nil, "handshake: " .. tostring(herr) end
        coroutine.yield(WAIT[herr], conn)
    end
    error("the handshake waited too often")
end

-- LuaSocket's non-blocking connect: "timeout" means under way; once select reports the
-- socket writable, connecting again answers 1 if it worked (Linux's connect() reports
-- the finished handshake as success once, and EISCONN, "already connected", after that).
-- Like copas, both count as connected; which one came is counted and printed for the
-- caller to check.
function M.connect(host, port)
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

return M
