-- socket.http against nginx (statuses, redirects, Basic auth, chunked answers, PUT,
-- HEAD, 204) and against a native peer that answers with the request it got, so the
-- bytes each client sends are compared too; the simple and generic forms, sinks,
-- sources, step, create, proxy, and failures.
local S = require "support"
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local base = "http://127.0.0.1:" .. S.args.http
local echo = "http://127.0.0.1:" .. S.args.http_echo

-- Ports differ run to run; nginx's Date header second by second. The User-Agent is
-- socket._VERSION, which differs (core.lua shows it): written as its name here, so
-- that the requests' other bytes are compared.
local function steady(text)
    if type(text) ~= "string" then return text end
    local version = socket._VERSION:gsub("%p", "%%%0")
    return (text:gsub(":" .. S.args.http .. "([/%s\r])", ":HTTP%1")
        :gsub(":" .. S.args.http_echo .. "([/%s\r])", ":ECHO%1")
        :gsub(version, "(socket._VERSION)"))
end

local function steady_headers(h)
    if type(h) ~= "table" then return h end
    local copy = {}
    for k, v in pairs(h) do copy[k] = steady(v) end
    if copy.date then copy.date = "(a date)" end
    -- The files are written afresh each run (the same for both runtimes in one run).
    if copy["last-modified"] then copy["last-modified"] = "(a date)" end
    if copy.etag then copy.etag = "(an etag)" end
    return copy
end

-- A request as the echo peer returns it, its header lines sorted: LuaSocket writes
-- headers in the order of a Lua table's traversal, which changes run to run.
local function sorted_request(body)
    if type(body) ~= "string" then return body end
    local head, rest = body:match("^(.-\r\n)\r\n(.*)$")
    if not head then return body end
    local lines = {}
    for line in head:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = line end
    local first = table.remove(lines, 1)
    table.sort(lines)
    return first .. "\r\n" .. table.concat(lines, "\r\n") .. "\r\n\r\n" .. rest
end

-- A request's four results, with what varies between runs taken out.
local function show(label, ok, body, code, headers, status)
    if not ok then return S.report(label, ok, body) end
    S.show(label, sorted_request(steady(body)), code, steady_headers(headers), status)
end

local function get(label, ...)
    show(label, pcall(http.request, ...))
end

local function simple()
    get("get hello", base .. "/hello.txt")
    get("get missing", base .. "/missing")
    get("get 204", base .. "/empty")
    get("post to a file", base .. "/hello.txt", "a=1")
    get("get with query", base .. "/hello.txt?x=1#frag")
    get("get refused", "http://127.0.0.1:" .. S.args.refused .. "/")
    get("get no host", "http:///x")
    get("get empty url", "")
    get("get unknown scheme", "gopher://127.0.0.1/")
    get("get bad port", "http://127.0.0.1:99999/")
end

local function redirects()
    for _, path in ipairs { "/moved", "/found", "/see-other", "/temporary", "/loop" } do
        get("redirect " .. path, base .. path)
    end
    local t = {}
    show("redirect off", pcall(http.request, { url = base .. "/moved", redirect = false, sink = ltn12.sink.table(t) }))
    S.show("redirect off body", #table.concat(t) > 0)
    show("maxredirects 1", pcall(http.request, { url = base .. "/loop", maxredirects = 1 }))
    show("redirect of a post", pcall(http.request, { url = base .. "/found", method = "POST",
        source = ltn12.source.string("x"), headers = { ["content-length"] = 1 } }))
end

local function auth_and_chunks()
    get("auth ok", "http://fulano:silva@127.0.0.1:" .. S.args.http .. "/private/secret.txt")
    get("auth wrong", "http://fulano:nope@127.0.0.1:" .. S.args.http .. "/private/secret.txt")
    get("auth none", base .. "/private/secret.txt")
    get("auth in table", { url = base .. "/private/secret.txt", user = "fulano", password = "silva" })
    get("chunked answer", base .. "/chunked/page.txt")
end

local function generic()
    local t = {}
    show("generic get", pcall(http.request, { url = base .. "/hello.txt", sink = ltn12.sink.table(t) }))
    S.show("generic get body", t)
    show("head", pcall(http.request, { url = base .. "/hello.txt", method = "HEAD" }))
    local upload = string.rep("upload ", 1000)
    show("put", pcall(http.request, {
        url = base .. "/uploads/differential.txt", method = "PUT",
        source = ltn12.source.string(upload), headers = { ["content-length"] = #upload },
    }))
    get("get what was put", base .. "/uploads/differential.txt")
    -- Gone again, so that the next run's PUT creates it as this one did.
    show("delete", pcall(http.request, { url = base .. "/uploads/differential.txt", method = "DELETE" }))
    local steps = 0
    show("custom step", pcall(http.request, {
        url = base .. "/hello.txt", sink = ltn12.sink.null(),
        step = function(src, snk) steps = steps + 1; return ltn12.pump.step(src, snk) end,
    }))
    S.show("custom step count", steps > 0)
    local created = 0
    show("custom create", pcall(http.request, {
        url = base .. "/hello.txt",
        create = function() created = created + 1; return socket.tcp() end,
    }))
    S.show("custom create count", created)
    show("proxy", pcall(http.request, { url = "http://example.invalid/hello.txt", proxy = base }))
    show("sink error", pcall(http.request, { url = base .. "/hello.txt", sink = ltn12.sink.error("full") }))
end

-- What the client sends: the echo peer answers with the request itself.
local function requests()
    get("sent get", echo .. "/path?q=1")
    get("sent post", echo .. "/form", "a=1&b=2")
    show("sent custom headers", pcall(http.request, { url = echo .. "/h",
        headers = { ["x-custom"] = "yes", ["user-agent"] = "mine", host = "example.org" } }))
    show("sent chunked", pcall(http.request, { url = echo .. "/chunked", method = "POST",
        source = ltn12.source.table { "first", "second" } }))
    show("sent head", pcall(http.request, { url = echo .. "/head", method = "HEAD" }))
    get("sent auth", "http://u:p@127.0.0.1:" .. S.args.http_echo .. "/auth")
    show("sent absolute path via proxy", pcall(http.request, { url = "http://other.invalid:81/p", proxy = echo }))
end

local function module_fields()
    S.show("TIMEOUT", http.TIMEOUT)
    S.show("PORT", http.PORT)
    S.show("PROXY", http.PROXY)
    S.show("USERAGENT", http.USERAGENT)
    S.show("USERAGENT is the version", http.USERAGENT == socket._VERSION)
    local keys = {}
    for k, v in pairs(http) do keys[#keys + 1] = k .. "=" .. type(v) end
    table.sort(keys)
    S.show("http keys", keys)
end

module_fields()
simple()
redirects()
auth_and_chunks()
generic()
requests()
S.done()
