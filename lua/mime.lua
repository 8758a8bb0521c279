-- mime: LTN12 filters for MIME transfer encodings (Base64, Quoted-Printable), line
-- wrapping, end-of-line normalization and SMTP dot-stuffing, with the semantics of
-- LuaSocket 3.1. The work is done by the low-level functions of mime.core; this module
-- turns each into a filter with ltn12.filter.cycle, which keeps the context (leftover
-- bytes or a counter) between chunks. It adds to mime.core's table and returns it, as
-- LuaSocket does, so mime.b64 and friends are reachable from here too.
local ltn12 = require("ltn12")
local mime = require("mime.core")

local cycle = ltn12.filter.cycle
local type, tostring, error = type, tostring, error

-- Filter factories by name, open to scripts that want to add their own.
local encodet, decodet, wrapt = {}, {}, {}
mime.encodet, mime.decodet, mime.wrapt = encodet, decodet, wrapt

encodet["base64"] = function()
    return cycle(mime.b64, "")
end

-- "binary" data has no lines: its CRLFs are data and must be quoted like any other bytes.
encodet["quoted-printable"] = function(mode)
    return cycle(mime.qp, "", (mode == "binary") and "=0D=0A" or "\r\n")
end

decodet["base64"] = function()
    return cycle(mime.unb64, "")
end

decodet["quoted-printable"] = function()
    return cycle(mime.unqp, "")
end

-- The wrappers start with a whole empty line: length bytes left.
wrapt["text"] = function(length)
    length = length or 76
    return cycle(mime.wrp, length, length)
end
wrapt["base64"] = wrapt["text"]
wrapt["default"] = wrapt["text"]

-- RFC 2045 fixes Quoted-Printable lines at 76 characters.
wrapt["quoted-printable"] = function()
    return cycle(mime.qpwrp, 76, 76)
end

-- Makes the public factory over one of the tables. A first argument that is not a name
-- is the default factory's first option (mime.wrap(72) wraps text at 72). The error
-- level (3) blames the caller's caller, as LuaSocket's does.
local function chooser(factories)
    return function(name, opt1, opt2)
        if type(name) ~= "string" then
            name, opt1, opt2 = "default", name, opt1
        end
        local factory = factories[name]
        if not factory then
            error("unknown key (" .. tostring(name) .. ")", 3)
        end
        return factory(opt1, opt2)
    end
end

mime.encode = chooser(encodet)
mime.decode = chooser(decodet)
mime.wrap = chooser(wrapt)

-- The context is the last byte if it may pair with the next chunk's first into one line
-- break; nothing is pending at the start.
function mime.normalize(marker)
    return cycle(mime.eol, 0, marker)
end

-- A message body starts as if after CRLF (state 2), so a leading dot is stuffed too.
function mime.stuff()
    return cycle(mime.dot, 2)
end

return mime
