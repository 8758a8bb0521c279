-- LuaSec's API: the module and its config, newcontext with good and bad parameters,
-- a client against nginx's TLS port (handshake, verification, info, certificates,
-- I/O), a client and a server in this script talking to each other (SNI, ALPN, client
-- certificates, non-blocking handshakes), ssl.https, and certificates on their own.
-- Certificates are made afresh each run: only what does not depend on the keys is
-- shown (subjects, dates, serials; digests and keys by their shape).
local S = require "support"
local socket = require "socket"
local ssl = require "ssl"

local pki = S.args.pki
S.hide(pki, "(pki)")

local function file(name)
    local f = assert(io.open(pki .. "/" .. name, "rb"))
    local data = f:read("a")
    f:close()
    return data
end

local function sorted_keys(t)
    local keys = {}
    for k, v in pairs(t) do keys[#keys + 1] = k .. "=" .. type(v) end
    table.sort(keys)
    return keys
end

local function shape()
    S.show("ssl keys", sorted_keys(ssl))
    S.show("ssl._VERSION", ssl._VERSION)
    for _, part in ipairs { "protocols", "options", "algorithms", "capabilities", "curves" } do
        S.show("config " .. part, ssl.config and ssl.config[part] and sorted_keys(ssl.config[part]))
    end
    local https = require "ssl.https"
    S.show("https keys", sorted_keys(https))
    S.show("https PORT and TIMEOUT", https.PORT, https.TIMEOUT)
end

local CLIENT = { mode = "client", protocol = "any" }

local function with(extra)
    local t = {}
    for k, v in pairs(CLIENT) do t[k] = v end
    for k, v in pairs(extra) do t[k] = v end
    return t
end

local function contexts()
    S.call("newcontext client", ssl.newcontext, CLIENT)
    local ctx = ssl.newcontext(CLIENT)
    local index = getmetatable(ctx).__index
    S.show("context methods", type(index) == "table" and sorted_keys(index) or type(index))
    S.call("newcontext server", ssl.newcontext, { mode = "server", protocol = "any",
        key = pki .. "/server.key", certificate = pki .. "/server.pem" })
    S.call("newcontext no mode", ssl.newcontext, { protocol = "any" })
    S.call("newcontext bad mode", ssl.newcontext, { mode = "both", protocol = "any" })
    S.call("newcontext bad protocol", ssl.newcontext, with { protocol = "sslv2" })
    S.call("newcontext tlsv1_2", ssl.newcontext, with { protocol = "tlsv1_2" })
    S.call("newcontext missing key", ssl.newcontext, with { key = pki .. "/nothing.key" })
    S.call("newcontext missing certificate", ssl.newcontext,
        with { key = pki .. "/server.key", certificate = pki .. "/nothing.pem" })
    S.call("newcontext key mismatch", ssl.newcontext,
        with { key = pki .. "/client.key", certificate = pki .. "/server.pem" })
    S.call("newcontext missing cafile", ssl.newcontext, with { cafile = pki .. "/nothing.pem" })
    S.call("newcontext bad verify", ssl.newcontext, with { verify = "sometimes" })
    S.call("newcontext bad option", ssl.newcontext, with { options = "no_such_option" })
    S.call("newcontext good option", ssl.newcontext, with { options = { "all", "no_sslv3" } })
    S.call("newcontext bad ciphers", ssl.newcontext, with { ciphers = "NO-SUCH-CIPHER" })
    S.call("newcontext good ciphers", ssl.newcontext, with { ciphers = "HIGH" })
    S.call("newcontext bad curve", ssl.newcontext, with { curve = "no-such-curve" })
    S.call("newcontext not a table", ssl.newcontext, "client")
end

-- A connection to nginx's TLS port, wrapped with `params`.
local function nginx(params)
    local tcp = assert(socket.connect("127.0.0.1", S.args.https))
    tcp:settimeout(5)
    local conn, err = ssl.wrap(tcp, params)
    if conn then conn:settimeout(5) end
    return conn, err, tcp
end

-- What a certificate says. The methods and the argument check once, with `full`.
local function certificate(label, cert, full)
    if not cert then return S.show(label, cert) end
    S.show(label .. " subject", cert:subject())
    S.show(label .. " issuer", cert:issuer())
    S.show(label .. " serial", cert:serial())
    S.show(label .. " dates", cert:notbefore(), cert:notafter())
    local sha1, sha256 = cert:digest(), cert:digest("sha256")
    S.show(label .. " digests", #sha1, #sha256, sha1:match("^%x+$") ~= nil, sha1 == cert:digest("sha1"))
    S.show(label .. " extensions", cert:extensions())
    S.show(label .. " validat", cert:validat(os.time()), cert:validat(0))
    S.show(label .. " signature", cert:getsignaturename())
    local ok, pubkey, kind, bits = pcall(cert.pubkey, cert)
    S.show(label .. " pubkey", ok, type(pubkey), kind, bits)
    if not full then return end
    S.method(label .. " digest bad", cert, "digest", "md4")
    S.fn(label .. " digest on a string", cert, "digest", "x")
    S.show(label .. " methods", sorted_keys(getmetatable(cert).__index))
end

local function client()
    local conn, err, tcp = nginx(with { verify = "peer", cafile = pki .. "/ca.pem", alpn = "http/1.1" })
    S.show("wrap", conn, err)
    local index = getmetatable(conn).__index
    S.show("connection methods", type(index) == "table" and sorted_keys(index) or type(index))
    S.show("wrapped tcp", tcp, tcp:getfd())
    S.method("sni", conn, "sni", "localhost")
    S.method("handshake", conn, "dohandshake")
    S.method("handshake again", conn, "dohandshake")
    S.method("verification", conn, "getpeerverification")
    S.method("alpn", conn, "getalpn")
    S.method("want", conn, "want")
    local info = conn:info()
    S.show("info fields", sorted_keys(info))
    S.show("info protocol", info.protocol, conn:info("protocol"))
    S.show("info bits", info.bits, info.algbits)
    certificate("peer", conn:getpeercertificate())
    S.show("peer chain", #conn:getpeerchain())
    S.show("peer certificate 2", conn:getpeercertificate(2))
    S.show("peer pem is the file", conn:getpeercertificate():pem() == file("server.pem"))
    S.io("send", conn, "send", "GET /hello.txt HTTP/1.0\r\nHost: localhost\r\n\r\n")
    S.io("status line", conn, "receive")
    conn:settimeout(0)
    S.show("dirty", conn:dirty())
    conn:settimeout(5)
    local rest, rerr = conn:receive("*a")
    S.show("rest ends with the file", rerr, rest and rest:sub(-17))
    S.io("after eof", conn, "receive")
    S.method("close", conn, "close")
    S.method("close again", conn, "close")
    S.io("receive closed", conn, "receive")
    S.show("tostring", conn)
end

local function verification()
    local function try(label, params, sni)
        local conn = nginx(params)
        if sni then conn:sni(sni) end
        local ok, err = conn:dohandshake()
        S.show(label, ok, err)
        S.method(label .. " verification", conn, "getpeerverification")
        conn:close()
    end
    try("default verify", CLIENT)
    try("verify none", with { verify = "none" })
    try("verify peer without ca", with { verify = "peer" })
    try("verify peer with ca", with { verify = "peer", cafile = pki .. "/ca.pem" })
    try("verify peer other name", with { verify = "peer", cafile = pki .. "/ca.pem" }, "other.example")
    try("tls 1.2 only", with { protocol = "tlsv1_2", verify = "peer", cafile = pki .. "/ca.pem" })
    -- setverifyext's lsec_continue: the handshake goes on, and the failure is reported
    -- by chain depth.
    try("verify peer continue", with { verify = "peer", verifyext = "lsec_continue" })
    try("verify peer continue with ca", with { verify = "peer", cafile = pki .. "/ca.pem",
        verifyext = { "lsec_continue", "lsec_ignore_purpose" } })
    S.call("newcontext bad verifyext", ssl.newcontext, with { verifyext = "no_such_flag" })
    local ctx = ssl.newcontext(CLIENT)
    S.method("setverifyext continue", ctx, "setverifyext", "lsec_continue", "lsec_ignore_purpose")
    S.method("setverifyext none", ctx, "setverifyext")
    S.method("setverifyext bad", ctx, "setverifyext", "lsec_continue", "bogus")
    S.method("setverifyext number", ctx, "setverifyext", 1)
    S.method("setverifyext table", ctx, "setverifyext", {})
end

-- A server and a client in one script: both non-blocking, handshaken in turns.
local function handshake_both(server, client)
    server:settimeout(0)
    client:settimeout(0)
    local done_s, done_c, rounds = false, false, 0
    while not (done_s and done_c) and rounds < 500 do
        rounds = rounds + 1
        if not done_c then
            local ok, err = client:dohandshake()
            done_c = ok or (err ~= "wantread" and err ~= "wantwrite" and err)
        end
        if not done_s then
            local ok, err = server:dohandshake()
            done_s = ok or (err ~= "wantread" and err ~= "wantwrite" and err)
        end
        if not (done_s and done_c) then socket.select({ server, client }, nil, 0.05) end
    end
    return done_s, done_c
end

-- A connected pair of TLS objects, not yet handshaken.
local function pair(server_params, client_params)
    local listener = assert(socket.bind("127.0.0.1", 0))
    local port = tonumber((select(2, listener:getsockname())))
    local tcp_c = assert(socket.connect("127.0.0.1", port))
    local tcp_s = assert(listener:accept())
    listener:close()
    return assert(ssl.wrap(tcp_s, server_params)), assert(ssl.wrap(tcp_c, client_params))
end

local function both_ends(label, server_params, client_params, sni)
    local s, c = pair(server_params, client_params)
    if sni then c:sni(sni) end
    S.show(label .. " handshakes", handshake_both(s, c))
    S.method(label .. " sni seen", s, "getsniname")
    S.method(label .. " alpn server", s, "getalpn")
    S.method(label .. " alpn client", c, "getalpn")
    S.method(label .. " client verification", c, "getpeerverification")
    S.method(label .. " server verification", s, "getpeerverification")
    local peer = s:getpeercertificate()
    S.show(label .. " client certificate", peer and peer:subject())
    s:settimeout(5)
    c:settimeout(5)
    S.io(label .. " client sends", c, "send", "ping\nsecond line\n")
    S.io(label .. " server receives", s, "receive", "*l")
    S.io(label .. " server receives 6", s, "receive", 6, "pre-")
    S.io(label .. " server sends", s, "send", "pong")
    s:close()
    S.io(label .. " client receives *a", c, "receive", "*a")
    c:close()
end

local function server_mode()
    local server = { mode = "server", protocol = "any", key = pki .. "/server.key",
        certificate = pki .. "/server.pem", alpn = { "h2", "x-test" } }
    local client = with { verify = "peer", cafile = pki .. "/ca.pem", alpn = { "x-test", "http/1.1" } }
    both_ends("plain", server, client, "localhost")
    local mutual = { mode = "server", protocol = "any", key = pki .. "/server.key",
        certificate = pki .. "/server.pem", verify = { "peer", "fail_if_no_peer_cert" },
        cafile = pki .. "/ca.pem" }
    local with_cert = with { verify = "peer", cafile = pki .. "/ca.pem",
        key = pki .. "/client.key", certificate = pki .. "/client.pem" }
    both_ends("mutual", mutual, with_cert, "localhost")
end

-- Server-side SNI: the client's name picks the context whose certificate is offered.
local function server_names()
    local function server(name)
        return assert(ssl.newcontext { mode = "server", protocol = "any",
            key = pki .. "/" .. name .. ".key", certificate = pki .. "/" .. name .. ".pem" })
    end
    local names = { ["other.example"] = server("other") }
    local function try(label, asked, strict, client_params)
        local s, c = pair(server("server"), client_params or with { verify = "none" })
        S.method(label .. " server sni", s, "sni", names, strict)
        if asked then c:sni(asked) end
        local done_s, done_c = handshake_both(s, c)
        S.show(label .. " handshakes", done_s == true, done_c == true)
        if done_c == true then
            local cert = c:getpeercertificate()
            S.show(label .. " certificate", cert and cert:subject()[1].value)
            S.method(label .. " sni seen", s, "getsniname")
            S.method(label .. " client verification", c, "getpeerverification")
        end
        s:close()
        c:close()
    end
    try("sni mapped", "other.example", false,
        with { verify = "peer", cafile = pki .. "/ca.pem" })
    try("sni mapped strict", "other.example", true)
    try("sni unmapped", "unknown.example", false)
    try("sni unmapped strict", "unknown.example", true)
    try("sni none strict", nil, true)
    local s, c = pair(server("server"), CLIENT)
    S.fn("sni names not a table", s, "sni", "other.example")
    S.fn("sni name not a string", s, "sni", { [1] = server("other") })
    S.fn("sni value not a context", s, "sni", { ["x.example"] = "context" })
    S.method("sni on a client with a table", c, "sni", names)
    s:close()
    c:close()
end

-- RFC 5705 keying material: both ends derive the same bytes.
local function keying_material()
    local server = { mode = "server", protocol = "any", key = pki .. "/server.key",
        certificate = pki .. "/server.pem" }
    local s, c = pair(server, with { verify = "none" })
    S.method("export before handshake", c, "exportkeyingmaterial", "EXPORTER-test", 32)
    handshake_both(s, c)
    local a, b = s:exportkeyingmaterial("EXPORTER-test", 32), c:exportkeyingmaterial("EXPORTER-test", 32)
    S.show("export both ends", type(a), a and #a, a == b)
    local x = c:exportkeyingmaterial("EXPORTER-test", 32, "context")
    S.show("export with context", type(x), x and #x, x ~= b, x == s:exportkeyingmaterial("EXPORTER-test", 32, "context"))
    S.show("export zero length", c:exportkeyingmaterial("EXPORTER-test", 0))
    S.fn("export no label", c, "exportkeyingmaterial")
    S.fn("export no length", c, "exportkeyingmaterial", "EXPORTER-test")
    s:close()
    c:close()
    S.method("export after close", c, "exportkeyingmaterial", "EXPORTER-test", 32)
end

local function https_requests()
    local https = require "ssl.https"
    local url = "https://127.0.0.1:" .. S.args.https .. "/hello.txt"
    local ok, body, code = pcall(https.request, { url = url, cafile = pki .. "/ca.pem",
        verify = "peer", protocol = "any", sink = nil })
    S.show("https generic", ok, body, code)
    local t = {}
    local ok2, one, code2 = pcall(https.request, { url = url, cafile = pki .. "/ca.pem",
        verify = "peer", sink = require("ltn12").sink.table(t) })
    S.show("https generic with sink", ok2, one, code2, t)
    S.call("https simple", function()
        local b, c = https.request(url)
        return b, c
    end)
    S.call("https http url", https.request, "http://127.0.0.1:" .. S.args.http .. "/hello.txt")
end

local function certificates()
    certificate("loaded", ssl.loadcertificate(file("server.pem")), true)
    certificate("client cert", ssl.loadcertificate(file("client.pem")))
    S.call("load garbage", ssl.loadcertificate, "not a certificate")
    S.fn("load nothing", ssl, "loadcertificate")
    local ca = ssl.loadcertificate(file("ca.pem"))
    local leaf = ssl.loadcertificate(file("server.pem"))
    S.method("issued by the ca", ca, "issued", leaf)
    S.method("issued by itself", leaf, "issued", leaf)
    S.method("ca issued itself", ca, "issued", ca)
    S.method("issued by another leaf", leaf, "issued", ssl.loadcertificate(file("other.pem")))
    S.method("issued the expired one", ca, "issued", ssl.loadcertificate(file("expired.pem")))
    S.method("issued with a chain", ca, "issued", leaf, leaf)
    S.fn("issued not a certificate", ca, "issued", "leaf")
    S.method("setencode utf8", leaf, "setencode", "utf8")
    S.show("utf8 subject", leaf:subject())
    S.method("setencode ai5", leaf, "setencode", "ai5")
    S.method("setencode other", leaf, "setencode", "latin1")
    S.fn("setencode nothing", leaf, "setencode")
    S.show("expired notafter", ssl.loadcertificate(file("expired.pem")):notafter())
end

shape()
contexts()
client()
verification()
server_mode()
server_names()
keying_material()
https_requests()
certificates()
S.done()
