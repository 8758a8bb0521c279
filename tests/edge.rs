//! The handler world under `luasocket-wasi serve`: a WSAPI app (tests/edge/app.lua)
//! answering real HTTP clients over loopback, with outgoing requests to nginx, and
//! hostile clients that must not harm the server.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use common::servers::{self, free_port};
use common::*;

fn app() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/edge/app.lua")
}

/// `luasocket-wasi serve` on a free port; killed when dropped.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    fn start(options: &[&str]) -> Serve {
        for _ in 0..10 {
            let port = free_port();
            let mut cmd = cli();
            cmd.arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .args(options)
                .arg(app())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn luasocket-wasi serve");
            let stderr = child.stderr.take().expect("piped");
            let mut line = String::new();
            let _ = BufReader::new(stderr).read_line(&mut line);
            if line.starts_with("Serving HTTP on") {
                return Serve { child, port };
            }
            // Another test took the port first: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("serve did not start on any of 10 ports");
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to serve");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
    }

    /// One request with `Connection: close`, and the whole answer.
    fn request(&self, head: &str, body: &[u8]) -> Answer {
        let mut stream = self.connect();
        write!(
            stream,
            "{head}\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        read_answer(&mut stream)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads an HTTP/1.1 answer: its head, then a body framed by Content-Length or chunked.
fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').expect("header");
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(length) = find("content-length") {
        body.resize(length.parse().expect("length"), 0);
        reader.read_exact(&mut body).expect("body");
    } else if find("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            line.clear();
            reader.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut body).expect("body to the close");
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn routes_methods_query_strings_and_bodies() {
    let serve = Serve::start(&[]);
    let hello = serve.request("GET /hello?x=1&y=%20 HTTP/1.1", b"");
    assert_eq!(hello.status, 200);
    assert_eq!(hello.text(), "hello x=1&y=%20 from /hello missing=[]");
    assert_eq!(hello.header("content-type"), ["text/plain"]);

    let json = serve.request(
        "POST /json HTTP/1.1\r\nContent-Type: application/json",
        br#"{"name": "lua", "world": "handler"}"#,
    );
    assert_eq!(json.status, 200);
    assert_eq!(
        json.text(),
        r#"{"fields":"name=lua,world=handler","type":"application/json"}"#
    );
    assert_eq!(json.header("content-type"), ["application/json"]);

    let missing = serve.request("GET /nowhere HTTP/1.1", b"");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "no route for /nowhere");

    let cookies = serve.request("GET /cookies HTTP/1.1", b"");
    assert_eq!(cookies.header("set-cookie"), ["a=1", "b=2"]);
}

#[test]
fn a_failing_app_answers_500_and_the_server_goes_on() {
    let serve = Serve::start(&[]);
    let failed = serve.request("GET /fail HTTP/1.1", b"");
    assert_eq!(failed.status, 500);
    assert_eq!(failed.text(), "Internal Server Error\n");
    assert_eq!(serve.request("GET /hello HTTP/1.1", b"").status, 200);
}

#[test]
fn ten_mib_stream_down_and_up_with_their_sha256() {
    let serve = Serve::start(&[]);
    let size = 10 << 20;
    let down = serve.request(&format!("GET /download?size={size} HTTP/1.1"), b"");
    assert_eq!(down.status, 200);
    assert_eq!(down.body.len(), size);
    let block = "luasocket-wasi!\n".repeat(4096);
    let want: Vec<u8> = block
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect();
    assert_eq!(sha256(&down.body), sha256(&want));

    // The echo answers while the upload is still coming: write from another thread.
    let upload: Vec<u8> = (0..size as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut stream = serve.connect();
    let mut writer = stream.try_clone().unwrap();
    let sent = upload.clone();
    let sender = std::thread::spawn(move || {
        write!(
            writer,
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            sent.len()
        )
        .unwrap();
        writer.write_all(&sent).unwrap();
    });
    let echo = read_answer(&mut stream);
    sender.join().unwrap();
    assert_eq!(echo.status, 200);
    assert_eq!(echo.body.len(), size);
    assert_eq!(sha256(&echo.body), sha256(&upload));
}

#[test]
fn outgoing_requests_reach_nginx_only_when_allowed() {
    let dir = scratch("edge-nginx");
    let nginx = servers::nginx(&dir);
    std::fs::write(dir.join("www/hello.txt"), "upstream body\n").unwrap();
    let upstream = format!("127.0.0.1:{}", nginx.port);

    let allowed = Serve::start(&[&format!("--allow-net={upstream}")]);
    let answer = allowed.request(
        &format!("GET /upstream HTTP/1.1\r\nX-Upstream: {upstream}"),
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.text(),
        "200|HTTP/1.1 200 OK|text/plain|upstream body\n"
    );
    // Timeouts no Duration can hold are no timeout, not a trap.
    for timeout in ["1e300", "1e999", "-1", "nan", "0.5"] {
        let answer = allowed.request(
            &format!("GET /upstream HTTP/1.1\r\nX-Upstream: {upstream}\r\nX-Timeout: {timeout}"),
            b"",
        );
        assert_eq!(answer.status, 200, "timeout {timeout}: {}", answer.text());
    }

    let denied = Serve::start(&[]);
    let answer = denied.request(
        &format!("GET /upstream HTTP/1.1\r\nX-Upstream: {upstream}"),
        b"",
    );
    assert_eq!(answer.status, 502);
    assert_eq!(answer.text(), "upstream failed: permission denied");
}

#[test]
fn huge_heads_are_refused_and_slow_clients_hold_no_one_up() {
    let serve = Serve::start(&[]);
    // A 1 MiB header: refused before any instance is made.
    let mut stream = serve.connect();
    let big = "a".repeat(1 << 20);
    let _ = write!(
        stream,
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
    );
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );

    // Slowloris: 100 connections, each with half a request head, and no more.
    let slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = serve.connect();
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    let start = Instant::now();
    assert_eq!(serve.request("GET /hello HTTP/1.1", b"").status, 200);
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(slow);
}

#[test]
fn an_endless_body_ends_with_the_timeout() {
    let serve = Serve::start(&["--timeout", "2"]);
    let mut stream = serve.connect();
    stream
        .write_all(b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 65536, "z".repeat(65536));
    let start = Instant::now();
    // The server stops reading (and closes) once the instance's time is up.
    while start.elapsed() < Duration::from_secs(30) {
        if stream.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the endless upload was never cut off"
    );
    assert_eq!(serve.request("GET /hello HTTP/1.1", b"").status, 200);
}
