-- socket.mbox: messages split into headers and body, header lines split, joined and
-- parsed, From headers, and whole mailboxes, on well-formed and awkward input (CRLF,
-- continuation lines, missing parts, repeated headers, odd spacing).
local S = require "support"
local mbox = require "socket.mbox"

local MESSAGES = {
    "Subject: hi\nFrom: a@b\n\nbody line\n",
    "Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\nmore\r\n",
    "Subject: only headers\n",
    "\nbody only, no headers",
    "\n\nstarts with a blank line",
    "",
    "no newline at all",
    "A: 1\n\n\n\nbody after blank lines\n",
    "X-Long: first\n  continued\n\tnot continued\nY: 2\n\nb",
}
local HEADERS = {
    "Subject: hi",
    "Subject:hi",
    "Subject:    spaced   ",
    " Leading: space",
    "two words: value",
    ": no name",
    "no colon here",
    "X-A: b: c",
    "Folded: one\n two\n   three",
    "Broken:\n\nvalue",
    "",
}
local FROMS = {
    "Jane Doe <jane@example.com>",
    '"Doe, Jane" <jane@example.com>',
    "  <bare@example.com>",
    "plain@example.com",
    "   padded@example.com   ",
    "",
    "   ",
    "Name <unterminated@example.com",
    "<>",
}
local MAILBOX = table.concat({
    "From alice@example.com Mon Jan  1 00:00:00 2024",
    "Subject: one",
    "From: Alice <alice@example.com>",
    "",
    "first body",
    "",
    "From bob@example.com Tue Jan  2 00:00:00 2024",
    "Subject: two",
    "Received: a",
    "Received: b",
    "",
    "second body",
    "From not a separator (no blank line before it)",
    "",
    "From carol@example.com Wed Jan  3 00:00:00 2024",
    "Subject: three",
    "",
    "",
}, "\n")

for i, m in ipairs(MESSAGES) do
    S.fn("split_message " .. i, mbox, "split_message", m)
    S.fn("split_headers " .. i, mbox, "split_headers", (mbox.split_message(m)))
    S.fn("parse_headers " .. i, mbox, "parse_headers", (mbox.split_message(m)))
    S.fn("parse_message " .. i, mbox, "parse_message", m)
end
for i, h in ipairs(HEADERS) do S.fn("parse_header " .. i, mbox, "parse_header", h) end
for i, f in ipairs(FROMS) do S.fn("parse_from " .. i, mbox, "parse_from", f) end
S.fn("split_mbox", mbox, "split_mbox", MAILBOX)
S.fn("split_mbox crlf", mbox, "split_mbox", (MAILBOX:gsub("\n", "\r\n")))
S.fn("split_mbox empty", mbox, "split_mbox", "")
S.fn("parse", mbox, "parse", MAILBOX)
S.fn("parse_header number", mbox, "parse_header", 42)
S.fn("split_message nil", mbox, "split_message")
S.done()
