-- socket.select: timeouts, readable and writable sockets, servers with a connection
-- waiting, the result tables (by position and by socket), what it ignores (closed
-- sockets, non-sockets, sockets with no descriptor yet), dirty sockets, and objects
-- that only have getfd and dirty.
local S = require "support"
local socket = require "socket"

-- A select call's result: the error, how many sockets in each table, which ones (by
-- name), and what each table holds under the first socket's own key.
local function result(label, names, recvt, sendt, timeout)
    local ok, r, w, err = pcall(socket.select, recvt, sendt, timeout)
    if not ok then return S.report(label, ok, r) end
    local function which(t)
        local found = {}
        for i = 1, #t do found[#found + 1] = names[t[i]] or S.format(t[i]) end
        table.sort(found)
        return table.concat(found, " "), t[1] ~= nil and S.format(t[t[1]]) or "-"
    end
    local rn, rk = which(r)
    local wn, wk = which(w)
    S.show(label, err, #r, rn, rk, #w, wn, wk)
end

local function timeouts()
    local start = socket.gettime()
    local r, w, err = socket.select(nil, nil, 0.1)
    S.show("nil nil 0.1", r, w, err)
    S.took("nil nil 0.1 took", socket.gettime() - start, 0.09, 2)
    S.show("empty tables 0", socket.select({}, {}, 0))
    S.show("nothing at all 0", socket.select(nil, nil, 0))
    S.show("empty nil timeout with nothing", socket.select({}, nil, 0))
end

local function ready()
    local server = assert(socket.bind("127.0.0.1", 0))
    local port = tonumber((select(2, server:getsockname())))
    local names = { [server] = "server" }
    result("server idle", names, { server }, nil, 0)
    local c = assert(socket.connect("127.0.0.1", port))
    names[c] = "client"
    result("server with a connection", names, { server }, nil, 2)
    local a = assert(server:accept())
    names[a] = "accepted"
    result("client writable", names, nil, { c }, 2)
    result("accepted idle", names, { a, c }, nil, 0)
    c:send("line one\nline two\n")
    result("accepted readable", names, { a }, nil, 2)
    result("accepted and client", names, { a, c }, { c }, 0)
    result("holes in the tables", names, { [1] = a, [3] = c }, { [2] = c }, 0)
    S.show("values when ready", select("#", socket.select({ a }, nil, 0)))
    S.show("values on timeout", select("#", socket.select({ c }, nil, 0)))
    a:receive()
    S.show("accepted dirty", a:dirty())
    result("dirty is readable", names, { a }, nil, 0)
    a:receive()
    result("drained", names, { a }, nil, 0)
    result("same socket twice", names, { c, c }, { c, c }, 0)
    c:close()
    result("peer closed is readable", names, { a }, nil, 2)
    result("closed ignored", names, { c }, { c }, 0)
    a:close()
    server:close()
end

local function ignored()
    local names = {}
    local fresh = socket.tcp()
    names[fresh] = "fresh tcp"
    result("tcp without a socket", names, { fresh }, { fresh }, 0)
    local fresh4 = socket.tcp4()
    names[fresh4] = "fresh tcp4"
    result("tcp4 never connected", names, { fresh4 }, { fresh4 }, 0)
    result("a number", names, { 1 }, nil, 0)
    result("a string", names, { "x" }, nil, 0)
    result("a plain table", names, { {} }, nil, 0)
    result("a boolean", names, { true }, nil, 0)
    result("a function", names, nil, { print }, 0)
    local u = socket.udp()
    names[u] = "udp"
    result("udp unbound", names, { u }, { u }, 0)
end

-- Anything with getfd and dirty: the sources and sinks socket.lua makes are such.
local function wrappers()
    local u = assert(socket.udp())
    u:setsockname("127.0.0.1", 0)
    local ip, port = u:getsockname()
    local wrapper = { getfd = function() return u:getfd() end, dirty = function() return false end }
    local names = { [wrapper] = "wrapper", [u] = "udp" }
    result("wrapper idle", names, { wrapper }, nil, 0)
    local sender = socket.udp()
    sender:sendto("ping", ip, tonumber(port))
    result("wrapper readable", names, { wrapper }, nil, 2)
    result("udp readable", names, { u }, nil, 2)
    local dirty = { getfd = function() return u:getfd() end, dirty = function() return true end }
    names[dirty] = "always dirty"
    result("dirty wrapper", names, { dirty }, nil, 0)
    local bad = { getfd = function() return -1 end, dirty = function() return false end }
    names[bad] = "fd -1"
    result("wrapper without a descriptor", names, { bad }, nil, 0)
    local source = socket.source("until-closed", u)
    names[source] = "source"
    result("source", names, { source }, nil, 0)
    S.show("source has getfd", type(source.getfd), type(source.dirty))
    -- One descriptor, two objects: reported once, as the one listed last.
    result("wrapper then socket", names, { wrapper, u }, nil, 0)
    result("socket then wrapper", names, { u, wrapper }, nil, 0)
    result("dirty twice", names, { dirty, dirty }, nil, 0)
    local numeric = { getfd = function() return tostring(u:getfd()) end }
    names[numeric] = "numeric string"
    result("getfd gives a numeric string", names, { numeric }, nil, 0)
    local failing = { getfd = function() error("boom") end }
    result("getfd raises", names, { failing }, nil, 0)
    local raising_dirty = { getfd = function() return u:getfd() end, dirty = function() error("dirty boom") end }
    result("dirty raises", names, { raising_dirty }, nil, 0)
    result("dirty not asked for writing", names, nil, { raising_dirty }, 0)
    u:close()
    sender:close()
end

timeouts()
ready()
ignored()
wrappers()
S.done()
