-- socket.ftp: FTP client (RFC 959) with passive data connections (EPSV, then PASV).
local socket = require("socket")
local url = require("socket.url")
local tp = require("socket.tp")
local ltn12 = require("ltn12")

local string, table, math, tonumber, tostring, type, pairs, ipairs, select, setmetatable =
    string, table, math, tonumber, tostring, type, pairs, ipairs, select, setmetatable

socket.ftp = {}
local _M = socket.ftp

_M.TIMEOUT = 60
-- Kept local, as LuaSocket keeps it: the default control port.
local PORT = 21
_M.USER = "ftp"
_M.PASSWORD = "anonymous@anonymous.org"

local metat = { __index = {} }
local session = metat.__index

function _M.open(server, port, create)
    local t = socket.try(tp.connect(server, port or PORT, _M.TIMEOUT, create))
    local f = setmetatable({ tp = t, create = create }, metat)
    f.try = socket.newtry(function() f:close() end)
    return f
end

function session:greet()
    local code = self.try(self.tp:check({ "1..", "2.." }))
    if string.find(code, "1..") then self.try(self.tp:check("2..")) end
    return 1
end

function session:login(user, password)
    self.try(self.tp:command("user", user or _M.USER))
    local code = self.try(self.tp:check({ "2..", 331 }))
    if code == 331 then
        self.try(self.tp:command("pass", password or _M.PASSWORD))
        self.try(self.tp:check("2.."))
    end
    return 1
end

-- A port number from a reply: decimal digits that make 1 to 65535, or nil.
local function portnumber(digits)
    local port = math.tointeger(tonumber(digits))
    if port and port >= 1 and port <= 65535 then return port end
    return nil
end

-- The port in an EPSV answer: "(|||port|)", any delimiter (RFC 2428).
local function epsvport(reply)
    return portnumber(select(2, string.match(reply, "%((.)%1%1(%d+)%1%)")))
end

-- The port in a PASV answer: six numbers h1,h2,h3,h4,p1,p2, each 0 to 255, and
-- p1 * 256 + p2 a port. LuaSocket took any digits, so a reply could name port 0 or
-- one past 65535.
local function pasvport(reply)
    local numbers = { string.match(reply, "%f[%d](%d+),(%d+),(%d+),(%d+),(%d+),(%d+)%f[%D]") }
    if #numbers ~= 6 then return nil end
    for i, n in ipairs(numbers) do
        numbers[i] = math.tointeger(tonumber(n))
        if not (numbers[i] and numbers[i] <= 255) then return nil end
    end
    return portnumber(numbers[5] * 256 + numbers[6])
end

-- The data connection's address: the port from EPSV (RFC 2428), or from PASV. Either
-- way the host is the control connection's peer, as careful clients do: a PASV answer
-- may name an address the client cannot (or may not) reach.
function session:pasv()
    local host = self.tp:getcontrol():getpeername()
    self.try(self.tp:command("epsv"))
    local port
    local code, reply = self.tp:check("229")
    if code then
        port = self.try(epsvport(reply), "invalid EPSV reply: " .. tostring(reply))
    else
        self.try(self.tp:command("pasv"))
        code, reply = self.try(self.tp:check("227"))
        port = self.try(pasvport(reply), "invalid PASV reply: " .. tostring(reply))
    end
    self.pasvt = { address = host, port = port }
    return host, port
end

-- Opens the data connection to the address the last pasv() announced.
function session:connect_data()
    local data = self.try((self.create or socket.tcp)())
    self.try(data:settimeout(_M.TIMEOUT))
    self.try(data:connect(self.pasvt.address, self.pasvt.port))
    self.data = data
    return data
end

function session:send(sendt)
    self.try(self.pasvt, "need a passive connection first")
    local data = self:connect_data()
    local argument = sendt.argument or url.unescape(string.gsub(sendt.path or "", "^[/\\]", ""))
    if argument == "" then argument = nil end
    local command = sendt.command or "stor"
    self.try(self.tp:command(command, argument))
    local code = self.try(self.tp:check({ "2..", "1.." }))
    local step = sendt.step or ltn12.pump.step
    local sent, err = ltn12.pump.all(sendt.source, socket.sink("close-when-done", data), step)
    data:close()
    self.try(sent, err)
    if string.find(code, "1..") then self.try(self.tp:check("2..")) end
    -- What put returns: the bytes the data connection sent, as LuaSocket counts them.
    return (socket.skip(1, data:getstats()))
end

function session:receive(recvt)
    self.try(self.pasvt, "need a passive connection first")
    local data = self:connect_data()
    local argument = recvt.argument or url.unescape(string.gsub(recvt.path or "", "^[/\\]", ""))
    if argument == "" then argument = nil end
    local command = recvt.command or "retr"
    self.try(self.tp:command(command, argument))
    local code, reply = self.try(self.tp:check({ "1..", "2.." }))
    if code >= 200 and code <= 299 then
        data:close()
        recvt.sink(reply)
        return 1
    end
    local source = socket.source("until-closed", data)
    local step = recvt.step or ltn12.pump.step
    local ok, err = ltn12.pump.all(source, recvt.sink, step)
    data:close()
    self.try(ok, err)
    self.try(self.tp:check("2.."))
    return 1
end

function session:cwd(dir)
    self.try(self.tp:command("cwd", dir))
    self.try(self.tp:check(250))
    return 1
end

function session:type(type)
    self.try(self.tp:command("type", type))
    self.try(self.tp:check(200))
    return 1
end

function session:quit()
    self.try(self.tp:command("quit"))
    self.try(self.tp:check("2.."))
    return 1
end

function session:close()
    if self.data then self.data:close() end
    return self.tp:close()
end

-- The table forms ------------------------------------------------------------------

local function override(t)
    if t.url then
        local u = url.parse(t.url)
        for k, v in pairs(t) do u[k] = v end
        return u
    end
    return t
end

local function tput(putt)
    putt = override(putt)
    socket.try(putt.host, "missing hostname")
    local f = _M.open(putt.host, putt.port, putt.create)
    f:greet()
    f:login(putt.user, putt.password)
    if putt.type then f:type(putt.type) end
    f:pasv()
    local sent = f:send(putt)
    f:quit()
    f:close()
    return sent
end

local function tget(gett)
    gett = override(gett)
    socket.try(gett.host, "missing hostname")
    local f = _M.open(gett.host, gett.port, gett.create)
    f:greet()
    f:login(gett.user, gett.password)
    if gett.type then f:type(gett.type) end
    f:pasv()
    f:receive(gett)
    f:quit()
    return f:close()
end

-- The URL forms --------------------------------------------------------------------

local default = { path = "/", scheme = "ftp" }

local function genericform(u)
    local t = socket.try(url.parse(u, default))
    socket.try(t.scheme == "ftp", "wrong scheme '" .. tostring(t.scheme) .. "'")
    socket.try(t.host, "missing hostname")
    if t.params then
        t.type = string.match(t.params, "^type=(.)$")
        socket.try(t.type == "a" or t.type == "i", "invalid type '" .. tostring(t.type) .. "'")
    end
    return t
end

_M.genericform = genericform

local function sput(u, body)
    local putt = genericform(u)
    putt.source = ltn12.source.string(body)
    return tput(putt)
end

local function sget(u)
    local gett = genericform(u)
    local t = {}
    gett.sink = ltn12.sink.table(t)
    tget(gett)
    return table.concat(t)
end

_M.put = socket.protect(function(putt, body)
    if type(putt) == "string" then return sput(putt, body) end
    return tput(putt)
end)

_M.get = socket.protect(function(gett)
    if type(gett) == "string" then return sget(gett) end
    return tget(gett)
end)

-- One command on the control connection, e.g. {command = "dele", argument = "x"}.
_M.command = socket.protect(function(cmdt)
    cmdt = override(cmdt)
    socket.try(cmdt.host, "missing hostname")
    socket.try(cmdt.command, "missing command")
    local f = _M.open(cmdt.host, cmdt.port, cmdt.create)
    f:greet()
    f:login(cmdt.user, cmdt.password)
    if type(cmdt.command) == "table" then
        local argument = cmdt.argument or {}
        local check = cmdt.check or {}
        for i, cmd in ipairs(cmdt.command) do
            f.try(f.tp:command(cmd, argument[i]))
            if check[i] then f.try(f.tp:check(check[i])) end
        end
    else
        f.try(f.tp:command(cmdt.command, cmdt.argument))
        if cmdt.check then f.try(f.tp:check(cmdt.check)) end
    end
    f:quit()
    return f:close()
end)

return _M
