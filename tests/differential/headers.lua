-- socket.headers: the canonic table (lowercase name to canonical spelling) in full.
local S = require "support"
local headers = require "socket.headers"

local names = {}
for k in pairs(headers.canonic) do names[#names + 1] = k end
table.sort(names)
S.show("headers keys", (function()
    local keys = {}
    for k in pairs(headers) do keys[#keys + 1] = k end
    table.sort(keys)
    return keys
end)())
S.show("canonic count", #names)
for _, name in ipairs(names) do S.show("canonic " .. name, headers.canonic[name]) end
S.show("canonic unknown", headers.canonic["x-unknown"])
S.show("socket.headers", require("socket").headers == headers)
S.done()
