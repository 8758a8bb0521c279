-- UDP. Usage: udp.lua send PORT COUNT SIZE   (to a native counter)
--             udp.lua recv PORT COUNT ACK      (from a native sender; prints what arrived)
-- The receiver acknowledges every ACK datagrams with its count, and the sender keeps only
-- a window ahead of that, so nothing is dropped and the rate is the receive path's.
local socket = require("socket")
local mode, port, count = arg[1], tonumber(arg[2]), tonumber(arg[3])
local u = assert(socket.udp())
if mode == "send" then
    local payload = string.rep("u", tonumber(arg[4]))
    local t0 = socket.gettime()
    for _ = 1, count do assert(u:sendto(payload, "127.0.0.1", port)) end
    print(("seconds=%.6f sent=%d"):format(socket.gettime() - t0, count))
else
    assert(u:setsockname("127.0.0.1", port))
    print("ready")
    io.stdout:flush()
    u:settimeout(5)
    local every = tonumber(arg[4]) or 32
    local got, t0, last = 0, nil, nil
    while got < count do
        local d, ip, peerport = u:receivefrom()
        if not d then break end
        got = got + 1
        if got % every == 0 or got == count then u:sendto(tostring(got), ip, peerport) end
        last = socket.gettime()
        t0 = t0 or last
        u:settimeout(1)
    end
    print(("seconds=%.6f received=%d"):format((last or 0) - (t0 or 0), got))
end
