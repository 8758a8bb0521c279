-- A module of the app, packed beside it (`--modules tests/edge/lib`): require finds it as
-- edgelib.greeting in the bundle, under either host, and passes it that name.
local name = ...
local M = {}

function M.greet(who) return "greetings, " .. who .. ", from " .. name end

return M
