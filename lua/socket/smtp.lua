-- socket.smtp: sending mail (RFC 2821) and building MIME messages as LTN12 sources.
local socket = require("socket")
local tp = require("socket.tp")
local ltn12 = require("ltn12")
local headers_module = require("socket.headers")
local mime = require("mime")

local string, type, pairs, ipairs, setmetatable, coroutine, os, math =
    string, type, pairs, ipairs, setmetatable, coroutine, os, math

socket.smtp = {}
local _M = socket.smtp

_M.TIMEOUT = 60
_M.SERVER = "localhost"
_M.PORT = 25
_M.DOMAIN = os.getenv("SERVER_NAME") or "localhost"
_M.ZONE = "-0000"

-- A session with a server ----------------------------------------------------------

local metat = { __index = {} }
local session = metat.__index

function session:greet(domain)
    self.try(self.tp:check("2.."))
    self.try(self.tp:command("EHLO", domain or _M.DOMAIN))
    return socket.skip(1, self.try(self.tp:check("2..")))
end

function session:mail(from)
    self.try(self.tp:command("MAIL", "FROM:" .. from))
    return self.try(self.tp:check("2.."))
end

function session:rcpt(to)
    self.try(self.tp:command("RCPT", "TO:" .. to))
    return self.try(self.tp:check("2.."))
end

function session:data(src, step)
    self.try(self.tp:command("DATA"))
    self.try(self.tp:check("3.."))
    self.try(self.tp:source(src, step))
    self.try(self.tp:send("\r\n.\r\n"))
    return self.try(self.tp:check("2.."))
end

function session:quit()
    self.try(self.tp:command("QUIT"))
    return self.try(self.tp:check("2.."))
end

function session:close()
    return self.tp:close()
end

function session:login(user, password)
    self.try(self.tp:command("AUTH", "LOGIN"))
    self.try(self.tp:check("3.."))
    self.try(self.tp:send(mime.b64(user) .. "\r\n"))
    self.try(self.tp:check("3.."))
    self.try(self.tp:send(mime.b64(password) .. "\r\n"))
    return self.try(self.tp:check("2.."))
end

function session:plain(user, password)
    local auth = "PLAIN " .. mime.b64("\0" .. user .. "\0" .. password)
    self.try(self.tp:command("AUTH", auth))
    return self.try(self.tp:check("2.."))
end

-- Authenticates with what the server offered in its EHLO answer, LOGIN first.
function session:auth(user, password, ext)
    if not user or not password then return 1 end
    if string.find(ext, "AUTH[^\n]+LOGIN") then
        return self:login(user, password)
    elseif string.find(ext, "AUTH[^\n]+PLAIN") then
        return self:plain(user, password)
    end
    self.try(nil, "authentication not supported")
end

-- Sends the envelope and the message; the body is dot-stuffed on the way.
function session:send(mailt)
    self:mail(mailt.from)
    if type(mailt.rcpt) == "table" then
        for _, to in ipairs(mailt.rcpt) do self:rcpt(to) end
    else
        self:rcpt(mailt.rcpt)
    end
    self:data(ltn12.source.chain(mailt.source, mime.stuff()), mailt.step)
end

function _M.open(server, port, create)
    local t = socket.try(tp.connect(server or _M.SERVER, port or _M.PORT, _M.TIMEOUT, create))
    local s = setmetatable({ tp = t }, metat)
    s.try = socket.newtry(function() s:close() end)
    return s
end

-- Messages --------------------------------------------------------------------------

local function lower_headers(headers)
    local lower = {}
    for name, value in pairs(headers or lower) do lower[string.lower(name)] = value end
    return lower
end

-- A boundary unlikely to occur in any part.
local seqno = 0
local function newboundary()
    seqno = seqno + 1
    return string.format("%s%05d==%05u", os.date("%d%m%Y%H%M%S"), math.random(0, 99999), seqno)
end

local send_message

local function send_headers(tosend)
    local canonic = headers_module.canonic
    local block = "\r\n"
    for name, value in pairs(tosend) do
        block = (canonic[name] or name) .. ": " .. value .. "\r\n" .. block
    end
    coroutine.yield(block)
end

local function send_multipart(mesgt)
    local boundary = newboundary()
    local headers = lower_headers(mesgt.headers or {})
    headers["content-type"] = (headers["content-type"] or "multipart/mixed") .. '; boundary="' .. boundary .. '"'
    send_headers(headers)
    if mesgt.body.preamble then
        coroutine.yield(mesgt.body.preamble)
        coroutine.yield("\r\n")
    end
    for _, part in ipairs(mesgt.body) do
        coroutine.yield("\r\n--" .. boundary .. "\r\n")
        send_message(part)
    end
    coroutine.yield("\r\n--" .. boundary .. "--\r\n\r\n")
    if mesgt.body.epilogue then
        coroutine.yield(mesgt.body.epilogue)
        coroutine.yield("\r\n")
    end
end

local function send_source(mesgt)
    local headers = lower_headers(mesgt.headers or {})
    headers["content-type"] = headers["content-type"] or 'text/plain; charset="iso-8859-1"'
    send_headers(headers)
    while true do
        local chunk, err = mesgt.body()
        if err then
            coroutine.yield(nil, err)
        elseif chunk then
            coroutine.yield(chunk)
        else
            break
        end
    end
end

local function send_string(mesgt)
    local headers = lower_headers(mesgt.headers or {})
    headers["content-type"] = headers["content-type"] or 'text/plain; charset="iso-8859-1"'
    send_headers(headers)
    coroutine.yield(mesgt.body)
end

send_message = function(mesgt)
    if type(mesgt.body) == "table" then
        send_multipart(mesgt)
    elseif type(mesgt.body) == "function" then
        send_source(mesgt)
    else
        send_string(mesgt)
    end
end

local function adjust_headers(mesgt)
    local lower = lower_headers(mesgt.headers)
    lower["date"] = lower["date"] or os.date("!%a, %d %b %Y %H:%M:%S ") .. (mesgt.zone or _M.ZONE)
    lower["x-mailer"] = lower["x-mailer"] or socket._VERSION
    -- A MIME message, whatever the caller said.
    lower["mime-version"] = "1.0"
    return lower
end

-- An LTN12 source producing the message described by `mesgt`, part by part.
function _M.message(mesgt)
    mesgt.headers = adjust_headers(mesgt)
    local co = coroutine.create(function() send_message(mesgt) end)
    return function()
        local ok, a, b = coroutine.resume(co)
        if ok then return a, b end
        return nil, a
    end
end

_M.send = socket.protect(function(mailt)
    local s = _M.open(mailt.server, mailt.port, mailt.create)
    local ext = s:greet(mailt.domain)
    s:auth(mailt.user, mailt.password, ext)
    s:send(mailt)
    s:quit()
    return s:close()
end)

return _M
