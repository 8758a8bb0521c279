-- Debian's lua-redis (redis.lua, a pure-Lua client written for native LuaSocket), run
-- unmodified inside the component against a real redis-server. Prints "ok" when every
-- check passes; the number of checks goes to stderr.
--
--   luasocket-wasi run --allow-net=127.0.0.1 --timeout 60 \
--       --dir target/test-deps/lua-redis/usr/share/lua/5.1::/lib \
--       --dir tests/lua::/tests-lua tests/lua/redis_test.lua REDIS_PORT CLOSED_PORT
--
-- REDIS_PORT: a redis-server on 127.0.0.1 whose database 0 may be wiped (the test
-- flushes it). CLOSED_PORT: a loopback port nobody listens on. When the test is done it
-- leaves the key "written-by-lua" behind, so the caller can check from outside that the
-- script really talked to that server.
-- (scripts/bootstrap.sh test extracts redis.lua from the .deb into target/test-deps.)

local redis = require("redis")
local socket = require("socket")

local port = assert(tonumber(arg[1]), "usage: redis_test.lua REDIS_PORT CLOSED_PORT")
local closed_port = assert(tonumber(arg[2]), "usage: redis_test.lua REDIS_PORT CLOSED_PORT")
local HOST = "127.0.0.1"
-- Every read and write of a client waits at most this long (redis.lua passes it to
-- settimeout(t, "t")), so a missing reply fails the test instead of hanging it.
local LIMIT = 10

local support = require("testsupport")
local show, eq, yes, list_eq, raises = support.show, support.eq, support.yes, support.list_eq,
    support.raises

local function connect()
    return redis.connect({ host = HOST, port = port, timeout = LIMIT })
end

-- Connecting: the table form, the (host, port) form and the URL form (which goes
-- through socket.url).
local client = connect()
eq(client:ping(), true, "ping")
eq(client:flushdb(), true, "flushdb")
local by_args = redis.connect(HOST, port, LIMIT)
eq(by_args:ping(), true, "ping on a (host, port, timeout) connection")
local by_url = redis.connect("redis://" .. HOST .. ":" .. port .. "/?timeout=" .. LIMIT)
eq(by_url:ping(), true, "ping on a URL connection")
-- CONFIG GET port proves these are the server we were pointed at.
eq(client:config("get", "port").port, tostring(port), "the server's own port")
eq(by_url:echo("hello"), "hello", "echo")

-- Strings and counters.
eq(client:set("greeting", "hello"), true, "set")
eq(client:get("greeting"), "hello", "get")
eq(client:get("no-such-key"), nil, "get of a missing key")
eq(client:exists("greeting"), true, "exists")
eq(client:type("greeting"), "string", "type")
eq(client:append("greeting", " world"), 11, "append returns the new length")
eq(client:strlen("greeting"), 11, "strlen")
eq(client:getrange("greeting", 6, -1), "world", "getrange")
eq(client:setnx("greeting", "other"), false, "setnx on an existing key")
eq(client:incr("counter"), 1, "incr of a missing key")
eq(client:incrby("counter", 41), 42, "incrby")
eq(client:decr("counter"), 41, "decr")
eq(client:incrbyfloat("float", 1.5), 1.5, "incrbyfloat")
eq(client:mset({ k1 = "v1", k2 = "v2" }), true, "mset from a table")
list_eq(client:mget("k1", "k2", "k3"), { "v1", "v2" }, "mget (k3 is missing: nil)")
eq(client:del("k1", "k2", "k3"), 2, "del counts what existed")
eq(by_args:get("counter"), "41", "another connection sees the counter")

-- A binary value bigger than one socket read, with every byte value and CR LF inside:
-- RESP bulk strings are length-prefixed, so redis.lua reads them with receive(n).
local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local blob = string.rep(table.concat(bytes) .. "\r\n", 1024) -- 258 KiB
eq(client:set("blob", blob), true, "set of a 258 KiB binary value")
local back = client:get("blob")
eq(#back, #blob, "the binary value's length")
yes(back == blob, "the binary value comes back byte for byte")
eq(client:strlen("blob"), #blob, "strlen of the binary value")

-- Lists.
eq(client:rpush("list", "b", "c"), 2, "rpush")
eq(client:lpush("list", "a"), 3, "lpush")
eq(client:llen("list"), 3, "llen")
list_eq(client:lrange("list", 0, -1), { "a", "b", "c" }, "lrange")
eq(client:lindex("list", 1), "b", "lindex")
eq(client:lpop("list"), "a", "lpop")
eq(client:rpop("list"), "c", "rpop")
list_eq(client:lrange("list", 0, -1), { "b" }, "lrange after the pops")
list_eq(client:lrange("empty-list", 0, -1), {}, "lrange of a missing list")

-- Hashes.
eq(client:hset("user:1", "name", "ana"), true, "hset of a new field")
eq(client:hmset("user:1", { city = "lisbon", visits = "1" }), true, "hmset from a table")
eq(client:hget("user:1", "name"), "ana", "hget")
eq(client:hincrby("user:1", "visits", 2), 3, "hincrby")
eq(client:hexists("user:1", "city"), true, "hexists")
eq(client:hlen("user:1"), 3, "hlen")
local user = client:hgetall("user:1")
eq(user.name, "ana", "hgetall name")
eq(user.city, "lisbon", "hgetall city")
eq(user.visits, "3", "hgetall visits")
eq(client:hdel("user:1", "city"), 1, "hdel")
eq(client:hget("user:1", "city"), nil, "hget of a deleted field")

-- Sets and sorted sets.
eq(client:sadd("set", "x", "y", "x"), 2, "sadd counts new members")
eq(client:sismember("set", "y"), true, "sismember")
eq(client:scard("set"), 2, "scard")
eq(client:zadd("scores", 10, "ten", 1, "one", 5, "five"), 3, "zadd")
list_eq(client:zrange("scores", 0, -1), { "one", "five", "ten" }, "zrange")
local with_scores = client:zrange("scores", 0, 0, { withscores = true })
eq(with_scores[1][1], "one", "zrange withscores: member")
eq(with_scores[1][2], "1", "zrange withscores: score")
eq(client:zscore("scores", "five"), "5", "zscore")

-- Expiry: one key with a long TTL, one that really expires while we wait.
eq(client:set("short", "lived"), true, "set before expire")
eq(client:expire("short", 100), true, "expire")
local ttl = client:ttl("short")
yes(ttl > 90 and ttl <= 100, "ttl after expire: " .. show(ttl))
eq(client:persist("short"), true, "persist")
eq(client:ttl("short"), -1, "ttl after persist")
eq(client:set("gone", "soon"), true, "set before pexpire")
eq(client:pexpire("gone", 100), true, "pexpire 100 ms")
local expired = false
for _ = 1, 50 do -- at most 5 s
    socket.sleep(0.1)
    if not client:exists("gone") then expired = true break end
end
yes(expired, "a key with a 100 ms expiry is gone within 5 s")

-- A Lua script run by the server, and a MULTI/EXEC transaction (redis.lua drives the
-- transaction block as a coroutine, so the socket calls happen inside one).
eq(client:eval("return redis.call('incrby', KEYS[1], ARGV[1])", 1, "counter", 9), 50, "eval")
local replies, queued = client:transaction(function(t)
    t:set("tx:a", "1")
    t:incr("tx:a")
    t:get("tx:a")
end)
eq(queued, 3, "transaction: commands queued")
eq(replies[1], true, "transaction: set")
eq(replies[2], 2, "transaction: incr")
eq(replies[3], "2", "transaction: get")

-- Pipelining: every command goes out in one send, then the replies are read in order.
-- redis.lua records each command's reply parser with table.insert(parsers, #requests,
-- parser), which Lua 5.2 and later refuse once a command without a parser leaves a hole
-- ("position out of bounds"). Native Lua 5.4 with LuaSocket fails the same way, so it is
-- the library's age, not the sandbox: the pipelines here use commands that all have a
-- parser, and the failure itself is checked below.
local piped, count = client:pipeline(function(p)
    p:ping()
    p:hset("pipe:h", "f", "v")
    p:hexists("pipe:h", "f")
    p:hgetall("pipe:h")
    p:incrbyfloat("pipe:float", 2.5)
    p:exists("pipe:h")
    p:expire("pipe:h", 100)
end)
eq(count, 7, "pipeline: number of commands")
eq(piped[1], true, "pipeline: ping")
eq(piped[2], true, "pipeline: hset")
eq(piped[3], true, "pipeline: hexists")
eq(piped[4].f, "v", "pipeline: hgetall")
eq(piped[5], 2.5, "pipeline: incrbyfloat")
eq(piped[6], true, "pipeline: exists")
eq(piped[7], true, "pipeline: expire")
-- A thousand commands in one pipeline: a single large send, a thousand replies.
local many, n = client:pipeline(function(p)
    for i = 1, 1000 do p:hset("pipe:big", "field" .. i, i) end
end)
eq(n, 1000, "big pipeline: number of commands")
eq(#many, 1000, "big pipeline: number of replies")
local all_new = true
for i = 1, 1000 do all_new = all_new and many[i] == true end
yes(all_new, "big pipeline: every hset created its field")
eq(client:hlen("pipe:big"), 1000, "big pipeline: the hash has every field")
eq(client:hget("pipe:big", "field777"), "777", "big pipeline: a field's value")
-- An error raised inside the pipeline block sends nothing; the client stays usable.
raises(client.pipeline, "stop here", "an error inside a pipeline block", client, function(p)
    p:set("never", "sent")
    error("stop here")
end)
eq(client:exists("never"), false, "nothing from the failed pipeline was sent")
-- Two commands without parsers: the Lua 5.4 table.insert failure described above.
raises(client.pipeline, "bad argument #2 to 'table_insert' (position out of bounds)",
    "a pipeline of two parser-less commands (redis.lua on Lua >= 5.2)",
    client, function(p)
        p:set("never", "sent")
        p:get("never")
    end)
eq(client:exists("never"), false, "nothing from that pipeline was sent either")

-- Publish/subscribe with two connections in this one script: the subscriber reads
-- through redis.lua's pubsub iterator (a coroutine), the publisher is a plain client.
-- Every read is bounded by LIMIT, and every loop by a count.
local subscriber, publisher = connect(), connect()
local messages = subscriber:pubsub({ subscribe = { "news", "sport" }, psubscribe = "chat.*" })

-- The subscriber socket, for socket.select: the library keeps it in client.network.
local sub_socket = subscriber.network.socket

-- The three confirmations arrive first, in the order the subscriptions were sent.
local confirmations = {}
for i = 1, 3 do
    local message = messages()
    confirmations[i] = message.kind .. " " .. message.channel .. " " .. tostring(message.payload)
end
list_eq(confirmations, { "subscribe news 1", "subscribe sport 2", "psubscribe chat.* 3" },
    "subscription confirmations")

eq(publisher:publish("news", "hello"), 1, "publish to a subscribed channel reaches one client")
eq(publisher:publish("chat.room1", "hi"), 1, "publish to a pattern-matched channel")
eq(publisher:publish("nobody-listens", "x"), 0, "publish to an unsubscribed channel")

-- The subscriber becomes readable once the publisher's messages are on their way.
-- (Not checked: that it is NOT readable before. Right after a read that took exactly
-- what had arrived, the component's select may still call the socket readable where
-- native LuaSocket times out; the next read then says "timeout".)
local ready = socket.select({ sub_socket }, nil, LIMIT)
eq(ready[1], sub_socket, "select: the subscriber is readable after a publish")

local message = messages()
eq(message.kind, "message", "first message kind")
eq(message.channel, "news", "first message channel")
eq(message.payload, "hello", "first message payload")
message = messages()
eq(message.kind, "pmessage", "pattern message kind")
eq(message.pattern, "chat.*", "pattern message pattern")
eq(message.channel, "chat.room1", "pattern message channel")
eq(message.payload, "hi", "pattern message payload")

-- A burst: a hundred messages on two channels arrive complete and in order.
for i = 1, 100 do
    eq(publisher:publish(i % 2 == 0 and "sport" or "news", "m" .. i), 1, "burst publish " .. i)
end
local abort
for i = 1, 100 do
    message, abort = messages()
    eq(message.channel, i % 2 == 0 and "sport" or "news", "burst message channel " .. i)
    eq(message.payload, "m" .. i, "burst message payload " .. i)
end

-- abort() unsubscribes from everything; the iterator hands out the unsubscribe
-- confirmations and ends (returns nothing) when the last subscription is gone.
abort()
local rest = {}
for _ = 1, 10 do
    message = messages()
    if message == nil then break end
    rest[#rest + 1] = message.kind .. " " .. message.channel
end
-- (UNSUBSCRIBE without channels answers in the server's hash order: sorted here)
table.sort(rest)
list_eq(rest, { "unsubscribe news", "unsubscribe sport" }, "messages after abort")
-- (the last confirmation, "punsubscribe chat.*", is the one that ends the loop)
eq(publisher:publish("news", "late"), 0, "nobody is subscribed any more")
eq(subscriber:ping(), true, "the former subscriber is an ordinary client again")

-- Errors from the server come back as Lua errors the script can catch, prefixed with
-- "redis error: ", and the connection stays usable after each.
eq(client:set("a-string", "x"), true, "set before the type error")
raises(client.lpush,
    "redis error: WRONGTYPE Operation against a key holding the wrong kind of value",
    "lpush on a string", client, "a-string", "y")
raises(client.incr, "redis error: ERR value is not an integer or out of range",
    "incr of a non-number", client, "greeting")
raises(client.get, "redis error: ERR wrong number of arguments for 'get' command",
    "get without a key", client)
raises(client.raw_cmd, "redis error: ERR unknown command 'NOSUCHCOMMAND'",
    "an unknown command sent raw", client, "NOSUCHCOMMAND with args")
-- A command redis.lua does not know: its pipeline proxy refuses the name.
raises(client.pipeline, "unknown redis command: nosuchcommand",
    "an unknown command in a pipeline", client, function(p) p:nosuchcommand() end)
eq(client:ping(), true, "the connection survives server errors")

-- A read that outlasts the client's timeout: BLPOP on an empty list waits 5 s on the
-- server, the client gives up after 0.3 s with LuaSocket's "timeout".
local impatient = redis.connect({ host = HOST, port = port, timeout = 0.3 })
local t0 = socket.gettime()
raises(impatient.blpop, "connection error: timeout",
    "a blocking pop beyond the client's timeout", impatient, "empty-list", 5)
local waited = socket.gettime() - t0
yes(waited >= 0.25 and waited < 3, "the timeout took about 0.3 s, not " .. waited)

-- The server drops a client (CLIENT KILL from another connection): the dropped client's
-- next command fails with LuaSocket's "closed".
local victim = connect()
local victim_id = victim:client("id")
eq(math.type(victim_id), "integer", "client id")
eq(client:client("kill", "id", victim_id), 1, "client kill")
raises(victim.ping, "connection error: closed",
    "a command on a connection the server closed", victim)

-- Connection refused on a closed port, reported by redis.connect as an error.
raises(redis.connect, "could not connect to 127.0.0.1:" .. closed_port .. " [connection refused]",
    "connecting to a closed port", HOST, closed_port)

-- QUIT, then the key the caller checks from outside.
eq(by_args:quit(), true, "quit")
eq(client:set("written-by-lua", "checks: " .. support.checks), true, "the key left for the caller")
eq(client:quit(), true, "quit of the main client")

io.stderr:write("redis_test: ", support.checks, " checks\n")
print("ok")
