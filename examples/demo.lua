-- A loopback conversation inside the sandbox: a server and a client, both this script,
-- talking through the host's real TCP stack. Run with:
--   luasocket-wasi run --allow-net=127.0.0.1 examples/demo.lua
local socket = require("socket")

local server = assert(socket.bind("127.0.0.1", 0))
local ip, port = server:getsockname()
print(("server listening on %s:%d"):format(ip, port))

local client = assert(socket.connect(ip, port))
local peer = assert(server:accept())
print(("client %s:%d connected"):format(peer:getpeername()))

local started = socket.gettime()
for _, line in ipairs({ "hello", "from", "Lua inside WebAssembly" }) do
    assert(client:send(line .. "\n"))
    local got = assert(peer:receive("*l"))
    assert(peer:send(got:upper() .. "\r\n"))
    print(("  sent %-26s got back %q"):format(("%q"):format(line), assert(client:receive("*l"))))
end

-- A bigger transfer: 4 MiB each way in 64 KiB pieces, echoed back.
local chunk = string.rep("x", 65536)
local total = 0
for _ = 1, 64 do
    client:send(chunk)
    peer:send(assert(peer:receive(#chunk)))
    total = total + #assert(client:receive(#chunk))
end
local elapsed = socket.gettime() - started
print(("echoed %d bytes in %.1f ms (%.0f MB/s)"):format(total, elapsed * 1000, total / elapsed / 1e6))

client:close()
print("server sees the close:", select(2, peer:receive("*a")) or "data")
peer:close()
server:close()
