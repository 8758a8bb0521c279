-----------------------------------------------------------------------------
-- ssl.https: socket.http over TLS, as LuaSec's module of the same name.
-- https.request takes socket.http's simple and generic forms; https.tcp makes
-- the connection function socket.http uses for https:// URLs (its scheme hook
-- calls it), so redirects between https URLs work, and never lead to http.
-- TLS parameters (cafile, verify, protocol, ...) may ride in the request table.
-----------------------------------------------------------------------------
local socket = require("socket")
local ssl = require("ssl")
local http = require("socket.http")
local url = require("socket.url")
local ltn12 = require("ltn12")

local try = socket.try

local _M = {
    _VERSION = "1.3.2",
    -- LuaSec's module has one; this one is a re-creation of its API, so it says so.
    _COPYRIGHT = "luasocket-wasi's ssl.https, after LuaSec 1.3.2 (Copyright (C) 2009-2023 PUC-Rio)",
    PORT = 443,
    TIMEOUT = 60,
}

-- Defaults: verify the server against Mozilla's roots (LuaSec: verify = "none").
local defaults = {
    protocol = "any",
    options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
    verify = "peer",
}

local PARAMS = { "protocol", "options", "verify", "cafile", "capath", "key",
    "certificate", "password", "ciphers", "ciphersuites", "curve", "curveslist",
    "alpn", "depth" }

-- The TLS parameters of a request (or of a plain parameter table).
local function params_of(t)
    local p = { mode = "client" }
    for k, v in pairs(defaults) do p[k] = v end
    for _, k in ipairs(PARAMS) do
        if t and t[k] ~= nil then p[k] = t[k] end
    end
    return p
end

-- A socket-like object for socket.http: a TCP socket until connect, then TLS.
function _M.tcp(t)
    local params = params_of(t)
    local ctx = try(ssl.newcontext(params))
    return function()
        local conn = { sock = try(socket.tcp()) }
        local timeout = _M.TIMEOUT
        function conn:settimeout(v, mode)
            timeout = v
            return self.sock:settimeout(v, mode)
        end
        function conn:connect(host, port)
            try(self.sock:connect(host, port))
            self.sock = try(ssl.wrap(self.sock, ctx))
            self.sock:sni(host)
            self.sock:settimeout(timeout)
            try(self.sock:dohandshake())
            return 1
        end
        -- Everything else goes to the current socket.
        return setmetatable(conn, { __index = function(_, name)
            local sock = rawget(conn, "sock")
            local f = sock[name]
            if type(f) ~= "function" then return f end
            return function(self, ...) return f(rawget(self, "sock"), ...) end
        end })
    end
end

-- Port 443 unless the URL gives one.
local function with_default_port(u)
    local parsed = url.parse(u)
    if parsed and parsed.scheme == "https" and not parsed.port then
        parsed.port = _M.PORT
        return url.build(parsed)
    end
    return u
end

-- Where the host sends HTTP itself (the handler world), it does the TLS too, with its
-- own roots: requests go to socket.http without a connection function of ours.
local hostsends = pcall(require, "socket.outgoing")

-- https.request(url [, body]) or https.request{...}, as socket.http.request.
function _M.request(reqt, body)
    if type(reqt) == "string" then
        local chunks = {}
        local t = {
            url = with_default_port(reqt),
            sink = ltn12.sink.table(chunks),
            create = not hostsends and _M.tcp() or nil,
        }
        if body then
            t.source = ltn12.source.string(body)
            t.headers = {
                ["content-length"] = string.len(body),
                ["content-type"] = "application/x-www-form-urlencoded",
            }
            t.method = "POST"
        end
        local ok, code, headers, status = http.request(t)
        if not ok then return nil, code end
        return table.concat(chunks), code, headers, status
    end
    local t = {}
    for k, v in pairs(reqt) do t[k] = v end
    t.url = with_default_port(t.url)
    local scheme = url.parse(t.url).scheme
    if scheme ~= "https" then
        return nil, "https.request needs an https URL"
    end
    if not t.create and not hostsends then t.create = _M.tcp(t) end
    return http.request(t)
end

return _M
