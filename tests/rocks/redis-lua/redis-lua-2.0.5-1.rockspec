-- redis-lua, Daniele Alessandri's pure-Lua Redis client, as its own rockspec on the
-- LuaRocks server describes it (a single module, redis.lua, over LuaSocket), for the
-- copy Debian ships in lua-redis. The LuaRocks server is out of reach here, so the test
-- (tests/rocks.rs) puts this file beside Debian's redis.lua and runs `luarocks make`.
rockspec_format = "3.0"
package = "redis-lua"
version = "2.0.5-1"
source = {
   url = "git+https://github.com/nrk/redis-lua.git",
}
description = {
   summary = "A Lua client library for the redis key value storage system.",
   homepage = "https://github.com/nrk/redis-lua",
   license = "MIT/X11",
}
dependencies = {
   "lua >= 5.1",
   -- LuaSocket is built into the component; natively it is Debian's lua-socket.
}
build = {
   type = "builtin",
   modules = {
      redis = "redis.lua",
   },
}
