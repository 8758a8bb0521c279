//! The exported WIT interfaces driven from a Rust host, no Lua involved: tcp, udp, dns
//! and select against native peers (errors and timeouts included), plugin calls with
//! every value type, many concurrent instances, and isolation between them.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use luasocket_wasi_host::bindings::exports::luasocket::socket::select::Socket;
use luasocket_wasi_host::bindings::exports::luasocket::socket::tcp::{
    Class, Family, Pattern, Timeouts,
};
use luasocket_wasi_host::bindings::exports::luasocket::socket::types::{ErrorCode, OptionValue};
use luasocket_wasi_host::{CallError, Instance, Limits, LuaValue, Outcome, Sandbox};

use common::embedder::{block_on_unconstrained, capturing_sandbox, runtime};

fn loopback() -> Sandbox {
    capturing_sandbox("127.0.0.1,[::1],localhost")
}

async fn instance() -> Instance {
    runtime().instantiate(&loopback()).await.expect("instance")
}

#[test]
fn tcp_resource_against_a_native_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut out = stream.try_clone().unwrap();
        let mut lines = BufReader::new(stream).lines();
        let line = lines.next().unwrap().unwrap();
        out.write_all(format!("{}\nsecond line\nrest", line.to_uppercase()).as_bytes())
            .unwrap();
        // Keep the connection open a while so a receive can time out.
        thread::sleep(Duration::from_millis(400));
    });
    block_on_unconstrained(async {
        let mut inst = instance().await;
        let (store, exports) = inst.parts();
        let tcp = exports.luasocket_socket_tcp();
        let sock = tcp
            .call_create(&mut *store, Some(Family::Inet4))
            .await
            .unwrap()
            .unwrap();
        let methods = tcp.tcp_socket();
        assert_eq!(
            methods.call_class(&mut *store, sock).await.unwrap(),
            Class::Master
        );
        methods
            .call_connect(&mut *store, sock, "127.0.0.1", port)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            methods.call_class(&mut *store, sock).await.unwrap(),
            Class::Client
        );
        assert_eq!(
            methods
                .call_send(&mut *store, sock, b"hello\n")
                .await
                .unwrap()
                .unwrap(),
            6
        );
        let line = methods
            .call_receive(&mut *store, sock, Pattern::Line, &[], None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, b"HELLO");
        let first3 = methods
            .call_receive(&mut *store, sock, Pattern::Bytes(3), b"", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first3, b"sec");
        assert!(methods.call_dirty(&mut *store, sock).await.unwrap());
        // maxsize cut-off, nothing lost
        let cut = methods
            .call_receive(&mut *store, sock, Pattern::Line, b"", Some(4))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (cut.code, cut.partial.as_slice()),
            (ErrorCode::Oversized, &b"ond "[..])
        );
        let rest = methods
            .call_receive(&mut *store, sock, Pattern::Line, &cut.partial, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rest, b"ond line");
        // a timeout hands back the partial data
        methods
            .call_set_timeouts(
                &mut *store,
                sock,
                Timeouts {
                    block: Some(0.1),
                    total: None,
                },
            )
            .await
            .unwrap();
        let timed_out = methods
            .call_receive(&mut *store, sock, Pattern::All, b"", None)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (timed_out.code, timed_out.partial.as_slice()),
            (ErrorCode::Timeout, &b"rest"[..])
        );
        let t = methods.call_get_timeouts(&mut *store, sock).await.unwrap();
        assert_eq!((t.block, t.total), (Some(0.1), None));
        // the peer closes: "*a" with what arrived before is a success, then closed
        methods
            .call_set_timeouts(
                &mut *store,
                sock,
                Timeouts {
                    block: None,
                    total: None,
                },
            )
            .await
            .unwrap();
        let all = methods
            .call_receive(&mut *store, sock, Pattern::All, b"", None)
            .await
            .unwrap();
        assert_eq!(all.unwrap_err().code, ErrorCode::Closed);
        let peer = methods
            .call_remote_address(&mut *store, sock)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((peer.ip.as_str(), peer.port), ("127.0.0.1", port));
        let stats = methods.call_stats(&mut *store, sock).await.unwrap();
        assert_eq!((stats.received, stats.sent), (22, 6));
        methods.call_close(&mut *store, sock).await.unwrap();
        assert_eq!(methods.call_fd(&mut *store, sock).await.unwrap(), -1);
        sock.resource_drop_async(&mut *store).await.unwrap();
    });
    server.join().unwrap();
}

#[test]
fn tcp_errors_options_and_a_server_resource() {
    let refused_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    block_on_unconstrained(async {
        let mut inst = instance().await;
        let (store, exports) = inst.parts();
        let tcp = exports.luasocket_socket_tcp();
        let methods = tcp.tcp_socket();
        let c = tcp.call_create(&mut *store, None).await.unwrap().unwrap();
        assert_eq!(
            methods
                .call_connect(&mut *store, c, "127.0.0.1", refused_port)
                .await
                .unwrap(),
            Err(ErrorCode::ConnectionRefused)
        );
        // The connect reported the failure itself: nothing is left pending.
        assert_eq!(methods.call_last_error(&mut *store, c).await.unwrap(), None);
        // As Linux's connect(2) after one that failed: ECONNABORTED once, then afresh.
        assert_eq!(
            methods
                .call_connect(&mut *store, c, "127.0.0.1", refused_port)
                .await
                .unwrap(),
            Err(ErrorCode::Closed)
        );
        assert_eq!(
            methods
                .call_connect(&mut *store, c, "10.1.2.3", 80)
                .await
                .unwrap(),
            Err(ErrorCode::PermissionDenied)
        );
        // a server in the instance, a native client
        let s = tcp
            .call_create(&mut *store, Some(Family::Inet6))
            .await
            .unwrap()
            .unwrap();
        methods
            .call_bind(&mut *store, s, "::1", 0)
            .await
            .unwrap()
            .unwrap();
        methods
            .call_listen(&mut *store, s, 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            methods.call_class(&mut *store, s).await.unwrap(),
            Class::Server
        );
        let port = methods
            .call_local_address(&mut *store, s)
            .await
            .unwrap()
            .unwrap()
            .port;
        let client = thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(("::1", port)).unwrap();
            c.write_all(b"ping\n").unwrap();
        });
        let conn = methods.call_accept(&mut *store, s).await.unwrap().unwrap();
        let got = methods
            .call_receive(&mut *store, conn, Pattern::Line, b"", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, b"ping");
        client.join().unwrap();
        // options: real, remembered, refused, unknown
        assert_eq!(
            methods
                .call_set_option(&mut *store, conn, "keepalive", &OptionValue::Boolean(true))
                .await
                .unwrap(),
            Ok(())
        );
        assert!(matches!(
            methods
                .call_get_option(&mut *store, conn, "keepalive")
                .await
                .unwrap(),
            Ok(OptionValue::Boolean(true))
        ));
        assert_eq!(
            methods
                .call_set_option(
                    &mut *store,
                    conn,
                    "tcp-nodelay",
                    &OptionValue::Boolean(true)
                )
                .await
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            methods
                .call_set_option(&mut *store, conn, "reuseport", &OptionValue::Boolean(true))
                .await
                .unwrap(),
            Err(ErrorCode::SetsockoptFailed)
        );
        assert_eq!(
            methods
                .call_set_option(&mut *store, conn, "nope", &OptionValue::Boolean(true))
                .await
                .unwrap(),
            Err(ErrorCode::InvalidArgument)
        );
        assert_eq!(
            methods
                .call_set_option(&mut *store, conn, "keepalive", &OptionValue::Integer(1))
                .await
                .unwrap(),
            Err(ErrorCode::InvalidArgument)
        );
        // accept with a zero timeout and nobody waiting
        methods
            .call_set_timeouts(
                &mut *store,
                s,
                Timeouts {
                    block: Some(0.0),
                    total: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            methods.call_accept(&mut *store, s).await.unwrap().err(),
            Some(ErrorCode::Timeout)
        );
        let types = exports.luasocket_socket_types();
        assert_eq!(
            types
                .call_message(&mut *store, ErrorCode::ConnectionRefused)
                .await
                .unwrap(),
            "connection refused"
        );
    });
}

#[test]
fn udp_dns_and_select_resources() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer_port = peer.local_addr().unwrap().port();
    block_on_unconstrained(async {
        let mut inst = instance().await;
        let (store, exports) = inst.parts();
        let udp = exports.luasocket_socket_udp();
        let um = udp.udp_socket();
        let u = udp.call_create(&mut *store, None).await.unwrap().unwrap();
        assert_eq!(
            um.call_send_to(&mut *store, u, b"datagram", "127.0.0.1", peer_port)
                .await
                .unwrap(),
            Ok(8)
        );
        let mut buf = [0u8; 64];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"datagram");
        // select: nothing yet, then the reply
        let tcp = exports.luasocket_socket_tcp();
        let idle = tcp.call_create(&mut *store, None).await.unwrap().unwrap();
        let select = exports.luasocket_socket_select();
        let read = [Socket::Tcp(idle), Socket::Udp(u)];
        let ready = select
            .call_select(&mut *store, &read, &[], Some(0.05))
            .await
            .unwrap();
        assert!(ready.readable.is_empty() && ready.writable.is_empty());
        peer.send_to(b"reply", from).unwrap();
        let ready = select
            .call_select(&mut *store, &read, &[], Some(5.0))
            .await
            .unwrap();
        assert_eq!((ready.readable, ready.writable), (vec![1], vec![]));
        let ready = select
            .call_select(
                &mut *store,
                &[],
                &[Socket::Tcp(idle), Socket::Udp(u)],
                Some(0.0),
            )
            .await
            .unwrap();
        assert_eq!((ready.readable, ready.writable), (vec![], vec![1]));
        let d = um
            .call_receive(&mut *store, u, Some(3))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((d.data.as_slice(), d.from.port), (&b"rep"[..], peer_port));
        um.call_set_timeouts(
            &mut *store,
            u,
            luasocket_wasi_host::bindings::exports::luasocket::socket::udp::Timeouts {
                block: Some(0.05),
                total: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(
            um.call_receive(&mut *store, u, None).await.unwrap().err(),
            Some(ErrorCode::Timeout)
        );
        // dns
        let dns = exports.luasocket_socket_dns();
        let entry = dns
            .call_to_ip(&mut *store, "localhost")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.ips.first().map(String::as_str), Some("127.0.0.1"));
        assert_eq!(
            dns.call_to_ip(&mut *store, "example.org")
                .await
                .unwrap()
                .err(),
            Some(ErrorCode::PermissionDenied)
        );
        let infos = dns
            .call_get_addr_info(&mut *store, "::1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(infos[0].addr, "::1");
        assert_eq!(
            dns.call_get_name_info(&mut *store, None, None)
                .await
                .unwrap()
                .err(),
            Some(ErrorCode::InvalidArgument)
        );
        assert_eq!(
            dns.call_get_hostname(&mut *store).await.unwrap(),
            "localhost"
        );
    });
}

const PLUGIN: &str = r#"
    local socket = require("socket")
    function echo(...) return ... end
    function describe(t) return { n = #t.list, first = t.list[1], name = t.name, nested = { ok = true } } end
    function fetch(port)
        local c = assert(socket.connect("127.0.0.1", port))
        c:send("GET\n")
        local line = assert(c:receive())
        c:close()
        return line
    end
    function fails() error("plugin failure") end
    function spin() while true do end end
    function bomb() local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(1e6) .. i end end
    function cyclic() local t = {} t.self = t return t end
    calls = 0
    function count() calls = calls + 1 return calls end
"#;

#[test]
fn plugin_calls_with_every_value_type() {
    block_on_unconstrained(async {
        let mut plugin = runtime()
            .load_plugin(&loopback(), "=plugin", PLUGIN.as_bytes())
            .await
            .unwrap();
        let values = vec![
            LuaValue::Nil,
            LuaValue::Boolean(true),
            LuaValue::Integer(-7),
            LuaValue::Number(2.5),
            LuaValue::string("text"),
            LuaValue::String(vec![0xff, 0x00, 0x80]),
            LuaValue::Sequence(vec![LuaValue::Integer(1), LuaValue::string("two")]),
            LuaValue::Table(vec![
                (LuaValue::string("k"), LuaValue::Boolean(false)),
                (LuaValue::Integer(10), LuaValue::Number(0.5)),
            ]),
        ];
        let back = plugin.call("echo", &values).await.unwrap();
        assert_eq!(back.len(), values.len());
        for (got, sent) in back.iter().zip(&values) {
            match (got, sent) {
                (LuaValue::Table(g), LuaValue::Table(s)) => {
                    assert_eq!(g.len(), s.len());
                    assert!(s.iter().all(|pair| g.contains(pair)));
                }
                _ => assert_eq!(got, sent),
            }
        }
        let arg = LuaValue::Table(vec![
            (
                LuaValue::string("list"),
                LuaValue::Sequence(vec![LuaValue::string("a"), LuaValue::string("b")]),
            ),
            (LuaValue::string("name"), LuaValue::string("x")),
        ]);
        let described = plugin.call("describe", &[arg]).await.unwrap();
        let t = &described[0];
        assert_eq!(t.get("n"), Some(&LuaValue::Integer(2)));
        assert_eq!(t.get("first").and_then(LuaValue::as_str), Some("a"));
        assert_eq!(
            t.get("nested").and_then(|n| n.get("ok")),
            Some(&LuaValue::Boolean(true))
        );
        // state persists between calls
        assert_eq!(
            plugin.call("count", &[]).await.unwrap(),
            vec![LuaValue::Integer(1)]
        );
        assert_eq!(
            plugin.call("count", &[]).await.unwrap(),
            vec![LuaValue::Integer(2)]
        );
        // errors come back with tracebacks; the plugin stays usable
        match plugin.call("fails", &[]).await {
            Err(CallError::Failed(f)) => assert!(
                format!("{f:?}").contains("plugin failure")
                    && format!("{f:?}").contains("stack traceback")
            ),
            other => panic!("{other:?}"),
        }
        match plugin.call("nothing_here", &[]).await {
            Err(CallError::Failed(f)) => {
                assert!(format!("{f:?}").contains("no function 'nothing_here'"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            plugin.call("cyclic", &[]).await,
            Err(CallError::Value(_))
        ));
        assert_eq!(
            plugin.call("count", &[]).await.unwrap(),
            vec![LuaValue::Integer(3)]
        );
    });
}

#[test]
fn a_plugin_that_hits_a_limit_is_stopped_and_others_carry_on() {
    let sandbox = Sandbox {
        limits: Limits {
            timeout: Some(Duration::from_millis(500)),
            max_memory: Some(64 << 20),
            ..Limits::default()
        },
        ..loopback()
    };
    block_on_unconstrained(async {
        let rt = runtime();
        let mut spinning = rt
            .load_plugin(&sandbox, "=plugin", PLUGIN.as_bytes())
            .await
            .unwrap();
        let roomy = Sandbox {
            limits: Limits {
                timeout: Some(Duration::from_secs(30)),
                ..sandbox.limits.clone()
            },
            ..sandbox.clone()
        };
        let mut healthy = rt
            .load_plugin(&roomy, "=plugin", PLUGIN.as_bytes())
            .await
            .unwrap();
        assert!(matches!(
            spinning.call("spin", &[]).await,
            Err(CallError::Limit(luasocket_wasi_host::Limit::WallClock(_)))
        ));
        assert!(matches!(
            spinning.call("count", &[]).await,
            Err(CallError::Unusable)
        ));
        assert_eq!(
            healthy.call("count", &[]).await.unwrap(),
            vec![LuaValue::Integer(1)]
        );
        // a memory bomb is a catchable error inside the plugin, reported as such
        match healthy.call("bomb", &[]).await {
            Err(CallError::Failed(f)) => assert!(format!("{f:?}").contains("not enough memory")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            healthy.call("count", &[]).await.unwrap(),
            vec![LuaValue::Integer(2)]
        );
    });
}

#[test]
fn a_thousand_concurrent_instances_each_fetch_over_tcp() {
    const N: usize = 1000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        for stream in listener.incoming().take(N) {
            let stream = stream.unwrap();
            thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut line = String::new();
                BufReader::new(stream).read_line(&mut line).unwrap();
                out.write_all(b"OK from native\n").unwrap();
            });
        }
    });
    luasocket_wasi_host::runtime::raise_descriptor_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rss_before = peak_rss_kib();
    let started = Instant::now();
    let done = rt.block_on(async move {
        let runtime = Arc::new(runtime());
        let script = Arc::new(format!(
            "local c = assert(require('socket').connect('127.0.0.1', {port})) c:send('hi\\n') local l = c:receive() c:close() return l"
        ));
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let runtime = runtime.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let invocation = luasocket_wasi_host::Invocation {
                        chunk_name: "=fetch".into(),
                        source: script.as_bytes().to_vec(),
                        args: vec![],
                        arg_table: vec![],
                    };
                    let result = runtime.run(&loopback(), invocation).await.unwrap();
                    matches!(result.outcome, Outcome::Returned(ref v) if v == &["OK from native"])
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap());
        }
        ok
    });
    let elapsed = started.elapsed();
    let rss_after = peak_rss_kib();
    server.join().unwrap();
    assert_eq!(done, N);
    println!(
        "{N} concurrent instances: {:.2} s wall, peak RSS grew {} KiB ({} KiB per instance)",
        elapsed.as_secs_f64(),
        rss_after.saturating_sub(rss_before),
        rss_after.saturating_sub(rss_before) / N as u64
    );
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
