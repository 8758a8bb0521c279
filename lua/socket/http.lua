-- socket.http: HTTP/1.1 client, LuaSocket's simple (string) and generic (LTN12) forms.
local socket = require("socket")
local url = require("socket.url")
local ltn12 = require("ltn12")
local mime = require("mime")
local headers_module = require("socket.headers")

local string, table, math, tonumber, tostring, type, pairs, setmetatable, require, pcall =
    string, table, math, tonumber, tostring, type, pairs, setmetatable, require, pcall

socket.http = {}
local _M = socket.http

_M.TIMEOUT = 60
_M.USERAGENT = socket._VERSION

-- Status and header lines longer than this come from a broken or hostile server.
local MAXLINE = 65536
-- Header blocks with more lines (folded ones included) than this too,
local MAXHEADERS = 1000
-- or more bytes in all,
local MAXHEADERBYTES = 1048576
-- and answers preceded by more interim (1xx) answers than this.
local MAXINTERIM = 20

local SCHEMES = {
    http = { port = 80, create = function() return socket.tcp end },
    https = {
        port = 443,
        create = function(reqt)
            local ok, https = pcall(require, "ssl.https")
            socket.try(ok and type(https) == "table" and https.tcp,
                "https: TLS is not available in this build (no ssl.https module)")
            return https.tcp(reqt)
        end,
    },
}
-- LuaSocket exports the table (lower case): scripts add schemes to it.
_M.schemes = SCHEMES

-- Reads a header block into `headers` (names lower-cased): folded lines are joined,
-- repeated names are joined with ", ".
local function receiveheaders(sock, headers)
    headers = headers or {}
    local count, size = 0, 0
    -- The next line of the block, counted against the limits.
    local function nextline()
        local line, err = sock:receive("*l", nil, MAXLINE)
        if err then return nil, err end
        count, size = count + 1, size + #line
        if count > MAXHEADERS then return nil, "too many headers" end
        if size > MAXHEADERBYTES then return nil, "headers too long" end
        return line
    end
    local line, err = nextline()
    if err then return nil, err end
    while line ~= "" do
        local name, value = string.match(line, "^(.-):%s*(.*)")
        if not (name and value) then return nil, "malformed reponse headers" end
        name = string.lower(name)
        line, err = nextline()
        if err then return nil, err end
        while string.find(line, "^%s") do
            value = value .. line
            line, err = nextline()
            if err then return nil, err end
        end
        if headers[name] then
            headers[name] = headers[name] .. ", " .. value
        else
            headers[name] = value
        end
    end
    return headers
end

-- What select needs to wait on a source or sink as on its socket.
local function selectable(sock, call)
    return setmetatable({
        getfd = function() return sock:getfd() end,
        dirty = function() return sock:dirty() end,
    }, { __call = call })
end

-- Hex digits beyond this many (leading zeros aside) are no chunk size: tonumber wraps
-- around past 16 of them, and 15 already announce an exabyte.
local MAXCHUNKDIGITS = 15

-- The size on a chunk-size line: hex digits, blanks around them, extensions after ";"
-- ignored. No sign and no "0x", which tonumber(s, 16) alone would let through or misread.
local function chunksize(line)
    local digits = string.match(string.match(line, "^[^;]*"), "^%s*0*(%x+)%s*$")
    if not digits or #digits > MAXCHUNKDIGITS then return nil end
    return tonumber(digits, 16)
end

-- How many bytes to ask for at a time: as socket.lua's sources do, socket.BLOCKSIZE but at
-- least one (receive(0) takes nothing, and a chunk would never end).
local function blocksize()
    local size = tonumber(socket.BLOCKSIZE)
    if not (size and size >= 1) then return 1 end
    return size
end

-- A chunked body, decoded; trailers go into `headers`. A chunk is handed on in pieces of
-- at most BLOCKSIZE bytes, so a server announcing a huge chunk costs no more memory than
-- a small one.
socket.sourcet["http-chunked"] = function(sock, headers)
    local left = 0
    return selectable(sock, function()
        if left == 0 then
            local line, err = sock:receive("*l", nil, MAXLINE)
            if err then return nil, err end
            local size = chunksize(line)
            if not size then return nil, "invalid chunk size" end
            if size == 0 then
                local _, herr = receiveheaders(sock, headers)
                if herr then return nil, herr end
                return nil
            end
            left = size
        end
        local chunk, cerr, partial = sock:receive(math.min(left, blocksize()))
        if not chunk then return nil, cerr, partial end
        left = left - #chunk
        if left == 0 then
            local _, terr = sock:receive("*l", nil, MAXLINE)
            if terr then return nil, terr end
        end
        return chunk
    end)
end

-- Encodes what it is given as chunks; end of data sends the last chunk.
socket.sinkt["http-chunked"] = function(sock)
    return selectable(sock, function(_, chunk)
        if not chunk then return sock:send("0\r\n\r\n") end
        return sock:send(string.format("%X\r\n", #chunk) .. chunk .. "\r\n")
    end)
end

-- A connection to one server ------------------------------------------------------

local metat = { __index = {} }
local conn = metat.__index

function _M.open(host, port, create)
    local c = socket.try((create or socket.tcp)())
    local h = setmetatable({ c = c }, metat)
    h.try = socket.newtry(function() h:close() end)
    h.try(c:settimeout(_M.TIMEOUT))
    h.try(c:connect(host, port))
    return h
end

-- The request line waits for the headers, so that the head leaves in one send: two small
-- writes and then a read stall on Nagle's algorithm and delayed ACKs (40 ms a request
-- over TLS), and WASI 0.2 cannot set TCP_NODELAY.
function conn:sendrequestline(method, uri)
    local line = string.format("%s %s HTTP/1.1\r\n", method, uri)
    self.pending = line
    return #line
end

-- Sends a request line still waiting (when no headers followed it).
local function flushpending(self)
    local pending = self.pending
    if pending then
        self.pending = nil
        self.try(self.c:send(pending))
    end
end

function conn:sendheaders(tosend)
    local canonic = headers_module.canonic
    local block = "\r\n"
    for name, value in pairs(tosend) do
        block = (canonic[name] or name) .. ": " .. value .. "\r\n" .. block
    end
    local pending = self.pending or ""
    self.pending = nil
    self.try(self.c:send(pending .. block))
    return 1
end

function conn:sendbody(headers, source, step)
    flushpending(self)
    source = source or ltn12.source.empty()
    step = step or ltn12.pump.step
    local mode = headers["content-length"] and "keep-open" or "http-chunked"
    return self.try(ltn12.pump.all(source, socket.sink(mode, self.c), step))
end

-- The status code and line; for an HTTP/0.9 answer (no status line), nil and the first
-- bytes, which belong to the body.
function conn:receivestatusline()
    flushpending(self)
    local status, err, partial = self.c:receive(5)
    if not status then
        -- A whole HTTP/0.9 answer shorter than "HTTP/".
        if err == "closed" and partial ~= "" then return nil, partial end
        self.try(nil, err)
    end
    if status ~= "HTTP/" then return nil, status end
    status = self.try(self.c:receive("*l", status, MAXLINE))
    -- Exactly three digits: "HTTP/1.1 2000" is no status 200.
    local code = socket.skip(2, string.find(status, "HTTP/%d*%.%d* (%d%d%d)%f[%D]"))
    return self.try(tonumber(code), status)
end

function conn:receiveheaders()
    flushpending(self)
    return self.try(receiveheaders(self.c))
end

-- The body length a Content-Length value gives, or nil if it gives none: decimal digits
-- only. LuaSocket's tonumber also took a sign, a fraction, hex and exponents (".5" then
-- had its by-length source ask for half a byte for ever) and read an unreadable value as
-- "until the close". Repeated headers arrive joined by ", ": identical values are one
-- length (RFC 9110 section 8.6), different ones no length at all. A huge value costs
-- nothing: the body is streamed, and a server that closes early is an error.
local function contentlength(value)
    local length
    for part in string.gmatch(value .. ",", "([^,]*),") do
        local digits = string.match(part, "^%s*0*(%d+)%s*$")
        if not digits or (length and digits ~= length) then return nil end
        length = digits
    end
    return tonumber(length)
end

-- The source of a body: chunked whenever there is a Transfer-Encoding other than identity,
-- whatever Content-Length says, valid or not (RFC 9112 section 6.3: the encoding
-- overrides the length; LuaSocket reads it the same way); otherwise by Content-Length;
-- without either, until the server closes.
local function bodysource(self, headers)
    local encoding = headers["transfer-encoding"]
    if encoding and encoding ~= "identity" then
        return socket.source("http-chunked", self.c, headers)
    end
    local length = headers["content-length"]
    if length then
        length = self.try(contentlength(length), "invalid content-length")
        return socket.source("by-length", self.c, length)
    end
    return socket.source("default", self.c)
end

function conn:receivebody(headers, sink, step)
    sink = sink or ltn12.sink.null()
    step = step or ltn12.pump.step
    return self.try(ltn12.pump.all(bodysource(self, headers), sink, step))
end

function conn:receive09body(status, sink, step)
    local source = ltn12.source.rewind(socket.source("until-closed", self.c))
    source(status)
    return self.try(ltn12.pump.all(source, sink, step))
end

function conn:close()
    return self.c:close()
end

-- Requests ------------------------------------------------------------------------

local function adjusturi(reqt)
    local u = reqt
    -- A proxy gets the whole URL; a server only the path and query.
    if not reqt.proxy and not _M.PROXY then
        u = { path = socket.try(reqt.path, "invalid path 'nil'"), params = reqt.params, query = reqt.query, fragment = reqt.fragment }
    end
    return url.build(u)
end

local function adjustproxy(reqt)
    local proxy = reqt.proxy or _M.PROXY
    if proxy then
        proxy = url.parse(proxy)
        return proxy.host, proxy.port or 3128
    end
    return reqt.host, reqt.port
end

local function adjustheaders(reqt)
    local host = reqt.host
    if string.find(host, ":", 1, true) then host = "[" .. host .. "]" end
    local port = tostring(reqt.port)
    if port ~= tostring(SCHEMES[reqt.scheme].port) then host = host .. ":" .. port end
    local lower = {
        ["user-agent"] = _M.USERAGENT,
        ["host"] = host,
        ["connection"] = "close, TE",
        ["te"] = "trailers",
    }
    if reqt.user and reqt.password then
        lower["authorization"] = "Basic " .. (mime.b64(reqt.user .. ":" .. url.unescape(reqt.password)))
    end
    local proxy = reqt.proxy or _M.PROXY
    if proxy then
        proxy = url.parse(proxy)
        if proxy.user and proxy.password then
            lower["proxy-authorization"] = "Basic " .. (mime.b64(proxy.user .. ":" .. proxy.password))
        end
    end
    for name, value in pairs(reqt.headers or lower) do
        lower[string.lower(name)] = value
    end
    return lower
end

local default = { host = "", port = 80, path = "/", scheme = "http" }

-- The port to connect to: the scheme's when none is given (an empty one in a URL
-- included), else a decimal number from 1 to 65535. LuaSocket's tonumber read a port
-- such as "abc" in a redirect's Location as no port, and so went to port 80 instead.
local function portof(port, scheme)
    if port == nil or port == "" then return scheme.port end
    local n = port
    if type(port) == "string" then n = string.match(port, "^%d+$") and tonumber(port) end
    n = math.tointeger(n)
    socket.try(n and n >= 1 and n <= 65535, "invalid port '" .. tostring(port) .. "'")
    return n
end

-- Where the host sends HTTP itself (the handler world's wasi:http/outgoing-handler):
-- requests with no connection function and no proxy of their own go that way.
local hasoutgoing, outgoing = pcall(require, "socket.outgoing")
if not hasoutgoing then outgoing = nil end

local function adjustrequest(reqt, hostsends)
    local nreqt = reqt.url and url.parse(reqt.url, default) or {}
    for k, v in pairs(reqt) do nreqt[k] = v end
    local scheme = SCHEMES[nreqt.scheme or "http"]
    socket.try(scheme, "unsupported scheme '" .. tostring(nreqt.scheme) .. "'")
    nreqt.scheme = nreqt.scheme or "http"
    if not (nreqt.host and nreqt.host ~= "") then
        socket.try(nil, "invalid host '" .. tostring(nreqt.host) .. "'")
    end
    nreqt.uri = reqt.uri or adjusturi(nreqt)
    nreqt.port = portof(nreqt.port, scheme)
    nreqt.headers = adjustheaders(nreqt)
    if nreqt.source and not nreqt.headers["content-length"] and not nreqt.headers["transfer-encoding"] then
        nreqt.headers["transfer-encoding"] = "chunked"
    end
    if not hostsends then nreqt.create = nreqt.create or scheme.create(nreqt) end
    nreqt.method = nreqt.method or "GET"
    return nreqt
end

-- Whether one more redirect may be followed: maxredirects (default 5) bounds them, and
-- false means no bound, as documented. Anything else but a number is an error (in
-- LuaSocket, a comparison that raised).
local function redirectsleft(reqt)
    local max = reqt.maxredirects
    if max == false then return true end
    if max == nil then max = 5 end
    if type(max) ~= "number" then return false, "invalid maxredirects" end
    return (reqt.nredirects or 0) < max
end

-- Whether to follow the answer's Location; false and a message when that cannot be told.
local function shouldredirect(reqt, code, headers)
    local location = headers.location
    if not location then return false end
    location = string.gsub(location, "%s", "")
    if location == "" then return false end
    local scheme = url.parse(location).scheme
    if scheme and not SCHEMES[scheme] then return false end
    -- Never from https down to http.
    if reqt.scheme == "https" and scheme and scheme ~= "https" then return false end
    if not (reqt.redirect ~= false
            and (code == 301 or code == 302 or code == 303 or code == 307)
            and (reqt.method == "GET" or reqt.method == "HEAD")) then
        return false
    end
    return redirectsleft(reqt)
end

local function shouldreceivebody(reqt, code)
    if reqt.method == "HEAD" then return false end
    if code == 204 or code == 304 then return false end
    if code >= 100 and code < 200 then return false end
    return true
end

local trequest

local function tredirect(reqt, location)
    -- Servers often send relative locations, whatever the RFC says.
    local newurl = url.absolute(reqt.url, location)
    local create = reqt.create
    -- A connection function serves one scheme: a redirect to another gets the default.
    local from = reqt.scheme or url.parse(reqt.url or "").scheme or "http"
    if (url.parse(newurl).scheme or "http") ~= from then create = nil end
    local result, code, headers, status = trequest {
        url = newurl,
        source = reqt.source,
        sink = reqt.sink,
        headers = reqt.headers,
        proxy = reqt.proxy,
        maxredirects = reqt.maxredirects,
        nredirects = (reqt.nredirects or 0) + 1,
        create = create,
        method = reqt.method,
    }
    headers = headers or {}
    headers.location = headers.location or location
    return result, code, headers, status
end

-- A request the host sends (see `outgoing`): the same results and redirects.
local function hostrequest(reqt)
    local nreqt = adjustrequest(reqt, true)
    nreqt.timeout = _M.TIMEOUT
    local code, headers, status, body = outgoing.send(nreqt)
    socket.try(code, headers)
    local redirect, err = shouldredirect(nreqt, code, headers)
    socket.try(not err, err)
    if redirect and not nreqt.source then
        return tredirect(reqt, (string.gsub(headers.location, "%s", "")))
    end
    if shouldreceivebody(nreqt, code) then
        socket.try(ltn12.pump.all(body, nreqt.sink or ltn12.sink.null(), nreqt.step or ltn12.pump.step))
    end
    return 1, code, headers, status
end

trequest = function(reqt)
    if outgoing and reqt.create == nil and reqt.proxy == nil and not _M.PROXY then
        return hostrequest(reqt)
    end
    local nreqt = adjustrequest(reqt)
    local host, port = adjustproxy(nreqt)
    local h = _M.open(host, port, nreqt.create)
    h:sendrequestline(nreqt.method, nreqt.uri)
    h:sendheaders(nreqt.headers)
    if nreqt.source then h:sendbody(nreqt.headers, nreqt.source, nreqt.step) end
    local code, status = h:receivestatusline()
    if not code then
        h:receive09body(status, nreqt.sink, nreqt.step)
        h:close()
        return 1, 200
    end
    local headers
    -- Interim answers (100 Continue and the like) have no body: skip to the real one.
    local interim = 0
    while code >= 100 and code < 200 and code ~= 101 do
        interim = interim + 1
        h.try(interim <= MAXINTERIM, "too many interim answers")
        h:receiveheaders()
        code, status = h:receivestatusline()
        h.try(code, "invalid status line after an interim answer")
    end
    headers = h:receiveheaders()
    local redirect, err = shouldredirect(nreqt, code, headers)
    h.try(not err, err)
    if redirect and not nreqt.source then
        h:close()
        -- Follow the location shouldredirect judged: without its blanks, which would
        -- otherwise end up inside the request line.
        return tredirect(reqt, (string.gsub(headers.location, "%s", "")))
    end
    if shouldreceivebody(nreqt, code) then
        h:receivebody(headers, nreqt.sink, nreqt.step)
    end
    h:close()
    return 1, code, headers, status
end

-- The request table behind the simple form: a string sink into `target`, and for a body
-- a form POST. Exported, as LuaSocket does, for modules that build on the simple form.
local function genericform(u, body)
    local t = {}
    local reqt = { url = u, sink = ltn12.sink.table(t), target = t }
    if body then
        reqt.source = ltn12.source.string(body)
        reqt.headers = {
            ["content-length"] = #body,
            ["content-type"] = "application/x-www-form-urlencoded",
        }
        reqt.method = "POST"
    end
    return reqt
end
_M.genericform = genericform

local function srequest(u, body)
    local reqt = genericform(u, body)
    local code, headers, status = socket.skip(1, trequest(reqt))
    return table.concat(reqt.target), code, headers, status
end

_M.request = socket.protect(function(reqt, body)
    if type(reqt) == "string" then return srequest(reqt, body) end
    return trequest(reqt)
end)

return _M
