-- mime: the filters (encode, decode, wrap, normalize, stuff) over several chunkings,
-- and the low-level functions (b64, unb64, qp, unqp, qpwrp, wrp, eol, dot) with every
-- kind of argument, including the ones that end a stream (nil) and the wrong types.
local S = require "support"
local mime = require "mime"
local ltn12 = require "ltn12"

-- Every byte value, then text with the line ends and blanks quoted-printable cares for.
local BINARY = (function()
    local t = {}
    for i = 0, 255 do t[#t + 1] = string.char(i) end
    return table.concat(t)
end)()
local TEXT = "Hello, world!\r\nTrailing space \r\nTab\there\r\n=equals= and a long line "
    .. string.rep("abcdefghij", 9) .. "\r\n.dot line\r\nlast"

-- `data` through `filter` in chunks of `size` bytes: the output, as one string.
local function through(filter, data, size)
    local chunks = {}
    for i = 1, #data, size do chunks[#chunks + 1] = data:sub(i, i + size - 1) end
    local out = {}
    local ok, err = pcall(ltn12.pump.all, ltn12.source.table(chunks),
        ltn12.sink.chain(filter, (ltn12.sink.table(out))))
    if not ok then return "raised: " .. S.error_text(err) end
    return table.concat(out)
end

-- A filter factory over several chunkings: the same output for each is the contract.
local function chunkings(label, make, data)
    local outputs = {}
    for _, size in ipairs { 1, 2, 3, 7, 76, 1000 } do
        outputs[#outputs + 1] = through(make(), data, size)
    end
    local same = true
    for i = 2, #outputs do same = same and outputs[i] == outputs[1] end
    S.show(label, outputs[1], same)
end

local function shape()
    local keys = {}
    for k, v in pairs(mime) do keys[#keys + 1] = k .. "=" .. type(v) end
    table.sort(keys)
    S.show("mime keys", keys)
    S.show("_VERSION", mime._VERSION)
    S.show("mime.core is mime", require("mime.core") == mime)
    for _, t in ipairs { "encodet", "decodet", "wrapt" } do
        local names = {}
        for k in pairs(mime[t]) do names[#names + 1] = k end
        table.sort(names)
        S.show(t, names)
    end
end

local function filters()
    chunkings("base64 binary", function() return mime.encode("base64") end, BINARY)
    chunkings("base64 text wrapped", function()
        return ltn12.filter.chain(mime.encode("base64"), mime.wrap("base64"))
    end, TEXT)
    local encoded = through(mime.encode("base64"), BINARY, 1000)
    chunkings("unbase64", function() return mime.decode("base64") end, encoded)
    chunkings("unbase64 with junk", function() return mime.decode("base64") end, "SGVs\r\nbG8=!!x")
    chunkings("qp text", function() return mime.encode("quoted-printable") end, TEXT)
    chunkings("qp binary mode", function() return mime.encode("quoted-printable", "binary") end, TEXT)
    chunkings("qp wrapped", function()
        return ltn12.filter.chain(mime.normalize(), mime.encode("quoted-printable"), mime.wrap("quoted-printable"))
    end, TEXT)
    chunkings("unqp filter", function() return mime.decode("quoted-printable") end,
        "caf=C3=A9 =\r\nsoft break =3d=3D =ZZ bad=\r\n")
    chunkings("wrap text 10", function() return mime.wrap("text", 10) end, TEXT)
    chunkings("wrap default", function() return mime.wrap() end, string.rep("word ", 40))
    chunkings("normalize", function() return mime.normalize() end, "a\rb\nc\r\nd\n\re\r\r")
    chunkings("normalize marker", function() return mime.normalize("|") end, "a\rb\nc\r\n")
    chunkings("stuff", function() return mime.stuff() end, ".start\r\nmid\r\n.\r\n..two\r\n")
    S.call("encode unknown", mime.encode, "rot13")
    S.call("decode unknown", mime.decode, "rot13")
    S.call("wrap unknown", mime.wrap, "zigzag")
end

local function low_level()
    S.show("b64 abc", mime.b64("abc"))
    S.show("b64 ab", mime.b64("ab"))
    S.show("b64 a then rest", mime.b64("a", "bcd"))
    S.show("b64 nil", mime.b64(nil))
    S.show("b64 a nil", mime.b64("a", nil))
    S.show("b64 empty", mime.b64(""))
    S.fn("b64 table", mime, "b64", {})
    S.show("unb64", mime.unb64("YWJj"))
    S.show("unb64 partial", mime.unb64("YW", "Jj"))
    S.show("unb64 nil", mime.unb64(nil))
    S.show("unb64 trailing", mime.unb64("YQ", nil))
    S.show("qp", mime.qp("a=b c \r\nd"))
    S.show("qp partial", mime.qp("abc ", "def"))
    S.show("qp marker", mime.qp("x\r\ny", nil, "\n"))
    S.show("qp nil", mime.qp(nil))
    S.show("unqp", mime.unqp("a=3Db=\r\nc"))
    S.show("unqp partial", mime.unqp("a=", "3D"))
    S.show("unqp nil", mime.unqp(nil))
    S.show("qpwrp", mime.qpwrp(0, string.rep("x", 100)))
    S.show("qpwrp length", mime.qpwrp(70, "abc=\r\ndef", 10))
    S.show("qpwrp nil", mime.qpwrp(5, nil))
    S.show("wrp", mime.wrp(0, "one two three four five", 8))
    S.show("wrp nil", mime.wrp(3, nil))
    S.show("wrp crlf", mime.wrp(0, "a\r\nb", 8))
    S.show("eol", mime.eol(0, "a\rb\nc"))
    S.show("eol marker", mime.eol(0, "a\r\nb", "\n"))
    S.show("eol pending cr", mime.eol(13, "\nx"))
    S.show("eol nil", mime.eol(0, nil))
    S.show("dot", mime.dot(2, ".x\r\n.y"))
    S.show("dot nil", mime.dot(0, nil))
    S.show("dot mid line", mime.dot(0, "a.\r\n."))
    S.fn("eol no context", mime, "eol")
    S.fn("wrp string context", mime, "wrp", "x", "abc")
    S.fn("qpwrp string length", mime, "qpwrp", 0, "abc", "x")
    S.fn("dot table", mime, "dot", 0, {})
end

shape()
filters()
low_level()
S.done()
