-- socket.dns: forward and reverse lookups of loopback names and addresses, getaddrinfo,
-- getnameinfo, gethostname, and the argument errors. Only names /etc/hosts answers
-- and addresses: nothing may ask a real name server, and the component may look up
-- only the names --allow-net lists (a denial is the sandbox's policy, not LuaSocket's).
local S = require "support"
local socket = require "socket"
local dns = socket.dns

-- A resolved-host table with its lists sorted: the order of aliases and addresses is
-- the resolver's, not LuaSocket's.
local function sorted(t)
    if type(t) ~= "table" then return t end
    local copy = {}
    for k, v in pairs(t) do
        if type(v) == "table" then
            local list = { table.unpack(v) }
            table.sort(list, function(a, b) return S.format(a) < S.format(b) end)
            copy[k] = list
        else
            copy[k] = v
        end
    end
    return copy
end

local function lookups(label, f, ...)
    local ok, a, b = S.apply(dns, f, ...)
    if not ok then return S.report(label, ok, a) end
    S.show(label, sorted(a), sorted(b))
end

local function forward()
    for _, name in ipairs { "localhost", "127.0.0.1", "::1", "LOCALHOST" } do
        lookups("toip " .. name, "toip", name)
        lookups("getaddrinfo " .. name, "getaddrinfo", name)
    end
end

local function reverse()
    for _, addr in ipairs { "127.0.0.1", "::1", "localhost" } do
        lookups("tohostname " .. addr, "tohostname", addr)
    end
    lookups("getnameinfo 127.0.0.1", "getnameinfo", "127.0.0.1")
    lookups("getnameinfo ::1", "getnameinfo", "::1")
    lookups("getnameinfo localhost", "getnameinfo", "localhost")
    lookups("getnameinfo nil 80", "getnameinfo", nil, 80)
    lookups("getnameinfo nil http", "getnameinfo", nil, "http")
    lookups("getnameinfo 127.0.0.1 443", "getnameinfo", "127.0.0.1", 443)
    lookups("getnameinfo nil 0", "getnameinfo", nil, 0)
    lookups("getnameinfo nil unknown", "getnameinfo", nil, "no-such-service")
end

local function hostname()
    local ok, name = S.apply(dns, "gethostname")
    S.show("gethostname", ok, type(name), type(name) == "string" and #name > 0)
    S.call("gethostname extra argument", function() return type(dns.gethostname("x")) end)
end

local function argument_errors()
    S.fn("toip table", dns, "toip", {})
    S.fn("tohostname table", dns, "tohostname", {})
    S.fn("getaddrinfo table", dns, "getaddrinfo", {})
    S.fn("getnameinfo table port", dns, "getnameinfo", "127.0.0.1", {})
    S.fn("getnameinfo nothing", dns, "getnameinfo")
end

S.show("dns keys", (function()
    local keys = {}
    for k in pairs(dns) do keys[#keys + 1] = k end
    table.sort(keys)
    return keys
end)())
forward()
reverse()
hostname()
argument_errors()
S.done()
