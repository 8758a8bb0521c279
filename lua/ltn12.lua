-- ltn12: filters, sources, sinks and pumps (LTN012), with the semantics of LuaSocket 3.1.
--
-- Vocabulary (see LTN012):
--   source()            -> chunk | nil (end of data) | nil, err
--   sink(chunk, err)    -> truthy | nil, err; sink(nil) signals the end of data
--   filter(chunk)       -> chunk; filter(nil) flushes what the filter still holds. After a
--                          filter returns data, callers ask for more with filter("") until
--                          it answers "" (that is how one input chunk may expand into many).
local _M = {
    _VERSION = "LTN12 1.0.3",
    BLOCKSIZE = 2048, -- size of the chunks source.string and source.file produce
}

local filter, source, sink, pump = {}, {}, {}, {}
_M.filter, _M.source, _M.sink, _M.pump = filter, source, sink, pump

local select, assert, error = select, assert, error
local tremove, tinsert, unpack = table.remove, table.insert, table.unpack

-------------------------------------------------------------------------------
-- Filters
-------------------------------------------------------------------------------

-- Turns a low-level filter low(ctx, chunk, extra) -> out, newctx into a simple filter by
-- keeping the context between calls.
function filter.cycle(low, ctx, extra)
    assert(low)
    return function(chunk)
        local out
        out, ctx = low(ctx, chunk, extra)
        return out
    end
end

-- Chains any number of simple filters. Data enters the first filter and leaves the last.
-- When a filter returns "", the one before it is asked for more (with "" while the stream
-- is open, with nil once it has ended), so filters that expand data are drained completely
-- before new input is accepted. At the end of the stream each filter is flushed in order:
-- only after filter k returns nil does filter k+1 receive its nil.
function filter.chain(...)
    local filters = { ... }
    local n = select("#", ...)
    local first = 1    -- first filter not yet flushed out (those before it returned nil)
    local current = 1  -- the filter that is called next
    local more = ""    -- what `first` is asked with for more data: "" or, after the end, nil
    return function(chunk)
        if chunk == nil then more = nil end
        while true do
            if current == first then
                chunk = filters[current](chunk)
                if chunk == "" or current == n then return chunk end
                if chunk ~= nil then
                    current = current + 1
                else
                    -- this filter is done: the next one now receives the end of data
                    first = first + 1
                    current = first
                end
            else
                chunk = filters[current](chunk or "")
                if chunk == "" then
                    -- this filter needs input: go back one filter and ask it for more
                    current = current - 1
                    chunk = more
                elseif chunk == nil then
                    error("filter returned inappropriate nil")
                elseif current == n then
                    return chunk
                else
                    current = current + 1
                end
            end
        end
    end
end

-------------------------------------------------------------------------------
-- Sources
-------------------------------------------------------------------------------

local function empty()
    return nil
end

function source.empty()
    return empty
end

function source.error(err)
    return function()
        return nil, err
    end
end

-- Reads the file in BLOCKSIZE chunks and closes it at the end. The argument order fits
-- io.open's results, so source.file(io.open(name)) reports why opening failed.
function source.file(handle, io_err)
    if not handle then return source.error(io_err or "unable to open file") end
    return function()
        local chunk = handle:read(_M.BLOCKSIZE)
        if not chunk then handle:close() end
        return chunk
    end
end

-- A fancy source may return, with its chunk, a new source to be used from then on.
function source.simplify(src)
    assert(src)
    return function()
        local chunk, err_or_new = src()
        src = err_or_new or src
        if not chunk then return nil, err_or_new end
        return chunk
    end
end

function source.string(s)
    if not s then return source.empty() end
    local pos = 1
    return function()
        local chunk = s:sub(pos, pos + _M.BLOCKSIZE - 1)
        pos = pos + _M.BLOCKSIZE
        if chunk == "" then return nil end
        return chunk
    end
end

-- Returns t[1], t[2], ... one per call; a nil element reads as the end of data, but the
-- index keeps advancing, so later calls continue past a hole.
function source.table(t)
    assert(t)
    local i = 0
    return function()
        i = i + 1
        return t[i]
    end
end

-- A source that can be given chunks back: rewound(chunk) pushes chunk, and later calls
-- return pushed chunks (last pushed first) before reading from src again.
function source.rewind(src)
    assert(src)
    local pushed = {}
    return function(chunk)
        if chunk == nil then
            chunk = tremove(pushed)
            if chunk == nil then return src() end
            return chunk
        end
        tinsert(pushed, chunk)
    end
end

-- Passes the data of src through a filter (several filters are chained). After a chunk of
-- output, the filter is drained with "" (or nil after the end) before src is read again.
-- Once it has returned the end of data, calling the source again is an error.
function source.chain(src, f, ...)
    if ... then f = filter.chain(f, ...) end
    assert(src and f)
    local input, output = "", ""
    local draining = false
    return function()
        if output == nil then error("source is empty!", 2) end
        while true do
            if not draining then
                local err
                input, err = src()
                if err then return nil, err end
                output = f(input)
                if output == nil then
                    if input ~= nil then error("filter returned inappropriate nil") end
                    return nil
                elseif output ~= "" then
                    draining = true
                    if input ~= nil then input = "" end
                    return output
                end
                -- "" means the filter wants more input: read again
            else
                output = f(input)
                if output == "" then
                    if input ~= "" then error('filter returned ""') end
                    draining = false
                elseif output == nil then
                    if input ~= nil then error("filter returned inappropriate nil") end
                    return nil
                else
                    return output
                end
            end
        end
    end
end

-- Returns the data of each source in turn; an error from any of them stops everything.
function source.cat(...)
    local sources = { ... }
    local src = tremove(sources, 1)
    return function()
        while src do
            local chunk, err = src()
            if chunk then return chunk end
            if err then return nil, err end
            src = tremove(sources, 1)
        end
    end
end

-------------------------------------------------------------------------------
-- Sinks
-------------------------------------------------------------------------------

-- Collects chunks in t (a new table if nil); returns the sink and the table, so the caller
-- can table.concat(t) at the end.
function sink.table(t)
    t = t or {}
    local function collect(chunk)
        if chunk then tinsert(t, chunk) end
        return 1
    end
    return collect, t
end

-- A fancy sink may return, as its second value, a new sink to be used from then on.
function sink.simplify(snk)
    assert(snk)
    return function(chunk, err)
        local ok, err_or_new = snk(chunk, err)
        if not ok then return nil, err_or_new end
        snk = err_or_new or snk
        return 1
    end
end

-- Writes chunks to the file and closes it at the end of data. The argument order fits
-- io.open's results, so sink.file(io.open(name, "wb")) reports why opening failed.
function sink.file(handle, io_err)
    if not handle then return sink.error(io_err or "unable to open file") end
    return function(chunk)
        if chunk == nil then
            handle:close()
            return 1
        end
        return handle:write(chunk)
    end
end

local function null()
    return 1
end

function sink.null()
    return null
end

function sink.error(err)
    return function()
        return nil, err
    end
end

-- Passes data through a filter (several filters are chained: sink.chain(f1, f2, ..., snk))
-- before handing it to snk, draining the filter after each chunk.
function sink.chain(f, snk, ...)
    if ... then
        local args = { f, snk, ... }
        snk = tremove(args)
        f = filter.chain(unpack(args))
    end
    assert(f and snk)
    return function(chunk, err)
        -- "" carries no data; passing it on would make the filter look drained
        if chunk == "" then return 1 end
        local filtered = f(chunk)
        -- the filter is drained when it answers "" (or, after the end, nil)
        local done = chunk and ""
        while true do
            local ok, snk_err = snk(filtered, err)
            if not ok then return nil, snk_err end
            if filtered == done then return 1 end
            filtered = f(done)
        end
    end
end

-------------------------------------------------------------------------------
-- Pumps
-------------------------------------------------------------------------------

-- Moves one chunk. Returns 1 while there is more to move, nil at the end of data, and
-- nil, err on an error from either end (the source's error wins).
function pump.step(src, snk)
    local chunk, src_err = src()
    local ok, snk_err = snk(chunk, src_err)
    if chunk and ok then return 1 end
    return nil, src_err or snk_err
end

-- Moves everything: 1 on success, nil, err on error. `step` defaults to pump.step.
function pump.all(src, snk, step)
    assert(src and snk)
    step = step or pump.step
    while true do
        local ok, err = step(src, snk)
        if not ok then
            if err then return nil, err end
            return 1
        end
    end
end

return _M
