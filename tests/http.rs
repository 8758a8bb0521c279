//! socket.http against nginx (Debian) on loopback, and against native peers for the
//! answers nginx never gives (HTTP/1.0 and 0.9, folded and repeated headers, silence).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::servers::{self, Server};
use common::*;

fn start() -> (Server, std::path::PathBuf) {
    let dir = scratch(&format!("http-{}", rand_suffix()));
    let server = servers::nginx(&dir.join("nginx"));
    std::fs::write(server.dir.join("hello.txt"), "Hello from nginx\n").unwrap();
    std::fs::write(server.dir.join("private/secret.txt"), "the secret\n").unwrap();
    std::fs::write(
        server.dir.join("chunked/page.txt"),
        "before <!--# echo var=\"date_gmt\" --> after\n",
    )
    .unwrap();
    (server, dir)
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

/// Runs `chunk` with loopback access and `dir` visible at /data.
fn lua_in(dir: &std::path::Path, chunk: &str) -> std::process::Output {
    let spec = format!("{}::/data", dir.display());
    lua(
        &["--allow-net=127.0.0.1", "--dir", &spec, "--timeout", "120"],
        chunk,
    )
}

fn big_file(path: &std::path::Path, size: usize) -> Vec<u8> {
    let mut x: u32 = 2463534242;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(path, &data).unwrap();
    data
}

#[test]
fn simple_get_head_and_statuses() {
    let (server, dir) = start();
    let out = lua_in(
        &dir,
        &format!(
            r#"
        local http = require("socket.http")
        local base = "http://127.0.0.1:{port}"
        local body, code, headers, status = http.request(base .. "/hello.txt")
        print(body, code, headers["content-length"], status)
        local r, c, h = http.request{{ url = base .. "/hello.txt", method = "HEAD" }}
        print(r, c, h["content-length"])
        print((select(2, http.request(base .. "/empty"))))
        local b, c404 = http.request(base .. "/missing")
        print(c404, #b > 0)
        print(http.request("http://127.0.0.1:1/"))
        print(http.request("https://127.0.0.1:{port}/"))
        print(http.USERAGENT, http.TIMEOUT)
    "#,
            port = server.port
        ),
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Hello from nginx");
    assert_eq!(lines[1], "\t200\t17\tHTTP/1.1 200 OK");
    assert_eq!(lines[2], "1\t200\t17");
    assert_eq!(lines[3], "204");
    assert_eq!(lines[4], "404\ttrue");
    assert_eq!(lines[5], "nil\tconnection refused");
    // https:// to a plain-HTTP port: TLS runs, and fails cleanly on the HTTP answer.
    assert_eq!(lines[6], "nil\ttls protocol error", "{text}");
    assert_eq!(lines[7], "LuaSocket 3.1.0\t60");
}

#[test]
fn ten_megabytes_down_and_up_byte_exact() {
    let (server, dir) = start();
    let data = big_file(&server.dir.join("big.bin"), 10 << 20);
    std::fs::copy(server.dir.join("big.bin"), dir.join("upload.bin")).unwrap();
    let out = lua_in(
        &dir,
        &format!(
            r#"
        local http = require("socket.http")
        local ltn12 = require("ltn12")
        local base = "http://127.0.0.1:{port}"
        -- download to a file
        local r, code, h = http.request{{ url = base .. "/big.bin", sink = ltn12.sink.file(io.open("/data/down.bin", "wb")) }}
        print(r, code, h["content-length"])
        -- upload with a length, then without (chunked request body)
        local size = 10 * 1024 * 1024
        r, code = http.request{{ url = base .. "/uploads/a.bin", method = "PUT",
            source = ltn12.source.file(io.open("/data/upload.bin", "rb")),
            headers = {{ ["content-length"] = size }} }}
        print(r, code)
        r, code = http.request{{ url = base .. "/uploads/b.bin", method = "PUT",
            source = ltn12.source.file(io.open("/data/upload.bin", "rb")) }}
        print(r, code)
        -- the simple form holds the body in memory
        local body = http.request(base .. "/big.bin")
        print(#body)
    "#,
            port = server.port
        ),
    );
    let text = ok(&out);
    assert_eq!(
        text,
        format!("1\t200\t{}\n1\t201\n1\t201\n{}\n", 10 << 20, 10 << 20)
    );
    assert!(
        std::fs::read(dir.join("down.bin")).unwrap() == data,
        "download differs"
    );
    assert!(
        std::fs::read(server.dir.join("uploads/a.bin")).unwrap() == data,
        "upload with length differs"
    );
    assert!(
        std::fs::read(server.dir.join("uploads/b.bin")).unwrap() == data,
        "chunked upload differs"
    );
}

#[test]
fn redirects_follow_the_rules() {
    let (server, dir) = start();
    let out = lua_in(
        &dir,
        &format!(
            r#"
        local http = require("socket.http")
        local base = "http://127.0.0.1:{port}"
        for _, path in ipairs({{"/moved", "/found", "/see-other", "/temporary"}}) do
            local body, code, headers = http.request(base .. path)
            print(path, body, code, headers.location)
        end
        local r, code, headers = http.request{{ url = base .. "/moved", redirect = false }}
        print(r, code, headers.location)
        -- a loop stops after maxredirects, with the last redirect as the answer
        local _, loop = http.request(base .. "/loop")
        print(loop)
        -- POST is not redirected
        local _, post = http.request(base .. "/moved", "x=1")
        print(post)
    "#,
            port = server.port
        ),
    );
    let text = ok(&out);
    let port = server.port;
    assert_eq!(
        text,
        format!(
            "/moved\tHello from nginx\n\t200\thttp://127.0.0.1:{port}/hello.txt\n\
             /found\tHello from nginx\n\t200\thttp://127.0.0.1:{port}/hello.txt\n\
             /see-other\tHello from nginx\n\t200\thttp://127.0.0.1:{port}/hello.txt\n\
             /temporary\tHello from nginx\n\t200\thttp://127.0.0.1:{port}/hello.txt\n\
             1\t301\thttp://127.0.0.1:{port}/hello.txt\n302\n301\n"
        )
    );
}

#[test]
fn basic_auth_success_and_failure_and_chunked_answers() {
    let (server, dir) = start();
    let out = lua_in(
        &dir,
        &format!(
            r#"
        local http = require("socket.http")
        local mime = require("mime")
        local port = {port}
        print(http.request(("http://fulano:silva@127.0.0.1:%d/private/secret.txt"):format(port)))
        print((select(2, http.request(("http://fulano:wrong@127.0.0.1:%d/private/secret.txt"):format(port)))))
        print((select(2, http.request(("http://127.0.0.1:%d/private/secret.txt"):format(port)))))
        local t = {{}}
        print(http.request{{ url = ("http://127.0.0.1:%d/private/secret.txt"):format(port),
            headers = {{ authorization = "Basic " .. mime.b64("fulano:silva") }}, sink = require("ltn12").sink.table(t) }})
        print(table.concat(t))
        local body, code, headers = http.request(("http://127.0.0.1:%d/chunked/page.txt"):format(port))
        print(code, headers["transfer-encoding"], body:match("^before .+ after\n$") ~= nil)
    "#,
            port = server.port
        ),
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "the secret");
    assert!(lines[1].starts_with("\t200\t"), "{text}");
    assert_eq!(lines[2], "401");
    assert_eq!(lines[3], "401");
    assert!(lines[4].starts_with("1\t200\t"), "{text}");
    assert_eq!(lines[5], "the secret");
    assert_eq!(lines[7], "200\tchunked\ttrue");
}

/// A native server that answers every connection with `reply` (then closes).
fn canned(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    port
}

#[test]
fn old_protocols_folded_headers_and_timeouts() {
    let v10 = canned(b"HTTP/1.0 200 OK\r\nX-Folded: one\r\n two\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nbody until close");
    let v09 = canned(b"just the body, no status line");
    let short = canned(b"hi");
    let chunked = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let holder = thread::spawn(move || {
        let (s, _) = silent.accept().unwrap();
        thread::sleep(Duration::from_secs(3));
        drop(s);
    });
    let out = lua(
        &["--allow-net=127.0.0.1", "--timeout", "60"],
        &format!(
            r#"
        local http = require("socket.http")
        local body, code, headers, status = http.request("http://127.0.0.1:{v10}/")
        print(body, code, status)
        print(headers["x-folded"], headers["set-cookie"])
        print(http.request("http://127.0.0.1:{v09}/"))
        print(http.request("http://127.0.0.1:{short}/"))
        local b, c, h = http.request("http://127.0.0.1:{chunked}/")
        print(b, c, h["x-trailer"])
        http.TIMEOUT = 0.3
        print(http.request("http://127.0.0.1:{silent_port}/"))
    "#
        ),
    );
    holder.join().unwrap();
    assert_eq!(
        ok(&out),
        "body until close\t200\tHTTP/1.0 200 OK\none two\ta=1, b=2\n\
         just the body, no status line\t200\tnil\tnil\nhi\t200\tnil\tnil\nhello world\t200\tt\nnil\ttimeout\n"
    );
}

/// Found by the http fuzz target: a folded `Location` was checked with its blanks removed
/// but followed raw, putting blanks into the next request line.
#[test]
fn a_folded_redirect_location_is_followed_without_its_blanks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let mut request_lines = Vec::new();
        for (i, stream) in listener.incoming().take(2).enumerate() {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            request_lines.push(head.lines().next().unwrap_or("").to_string());
            let reply: &[u8] = if i == 0 {
                b"HTTP/1.1 301 Moved\r\nLocation: /a\r\n b\r\nContent-Length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            };
            let _ = s.write_all(reply);
        }
        request_lines
    });
    let out = lua(
        &["--allow-net=127.0.0.1"],
        &format!(
            r#"
        local http = require("socket.http")
        print(http.request("http://127.0.0.1:{port}/start"))
    "#
        ),
    );
    assert!(ok(&out).starts_with("ok\t200\t"), "{}", stdout(&out));
    let lines = peer.join().unwrap();
    assert_eq!(lines, ["GET /start HTTP/1.1", "GET /ab HTTP/1.1"]);
}
