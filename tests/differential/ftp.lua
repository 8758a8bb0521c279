-- socket.ftp against pyftpdlib: anonymous and authenticated get, put, listings, types,
-- the URL and table forms, failures; and socket.tp, the line protocol under it, driven
-- by hand on the same server.
local S = require "support"
local ftp = require "socket.ftp"
local tp = require "socket.tp"
local ltn12 = require "ltn12"

local port = S.args.ftp
local anon = "ftp://127.0.0.1:" .. port
local user = "ftp://fulano:silva@127.0.0.1:" .. port

local function gets()
    S.call("get anonymous", ftp.get, anon .. "/readme.txt")
    S.call("get type a", ftp.get, anon .. "/readme.txt;type=a")
    S.call("get type i", ftp.get, anon .. "/readme.txt;type=i")
    S.call("get missing", ftp.get, anon .. "/missing.txt")
    S.call("get user", ftp.get, user .. "/file.txt")
    -- pyftpdlib answers a failed login after 3 s: the one such case here.
    S.call("get wrong password", ftp.get, "ftp://fulano:nope@127.0.0.1:" .. port .. "/file.txt")
    S.call("get refused", ftp.get, "ftp://127.0.0.1:" .. S.args.refused .. "/x")
    local t = {}
    S.call("get table form", ftp.get, { host = "127.0.0.1", port = port, path = "readme.txt",
        sink = ltn12.sink.table(t) })
    S.show("get table form data", t)
    local t2 = {}
    S.call("get nlst", ftp.get, { host = "127.0.0.1", port = port, path = "/",
        command = "nlst", sink = ltn12.sink.table(t2) })
    S.show("get nlst data", t2)
    S.call("get list of a directory url", ftp.get, anon .. "/")
end

local function puts()
    local data = string.rep("put data\r\n", 500)
    S.call("put user", ftp.put, user .. "/upload.txt", data)
    S.call("put read back", function()
        local got, err = ftp.get(user .. "/upload.txt;type=i")
        return got == data, err, got and #got
    end)
    S.call("put table form", ftp.put, { host = "127.0.0.1", port = port, user = "fulano",
        password = "silva", path = "upload2.txt", type = "i",
        source = ltn12.source.string("binary\0data") })
    S.call("put table read back", ftp.get, user .. "/upload2.txt;type=i")
    S.call("put anonymous refused", ftp.put, anon .. "/nope.txt", "x")
    S.call("command dele", ftp.command, { host = "127.0.0.1", port = port, user = "fulano",
        password = "silva", command = "dele", argument = "upload2.txt" })
    S.call("command dele again", ftp.command, { host = "127.0.0.1", port = port, user = "fulano",
        password = "silva", command = "dele", argument = "upload2.txt" })
    S.call("command check", ftp.command, { host = "127.0.0.1", port = port, command = "noop",
        check = "2.." })
    S.call("put bad type", ftp.put, { host = "127.0.0.1", port = port, path = "x", type = "x",
        source = ltn12.source.string("x") })
    S.call("get bad url", ftp.get, "http://127.0.0.1/")
end

-- The control connection by hand: greeting, a multi-line reply (HELP), commands.
local function line_protocol()
    local c, err = tp.connect("127.0.0.1", port, 5)
    S.show("tp connect", c and "connected" or c, err)
    if not c then return end
    S.call("tp greeting", c.check, c, "2..")
    S.io("tp command user", c, "command", "user", "ftp")
    S.call("tp check 3..", c.check, c, "3..")
    S.io("tp command pass", c, "command", "pass", "anonymous@anonymous.org")
    S.call("tp check table", c.check, c, { "2..", "5.." })
    S.io("tp command help", c, "command", "help")
    S.call("tp check multi-line", function()
        local code, reply = c:check("2..")
        return code, type(reply), reply and reply:match("^214") ~= nil
    end)
    S.io("tp command noop", c, "command", "noop")
    S.call("tp check wrong code", c.check, c, "3..")
    S.call("tp check function", function()
        c:command("noop")
        return c:check(function(code) return code == 200 end)
    end)
    S.show("tp getcontrol", c:getcontrol())
    S.show("tp dirty", c:dirty())
    S.show("tp getfd", math.type(c:getfd()))
    S.io("tp send", c, "send", "NOOP\r\n")
    S.io("tp receive", c, "receive")
    S.call("tp close", c.close, c)
    S.call("tp refused", tp.connect, "127.0.0.1", S.args.refused, 5)
end

local function module_fields()
    for _, k in ipairs { "TIMEOUT", "PORT", "USER", "PASSWORD" } do S.show("ftp " .. k, ftp[k]) end
    S.show("tp TIMEOUT", tp.TIMEOUT)
    for name, m in pairs { ftp = ftp, tp = tp } do
        -- (labels pair the lines up, so the order pairs walks them in does not matter)
        local keys = {}
        for k, v in pairs(m) do keys[#keys + 1] = k .. "=" .. type(v) end
        table.sort(keys)
        S.show(name .. " keys", keys)
    end
end

module_fields()
gets()
puts()
line_protocol()
S.done()
