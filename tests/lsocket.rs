//! lsocket (`require "lsocket"`, lua/lsocket.lua) in the component: its test script with
//! both peers in the sandbox, then native peers on loopback (std's TcpListener,
//! TcpStream, UdpSocket) talking to lsocket clients and servers, both address families.
//!
//! Every run mounts the repository's `lua/` at `/lua`, where `require` looks first, so
//! these tests exercise the file in the tree whether or not the component embeds it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Output};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::peers::echo_peer;
use common::*;

/// Loopback, `localhost` (the script resolves it) and the wildcard addresses (it binds
/// INADDR_ANY and IN6ADDR_ANY). 10.1.2.3 stays denied: the script relies on that.
const NET: &str = "--allow-net=127.0.0.1,[::1],localhost,0.0.0.0,[::]";

/// Runs an lsocket chunk to completion (`lua_dir` makes `require "lsocket"` find
/// lua/lsocket.lua).
fn run(chunk: &str) -> Output {
    lua(&[NET, "--timeout", "30", "--dir", &lua_dir()], chunk)
}

/// Starts an lsocket chunk whose output is read line by line while it runs.
fn spawn(chunk: &str) -> Child {
    spawn_lua(&[NET, "--timeout", "60", "--dir", &lua_dir()], chunk)
}

/// A port nobody listens on (it was just free).
fn free_tcp_port(bind: &str) -> u16 {
    TcpListener::bind(bind)
        .expect("bind")
        .local_addr()
        .expect("local address")
        .port()
}

#[test]
fn the_lsocket_test_script_passes_with_both_peers_in_the_sandbox() {
    let options = [NET, "--timeout", "60", "--dir", &lua_dir()];
    let out = run_test_script(&options, "lsocket_test.lua", &[]);
    assert_eq!(ok(&out), "ok\n");
}

/// A native line server: answers each line in upper case; "bye" gets "BYE" and a close.
fn upper_server(bind: &str) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind(bind).expect("bind");
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut writer = stream.try_clone().unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            if n == 0 {
                return;
            }
            let word = line.trim_end();
            if word == "bye" {
                writer.write_all(b"BYE\n").unwrap();
                return; // dropping both halves closes the connection
            }
            writer
                .write_all(format!("{}\n", word.to_uppercase()).as_bytes())
                .unwrap();
        }
    });
    (port, handle)
}

/// An lsocket client: connect, select for writing, status, lines both ways, the close.
const TCP_CLIENT: &str = r#"
local ls = require("lsocket")
local host, port = "__HOST__", __PORT__
local c = assert(ls.connect(host, port))
local function wait(r, w)
    local a, b = ls.select(r, w, 10)
    assert(a, "select timed out")
    return a, b
end
wait(nil, { c })
assert(c:status() == true, "connected")
local peer = c:info("peer")
print(c:info().family, peer.addr, peer.port == port)
local buf = ""
local function line()
    while not buf:find("\n", 1, true) do
        wait({ c })
        local data = c:recv()
        assert(type(data) == "string", "expected data, got " .. tostring(data))
        buf = buf .. data
    end
    local l, rest = buf:match("^(.-)\n(.*)$")
    buf = rest
    return l
end
for _, w in ipairs({ "one", "two" }) do
    assert(c:send(w .. "\n") == #w + 1)
    print(line())
end
assert(c:send("bye\n") == 4)
print(line())
wait({ c })
print(select('#', c:recv()), c:recv())
print(c:close())
"#;

fn lsocket_client(host: &str, bind: &str) {
    let (port, server) = upper_server(bind);
    let out = run(&TCP_CLIENT
        .replace("__HOST__", host)
        .replace("__PORT__", &port.to_string()));
    server.join().unwrap();
    let family = if host.contains(':') { "inet6" } else { "inet" };
    assert_eq!(
        ok(&out),
        format!("{family}\t{host}\ttrue\nONE\nTWO\nBYE\n1\tnil\ntrue\n")
    );
}

#[test]
fn an_lsocket_client_talks_to_a_native_server_over_ipv4() {
    lsocket_client("127.0.0.1", "127.0.0.1:0");
}

#[test]
fn an_lsocket_client_talks_to_a_native_server_over_ipv6() {
    lsocket_client("::1", "[::1]:0");
}

/// An lsocket server driven by select: echoes in upper case to every client until each
/// closes.
const TCP_SERVER: &str = r#"
io.stdout:setvbuf("no")
local ls = require("lsocket")
local server = assert(ls.bind("__HOST__", 0))
print(server:info("socket").port)
local clients, served = {}, 0
while served < 2 do
    local reads = { server }
    for _, c in ipairs(clients) do reads[#reads + 1] = c end
    local ready = assert(ls.select(reads, 10), "select timed out")
    for _, s in ipairs(ready) do
        if s == server then
            local c, addr = assert(server:accept())
            clients[#clients + 1] = c
            print("from " .. addr)
        else
            local data = s:recv()
            assert(data ~= false, "select reported a socket with nothing to read")
            if data == nil then
                served = served + 1
                for i, c in ipairs(clients) do
                    if c == s then table.remove(clients, i) break end
                end
                s:close()
            else
                assert(s:send(data:upper()) == #data)
            end
        end
    end
end
print("served " .. served)
"#;

fn lsocket_server(host: &str) {
    let mut child = spawn(&TCP_SERVER.replace("__HOST__", host));
    let mut lines = Lines::of(&mut child);
    let (child, port) = read_port(child, &mut lines);
    let mut a = TcpStream::connect((host, port)).unwrap();
    let mut b = TcpStream::connect((host, port)).unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    // The two conversations interleave: the server serves both at once.
    for (word, upper) in [("hello", b"HELLO"), ("world", b"WORLD")] {
        a.write_all(word.as_bytes()).unwrap();
        b.write_all(word.as_bytes()).unwrap();
        let mut got = [0u8; 5];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, upper);
        a.read_exact(&mut got).unwrap();
        assert_eq!(&got, upper);
    }
    drop(a);
    drop(b);
    assert_eq!(lines.next(), format!("from {host}"));
    assert_eq!(lines.next(), format!("from {host}"));
    assert_eq!(lines.next(), "served 2");
    let out = wait_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn native_clients_talk_to_an_lsocket_server_over_ipv4() {
    lsocket_server("127.0.0.1");
}

#[test]
fn native_clients_talk_to_an_lsocket_server_over_ipv6() {
    lsocket_server("::1");
}

#[test]
fn send_answers_false_when_a_native_peer_stops_reading_and_loses_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go, wait_for_go) = mpsc::channel::<u64>();
    // Reads nothing until told how much was sent, then checks every byte of it.
    let reader = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let total = wait_for_go.recv().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got: u64 = 0;
        while got < total {
            let want = usize::try_from(total - got)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = s.read(&mut buf[..want]).unwrap();
            assert!(n > 0, "the stream ended after {got} of {total} bytes");
            for (i, b) in buf[..n].iter().enumerate() {
                let at = got + i as u64;
                assert_eq!(u64::from(*b), at % 256, "byte {at}");
            }
            got += n as u64;
        }
        s.write_all(b"done").unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "{} bytes more than send reported",
            rest.len()
        );
    });
    let script = r#"
        io.stdout:setvbuf("no")
        local ls = require("lsocket")
        local c = assert(ls.connect("127.0.0.1", __PORT__))
        assert(ls.select(nil, { c }, 10), "connect timed out")
        assert(c:status())
        local bytes = {}
        for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
        local chunk = string.rep(table.concat(bytes), 256) -- 64 KiB, period 256
        local pending, total = chunk, 0
        while true do
            local n = c:send(pending)
            if n == false then break end
            assert(n, "send failed")
            total = total + n
            pending = pending:sub(n + 1)
            if pending == "" then pending = chunk end
            assert(total < 1 << 30, "send never answered false")
        end
        print("blocked " .. total)
        assert(ls.select({ c }, 30), "no acknowledgement")
        print(c:recv())
        print(c:close())
    "#
    .replace("__PORT__", &port.to_string());
    let mut child = spawn(&script);
    let mut lines = Lines::of(&mut child);
    let first = lines.next();
    let Some(total) = first
        .strip_prefix("blocked ")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        let out = wait_within(child, Duration::from_secs(30));
        panic!(
            "expected \"blocked N\", got {first:?}\nstderr: {}",
            stderr(&out)
        );
    };
    assert!(total > 0, "something was sent before the buffers filled");
    go.send(total).unwrap();
    assert_eq!(lines.next(), "done");
    assert_eq!(lines.next(), "true");
    let out = wait_within(child, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    reader.join().unwrap();
}

#[test]
fn connecting_to_a_closed_native_port_is_refused() {
    let port = free_tcp_port("127.0.0.1:0");
    let script = r#"
        local ls = require("lsocket")
        local c, err = ls.connect("127.0.0.1", __PORT__)
        if c then
            -- connect returned at once; select for writing, then status tells.
            assert(ls.select(nil, { c }, 10), "the connect never finished")
            print(c:status())
        else
            print(c, err)
        end
    "#
    .replace("__PORT__", &port.to_string());
    assert_eq!(ok(&run(&script)), "nil\tconnection refused\n");
}

fn udp_with_a_native_peer(host: &str, bind: &str) {
    let (port, peer) = echo_peer(bind);
    let script = r#"
        local ls = require("lsocket")
        local host, port = "__HOST__", __PORT__
        local function wait(s) assert(ls.select({ s }, 10), "select timed out") end
        -- connected: send and recv
        local c = assert(ls.connect("udp", host, port))
        print(c:send("hello"))
        wait(c)
        print(c:recv())
        -- bound: sendto and recvfrom
        local u = assert(ls.bind("udp", host, 0))
        print(u:sendto("abc", host, port))
        wait(u)
        local data, addr, p = u:recvfrom()
        print(data, addr, p == port, math.type(p))
        print(u:recvfrom())
        c:send("stop")
        print(c:close(), u:close())
    "#
    .replace("__HOST__", host)
    .replace("__PORT__", &port.to_string());
    let out = run(&script);
    peer.join().unwrap();
    assert_eq!(
        ok(&out),
        format!("5\nolleh\n3\ncba\t{host}\ttrue\tinteger\nfalse\ntrue\ttrue\n")
    );
}

#[test]
fn lsocket_udp_with_a_native_peer_over_ipv4() {
    udp_with_a_native_peer("127.0.0.1", "127.0.0.1:0");
}

#[test]
fn lsocket_udp_with_a_native_peer_over_ipv6() {
    udp_with_a_native_peer("::1", "[::1]:0");
}

#[test]
fn a_native_udp_client_talks_to_an_lsocket_udp_server() {
    let script = r#"
        io.stdout:setvbuf("no")
        local ls = require("lsocket")
        local u = assert(ls.bind("udp", "127.0.0.1", 0))
        print(u:info("socket").port)
        for _ = 1, 3 do
            assert(ls.select({ u }, 10), "select timed out")
            local data, addr, port = u:recvfrom(4)
            assert(u:sendto(data:upper(), addr, port) == #data)
        end
        print("done")
    "#;
    let mut child = spawn(script);
    let mut lines = Lines::of(&mut child);
    let (child, port) = read_port(child, &mut lines);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    for word in ["abc", "longer than four", "xy"] {
        client
            .send_to(word.as_bytes(), ("127.0.0.1", port))
            .unwrap();
        let n = client.recv(&mut buf).unwrap();
        let expect = word.chars().take(4).collect::<String>().to_uppercase();
        assert_eq!(
            &buf[..n],
            expect.as_bytes(),
            "recvfrom(4) truncates the datagram"
        );
    }
    assert_eq!(lines.next(), "done");
    let out = wait_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn denied_addresses_and_unix_paths_are_error_returns() {
    // No --allow-net rule covers 127.0.0.2 here: connect answers nil, message.
    let dir = lua_dir();
    let out = lua(
        &["--allow-net=127.0.0.1", "--dir", dir.as_str()],
        r#"
        local ls = require("lsocket")
        print(ls.connect("127.0.0.2", 80))
        print(ls.connect("udp", "127.0.0.2", 80))
        print(ls.bind("/tmp/x.sock"))
        "#,
    );
    assert_eq!(
        ok(&out),
        "nil\tpermission denied\nnil\tpermission denied\n\
         nil\tunix domain sockets are not available: WASI 0.2 has no Unix-domain sockets\n"
    );
}
