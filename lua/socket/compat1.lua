-- socket.compat1: LuaSocket 1.x's API (a set of global functions) over this project's
-- LuaSocket 3.x modules, written from the LuaSocket 1.2 manual. A script opts in with
--
--     require "socket.compat1"
--
-- which installs the 1.x globals (connect, bind, receive, http_get, ...) and returns a
-- table holding the same functions. Nothing in the 3.x `socket` table is changed.
--
-- 1.x sockets were tables whose methods could also be called as globals taking the socket
-- first: `send(sock, "x")` is `sock:send("x")`. Here each is a table holding its 3.x
-- object in a private field; the globals dispatch on the socket's kind (client, server or
-- udp), since `send`, `receive`, ... mean different things for TCP and UDP.
--
-- The manual's lists that plain text lost are, in 1.x's own terms:
--   receive patterns  "*l"  a line ended by LF, every CR dropped (the default)
--                     "*lu" a line ended by LF, CRs kept ("Unix line")
--                     "*a"  everything until the peer closes (closing is success)
--                     n     exactly n bytes (a number, or a numeric string)
--   timeout modes     "b" (default) bounds each wait ("blocked" timeout: 3.x's "b")
--                     "r" bounds the whole call ("return" timeout: 3.x's "t")
--   poll operations   "*r" ready to receive (or, on a server, to accept), "*s" to send
--
-- Where 1.x cannot be reproduced over WASI 0.2 (no reverse DNS) the 3.x core's answer is
-- used; docs/compat1.md lists each difference and why.

local socket = require("socket")

local debug, error, getmetatable, ipairs, math, pairs, select, setmetatable, string,
    table, tonumber, tostring, type, require =
    debug, error, getmetatable, ipairs, math, pairs, select, setmetatable, string,
    table, tonumber, tostring, type, require

local M = {}

-- The largest UDP payload: what "the maximum datagram size" of receive means.
local MAX_DATAGRAM = 65535
-- Numeric receives are read in pieces of at most this many bytes, so a huge count costs
-- memory only for the bytes that really arrive.
local PIECE = 65536

-- Raising errors -------------------------------------------------------------------
-- Wrong types and unknown patterns are programming errors, raised as Lua raises
-- argument errors; network failures are returned, in 1.x's positions.

local HERE = debug and debug.getinfo and debug.getinfo(1, "S").source

-- The level, as `error` counts from `raise`, of the nearest function outside this file,
-- so the message points at the script's line whichever call form it used.
local function outside_level()
    if not HERE then return 3 end
    local level = 2
    while true do
        local info = debug.getinfo(level + 1, "S")
        if not info then return level end
        if info.source ~= HERE then return level end
        level = level + 1
    end
end

local function raise(message)
    error(message, outside_level())
end

local function argerror(n, fname, message)
    raise(string.format("bad argument #%d to '%s' (%s)", n, fname, message))
end

local function typename(v)
    if v == nil then return "no value" end
    return type(v)
end

-- A string argument; numbers are converted, as 1.x's luaL_check_string did.
local function check_string(v, n, fname)
    if type(v) == "number" then return tostring(v) end
    if type(v) ~= "string" then argerror(n, fname, "string expected, got " .. typename(v)) end
    return v
end

local function check_optional_table(v, n, fname)
    if v ~= nil and type(v) ~= "table" then
        argerror(n, fname, "table expected, got " .. typename(v))
    end
    return v
end

-- An integer within [lo, hi] from a number or numeric string; fractions are truncated,
-- as 1.x's C casts truncated them.
local function check_integer(v, n, fname, what, lo, hi)
    local num = tonumber(v)
    if not num then argerror(n, fname, what .. " expected, got " .. typename(v)) end
    local int = num >= 0 and math.floor(num) or math.ceil(num)
    int = math.tointeger(int)
    if not int or int < lo or int > hi then argerror(n, fname, what .. " out of range") end
    return int
end

local function check_port(v, n, fname)
    return check_integer(v, n, fname, "port number", 0, 65535)
end

-- Socket objects -----------------------------------------------------------------------
-- A 1.x socket is a table; its state lives under a private key: the 3.x object (`sock`),
-- `kind`, the return timeout in seconds (`ret`, negative: none; the block timeout needs
-- no copy, the 3.x object keeps it), `start` (when the current call began), `connected`
-- (UDP with a peer) and `closed`.

local STATE = {}

local methods = { client = {}, server = {}, udp = {} }
local classes = {}
for kind, index in pairs(methods) do
    classes[kind] = {
        __index = index,
        __name = kind .. " socket",
        __tostring = function(self)
            return kind .. " socket (" .. tostring(self[STATE].sock) .. ")"
        end,
    }
end

local function wrap(sock, kind)
    local st = { sock = sock, kind = kind, ret = -1, start = 0, connected = false, closed = false }
    return setmetatable({ [STATE] = st }, classes[kind])
end

-- The state of a 1.x socket passed as argument 1 of `fname`; raises for anything else,
-- and for a closed socket unless `closed_ok` ("no further operations are allowed").
local function state_of(sock, fname, closed_ok)
    local mt = getmetatable(sock)
    local st = type(sock) == "table" and rawget(sock, STATE)
    if not st or classes[st.kind] ~= mt then
        argerror(1, fname, "socket expected, got " .. typename(sock))
    end
    if st.closed and not closed_ok then argerror(1, fname, "socket is closed") end
    return st
end

-- Timeouts ------------------------------------------------------------------------------
-- 3.x's total timeout restarts with every call to the 3.x object, while 1.x's return
-- timeout bounds a whole 1.x call, which may make several (one per pattern, per string,
-- per byte of a "*lu" line). So a call marks its start, and before each 3.x call `arm`
-- gives the object what is left of the return timeout.

local function begin(st)
    st.start = socket.gettime()
end

local function arm(st)
    if st.ret >= 0 then
        local left = st.ret - (socket.gettime() - st.start)
        st.sock:settimeout(left > 0 and left or 0, "t")
    end
end

-- timeout(socket, value [, mode]): nil or negative means no limit. Returns nothing.
local function set_timeout(self, value, mode)
    local st = state_of(self, "timeout")
    local seconds = -1
    if value ~= nil then
        seconds = tonumber(value)
        if not seconds then argerror(2, "timeout", "number expected, got " .. typename(value)) end
        if seconds ~= seconds or seconds < 0 then seconds = -1 end
    end
    if mode ~= nil and type(mode) ~= "string" then
        argerror(3, "timeout", "string expected, got " .. typename(mode))
    end
    local letter = (mode or "b"):sub(1, 1)
    if letter == "b" then
        st.sock:settimeout(seconds, "b")
    elseif letter == "r" then
        st.ret = seconds
        st.sock:settimeout(seconds, "t")
    else
        argerror(3, "timeout", "invalid timeout mode")
    end
end

for _, index in pairs(methods) do index.timeout = set_timeout end

-- The first two values of a 3.x address query: 1.x had no family.
local function address_only(ip, port)
    if not ip then return nil end
    return ip, math.tointeger(port) or port
end

-- Methods every kind has ------------------------------------------------------------------

local function close(self)
    local st = state_of(self, "close", true)
    if not st.closed then
        st.closed = true
        st.sock:close()
    end
end

local function getsockname(self)
    local st = state_of(self, "getsockname")
    return address_only(st.sock:getsockname())
end

-- poll(socket, operation): 1 when ready, nil otherwise, without waiting.
local function poll(self, operation)
    local st = state_of(self, "poll")
    local ready
    if operation == "*r" then
        ready = socket.select({ st.sock }, nil, 0)[1]
    elseif operation == "*s" then
        ready = select(2, socket.select(nil, { st.sock }, 0))[1]
    else
        argerror(2, "poll", "invalid poll operation")
    end
    if ready then return 1 end
    return nil
end

for _, index in pairs(methods) do
    index.close, index.getsockname, index.poll = close, getsockname, poll
end

-- TCP: connect, bind, accept ------------------------------------------------------------

function M.connect(address, port)
    address = check_string(address, 1, "connect")
    port = check_port(port, 2, "connect")
    local sock, err = socket.connect(address, port)
    if not sock then return nil, err end
    return wrap(sock, "client")
end

-- The backlog defaults to 1, as in 1.x (3.x's default is 32).
function M.bind(address, port, backlog)
    address = check_string(address, 1, "bind")
    port = check_port(port, 2, "bind")
    backlog = backlog == nil and 1 or check_integer(backlog, 3, "bind", "backlog", 0, 65535)
    local sock, err = socket.bind(address, port, backlog)
    if not sock then return nil, err end
    return wrap(sock, "server")
end

-- A new client socket, or nil and "timeout" (or another error) when none came in time.
function methods.server.accept(self)
    local st = state_of(self, "accept")
    begin(st)
    arm(st)
    local client, err = st.sock:accept()
    if not client then return nil, err end
    return wrap(client, "client")
end

-- "It makes no sense to call getpeername on a server socket object": nil.
function methods.server.getpeername(self)
    state_of(self, "getpeername")
    return nil
end

function methods.client.getpeername(self)
    local st = state_of(self, "getpeername")
    return address_only(st.sock:getpeername())
end

-- TCP: send ---------------------------------------------------------------------------------

-- send(socket, string1, ..., stringN): the error (nil, "closed" or "timeout") first, then
-- the number of bytes the transport accepted. Every argument is checked before anything
-- is sent, so a bad one cannot leave half a message on the wire.
function methods.client.send(self, ...)
    local st = state_of(self, "send")
    local strings = table.pack(...)
    for i = 1, strings.n do strings[i] = check_string(strings[i], i + 1, "send") end
    begin(st)
    local total = 0
    for i = 1, strings.n do
        arm(st)
        local last, err, sent = st.sock:send(strings[i])
        if not last then return err, total + (math.tointeger(sent) or 0) end
        total = total + #strings[i]
    end
    return nil, total
end

-- TCP: receive ------------------------------------------------------------------------------
-- Each reader returns the string read and, on failure, the error; on failure the string
-- is what arrived before it, as 1.x returned it.

local function read_line(st)
    arm(st)
    local line, err, partial = st.sock:receive("*l")
    if line then return line end
    return partial, err
end

-- 3.x's "*l" drops CRs, so a line keeping them is read a byte at a time; the 3.x object
-- buffers, so each byte comes from memory, not from the network.
local function read_unix_line(st)
    local bytes = {}
    while true do
        arm(st)
        local byte, err = st.sock:receive(1)
        if not byte then return table.concat(bytes), err end
        if byte == "\n" then return table.concat(bytes) end
        bytes[#bytes + 1] = byte
    end
end

-- Until the peer closes: its closing completes the read, so it is no error here.
local function read_all(st)
    arm(st)
    local data, err, partial = st.sock:receive("*a")
    if data then return data end
    if err == "closed" then return partial end
    return partial, err
end

local function read_count(st, count)
    local pieces, left = {}, count
    while left > 0 do
        arm(st)
        local want = math.min(left, PIECE)
        local data, err, partial = st.sock:receive(want)
        if not data then
            pieces[#pieces + 1] = partial
            return table.concat(pieces), err
        end
        pieces[#pieces + 1] = data
        left = left - want
    end
    return table.concat(pieces)
end

local readers = { ["*l"] = read_line, ["*lu"] = read_unix_line, ["*a"] = read_all }

-- The reader for one pattern (argument `n`) and its count; raises for anything 1.x
-- rejected. Patterns match exactly: 1.x knew no abbreviations.
local function reader_for(pattern, n)
    if type(pattern) == "string" and readers[pattern] then return readers[pattern] end
    local count = (type(pattern) == "number" or type(pattern) == "string") and tonumber(pattern)
    -- NaN, negative, infinite and beyond-integer counts all fail here.
    count = count and count >= 0 and math.tointeger(math.floor(count))
    if not count then argerror(n, "receive", "invalid receive pattern") end
    return read_count, count
end

-- receive(socket [, pattern1, ..., patternN]): one string per pattern, then the error.
-- When a pattern fails, it gives what it read so far and the patterns after it nil.
-- Every pattern is checked before anything is read, so a bad one loses no data.
function methods.client.receive(self, ...)
    local st = state_of(self, "receive")
    local patterns = table.pack(...)
    if patterns.n == 0 then patterns = { "*l", n = 1 } end
    local plan = {}
    for i = 1, patterns.n do
        local reader, count = reader_for(patterns[i], i + 1)
        plan[i] = { reader = reader, count = count }
    end
    begin(st)
    local results, err = {}, nil
    for i, step in ipairs(plan) do
        results[i], err = step.reader(st, step.count)
        if err then break end
    end
    results[patterns.n + 1] = err
    return table.unpack(results, 1, patterns.n + 1)
end

-- UDP -------------------------------------------------------------------------------------

function M.udpsocket()
    local sock, err = socket.udp()
    if not sock then return nil, err end
    return wrap(sock, "udp")
end

local function udp_state(self, fname, want_connected)
    local st = state_of(self, fname)
    if want_connected ~= nil and st.connected ~= want_connected then
        raise(fname .. (want_connected and " on unconnected socket" or " on connected socket"))
    end
    return st
end

-- The size argument of receive/receivefrom: up to "the maximum datagram size".
local function datagram_size(v, fname)
    if v == nil then return MAX_DATAGRAM end
    return math.min(check_integer(v, 2, fname, "size", 0, math.maxinteger), MAX_DATAGRAM)
end

-- setpeername(socket, address, port): nil, or an error message. "*" takes the peer
-- away again, as 3.x allows.
function methods.udp.setpeername(self, address, port)
    local st = udp_state(self, "setpeername")
    address = check_string(address, 2, "setpeername")
    if address == "*" then
        port = port == nil and 0 or check_port(port, 3, "setpeername")
    else
        port = check_port(port, 3, "setpeername")
    end
    local ok, err = st.sock:setpeername(address, port)
    if not ok then return err end
    st.connected = address ~= "*"
    return nil
end

-- setsockname(socket, address, port): nil, or an error message.
function methods.udp.setsockname(self, address, port)
    local st = udp_state(self, "setsockname")
    address = check_string(address, 2, "setsockname")
    port = check_port(port, 3, "setsockname")
    if st.connected then return "already connected" end
    local ok, err = st.sock:setsockname(address, port)
    if not ok then return err end
    return nil
end

-- LuaSocket 1.2 words a refused datagram "refused"; the core, as Linux's 3.1,
-- "connection refused".
local function udp_error(err)
    if err == "connection refused" then return "refused" end
    return err
end

-- sendto(socket, string, ip, port): nil, or "timeout" / "refused" (or another error).
function methods.udp.sendto(self, data, ip, port)
    local st = udp_state(self, "sendto", false)
    data = check_string(data, 2, "sendto")
    ip = check_string(ip, 3, "sendto")
    port = check_port(port, 4, "sendto")
    begin(st)
    arm(st)
    local sent, err = st.sock:sendto(data, ip, port)
    if not sent then return udp_error(err) end
    return nil
end

-- send(socket, string) to the peer setpeername named: nil, or the error.
function methods.udp.send(self, data)
    local st = udp_state(self, "send", true)
    data = check_string(data, 2, "send")
    begin(st)
    arm(st)
    local sent, err = st.sock:send(data)
    if not sent then return udp_error(err) end
    return nil
end

-- receive(socket [, number]): a datagram, cut to `number` bytes, or nil and the error.
function methods.udp.receive(self, size)
    local st = udp_state(self, "receive")
    size = datagram_size(size, "receive")
    begin(st)
    arm(st)
    local data, err = st.sock:receive(size)
    if not data then return nil, udp_error(err) end
    return data
end

-- receivefrom(socket [, number]): a datagram and the sender's ip and port.
function methods.udp.receivefrom(self, size)
    local st = udp_state(self, "receivefrom", false)
    size = datagram_size(size, "receivefrom")
    begin(st)
    arm(st)
    local data, ip, port = st.sock:receivefrom(size)
    if not data then return nil, udp_error(ip) end
    return data, ip, math.tointeger(port) or port
end

-- Without a peer there is nothing to report: nil, as the manual says.
function methods.udp.getpeername(self)
    local st = udp_state(self, "getpeername")
    if not st.connected then return nil end
    return address_only(st.sock:getpeername())
end

-- DNS ---------------------------------------------------------------------------------------
-- WASI 0.2 has no reverse lookup, so 3.x's tohostname gives an address back as its own
-- name (what the resolver answers when it finds none) and a name as written.

function M.toip(address)
    address = check_string(address, 1, "toip")
    local ip, resolved = socket.dns.toip(address)
    return ip, resolved
end

function M.tohostname(address)
    address = check_string(address, 1, "tohostname")
    local name, resolved = socket.dns.tohostname(address)
    return name, resolved
end

-- The methods as globals ------------------------------------------------------------------
-- `name(sock, ...)` calls sock's own method; a socket of a kind without it is an argument
-- error naming the kinds that have it.

local function kinds_with(name)
    local kinds = {}
    for _, kind in ipairs({ "client", "server", "udp" }) do
        if methods[kind][name] then kinds[#kinds + 1] = kind end
    end
    return table.concat(kinds, " or ") .. " socket"
end

local function global_method(name)
    local expected = kinds_with(name)
    return function(sock, ...)
        local st = state_of(sock, name, true)
        local method = methods[st.kind][name]
        if not method then
            argerror(1, name, expected .. " expected, got " .. st.kind .. " socket")
        end
        return method(sock, ...)
    end
end

local METHOD_GLOBALS = {
    "accept", "close", "getpeername", "getsockname", "poll", "receive", "receivefrom",
    "send", "sendto", "setpeername", "setsockname", "timeout",
}
for _, name in ipairs(METHOD_GLOBALS) do M[name] = global_method(name) end

-- Protocols: shared helpers -----------------------------------------------------------------

-- 1.x URLs may leave out the scheme ("[http://]host/path").
local function with_scheme(u, scheme)
    if u:find("^%a[%w+.-]*://") then return u end
    return scheme .. "://" .. u
end

local function lowercase_keys(t)
    local lower = {}
    for name, value in pairs(t or lower) do lower[string.lower(tostring(name))] = value end
    return lower
end

-- HTTP -------------------------------------------------------------------------------------

-- "HTTP/1.1 401 Unauthorized" -> "401 Unauthorized", the form the manual's example shows.
local function status_text(status)
    if type(status) ~= "string" then return status end
    return status:match("^HTTP/%S+%s+(.-)%s*$") or status
end

-- http_request(method, url [, headers, body]): body, headers, status; on failure what
-- was retrieved (nil for what was not) and the error.
function M.http_request(method, url, headers, body)
    method = check_string(method, 1, "http_request")
    url = check_string(url, 2, "http_request")
    headers = lowercase_keys(check_optional_table(headers, 3, "http_request"))
    if body ~= nil then body = check_string(body, 4, "http_request") end
    local ltn12 = require("ltn12")
    local source
    if body then
        headers["content-length"] = tostring(#body)
        source = ltn12.source.string(body)
    end
    local received = {}
    local ok, code, reply_headers, status = require("socket.http").request {
        url = with_scheme(url, "http"), method = method, headers = headers,
        source = source, sink = ltn12.sink.table(received),
    }
    local reply = table.concat(received)
    if not ok then return reply ~= "" and reply or nil, nil, nil, code end
    return reply, reply_headers, status_text(status)
end

function M.http_get(url, headers)
    url = check_string(url, 1, "http_get")
    check_optional_table(headers, 2, "http_get")
    return M.http_request("GET", url, headers)
end

-- A form post unless the caller says otherwise, as 3.x's simple POST is.
function M.http_post(url, body, headers)
    url = check_string(url, 1, "http_post")
    body = check_string(body, 2, "http_post")
    headers = lowercase_keys(check_optional_table(headers, 3, "http_post"))
    headers["content-type"] = headers["content-type"] or "application/x-www-form-urlencoded"
    return M.http_request("POST", url, headers, body)
end

-- SMTP -------------------------------------------------------------------------------------

-- 1.x named the server only; "host:port" (or "[v6]:port") also picks a port here, since
-- a sandbox rarely runs its mail server on 25.
local function split_server(server)
    local host, port = server:match("^%[(.-)%]:(%d+)$")
    if not host then host, port = server:match("^([^:]*):(%d+)$") end
    if not host then host = server:match("^%[(.-)%]$") or server end
    return host, tonumber(port)
end

-- The envelope form of an address: "Name <a@b>" and "a@b" both give "<a@b>".
local function envelope(address)
    local inner = address:match("<([^>]*)>")
    if inner then return "<" .. inner .. ">" end
    return "<" .. address:match("^%s*(.-)%s*$") .. ">"
end

-- smtp_mail(from, rcpt, headers, body, server): nil, or an error message.
function M.smtp_mail(from, rcpt, headers, body, server)
    from = check_string(from, 1, "smtp_mail")
    if type(rcpt) ~= "table" then rcpt = { check_string(rcpt, 2, "smtp_mail") } end
    check_optional_table(headers, 3, "smtp_mail")
    body = body == nil and "" or check_string(body, 4, "smtp_mail")
    server = check_string(server, 5, "smtp_mail")
    local recipients = {}
    for i, to in ipairs(rcpt) do recipients[i] = envelope(check_string(to, 2, "smtp_mail")) end
    local smtp, ltn12, mime = require("socket.smtp"), require("ltn12"), require("mime")
    local host, port = split_server(server)
    local ok, err = smtp.send {
        from = envelope(from),
        rcpt = recipients,
        server = host,
        port = port,
        -- SMTP lines end in CRLF; 1.x scripts wrote bodies with "\n".
        source = smtp.message {
            headers = lowercase_keys(headers),
            body = ltn12.source.chain(ltn12.source.string(body), mime.normalize()),
        },
    }
    if not ok then return err end
    return nil
end

-- "a@b, Name <c@d>" -> { "a@b", "Name <c@d>" }
local function address_list(list)
    local addresses = {}
    for item in string.gmatch(list or "", "[^,]+") do
        item = item:match("^%s*(.-)%s*$")
        if item ~= "" then addresses[#addresses + 1] = item end
    end
    return addresses
end

-- mail{to, from, subject, message, cc, bcc, mailserver}: CGILua 3.2's interface. Bcc
-- recipients get the message but appear in no header. nil, or an error message.
function M.mail(t)
    if type(t) ~= "table" then argerror(1, "mail", "table expected, got " .. typename(t)) end
    for _, field in ipairs({ "to", "from", "mailserver" }) do
        if type(t[field]) ~= "string" then return "mail: field '" .. field .. "' is required" end
    end
    for _, field in ipairs({ "subject", "message", "cc", "bcc" }) do
        if t[field] ~= nil and type(t[field]) ~= "string" then
            return "mail: field '" .. field .. "' must be a string"
        end
    end
    local rcpt = {}
    for _, list in ipairs({ t.to, t.cc, t.bcc }) do
        for _, address in ipairs(address_list(list)) do rcpt[#rcpt + 1] = address end
    end
    local headers = { to = t.to, from = t.from, subject = t.subject, cc = t.cc }
    return M.smtp_mail(t.from, rcpt, headers, t.message or "", t.mailserver)
end

-- FTP --------------------------------------------------------------------------------------

local FTP_TYPES = { a = "a", b = "i" }

-- The 3.x request table for an ftp URL, or nil and an error. The type argument ('a',
-- the default, or 'b') wins over a ";type=" in the URL.
local function ftp_request(u, transfer, fname)
    u = check_string(u, 1, fname)
    if transfer ~= nil and not FTP_TYPES[transfer] then
        argerror(fname == "ftp_get" and 2 or 3, fname, "invalid transfer type")
    end
    local parsed = require("socket.url").parse(with_scheme(u, "ftp"))
    if not parsed then return nil, "invalid url" end
    if parsed.scheme ~= "ftp" then
        return nil, "wrong scheme '" .. tostring(parsed.scheme) .. "'"
    end
    if not parsed.host then return nil, "missing hostname" end
    local kind = "a"
    if transfer then
        kind = FTP_TYPES[transfer]
    elseif parsed.params then
        kind = parsed.params:match("^type=([ai])$")
        if not kind then return nil, "invalid type '" .. parsed.params .. "'" end
    end
    return {
        host = parsed.host, port = tonumber(parsed.port),
        user = parsed.user, password = parsed.password,
        path = parsed.path or "/", type = kind,
    }
end

-- ftp_get(url [, type]): the file, or the listing of a path ending in "/"; nil and an
-- error on failure.
function M.ftp_get(u, transfer)
    local request, err = ftp_request(u, transfer, "ftp_get")
    if not request then return nil, err end
    if request.path:sub(-1) == "/" then request.command = "nlst" end
    local received = {}
    request.sink = require("ltn12").sink.table(received)
    local ok
    ok, err = require("socket.ftp").get(request)
    if not ok then return nil, err end
    return table.concat(received)
end

-- ftp_put(url, data [, type]): nil, or an error message.
function M.ftp_put(u, data, transfer)
    data = check_string(data, 2, "ftp_put")
    local request, err = ftp_request(u, transfer, "ftp_put")
    if not request then return err end
    request.source = require("ltn12").source.string(data)
    local ok
    ok, err = require("socket.ftp").put(request)
    if not ok then return err end
    return nil
end

-- Installing the globals ------------------------------------------------------------------
-- An explicit list, so nothing but 1.x's names is ever written into _G.

local GLOBALS = {
    "connect", "bind", "udpsocket", "toip", "tohostname",
    "accept", "close", "getpeername", "getsockname", "poll", "receive", "receivefrom",
    "send", "sendto", "setpeername", "setsockname", "timeout",
    "http_request", "http_get", "http_post", "smtp_mail", "mail", "ftp_get", "ftp_put",
}

for _, name in ipairs(GLOBALS) do _G[name] = M[name] end

return M
