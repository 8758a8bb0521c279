//! TCP through the component against native peers on loopback, both directions, both
//! address families: the first networking slice of LuaSocket.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use common::*;

/// A native line server: answers each line with its upper-case form, and "bye" with a
/// last line and a close.
fn upper_server(bind: &str) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind(bind).expect("bind");
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut writer = stream.try_clone().unwrap();
        for line in BufReader::new(stream).lines() {
            let line = line.unwrap();
            if line == "bye" {
                writer.write_all(b"BYE\r\nand some trailing bytes").unwrap();
                return;
            }
            writer
                .write_all(format!("{}\n", line.to_uppercase()).as_bytes())
                .unwrap();
        }
    });
    (port, handle)
}

const CLIENT: &str = r#"
local socket = require("socket")
local host, port = ...
local c = assert(socket.connect(host, tonumber(port)))
print(c:getfamily(), select(3, c:getpeername()))
for _, w in ipairs({"one", "two", "three"}) do
    local n, err, last, elapsed = c:send(w .. "\n")
    assert(n == #w + 1 and err == nil and last == nil and type(elapsed) == "number")
    print((c:receive()))
end
assert(c:send("bye\n"))
print((c:receive("*l")))
print((c:receive(4)))
print((c:receive("*a")))
local data, err, partial, elapsed = c:receive("*a")
print(data, err, partial, type(elapsed))
local received, sent = c:getstats()
print(received, sent)
print(c:close(), c:close())
"#;

fn lua_client(host: &str, bind: &str) {
    let (port, server) = upper_server(bind);
    let out = lua(
        &["--allow-net=127.0.0.1,[::1]", "--timeout", "30"],
        &format!(
            "local arg = {{ '{host}', '{port}' }} {}",
            CLIENT.replace("...", "table.unpack(arg)")
        ),
    );
    server.join().unwrap();
    let text = ok(&out);
    let family = if host.contains(':') {
        "inet6\tinet6"
    } else {
        "inet4\tinet"
    };
    assert_eq!(
        text,
        format!(
            "{family}\nONE\nTWO\nTHREE\nBYE\nand \nsome trailing bytes\nnil\tclosed\t\tnumber\n42.0\t18.0\n1.0\t1.0\n"
        )
    );
}

#[test]
fn lua_client_talks_to_a_native_server_over_ipv4() {
    lua_client("127.0.0.1", "127.0.0.1:0");
}

#[test]
fn lua_client_talks_to_a_native_server_over_ipv6() {
    lua_client("::1", "[::1]:0");
}

#[test]
fn a_native_client_talks_to_a_lua_server() {
    let script = r#"
        io.stdout:setvbuf("no")
        local socket = require("socket")
        local server = assert(socket.bind("127.0.0.1", 0))
        print((select(2, server:getsockname())))
        local c = assert(server:accept())
        local lines = 0
        while true do
            local line, err = c:receive()
            if not line then print("end: " .. err) break end
            lines = lines + 1
            assert(c:send(line:reverse() .. "\n"))
        end
        print("lines: " .. lines)
    "#;
    let mut cmd = cli();
    cmd.args(["--allow-net=127.0.0.1", "--timeout", "30", "-e", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = Lines::of(&mut child);
    let first = lines.next();
    let port: u16 = first
        .parse()
        .unwrap_or_else(|_| panic!("the server prints its port, not {first:?}"));
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for word in ["wasm", "lua", "socket"] {
        stream.write_all(format!("{word}\r\n").as_bytes()).unwrap();
        let mut echo = String::new();
        reader.read_line(&mut echo).unwrap();
        assert_eq!(
            echo,
            format!("{}\n", word.chars().rev().collect::<String>())
        );
    }
    drop(stream);
    drop(reader);
    assert_eq!(lines.next(), "end: closed");
    assert_eq!(lines.next(), "lines: 3");
    let out = wait_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_timeout_returns_the_partial_data() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"partial line").unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        rest
    });
    let script = format!(
        r#"
        local socket = require("socket")
        local c = assert(socket.connect("127.0.0.1", {port}))
        c:settimeout(0.2)
        local data, err, partial = c:receive()
        print(data, err, partial)
        -- the partial data is handed back, then passed as the prefix to continue
        c:settimeout(0.1)
        local d2, e2, p2 = c:receive("*l", partial)
        print(d2, e2, p2)
        print(c:gettimeout())
        c:send("done")
        c:close()
        "#
    );
    let out = lua(&["--allow-net=127.0.0.1", "--timeout", "30"], &script);
    assert_eq!(server.join().unwrap(), b"done");
    assert_eq!(
        ok(&out),
        "nil\ttimeout\tpartial line\nnil\ttimeout\tpartial line\n0.1\t-1.0\n"
    );
}

#[test]
fn connection_refused_and_bad_patterns() {
    // A port that was just free: nobody listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        r#"
        local socket = require("socket")
        local s = socket.tcp()
        print(s:connect("127.0.0.1", {port}))
        print(s.class, tostring(s):match("^tcp{{client}}: 0x%x+$") ~= nil)
        print(pcall(function() return s:receive("x") end))
        print(pcall(function() return s:receive(-1) end))
        print(pcall(function() return s:receive("*a", "", 0) end))
        "#
    );
    let out = lua(&["--allow-net=127.0.0.1"], &script);
    assert_eq!(
        ok(&out),
        "nil\tconnection refused\ntcp{client}\ttrue\n\
         false\t(command line):6: bad argument #1 to 'receive' (invalid receive pattern)\n\
         false\t(command line):7: bad argument #1 to 'receive' (invalid receive pattern)\n\
         false\t(command line):8: bad argument #3 to 'receive' (maxsize must be at least 1)\n"
    );
}

#[test]
fn gettime_and_sleep() {
    let out = lua(
        &[],
        "local s = require('socket') local t0 = s.gettime() s.sleep(0.2) local dt = s.gettime() - t0 return dt >= 0.19 and dt < 2, math.abs(t0 - os.time()) < 5",
    );
    assert_eq!(ok(&out), "true\ttrue\n");
}
