-- A byte echo server for tests/load.rs: every byte a client sends comes back to it, in
-- order, whatever the sizes, with bounded memory per connection (a connection whose
-- echo is not being read stops being read too). Two designs over the same sockets:
--
--   ... load_echo_server.lua select N [PORT]     one select loop, every socket settimeout(0)
--   ... load_echo_server.lua scheduler N [PORT]  a coroutine per connection (sched.lua, so
--                                                tests/lua must be preopened)
--
-- Listens on PORT (default: any), prints the port, serves N connections until each has
-- closed, then prints
-- "served N in BYTES out BYTES heap-warm KB heap-end KB": Lua's heap after the first
-- tenth of the connections closed and after all of them (both after a full collection).
local socket = require("socket")

local design, total, port = arg[1], tonumber(arg[2]), tonumber(arg[3] or "0")
assert((design == "select" or design == "scheduler") and total and total >= 1 and port,
    "usage: load_echo_server.lua select|scheduler N [PORT]")

-- Bytes read per receive, and the most echo one connection may hold unsent.
local BLOCK, MAX_PENDING = 65536, 262144

local server = assert(socket.tcp())
assert(server:bind("127.0.0.1", port))
assert(server:listen(1024))
server:settimeout(0)
io.stdout:setvbuf("no")
print((select(2, server:getsockname())))

local served, bytes_in, bytes_out, heap_warm = 0, 0, 0, nil

local function heap()
    collectgarbage()
    collectgarbage()
    return collectgarbage("count")
end

local function finished(c)
    c:close()
    served = served + 1
    if served == math.max(1, total // 10) then heap_warm = heap() end
end

-- One select loop --------------------------------------------------------------------

-- Per connection: the echo not yet sent (one string and how far it went), whether the
-- client has closed its side.
local conns = {}

local function flush(c, st)
    if st.pending == "" then return end
    local last, err, sent = c:send(st.pending, st.from)
    local upto = last or sent or st.from - 1
    bytes_out = bytes_out + (upto - st.from + 1)
    if last then
        st.pending, st.from = "", 1
    elseif err == "timeout" then
        st.from = upto + 1
    else
        error("send: " .. tostring(err), 0)
    end
end

local function take(c, st)
    local data, err, partial = c:receive(BLOCK)
    local chunk = data or partial or ""
    if chunk ~= "" then
        bytes_in = bytes_in + #chunk
        -- Keep only what is unsent, then add the new bytes.
        st.pending = st.pending:sub(st.from) .. chunk
        st.from = 1
    end
    if err == "closed" then st.eof = true
    elseif err and err ~= "timeout" then error("receive: " .. err, 0) end
end

local function select_loop()
    while served < total do
        local recvt, sendt = { server }, {}
        for c, st in pairs(conns) do
            if not st.eof and #st.pending - st.from + 1 < MAX_PENDING then recvt[#recvt + 1] = c end
            if st.pending ~= "" then sendt[#sendt + 1] = c end
        end
        local readable, writable, err = socket.select(recvt, sendt, 20)
        if err then error(("no progress for 20 s: %d served"):format(served), 0) end
        for _, c in ipairs(readable) do
            if c == server then
                local client = server:accept()
                while client do
                    client:settimeout(0)
                    conns[client] = { pending = "", from = 1, eof = false }
                    client = server:accept()
                end
            else
                take(c, conns[c])
                flush(c, conns[c])
            end
        end
        for _, c in ipairs(writable) do
            if conns[c] then flush(c, conns[c]) end
        end
        for c, st in pairs(conns) do
            if st.eof and st.pending == "" then
                conns[c] = nil
                finished(c)
            end
        end
    end
end

-- A coroutine per connection ---------------------------------------------------------

-- Whatever has arrived, up to BLOCK bytes, waiting (as a task) only when nothing has;
-- the error comes with the last bytes when the client closed after them.
local function receive_some(c)
    while true do
        local data, err, partial = c:receive(BLOCK)
        if data then return data end
        if partial ~= "" then return partial, err ~= "timeout" and err or nil end
        if err ~= "timeout" then return nil, err end
        coroutine.yield("read", c)
    end
end

local function scheduled()
    local sched = require("sched")
    sched.LIMIT = 600
    local function echo(c)
        while true do
            local chunk, err = receive_some(c)
            if chunk then
                bytes_in = bytes_in + #chunk
                assert(sched.send(c, chunk))
                bytes_out = bytes_out + #chunk
            end
            if err == "closed" then break end
            if err then error("receive: " .. err, 0) end
        end
        finished(c)
    end
    sched.spawn(function()
        for _ = 1, total do
            local c = assert(sched.accept(server))
            sched.spawn(function() echo(c) end)
        end
    end)
    sched.run()
end

if design == "select" then select_loop() else scheduled() end
server:close()
print(("served %d in %d out %d heap-warm %.0f heap-end %.0f"):format(
    served, bytes_in, bytes_out, heap_warm or 0, heap()))
