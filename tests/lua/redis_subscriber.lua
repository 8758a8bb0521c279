-- A redis.lua subscriber inside the component, for a publisher outside it: subscribes
-- to one channel, prints "subscribed" once the server has confirmed, then prints each
-- message's payload until the payload "stop" (at most 100 messages), then "done".
--
--   luasocket-wasi run --allow-net=127.0.0.1 --timeout 60 \
--       --dir target/test-deps/lua-redis/usr/share/lua/5.1::/lib \
--       tests/lua/redis_subscriber.lua REDIS_PORT CHANNEL

-- The reader on the other end waits for each line as it comes.
io.stdout:setvbuf("no")

local redis = require("redis")

local port = assert(tonumber(arg[1]), "usage: redis_subscriber.lua REDIS_PORT CHANNEL")
local channel = assert(arg[2], "usage: redis_subscriber.lua REDIS_PORT CHANNEL")

-- Each read waits at most 30 s: a publisher that never comes fails the run.
local client = redis.connect({ host = "127.0.0.1", port = port, timeout = 30 })
local messages = client:pubsub({ subscribe = channel })

local confirmation = messages()
assert(confirmation.kind == "subscribe" and confirmation.channel == channel,
    "expected the subscription's confirmation first")
print("subscribed")

for _ = 1, 100 do
    local message, abort = messages()
    assert(message.kind == "message" and message.channel == channel,
        "unexpected " .. tostring(message.kind) .. " on " .. tostring(message.channel))
    if message.payload == "stop" then
        abort()
        -- The unsubscribe confirmation ends the iterator.
        assert(messages() == nil, "the iterator ends after the last unsubscription")
        print("done")
        return
    end
    print(message.payload)
end
error("no \"stop\" within 100 messages")
