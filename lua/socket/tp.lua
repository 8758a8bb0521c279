-- socket.tp: the line-oriented request/reply protocol helper under SMTP and FTP.
-- A reply is one or more lines "NNN text"; a multi-line reply starts with "NNN-" and ends
-- at a line starting with the same code and a space.
local socket = require("socket")
local ltn12 = require("ltn12")

local string, table, tonumber, type, setmetatable, ipairs =
    string, table, tonumber, type, setmetatable, ipairs

socket.tp = {}
local _M = socket.tp

_M.TIMEOUT = 60

-- Reply lines longer than this are a broken or hostile peer, not a protocol.
local MAXLINE = 65536
-- So are multi-line replies longer than this in all.
local MAXREPLY = 1048576

-- A reply line's code and what follows it ("-", " " or nothing), if the line starts with
-- exactly three digits and then one of those. LuaSocket took the first three digits of
-- any line, so "2000 x" was a 200.
local function codeof(line)
    local code, sep = string.match(line, "^(%d%d%d)([- ]?)")
    if code and (sep ~= "" or #line == 3) then return code, sep end
    return nil
end

-- Reads the rest of a multi-line reply opened by `first` with `code`, up to the line with
-- the same code and a space. Other lines are text, but one that starts with a different
-- code is an error: SMTP wants the same code on every line (RFC 5321 section 4.2.1) and
-- FTP servers must indent text that starts with digits (RFC 959 section 4.2).
local function get_continuation(c, code, first)
    local lines, size = { first }, #first
    repeat
        local current, err = c:receive("*l", nil, MAXLINE)
        if err then return nil, err end
        size = size + #current + 1
        if size > MAXREPLY then return nil, "reply too long" end
        lines[#lines + 1] = current
        local more_code, more_sep = codeof(current)
        if more_code and more_code ~= code then return nil, "invalid server reply" end
    until more_code and more_sep == " "
    return code, table.concat(lines, "\n")
end

-- Reads one reply: its code and full text (continuation lines joined with "\n").
local function get_reply(c)
    local line, err = c:receive("*l", nil, MAXLINE)
    if err then return nil, err end
    local code, sep = codeof(line)
    if not code then return nil, "invalid server reply" end
    if sep ~= "-" then return code, line end
    return get_continuation(c, code, line)
end

local metat = { __index = {} }
local methods = metat.__index

function methods:getpeername() return self.c:getpeername() end
function methods:getsockname() return self.c:getsockname() end

-- Checks the next reply against `ok`: a code pattern ("2.."), a list of them, or a
-- function of (code, reply). Returns the numeric code and the reply, or nil, reply.
function methods:check(ok)
    local code, reply = get_reply(self.c)
    if not code then return nil, reply end
    if type(ok) ~= "function" then
        if type(ok) == "table" then
            for _, v in ipairs(ok) do
                if string.find(code, v) then return tonumber(code), reply end
            end
            return nil, reply
        end
        if string.find(code, ok) then return tonumber(code), reply end
        return nil, reply
    end
    return ok(tonumber(code), reply)
end

function methods:command(cmd, arg)
    cmd = string.upper(cmd)
    if arg then
        return self.c:send(cmd .. " " .. arg .. "\r\n")
    end
    return self.c:send(cmd .. "\r\n")
end

function methods:sink(snk, pat)
    local chunk, err = self.c:receive(pat)
    return snk(chunk, err)
end

function methods:send(data) return self.c:send(data) end
function methods:receive(pat) return self.c:receive(pat) end
function methods:getfd() return self.c:getfd() end
function methods:dirty() return self.c:dirty() end
function methods:getcontrol() return self.c end

-- Sends what `source` produces over the control connection.
function methods:source(source, step)
    local sink = socket.sink("keep-open", self.c)
    local ret, err = ltn12.pump.all(source, sink, step or ltn12.pump.step)
    return ret, err
end

function methods:close()
    self.c:close()
    return 1
end

-- Connects to host:port; `create` replaces socket.tcp (e.g. for TLS).
function _M.connect(host, port, timeout, create)
    local c, e = (create or socket.tcp)()
    if not c then return nil, e end
    c:settimeout(timeout or _M.TIMEOUT)
    local r
    r, e = c:connect(host, port)
    if not r then
        c:close()
        return nil, e
    end
    return setmetatable({ c = c }, metat)
end

return _M
