//! A copas-style coroutine scheduler written in plain Lua over LuaSocket (settimeout(0),
//! socket.select, the non-blocking connect dance) serving 200 concurrent connections
//! inside the component: first with the 200 clients as coroutines in the same script,
//! then with 200 native clients. The Lua side is tests/lua/scheduler_test.lua, which also
//! runs by hand through the CLI (see its header).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const CLIENTS: usize = 200;

fn script() -> String {
    test_script("scheduler_test.lua")
}

#[test]
fn a_lua_scheduler_serves_200_lua_clients_in_the_same_script() {
    let mut cmd = cli();
    cmd.args(["run", "--allow-net=127.0.0.1", "--timeout", "60"])
        .args(["--dir", &test_lua_dir()])
        .arg(script())
        .arg("both")
        .arg(CLIENTS.to_string());
    let out = run_within(cmd, Duration::from_secs(120));
    let text = ok(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("ok: 200 clients, 200 served, peak 200 open"),
        "{text}"
    );
    // "connects: A at once, B already connected, C second ok"
    let connects = lines.next().unwrap_or_default();
    let counts: Vec<usize> = connects
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [at_once, already, second_ok] = counts[..] else {
        panic!("the connect counts, not {connects:?}");
    };
    assert_eq!(at_once + already + second_ok, CLIENTS, "{connects}");
    // As on Linux: a non-blocking connect always answers "timeout" first, and the connect
    // after select says writable answers 1 (what a 2009-era copas needs), not "already
    // connected".
    assert_eq!((at_once, already, second_ok), (0, 0, CLIENTS), "{connects}");
}

/// The script's blob: "tag;" repeated, cut to `n` bytes.
fn blob(tag: &str, n: usize) -> Vec<u8> {
    let unit = format!("{tag};");
    let mut bytes = unit.repeat(n / unit.len() + 1).into_bytes();
    bytes.truncate(n);
    bytes
}

/// One blocking connection to the Lua server; every read and write is bounded.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let limit = Some(Duration::from_secs(20));
        stream.set_read_timeout(limit).unwrap();
        stream.set_write_timeout(limit).unwrap();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("receive a line");
        assert!(line.ends_with('\n'), "a whole line, not {line:?}");
        line.trim_end().to_owned()
    }

    fn ask(&mut self, request: &str) -> String {
        self.send(format!("{request}\n").as_bytes());
        self.line()
    }
}

/// The conversation each of the script's own clients has, from native code. Every
/// client waits after its greeting until all have been greeted, so the server holds all
/// the connections at once.
fn native_client(i: usize, port: u16, greeted: &AtomicUsize) {
    let mut conn = Conn::open(port);
    assert_eq!(conn.ask(&format!("HELLO {i}")), format!("WELCOME {i}"));
    greeted.fetch_add(1, Ordering::SeqCst);
    let start = Instant::now();
    while greeted.load(Ordering::SeqCst) < CLIENTS {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "only {} of {CLIENTS} clients were greeted",
            greeted.load(Ordering::SeqCst)
        );
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        conn.ask(&format!("ADD {i} 1000")),
        format!("SUM {}", i + 1000)
    );
    let text = format!("native-{i}-says-hi");
    assert_eq!(
        conn.ask(&format!("REVERSE {text}")),
        text.chars().rev().collect::<String>()
    );
    let (down, tag) = (1000 + 97 * i, format!("down{i}"));
    assert_eq!(
        conn.ask(&format!("DATA {down} {tag}")),
        format!("LEN {down}")
    );
    let mut body = vec![0; down];
    conn.reader.read_exact(&mut body).expect("the data");
    assert!(body == blob(&tag, down), "client {i}: wrong data bytes");
    let (up, uptag) = (20000 + 131 * i, format!("up{i}"));
    let mut upload = format!("UPLOAD {up} {uptag}\n").into_bytes();
    upload.extend(blob(&uptag, up));
    conn.send(&upload);
    assert_eq!(conn.line(), format!("GOT {up} ok"));
    assert_eq!(conn.ask("NOSUCH thing"), "ERR unknown command");
    assert_eq!(conn.ask("BYE"), "BYE 7");
    // The server closes after BYE: end of stream, nothing more.
    let mut rest = Vec::new();
    conn.reader.read_to_end(&mut rest).expect("the close");
    assert!(rest.is_empty(), "client {i}: bytes after BYE: {rest:?}");
}

#[test]
fn a_lua_scheduler_serves_200_native_clients_at_once() {
    let mut cmd = cli();
    cmd.args(["run", "--allow-net=127.0.0.1", "--timeout", "60"])
        .args(["--dir", &test_lua_dir()])
        .arg(script())
        .arg("serve")
        .arg(CLIENTS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn luasocket-wasi");
    let mut lines = Lines::of(&mut child);
    let first = lines.next();
    let Ok(port) = first.parse::<u16>() else {
        let out = wait_within(child, Duration::from_secs(60));
        panic!(
            "the server prints its port, not {first:?}; stderr: {}",
            stderr(&out)
        );
    };
    let greeted = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (1..=CLIENTS)
        .map(|i| {
            let greeted = Arc::clone(&greeted);
            thread::spawn(move || native_client(i, port, &greeted))
        })
        .collect();
    let failed: Vec<usize> = clients
        .into_iter()
        .enumerate()
        .filter_map(|(i, client)| client.join().err().map(|_| i + 1))
        .collect();
    if !failed.is_empty() {
        // The server may still be waiting for connections that will not come.
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "{} clients failed (first: {:?}); server stderr: {}",
            failed.len(),
            &failed[..failed.len().min(10)],
            stderr(&out)
        );
    }
    assert_eq!(lines.next(), "served 200 peak 200");
    let out = wait_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
}
