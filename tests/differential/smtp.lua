-- socket.smtp against aiosmtpd: plain and authenticated sends, several recipients,
-- dot-stuffing, multipart messages built by smtp.message, refusals; and the message
-- exactly as the server stored it, with what varies between runs (dates, boundaries,
-- host names) taken out.
local S = require "support"
local socket = require "socket"
local smtp = require "socket.smtp"
local ltn12 = require "ltn12"
local mime = require "mime"

local server, port, maildir = "127.0.0.1", S.args.smtp, S.args.mail

-- The server numbers the messages it stores from 0001, for both runtimes' runs in
-- turn: each run reads back only the ones it sent.
local function stored_count()
    local n = 0
    while true do
        local f = io.open(string.format("%s/%04d.eml", maildir, n + 1), "rb")
        if not f then return n end
        f:close()
        n = n + 1
    end
end

local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local data = f:read("a")
    f:close()
    return data
end

-- Dates, boundaries (a date and random digits) and the client's host name vary.
local function steady(text)
    return (text:gsub("[Dd]ate: [^\r\n]*", "Date: (a date)")
        :gsub("%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d==%d%d%d%d%d", "(boundary)")
        :gsub(socket._VERSION:gsub("%p", "%%%0"), "(socket._VERSION)"))
end

-- Header lines are written in the order of a Lua table's traversal, which changes run
-- to run: sorted here, in the message's head and in each MIME part's.
local function sort_head(block)
    local head, body = block:match("^(.-)\r\n\r\n(.*)$")
    if not head then return block end
    local lines = {}
    for line in (head .. "\r\n"):gmatch("(.-)\r\n") do lines[#lines + 1] = line end
    table.sort(lines)
    return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

local function canonical(message)
    local pieces = {}
    for piece in (sort_head(steady(message)) .. "--(boundary)"):gmatch("(.-)%-%-%(boundary%)") do
        if piece:sub(1, 2) == "\r\n" then piece = "\r\n" .. sort_head(piece:sub(3)) end
        pieces[#pieces + 1] = piece
    end
    return table.concat(pieces, "--(boundary)")
end

local function show_stored(label, n)
    S.show(label .. " envelope", read(string.format("%s/%04d.envelope", maildir, n)))
    local message = read(string.format("%s/%04d.eml", maildir, n))
    S.show(label, message and canonical(message))
end

local function sends()
    local before = stored_count()
    S.call("send plain", smtp.send, {
        from = "<sender@example.com>", rcpt = "<rcpt@example.com>", server = server, port = port,
        source = ltn12.source.string("Subject: plain\r\n\r\nHello.\r\n.leading dot\r\n..two\r\n"),
    })
    S.call("send several rcpt", smtp.send, {
        from = "<sender@example.com>", rcpt = { "<a@example.com>", "<b@example.com>" },
        server = server, port = port, domain = "client.example",
        source = ltn12.source.string("Subject: several\r\n\r\nTo many.\r\n"),
    })
    S.call("send with auth", smtp.send, {
        from = "<sender@example.com>", rcpt = "<rcpt@example.com>", server = server, port = port,
        user = "fulano", password = "silva",
        source = ltn12.source.string("Subject: auth\r\n\r\nAuthenticated.\r\n"),
    })
    S.call("send wrong password", smtp.send, {
        from = "<sender@example.com>", rcpt = "<rcpt@example.com>", server = server, port = port,
        user = "fulano", password = "wrong", source = ltn12.source.string("x"),
    })
    S.call("send refused", smtp.send, {
        from = "<s@example.com>", rcpt = "<r@example.com>", server = server, port = S.args.refused,
        source = ltn12.source.string("x"),
    })
    S.call("send bad rcpt", smtp.send, {
        from = "<s@example.com>", rcpt = "not an address", server = server, port = port,
        source = ltn12.source.string("x"),
    })
    local message = smtp.message {
        headers = { from = "Sender <s@example.com>", to = "R <r@example.com>", subject = "multipart" },
        body = {
            preamble = "The preamble.",
            [1] = { body = mime.eol(0, "Text part\n.with a dot\n") },
            [2] = {
                headers = { ["content-type"] = 'application/octet-stream; name="d.bin"',
                    ["content-transfer-encoding"] = "BASE64" },
                body = ltn12.source.chain(ltn12.source.string(string.rep("\0\1\2\255", 100)),
                    ltn12.filter.chain(mime.encode("base64"), mime.wrap())),
            },
            epilogue = "The epilogue.",
        },
    }
    S.call("send multipart", smtp.send, {
        from = "<s@example.com>", rcpt = "<r@example.com>", server = server, port = port,
        source = message,
    })
    local after = stored_count()
    S.show("messages stored", after - before)
    for i = before + 1, after do show_stored("message " .. (i - before), i) end
end

local function messages()
    local function text(src)
        local t = {}
        local ok, err = ltn12.pump.all(src, (ltn12.sink.table(t)))
        return canonical(table.concat(t)), ok, err
    end
    S.show("message simple", text(smtp.message { headers = { subject = "s" }, body = "b" }))
    S.show("message no headers", text(smtp.message { body = "only a body" }))
    S.show("message source body", text(smtp.message { body = ltn12.source.string("from a source") }))
    S.show("message nested", text(smtp.message { body = { [1] = { body = { [1] = { body = "deep" } } } } }))
end

local function module_fields()
    for _, k in ipairs { "TIMEOUT", "SERVER", "PORT", "DOMAIN", "ZONE" } do
        S.show(k, k == "DOMAIN" and type(smtp[k]) or smtp[k])
    end
    local keys = {}
    for k, v in pairs(smtp) do keys[#keys + 1] = k .. "=" .. type(v) end
    table.sort(keys)
    S.show("smtp keys", keys)
end

module_fields()
sends()
messages()
S.done()
