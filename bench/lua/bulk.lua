-- Bulk TCP, one way. Usage: bulk.lua MODE PORT BYTES
--   send:  send BYTES in 64 KiB strings to a native sink
--   recvn: receive BYTES from a native source with receive(65536)
--   recva: receive BYTES from a native source with receive("*a")
-- Prints "seconds=... bytes=...", timed around the transfer only.
local socket = require("socket")
local mode, port, bytes = arg[1], tonumber(arg[2]), tonumber(arg[3])
local c = assert(socket.connect("127.0.0.1", port))
local t0 = socket.gettime()
local moved = 0
if mode == "send" then
    local block = string.rep("x", 65536)
    while moved < bytes do
        moved = moved + assert(c:send(block, 1, math.min(#block, bytes - moved)))
    end
elseif mode == "recvn" then
    while moved < bytes do
        local data = assert(c:receive(math.min(65536, bytes - moved)))
        moved = moved + #data
    end
else
    moved = #assert(c:receive("*a"))
end
local dt = socket.gettime() - t0
c:close()
assert(moved == bytes, ("moved %d of %d"):format(moved, bytes))
print(("seconds=%.6f bytes=%d"):format(dt, moved))
