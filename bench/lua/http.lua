-- socket.http GETs against a local server. Usage: http.lua URL COUNT
local socket = require("socket")
local http = require("socket.http")
local url, count = arg[1], tonumber(arg[2])
local t0 = socket.gettime()
local bytes = 0
for _ = 1, count do
    local body, code = http.request(url)
    assert(code == 200, tostring(code))
    bytes = bytes + #body
end
print(("seconds=%.6f requests=%d bytes=%d"):format(socket.gettime() - t0, count, bytes))
