-- What luasocket-wasi does, in one script run inside the sandbox:
--   luasocket-wasi run --allow-net=127.0.0.1 examples/demo.lua [http://127.0.0.1:PORT/page]
-- 1. socket.http fetches a page from a real server (./dev demo starts nginx for it);
-- 2. a TCP server and client in this same script talk through the host's TCP stack.
local socket = require("socket")
local http = require("socket.http")

local url = ...
if url then
    local body, code, headers = http.request(url)
    if not body then error("fetching " .. url .. " failed: " .. tostring(code)) end
    print(("GET %s -> %d, %s bytes from %s"):format(url, code, headers["content-length"], headers.server))
    io.write("  ", body)
end

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
