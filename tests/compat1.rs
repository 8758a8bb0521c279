//! socket.compat1 (`require "socket.compat1"`, lua/socket/compat1.lua): LuaSocket 1.x's
//! global API over the 3.x modules. Its test script with both peers in the sandbox, then
//! one test per 1.x function group against native peers on loopback (std's TcpListener,
//! TcpStream, UdpSocket) and, for the protocol helpers, the same real servers the
//! protocol tests use: nginx, aiosmtpd and pyftpdlib (tests/common/servers.rs).
//!
//! Every run mounts the repository's `lua/` at `/lua`, where `require` looks first, so
//! these tests exercise the file in the tree whether or not the component embeds it.
//!
//! Each UDP socket in these scripts sends at most once, and none connects after a receive
//! timed out: the core's UDP send permits and reconnects trap otherwise (reported
//! separately).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Output};
use std::thread;
use std::time::Duration;

use common::servers;
use common::*;

/// Loopback and `localhost` only: the scripts rely on 10.1.2.3 and other names being
/// denied.
const NET: &str = "--allow-net=127.0.0.1,[::1],localhost";

/// Runs a 1.x chunk to completion (`lua_dir` makes `require "socket.compat1"` find the
/// tree's file).
fn run(chunk: &str) -> Output {
    lua(&[NET, "--timeout", "60", "--dir", &lua_dir()], chunk)
}

/// Starts a 1.x chunk whose output is read line by line while it runs.
fn spawn(chunk: &str) -> Child {
    spawn_lua(&[NET, "--timeout", "60", "--dir", &lua_dir()], chunk)
}

#[test]
fn the_compat1_test_script_passes_with_both_peers_in_the_sandbox() {
    let options = [NET, "--timeout", "60", "--dir", &lua_dir()];
    let out = run_test_script(&options, "compat1_test.lua", &[]);
    assert_eq!(ok(&out), "ok\n");
}

#[test]
fn the_module_table_works_without_the_globals_and_leaves_socket_alone() {
    let out = run(r#"
        local socket = require("socket")
        local connect3 = socket.connect
        local s1 = require("socket.compat1")
        connect, receive = nil, nil -- the script's own business: the table still works
        local server = assert(s1.bind("127.0.0.1", 0))
        local _, port = s1.getsockname(server)
        local c = assert(s1.connect("127.0.0.1", port))
        local a = assert(s1.accept(server))
        print(s1.send(c, "one\r\n", "two\n"))
        print(s1.receive(a, "*l", "*lu"))
        print(socket.connect == connect3, socket._VERSION)
        local c3 = assert(socket.connect("127.0.0.1", port))
        print(c3.class, (tostring(c):match("^client socket")))
        print(_G.send == s1.send, type(_G.http_get), _G.connect)
    "#);
    assert_eq!(
        ok(&out),
        "nil\t9\none\ttwo\tnil\ntrue\tLuaSocket 3.1.0\n\
         tcp{client}\tclient socket\ntrue\tfunction\tnil\n"
    );
}

// TCP: connect, bind, accept, send, receive, timeout, poll, names, close -----------------

#[test]
fn tcp_a_1x_client_talks_to_a_native_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = [0u8; 13];
        s.read_exact(&mut got).unwrap();
        s.write_all(b"dos line\r\nunix line\r\n12345partial")
            .unwrap();
        // The client's timeout test needs the connection open: wait for its close.
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        (got.to_vec(), rest)
    });
    let out = run(&format!(
        r##"
        require("socket.compat1")
        local c = assert(connect("127.0.0.1", {port}))
        print(send(c, "hello\r\n", "world\n"))
        local dos, unix, count, err = receive(c, "*l", "*lu", 5)
        print(dos, (unix:gsub("\r", "<CR>")), count, err)
        timeout(c, 0.2)
        print(receive(c, "*l"))
        print(getpeername(c))
        print(c:poll("*s"), poll(c, "*r"))
        print(select("#", close(c)))
    "##
    ));
    let (got, rest) = server.join().unwrap();
    assert_eq!(
        ok(&out),
        format!(
            "nil\t13\ndos line\tunix line<CR>\t12345\tnil\npartial\ttimeout\n\
             127.0.0.1\t{port}\n1\tnil\n0\n"
        )
    );
    assert_eq!(got, b"hello\r\nworld\n");
    assert!(rest.is_empty(), "nothing more was sent: {rest:?}");
}

#[test]
fn tcp_native_clients_talk_to_a_1x_server() {
    let mut child = spawn(
        r#"
        io.stdout:setvbuf("no")
        require("socket.compat1")
        local server = assert(bind("127.0.0.1", 0, 2))
        local _, port = getsockname(server)
        print(port)
        timeout(server, 30)
        for _ = 1, 2 do
            local c = assert(accept(server))
            timeout(c, 30, "r")
            print("from " .. getpeername(c))
            local line, err = receive(c)
            send(c, line:upper(), "\n")
            print(receive(c, "*a"))
            close(c)
        end
        timeout(server, 0.1)
        print(accept(server))
        close(server)
    "#,
    );
    let mut lines = Lines::of(&mut child);
    let (child, port) = read_port(child, &mut lines);
    for word in ["first", "second"] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(format!("{word}\r\n").as_bytes()).unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        assert_eq!(answer, format!("{}\n", word.to_uppercase()));
        s.write_all(b"the rest").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).unwrap();
        assert!(tail.is_empty(), "the server closed after the rest");
        assert_eq!(lines.next(), "from 127.0.0.1");
        assert_eq!(lines.next(), "the rest\tnil");
    }
    assert_eq!(lines.next(), "nil\ttimeout");
    let out = wait_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// 1.x's return timeout ("r") bounds a whole call, however many patterns it reads: 3.x's
/// total timeout restarts with each 3.x call, so the module must carry the deadline over.
/// The peer answers the first line at 0.5 s and the second at 1.3 s; a 1 s return
/// timeout gets the first only. Were each pattern given the full second, the second
/// would arrive in time (at 1.3 s < 0.5 s + 1 s).
#[test]
fn timeout_the_return_timeout_spans_every_pattern_of_a_call() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut go = [0u8; 3];
        s.read_exact(&mut go).unwrap();
        thread::sleep(Duration::from_millis(500));
        s.write_all(b"first\n").unwrap();
        thread::sleep(Duration::from_millis(800));
        s.write_all(b"second\n").unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    });
    let out = run(&format!(
        r#"
        require("socket.compat1")
        local socket = require("socket")
        local c = assert(connect("127.0.0.1", {port}))
        timeout(c, 1, "r")
        send(c, "go\n")
        local start = socket.gettime()
        print(receive(c, "*l", "*l"))
        local took = socket.gettime() - start
        print(took > 0.8 and took < 1.25)
        timeout(c, nil, "r")
        print(receive(c))
        close(c)
    "#
    ));
    server.join().unwrap();
    assert_eq!(ok(&out), "first\t\ttimeout\ntrue\nsecond\tnil\n");
}

// UDP: udpsocket, setsockname, sendto, receivefrom, setpeername, send, receive ------------

#[test]
fn udp_1x_sockets_talk_to_a_native_peer() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let port = peer.local_addr().unwrap().port();
    // Answers two datagrams, each reversed.
    let echo = thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..2 {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            let mut reply = buf[..n].to_vec();
            reply.reverse();
            peer.send_to(&reply, from).unwrap();
        }
    });
    let out = run(&format!(
        r#"
        require("socket.compat1")
        local u = assert(udpsocket())
        print(setsockname(u, "127.0.0.1", 0))
        print(sendto(u, "hello", "127.0.0.1", {port}))
        timeout(u, 10)
        local data, ip, port = receivefrom(u)
        print(data, ip, port == {port}, math.type(port))
        local c = assert(udpsocket())
        print(setpeername(c, "127.0.0.1", {port}))
        print(getpeername(c))
        print(send(c, "abcdef"))
        timeout(c, 10)
        print(receive(c, 3))
        close(u)
        close(c)
        print(pcall(receive, u))
    "#
    ));
    echo.join().unwrap();
    assert_eq!(
        ok(&out),
        format!(
            "nil\nnil\nolleh\t127.0.0.1\ttrue\tinteger\nnil\n127.0.0.1\t{port}\nnil\nfed\n\
             false\tbad argument #1 to 'receive' (socket is closed)\n"
        )
    );
}

// DNS: toip, tohostname ------------------------------------------------------------------

#[test]
fn dns_toip_and_tohostname() {
    let out = run(r#"
        require("socket.compat1")
        local ip, resolved = toip("localhost")
        print(ip, resolved.ip[1], type(resolved.name), type(resolved.alias))
        print((toip("127.0.0.1")))
        local name, info = tohostname("127.0.0.1")
        print(name, type(info))
        print((tohostname("localhost")))
        print(toip("denied.example"))
        print(tohostname("denied.example"))
    "#);
    assert_eq!(
        ok(&out),
        "127.0.0.1\t127.0.0.1\tstring\ttable\n127.0.0.1\n127.0.0.1\ttable\nlocalhost\n\
         nil\tpermission denied\nnil\tpermission denied\n"
    );
}

// HTTP: http_get, http_post, http_request --------------------------------------------------

/// What a request to a one-shot native server looked like: its head and body. Answers
/// 200 with "ok".
fn capture_one_request() -> (u16, thread::JoinHandle<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let mut w = s;
        w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .unwrap();
        (head, body)
    });
    (port, handle)
}

#[test]
fn http_helpers_against_nginx_and_a_native_server() {
    let dir = scratch("compat1-http");
    let server = servers::nginx(&dir.join("nginx"));
    std::fs::write(server.dir.join("hello.txt"), "Hello from nginx\n").unwrap();
    std::fs::write(server.dir.join("private/secret.txt"), "the secret\n").unwrap();
    let (capture, request) = capture_one_request();
    let out = run(&format!(
        r##"
        require("socket.compat1")
        local mime = require("mime")
        local function trim(s) return s and (s:gsub("%s+$", "")) end
        local base = "http://127.0.0.1:{port}"
        local body, headers, status, err = http_get(base .. "/hello.txt")
        print(trim(body), headers["content-length"], status, err)
        print(select("#", http_get(base .. "/hello.txt")))
        body, headers, status = http_get(base .. "/private/secret.txt")
        print(status, headers["www-authenticate"] ~= nil, #body > 0)
        print(trim(http_get("http://fulano:silva@127.0.0.1:{port}/private/secret.txt")))
        print(trim(http_get(base .. "/private/secret.txt",
            {{ authorization = "Basic " .. mime.b64("fulano:silva") }})))
        print(select(3, http_request("PUT", base .. "/uploads/put.txt",
            {{ ["Content-Type"] = "text/plain" }}, "put by http_request\n")))
        print(select(3, http_post(base .. "/hello.txt", "a=1")))
        body, headers, status = http_request("HEAD", base .. "/hello.txt")
        print(body, headers["content-length"], status)
        print(select(3, http_get(base .. "/missing.txt")))
        print(trim(http_get("127.0.0.1:{port}/hello.txt")))
        print(trim(http_get(base .. "/moved")))
        print(http_get("http://127.0.0.1:1/"))
        body, headers, status = http_post("http://127.0.0.1:{capture}/form", "a=1&b=2",
            {{ ["X-Test"] = "compat1" }})
        print(body, status)
    "##,
        port = server.port,
    ));
    let text = ok(&out);
    assert_eq!(
        text,
        "Hello from nginx\t17\t200 OK\tnil\n3\n401 Unauthorized\ttrue\ttrue\n\
         the secret\nthe secret\n201 Created\n405 Not Allowed\n\t17\t200 OK\n404 Not Found\n\
         Hello from nginx\nHello from nginx\nnil\tnil\tnil\tconnection refused\nok\t200 OK\n"
    );
    assert_eq!(
        std::fs::read_to_string(server.dir.join("uploads/put.txt")).unwrap(),
        "put by http_request\n"
    );
    let (head, body) = request.join().unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("POST /form HTTP/1.1\r\n"), "{head}");
    assert!(
        lower.contains("\r\ncontent-type: application/x-www-form-urlencoded\r\n"),
        "{head}"
    );
    assert!(lower.contains("\r\ncontent-length: 7\r\n"), "{head}");
    assert!(lower.contains("\r\nx-test: compat1\r\n"), "{head}");
    assert_eq!(body, b"a=1&b=2");
}

// SMTP: smtp_mail, mail ---------------------------------------------------------------------

#[test]
fn smtp_helpers_against_aiosmtpd() {
    let dir = scratch("compat1-smtp");
    let server = servers::smtp(&dir);
    let out = run(&format!(
        r#"
        require("socket.compat1")
        local server = "127.0.0.1:{port}"
        print(smtp_mail("luasocket@example.com",
            {{ "fulano@example.com", "Beltrano <beltrano@example.com>" }},
            {{ to = "fulano@example.com, beltrano@example.com", subject = "LuaSocket test message" }},
            "This is a test message.\nPlease ignore.\n.leading dot\n", server))
        print(mail{{ to = "fulano@example.com", from = "Sicrano <sicrano@example.com>",
            subject = "via mail", message = "line 1\nline 2\n", cc = "cc@example.com",
            bcc = "hidden@example.com", mailserver = server }})
        print(mail{{ to = "fulano@example.com", from = "a@example.com" }})
        print(smtp_mail("a@example.com", {{ "b@example.com" }}, {{}}, "x", "127.0.0.1:1"))
    "#,
        port = server.port,
    ));
    assert_eq!(
        ok(&out),
        "nil\nnil\nmail: field 'mailserver' is required\nconnection refused\n"
    );
    let read = |name: &str| std::fs::read(server.dir.join(name)).unwrap();
    assert_eq!(
        read("0001.envelope"),
        b"luasocket@example.com\nfulano@example.com\nbeltrano@example.com\n"
    );
    let first = read("0001.eml");
    let first_text = String::from_utf8_lossy(&first).to_ascii_lowercase();
    assert!(
        first_text.contains("subject: luasocket test message\r\n"),
        "{first_text}"
    );
    assert!(
        first_text.contains("to: fulano@example.com, beltrano@example.com\r\n"),
        "{first_text}"
    );
    // Line ends made CRLF, and the leading dot arrived whole (stuffed, then unstuffed).
    let body: &[u8] = b"\r\n\r\nThis is a test message.\r\nPlease ignore.\r\n.leading dot\r\n";
    assert!(
        first.windows(body.len()).any(|w| w == body),
        "{}",
        String::from_utf8_lossy(&first)
    );
    // mail{}: to, cc and bcc all receive it; bcc appears in no header.
    assert_eq!(
        read("0002.envelope"),
        b"sicrano@example.com\nfulano@example.com\ncc@example.com\nhidden@example.com\n"
    );
    let second = String::from_utf8_lossy(&read("0002.eml")).into_owned();
    let second_lower = second.to_ascii_lowercase();
    assert!(second_lower.contains("subject: via mail\r\n"), "{second}");
    assert!(
        second_lower.contains("from: sicrano <sicrano@example.com>\r\n"),
        "{second}"
    );
    assert!(second_lower.contains("cc: cc@example.com\r\n"), "{second}");
    assert!(!second.contains("hidden@example.com"), "{second}");
    assert!(second.contains("\r\n\r\nline 1\r\nline 2\r\n"), "{second}");
    assert!(
        !server.dir.join("0003.eml").exists(),
        "the failed calls sent nothing"
    );
}

// FTP: ftp_get, ftp_put ---------------------------------------------------------------------

#[test]
fn ftp_helpers_against_pyftpdlib() {
    let dir = scratch("compat1-ftp");
    let server = servers::ftp(&dir);
    std::fs::write(dir.join("pub/readme.txt"), "anonymous can read this\n").unwrap();
    let binary: Vec<u8> = (0..64)
        .flat_map(|_| 0..=255u8)
        .chain(*b"\r\n\n\r")
        .collect();
    let out = run(&format!(
        r#"
        require("socket.compat1")
        local function show(s) return s and (s:gsub("\r", "<CR>"):gsub("\n", "<LF>")) end
        local bytes = {{}}
        for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
        local binary = table.concat(bytes):rep(64) .. "\r\n\n\r"
        local base = "ftp://fulano:silva@127.0.0.1:{port}"
        print(ftp_put(base .. "/binary.bin", binary, "b"))
        print(ftp_get(base .. "/binary.bin", "b") == binary)
        print(ftp_put(base .. "/text.txt", "line 1\nline 2\n"))
        print(show(ftp_get(base .. "/text.txt")))
        print(show(ftp_get(base .. "/text.txt;type=i")))
        local listing = ftp_get(base .. "/")
        print(listing:find("binary.bin", 1, true) ~= nil, listing:find("text.txt", 1, true) ~= nil)
        print(show(ftp_get("ftp://127.0.0.1:{port}/readme.txt", "b")))
        print(show(ftp_get("127.0.0.1:{port}/readme.txt", "b")))
        print(ftp_get("ftp://fulano:wrong@127.0.0.1:{port}/text.txt"))
        print(ftp_put("ftp://127.0.0.1:{port}/upload.txt", "anonymous may not write"))
        print(ftp_get(base .. "/missing.txt"))
        print(ftp_get("ftp://127.0.0.1:1/x"))
    "#,
        port = server.port,
    ));
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..8],
        &[
            "nil",
            "true",
            "nil",
            "line 1<CR><LF>line 2<CR><LF>",
            "line 1<LF>line 2<LF>",
            "true\ttrue",
            "anonymous can read this<LF>",
            "anonymous can read this<LF>",
        ],
        "{text}"
    );
    assert!(lines[8].starts_with("nil\t530"), "{text}");
    assert!(lines[9].starts_with("550"), "{text}");
    assert!(lines[10].starts_with("nil\t550"), "{text}");
    assert_eq!(lines[11], "nil\tconnection refused", "{text}");
    assert!(
        std::fs::read(dir.join("home/binary.bin")).unwrap() == binary,
        "the binary upload differs"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("home/text.txt")).unwrap(),
        "line 1\nline 2\n"
    );
}
