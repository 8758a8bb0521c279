-- socket.url: parsing, building, escaping and resolving URLs, as LuaSocket 3.1 does.
-- Grammar used by parse/build (LuaSocket's, which keeps ;params apart from the path):
--   <url>       ::= [<scheme>:][//<authority>][/<path>][;<params>][?<query>][#<fragment>]
--   <authority> ::= [<userinfo>@]<host>[:<port>]
--   <userinfo>  ::= <user>[:<password>]
-- url.absolute resolves references by RFC 3986, section 5.2.
local socket = require("socket")

local _M = {}
socket.url = _M

_M._VERSION = "URL 1.0.3"

local string, table, type, pairs, tostring, tonumber =
    string, table, type, pairs, tostring, tonumber

-------------------------------------------------------------------------------
-- Escaping
-------------------------------------------------------------------------------

-- Every byte but ASCII letters, digits and "_" becomes %xx (lower-case hex, as LuaSocket
-- writes it). The classes are spelled out so the result never depends on the C locale.
function _M.escape(s)
    return (string.gsub(s, "[^A-Za-z0-9_]", function(c)
        return string.format("%%%02x", string.byte(c))
    end))
end

function _M.unescape(s)
    return (string.gsub(s, "%%(%x%x)", function(hex)
        return string.char(tonumber(hex, 16))
    end))
end

-- Characters a path segment may hold unescaped (RFC 2396 pchar minus letters/digits/"_").
local segment_safe = {}
for c in string.gmatch("-_.!~*'():@&=+$,", ".") do segment_safe[c] = true end

-- Escapes a path segment for build_path: "/", ";", "?", "#", "%", spaces and the like
-- must not survive raw, since they would change the URL's structure.
local function protect_segment(s)
    return (string.gsub(s, "[^A-Za-z0-9_]", function(c)
        if segment_safe[c] then return c end
        return string.format("%%%02X", string.byte(c))
    end))
end

-------------------------------------------------------------------------------
-- Parsing and building
-------------------------------------------------------------------------------

-- Splits the authority into userinfo, user, password, host and port.
local function parse_authority(authority, parsed)
    -- userinfo ends at the first "@"
    local userinfo, rest = string.match(authority, "^([^@]*)@(.*)$")
    if userinfo then
        parsed.userinfo = userinfo
        authority = rest
    end
    -- the port follows the last ":", unless a "]" comes after it ("[::1]" has no port)
    local host, port = string.match(authority, "^(.*):([^:%]]*)$")
    if host then
        parsed.port = port
        authority = host
    end
    if authority ~= "" then
        -- an IPv6 literal is written in brackets, which are not part of the address
        parsed.host = string.match(authority, "^%[(.+)%]$") or authority
    end
    if userinfo then
        -- the password follows the last ":"
        local user, password = string.match(userinfo, "^(.*):([^:]*)$")
        if user then
            parsed.user, parsed.password = user, password
        else
            parsed.user = userinfo
        end
    end
end

-- Whether the "?" or "#" in a userinfo belong to a password: they come after the ":" of
-- user:password, and not right after digits (in "host:8080?q=a@b" they end a port).
local function password_holds_delimiters(userinfo)
    local colon = string.find(userinfo, ":", 1, true)
    local cut = string.find(userinfo, "[?#]")
    return colon and cut and colon < cut
        and not string.find(string.sub(userinfo, colon + 1, cut - 1), "^%d+$")
end

-- Splits "//authority..." into the authority and the rest. The authority ends at the first
-- "/", "?" or "#" (RFC 3986), except where an "@" shows that a "?" or "#" belongs to a
-- password ("//user:pa?#ss@host/"), which LuaSocket 3.1 accepts on purpose; 3.1's own rule
-- (everything up to the first "/") would make "http://a?x" a host "a?x".
local function split_authority(url)
    local candidate = string.match(url, "^//([^/]*)")
    if not candidate then return nil, url end
    local userinfo = string.match(candidate, "^([^@]*)@")
    if userinfo and password_holds_delimiters(userinfo) then
        local host = string.match(string.sub(candidate, #userinfo + 2), "^[^?#]*")
        local authority = userinfo .. "@" .. host
        return authority, string.sub(url, #authority + 3)
    end
    return string.match(url, "^//([^/%?#]*)(.*)$")
end

-- Fills `parsed` with the components of url; accepts "" (no components at all).
local function split(url, parsed)
    local scheme, rest = string.match(url, "^([A-Za-z0-9][A-Za-z0-9%+%-%.]*):(.*)$")
    if scheme then parsed.scheme, url = scheme, rest end
    local authority
    authority, rest = split_authority(url)
    if authority then parsed.authority, url = authority, rest end
    -- the fragment starts at the first "#", the query at the first "?" before it and the
    -- params at the first ";" before that
    local before, fragment = string.match(url, "^(.-)#(.*)$")
    if before then url, parsed.fragment = before, fragment end
    local query
    before, query = string.match(url, "^(.-)%?(.*)$")
    if before then url, parsed.query = before, query end
    local params
    before, params = string.match(url, "^(.-);(.*)$")
    if before then url, parsed.params = before, params end
    if url ~= "" then parsed.path = url end
    if parsed.authority then parse_authority(parsed.authority, parsed) end
    return parsed
end

-- Parses url into a new table. Fields of `default` are copied in first, so they stand for
-- the components the URL lacks; `default` itself is not modified.
function _M.parse(url, default)
    if not url or url == "" then return nil, "invalid url" end
    local parsed = {}
    for k, v in pairs(default or parsed) do parsed[k] = v end
    return split(url, parsed)
end

-- Rebuilds a URL. Lower-level fields win: host/port/user/password/userinfo replace
-- authority, and user/password replace userinfo.
function _M.build(parsed)
    local url = parsed.path or ""
    if parsed.params then url = url .. ";" .. parsed.params end
    if parsed.query then url = url .. "?" .. parsed.query end
    local authority = parsed.authority
    if parsed.host then
        authority = parsed.host
        -- only an IPv6 address has ":" in it; brackets keep it apart from the port
        if string.find(authority, ":", 1, true) then authority = "[" .. authority .. "]" end
        if parsed.port then authority = authority .. ":" .. tostring(parsed.port) end
        local userinfo = parsed.userinfo
        if parsed.user then
            userinfo = parsed.user
            if parsed.password then userinfo = userinfo .. ":" .. parsed.password end
        end
        if userinfo then authority = userinfo .. "@" .. authority end
    end
    if authority then url = "//" .. authority .. url end
    if parsed.scheme then url = parsed.scheme .. ":" .. url end
    if parsed.fragment then url = url .. "#" .. parsed.fragment end
    return url
end

-------------------------------------------------------------------------------
-- Resolving relative references (RFC 3986, section 5.2)
-------------------------------------------------------------------------------

-- RFC 3986 5.2.4: interprets "." and ".." segments. Output segments keep their leading
-- "/", so dropping the last one also drops the "/" before it.
local function remove_dot_segments(input)
    local output = {}
    while input ~= "" do
        if string.find(input, "^%.%./") then          -- A: leading "../"
            input = string.sub(input, 4)
        elseif string.find(input, "^%./") then        -- A: leading "./"
            input = string.sub(input, 3)
        elseif string.find(input, "^/%./") then       -- B: "/./" -> "/"
            input = string.sub(input, 3)
        elseif input == "/." then                     -- B
            input = "/"
        elseif string.find(input, "^/%.%./") then     -- C: "/../" -> "/", drop a segment
            input = string.sub(input, 4)
            table.remove(output)
        elseif input == "/.." then                    -- C
            input = "/"
            table.remove(output)
        elseif input == "." or input == ".." then     -- D
            input = ""
        else                                          -- E: move one segment over
            local segment = string.match(input, "^/?[^/]*")
            output[#output + 1] = segment
            input = string.sub(input, #segment + 1)
        end
    end
    return table.concat(output)
end

-- RFC 3986 5.2.3: a relative path replaces the last segment of the base path.
local function merge(base, path)
    if base.authority and base.path == "" then return "/" .. path end
    local directory = string.match(base.path, "^(.*/)") or ""
    return directory .. path
end

-- The RFC's view of a reference: ";params" are part of the path (so "g;x=1/../y" loses
-- its params to the ".."), and the path is "" rather than absent.
local function rfc_parts(url)
    local parsed = split(url, {})
    local path = parsed.path or ""
    if parsed.params then path = path .. ";" .. parsed.params end
    return {
        scheme = parsed.scheme,
        authority = parsed.authority,
        path = path,
        query = parsed.query,
        fragment = parsed.fragment,
    }
end

-- Resolves relative against base (a string or a table as parse returns) and returns the
-- target as a string. An unusable (empty) base leaves the relative URL as it is.
function _M.absolute(base_url, relative_url)
    if type(base_url) == "table" then base_url = _M.build(base_url) end
    if not base_url or base_url == "" then return relative_url end
    local base, ref = rfc_parts(base_url), rfc_parts(relative_url or "")
    local target = { fragment = ref.fragment }
    if ref.scheme then
        target.scheme, target.authority = ref.scheme, ref.authority
        target.path, target.query = remove_dot_segments(ref.path), ref.query
    else
        target.scheme = base.scheme
        if ref.authority then
            target.authority = ref.authority
            target.path, target.query = remove_dot_segments(ref.path), ref.query
        else
            target.authority = base.authority
            if ref.path == "" then
                target.path = base.path
                target.query = ref.query or base.query
            else
                if string.sub(ref.path, 1, 1) == "/" then
                    target.path = remove_dot_segments(ref.path)
                else
                    target.path = remove_dot_segments(merge(base, ref.path))
                end
                target.query = ref.query
            end
        end
    end
    return _M.build(target)
end

-------------------------------------------------------------------------------
-- Paths
-------------------------------------------------------------------------------

-- Splits a path into its unescaped segments (empty segments are dropped). The flags
-- is_absolute and is_directory record a leading and a trailing "/".
function _M.parse_path(path)
    local segments = {}
    path = path or ""
    for segment in string.gmatch(path, "[^/]+") do
        segments[#segments + 1] = _M.unescape(segment)
    end
    if string.sub(path, 1, 1) == "/" then segments.is_absolute = 1 end
    if string.sub(path, -1) == "/" then segments.is_directory = 1 end
    return segments
end

-- Joins segments into a path, escaping each segment unless `unsafe` is given.
function _M.build_path(segments, unsafe)
    local protect = protect_segment
    if unsafe then protect = function(s) return s end end
    local parts = {}
    for i = 1, #segments do parts[i] = protect(segments[i]) end
    local path = table.concat(parts, "/")
    if #segments > 0 and segments.is_directory then path = path .. "/" end
    if segments.is_absolute then path = "/" .. path end
    return path
end

return _M
