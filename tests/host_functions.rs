//! Host functions: Lua in the plugin world calling Rust functions the embedder registers,
//! on the runtime and per sandbox. Every value type both ways, errors both ways, calls
//! from every kind of Lua code (pcall, coroutines, metamethods, `string.gsub` callbacks,
//! `table.sort` comparators, with sockets open), async functions awaiting real I/O,
//! limits hit during a host call, a panicking host function, and 1,000 plugins calling a
//! shared host API at once.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use luasocket_wasi_host::value::Node;
use luasocket_wasi_host::{
    CallError, Graph, HostError, HostFunctions, Limit, Limits, LuaValue, Plugin, Runtime,
    RuntimeOptions, Sandbox, World,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use common::embedder::{block_on, capturing_sandbox, runtime};

fn sandbox() -> Sandbox {
    capturing_sandbox("127.0.0.1")
}

async fn load(runtime: &Runtime, sandbox: &Sandbox, source: &str) -> Plugin {
    match runtime
        .load_plugin(sandbox, "=plugin", source.as_bytes())
        .await
    {
        Ok(plugin) => plugin,
        Err(e) => panic!("{e}"),
    }
}

/// Calls `name`, failing the test on any error.
async fn call(plugin: &mut Plugin, name: &str, args: &[LuaValue]) -> Vec<LuaValue> {
    match plugin.call(name, args).await {
        Ok(values) => values,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn s(text: &str) -> LuaValue {
    LuaValue::string(text)
}

/// A graph built on the host: `{self = <itself>, list = {1, 2, <the root>}, bytes = "\xff"}`.
fn cyclic_graph() -> Graph {
    Graph {
        nodes: vec![
            Node::Table(vec![(1, 0), (2, 3), (7, 8)]),
            Node::Text("self".into()),
            Node::Text("list".into()),
            Node::Sequence(vec![4, 5, 0]),
            Node::Integer(1),
            Node::Integer(2),
            Node::Nil,
            Node::Text("bytes".into()),
            Node::Bytes(vec![0xff]),
        ],
    }
}

#[test]
fn every_value_type_crosses_both_ways() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rt = runtime();
    let record = seen.clone();
    rt.host_fn("echo", |rest: Vec<LuaValue>| rest)
        .host_fn("same", |g: Graph| g)
        .host_fn("made", cyclic_graph)
        .host_fn("record", move |rest: Vec<LuaValue>| {
            record.lock().unwrap().extend(rest);
        })
        .host_fn("add", |a: i64, b: f64| a as f64 + b)
        .host_fn("join", |a: String, b: Vec<u8>| {
            let mut out = a.into_bytes();
            out.extend(b);
            out
        })
        .host_fn("maybe", |o: Option<String>| o.map(|s| s + "!"))
        .host_fn("flip", |b: bool| !b)
        .host_fn("three", || (1i64, "two", 3.0f64))
        .host_fn("scalars", || {
            vec![
                LuaValue::Nil,
                LuaValue::Boolean(false),
                LuaValue::Integer(i64::MIN),
                LuaValue::Number(-0.0),
                LuaValue::Number(f64::INFINITY),
                s("naïve"),
                LuaValue::String(vec![0, 0xfe, 0xff]),
                LuaValue::Sequence(vec![LuaValue::Integer(1), s("x")]),
                LuaValue::Table(vec![(
                    s("deep"),
                    LuaValue::Table(vec![(LuaValue::Integer(-5), LuaValue::Boolean(true))]),
                )]),
                LuaValue::Nil,
            ]
        });
    let source = r##"
        local host = require "host"
        function roundtrip()
            local values = table.pack(host.echo(nil, true, false, 42, math.mininteger, 1.5,
                2.0, "text", "\255\0bytes", {1, 2, {3}}, {k = "v", [10] = 0.5, [2.5] = "f",
                nested = {deeper = {true}}}, nil))
            assert(values.n == 12, values.n)
            assert(values[1] == nil and values[2] == true and values[3] == false)
            assert(values[4] == 42 and math.type(values[4]) == "integer")
            assert(values[5] == math.mininteger and math.type(values[5]) == "integer")
            assert(values[6] == 1.5 and values[7] == 2.0 and math.type(values[7]) == "float")
            assert(values[8] == "text" and values[9] == "\255\0bytes")
            assert(#values[10] == 3 and values[10][3][1] == 3)
            local t = values[11]
            assert(t.k == "v" and t[10] == 0.5 and t[2.5] == "f" and t.nested.deeper[1] == true)
            assert(select("#", host.echo()) == 0 and select("#", host.echo(nil, nil)) == 2)

            -- sharing and cycles survive both ways
            local loop = {name = "loop"}
            loop.self = loop
            local shared = {"s"}
            loop.a, loop.b, loop[shared] = shared, shared, shared
            local back = host.same(loop)
            assert(back ~= loop and back.self == back and back.name == "loop")
            assert(back.a == back.b and back.a[1] == "s" and back[back.a] == back.a)
            local made = host.made()
            assert(made.self == made and made.list[3] == made and made.list[2] == 2)
            assert(made.bytes == "\255")

            -- scalars the host makes
            local v = table.pack(host.scalars())
            assert(v.n == 10 and v[1] == nil and v[2] == false and v[10] == nil)
            assert(v[3] == math.mininteger and 1 / v[4] == -math.huge and v[5] == math.huge)
            assert(v[6] == "naïve" and v[7] == "\0\254\255")
            assert(v[8][1] == 1 and v[8][2] == "x" and v[9].deep[-5] == true)

            -- typed parameters and results
            assert(host.add(2, 0.5) == 2.5 and math.type(host.add(2, 1)) == "float")
            assert(host.add(2.0, 1) == 3, "an integral float is an integer argument")
            assert(host.join("a", "\255") == "a\255")
            assert(host.maybe() == nil and host.maybe(nil) == nil and host.maybe("x") == "x!")
            assert(host.flip(false) == true)
            local one, two, three = host.three()
            assert(one == 1 and two == "two" and three == 3.0 and math.type(three) == "float")

            host.record(nil, true, 7, 0.25, "utf8 ✓", "\0\255", {1, "two"}, {x = {y = false}})
            return "ok"
        end
    "##;
    block_on(async {
        let mut plugin = load(&rt, &sandbox(), source).await;
        assert_eq!(call(&mut plugin, "roundtrip", &[]).await, vec![s("ok")]);
    });
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[..7],
        [
            LuaValue::Nil,
            LuaValue::Boolean(true),
            LuaValue::Integer(7),
            LuaValue::Number(0.25),
            s("utf8 ✓"),
            LuaValue::String(vec![0, 0xff]),
            LuaValue::Sequence(vec![LuaValue::Integer(1), s("two")]),
        ]
    );
    assert_eq!(
        seen[7],
        LuaValue::Table(vec![(
            s("x"),
            LuaValue::Table(vec![(s("y"), LuaValue::Boolean(false))])
        )])
    );
    assert_eq!(seen.len(), 8);
}

#[test]
fn a_graph_parameter_sees_the_sharing_lua_made() {
    let got = Arc::new(Mutex::new(None));
    let mut rt = runtime();
    let keep = got.clone();
    rt.host_fn("take", move |g: Graph| {
        *keep.lock().unwrap() = Some(g);
    });
    block_on(async {
        let mut plugin = load(
            &rt,
            &sandbox(),
            r#"function go() local t = {} t.me = t require("host").take(t) end"#,
        )
        .await;
        call(&mut plugin, "go", &[]).await;
    });
    let graph = got.lock().unwrap().take().expect("the host function ran");
    // The generated node type has no `PartialEq`; its `Debug` form says as much.
    assert_eq!(
        format!("{:?}", graph.nodes),
        format!("{:?}", [Node::Table(vec![(1, 0)]), Node::Text("me".into())])
    );
}

#[test]
fn errors_cross_both_ways() {
    let mut rt = runtime();
    rt.host_fn("fail", |what: String| -> Result<(), HostError> {
        Err(format!("kv store is down: {what}").into())
    })
    .host_fn("echo", |rest: Vec<LuaValue>| rest)
    .host_fn("add", |a: i64, b: i64| a + b)
    .host_fn("dangling", || Graph {
        nodes: vec![Node::Sequence(vec![5])],
    })
    .host_fn("nil_key", || Graph {
        nodes: vec![Node::Table(vec![(1, 1)]), Node::Nil],
    })
    .host_fn_async("refused", |port: u16| async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        Ok::<_, HostError>(())
    });
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let source = r#"
        local host = require "host"
        function caught(port)
            local ok, e = pcall(host.fail, "x")
            assert(not ok and e == "kv store is down: x", e)
            ok, e = pcall(function()
                local v = host.fail("y")
            end)
            assert(not ok and e:match("^plugin:%d+: kv store is down: y$"), e)
            -- the error is an ordinary Lua error: error handlers see it, it can be rethrown
            local ok2, tb = xpcall(host.fail, debug.traceback, "z")
            assert(not ok2 and tb:find("kv store is down: z", 1, true) and tb:find("stack traceback"), tb)
            ok, e = pcall(function() error(select(2, pcall(host.fail, "w")), 0) end)
            assert(e == "kv store is down: w", e)
            -- arguments the host refuses, as Lua's own functions refuse them
            ok, e = pcall(host.add, "one", 2)
            assert(e == "bad argument #1 to 'add' (number expected, got string)", e)
            ok, e = pcall(host.add, 1)
            assert(e == "bad argument #2 to 'add' (number expected, got no value)", e)
            ok, e = pcall(host.add, 1.5, 2)
            assert(e == "bad argument #1 to 'add' (number has no integer representation)", e)
            -- values Lua cannot send (refused in the guest, where Lua names the function
            -- by its module, as it does `string.rep`)
            ok, e = pcall(host.echo, 1, print)
            assert(e:find("bad argument #2 to 'host.echo' (a function value cannot cross to the host)", 1, true), e)
            ok, e = pcall(host.echo, {co = coroutine.create(print)})
            assert(e:find("a thread value cannot cross to the host", 1, true), e)
            local cycle = {} cycle[1] = cycle
            ok, e = pcall(host.echo, cycle)
            assert(e == "bad argument #1 to 'echo' (the value contains a table that contains itself)", e)
            -- values the host cannot send
            ok, e = pcall(host.dangling)
            assert(e == "host function 'dangling' returned a bad value: value node 5 does not exist", e)
            ok, e = pcall(host.nil_key)
            assert(e == "host function 'nil_key' returned a bad value: a table key cannot be nil", e)
            -- an async host function's I/O error
            ok, e = pcall(host.refused, port)
            assert(not ok and e:lower():find("refused"), e)
            return "all caught"
        end
        function uncaught() local x = host.fail("not caught") return x end
        function lua_error() host.echo(1) error({code = 7}) end
    "#;
    block_on(async {
        let mut plugin = load(&rt, &sandbox(), source).await;
        assert_eq!(
            call(
                &mut plugin,
                "caught",
                &[LuaValue::Integer(closed_port.into())]
            )
            .await,
            vec![s("all caught")]
        );
        // An uncaught host error ends the plugin call as any Lua error does, with the
        // position and a traceback, and the plugin stays usable.
        match plugin.call("uncaught", &[]).await {
            Err(CallError::Failed(f)) => {
                let f = format!("{f:?}");
                assert!(f.contains("plugin:"), "{f}");
                assert!(f.contains("kv store is down: not caught"), "{f}");
                assert!(f.contains("stack traceback"), "{f}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            plugin.call("lua_error", &[]).await,
            Err(CallError::Failed(_))
        ));
        assert_eq!(
            call(
                &mut plugin,
                "caught",
                &[LuaValue::Integer(closed_port.into())]
            )
            .await,
            vec![s("all caught")]
        );
    });
}

#[test]
fn a_panicking_host_function_traps_only_its_plugin() {
    let mut rt = runtime();
    rt.host_fn("boom", || -> i64 { panic!("the host function broke") })
        .host_fn_async("boom_later", || async {
            tokio::task::yield_now().await;
            if true {
                panic!("the async host function broke");
            }
        })
        .host_fn("ok", || "fine");
    let source = r#"
        local host = require "host"
        function try() return pcall(host.boom) end
        function try_later() return pcall(host.boom_later) end
        function alive() return host.ok() end
    "#;
    block_on(async {
        let mut broken = load(&rt, &sandbox(), source).await;
        let mut broken_later = load(&rt, &sandbox(), source).await;
        let mut healthy = load(&rt, &sandbox(), source).await;
        match broken.call("try", &[]).await {
            Err(CallError::HostPanic(p)) => {
                assert_eq!(p.function, "boom");
                assert_eq!(p.message, "the host function broke");
            }
            other => panic!("pcall must not catch a host panic: {other:?}"),
        }
        assert!(matches!(
            broken.call("alive", &[]).await,
            Err(CallError::Unusable)
        ));
        match broken_later.call("try_later", &[]).await {
            Err(CallError::HostPanic(p)) => {
                assert_eq!(p.function, "boom_later");
                assert_eq!(p.message, "the async host function broke");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(call(&mut healthy, "alive", &[]).await, vec![s("fine")]);
        // and a plugin made afterwards is fine too
        let mut fresh = load(&rt, &sandbox(), source).await;
        assert_eq!(call(&mut fresh, "alive", &[]).await, vec![s("fine")]);
    });
}

/// The Lua contexts a host call must work from, each with a sync (`echo`) and an async
/// (`later`) host function.
const CONTEXTS: &str = r#"
    local host = require "host"
    local socket = require "socket"
    local function check(f)
        for _, name in ipairs({"echo", "later"}) do f(host[name], name) end
        return true
    end
    contexts = {}
    function contexts.pcall()
        return check(function(h)
            local ok, v = pcall(h, "in pcall")
            assert(ok and v == "in pcall")
            local ok2, v2 = xpcall(function() return h(2) end, debug.traceback)
            assert(ok2 and v2 == 2)
            -- the message handler itself calls the host
            local _, e = xpcall(error, function(m) return h("handled: " .. m) end, "oops", 0)
            assert(e == "handled: oops", e)
        end)
    end
    function contexts.coroutines()
        return check(function(h)
            local co = coroutine.wrap(function(x)
                local y = coroutine.yield(h(x))
                return h(y + 1)
            end)
            assert(co(1) == 1 and co(2) == 3)
            -- nested coroutines, a host call in each
            local outer = coroutine.create(function()
                local inner = coroutine.create(function() coroutine.yield(h("inner")) end)
                local _, v = coroutine.resume(inner)
                coroutine.yield(h(v .. "+outer"))
            end)
            local _, v = coroutine.resume(outer)
            assert(v == "inner+outer", v)
            -- inside a coroutine that yields across pcall
            local co2 = coroutine.create(function()
                return pcall(function() coroutine.yield(h("y")) return h("after") end)
            end)
            local _, first = coroutine.resume(co2)
            local _, ok, after = coroutine.resume(co2)
            assert(first == "y" and ok and after == "after")
        end)
    end
    function contexts.metamethods()
        return check(function(h, name)
            local log = {}
            local mt = {
                __index = function(_, k) return h(k .. "!") end,
                __newindex = function(_, k, v) log[#log + 1] = h(k .. "=" .. v) end,
                __add = function() return h(40) + 2 end,
                __eq = function() return h(true) end,
                __lt = function() return h(true) end,
                __le = function() return h(false) end,
                __concat = function() return h("cat") end,
                __len = function() return h(9) end,
                __call = function(_, x) return h(x * 2) end,
                __tostring = function() return h("proxy") end,
                __unm = function() return h(-1) end,
                __close = function() log[#log + 1] = h("closed") end,
            }
            local a, b = setmetatable({}, mt), setmetatable({}, mt)
            assert(a.key == "key!" and a + b == 42 and a == b and a < b and not (a <= b))
            assert(a .. b == "cat" and #a == 9 and a(21) == 42 and -a == -1)
            assert(tostring(a) == "proxy" and string.format("%s", a) == "proxy")
            a.x = 1
            do local c <close> = a end
            assert(log[1] == "x=1" and log[2] == "closed")
            -- a finalizer
            _G["finalized_" .. name] = nil
            setmetatable({}, {__gc = function() _G["finalized_" .. name] = h("gc") end})
            collectgarbage() collectgarbage()
            assert(_G["finalized_" .. name] == "gc")
        end)
    end
    function contexts.callbacks_of_c_functions()
        return check(function(h)
            assert(("a-b"):gsub("%a", function(c) return h(c:upper()) end) == "A-B")
            assert(("a-b"):gsub("%a", h) == "a-b")
            local t = {5, 3, 1, 4, 2}
            table.sort(t, function(x, y) return h(x < y) end)
            assert(table.concat(t, ",") == "1,2,3,4,5")
            -- a loader, a reader for load, and string.gsub inside table.sort
            package.preload.viahost = function(name) return h({name = name}) end
            package.loaded.viahost = nil
            assert(require("viahost").name == "viahost")
            local parts = {"return ", "1 + ", "1"}
            local i = 0
            local f = load(function() i = i + 1 return h(parts[i]) end)
            assert(f() == 2)
            local words = {"bb", "a", "ccc"}
            table.sort(words, function(x, y)
                return #(x:gsub(".", h)) < #(y:gsub(".", h))
            end)
            assert(words[1] == "a" and words[3] == "ccc")
        end)
    end
    function contexts.sockets_open(port)
        return check(function(h)
            local server = assert(socket.bind("127.0.0.1", 0))
            local c = assert(socket.connect("127.0.0.1", port))
            assert(c:send(h("ping") .. "\n"))
            local line = assert(c:receive())
            assert(h(line) == "PING", line)
            c:settimeout(0)
            local r = socket.select({c, server}, nil, 0)
            assert(#r == 0)
            assert(c:send(h("again") .. "\n"))
            c:settimeout(5)
            assert(c:receive() == "AGAIN")
            c:close()
            server:close()
        end)
    end
"#;

/// A loopback peer that answers each line with it upper-cased.
async fn upper_peer() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if write
                        .write_all(format!("{}\n", line.to_uppercase()).as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn calls_work_from_every_kind_of_lua_code() {
    let mut rt = runtime();
    rt.host_fn("echo", |rest: Vec<LuaValue>| rest)
        .host_fn_async("later", |rest: Vec<LuaValue>| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            rest
        });
    block_on(async {
        let port = upper_peer().await;
        for context in [
            "pcall",
            "coroutines",
            "metamethods",
            "callbacks_of_c_functions",
            "sockets_open",
        ] {
            let source = format!("return contexts.{context}(...)");
            let mut once = load(
                &rt,
                &sandbox(),
                &format!("{CONTEXTS}\nfunction go(...) {source} end"),
            )
            .await;
            assert_eq!(
                call(&mut once, "go", &[LuaValue::Integer(port.into())]).await,
                vec![LuaValue::Boolean(true)],
                "{context}"
            );
        }
        // all of it again in one plugin, one after another
        let all = r#"
            function all(port)
                for _, name in ipairs({"pcall", "coroutines", "metamethods",
                        "callbacks_of_c_functions", "sockets_open"}) do
                    assert(contexts[name](port), name)
                end
                return true
            end
        "#;
        let mut plugin = load(&rt, &sandbox(), &format!("{CONTEXTS}\n{all}")).await;
        assert_eq!(
            call(&mut plugin, "all", &[LuaValue::Integer(port.into())]).await,
            vec![LuaValue::Boolean(true)]
        );
    });
}

#[test]
fn async_host_functions_await_real_io_without_blocking_other_plugins() {
    let mut rt = runtime();
    rt.host_fn_async("ask", |port: u16, line: String| async move {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let (read, mut write) = stream.into_split();
        write.write_all(format!("{line}\n").as_bytes()).await?;
        let mut answer = String::new();
        BufReader::new(read).read_line(&mut answer).await?;
        Ok::<_, HostError>(answer.trim_end().to_owned())
    })
    .host_fn_async("sleep_ms", |ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    });
    let source = r#"
        local host = require "host"
        function ask(port, n)
            local answers = {}
            for i = 1, n do answers[i] = host.ask(port, "hello " .. i) end
            assert(answers[n] == "HELLO " .. n, answers[n])
            return answers[1]
        end
        function nap(ms) return host.sleep_ms(ms) end
    "#;
    // One thread: plugins waiting in a host function must leave it to the others.
    block_on(async {
        let port = upper_peer().await;
        let mut plugin = load(&rt, &sandbox(), source).await;
        assert_eq!(
            call(
                &mut plugin,
                "ask",
                &[LuaValue::Integer(port.into()), LuaValue::Integer(50)]
            )
            .await,
            vec![s("HELLO 1")]
        );
        const PLUGINS: usize = 20;
        let mut plugins = Vec::new();
        for _ in 0..PLUGINS {
            plugins.push(load(&rt, &sandbox(), source).await);
        }
        let started = Instant::now();
        let naps = plugins
            .iter_mut()
            .map(|p| async move { call(p, "nap", &[LuaValue::Integer(300)]).await });
        let results = futures_join_all(naps).await;
        let elapsed = started.elapsed();
        assert!(results.iter().all(|r| r == &[LuaValue::Integer(300)]));
        assert!(
            elapsed < Duration::from_millis(300 * PLUGINS as u64 / 4),
            "{PLUGINS} naps of 300 ms took {elapsed:?}: they did not overlap"
        );
    });
}

/// Awaits every future concurrently, in this task (they borrow the plugins, so they
/// cannot be spawned).
async fn futures_join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

#[test]
fn limits_keep_applying_across_host_calls() {
    let mut rt = runtime();
    rt.host_fn_async("sleep_ms", |ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    })
    .host_fn("noop", || ())
    .host_fn("blob", |n: usize| vec![b'x'; n]);
    let source = r#"
        local host = require "host"
        function nap(ms) host.sleep_ms(ms) return "rested" end
        function busy() while true do host.noop() end end
        function blob(n) return #host.blob(n) end
        function hoard(n)
            local kept = {}
            for i = 1, 1e6 do kept[i] = host.blob(n) end
        end
    "#;
    let limited = |limits: Limits| Sandbox {
        limits,
        ..sandbox()
    };
    block_on(async {
        // Wall clock: the limit fires while the host function is still waiting.
        let mut napping = load(
            &rt,
            &limited(Limits {
                timeout: Some(Duration::from_millis(300)),
                ..Limits::default()
            }),
            source,
        )
        .await;
        let started = Instant::now();
        match napping.call("nap", &[LuaValue::Integer(10_000)]).await {
            Err(CallError::Limit(Limit::WallClock(_))) => {}
            other => panic!("{other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(
            napping.call("nap", &[LuaValue::Integer(1)]).await,
            Err(CallError::Unusable)
        ));

        // CPU: time waiting in the host is not the plugin's CPU time, Lua's loop around
        // host calls is.
        let cpu = Limits {
            cpu: Some(Duration::from_millis(200)),
            timeout: Some(Duration::from_secs(30)),
            ..Limits::default()
        };
        let mut waiting = load(&rt, &limited(cpu.clone()), source).await;
        assert_eq!(
            call(&mut waiting, "nap", &[LuaValue::Integer(600)]).await,
            vec![s("rested")]
        );
        let mut spinning = load(&rt, &limited(cpu), source).await;
        match spinning.call("busy", &[]).await {
            Err(CallError::Limit(Limit::Cpu(_))) => {}
            other => panic!("{other:?}"),
        }

        // Memory: a result too large for the plugin's memory stops it.
        let memory = Limits {
            max_memory: Some(32 << 20),
            ..Limits::default()
        };
        let mut small = load(&rt, &limited(memory.clone()), source).await;
        assert_eq!(
            call(&mut small, "blob", &[LuaValue::Integer(1 << 20)]).await,
            vec![LuaValue::Integer(1 << 20)]
        );
        match small.call("blob", &[LuaValue::Integer(64 << 20)]).await {
            Err(CallError::Limit(Limit::Memory(_))) => {}
            other => panic!("{other:?}"),
        }
        // Results kept in Lua fill its heap: a catchable "not enough memory" first.
        let mut hoarder = load(&rt, &limited(memory), source).await;
        match hoarder.call("hoard", &[LuaValue::Integer(1 << 20)]).await {
            Err(CallError::Failed(f)) => {
                assert!(format!("{f:?}").contains("not enough memory"), "{f:?}")
            }
            Err(CallError::Limit(Limit::Memory(_))) => {}
            other => panic!("{other:?}"),
        }
        // None of it touched the others.
        assert_eq!(
            call(&mut waiting, "blob", &[LuaValue::Integer(10)]).await,
            vec![LuaValue::Integer(10)]
        );
    });
}

#[test]
fn functions_per_sandbox_and_the_module_name() {
    let mut rt = runtime();
    rt.host_fn("whoami", || "the runtime")
        .host_fn("shared", || 1i64);
    let own = Sandbox {
        functions: HostFunctions::new()
            .with("whoami", || "this plugin")
            .with("mine", || true),
        ..sandbox()
    };
    let source = r#"
        local host = require "host"
        function names()
            local names = {}
            for k in pairs(host) do names[#names + 1] = k end
            table.sort(names)
            return table.concat(names, ","), host.whoami()
        end
    "#;
    block_on(async {
        let mut plain = load(&rt, &sandbox(), source).await;
        assert_eq!(
            call(&mut plain, "names", &[]).await,
            vec![s("shared,whoami"), s("the runtime")]
        );
        let mut special = load(&rt, &own, source).await;
        assert_eq!(
            call(&mut special, "names", &[]).await,
            vec![s("mine,shared,whoami"), s("this plugin")]
        );
        // functions added later reach only plugins made later
        rt.host_fn("late", || ());
        assert_eq!(
            call(&mut plain, "names", &[]).await,
            vec![s("shared,whoami"), s("the runtime")]
        );
        let mut later = load(&rt, &sandbox(), source).await;
        assert_eq!(
            call(&mut later, "names", &[]).await,
            vec![s("late,shared,whoami"), s("the runtime")]
        );

        rt.host_module("app");
        let mut renamed = load(
            &rt,
            &sandbox(),
            r#"function go() return require("app").whoami(), pcall(require, "host") end"#,
        )
        .await;
        let got = call(&mut renamed, "go", &[]).await;
        assert_eq!(got[..2], [s("the runtime"), LuaValue::Boolean(false)]);

        rt.host_module("socket");
        match rt.load_plugin(&sandbox(), "=p", b"return 1").await {
            Err(e) => assert!(
                e.to_string()
                    .contains("the host's module name 'socket' is a built-in module's"),
                "{e}"
            ),
            Ok(_) => panic!("a host module may not take a built-in's name"),
        }
    });
}

#[test]
fn the_command_world_has_no_host_module() {
    let mut rt = Runtime::with_options(RuntimeOptions {
        cache_dir: Some(common::cache_dir()),
        world: World::Command,
        ..RuntimeOptions::default()
    })
    .unwrap();
    rt.host_fn("f", || 1i64);
    block_on(async {
        let mut plugin = load(
            &rt,
            &sandbox(),
            r#"function go() return (pcall(require, "host")) end"#,
        )
        .await;
        assert_eq!(
            call(&mut plugin, "go", &[]).await,
            vec![LuaValue::Boolean(false)]
        );
    });
}

#[test]
fn a_thousand_plugins_call_a_shared_host_api_concurrently() {
    const N: usize = 1000;
    const CALLS: i64 = 10;
    luasocket_wasi_host::runtime::raise_descriptor_limit();
    let store: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let async_calls = Arc::new(AtomicUsize::new(0));
    let mut rt = runtime();
    let kv = store.clone();
    let counted = async_calls.clone();
    rt.host_fn("incr", move |key: String, by: i64| {
        let mut kv = kv.lock().unwrap();
        let v = kv.entry(key).or_default();
        *v += by;
        *v
    })
    .host_fn_async("tick", move || {
        let counted = counted.clone();
        async move {
            tokio::task::yield_now().await;
            counted.fetch_add(1, Ordering::Relaxed)
        }
    });
    let source = r#"
        local host = require "host"
        function work(calls)
            local id = host.whoami()
            for i = 1, calls do
                host.incr("total", 1)
                host.incr("plugin " .. id, i)
                host.tick()
            end
            return id
        end
    "#;
    let rt = Arc::new(rt);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let ids = tokio_rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(600), everything(rt, source))
            .await
            .expect("1,000 plugins within 10 minutes")
    });
    println!(
        "{N} plugins, {CALLS} rounds of 3 host calls each: {:?}",
        started.elapsed()
    );
    for (i, got) in ids.iter().enumerate() {
        assert_eq!(got, &[LuaValue::Integer(i as i64)]);
    }
    let store = store.lock().unwrap();
    assert_eq!(store["total"], N as i64 * CALLS);
    for i in 0..N {
        assert_eq!(store[&format!("plugin {i}")], CALLS * (CALLS + 1) / 2);
    }
    assert_eq!(async_calls.load(Ordering::Relaxed), N * CALLS as usize);
}

/// Loads N plugins, each with its own `whoami`, then has them all `work` at once.
async fn everything(rt: Arc<Runtime>, source: &'static str) -> Vec<Vec<LuaValue>> {
    const N: usize = 1000;
    const CALLS: i64 = 10;
    {
        // Every plugin is loaded before any calls: all 1,000 are alive at once.
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let rt = rt.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let sandbox = Sandbox {
                        functions: HostFunctions::new().with("whoami", move || i as i64),
                        limits: Limits {
                            timeout: Some(Duration::from_secs(120)),
                            ..Limits::default()
                        },
                        ..sandbox()
                    };
                    let mut plugin = load(&rt, &sandbox, source).await;
                    barrier.wait().await;
                    call(&mut plugin, "work", &[LuaValue::Integer(CALLS)]).await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids
    }
}
