-- LuaSocket's Lua half: conveniences written in Lua over the native `socket.core`.
-- As in LuaSocket, `require "socket"` and `require "socket.core"` are the same table.
local socket = require("socket.core")

-- Connects a new TCP object to address:port, optionally bound to a local address first.
-- `family` ("inet" or "inet6") pins the address family; nil lets the address decide.
function socket.connect(address, port, laddress, lport, family)
    local create = socket.tcp
    if family == "inet" then create = socket.tcp4 elseif family == "inet6" then create = socket.tcp6 end
    local sock, err = create()
    if not sock then return nil, err end
    if laddress then
        local ok
        ok, err = sock:bind(laddress, lport or 0)
        if not ok then sock:close(); return nil, err end
    end
    local ok
    ok, err = sock:connect(address, port)
    if not ok then sock:close(); return nil, err end
    return sock
end

function socket.connect4(address, port, laddress, lport)
    return socket.connect(address, port, laddress, lport, "inet")
end

function socket.connect6(address, port, laddress, lport)
    return socket.connect(address, port, laddress, lport, "inet6")
end

-- A server socket bound to host:port and listening, as LuaSocket's socket.bind makes it.
function socket.bind(host, port, backlog)
    local sock, err = socket.tcp()
    if not sock then return nil, err end
    local ok
    ok, err = sock:bind(host, port)
    if not ok then sock:close(); return nil, err end
    ok, err = sock:listen(backlog or 32)
    if not ok then sock:close(); return nil, err end
    return sock
end

return socket
