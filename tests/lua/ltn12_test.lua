-- Tests for ltn12. Prints "ok" when every check passes. The checks come from
-- testsupport.lua beside this file: tests/lua must be on package.path
-- (`--dir tests/lua::/tests-lua` in the component, LUA_PATH="tests/lua/?.lua;;" natively).

local globals_before = {}
for k in pairs(_G) do globals_before[k] = true end

local ltn12 = require("ltn12")

local support = require("testsupport")
local eq, list_eq, raises = support.eq, support.list_eq, support.raises

-- Reads a source to its end: the list of chunks, and the error if it ended with one.
local function drain(src, limit)
    local chunks = {}
    for _ = 1, limit or 10000 do
        local chunk, err = src()
        if chunk == nil then return chunks, err end
        chunks[#chunks + 1] = chunk
    end
    error("source did not end")
end

------------------------------------------------------------------------------
-- filters for the tests (all well-behaved: "" in gives "" out once drained, and
-- after nil they flush what they hold and then return nil)
------------------------------------------------------------------------------

local function upper(chunk)
    return chunk and chunk:upper()
end

-- Brackets each chunk carrying data.
local function bracket(chunk)
    if chunk == nil or chunk == "" then return chunk end
    return "<" .. chunk .. ">"
end

-- Expands: hands out what it was given k bytes at a time, so it must be drained with "".
local function pieces(k)
    local buffer = ""
    return function(chunk)
        if chunk then buffer = buffer .. chunk end
        if chunk == nil and buffer == "" then return nil end
        local out = buffer:sub(1, k)
        buffer = buffer:sub(k + 1)
        return out
    end
end

-- Contracts: returns "" until it holds k bytes, then a block of k; flushes the rest at the end.
local function blocks(k)
    local buffer = ""
    return function(chunk)
        if chunk == nil then
            if buffer == "" then return nil end
            local out = buffer:sub(1, k)
            buffer = buffer:sub(k + 1)
            return out
        end
        buffer = buffer .. chunk
        if #buffer < k then return "" end
        local out = buffer:sub(1, k)
        buffer = buffer:sub(k + 1)
        return out
    end
end

-- Passes data through and adds `text` at the end of the stream.
local function trailer(text)
    local sent = false
    return function(chunk)
        if chunk ~= nil then return chunk end
        if sent then return nil end
        sent = true
        return text
    end
end

-- Wraps a filter to log each call as "name:arg".
local function traced(name, f, log)
    return function(chunk)
        log[#log + 1] = name .. ":" .. tostring(chunk)
        return f(chunk)
    end
end

local function clear(t)
    for i = #t, 1, -1 do t[i] = nil end
end

-- Feeds chunks to a filter following the protocol: after each chunk (and after nil),
-- drain with "" (or nil) until the filter says "" (or nil).
local function run_filter(f, chunks)
    local out = {}
    for _, chunk in ipairs(chunks) do
        local piece = f(chunk)
        while piece ~= "" do
            out[#out + 1] = piece
            piece = f("")
        end
    end
    local piece = f(nil)
    while piece ~= nil do
        if piece ~= "" then out[#out + 1] = piece end
        piece = f(nil)
    end
    return table.concat(out)
end

------------------------------------------------------------------------------
-- module shape
------------------------------------------------------------------------------
eq(type(ltn12), "table", "require returns the module")
eq(require("ltn12"), ltn12, "require is cached")
eq(ltn12._VERSION, "LTN12 1.0.3", "_VERSION")
eq(ltn12.BLOCKSIZE, 2048, "BLOCKSIZE")
local api = {
    filter = { "cycle", "chain" },
    pump = { "step", "all" },
    sink = { "chain", "error", "file", "null", "simplify", "table" },
    source = { "cat", "chain", "empty", "error", "file", "simplify", "string", "table", "rewind" },
}
for group, names in pairs(api) do
    eq(type(ltn12[group]), "table", "ltn12." .. group)
    for _, name in ipairs(names) do
        eq(type(ltn12[group][name]), "function", "ltn12." .. group .. "." .. name)
    end
end
for k in pairs(_G) do eq(globals_before[k], true, "no new global " .. tostring(k)) end

------------------------------------------------------------------------------
-- simple sources
------------------------------------------------------------------------------
do
    local src = ltn12.source.empty()
    eq(src(), nil, "empty source")
    eq(src(), nil, "empty source stays empty")

    local chunk, err = ltn12.source.error("boom")()
    eq(chunk, nil, "error source chunk")
    eq(err, "boom", "error source message")

    -- string: BLOCKSIZE chunks
    local text = string.rep("0123456789", 500) -- 5000 bytes
    local chunks = drain(ltn12.source.string(text))
    list_eq({ #chunks[1], #chunks[2], #chunks[3] }, { 2048, 2048, 904 }, "string source chunk sizes")
    eq(#chunks, 3, "string source chunk count")
    eq(table.concat(chunks), text, "string source content")
    eq(#drain(ltn12.source.string("")), 0, "string source of empty string")
    eq(#drain(ltn12.source.string(nil)), 0, "string source of nil")
    src = ltn12.source.string("abc")
    eq(src(), "abc", "short string source")
    eq(src(), nil, "short string source ends")
    eq(src(), nil, "short string source stays ended")
    chunks = drain(ltn12.source.string(string.rep("x", 4096)))
    eq(#chunks, 2, "exactly two blocks")

    -- table: one element per call; a hole reads as the end but the index moves on
    src = ltn12.source.table({ "a", "b", nil, "d" })
    eq(src(), "a", "table source 1")
    eq(src(), "b", "table source 2")
    eq(src(), nil, "table source hole")
    eq(src(), "d", "table source after the hole")
    eq(src(), nil, "table source end")
    list_eq(drain(ltn12.source.table({ "x", "", "y" })), { "x", "", "y" }, "table source with \"\"")
    eq(#drain(ltn12.source.table({})), 0, "table source of empty table")
    raises(ltn12.source.table, "assertion", "source.table(nil)", nil)
end

------------------------------------------------------------------------------
-- source.cat, source.simplify, source.rewind
------------------------------------------------------------------------------
do
    local src = ltn12.source.cat(ltn12.source.string("ab"), ltn12.source.empty(),
        ltn12.source.table({ "c", "d" }), ltn12.source.string("e"))
    list_eq(drain(src), { "ab", "c", "d", "e" }, "cat")
    eq(src(), nil, "cat stays ended")
    eq(#drain(ltn12.source.cat()), 0, "cat of nothing")

    src = ltn12.source.cat(ltn12.source.string("ab"), ltn12.source.error("bad"), ltn12.source.string("z"))
    local chunks, err = drain(src)
    list_eq(chunks, { "ab" }, "cat stops at an error")
    eq(err, "bad", "cat passes the error on")

    -- a fancy source returns a chunk and a replacement source
    local second = ltn12.source.table({ "2a", "2b" })
    local calls = 0
    local function fancy()
        calls = calls + 1
        return "1", second
    end
    src = ltn12.source.simplify(fancy)
    local chunk, extra = src()
    eq(chunk, "1", "simplify: first chunk")
    eq(extra, nil, "simplify: the replacement is not returned")
    list_eq(drain(src), { "2a", "2b" }, "simplify: continues with the replacement")
    eq(calls, 1, "simplify: the fancy source is left")
    chunk, extra = ltn12.source.simplify(ltn12.source.error("e"))()
    eq(chunk, nil, "simplify: error chunk")
    eq(extra, "e", "simplify: error message")
    list_eq(drain(ltn12.source.simplify(ltn12.source.string("plain"))), { "plain" }, "simplify: plain source")
    raises(ltn12.source.simplify, "assertion", "source.simplify(nil)", nil)

    -- rewind: chunks given back come out again, last first
    src = ltn12.source.rewind(ltn12.source.table({ "a", "b", "c" }))
    eq(src(), "a", "rewind: first")
    eq(src("a"), nil, "rewind: pushing returns nothing")
    eq(src(), "a", "rewind: the pushed chunk")
    eq(src(), "b", "rewind: then the source")
    src("x")
    src("y")
    eq(src(), "y", "rewind: last pushed first")
    eq(src(), "x", "rewind: then the earlier one")
    eq(src(), "c", "rewind: back to the source")
    eq(src(), nil, "rewind: end")
    src("late")
    eq(src(), "late", "rewind: push after the end")
    eq(src(), nil, "rewind: end again")
    chunk, err = ltn12.source.rewind(ltn12.source.error("oops"))()
    eq(err, "oops", "rewind passes errors on")
    raises(ltn12.source.rewind, "assertion", "source.rewind(nil)", nil)
end

------------------------------------------------------------------------------
-- filter.cycle and filter.chain
------------------------------------------------------------------------------
do
    -- a low-level filter: numbers the chunks, keeping the count as its context
    local seen = {}
    local function number(ctx, chunk, extra)
        seen[#seen + 1] = tostring(ctx) .. "/" .. tostring(chunk) .. "/" .. tostring(extra)
        if chunk == nil then return nil, ctx end
        return ctx .. extra .. chunk, ctx + 1
    end
    local f = ltn12.filter.cycle(number, 1, ":")
    eq(f("a"), "1:a", "cycle first chunk")
    eq(f("b"), "2:b", "cycle keeps the context")
    eq(f(nil), nil, "cycle end")
    list_eq(seen, { "1/a/:", "2/b/:", "3/nil/:" }, "cycle passes ctx, chunk and extra")

    -- two filters
    f = ltn12.filter.chain(upper, bracket)
    eq(f("ab"), "<AB>", "chain of two")
    eq(f(""), "", "chain of two, empty chunk")
    eq(f(nil), nil, "chain of two, end")

    -- one filter is allowed
    f = ltn12.filter.chain(upper)
    eq(f("x"), "X", "chain of one")

    -- three and more filters, expanding and contracting
    eq(run_filter(ltn12.filter.chain(upper, pieces(2), bracket), { "abcde", "", "fg" }),
        "<AB><CD><E><FG>", "chain of three with an expanding filter")
    eq(run_filter(ltn12.filter.chain(pieces(2), blocks(3), bracket, upper), { "abcde", "fg" }),
        "<ABC><DEF><G>", "chain of four, expanding then contracting")
    eq(run_filter(ltn12.filter.chain(blocks(4), pieces(3), trailer("!"), bracket), { "ab", "cdefghi", "j" }),
        "<abc><d><efg><h><ij><!>", "chain of four with a trailer")
    eq(run_filter(ltn12.filter.chain(trailer("1"), trailer("2"), trailer("3")), { "x" }),
        "x123", "every filter is flushed, in order")
    eq(run_filter(ltn12.filter.chain(upper, upper, upper, upper, upper), {}), "",
        "chain of five on no data")

    -- the exact order of calls: input goes down the chain; a filter that answers "" sends
    -- the chain back to the filter before it; at the end each filter gets nil in turn
    local log = {}
    f = ltn12.filter.chain(traced("p", pieces(2), log), traced("b", blocks(3), log),
        traced("u", upper, log))
    eq(f("abcde"), "ABC", "traced chain: first output")
    list_eq(log, { "p:abcde", "b:ab", "p:", "b:cd", "u:abc" }, "traced chain: calls for the first output")
    clear(log)
    eq(f(""), "", "traced chain: drained")
    list_eq(log, { "u:", "b:", "p:", "b:e", "p:" }, "traced chain: calls while draining")
    clear(log)
    eq(f(nil), "DE", "traced chain: flushed data")
    list_eq(log, { "p:nil", "b:nil", "u:de" }, "traced chain: calls while flushing")
    clear(log)
    eq(f(nil), nil, "traced chain: end")
    list_eq(log, { "u:", "b:nil", "u:nil" }, "traced chain: calls at the end")

    -- an expanding middle filter is asked for more with "", even after the end
    log = {}
    f = ltn12.filter.chain(traced("t", trailer("xyz"), log), traced("p", pieces(1), log),
        traced("k", bracket, log))
    eq(run_filter(f, { "ab" }), "<a><b><x><y><z>", "expanding middle filter output")
    list_eq(log, {
        "t:ab", "p:ab", "k:a", "k:", "p:", "k:b", "k:", "p:", "t:",
        "t:nil", "p:xyz", "k:x", "k:", "p:", "k:y", "k:", "p:", "k:z", "k:", "p:", "t:nil",
        "p:nil", "k:nil",
    }, "expanding middle filter calls")

    -- a filter may only return nil at the end of the stream
    f = ltn12.filter.chain(upper, function() return nil end)
    raises(f, "filter returned inappropriate nil", "chain: nil in the middle of the stream", "x")
end

------------------------------------------------------------------------------
-- source.chain
------------------------------------------------------------------------------
do
    local src = ltn12.source.chain(ltn12.source.string("hello"), upper)
    list_eq(drain(src), { "HELLO" }, "source.chain with one filter")
    raises(src, "source is empty!", "source.chain called after its end")

    -- several filters are chained
    src = ltn12.source.chain(ltn12.source.table({ "ab", "cde" }), upper, pieces(2), bracket)
    list_eq(drain(src), { "<AB>", "<CD>", "<E>" }, "source.chain with three filters")

    -- a filter that answers "" (wants more) and then returns data
    src = ltn12.source.chain(ltn12.source.table({ "a", "b", "c", "d", "e", "f", "g" }), blocks(3))
    list_eq(drain(src), { "abc", "def", "g" }, "source.chain with a buffering filter")

    -- a filter whose data all comes at the end
    local held = {}
    local function hold(chunk)
        if chunk then held[#held + 1] = chunk; return "" end
        if #held == 0 then return nil end
        return table.remove(held, 1)
    end
    src = ltn12.source.chain(ltn12.source.table({ "1", "2", "3" }), hold)
    list_eq(drain(src), { "1", "2", "3" }, "source.chain with output only at the end")

    -- one input chunk becoming many
    src = ltn12.source.chain(ltn12.source.string("abcdefg"), pieces(3))
    list_eq(drain(src), { "abc", "def", "g" }, "source.chain with an expanding filter")

    -- the exact calls: data, then "" until drained, then the next chunk; nil at the end
    local log = {}
    src = ltn12.source.chain(ltn12.source.table({ "abc", "d" }), traced("p", pieces(2), log))
    list_eq(drain(src), { "ab", "c", "d" }, "traced source.chain output")
    list_eq(log, { "p:abc", "p:", "p:", "p:d", "p:", "p:nil" }, "traced source.chain calls")

    -- errors from the source pass through
    src = ltn12.source.chain(ltn12.source.cat(ltn12.source.string("ok"), ltn12.source.error("src failed")), upper)
    local chunks, err = drain(src)
    list_eq(chunks, { "OK" }, "source.chain data before an error")
    eq(err, "src failed", "source.chain passes the error on")

    src = ltn12.source.chain(ltn12.source.string("x"), function() return nil end)
    raises(src, "filter returned inappropriate nil", "source.chain: nil in the middle")

    -- after the end, a filter must not answer "" to being drained with nil
    local state = 0
    src = ltn12.source.chain(ltn12.source.empty(), function(chunk)
        state = state + 1
        if state == 1 then return "last" end
        return ""
    end)
    eq(src(), "last", "source.chain: data at the end")
    raises(src, 'filter returned ""', "source.chain: \"\" while flushing")

    raises(ltn12.source.chain, "assertion", "source.chain without a filter", ltn12.source.empty(), nil)
end

------------------------------------------------------------------------------
-- sinks
------------------------------------------------------------------------------
do
    local snk, t = ltn12.sink.table()
    eq(type(t), "table", "sink.table makes a table")
    eq(snk("a"), 1, "sink.table returns 1")
    eq(snk(""), 1, "sink.table accepts \"\"")
    eq(snk(nil), 1, "sink.table accepts the end")
    eq(snk("b"), 1, "sink.table after the end")
    list_eq(t, { "a", "", "b" }, "sink.table contents")

    local mine = { "old" }
    local snk2, t2 = ltn12.sink.table(mine)
    eq(t2, mine, "sink.table uses the given table")
    snk2("new")
    list_eq(mine, { "old", "new" }, "sink.table appends")

    local null = ltn12.sink.null()
    eq(null("x"), 1, "null sink data")
    eq(null(nil), 1, "null sink end")
    eq(null(nil, "err"), 1, "null sink error")

    local ok, err = ltn12.sink.error("nope")("x")
    eq(ok, nil, "error sink result")
    eq(err, "nope", "error sink message")

    -- a fancy sink returns 1 and a replacement sink
    local got = {}
    local replacement = function(chunk) got[#got + 1] = "r:" .. tostring(chunk); return 1 end
    local function fancy(chunk)
        got[#got + 1] = "f:" .. tostring(chunk)
        return 1, replacement
    end
    snk = ltn12.sink.simplify(fancy)
    local r1, r2 = snk("a")
    eq(r1, 1, "sink.simplify returns 1")
    eq(r2, nil, "sink.simplify hides the replacement")
    snk("b")
    snk(nil)
    list_eq(got, { "f:a", "r:b", "r:nil" }, "sink.simplify switches to the replacement")
    r1, r2 = ltn12.sink.simplify(ltn12.sink.error("bad"))("x")
    eq(r1, nil, "sink.simplify error")
    eq(r2, "bad", "sink.simplify error message")
    raises(ltn12.sink.simplify, "assertion", "sink.simplify(nil)", nil)

    -- sink.chain: data filtered, the filter drained after each chunk, the end passed on
    local out
    snk, out = ltn12.sink.table()
    local chained = ltn12.sink.chain(pieces(2), snk)
    eq(chained("abcde"), 1, "sink.chain data")
    eq(chained(""), 1, "sink.chain empty chunk")
    eq(chained(nil), 1, "sink.chain end")
    list_eq(out, { "ab", "cd", "e", "", nil }, "sink.chain output, with the drained \"\"")

    -- the sink sees every piece, including the "" that drained the filter, and the end
    local log = {}
    local function logger(chunk, e)
        log[#log + 1] = tostring(chunk) .. "/" .. tostring(e)
        return 1
    end
    chained = ltn12.sink.chain(blocks(2), logger)
    chained("abc")
    chained(nil, "why")
    list_eq(log, { "ab/nil", "/nil", "c/why", "nil/why" }, "sink.chain calls on its sink")

    -- several filters are chained: sink.chain(f1, f2, ..., sink)
    snk, out = ltn12.sink.table()
    chained = ltn12.sink.chain(upper, pieces(2), bracket, snk)
    chained("abc")
    chained(nil)
    eq(table.concat(out), "<AB><C>", "sink.chain with three filters")

    -- "" does not reach the filter
    local calls = 0
    chained = ltn12.sink.chain(function(c) calls = calls + 1; return c end, ltn12.sink.null())
    eq(chained(""), 1, "sink.chain \"\" result")
    eq(calls, 0, "sink.chain does not pass \"\" to the filter")

    -- errors from the sink stop the chain
    ok, err = ltn12.sink.chain(upper, ltn12.sink.error("full"))("x")
    eq(ok, nil, "sink.chain error result")
    eq(err, "full", "sink.chain error message")
    raises(ltn12.sink.chain, "assertion", "sink.chain without a sink", upper, nil)
end

------------------------------------------------------------------------------
-- pumps
------------------------------------------------------------------------------
do
    local snk, t = ltn12.sink.table()
    local src = ltn12.source.table({ "a", "b" })
    eq(ltn12.pump.step(src, snk), 1, "step 1")
    eq(ltn12.pump.step(src, snk), 1, "step 2")
    local r1, r2 = ltn12.pump.step(src, snk)
    eq(r1, nil, "step at the end")
    eq(r2, nil, "step at the end has no error")
    list_eq(t, { "a", "b" }, "step moved the chunks")

    -- the sink sees the end of data and the source's error
    local seen = {}
    local function watcher(chunk, err)
        seen[#seen + 1] = tostring(chunk) .. "/" .. tostring(err)
        return 1
    end
    r1, r2 = ltn12.pump.step(ltn12.source.error("src"), watcher)
    eq(r1, nil, "step with a failing source")
    eq(r2, "src", "step returns the source's error")
    list_eq(seen, { "nil/src" }, "the sink is told about the source's error")

    r1, r2 = ltn12.pump.step(ltn12.source.string("x"), ltn12.sink.error("snk"))
    eq(r1, nil, "step with a failing sink")
    eq(r2, "snk", "step returns the sink's error")
    r1, r2 = ltn12.pump.step(ltn12.source.error("src"), ltn12.sink.error("snk"))
    eq(r2, "src", "the source's error wins over the sink's")

    -- pump.all
    snk, t = ltn12.sink.table()
    eq(ltn12.pump.all(ltn12.source.string("hello"), snk), 1, "all returns 1")
    eq(table.concat(t), "hello", "all moved everything")
    eq(ltn12.pump.all(ltn12.source.empty(), ltn12.sink.null()), 1, "all on an empty source")

    r1, r2 = ltn12.pump.all(ltn12.source.cat(ltn12.source.string("x"), ltn12.source.error("late")), ltn12.sink.null())
    eq(r1, nil, "all with a source error")
    eq(r2, "late", "all returns the source's error")
    r1, r2 = ltn12.pump.all(ltn12.source.string("x"), ltn12.sink.error("refused"))
    eq(r1, nil, "all with a sink error")
    eq(r2, "refused", "all returns the sink's error")

    -- a sink that fails after some data
    local taken = 0
    local function small(chunk)
        if chunk and taken >= 2 then return nil, "no room" end
        taken = taken + 1
        return 1
    end
    r1, r2 = ltn12.pump.all(ltn12.source.table({ "1", "2", "3", "4" }), small)
    eq(r2, "no room", "all stops at the failing chunk")
    eq(taken, 2, "all stopped after two chunks")

    -- a custom step function
    local steps = 0
    local function counting_step(s, k)
        steps = steps + 1
        return ltn12.pump.step(s, k)
    end
    eq(ltn12.pump.all(ltn12.source.table({ "a", "b", "c" }), ltn12.sink.null(), counting_step), 1,
        "all with a custom step")
    eq(steps, 4, "all calls step until the end")
    raises(ltn12.pump.all, "assertion", "pump.all without a sink", ltn12.source.empty(), nil)

    -- chunked pumping of a large body through chained filters on both sides
    local body = {}
    for i = 1, 3000 do body[i] = string.format("%05d", i) end
    body = table.concat(body) -- 15000 bytes
    local sizes = {}
    local out
    snk, out = ltn12.sink.table()
    local sized = ltn12.sink.chain(blocks(1000), function(chunk, err)
        if chunk and chunk ~= "" then sizes[#sizes + 1] = #chunk end
        return snk(chunk, err)
    end)
    src = ltn12.source.chain(ltn12.source.string(body), pieces(700), upper)
    eq(ltn12.pump.all(src, sized), 1, "big pump result")
    eq(table.concat(out), body, "big pump content")
    eq(#sizes, 15, "big pump block count")
    for i = 1, #sizes do eq(sizes[i], 1000, "big pump block " .. i) end

    -- the identity: everything through three filters and back
    local through = ltn12.filter.chain(pieces(7), blocks(5), pieces(3))
    snk, out = ltn12.sink.table()
    eq(ltn12.pump.all(ltn12.source.chain(ltn12.source.string(body), through), snk), 1,
        "identity chain pump")
    eq(table.concat(out), body, "identity chain content")
    -- every 5-byte block of the middle filter leaves the last one as 3 bytes and 2
    eq(#out, 6000, "identity chain piece count")
    local first_bad
    for i = #out, 1, -1 do
        if #out[i] ~= (i % 2 == 1 and 3 or 2) then first_bad = i end
    end
    eq(first_bad, nil, "identity chain: index of the first piece of a wrong size")
end

------------------------------------------------------------------------------
-- files
------------------------------------------------------------------------------

-- An in-memory stand-in for a file handle, counting reads and closes.
local function fake_file(content)
    local file = { data = content or "", pos = 1, closes = 0, written = {} }
    function file:read(n)
        assert(self.closes == 0, "read after close")
        if self.pos > #self.data then return nil end
        local chunk = self.data:sub(self.pos, self.pos + n - 1)
        self.pos = self.pos + n
        return chunk
    end
    function file:write(s)
        assert(self.closes == 0, "write after close")
        self.written[#self.written + 1] = s
        return self
    end
    function file:close()
        self.closes = self.closes + 1
        return true
    end
    return file
end

do
    local content = string.rep("abcdefghij", 450) -- 4500 bytes
    local file = fake_file(content)
    local src = ltn12.source.file(file)
    eq(#src(), 2048, "file source: first block")
    eq(#src(), 2048, "file source: second block")
    eq(#src(), 404, "file source: last block")
    eq(file.closes, 0, "file source: open until the end")
    eq(src(), nil, "file source: end")
    eq(file.closes, 1, "file source: closed at the end")

    local chunk, err = ltn12.source.file(nil, "no such file")()
    eq(chunk, nil, "file source without a handle")
    eq(err, "no such file", "file source error message")
    chunk, err = ltn12.source.file(nil)()
    eq(err, "unable to open file", "file source default message")

    file = fake_file()
    local snk = ltn12.sink.file(file)
    eq(snk("abc") ~= nil, true, "file sink write")
    snk("def")
    eq(file.closes, 0, "file sink: open until the end")
    eq(snk(nil), 1, "file sink end")
    eq(file.closes, 1, "file sink: closed at the end")
    list_eq(file.written, { "abc", "def" }, "file sink wrote")

    local ok
    ok, err = ltn12.sink.file(nil, "cannot write")("x")
    eq(ok, nil, "file sink without a handle")
    eq(err, "cannot write", "file sink error message")
    ok, err = ltn12.sink.file(nil)("x")
    eq(err, "unable to open file", "file sink default message")

    -- in-memory copy through pump.all
    local from, to = fake_file(content), fake_file()
    eq(ltn12.pump.all(ltn12.source.file(from), ltn12.sink.file(to)), 1, "fake file copy")
    eq(table.concat(to.written), content, "fake file copy content")
    eq(from.closes + to.closes, 2, "fake file copy closes both")
end

-- A real temporary file, where the platform has one.
local made, name = pcall(os.tmpname)
local probe = made and io.open(name, "wb")
if probe then
    probe:close()
    local content = {}
    for b = 0, 255 do content[#content + 1] = string.char(b) end
    content = string.rep(table.concat(content), 40) -- 10240 bytes, all byte values
    local out = assert(io.open(name, "wb"))
    eq(ltn12.pump.all(ltn12.source.string(content), ltn12.sink.file(out)), 1, "write temp file")
    eq(io.type(out), "closed file", "sink.file closed the temp file")

    local input = assert(io.open(name, "rb"))
    local chunks = drain(ltn12.source.file(input))
    eq(io.type(input), "closed file", "source.file closed the temp file")
    eq(#chunks, 5, "temp file block count")
    eq(table.concat(chunks), content, "temp file content")

    -- the io.open idiom: errors from opening come through as the transmission's error
    os.remove(name)
    local ok, err = ltn12.pump.all(ltn12.source.file(io.open(name, "rb")), ltn12.sink.null())
    eq(ok, nil, "source.file of a missing file")
    eq(type(err) == "string" and err:find(name, 1, true) ~= nil, true,
        "source.file reports io.open's message: " .. tostring(err))
else
    if made then os.remove(name) end
    io.stderr:write("ltn12_test: no temporary file available, real file tests skipped\n")
end

print("ok")
