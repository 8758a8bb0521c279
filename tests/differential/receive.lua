-- TCP client I/O against the native peers: every receive pattern, prefixes and
-- maxsize, the pattern errors, timeouts (block and total), a closing, a resetting and a
-- half-closing peer, send ranges and errors, dirty and getstats.
local S = require "support"
local socket = require "socket"

-- A client of the greeter peer, which acts on the command sent first.
local function greeter(command)
    local c = assert(socket.connect("127.0.0.1", S.args.greeter))
    c:settimeout(5)
    assert(c:send(command .. "\n"))
    return c
end

local function echo()
    local c = assert(socket.connect("127.0.0.1", S.args.echo))
    c:settimeout(5)
    return c
end

local function value_count()
    local c = greeter("lines")
    S.show("receive value count", select("#", c:receive()))
    S.show("send value count", select("#", c:send("x")))
    c:close()
end

local function lines()
    local c = greeter("lines")
    for i = 1, 7 do S.io("line " .. i, c, "receive") end
    c:close()
    c = greeter("lines")
    S.io("*line", c, "receive", "*line")
    S.io("*l with prefix", c, "receive", "*l", "pre-")
    S.io("*L", c, "receive", "*L")
    c:close()
end

local function all()
    local c = greeter("lines")
    S.io("*a", c, "receive", "*a")
    S.io("*a after close", c, "receive", "*a")
    S.io("*l after close", c, "receive")
    S.io("3 after close", c, "receive", 3)
    c:close()
    c = greeter("bytes 0")
    S.io("*a of nothing", c, "receive", "*a")
    c:close()
    c = greeter("lines")
    S.io("*all with prefix", c, "receive", "*all", "pre-")
    c:close()
    c = greeter("bytes 100000")
    S.io("*a 100000 bytes", c, "receive", "*a")
    c:close()
end

local function counts()
    local c = greeter("bytes 30")
    S.io("receive 3", c, "receive", 3)
    S.io("receive 3.7", c, "receive", 3.7)
    S.io("receive 0", c, "receive", 0)
    S.show("dirty after receive 0", c:dirty())
    S.io("receive 0.5", c, "receive", 0.5)
    S.io("receive 5 prefix ab", c, "receive", 5, "ab")
    S.io("receive 2 prefix abc", c, "receive", 2, "abc")
    S.io("receive '4'", c, "receive", "4")
    S.io("receive 100", c, "receive", 100)
    S.io("receive 0 at close", c, "receive", 0)
    c:close()
    c = greeter("bytes 100000")
    S.io("receive 100000", c, "receive", 100000)
    S.io("receive 1 at close", c, "receive", 1)
    c:close()
end

local function bad_patterns()
    local c = greeter("lines")
    for _, p in ipairs { "l", "a", "*x", "*", "", -1, 0 / 0, {}, true, "**l" } do
        S.io("pattern " .. S.format(p), c, "receive", p)
    end
    S.io("prefix table", c, "receive", "*l", {})
    S.io("prefix number", c, "receive", "*l", 12)
    S.io("after bad patterns", c, "receive")
    c:close()
end

-- maxsize is upstream's newest argument; Debian's 3.1.0 ignores it.
local function maxsize()
    local c = greeter("lines")
    S.io("maxsize *l 2", c, "receive", "*l", nil, 2)
    S.io("maxsize after", c, "receive")
    S.io("maxsize *a 5", c, "receive", "*a", nil, 5)
    S.io("maxsize 0", c, "receive", "*l", nil, 0)
    S.io("maxsize prefix too long", c, "receive", "*l", "abc", 3)
    S.io("maxsize count above", c, "receive", 10, nil, 5)
    c:close()
end

local function timeouts()
    local c = greeter("hold partial")
    c:settimeout(0.2)
    S.timed("timeout *l", 0.15, 3, function() return c:receive() end)
    S.timed("timeout 10 with prefix", 0.15, 3, function() return c:receive(10, "pre") end)
    c:settimeout(0)
    S.io("timeout 0 *a", c, "receive", "*a")
    c:close()
    c = greeter("drip 60 abcdefghijklmnopqrst")
    c:settimeout(0.5)
    c:settimeout(0.3, "t")
    S.show("gettimeout block and total", c:gettimeout())
    local start = socket.gettime()
    local data, err, partial = c:receive("*a")
    S.show("total timeout", data, err, type(partial), #partial > 0 and #partial < 20)
    S.took("total timeout took", socket.gettime() - start, 0.25, 3)
    c:close()
end

local function reset_and_half()
    local c = greeter("reset abc")
    S.io("before reset", c, "receive", 3)
    S.io("after reset", c, "receive")
    S.io("send after reset", c, "send", "x")
    c:close()
    c = greeter("half bye")
    S.io("half-closed *a", c, "receive", "*a")
    S.io("send to half-closed", c, "send", "still here")
    c:close()
end

local function sends()
    local c = echo()
    local data = "hello"
    local cases = {
        { "send", data }, { "send i=2", data, 2 }, { "send 2..3", data, 2, 3 },
        { "send i=-2", data, -2 }, { "send i=0", data, 0 }, { "send i=10", data, 10 },
        { "send 3..1", data, 3, 1 }, { "send j=-2", data, 1, -2 }, { "send j=100", data, 1, 100 },
        { "send number", 123 }, { "send empty", "" }, { "send i=2.5", data, 2.5 },
    }
    for _, case in ipairs(cases) do
        S.io(case[1], c, "send", table.unpack(case, 2))
    end
    S.io("send nil", c, "send", nil)
    S.io("send table", c, "send", {})
    S.io("send bad i", c, "send", data, "x")
    c:send("\n")
    S.io("echoed", c, "receive")
    S.show("dirty before shutdown", c:dirty())
    S.method("shutdown send", c, "shutdown", "send")
    S.io("send after shutdown", c, "send", "x")
    S.io("receive after shutdown send", c, "receive", "*a")
    c:close()
    S.io("send when closed", c, "send", "x")
    S.io("receive when closed", c, "receive")
end

local function buffering()
    local c = greeter("hold a\\nbc")
    S.io("first line", c, "receive")
    S.show("dirty with bc buffered", c:dirty())
    S.io("buffered bytes", c, "receive", 2)
    S.show("dirty when drained", c:dirty())
    local r, s = c:getstats()
    S.show("stats received and sent", r, s)
    c:close()
    c = greeter("count")
    local payload = string.rep("x", 50000)
    S.io("send 50000", c, "send", payload)
    c:shutdown("send")
    S.io("peer counted", c, "receive")
    c:close()
end

value_count()
lines()
all()
counts()
bad_patterns()
maxsize()
timeouts()
reset_and_half()
sends()
buffering()
S.done()
