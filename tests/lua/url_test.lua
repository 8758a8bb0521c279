-- Tests for socket.url. Prints "ok" when every check passes. The checks come from
-- testsupport.lua beside this file: tests/lua must be on package.path
-- (`--dir tests/lua::/tests-lua` in the component, LUA_PATH="tests/lua/?.lua;;" natively).
--
-- Where LuaSocket 3.1 departs from RFC 3986 (or from its own URL grammar), this module
-- follows the RFC. Those checks go through `fixed`; with LUASOCKET_ORIGINAL set in the
-- environment (to run this file against the original LuaSocket as an oracle:
-- LUASOCKET_ORIGINAL=1 LUA_PATH="tests/lua/?.lua;;" lua5.4 tests/lua/url_test.lua) they
-- are listed on stderr instead of failing.

local globals_before = {}
for k in pairs(_G) do globals_before[k] = true end

local url = require("socket.url")
local socket = require("socket")

local original = os.getenv and os.getenv("LUASOCKET_ORIGINAL") ~= nil
local support = require("testsupport")
local show, eq = support.show, support.eq

-- A check of behaviour where the original LuaSocket 3.1 is known to differ.
local function fixed(got, want, what)
    if original and got ~= want then
        support.checks = support.checks + 1
        io.stderr:write("known divergence: ", what, ": this module gives ", show(want),
            ", LuaSocket 3.1 gives ", show(got), "\n")
        return
    end
    eq(got, want, what)
end

-- Compares a table against the expected fields, and that it has no others.
local function fields(got, want, what)
    assert(type(got) == "table", what .. ": expected a table, got " .. show(got))
    for k, v in pairs(want) do eq(got[k], v, what .. " field " .. k) end
    for k, v in pairs(got) do
        eq(want[k] ~= nil, true, what .. ": unexpected field " .. tostring(k) .. "=" .. show(v))
    end
end

------------------------------------------------------------------------------
-- module shape
------------------------------------------------------------------------------
eq(type(url), "table", "require returns the module")
eq(socket.url, url, "socket.url is the module")
eq(require("socket.url"), url, "require is cached")
eq(url._VERSION, "URL 1.0.3", "_VERSION")
for _, name in ipairs { "escape", "unescape", "parse", "build", "absolute", "parse_path", "build_path" } do
    eq(type(url[name]), "function", "url." .. name)
end
for k in pairs(_G) do
    eq(globals_before[k], true, "no new global " .. tostring(k))
end

------------------------------------------------------------------------------
-- escape / unescape
------------------------------------------------------------------------------
eq(url.escape("/#?;"), "%2f%23%3f%3b", "escape: the manual's example")
eq(url.escape(""), "", "escape empty")
eq(url.escape("aZ09_"), "aZ09_", "escape keeps letters, digits and _")
eq(url.escape("a b~.-"), "a%20b%7e%2e%2d", "escape marks: every other byte is escaped")
eq(url.escape("\0\255"), "%00%ff", "escape NUL and 255")
eq(select("#", url.escape("a b")), 1, "escape returns one value")
eq(select("#", url.unescape("a%20b")), 1, "unescape returns one value")

local all_bytes = {}
for b = 0, 255 do
    local c = string.char(b)
    all_bytes[#all_bytes + 1] = c
    local plain = c:match("^[A-Za-z0-9_]$") ~= nil
    local want = plain and c or string.format("%%%02x", b)
    eq(url.escape(c), want, "escape byte " .. b)
    eq(url.unescape(url.escape(c)), c, "unescape(escape()) byte " .. b)
    eq(url.unescape(string.format("%%%02X", b)), c, "unescape upper-case hex byte " .. b)
    eq(url.unescape(string.format("%%%02x", b)), c, "unescape lower-case hex byte " .. b)
end
all_bytes = table.concat(all_bytes)
eq(url.unescape(url.escape(all_bytes)), all_bytes, "round trip of all 256 bytes")
eq(url.unescape(url.escape(all_bytes:rep(3))), all_bytes:rep(3), "round trip, repeated")
eq(#url.escape(all_bytes), 63 + 3 * (256 - 63), "escaped length of all bytes")

eq(url.unescape("%41%4a%4A%7e"), "AJJ~", "unescape mixed case")
eq(url.unescape("a+b"), "a+b", "unescape leaves + alone")
eq(url.unescape("%"), "%", "unescape lone %")
eq(url.unescape("%4"), "%4", "unescape short escape")
eq(url.unescape("%zz%g1"), "%zz%g1", "unescape non-hex escapes")
eq(url.unescape("%2541"), "%41", "unescape is single pass")
eq(url.unescape("100%"), "100%", "unescape trailing %")

------------------------------------------------------------------------------
-- parse
------------------------------------------------------------------------------
fields(url.parse("http://www.example.com/cgilua/index.lua?a=2#there"), {
    scheme = "http", authority = "www.example.com", host = "www.example.com",
    path = "/cgilua/index.lua", query = "a=2", fragment = "there",
}, "parse: the manual's first example")

fields(url.parse("ftp://root:passwd@unsafe.org/pub/virus.exe;type=i"), {
    scheme = "ftp", authority = "root:passwd@unsafe.org", path = "/pub/virus.exe",
    params = "type=i", userinfo = "root:passwd", host = "unsafe.org", user = "root",
    password = "passwd",
}, "parse: the manual's second example")

fields(url.parse("http://u:p:q@h:1/p;a;b?q?r#f#g"), {
    scheme = "http", authority = "u:p:q@h:1", userinfo = "u:p:q", user = "u:p", password = "q",
    host = "h", port = "1", path = "/p", params = "a;b", query = "q?r", fragment = "f#g",
}, "parse: first ; ? # split; the password follows the last colon")

fields(url.parse("http://a@b@c/"), {
    scheme = "http", authority = "a@b@c", userinfo = "a", user = "a", host = "b@c", path = "/",
}, "parse: userinfo ends at the first @")

fields(url.parse("http://@h"), {
    scheme = "http", authority = "@h", userinfo = "", user = "", host = "h",
}, "parse: empty userinfo")

fields(url.parse("http://host:/x"), {
    scheme = "http", authority = "host:", host = "host", port = "", path = "/x",
}, "parse: empty port")

fields(url.parse("http://h:80:90"), {
    scheme = "http", authority = "h:80:90", host = "h:80", port = "90",
}, "parse: port follows the last colon")

fields(url.parse("https://example.org:8443"), {
    scheme = "https", authority = "example.org:8443", host = "example.org", port = "8443",
}, "parse: no path")

-- IPv6 literals
fields(url.parse("http://[::1]:8080/"), {
    scheme = "http", authority = "[::1]:8080", host = "::1", port = "8080", path = "/",
}, "parse: IPv6 with port")
fields(url.parse("http://[::1]"), {
    scheme = "http", authority = "[::1]", host = "::1",
}, "parse: IPv6 without port")
fields(url.parse("http://[::1]/x"), {
    scheme = "http", authority = "[::1]", host = "::1", path = "/x",
}, "parse: IPv6 without port, with path")
fields(url.parse("ftp://me:pw@[fe80::1:2%25eth0]:21/f;type=a"), {
    scheme = "ftp", authority = "me:pw@[fe80::1:2%25eth0]:21", userinfo = "me:pw", user = "me",
    password = "pw", host = "fe80::1:2%25eth0", port = "21", path = "/f", params = "type=a",
}, "parse: IPv6 with zone, userinfo, port and params")
fields(url.parse("//[2001:db8::7]"), {
    authority = "[2001:db8::7]", host = "2001:db8::7",
}, "parse: IPv6, network-path reference")

-- relative references and unusual schemes
fields(url.parse("g;x?y#s"), { path = "g", params = "x", query = "y", fragment = "s" },
    "parse: relative with params, query, fragment")
fields(url.parse("//g"), { authority = "g", host = "g" }, "parse: network-path reference")
fields(url.parse("//"), { authority = "" }, "parse: empty authority has no host")
fields(url.parse("?y"), { query = "y" }, "parse: query only")
fields(url.parse("#s"), { fragment = "s" }, "parse: fragment only")
fields(url.parse(";x"), { params = "x" }, "parse: params only")
fields(url.parse("?"), { query = "" }, "parse: empty query")
fields(url.parse("#"), { fragment = "" }, "parse: empty fragment")
fields(url.parse("a/b?"), { path = "a/b", query = "" }, "parse: path and empty query")
fields(url.parse("/a%20b"), { path = "/a%20b" }, "parse: path is not unescaped")
fields(url.parse("mailto:x@y"), { scheme = "mailto", path = "x@y" }, "parse: mailto")
fields(url.parse("g:h"), { scheme = "g", path = "h" }, "parse: short scheme")
fields(url.parse("http:"), { scheme = "http" }, "parse: scheme only")
fields(url.parse("http:g"), { scheme = "http", path = "g" }, "parse: scheme, relative path")
fields(url.parse("svn+ssh.x-y://h/r"), {
    scheme = "svn+ssh.x-y", authority = "h", host = "h", path = "/r",
}, "parse: scheme with + . -")
fields(url.parse("./a:b"), { path = "./a:b" }, "parse: colon after a slash is not a scheme")
fields(url.parse("-x:y"), { path = "-x:y" }, "parse: a scheme starts with a letter or digit")
fields(url.parse("//a;p/x"), { authority = "a;p", host = "a;p", path = "/x" },
    "parse: ; is allowed in the authority")

-- The authority ends at "/", "?" or "#" (RFC 3986, and the manual's grammar); LuaSocket 3.1
-- ends it only at "/", taking "a?x" for a host name.
local p = url.parse("http://a?x")
fixed(p.host, "a", "parse http://a?x: host")
fixed(p.query, "x", "parse http://a?x: query")
p = url.parse("http://a:80#frag")
fixed(p.port, "80", "parse http://a:80#frag: port")
fixed(p.fragment, "frag", "parse http://a:80#frag: fragment")
p = url.parse("//[::1]:81?q")
fixed(p.host, "::1", "parse //[::1]:81?q: host")
fixed(p.port, "81", "parse //[::1]:81?q: port")
p = url.parse("http://example.com?email=a@b.com")
fixed(p.host, "example.com", "parse ?email=a@b.com: host")
fixed(p.query, "email=a@b.com", "parse ?email=a@b.com: query")
p = url.parse("http://localhost:8080?user=a@b")
fixed(p.port, "8080", "parse host:8080?user=a@b: port")
fixed(p.query, "user=a@b", "parse host:8080?user=a@b: query")

-- Where an "@" shows that a "?" or "#" belongs to a password, they stay in the userinfo,
-- as LuaSocket 3.1 has them on purpose.
fields(url.parse("scheme://user:pass$%?#wd@host:port/path;params?query#fragment"), {
    scheme = "scheme", authority = "user:pass$%?#wd@host:port", userinfo = "user:pass$%?#wd",
    user = "user", password = "pass$%?#wd", host = "host", port = "port", path = "/path",
    params = "params", query = "query", fragment = "fragment",
}, "parse: ? and # inside a password")
for _, password in ipairs { "pass?#wd", "pass#wd", "pass?wd" } do
    fields(url.parse("http://user:" .. password .. "@host/p?q#f"), {
        scheme = "http", authority = "user:" .. password .. "@host",
        userinfo = "user:" .. password, user = "user", password = password, host = "host",
        path = "/p", query = "q", fragment = "f",
    }, "parse: password " .. password)
end
eq(url.build(url.parse("http://user:pa?#ss@host/x")), "http://user:pa?#ss@host/x",
    "build: a password with ? and # comes back as it was")

-- invalid input
local r1, r2 = url.parse("")
eq(r1, nil, "parse empty string fails")
eq(r2, "invalid url", "parse empty string message")
r1, r2 = url.parse(nil)
eq(r1, nil, "parse nil fails")
eq(r2, "invalid url", "parse nil message")

-- defaults fill in what the URL lacks; the default table itself is not modified
local defaults = { scheme = "ftp", port = "21", path = "/", extra = "kept" }
p = url.parse("//h/x", defaults)
fields(p, { scheme = "ftp", port = "21", path = "/x", extra = "kept", authority = "h", host = "h" },
    "parse with defaults")
fields(defaults, { scheme = "ftp", port = "21", path = "/", extra = "kept" }, "defaults untouched")
eq(p ~= defaults, true, "parse with defaults returns a new table")
fields(url.parse("http://h:8/", { port = "80" }), {
    scheme = "http", authority = "h:8", host = "h", port = "8", path = "/",
}, "a port in the URL overrides the default")

------------------------------------------------------------------------------
-- build
------------------------------------------------------------------------------
eq(url.build({}), "", "build empty")
eq(url.build({ path = "/x" }), "/x", "build path only")
eq(url.build({ scheme = "http", host = "h", port = 8080, path = "/p", params = "a", query = "q",
    fragment = "f" }), "http://h:8080/p;a?q#f", "build all components (numeric port)")
eq(url.build({ scheme = "http", host = "::1", port = 80, path = "/x", user = "u", password = "p" }),
    "http://u:p@[::1]:80/x", "build brackets an IPv6 host")
eq(url.build({ scheme = "http", host = "::1" }), "http://[::1]", "build IPv6, no port")
eq(url.build({ host = "::1", authority = "zzz", userinfo = "ui", path = "/x" }),
    "//ui@[::1]/x", "build: host wins over authority")
eq(url.build({ authority = "zzz", userinfo = "ui", path = "/x" }), "//zzz/x",
    "build: userinfo alone does not replace authority")
eq(url.build({ host = "h", userinfo = "ui", password = "pw" }), "//ui@h",
    "build: password without user is ignored")
eq(url.build({ host = "h", userinfo = "ui", user = "us" }), "//us@h", "build: user wins over userinfo")
eq(url.build({ scheme = "mailto", path = "x@y" }), "mailto:x@y", "build mailto")
eq(url.build({ query = "", fragment = "" }), "?#", "build keeps empty query and fragment")
eq(url.build({ path = "a b" }), "a b", "build does not escape the path")

-- parse then build gives back the same string
local round_trips = {
    "http://www.example.com/cgilua/index.lua?a=2#there",
    "ftp://root:passwd@unsafe.org/pub/virus.exe;type=i",
    "http://u:p:q@h:1/p;a;b?q?r#f#g",
    "http://[::1]:8080/",
    "http://[::1]",
    "https://[2001:db8::1]:443/a/b?c=d#e",
    "ftp://me:pw@[fe80::1]:21/f;type=a",
    "http://@h", "http://host:/x", "http://user@host", "//g", "//", "?y", "#s", ";x", "?", "#",
    "g;x?y#s", "mailto:x@y", "http:", "http:g", "a/b/c", "/a%20b/c%2Fd", "../../g",
    "file:///etc/passwd", "http://a/b/c/d;p?q", "svn+ssh://h/r",
}
for _, s in ipairs(round_trips) do
    eq(url.build(url.parse(s)), s, "round trip " .. s)
end

------------------------------------------------------------------------------
-- absolute: RFC 3986 section 5.4
------------------------------------------------------------------------------
local base = "http://a/b/c/d;p?q"
local parsed_base = url.parse(base)

-- 5.4.1 normal examples
local normal = {
    { "g:h", "g:h" },
    { "g", "http://a/b/c/g" },
    { "./g", "http://a/b/c/g" },
    { "g/", "http://a/b/c/g/" },
    { "/g", "http://a/g" },
    { "//g", "http://g" },
    { "?y", "http://a/b/c/d;p?y" },
    { "g?y", "http://a/b/c/g?y" },
    { "#s", "http://a/b/c/d;p?q#s" },
    { "g#s", "http://a/b/c/g#s" },
    { "g?y#s", "http://a/b/c/g?y#s" },
    { ";x", "http://a/b/c/;x", fixed = true },
    { "g;x", "http://a/b/c/g;x" },
    { "g;x?y#s", "http://a/b/c/g;x?y#s" },
    { "", "http://a/b/c/d;p?q" },
    { ".", "http://a/b/c/" },
    { "./", "http://a/b/c/" },
    { "..", "http://a/b/" },
    { "../", "http://a/b/" },
    { "../g", "http://a/b/g" },
    { "../..", "http://a/" },
    { "../../", "http://a/" },
    { "../../g", "http://a/g" },
}
-- 5.4.2 abnormal examples (the strict reading for "http:g")
local abnormal = {
    { "../../../g", "http://a/g" },
    { "../../../../g", "http://a/g" },
    { "/./g", "http://a/g" },
    { "/../g", "http://a/g" },
    { "g.", "http://a/b/c/g." },
    { ".g", "http://a/b/c/.g" },
    { "g..", "http://a/b/c/g.." },
    { "..g", "http://a/b/c/..g" },
    { "./../g", "http://a/b/g" },
    { "./g/.", "http://a/b/c/g/" },
    { "g/./h", "http://a/b/c/g/h" },
    { "g/../h", "http://a/b/c/h" },
    { "g;x=1/./y", "http://a/b/c/g;x=1/y" },
    { "g;x=1/../y", "http://a/b/c/y" },
    { "g?y/./x", "http://a/b/c/g?y/./x", fixed = true },
    { "g?y/../x", "http://a/b/c/g?y/../x", fixed = true },
    { "g#s/./x", "http://a/b/c/g#s/./x", fixed = true },
    { "g#s/../x", "http://a/b/c/g#s/../x", fixed = true },
    { "http:g", "http:g" },
}
for _, set in ipairs { normal, abnormal } do
    for _, case in ipairs(set) do
        local check = case.fixed and fixed or eq
        check(url.absolute(base, case[1]), case[2], "absolute(" .. base .. ", " .. case[1] .. ")")
        check(url.absolute(parsed_base, case[1]), case[2],
            "absolute(parsed base, " .. case[1] .. ")")
    end
end

-- beyond the RFC's list
eq(url.absolute("http://a", "g"), "http://a/g", "absolute: base with empty path")
eq(url.absolute("http://a/", "g"), "http://a/g", "absolute: base with root path")
eq(url.absolute("http://a/b/c", "../../../x"), "http://a/x", "absolute: too many ..")
eq(url.absolute("http://a/b/c/", "./"), "http://a/b/c/", "absolute: ./ on a directory")
eq(url.absolute("http://a/b/c", "http://x/a/../b"), "http://x/b",
    "absolute: dot segments removed from an absolute reference")
eq(url.absolute("http://a/b/c", "//g/./x"), "http://g/x", "absolute: network-path with dots")
eq(url.absolute("http://a/b", "http://[::1]/./x"), "http://[::1]/x", "absolute: IPv6 reference")
eq(url.absolute("http://[::1]:8/x/y", "z"), "http://[::1]:8/x/z", "absolute: IPv6 base")
eq(url.absolute("http://u:p@h:1/a/b?q#f", "c?r"), "http://u:p@h:1/a/c?r",
    "absolute: base userinfo and port kept, fragment not")
eq(url.absolute("http://a/b;p", "c"), "http://a/c", "absolute: params belong to the last segment")
eq(url.absolute("", "x"), "x", "absolute: empty base leaves the reference")
eq(url.absolute(nil, "x"), "x", "absolute: nil base leaves the reference")
eq(url.absolute("http://a/b", "mailto:x@y"), "mailto:x@y", "absolute: other scheme")
eq(url.absolute("http://a/b/c", "HTTPS://A/x"), "HTTPS://A/x", "absolute: case is kept")
-- RFC 3986 5.2.2: the target takes the reference's fragment, never the base's; "?" alone
-- ends at the authority; "../" never climbs into the authority.
fixed(url.absolute("http://a/b#f", ""), "http://a/b", "absolute: base fragment dropped")
fixed(url.absolute("http://a?q", "?r"), "http://a?r", "absolute: query replaces query")
fixed(url.absolute("http://a/b/c", "//h:1/../x?q#f"), "http://h:1/x?q#f",
    "absolute: authority of a network-path reference")
-- a table base is used like the URL it builds (host, port, user count, not only authority)
fixed(url.absolute({ scheme = "http", host = "a", path = "/b/c" }, "d"), "http://a/b/d",
    "absolute: table base with host")

------------------------------------------------------------------------------
-- parse_path / build_path
------------------------------------------------------------------------------
fields(url.parse_path("/a//b%20c/"), { "a", "b c", is_absolute = 1, is_directory = 1 },
    "parse_path drops empty segments and unescapes")
fields(url.parse_path("a/b"), { "a", "b" }, "parse_path relative")
fields(url.parse_path(""), {}, "parse_path empty")
fields(url.parse_path(nil), {}, "parse_path nil")
fields(url.parse_path("/"), { is_absolute = 1, is_directory = 1 }, "parse_path root")
fields(url.parse_path("a%2Fb/c"), { "a/b", "c" }, "parse_path: escaped slash stays in its segment")

eq(url.build_path({}), "", "build_path empty")
eq(url.build_path({ "a", "b" }), "a/b", "build_path relative")
eq(url.build_path({ "a", "b", is_absolute = 1 }), "/a/b", "build_path absolute")
eq(url.build_path({ "a", "b", is_directory = 1 }), "a/b/", "build_path directory")
eq(url.build_path({ is_absolute = 1, is_directory = 1 }), "/", "build_path root")
eq(url.build_path({ is_directory = 1 }), "", "build_path: directory flag needs a segment")
eq(url.build_path({ "a b", "c/d", "-_.!~*'():@&=+$,%?#;" }),
    "a%20b/c%2Fd/-_.!~*'():@&=+$,%25%3F%23%3B", "build_path escapes reserved characters")
eq(url.build_path({ "a b", "c/d" }, true), "a b/c/d", "build_path unsafe")
eq(url.build_path({ "a%/b" }), "a%25%2Fb", "build_path escapes % and /")
eq(url.build_path(url.parse_path("//a//b//")), "/a/b/", "build_path(parse_path()) normalises")

for b = 0, 255 do
    local c = string.char(b)
    local segment = "x" .. c .. "y"
    local built = url.build_path({ segment })
    eq(url.parse_path(built)[1], segment, "segment round trip byte " .. b)
    local safe = c:match("^[A-Za-z0-9_]$") or ("-_.!~*'():@&=+$,"):find(c, 1, true)
    eq(built, safe and segment or string.format("x%%%02Xy", b), "build_path escape byte " .. b)
end
local segments = { all_bytes, "plain", "with space", is_absolute = 1, is_directory = 1 }
local back = url.parse_path(url.build_path(segments))
fields(back, segments, "path round trip with all bytes")

print("ok")
