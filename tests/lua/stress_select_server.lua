-- A line server in one select loop, for tests/stress.rs: every socket under
-- settimeout(0), clients accepted as they come, each line answered as soon as it is read.
--
--   luasocket-wasi run --allow-net=127.0.0.1 tests/lua/stress_select_server.lua CONNECTIONS MODE
--
-- MODE "echo": each line goes back to its sender. MODE "broadcast": once all CONNECTIONS
-- are in, every client gets "GO", and each line is then sent to every other client (a
-- chat room or pub/sub hub: a thousand sends in a row).
--
-- Prints its port, serves CONNECTIONS clients until each has closed, then prints
-- "served C sent S biggest-select B". The lines are short and every client reads what
-- it is sent, so each send must take the whole line at once, as it does natively: a send
-- that takes less is reported and ends the run (a server that ignored it would lose the
-- line, and its client would wait for it forever).
local socket = require("socket")

local connections, mode = tonumber(arg[1]), arg[2]
assert(connections and (mode == "echo" or mode == "broadcast"),
    "usage: stress_select_server.lua CONNECTIONS echo|broadcast")

local server = assert(socket.tcp())
assert(server:bind("127.0.0.1", 0))
-- Room for every client at once, so no connect waits for the kernel to retry it.
assert(server:listen(connections + 16))
server:settimeout(0)
io.stdout:setvbuf("no")
print((select(2, server:getsockname())))

-- The read set: the listener first, then the clients (swap-remove on close).
local recvt, index, partial = { server }, {}, {}
local accepted, closed, sent, biggest = 0, 0, 0, 0

local function drop(s)
    local i, last = index[s], recvt[#recvt]
    recvt[i], index[last] = last, i
    recvt[#recvt], index[s], partial[s] = nil, nil, nil
    s:close()
    closed = closed + 1
end

-- Sends a whole short line, or ends the run saying how much went.
local function send(s, line)
    local done, err, last = s:send(line)
    if done ~= #line then
        error(("send took %s of %d bytes (%s) after %d sends"):format(
            tostring(done or last), #line, tostring(err), sent), 0)
    end
    sent = sent + 1
end

-- Sends `line` to every client but `from`.
local function broadcast(line, from)
    for i = 2, #recvt do
        if recvt[i] ~= from then send(recvt[i], line) end
    end
end

local function accept_all()
    local c = server:accept()
    while c do
        c:settimeout(0)
        recvt[#recvt + 1] = c
        index[c] = #recvt
        accepted = accepted + 1
        if mode == "broadcast" and accepted == connections then broadcast("GO\n") end
        c = server:accept()
    end
end

-- Answers every whole line the client has sent so far.
local function serve(s)
    repeat
        local line, err, part = s:receive("*l", partial[s])
        partial[s] = part
        if line and mode == "echo" then
            send(s, line .. "\n")
        elseif line then
            broadcast(line .. "\n", s)
        elseif err == "closed" then
            drop(s)
            return
        end
    until not line or not s:dirty()
end

while closed < connections do
    local readable, _, err = socket.select(recvt, nil, 20)
    if err then
        error(("no progress for 20 s (%s): %d accepted, %d closed, %d sent"):format(
            err, accepted, closed, sent), 0)
    end
    biggest = math.max(biggest, #readable)
    for _, s in ipairs(readable) do
        if s == server then accept_all() else serve(s) end
    end
end
print(("served %d sent %d biggest-select %d"):format(accepted, sent, biggest))
