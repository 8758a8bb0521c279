-- A WSAPI application for tests/edge.rs: routes, bodies in both directions, outgoing
-- requests through socket.http, a module of its own, raw sockets. Run by
-- `luasocket-wasi serve` and, packed by `luasocket-wasi build`, by `wasmtime serve`.
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local function text(status, body, headers)
    headers = headers or {}
    headers["Content-Type"] = headers["Content-Type"] or "text/plain"
    return status, headers, coroutine.wrap(function() coroutine.yield(body) end)
end

local routes = {}

routes["GET /hello"] = function(env)
    return text(200, "hello " .. env.QUERY_STRING .. " from " .. env.PATH_INFO
        .. " missing=[" .. env.NO_SUCH_VARIABLE .. "]")
end

-- A JSON-ish body: its string fields, sorted, back as JSON.
routes["POST /json"] = function(env)
    local body = env.input:read() or ""
    local fields = {}
    for k, v in body:gmatch('"([^"]+)"%s*:%s*"([^"]*)"') do fields[#fields + 1] = k .. "=" .. v end
    table.sort(fields)
    return text(200, '{"fields":"' .. table.concat(fields, ",") .. '","type":"'
        .. env.CONTENT_TYPE .. '"}', { ["Content-Type"] = "application/json" })
end

-- `size` bytes, made as they are sent, 64 KiB at a time.
routes["GET /download"] = function(env)
    local size = tonumber(env.QUERY_STRING:match("size=(%d+)")) or 0
    local block = string.rep("luasocket-wasi!\n", 4096)
    return 200, { ["Content-Type"] = "application/octet-stream", ["Content-Length"] = size },
        function()
            if size <= 0 then return nil end
            local n = math.min(size, #block)
            size = size - n
            return block:sub(1, n)
        end
end

-- The request body back, chunk by chunk as it arrives.
routes["POST /echo"] = function(env)
    return 200, { ["Content-Type"] = "application/octet-stream",
        ["Content-Length"] = env.CONTENT_LENGTH },
        function() return env.input:read(65536) end
end

-- Reads the body to its end, however long that is, and counts it.
routes["POST /count"] = function(env)
    local n = 0
    for chunk in function() return env.input:read(65536) end do n = n + #chunk end
    return text(200, tostring(n))
end

-- A file from the upstream server named by the X-Upstream header, through socket.http.
routes["GET /upstream"] = function(env)
    -- socket.http's TIMEOUT as the client asks: hostile values must not trap.
    if env.HTTP_X_TIMEOUT ~= "" then
        http.TIMEOUT = env.HTTP_X_TIMEOUT == "nan" and 0 / 0 or tonumber(env.HTTP_X_TIMEOUT)
    end
    local chunks = {}
    local ok, code, headers, status = http.request {
        url = "http://" .. env.HTTP_X_UPSTREAM .. "/hello.txt",
        sink = ltn12.sink.table(chunks),
    }
    if not ok then return text(502, "upstream failed: " .. tostring(code)) end
    return text(200, string.format("%d|%s|%s|%s", code, status, headers["content-type"],
        table.concat(chunks)))
end

-- A module packed with the app.
routes["GET /module"] = function()
    return text(200, require("edgelib.greeting").greet("edge"))
end

-- A raw TCP connection to the port the client names: hosts that grant no sockets (and
-- ours without --allow-net) refuse it with LuaSocket's error.
routes["GET /rawsocket"] = function(env)
    local c, err = socket.connect("127.0.0.1", tonumber(env.QUERY_STRING) or 9)
    if c then c:close() return text(200, "connected") end
    return text(200, "refused: " .. tostring(err))
end

routes["GET /fail"] = function() error("deliberate failure") end

routes["GET /cookies"] = function()
    return 200, { ["Set-Cookie"] = { "a=1", "b=2" }, ["Content-Type"] = "text/plain" },
        coroutine.wrap(function() coroutine.yield("two cookies") end)
end

return {
    run = function(env)
        local route = routes[env.REQUEST_METHOD .. " " .. env.PATH_INFO]
        if not route then return text(404, "no route for " .. env.PATH_INFO) end
        return route(env)
    end,
}
