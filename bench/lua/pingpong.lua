-- Line ping-pong with a native echo peer. Usage: pingpong.lua PORT COUNT
-- Prints total seconds and per-exchange latency percentiles (microseconds).
local socket = require("socket")
local port, count = tonumber(arg[1]), tonumber(arg[2])
local c = assert(socket.connect("127.0.0.1", port))
local line = string.rep("p", 63) .. "\n"
local lat = {}
local t0 = socket.gettime()
for i = 1, count do
    local s = socket.gettime()
    c:send(line)
    assert(c:receive("*l"))
    lat[i] = socket.gettime() - s
end
local dt = socket.gettime() - t0
c:close()
table.sort(lat)
local function pct(p) return lat[math.max(1, math.floor(#lat * p))] * 1e6 end
print(("seconds=%.6f p50_us=%.1f p99_us=%.1f"):format(dt, pct(0.5), pct(0.99)))
