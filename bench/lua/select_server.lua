-- A select-based line echo server. Usage: select_server.lua PORT CONNECTIONS LINES
-- Serves CONNECTIONS clients LINES round trips each, then prints how long that took.
local socket = require("socket")
local port, n, lines = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
local server = assert(socket.bind("127.0.0.1", port, 4096))
server:settimeout(0)
print("ready")
io.stdout:flush()
-- The read set grows as clients arrive and shrinks as they leave (swap-remove, O(1)); the
-- listener stays first. A line may arrive in pieces: what came so far is kept and passed
-- back as the prefix.
local recvt, index, partial, expected, echoed = { server }, {}, {}, n * lines, 0
local served = 0
local function drop(s)
    local i, last = index[s], recvt[#recvt]
    recvt[i], index[last] = last, i
    recvt[#recvt], index[s], partial[s] = nil, nil, nil
    s:close()
end
local t0
while echoed < expected do
    local readable, _, err = socket.select(recvt, nil, 10)
    if err then error(("no progress for 10 s (%s) after %d echoes"):format(err, echoed)) end
    for _, s in ipairs(readable) do
        if s == server then
            local c = server:accept()
            while c do
                c:settimeout(0)
                recvt[#recvt + 1] = c
                index[c] = #recvt
                served = served + 1
                t0 = t0 or socket.gettime()
                c = server:accept()
            end
        else
            repeat
                local line, err, part = s:receive("*l", partial[s])
                partial[s] = part
                if line then
                    s:send(line .. "\n")
                    echoed = echoed + 1
                elseif err == "closed" then
                    drop(s)
                end
            until not line or not s:dirty()
        end
    end
end
print(("seconds=%.6f connections=%d echoes=%d"):format(socket.gettime() - t0, served, echoed))
