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

const NET: &str = "--allow-net=127.0.0.1,[::1]";

/// A non-blocking connect answers as LuaSocket on Linux: "timeout" first, even on
/// loopback; writable once done; then 1 from the next connect, and only after that
/// "already connected" (a 2009-era copas needs the 1).
#[test]
fn non_blocking_connect_the_luasocket_way() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        r#"
        local socket = require("socket")
        local c = socket.tcp()
        c:settimeout(0)
        local ok, err = c:connect("127.0.0.1", {port})
        print(ok, err, c.class)
        local _, w = socket.select(nil, {{c}}, 5)
        print(w[1] == c, w[c])
        print(c:connect("127.0.0.1", {port}))
        print(c:connect("127.0.0.1", {port}))
        print(c:getpeername())
        print(c:getoption("error"))
        -- asked again at once, without select: loopback has finished by then
        local d = socket.tcp()
        d:settimeout(0)
        print(d:connect("127.0.0.1", {port}))
        print(d:connect("127.0.0.1", {port}))
    "#
    );
    let out = lua(&[NET], &script);
    drop(listener);
    assert_eq!(
        ok(&out),
        format!(
            "nil\ttimeout\ttcp{{client}}\ntrue\t1.0\n1.0\nnil\talready connected\n\
             127.0.0.1\t{port}\tinet\nnil\nnil\ttimeout\n1.0\n"
        )
    );
}

/// A non-blocking connect to a closed port fails later, as on Linux: "timeout" first,
/// then the socket is writable (and readable) and the failure waits, like SO_ERROR, for
/// whoever asks first: `getoption("error")`, a connect, a send or a receive. Once told,
/// the socket is closed for sends and receives, and a connect starts afresh.
#[test]
fn a_refused_non_blocking_connect_is_reported_once_as_linux_does() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let out = lua(
        &[NET],
        &format!(
            r#"
            local socket = require("socket")
            local function refused()
                local c = socket.tcp()
                c:settimeout(0)
                assert(select(2, c:connect("127.0.0.1", {port})) == "timeout")
                local r, w = socket.select({{c}}, {{c}}, 5)
                assert(w[c] and r[c], "ready to report the failure")
                return c
            end
            local c = refused()
            print("error", c:getoption("error"))
            print("error again", c:getoption("error"))
            print("connect", c:connect("127.0.0.1", {port}))
            print("connect", c:connect("127.0.0.1", {port}))
            c = refused()
            print("connect", c:connect("127.0.0.1", {port}))
            print("error", c:getoption("error"))
            c = refused()
            local _, err, sent = c:send("x")
            print("send", err, sent)
            local _, rerr, partial = c:receive()
            print("receive", rerr, partial)
            -- a blocking connect reports its failure itself: nothing stays pending
            local b = socket.tcp()
            b:settimeout(2)
            print("blocking", b:connect("127.0.0.1", {port}))
            print("error", b:getoption("error"), b.class)
            "#
        ),
    );
    assert_eq!(
        ok(&out),
        "error\tconnection refused\nerror again\tnil\nconnect\tnil\tclosed\n\
         connect\tnil\ttimeout\nconnect\tnil\tconnection refused\nerror\tnil\n\
         send\tconnection refused\t0.0\nreceive\tclosed\t\n\
         blocking\tnil\tconnection refused\nerror\tnil\ttcp{client}\n"
    );
}

#[test]
/// A blocking connect reports its own failure, so nothing is left for
/// `getoption("error")`, as on Linux (the error was taken from the socket).
fn failed_connects_report_through_getoption_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = lua(
        &[NET],
        &format!(
            r#"
        local c = require("socket").tcp()
        print(c:connect("127.0.0.1", {port}))
        print(c:getoption("error"))
        print(c:connect("no.such.host.invalid", 80))
    "#
        ),
    );
    assert_eq!(
        ok(&out),
        "nil\tconnection refused\nnil\nnil\tpermission denied\n"
    );
}

#[test]
fn options_real_remembered_and_refused() {
    let out = lua(
        &[NET],
        r#"
        local socket = require("socket")
        local s = assert(socket.bind("127.0.0.1", 0))
        local sip, sport = s:getsockname()
        local c = assert(socket.connect(sip, sport))
        print(c:setoption("keepalive", true), c:getoption("keepalive"))
        print(c:setoption("tcp-keepidle", 30), c:getoption("tcp-keepidle"))
        print(c:setoption("tcp-keepintvl", 5), c:getoption("tcp-keepintvl"))
        print(c:setoption("tcp-keepcnt", 4), c:getoption("tcp-keepcnt"))
        print(c:setoption("recv-buffer-size", 65536), c:getoption("recv-buffer-size") > 0)
        print(c:setoption("tcp-nodelay", true), c:getoption("tcp-nodelay"))
        print(c:setoption("linger", {on = true, timeout = 3}), c:getoption("linger").on, c:getoption("linger").timeout)
        print(c:getoption("reuseaddr"), s:getoption("reuseaddr"))
        print(c:setoption("reuseport", true))
        print(c:getoption("reuseport"))
        print(c:setoption("tcp-fastopen", 1), c:setoption("bindtodevice", "lo"), c:setoption("ipv6-v6only", true))
        print(pcall(function() return c:setoption("keepalive", 1) end))
        print(pcall(function() return c:setoption("linger", {on = 1}) end))
        print(pcall(function() return c:setoption("nope", true) end))
        local six = socket.tcp6()
        print(six:setoption("ipv6-v6only", true), six:setoption("ipv6-v6only", false))
        -- tcp.c's get table has no ipv6-v6only: getoption raises, as on Linux
        print(pcall(function() return six:getoption("ipv6-v6only") end))
        -- options set before the socket exists are applied when it does
        local later = socket.tcp()
        print(later:setoption("keepalive", true), later:connect(sip, sport), later:getoption("keepalive"))
    "#,
    );
    assert_eq!(
        ok(&out),
        "1.0\ttrue\n1.0\t30.0\n1.0\t5.0\n1.0\t4.0\n1.0\ttrue\n1.0\ttrue\n1.0\ttrue\t3\n\
         false\ttrue\nnil\tsetsockopt failed\nnil\tgetsockopt failed\n\
         nil\tnil\tnil\tsetsockopt failed\n\
         false\t(command line):17: bad argument #2 to 'setoption' (boolean expected, got number)\n\
         false\t(command line):18: bad argument #2 to 'setoption' (boolean 'on' field expected)\n\
         false\t(command line):19: bad argument #1 to 'setoption' (unsupported option `nope')\n\
         1.0\tnil\tsetsockopt failed\n\
         false\t(command line):23: bad argument #1 to 'getoption' (unsupported option `ipv6-v6only')\n\
         1.0\t1.0\ttrue\n"
    );
}

#[test]
fn getfd_setfd_and_classes() {
    let out = lua(
        &[NET],
        r#"
        local socket = require("socket")
        local m = socket.tcp()
        local fd = m:getfd()
        -- no family: no socket, and no descriptor, until bind or connect (or setfd)
        print(math.type(fd), fd >= 3, m:getfd() ~= socket.tcp():getfd())
        m:setfd(1000)
        print(m:getfd())
        print(m:getfamily(), socket.tcp4():getfamily(), socket.tcp6():getfamily())
        print(pcall(function() return m:accept() end))
        print(pcall(function() return m:send("x") end))
        print(pcall(function() return m.listen(socket.udp()) end))
        m:setfd(socket._SOCKETINVALID)
        print(m:getfd(), m:close(), m:close())
        local s = assert(socket.bind("127.0.0.1", 0))
        print(s.class, pcall(function() return s:connect("127.0.0.1", 1) end))
    "#,
    );
    assert_eq!(
        ok(&out),
        "float\tfalse\tfalse\n1000.0\ninet4\tinet4\tinet6\n\
         false\t(command line):10: calling 'accept' on bad self (tcp{server} expected)\n\
         false\t(command line):11: calling 'send' on bad self (tcp{client} expected)\n\
         false\t(command line):12: bad argument #1 to 'listen' (tcp{master} expected)\n\
         -1.0\t1.0\t1.0\n\
         tcp{server}\ttrue\tnil\tInvalid argument\n"
    );
}

#[test]
fn total_timeout_bounds_the_whole_call() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let trickle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // A byte every 50 ms: each wait is short, the whole receive is not.
        for _ in 0..40 {
            if s.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let out = lua(
        &[NET],
        &format!(
            r#"
        local socket = require("socket")
        local c = assert(socket.connect("127.0.0.1", {port}))
        c:settimeout(0.2)            -- block: never reached, bytes keep coming
        c:settimeout(0.5, "t")       -- total: reached
        print(c:gettimeout())
        local t0 = socket.gettime()
        local data, err, partial = c:receive(1000)
        local dt = socket.gettime() - t0
        print(data, err, #partial > 3 and #partial < 20, dt > 0.4 and dt < 1.5)
    "#
        ),
    );
    drop(trickle);
    assert_eq!(ok(&out), "0.2\t0.5\nnil\ttimeout\ttrue\ttrue\n");
}

#[test]
fn maxsize_cuts_off_without_losing_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"a very long line indeed\nshort\nrest")
            .unwrap();
    });
    let out = lua(
        &[NET],
        &format!(
            r#"
        local socket = require("socket")
        local c = assert(socket.connect("127.0.0.1", {port}))
        print(c:receive("*l", nil, 6))
        print(c:receive("*l", "pre:", 10))
        print(c:receive("*l", nil, 100))
        print(c:receive("*a", nil, 4))
        print(pcall(function() return c:receive(10, nil, 5) end))
        print(pcall(function() return c:receive("*l", "toolong", 3) end))
    "#
        ),
    );
    peer.join().unwrap();
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("nil\toversized\ta very\t"), "{text}");
    assert!(
        lines[1].starts_with("nil\toversized\tpre: long \t"),
        "{text}"
    );
    assert!(lines[2].starts_with("line indeed\tnil\tnil\t"), "{text}");
    assert!(
        lines[3].starts_with("short\tnil\tnil") || lines[3].starts_with("nil\toversized\tshor"),
        "{text}"
    );
    assert!(
        lines[4].contains("pattern asks for more than maxsize"),
        "{text}"
    );
    assert!(lines[5].contains("prefix longer than maxsize"), "{text}");
}

#[test]
fn a_peer_that_resets_gives_closed_and_the_partial() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"half a li").unwrap();
        thread::sleep(Duration::from_millis(100));
        // SO_LINGER 0: close sends RST.
        let sock = socket2_linger_zero(s);
        drop(sock);
    });
    let out = lua(
        &[NET, "--timeout", "20"],
        &format!(
            r#"
        local socket = require("socket")
        local c = assert(socket.connect("127.0.0.1", {port}))
        local data, err, partial = c:receive()
        print(data, err, partial)
        print(c:send("anything"))
        print(c:close())
    "#
        ),
    );
    peer.join().unwrap();
    let text = ok(&out);
    assert!(text.starts_with("nil\tclosed\thalf a li\n"), "{text}");
    assert!(text.ends_with("1.0\n"), "{text}");
}

/// Sets SO_LINGER to zero so that dropping the stream resets the connection.
fn socket2_linger_zero(s: TcpStream) -> TcpStream {
    use std::os::fd::AsRawFd;
    let linger = [1i32, 0i32];
    // SAFETY: setsockopt on a live socket with a correctly sized linger struct.
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            1,  /* SOL_SOCKET */
            13, /* SO_LINGER */
            linger.as_ptr().cast(),
            8,
        );
    }
    s
}

unsafe extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
}

#[test]
fn a_peer_that_never_reads_cannot_hang_send_or_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_secs(6));
        drop(s);
    });
    let start = std::time::Instant::now();
    let out = lua(
        &[NET, "--timeout", "30"],
        &format!(
            r#"
        local socket = require("socket")
        local c = assert(socket.connect("127.0.0.1", {port}))
        c:settimeout(0.3)
        local block = string.rep("z", 1 << 20)
        local total, err, last = 0, nil, nil
        for _ = 1, 200 do
            local n
            n, err, last = c:send(block)
            if not n then break end
            total = total + n
        end
        print(err, math.type(last), last >= 0 and last < #block)
        local t0 = socket.gettime()
        print(c:close())
        print(socket.gettime() - t0 < 0.5)
    "#
        ),
    );
    let text = ok(&out);
    assert_eq!(text, "timeout\tfloat\ttrue\n1.0\ntrue\n");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "the script must not wait for the peer"
    );
    holder.join().unwrap();
}

#[test]
fn lua_server_and_clients_in_one_component_with_coroutines_and_select() {
    let out = lua(
        &[NET, "--timeout", "60"],
        r#"
        local socket = require("socket")
        for _, host in ipairs({"127.0.0.1", "::1"}) do
            local server = assert(socket.bind(host, 0))
            server:settimeout(0)
            local ip, port = server:getsockname()
            local tasks, waiting = {}, {}
            local function spawn(f) tasks[#tasks + 1] = coroutine.create(f) end
            -- server: echo each line in upper case, in its own coroutine per client
            spawn(function()
                local served = 0
                while served < 20 do
                    local c = server:accept()
                    if c then
                        served = served + 1
                        c:settimeout(0)
                        spawn(function()
                            while true do
                                local line, err = c:receive()
                                if line then c:send(line:upper() .. "\n")
                                elseif err == "closed" then c:close() return
                                else waiting[c] = "r"; coroutine.yield() end
                            end
                        end)
                    else
                        waiting[server] = "r"; coroutine.yield()
                    end
                end
            end)
            local replies = 0
            for i = 1, 20 do
                spawn(function()
                    local c = socket.tcp()
                    c:settimeout(0)
                    local ok, err = c:connect(ip, port)
                    -- "timeout" at first; "Operation already in progress" if asked again
                    -- before it is done, as BSD sockets answer
                    while not ok and (err == "timeout" or err == "Operation already in progress") do
                        waiting[c] = "w"; coroutine.yield()
                        ok, err = c:connect(ip, port)
                        if err == "already connected" then ok = true end
                    end
                    assert(ok, err)
                    for j = 1, 5 do
                        c:send(("client %d line %d\n"):format(i, j))
                        local line, e = c:receive()
                        while not line do waiting[c] = "r"; coroutine.yield(); line, e = c:receive() end
                        assert(line == ("CLIENT %d LINE %d"):format(i, j), line)
                        replies = replies + 1
                    end
                    c:close()
                end)
            end
            -- the scheduler
            while #tasks > 0 do
                local alive = {}
                for _, t in ipairs(tasks) do
                    assert(coroutine.resume(t))
                    if coroutine.status(t) ~= "dead" then alive[#alive + 1] = t end
                end
                tasks = alive
                local r, w = {}, {}
                for s, how in pairs(waiting) do if how == "r" then r[#r + 1] = s else w[#w + 1] = s end end
                waiting = {}
                if #tasks > 0 then socket.select(r, w, 0.05) end
            end
            print(host, replies)
        end
    "#,
    );
    assert_eq!(ok(&out), "127.0.0.1\t100\n::1\t100\n");
}
