-- Reading Unix mailboxes (mbox) and RFC 822 messages: LuaSocket's mbox module, which
-- LuaRocks installs as `mbox` and the makefile as `socket.mbox` (both names load this).
-- Line ends are taken as "\n" after turning every "\r\n" into one.

local string, table = string, table

local _M = {}

local function unix_lines(text)
    return (string.gsub(text, "\r\n", "\n"))
end

-- Headers and body of one message: the headers are everything up to the first empty
-- line (with the newline that ends the last header), the body everything after it.
-- A message with no empty line is all headers, unless it starts with a newline.
function _M.split_message(message)
    message = unix_lines(message)
    local blank = string.find(message, "\n\n", 1, true)
    if blank then
        return string.sub(message, 1, blank), string.sub(message, blank + 2)
    end
    if string.sub(message, 1, 1) == "\n" then return "", string.sub(message, 2) end
    return message, ""
end

-- The header lines of a message's header block, continuation lines (starting with
-- spaces) joined to the line they continue, empty lines dropped.
function _M.split_headers(headers)
    headers = string.gsub(unix_lines(headers), "\n[ ]+", " ")
    local lines = {}
    for line in string.gmatch(headers, "[^\n]+") do lines[#lines + 1] = line end
    return lines
end

-- The name and value of one header line ("Name: value"), or nil when there is no colon
-- after a name. As LuaSocket's, the name is the run of characters with no space or colon
-- right before the first colon that has one.
function _M.parse_header(header)
    header = string.gsub(string.gsub(header, "\n[ ]+", " "), "\n+", "")
    local name, value = string.match(header, "([^%s:]-):%s*(.*)")
    return name, value
end

-- A header block as a table from lowercase names to values; a name seen twice gets its
-- values joined with ", ".
function _M.parse_headers(headers)
    local parsed = {}
    for _, line in ipairs(_M.split_headers(headers)) do
        local name, value = _M.parse_header(line)
        if name then
            name = string.lower(name)
            parsed[name] = parsed[name] and parsed[name] .. ", " .. value or value
        end
    end
    return parsed
end

-- The display name and address of a From header: `Name <address>`, or a bare address,
-- which is then the name too. Quotes are dropped from the name.
function _M.parse_from(from)
    local name, address = string.match(from, "^%s*(.-)%s*<(.-)>")
    if not address then address = string.match(from, "%s*(.+)%s*") end
    name, address = name or "", address or ""
    if name == "" then name = address end
    return (string.gsub(name, '"', "")), address
end

-- The messages of a mailbox, as text. Messages are separated by an empty line followed
-- by a "From " line, which belongs to neither; the first message keeps the mailbox's
-- first line.
function _M.split_mbox(mailbox)
    mailbox = unix_lines(mailbox) .. "\n\nFrom \n"
    local messages, start = {}, 1
    while true do
        local first, last = string.find(mailbox, "\n\nFrom .-\n", start)
        if not first then return messages end
        table.insert(messages, string.sub(mailbox, start, first - 1))
        start = last + 1
    end
end

-- One message as { headers = parsed headers, body = text }.
function _M.parse_message(message)
    local headers, body = _M.split_message(message)
    return { headers = _M.parse_headers(headers), body = body }
end

-- Every message of a mailbox, parsed.
function _M.parse(mailbox)
    local messages = _M.split_mbox(mailbox)
    for i, message in ipairs(messages) do messages[i] = _M.parse_message(message) end
    return messages
end

return _M
