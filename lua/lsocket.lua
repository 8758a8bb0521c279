-- lsocket: Gunnar Zötl's almost-non-blocking socket API, written from its README over
-- this project's LuaSocket core (`socket.core`) and nothing else.
--
-- Every socket here is a core object with timeout 0, wrapped in a table. lsocket's
-- result vocabulary is mapped onto the core's at one place per operation:
--   core "timeout"          -> false        (the call would block)
--   core "closed" on recv   -> nil          (the peer closed the connection)
--   any other core error    -> nil, message
-- select reports a socket readable only once a read would really get something (see
-- `confirm`), as BSD select does.
--
-- What WASI 0.2 lacks (Unix-domain sockets, multicast/broadcast, a list of interfaces)
-- is answered without touching the network; see `unavailable` and `getinterfaces`.

local core = require("socket.core")

local debug, error, getmetatable, ipairs, math, next, pairs, select, setmetatable, string,
    table, tonumber, tostring, type =
    debug, error, getmetatable, ipairs, math, next, pairs, select, setmetatable, string,
    table, tonumber, tostring, type

local lsocket = {
    _VERSION = "lsocket 1.4 (luasocket-wasi)",
    INADDR_ANY = "0.0.0.0",
    IN6ADDR_ANY = "::",
}

-- How much recv/recvfrom read when no size is given: a whole UDP datagram of any legal
-- size fits, so datagrams are not truncated by default.
local DEFAULT_SIZE = 65536
-- The most one recv hands back from a TCP stream. Larger sizes still mean "up to size";
-- the cap only keeps one call from reserving an arbitrary amount of memory.
local MAX_TCP_READ = 1024 * 1024
local DEFAULT_BACKLOG = 5

local NO_UNIX = "unix domain sockets are not available: WASI 0.2 has no Unix-domain sockets"
local NO_MCAST = "multicast is not available: WASI 0.2 has no multicast or broadcast"
local CLOSED = "socket is closed"
local NOT_CONNECTED = "socket is not connected"

-- Argument checking ----------------------------------------------------------------
-- Wrong types are programming errors, raised as Lua's own argument errors are; runtime
-- failures (network, names, policy) are returned as nil, message.

-- The stack level, as `error` counts from its caller, of the first function outside
-- this module: argument errors then point at the script's line, as Lua's own do.
local function outside_level()
    if not (debug and debug.getinfo) then return 2 end -- a host without the debug library
    local here = debug.getinfo(1, "S").source
    local level = 3 -- 1 is this function, 2 the one raising
    while true do
        local info = debug.getinfo(level, "S")
        if not info or info.source ~= here then return level - 1 end
        level = level + 1
    end
end

local function argerror(n, fname, msg)
    error(string.format("bad argument #%d to '%s' (%s)", n, fname, msg), outside_level())
end

local function typename(v)
    return v == nil and "no value" or type(v)
end

-- An integer argument, from a number or a numeric string, within [lo, hi].
local function check_int(v, n, fname, what, lo, hi)
    local num = tonumber(v)
    if num == nil then argerror(n, fname, what .. " expected, got " .. typename(v)) end
    num = math.tointeger(num)
    if num == nil then argerror(n, fname, what .. " has no integer representation") end
    if num < lo or num > hi then argerror(n, fname, what .. " out of range") end
    return num
end

local function check_port(v, n, fname)
    return check_int(v, n, fname, "port number", 0, 65535)
end

-- The size argument of recv/recvfrom: at least 1, since an empty result would be
-- indistinguishable from a read of nothing.
local function check_size(v, fname)
    if v == nil then return DEFAULT_SIZE end
    return check_int(v, 1, fname, "size", 1, math.maxinteger)
end

-- Addresses and families -------------------------------------------------------------

-- lsocket takes an address containing "/" (or starting with "@", Linux's abstract
-- namespace) as a Unix-domain socket; WASI 0.2 has no such thing.
local function is_unix(address)
    return address:find("/", 1, true) ~= nil or address:sub(1, 1) == "@"
end

-- What lsocket would need that WASI 0.2 lacks for this type and address, if anything.
local function unavailable(kind, address)
    if is_unix(address) then return NO_UNIX end
    if kind == "mcast" then return NO_MCAST end
    return nil
end

-- The first address `address` stands for (of `family`, when given) and its family: a
-- literal is itself (never looked up), a name is resolved, which may block, as
-- lsocket's README says of names.
local function first_address(address, family)
    local found, err = core.dns.getaddrinfo(address)
    if not found then return nil, err end
    for _, a in ipairs(found) do
        if family == nil or a.family == family then return a.addr, a.family end
    end
    return nil, "address family not supported by protocol"
end

-- "host:port", with IPv6 hosts in brackets.
local function endpoint(addr, port)
    if not addr then return "?" end
    if addr:find(":", 1, true) then addr = "[" .. addr .. "]" end
    return addr .. ":" .. tostring(port)
end

-- The socket object -------------------------------------------------------------------
-- Fields: sock (core object), kind ("tcp"/"udp"), family ("inet"/"inet6"),
-- listening (made by lsocket.bind), peer (udp made by lsocket.connect),
-- connecting ({addr, port} while a TCP connect is in progress), err (the connect's
-- failure, kept so status() can report it), held (a read's answer select got ahead of
-- the script, see `confirm`), closed.

local Socket = {}
Socket.__index = Socket

local function wrap(sock, kind, family, fields)
    local s = setmetatable({ sock = sock, kind = kind, family = family }, Socket)
    for k, v in pairs(fields or {}) do s[k] = v end
    return s
end

local function is_socket(v)
    return getmetatable(v) == Socket
end

local function check_self(self, fname)
    if not is_socket(self) then
        -- #1 counts self, as luaL_checkudata does for methods.
        argerror(1, fname, "lsocket socket expected, got " .. typename(self))
    end
end

-- Moves a TCP connect in progress on, without waiting: asking the core to connect
-- again answers "already connected" once done, the failure if it failed, and
-- "Operation already in progress" while it is still going.
local function settle(self)
    local pending = self.connecting
    if not pending or self.closed then return end
    local ok, err = self.sock:connect(pending[1], pending[2])
    if ok or err == "already connected" then
        self.connecting = nil
    elseif err ~= "Operation already in progress" and err ~= "timeout" then
        self.connecting = nil
        self.err = err
    end
end

-- Why the socket cannot do I/O now, if it cannot: closed, or its connect failed.
local function unusable(self)
    if self.closed then return CLOSED end
    settle(self)
    return self.err
end

local function is_tcp_client(self)
    return self.kind == "tcp" and not self.listening
end

function Socket:__tostring()
    if not is_socket(self) then return "lsocket socket" end
    local head = "lsocket." .. self.kind
    if self.closed then return head .. "{closed}" end
    settle(self)
    if self.err then return head .. "{failed}: " .. self.err end
    local fd = " (" .. self.family .. ", fd " .. tostring(self:getfd()) .. ")"
    local here = endpoint(self.sock:getsockname())
    if self.listening then
        local role = self.kind == "tcp" and "{listening}: " or "{bound}: "
        return head .. role .. here .. fd
    end
    if self.connecting then
        -- wasi gives a connecting socket no local address yet: only the target is known.
        return head .. "{connecting}: -> " .. endpoint(self.connecting[1], self.connecting[2]) .. fd
    end
    return head .. "{connected}: " .. here .. " -> " .. endpoint(self.sock:getpeername()) .. fd
end

-- `info()`, `info("socket")`, `info("peer")`.
function Socket:info(what)
    check_self(self, "info")
    if what == nil then
        return {
            fd = self:getfd(),
            family = self.family,
            type = self.kind,
            listening = self.listening == true,
            multicast = false,
        }
    end
    if what ~= "socket" and what ~= "peer" then
        argerror(1, "info", "invalid option '" .. tostring(what) .. "'")
    end
    local why = unusable(self)
    if why then return nil, why end
    local addr, port, family
    if what == "socket" then
        addr, port, family = self.sock:getsockname()
    elseif self.connecting or self.listening or (self.kind == "udp" and not self.peer) then
        return nil, NOT_CONNECTED
    else
        addr, port, family = self.sock:getpeername()
    end
    if not addr then return nil, port end
    return { family = family, addr = addr, port = math.tointeger(port) }
end

-- true while the socket has no error (a connect still in progress has none yet).
function Socket:status()
    check_self(self, "status")
    local why = unusable(self)
    if why then return nil, why end
    return true
end

function Socket:getfd()
    check_self(self, "getfd")
    return math.tointeger(self.sock:getfd()) or -1
end

-- Only -1 is accepted, as in lsocket. There is no descriptor to hand to another owner,
-- so detaching closes the connection (as the core's setfd(-1) does).
function Socket:setfd(fd)
    check_self(self, "setfd")
    if math.tointeger(tonumber(fd)) ~= -1 then
        return nil, "invalid descriptor: only -1 can be set"
    end
    self.sock:setfd(-1)
    self.closed = true
    self.connecting = nil
    self.held = nil
    return true
end

-- Reading -------------------------------------------------------------------------------
-- Each read has a raw form giving lsocket's full answer. select may call it ahead of the
-- script (see `confirm`) and keep the answer in `held`, which the next call hands out.

-- What the next read finds on a TCP connection: the bytes there, up to `size`.
local function tcp_read(self, size)
    local data, err, partial = self.sock:receive(math.min(size, MAX_TCP_READ))
    if data then return data end
    if partial and partial ~= "" then return partial end
    if err == "timeout" then return false end
    if err == "closed" then return nil end
    return nil, err
end

-- The next datagram, truncated to `size`, and who sent it (the peer, when connected).
local function udp_read(self, size)
    local data, addr, port
    if self.peer then
        data, addr = self.sock:receive(size)
        if data then addr, port = self.sock:getpeername() end
    else
        data, addr, port = self.sock:receivefrom(size)
    end
    if data then return data, addr, math.tointeger(port) end
    if addr == "timeout" then return false end
    return nil, addr
end

-- The next connection on a listening socket, as a new non-blocking lsocket socket.
local function accept_one(self)
    local client, err = self.sock:accept()
    if not client then
        if err == "timeout" then return false end
        return nil, err
    end
    client:settimeout(0)
    local addr, port, family = client:getpeername()
    if not addr then
        client:close()
        return nil, port
    end
    return wrap(client, "tcp", family), addr, math.tointeger(port)
end

-- What the socket's read call answers now, packed: a held answer first, else a fresh one.
local function next_read(self, size)
    if self.held then
        local held = self.held
        self.held = nil
        return held
    end
    if self.kind == "udp" then return table.pack(udp_read(self, size)) end
    if self.listening then return table.pack(accept_one(self)) end
    return table.pack(tcp_read(self, size))
end

-- A read's answer cut to `size` bytes: the rest of a TCP read waits for the next call,
-- the rest of a datagram is dropped (as a short receive buffer drops it).
local function fit(self, result, size)
    local data = result[1]
    if type(data) == "string" and #data > size then
        if self.kind == "tcp" then self.held = table.pack(data:sub(size + 1)) end
        result[1] = data:sub(1, size)
    end
    return result
end

-- Whether a socket the core reports readable has something for its next read call.
-- wasi pollables can wake with nothing there (readiness is only cleared by a read that
-- finds nothing), and a connect finishing wakes a reader too; lsocket's select reports
-- only sockets whose next read gets data, a connection, the peer's close or an error.
-- So the read is done now and its answer held for the script.
local function confirm(self)
    if self.held then return true end
    settle(self)
    if self.err then return true end
    if self.connecting then return false end
    local result = next_read(self, DEFAULT_SIZE)
    if result[1] == false then return false end
    self.held = result
    return true
end

-- Whether a read would find something without waiting: socket.select needs this (with
-- getfd) to treat an lsocket socket like its core socket.
function Socket:dirty()
    check_self(self, "dirty")
    if self.closed then return false end
    if self.held then return true end
    return self.kind == "tcp" and not self.listening and self.sock:dirty() == true
end

function Socket:accept()
    check_self(self, "accept")
    local why = unusable(self)
    if why then return nil, why end
    if self.kind ~= "tcp" or not self.listening then return nil, "socket is not listening" end
    local result = next_read(self, DEFAULT_SIZE)
    return table.unpack(result, 1, result.n)
end

-- Why recv/recvfrom cannot read this socket now: an error message, or false while a
-- connect is still in progress (the read would block).
local function cannot_read(self)
    local why = unusable(self)
    if why then return why end
    if self.connecting then return false end
    if self.kind == "tcp" and self.listening then return NOT_CONNECTED end
    return nil
end

function Socket:recv(size)
    check_self(self, "recv")
    size = check_size(size, "recv")
    local why = cannot_read(self)
    if why == false then return false end
    if why then return nil, why end
    local result = fit(self, next_read(self, size), size)
    if type(result[1]) == "string" then return result[1] end -- data, without the sender
    return table.unpack(result, 1, result.n)
end

-- Meant for UDP; on a TCP connection it reads as recv does and names the peer.
function Socket:recvfrom(size)
    check_self(self, "recvfrom")
    size = check_size(size, "recvfrom")
    local why = cannot_read(self)
    if why == false then return false end
    if why then return nil, why end
    local result = fit(self, next_read(self, size), size)
    if self.kind == "tcp" and type(result[1]) == "string" then
        local addr, port = self.sock:getpeername()
        return result[1], addr, math.tointeger(port)
    end
    return table.unpack(result, 1, result.n)
end

-- A core send's answer in lsocket's terms: bytes written, false, or nil, message.
local function sent(n, err, partial)
    if n then return math.tointeger(n) end
    local progress = math.tointeger(partial) or 0
    if err == "timeout" then
        if progress > 0 then return progress end
        return false
    end
    return nil, err
end

local function check_data(s, fname)
    if type(s) ~= "string" and type(s) ~= "number" then
        argerror(1, fname, "string expected, got " .. typename(s))
    end
    return tostring(s)
end

function Socket:send(s)
    check_self(self, "send")
    s = check_data(s, "send")
    local why = unusable(self)
    if why then return nil, why end
    if self.connecting then return false end
    if self.listening and self.kind == "tcp" then return nil, NOT_CONNECTED end
    if self.kind == "udp" and not self.peer then
        return nil, "destination address required: use sendto"
    end
    return sent(self.sock:send(s))
end

-- Meant for UDP, where the address may also be a name (looked up, which may block). On
-- a TCP connection the address is ignored, as BSD stream sockets ignore it.
function Socket:sendto(s, address, port)
    check_self(self, "sendto")
    s = check_data(s, "sendto")
    if type(address) ~= "string" then argerror(2, "sendto", "address expected") end
    port = check_port(port, 3, "sendto")
    local why = unusable(self)
    if why then return nil, why end
    if is_tcp_client(self) then return self:send(s) end
    if self.kind == "tcp" then return nil, NOT_CONNECTED end
    if self.peer then return nil, "already connected: use send" end
    if is_unix(address) then return nil, NO_UNIX end
    local addr, err = first_address(address, self.family)
    if not addr then return nil, err end
    return sent(self.sock:sendto(s, addr, port))
end

-- Closing twice is harmless and answers true both times.
function Socket:close()
    check_self(self, "close")
    self.sock:close()
    self.closed = true
    self.connecting = nil
    self.held = nil
    return true
end

-- Constructors ------------------------------------------------------------------------

local TYPES = { tcp = true, udp = true, mcast = true }

-- Splits off the optional leading socket type; returns it and where the rest starts.
local function socket_type(first)
    if type(first) == "string" and TYPES[first] then return first, 2 end
    return "tcp", 1
end

-- A fresh core object of `kind` and `family`, in non-blocking mode.
local function new_core(kind, family)
    local make
    if kind == "tcp" then
        make = family == "inet6" and core.tcp6 or core.tcp4
    else
        make = family == "inet6" and core.udp6 or core.udp4
    end
    local sock, err = make()
    if not sock then return nil, err end
    sock:settimeout(0)
    return sock
end

local function bind_tcp(addr, family, port, backlog)
    local sock, err = new_core("tcp", family)
    if not sock then return nil, err end
    sock:setoption("reuseaddr", true)
    local ok
    ok, err = sock:bind(addr, port)
    if ok then ok, err = sock:listen(backlog) end
    if not ok then
        sock:close()
        return nil, err
    end
    return wrap(sock, "tcp", family, { listening = true })
end

local function bind_udp(addr, family, port)
    local sock, err = new_core("udp", family)
    if not sock then return nil, err end
    local ok
    ok, err = sock:setsockname(addr, port)
    if not ok then
        sock:close()
        return nil, err
    end
    return wrap(sock, "udp", family, { listening = true })
end

-- lsocket.bind([type], [address], [port], [backlog]). A number where the address would
-- be is taken as the port, the address then defaulting to INADDR_ANY.
function lsocket.bind(...)
    local kind, i = socket_type((...))
    local address = select(i, ...)
    if type(address) == "number" then
        i = i - 1
        address = nil
    elseif address ~= nil and type(address) ~= "string" then
        argerror(i, "bind", "address expected, got " .. type(address))
    end
    address = address or lsocket.INADDR_ANY
    local port, backlog = select(i + 1, ...)
    port = port == nil and 0 or check_port(port, i + 1, "bind")
    backlog = backlog == nil and DEFAULT_BACKLOG
        or check_int(backlog, i + 2, "bind", "backlog", 0, 2 ^ 31 - 1)
    local missing = unavailable(kind, address)
    if missing then return nil, missing end
    local addr, family = first_address(address)
    if not addr then return nil, family end
    if kind == "tcp" then return bind_tcp(addr, family, port, backlog) end
    return bind_udp(addr, family, port)
end

local function connect_tcp(addr, family, port)
    local sock, err = new_core("tcp", family)
    if not sock then return nil, err end
    local ok
    ok, err = sock:connect(addr, port)
    if ok then return wrap(sock, "tcp", family) end
    if err == "timeout" then
        return wrap(sock, "tcp", family, { connecting = { addr, port } })
    end
    sock:close()
    return nil, err
end

local function connect_udp(addr, family, port)
    local sock, err = new_core("udp", family)
    if not sock then return nil, err end
    local ok
    ok, err = sock:setpeername(addr, port)
    if not ok then
        sock:close()
        return nil, err
    end
    return wrap(sock, "udp", family, { peer = true })
end

-- lsocket.connect([type], address, port, [ttl]): returns at once with the socket still
-- connecting; select it for writing, then ask status().
function lsocket.connect(...)
    local kind, i = socket_type((...))
    local address, port, ttl = select(i, ...)
    if type(address) ~= "string" then
        argerror(i, "connect", "address expected, got " .. typename(address))
    end
    -- Checked before the port, which lsocket lets Unix-domain addresses leave out.
    local missing = unavailable(kind, address)
    if missing then return nil, missing end
    port = check_port(port, i + 1, "connect")
    if ttl ~= nil then check_int(ttl, i + 2, "connect", "ttl", 0, 255) end
    local addr, family = first_address(address)
    if not addr then return nil, family end
    if kind == "tcp" then return connect_tcp(addr, family, port) end
    return connect_udp(addr, family, port)
end

-- select -------------------------------------------------------------------------------

-- Splits select's arguments: up to two socket tables (or nils) then a timeout. Returns
-- read, write, timeout (nil: wait forever) and how many tables were passed.
local function select_args(...)
    local n = select("#", ...)
    local last = n > 0 and select(n, ...) or nil
    local timeout
    if type(last) == "number" then
        timeout, n = last, n - 1
        if timeout ~= timeout then argerror(n + 1, "select", "timeout is not a number") end
        if timeout < 0 then timeout = nil end
    end
    if n > 2 then argerror(3, "select", "at most two socket tables and a timeout expected") end
    local read, write = ...
    if n < 2 then write = nil end
    if n < 1 then read = nil end
    for k, t in ipairs({ read or false, write or false }) do
        if t and type(t) ~= "table" then
            argerror(k, "select", "table expected, got " .. type(t))
        end
    end
    return read, write, timeout, n
end

-- The open sockets of a select table, checked to be lsocket sockets.
local function open_sockets(t, argn)
    local list = {}
    for _, s in ipairs(t or {}) do
        if not is_socket(s) then argerror(argn, "select", "table of lsocket sockets expected") end
        if not s.closed then list[#list + 1] = s end
    end
    return list
end

-- The core sockets to wait on; the lsocket sockets ready without waiting go into `ready`:
-- one whose connect failed (it has no core socket left, and is ready as a BSD socket
-- with a pending error is) and, for reading, one holding a read's answer.
local function waitables(list, ready, reading)
    local natives = {}
    for _, s in ipairs(list) do
        settle(s)
        if s.err or (reading and s.held) then
            ready[s] = true
        else
            natives[#natives + 1] = s.sock
        end
    end
    return natives
end

-- The sockets of `list` that are ready, in the order given: ready beforehand, or
-- reported by the core (and, when `check` is given, confirmed by it).
local function collect(list, ready, core_ready, check)
    local out = {}
    for _, s in ipairs(list) do
        if ready[s] or (core_ready[s.sock] ~= nil and (not check or check(s))) then
            out[#out + 1] = s
        end
    end
    return out
end

-- One wait over both lists, at most `wait` seconds (nil: forever).
local function select_once(reads, writes, wait)
    local ready_r, ready_w = {}, {}
    local rn = waitables(reads, ready_r, true)
    local wn = waitables(writes, ready_w, false)
    if next(ready_r) or next(ready_w) then wait = 0 end
    local rr, wr = core.select(rn, wn, wait)
    return collect(reads, ready_r, rr, confirm), collect(writes, ready_w, wr, nil)
end

-- lsocket.select([read [, write]], [timeout]) -> the ready sockets in tables shaped as
-- passed, false on timeout, or nil, message.
function lsocket.select(...)
    local read, write, timeout, ntables = select_args(...)
    local reads, writes = open_sockets(read, 1), open_sockets(write, 2)
    if #reads == 0 and #writes == 0 then
        if not timeout then return nil, "select: no open sockets to wait on and no timeout" end
        core.sleep(timeout)
        return false
    end
    local deadline = timeout and core.gettime() + timeout
    while true do
        local wait = deadline and math.max(0, deadline - core.gettime())
        local r, w = select_once(reads, writes, wait)
        if #r > 0 or #w > 0 then
            if ntables < 2 then return r end
            return r, w
        end
        if deadline and core.gettime() >= deadline then return false end
    end
end

-- Names and interfaces ---------------------------------------------------------------

-- lsocket.resolve(name) -> { {family = "inet"|"inet6", addr = "..."}, ... }. Blocks.
function lsocket.resolve(name)
    if type(name) ~= "string" then
        argerror(1, "resolve", "string expected, got " .. typename(name))
    end
    local found, err = core.dns.getaddrinfo(name)
    if not found then return nil, err end
    local list = {}
    for i, a in ipairs(found) do list[i] = { family = a.family, addr = a.addr } end
    return list
end

-- WASI 0.2 cannot list the host's interfaces. The loopback interface is the one every
-- host has, and its addresses are the only ones a sandboxed script can name without
-- knowing the host; whether they may be used is up to --allow-net, as for any address.
-- Answering with them (rather than nil, message) keeps scripts that look for an address
-- to bind to working.
function lsocket.getinterfaces()
    return {
        { name = "lo", family = "inet", addr = "127.0.0.1", mask = "255.0.0.0" },
        { name = "lo", family = "inet6", addr = "::1",
            mask = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
    }
end

return lsocket
