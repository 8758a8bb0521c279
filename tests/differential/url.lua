-- socket.url: parse and build over URLs of every shape (userinfo, IPv6 hosts, ports,
-- params, queries, fragments, relative references), absolute with RFC 3986's normal
-- and abnormal examples, escape/unescape, parse_path/build_path.
local S = require "support"
local url = require "socket.url"

local URLS = {
    "http://www.example.com/path/to/file.html",
    "http://user:pass@host:8080/p/a/t/h;params?query=1&b=2#frag",
    "https://user@host/",
    "ftp://anonymous:me%40here@ftp.example.org:21/pub/file.txt;type=i",
    "http://[::1]:8080/ipv6",
    "http://[fe80::1%25eth0]/zone",
    "http://host:/empty-port",
    "http://host?query-no-path",
    "http://host#frag-no-path",
    "http://a?x",
    "http://user@host?q",
    "mailto:someone@example.com",
    "urn:isbn:0451450523",
    "//host/network-path",
    "/absolute/path?q",
    "relative/path#f",
    "../up/one",
    "?only-query",
    "#only-fragment",
    ";params-only",
    "",
    "http://host/%7Euser/a%20b",
    "HTTP://HOST/Case",
    "http://user:p:ss@host/colons",
    "http://@host/empty-user",
    "http://host:99999/big-port",
    "scheme-with.dots+plus://x/y",
    "1http://not-a-scheme",
}

local function parsing()
    for _, u in ipairs(URLS) do
        S.fn("parse " .. S.format(u), url, "parse", u)
    end
    S.show("parse with defaults", url.parse("/p", { scheme = "http", host = "default", port = 80 }))
    S.fn("parse nil", url, "parse", nil)
    S.fn("parse table", url, "parse", {})
end

local function building()
    for _, u in ipairs(URLS) do
        local parsed = url.parse(u)
        if parsed then S.fn("build " .. S.format(u), url, "build", parsed) end
    end
    S.fn("build parts", url, "build", { scheme = "http", host = "h", port = 81, path = "/x", query = "q", fragment = "f" })
    S.fn("build userinfo", url, "build", { scheme = "ftp", user = "u", password = "p w", host = "h" })
    S.fn("build ipv6 host", url, "build", { scheme = "http", host = "::1", path = "/" })
    S.fn("build segments", url, "build", { scheme = "http", host = "h", segments = { "a b", "c" } })
    S.fn("build empty", url, "build", {})
    S.fn("build nil", url, "build", nil)
end

-- RFC 3986, section 5.4: the base, then each reference and what it resolves to there.
local RFC_BASE = "http://a/b/c/d;p?q"
local RFC_REFERENCES = {
    "g:h", "g", "./g", "g/", "/g", "//g", "?y", "g?y", "#s", "g#s", "g?y#s", ";x", "g;x",
    "g;x?y#s", "", ".", "./", "..", "../", "../g", "../..", "../../", "../../g",
    "../../../g", "../../../../g", "/./g", "/../g", "g.", ".g", "g..", "..g", "./../g",
    "./g/.", "g/./h", "g/../h", "g;x=1/./y", "g;x=1/../y", "g?y/./x", "g?y/../x", "g#s/./x",
    "g#s/../x", "http:g",
}

local function resolving()
    for _, ref in ipairs(RFC_REFERENCES) do
        S.fn("absolute " .. S.format(ref), url, "absolute", RFC_BASE, ref)
    end
    S.fn("absolute parsed base", url, "absolute", url.parse("http://h/a/b"), "c")
    S.fn("absolute no base path", url, "absolute", "http://h", "x")
    S.fn("absolute nil", url, "absolute", nil, "x")
end

local function escaping()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    S.show("escape every byte", url.escape(all))
    S.show("unescape of escape", url.unescape(url.escape(all)) == all)
    for _, s in ipairs { "a%20b", "%41%4a%4A", "100%", "%zz", "%4", "+plus+", "" } do
        S.fn("unescape " .. S.format(s), url, "unescape", s)
    end
    S.fn("escape nil", url, "escape", nil)
    S.fn("escape number", url, "escape", 12.5)
end

local function paths()
    for _, p in ipairs { "/a/b/c", "a/b/", "/", "", "//x//", "/a%2Fb/c%20d", "a;b/c" } do
        S.fn("parse_path " .. S.format(p), url, "parse_path", p)
    end
    local parsed = url.parse_path("/a b/c")
    S.fn("build_path", url, "build_path", parsed)
    S.fn("build_path unsafe", url, "build_path", parsed, true)
    S.fn("build_path relative", url, "build_path", { "x", "y" })
    S.fn("build_path flags", url, "build_path", { "x", "y", is_absolute = 1, is_directory = 1 })
    S.fn("build_path empty", url, "build_path", {})
end

S.show("_VERSION", url._VERSION)
parsing()
building()
resolving()
escaping()
paths()
S.done()
