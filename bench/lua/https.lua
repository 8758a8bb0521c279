-- HTTPS GETs through ssl.https (LuaSec natively, rustls in the component), the server
-- verified against CAFILE. Usage: https.lua URL COUNT CAFILE
local socket = require("socket")
local https = require("ssl.https")
local url, count, cafile = arg[1], tonumber(arg[2]), arg[3]
local bytes = 0
local function sink(chunk)
    if chunk then bytes = bytes + #chunk end
    return 1
end
local t0 = socket.gettime()
for _ = 1, count do
    local ok, code = https.request{ url = url, sink = sink, cafile = cafile,
        verify = "peer", protocol = "any" }
    assert(ok and code == 200, tostring(code))
end
print(("seconds=%.6f requests=%d bytes=%d"):format(socket.gettime() - t0, count, bytes))
