//! `select` at scale and with foreign objects, and resource hygiene.

mod common;

use std::time::Duration;

use common::*;
use luasocket_wasi_host::{Invocation, NetPolicy, Outcome, Runtime, Sandbox};

const NET: &str = "--allow-net=127.0.0.1,[::1]";

#[test]
fn ten_thousand_sockets_in_one_select() {
    let out = lua(
        &[NET, "--timeout", "120"],
        r#"
        local socket = require("socket")
        local socks = {}
        for i = 1, 10000 do
            local u = assert(socket.udp4())
            assert(u:setsockname("127.0.0.1", 0))
            socks[i] = u
        end
        local t0 = socket.gettime()
        local r, w, err = socket.select(socks, nil, 0.1)
        print(#r, err)
        -- one of them gets a datagram
        local target = socks[7777]
        local ip, port = target:getsockname()
        local sender = socket.udp4()
        sender:sendto("ping", ip, port)
        r, w, err = socket.select(socks, nil, 5)
        print(#r, r[1] == target, r[target], err)
        print(target:receive())
        for _, u in ipairs(socks) do u:close() end
        r, w, err = socket.select(socks, nil, 0)
        print(#r, err)
    "#,
    );
    assert_eq!(
        ok(&out),
        "0\ttimeout\n1\ttrue\t1.0\tnil\nping\n0\ttimeout\n"
    );
}

/// Data that arrives while the script never has to wait is still seen: a closed peer
/// left in the read set (always ready) must not hide another socket's data, nor may a
/// zero-timeout receive loop spin past it. (wasmtime-wasi learns of new data only when
/// its runtime gets a turn; the host gives it one in busy loops. No `--timeout` here: its
/// epoch ticks make a busy guest yield every 10 ms, which would hide the problem.)
#[test]
fn busy_loops_still_see_new_data() {
    let out = lua(
        &[NET],
        r#"
        local socket = require("socket")
        local server = assert(socket.bind("127.0.0.1", 0))
        local ip, port = server:getsockname()
        local a = assert(socket.connect(ip, port)); local pa = assert(server:accept())
        local b = assert(socket.connect(ip, port)); local pb = assert(server:accept())
        a:close()
        assert(socket.select({pa}, nil, 5)[pa])
        print((select(2, pa:receive())))
        pb:settimeout(0)
        print((select(2, pb:receive())))
        -- the data comes once the loop is spinning on the closed pa
        local t0, seen, spins = socket.gettime(), false, 0
        while not seen and socket.gettime() - t0 < 5 do
            local r = socket.select({pa, pb}, nil, 1)
            seen = r[pb] ~= nil
            spins = spins + 1
            if spins == 100 then b:send("late\n") end
        end
        print(seen, (pb:receive()))
        print((select(2, pb:receive())))
        local got
        spins, t0 = 0, socket.gettime()
        repeat
            got = pb:receive()
            spins = spins + 1
            if spins == 100 then b:send("busy\n") end
        until got or socket.gettime() - t0 > 5
        print(got)
    "#,
    );
    assert_eq!(ok(&out), "closed\ntimeout\ntrue\tlate\ntimeout\nbusy\n");
}

#[test]
fn foreign_objects_dirty_sockets_and_sleeping() {
    let out = lua(
        &[NET, "--timeout", "30"],
        r#"
        local socket = require("socket")
        local server = assert(socket.bind("127.0.0.1", 0))
        local sip, sport = server:getsockname()
        local client = assert(socket.connect(sip, sport))
        local peer = assert(server:accept())
        client:send("one\ntwo\n")
        -- a wrapper object, as a TLS library would make, selected by its getfd
        local wrapper = setmetatable({}, {__index = {
            getfd = function() return peer:getfd() end,
            dirty = function() return peer:dirty() end,
        }})
        local r = socket.select({wrapper}, nil, 5)
        print(r[1] == wrapper, r[wrapper])
        print((peer:receive()))
        -- "two" is now buffered: dirty, so select returns at once, without I/O
        print(peer:dirty())
        local t0 = socket.gettime()
        r = socket.select({peer}, nil, 10)
        print(r[1] == peer, socket.gettime() - t0 < 1)
        print((peer:receive()))
        -- closed sockets and tables without getfd are ignored; a value that cannot be
        -- indexed is an error, as LuaSocket indexes every entry for getfd
        client:close()
        local closed = socket.tcp(); closed:close()
        r = socket.select({closed, {}, "text"}, nil, 0)
        print(#r)
        print(pcall(socket.select, {42}, nil, 0))
        -- select with nothing sleeps for the timeout
        t0 = socket.gettime()
        local a, b, err = socket.select(nil, nil, 0.2)
        print(#a, #b, err, socket.gettime() - t0 >= 0.19)
        print(pcall(function() return socket.select("x") end))
    "#,
    );
    assert_eq!(
        ok(&out),
        "true\t1.0\none\ntrue\ntrue\ttrue\ntwo\n0\nfalse\tattempt to index a number value\n\
         0\t0\ttimeout\ttrue\n\
         false\t(command line):33: bad argument #1 to 'select' (table expected, got string)\n"
    );
}

#[test]
fn ten_thousand_open_close_cycles_leave_no_resources_behind() {
    let script = |cycles: u32| {
        format!(
            r#"
            local socket = require("socket")
            local server = assert(socket.bind("127.0.0.1", 0))
            local ip, port = server:getsockname()
            for i = 1, {cycles} do
                local c = assert(socket.connect(ip, port))
                local s = assert(server:accept())
                c:send("x\n")
                assert(s:receive() == "x")
                c:close()
                s:close()
                local u = socket.udp()
                u:setsockname("127.0.0.1", 0)
                if i % 2 == 0 then u:close() end -- the others are collected
            end
            collectgarbage()
            collectgarbage()
            return "done"
        "#
        )
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = Runtime::with_cache(Some(cache_dir())).unwrap();
    let sandbox = Sandbox {
        net: NetPolicy::parse("127.0.0.1").unwrap(),
        capture_output: true,
        ..Sandbox::default()
    };
    let run = |cycles| {
        let invocation = Invocation {
            chunk_name: "=cycles".into(),
            source: script(cycles).into_bytes(),
            args: vec![],
            arg_table: vec![],
        };
        let result = rt.block_on(runtime.run(&sandbox, invocation)).unwrap();
        assert!(
            matches!(result.outcome, Outcome::Returned(ref v) if v == &["done"]),
            "{:?} {}",
            result.outcome,
            String::from_utf8_lossy(&result.stderr)
        );
        result.resources
    };
    let baseline = run(1);
    let after = run(10_000);
    assert_eq!(
        after, baseline,
        "resources after 10,000 cycles vs after one"
    );
    let _ = Duration::ZERO;
}

/// However busy the script, a socket with room in its send buffer takes a small send at
/// once, and `select` reports every ready socket. Under tokio's cooperative budget the
/// host answered "not ready" after 128 readiness checks in one stretch: about one send in
/// five under `settimeout(0)` took nothing, and `select` returned at most 128 sockets.
#[test]
fn busy_scripts_are_told_the_truth_about_readiness() {
    let out = lua(
        &[NET, "--timeout", "60"],
        r#"
        local socket = require("socket")
        local server = assert(socket.bind("127.0.0.1", 0, 512))
        local _, port = server:getsockname()
        local a = assert(socket.connect("127.0.0.1", port))
        local b = assert(server:accept())
        a:settimeout(0); b:settimeout(0)
        local short = 0
        for i = 1, 20000 do
            if a:send("x") ~= 1 then short = short + 1 end
            if i % 100 == 0 then assert(b:receive(100)) end
        end
        print("short sends", short)
        local clients, served = {}, {}
        for i = 1, 300 do
            clients[i] = assert(socket.connect("127.0.0.1", port))
            served[i] = assert(server:accept())
            served[i]:settimeout(0)
            assert(clients[i]:send("hello\n"))
        end
        socket.sleep(0.1)
        local readable = socket.select(served, nil, 5)
        print("readable", #readable)
        short = 0
        for i = 1, 300 do
            if served[i]:send("world\n") ~= 6 then short = short + 1 end
        end
        print("short echoes", short)
    "#,
    );
    assert_eq!(ok(&out), "short sends\t0\nreadable\t300\nshort echoes\t0\n");
}
