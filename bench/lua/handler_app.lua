-- The HTTP handler benchmark's app (bench/run.py, scenario 10): a WSAPI application
-- answering every request with a short text, as the nginx + Lua anchor does.
local body = "hello, world\n"
return {
    run = function(env)
        return 200, { ["Content-Type"] = "text/plain", ["Content-Length"] = #body },
            coroutine.wrap(function() coroutine.yield(body) end)
    end,
}
