-- mime inside the component: the low-level core through its Lua face, and the LTN12
-- filters over chunked input. Known vectors from RFC 4648 and RFC 2045. The checks come
-- from testsupport.lua beside this file (`--dir tests/lua::/tests-lua`).
local mime = require("mime")
local ltn12 = require("ltn12")

local support = require("testsupport")
local eq, yes = support.eq, support.yes

-- RFC 4648 section 10
local vectors = { f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==", fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
for plain, coded in pairs(vectors) do
    eq((mime.b64(plain)), coded, "b64 " .. plain)
    eq((mime.unb64(coded)), plain, "unb64 " .. coded)
end
-- Nothing in, nothing out: LuaSocket answers nil.
eq(mime.b64(""), nil, "b64 of nothing")

-- Incremental calls encode C..D up to the last full group and keep the rest.
local a, rest = mime.b64("foob", "a")
eq(a, "Zm9v", "b64 first part")
eq(rest, "ba", "b64 remainder")

-- Quoted-printable: =, 8-bit bytes and trailing space are encoded; CRLF stays.
eq((mime.qp("caf\233 = ok \r\nnext")), "caf=E9 =3D ok=20\r\nnext", "qp")
eq((mime.unqp("caf=E9 =3D ok=20\r\nnext")), "caf\233 = ok \r\nnext", "unqp")
eq((mime.unqp("soft=\r\nbreak")), "softbreak", "unqp soft break")

-- Line handling.
eq((mime.eol(0, "a\nb\r\nc\rd", "\r\n")), "a\r\nb\r\nc\r\nd", "eol")
eq((mime.dot(2, ".leading\r\n.dot")), "..leading\r\n..dot", "dot stuffing")

-- The filters give the same result whatever the chunking.
local data = {}
for i = 0, 4095 do data[#data + 1] = string.char((i * 37 + 11) % 256) end
data = table.concat(data)
local function through(filter, input, size)
    local out = {}
    local src = ltn12.source.chain(ltn12.source.string(input), filter)
    if size then
        local chunks = {}
        for i = 1, #input, size do chunks[#chunks + 1] = input:sub(i, i + size - 1) end
        src = ltn12.source.chain(ltn12.source.table(chunks), filter)
    end
    assert(ltn12.pump.all(src, (ltn12.sink.table(out))))
    return table.concat(out)
end
local whole = through(ltn12.filter.chain(mime.encode("base64"), mime.wrap("base64")), data)
for _, size in ipairs({ 1, 2, 3, 7, 64, 1000 }) do
    eq(through(ltn12.filter.chain(mime.encode("base64"), mime.wrap("base64")), data, size), whole, "base64 chunks of " .. size)
    eq(through(mime.decode("base64"), whole, size), data, "unbase64 chunks of " .. size)
    local qp = through(ltn12.filter.chain(mime.encode("quoted-printable"), mime.wrap("quoted-printable")), data, size)
    eq(through(mime.decode("quoted-printable"), qp, size), data, "qp round trip, chunks of " .. size)
end
for line in whole:gmatch("[^\r\n]+") do
    yes(#line <= 76, "wrapped base64 lines are at most 76 characters")
end

print("ok " .. support.checks)
