-- The plugin the Python host (host.py) loads: it calls the host's functions with every
-- kind of value, and reports what came back.
local host = require "host"

function store_profile()
  local profile = {
    name = "Ada", age = 36, ratio = 0.25, admin = false, blob = "\xff\x00\xfe",
    langs = { { name = "Lua", year = 1993 }, { name = "Python", year = 1991 } },
    numbers = { [1] = "one", [2.5] = "two and a half" },
  }
  profile.me = profile
  assert(select("#", host.kv_set("profile", profile)) == 0, "kv_set returns nothing")
  return "stored"
end

function read_profile()
  local p = host.kv_get("profile")
  local hex = p.blob:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  local langs = {}
  for _, l in ipairs(p.langs) do langs[#langs + 1] = l.name .. math.tointeger(l.year) end
  return string.format("%s %d %s %s %s %s %s %s %s", p.name, p.age, p.ratio, p.admin, hex,
    table.concat(langs, " "), p.numbers[1], p.numbers[2.5], p.me == p)
end

function echo_many()
  local results = table.pack(host.echo(1, nil, "three", true))
  return string.format("%d %s %s %s %s", results.n, results[1], results[2], results[3],
    results[4])
end

-- A host call made from a string.gsub callback, where Lua cannot yield.
function errors()
  local ok, missing = pcall(function()
    return ("x"):gsub("x", function() return host.kv_get("nope") end)
  end)
  assert(not ok)
  local ok2, refused = pcall(host.fail, 42)
  assert(not ok2)
  return missing, refused
end

function lua_error(what)
  error("boom: " .. what)
end

function roundtrip(...)
  return host.echo(...)
end

print("hello from Lua inside Python")

-- WASI sockets from the Python package: linked, and the network denied by default.
function connect(port)
  local c = require("socket").tcp()
  local ok, err = c:connect("127.0.0.1", port)
  c:close()
  return ok, err
end
