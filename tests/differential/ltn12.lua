-- ltn12: every filter, source, sink and pump, on well-behaved and failing inputs, and
-- chunkings that stress the filters' contracts ("" to drain, nil to flush).
local S = require "support"
local ltn12 = require "ltn12"

-- Reads a source to its end (at most 100 chunks): the chunks, and the error if any.
local function drain(src)
    local chunks = {}
    for _ = 1, 100 do
        local ok, chunk, err = pcall(src)
        if not ok then return chunks, "raised: " .. S.error_text(chunk) end
        if chunk == nil then return chunks, err end
        chunks[#chunks + 1] = chunk
    end
    return chunks, "still going after 100 chunks"
end

local function show_source(label, src)
    S.show(label, drain(src))
end

local function upper(chunk) return chunk and chunk:upper() end

-- A low-level filter (ctx, chunk, extra) that keeps the last byte of each chunk for
-- the next one, as the mime filters keep partial input, and appends extra at the end
-- (then answers nil: its context is false once flushed).
local function carry(ctx, chunk, extra)
    if ctx == false then return nil, false end
    ctx = ctx or ""
    if chunk == nil then return ctx .. (extra or ""), false end
    local all = ctx .. chunk
    return all:sub(1, -2), all:sub(-1)
end

local function shape()
    local keys = {}
    for k, v in pairs(ltn12) do keys[#keys + 1] = k .. "=" .. type(v) end
    table.sort(keys)
    S.show("ltn12 keys", keys)
    S.show("_VERSION", ltn12._VERSION)
    S.show("BLOCKSIZE", ltn12.BLOCKSIZE)
    for _, part in ipairs { "filter", "source", "sink", "pump" } do
        local names = {}
        for k in pairs(ltn12[part]) do names[#names + 1] = k end
        table.sort(names)
        S.show(part .. " functions", names)
    end
end

local function filters()
    local cycled = ltn12.filter.cycle(carry, nil, "!")
    S.show("cycle chunks", cycled("abc"), cycled(""), cycled("de"), cycled(nil), cycled(nil))
    local chained = ltn12.filter.chain(upper, ltn12.filter.cycle(carry, nil, "?"))
    S.show("chain chunks", chained("ab"), chained("cd"), chained(""), chained(nil))
    show_source("chain in a source",
        ltn12.source.chain(ltn12.source.string("hello world"), ltn12.filter.chain(upper, upper)))
    S.call("chain of nothing", function() return ltn12.filter.chain()("x") end)
    S.call("chain of one", function() return ltn12.filter.chain(upper)("x") end)
end

local function sources()
    show_source("empty", ltn12.source.empty())
    show_source("error", ltn12.source.error("broken"))
    show_source("string", ltn12.source.string("abc"))
    show_source("string empty", ltn12.source.string(""))
    show_source("string nil", ltn12.source.string(nil))
    local long = string.rep("0123456789", 500)
    local chunks = drain(ltn12.source.string(long))
    S.show("string in blocks", #chunks, #chunks[1], table.concat(chunks) == long)
    show_source("table", ltn12.source.table { "a", "b", "c" })
    show_source("table empty", ltn12.source.table {})
    S.call("table nil", function() return drain(ltn12.source.table(nil)) end)
    show_source("cat", ltn12.source.cat(ltn12.source.string("ab"), ltn12.source.empty(),
        ltn12.source.string("cd")))
    show_source("cat with error", ltn12.source.cat(ltn12.source.string("ab"),
        ltn12.source.error("mid")))
    local rewound = ltn12.source.rewind(ltn12.source.string("xyz"))
    local first = rewound()
    rewound(first)
    rewound("pushed")
    show_source("rewind", rewound)
    local step = 0
    local fancy = function()
        step = step + 1
        if step == 1 then return "x" end
        if step == 2 then return "", ltn12.source.string("replaced") end
        return nil
    end
    S.call("simplify", function() return drain(ltn12.source.simplify(fancy)) end)
    show_source("chain with cycle", ltn12.source.chain(ltn12.source.table { "ab", "cd", "e" },
        ltn12.filter.cycle(carry, nil, "#")))
    S.call("chain with two filters", function()
        return drain(ltn12.source.chain(ltn12.source.string("ab"), upper, upper))
    end)
end

local function files()
    local path = S.args.scratch .. "/ltn12-file.txt"
    local out = assert(io.open(path, "wb"))
    S.show("sink file", ltn12.pump.all(ltn12.source.string(string.rep("line\n", 1000)),
        ltn12.sink.file(out)))
    S.show("file closed by the sink", io.type(out))
    local src = ltn12.source.file(assert(io.open(path, "rb")))
    local chunks = drain(src)
    S.show("source file", #chunks, #table.concat(chunks))
    show_source("source file nil", ltn12.source.file(nil))
    show_source("source file nil with message", ltn12.source.file(nil, "cannot open"))
    S.show("sink file nil", ltn12.sink.file(nil, "no file")("x"))
    os.remove(path)
end

local function sinks()
    local t = {}
    local snk = ltn12.sink.table(t)
    S.show("table sink", snk("a"), snk(""), snk("b"), snk(nil), t)
    local got = {}
    local kept = ltn12.sink.table()
    S.show("table sink without table", kept("x"))
    S.show("null", ltn12.sink.null()("x"), ltn12.sink.null()(nil))
    S.show("error sink", ltn12.sink.error("nope")("x"))
    -- sink.table returns the table too: kept out of chain's varargs.
    local chained = ltn12.sink.chain(upper, (ltn12.sink.table(got)))
    S.call("chain sink", function() return chained("ab"), chained("cd"), chained(nil), got end)
    local got2 = {}
    local cyc = ltn12.sink.chain(ltn12.filter.cycle(carry, nil, "$"), (ltn12.sink.table(got2)))
    S.call("chain sink with cycle", function() return cyc("ab"), cyc("cd"), cyc(nil), got2 end)
    local got3 = {}
    local two = ltn12.sink.chain(upper, upper, (ltn12.sink.table(got3)))
    S.call("chain sink with two filters", function() return two("ab"), two(nil), got3 end)
    local simple_got = {}
    local switching = function(chunk)
        simple_got[#simple_got + 1] = chunk or "<nil>"
        return 1, function(c) simple_got[#simple_got + 1] = "new:" .. tostring(c); return 1 end
    end
    local simple = ltn12.sink.simplify(switching)
    S.show("simplify sink", simple("a"), simple("b"), simple(nil), simple_got)
end

local function pumps()
    local t = {}
    S.show("pump all", ltn12.pump.all(ltn12.source.string("data"), (ltn12.sink.table(t))), t)
    local t2 = {}
    local src, snk = ltn12.source.table { "1", "2" }, (ltn12.sink.table(t2))
    S.show("pump step", ltn12.pump.step(src, snk), ltn12.pump.step(src, snk),
        ltn12.pump.step(src, snk), t2)
    S.show("pump source error", ltn12.pump.all(ltn12.source.error("src broke"), ltn12.sink.null()))
    S.show("pump sink error", ltn12.pump.all(ltn12.source.string("x"), ltn12.sink.error("sink broke")))
    local steps = 0
    local counting = function(s, k)
        steps = steps + 1
        return ltn12.pump.step(s, k)
    end
    S.show("pump custom step", ltn12.pump.all(ltn12.source.table { "a", "b" }, ltn12.sink.null(), counting), steps)
end

shape()
filters()
sources()
files()
sinks()
pumps()
S.done()
