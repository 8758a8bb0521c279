//! A hostile script against the sandbox's limits: memory bombs (in Lua and in socket
//! buffers), CPU runaways, scripts blocked forever in receive/select with no timeout, and
//! socket or handle floods. Each is stopped with the limit named, and the host carries on.
//! (tests/limits.rs has the first basics.)

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::embedder::{block_on, capturing_sandbox};
use common::*;
use luasocket_wasi_host::{Invocation, Limit, Limits, Outcome, Runtime, Sandbox};

const NET: &str = "--allow-net=127.0.0.1,[::1]";

fn invocation(source: &str) -> Invocation {
    Invocation {
        chunk_name: "=hostile".into(),
        source: source.as_bytes().to_vec(),
        args: vec![],
        arg_table: vec![],
    }
}

fn sandbox(limits: Limits) -> Sandbox {
    Sandbox {
        limits,
        ..capturing_sandbox("127.0.0.1")
    }
}

/// A peer that accepts and then streams data forever (until the reader goes away).
fn firehose() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let block = vec![b'x'; 64 * 1024];
            while s.write_all(&block).is_ok() {}
        }
    });
    port
}

/// A peer that accepts and then says nothing, holding the connection open a while.
fn silent() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            thread::sleep(Duration::from_secs(20));
            drop(s);
        }
    });
    port
}

#[test]
fn memory_bombs_are_catchable_and_the_script_carries_on() {
    let port = firehose();
    let out = lua(
        &[NET, "--max-memory", "32", "--timeout", "30"],
        &format!(
            r#"
            local socket = require("socket")
            -- a table that grows without end
            local ok, e = pcall(function()
                local t = {{}}
                while true do t[#t + 1] = {{ #t }} end
            end)
            print(ok, e)
            -- string concatenation
            ok, e = pcall(function()
                local s = "x"
                while true do s = s .. s end
            end)
            print(ok, e)
            -- a receive of a gigabyte from a peer that sends without end: the socket
            -- buffer cannot grow past the memory limit either
            local c = assert(socket.connect("127.0.0.1", {port}))
            ok, e = pcall(c.receive, c, 1 << 30)
            print(ok, e)
            c:close()
            collectgarbage()
            -- and the script is still healthy
            print(#string.rep("y", 1 << 20), socket.gettime() > 0)
            "#
        ),
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "false\tnot enough memory", "{text}");
    assert_eq!(lines[1], "false\tnot enough memory", "{text}");
    // The receive either reports the failure LuaSocket-style (nil, "not enough memory",
    // partial) or Lua raises it while handing the partial over; both are catchable.
    assert!(
        lines[2] == "true\tnil" || lines[2] == "false\tnot enough memory",
        "{text}"
    );
    assert_eq!(lines[3], "1048576\ttrue", "{text}");
}

#[test]
fn an_uncaught_memory_bomb_is_named_and_the_host_runs_the_next_script() {
    let runtime = Runtime::with_cache(Some(cache_dir())).unwrap();
    let limits = Limits {
        max_memory: Some(32 << 20),
        timeout: Some(Duration::from_secs(30)),
        ..Limits::default()
    };
    block_on(async {
        let bomb = runtime
            .run(
                &sandbox(limits.clone()),
                invocation(
                    "local t = {} while true do t[#t + 1] = string.rep('x', 4096) .. #t end",
                ),
            )
            .await
            .unwrap();
        assert!(
            matches!(bomb.outcome, Outcome::Limit(Limit::Memory(n)) if n == 32 << 20),
            "{:?}",
            bomb.outcome
        );
        let next = runtime
            .run(&sandbox(limits), invocation("return 'fine'"))
            .await
            .unwrap();
        assert!(
            matches!(next.outcome, Outcome::Returned(ref v) if v == &["fine"]),
            "{:?}",
            next.outcome
        );
    });
}

#[test]
fn a_cpu_runaway_cannot_hide_in_pcall_or_coroutines() {
    for chunk in [
        "while true do pcall(function() while true do end end) end",
        "local co = coroutine.wrap(function() while true do coroutine.yield() end end) \
         while true do co() end",
        "local s = string.rep('a', 30) .. 'b' while true do s:find('(a*)*c') end",
    ] {
        let out = lua(&["--cpu-limit", "0.3", "--timeout", "30"], chunk);
        assert_eq!(out.status.code(), Some(123), "{chunk}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("CPU limit reached"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn blocked_forever_in_receive_is_stopped_by_the_wall_clock() {
    let port = silent();
    let out = lua(
        &[NET, "--timeout", "1"],
        &format!("local c = assert(require('socket').connect('127.0.0.1', {port})) c:receive()"),
    );
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wall-clock limit reached: the script ran for 1 s (--timeout)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn blocked_forever_in_select_or_udp_receive_is_stopped_by_the_wall_clock() {
    let port = silent();
    for chunk in [
        format!(
            "local s = require('socket') local c = assert(s.connect('127.0.0.1', {port})) \
             s.select({{c}}, nil)"
        ),
        "local s = require('socket') local u = s.udp() assert(u:setsockname('127.0.0.1', 0)) \
         u:receive()"
            .to_owned(),
        "local s = require('socket') local u = s.udp() assert(u:setsockname('127.0.0.1', 0)) \
         s.select({u}, nil, -1)"
            .to_owned(),
    ] {
        let out = lua(&[NET, "--timeout", "0.7"], &chunk);
        assert_eq!(out.status.code(), Some(124), "{chunk}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("wall-clock limit reached"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn opening_sockets_in_a_loop_meets_a_clear_limit() {
    let out = lua(
        &[NET, "--max-sockets", "64", "--timeout", "30"],
        r#"
        local socket = require("socket")
        local function flood(open)
            local held = {}
            while true do
                local s, e = open()
                if not s then return held, e end
                held[#held + 1] = s
            end
        end
        -- UDP sockets
        local udps, e = flood(function()
            local u, err = socket.udp4()
            if not u then return nil, err end
            local ok, berr = u:setsockname("127.0.0.1", 0)
            if not ok then u:close() return nil, berr end
            return u
        end)
        print("udp", #udps, e)
        for _, u in ipairs(udps) do u:close() end
        -- TCP: connecting to our own server, and accepting
        local server = assert(socket.bind("127.0.0.1", 0))
        server:settimeout(2)
        local ip, port = server:getsockname()
        local held, where = {}, nil
        while true do
            local c, err = socket.connect(ip, port)
            if not c then where = "connect: " .. err break end
            held[#held + 1] = c
            local a, aerr = server:accept()
            if not a then where = "accept: " .. aerr break end
            held[#held + 1] = a
        end
        print("tcp", #held + 1, where)
        -- closing some makes room again
        for i = 1, 10 do held[i]:close() end
        print(socket.connect(ip, port) ~= nil, server:accept() ~= nil)
        "#,
    );
    assert_eq!(
        ok(&out),
        "udp\t64\ttoo many open files\n\
         tcp\t64\taccept: too many open files\n\
         true\ttrue\n"
    );
}

#[test]
fn filling_the_handle_table_ends_the_run_with_the_handle_limit_named() {
    let dir = scratch("handles");
    std::fs::write(dir.join("f"), "x").unwrap();
    let out = lua(
        &[
            "--dir",
            &format!("{}::/d", dir.display()),
            "--max-sockets",
            "10",
            "--timeout",
            "60",
        ],
        "local t = {} for i = 1, 100000 do t[i] = io.open('/d/f') end",
    );
    assert_eq!(out.status.code(), Some(121), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("handle limit reached: the script held 4176 host handles (--max-sockets)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_socket_limit_is_per_instance_and_reported_to_embedders() {
    let runtime = Runtime::with_cache(Some(cache_dir())).unwrap();
    let limits = Limits {
        max_sockets: Some(8),
        timeout: Some(Duration::from_secs(30)),
        ..Limits::default()
    };
    let flood = "local s = require('socket') local n = 0 \
                 while true do local u, e = s.udp4() if not u then return n, e end n = n + 1 end";
    block_on(async {
        let sandbox = sandbox(limits);
        let a = runtime.run(&sandbox, invocation(flood));
        let b = runtime.run(&sandbox, invocation(flood));
        let (a, b) = tokio::join!(a, b);
        for r in [a.unwrap(), b.unwrap()] {
            assert!(
                matches!(r.outcome, Outcome::Returned(ref v) if v == &["8", "too many open files"]),
                "{:?}",
                r.outcome
            );
        }
    });
}

#[test]
fn binary_chunks_are_refused_by_every_loader() {
    let dir = scratch("bytecode");
    let out = lua(
        &["--dir", &format!("{}::/d", dir.display())],
        r#"
        local dumped = string.dump(function() return "ran bytecode" end)
        print(load(dumped))
        print(load(dumped, "x", "b"))
        print(load(dumped, "x", "bt", {}))
        local sent = false
        print(load(function() if sent then return nil end sent = true return dumped end))
        local f = assert(io.open("/d/b.lua", "wb")) f:write(dumped) f:close()
        print(loadfile("/d/b.lua"))
        print(pcall(dofile, "/d/b.lua"))
        package.path = "/d/?.lua"
        print(pcall(require, "b"))
        -- text still loads, with names, modes and environments (the globals by default)
        print(load("return x", "=t", "t", { x = "text ok" })())
        print(load("return type(print)")(), load("return _ENV", "=n", "t", nil)())
        f = assert(io.open("/d/m.lua", "w")) f:write("return tostring(#arg ~= nil)") f:close()
        arg = {}
        print(loadfile("/d/m.lua")(), dofile("/d/m.lua"), require("m"))
        "#,
    );
    let refused = "attempt to load a binary chunk (mode is 't')";
    assert_eq!(
        ok(&out),
        format!(
            "nil\t{refused}\nnil\tattempt to load a text chunk (mode is 'b')\nnil\t{refused}\n\
             nil\t{refused}\nnil\t{refused}\nfalse\t{refused}\n\
             false\terror loading module 'b' from file '/d/b.lua':\n\t{refused}\ntext ok\n\
             function\tnil\ntrue\ttrue\ttrue\t/d/m.lua\n"
        )
    );
}

#[test]
fn the_debug_hardening_has_no_original_to_find() {
    // The originals are not upvalues of the replacements, and are never called by them,
    // so neither debug.getupvalue nor a call hook can hand them to the script.
    let out = lua(
        &[],
        r#"
        local found = {}
        local getmetatable = getmetatable
        for _, f in ipairs({ load, loadfile, debug.setmetatable, debug.setupvalue,
                             debug.upvaluejoin }) do
            for i = 1, 10 do
                local _, v = debug.getupvalue(f, i)
                if type(v) == "function" then found[#found + 1] = v end
            end
        end
        debug.sethook(function()
            local info = debug.getinfo(2, "f")
            if info then found[#found + 1] = info.func end
        end, "c")
        debug.setmetatable({}, nil)
        load("return 1")
        debug.sethook()
        local escaped = 0
        local marker = { __name = "marker" }
        local dumped = string.dump(function() return "ran bytecode" end)
        for _, f in ipairs(found) do
            pcall(f, io.stdout, marker)
            if getmetatable(io.stdout) == marker then escaped = escaped + 1 end
            local ok, g = pcall(f, dumped, "x", "b")
            if ok and type(g) == "function" and pcall(g) and g() == "ran bytecode" then
                escaped = escaped + 1
            end
        end
        print(escaped, pcall(debug.setmetatable, io.stdout, {}))
        "#,
    );
    assert_eq!(
        ok(&out),
        "0\tfalse\tdebug.setmetatable on userdata is disabled in the sandbox\n"
    );
}
