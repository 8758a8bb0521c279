//! The handler world on two hosts: our `luasocket-wasi serve app.lua`, and the stock
//! `wasmtime serve app.wasm` (wasmtime-cli, installed by scripts/bootstrap.sh) running
//! what `luasocket-wasi build` packed. The same WSAPI app (tests/edge/app.lua, with a
//! module of its own in tests/edge/lib/) answers real HTTP clients over loopback under
//! both, makes outgoing requests to nginx, and meets hostile clients that must not harm
//! the server. Each scenario is one test per host (`ours::*`, `wasmtime_serve::*`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use common::servers::{self, free_port};
use common::*;

fn edge_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/edge")
}

/// The wasmtime CLI that scripts/bootstrap.sh installs and links here.
fn wasmtime() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-deps/wasmtime");
    assert!(
        path.is_file(),
        "no wasmtime CLI at {}: run scripts/bootstrap.sh test",
        path.display()
    );
    path
}

/// app.lua and its modules packed by `luasocket-wasi build`, once per test run.
fn app_wasm() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = scratch("edge-build").join("app.wasm");
        let mut cmd = cli();
        cmd.arg("build")
            .arg(edge_dir().join("app.lua"))
            .arg("--modules")
            .arg(edge_dir().join("lib"))
            .arg("-o")
            .arg(&out);
        ok(&run_within(cmd, Duration::from_secs(120)));
        out
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Host {
    /// `luasocket-wasi serve app.lua`.
    Ours,
    /// `wasmtime serve app.wasm`.
    Wasmtime,
}

/// What a test asks of the host, in terms both understand.
#[derive(Default)]
struct Options<'a> {
    /// Outgoing connections allowed to this HOST:PORT (ours; wasmtime serve has no
    /// allow-list and lets every outgoing request through).
    allow_net: Option<&'a str>,
    /// Each request's instance stopped after this long.
    timeout_secs: Option<u32>,
}

impl Host {
    fn command(self, port: u16, options: &Options) -> Command {
        let listen = format!("127.0.0.1:{port}");
        match self {
            Host::Ours => {
                let mut cmd = cli();
                cmd.args(["serve", "--listen", &listen])
                    .arg("--modules")
                    .arg(edge_dir().join("lib"));
                if let Some(rule) = options.allow_net {
                    cmd.arg(format!("--allow-net={rule}"));
                }
                if let Some(secs) = options.timeout_secs {
                    cmd.args(["--timeout", &secs.to_string()]);
                }
                cmd.arg(edge_dir().join("app.lua"));
                cmd
            }
            Host::Wasmtime => {
                let mut cmd = Command::new(wasmtime());
                cmd.args(["serve", "--addr", &listen]);
                if let Some(secs) = options.timeout_secs {
                    cmd.arg(format!("-Wtimeout={secs}s"));
                }
                cmd.arg(app_wasm()).stdin(Stdio::null());
                cmd
            }
        }
    }
}

/// A server on a free port; killed when dropped. Its stderr is kept, to show when a
/// test fails.
struct Serve {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Serve {
    fn start(host: Host, options: Options) -> Serve {
        for _ in 0..10 {
            let port = free_port();
            let mut child = host
                .command(port, &options)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn the {host:?} server: {e}"));
            let stderr = BufReader::new(child.stderr.take().expect("piped"));
            let log = Arc::new(Mutex::new(String::new()));
            let (ready, announced) = std::sync::mpsc::channel();
            let kept = log.clone();
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    if line.starts_with("Serving HTTP on") {
                        let _ = ready.send(true);
                    }
                    let mut log = kept.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
                let _ = ready.send(false);
            });
            // wasmtime serve compiles app.wasm first (or takes it from its cache).
            if announced.recv_timeout(Duration::from_secs(120)) == Ok(true) {
                return Serve { child, port, log };
            }
            // Another test took the port first: try another.
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("{host:?} did not start: {}", log.lock().unwrap());
        }
        panic!("the {host:?} server did not start on any of 10 ports");
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

    /// What the server wrote to stderr so far.
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether the server writes `text` to stderr within 10 s (the handler reports a
    /// failure after it has answered).
    fn logs(&self, text: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test per host for each scenario.
macro_rules! on_both_hosts {
    ($($scenario:ident),* $(,)?) => {
        mod ours {
            $(#[test] fn $scenario() { super::$scenario(super::Host::Ours) })*
        }
        mod wasmtime_serve {
            $(#[test] fn $scenario() { super::$scenario(super::Host::Wasmtime) })*
        }
    };
}

on_both_hosts!(
    routes_methods_query_strings_and_bodies,
    a_failing_app_answers_500_and_the_server_goes_on,
    ten_mib_stream_down_and_up_with_their_sha256,
    outgoing_requests_reach_nginx,
    raw_sockets_are_refused_where_none_are_granted,
    huge_heads_are_refused_and_slow_clients_hold_no_one_up,
    an_endless_body_ends_with_the_timeout,
    curl_and_python_clients,
);

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

fn routes_methods_query_strings_and_bodies(host: Host) {
    let serve = Serve::start(host, Options::default());
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

    let module = serve.request("GET /module HTTP/1.1", b"");
    assert_eq!(module.status, 200, "{}", serve.log());
    assert_eq!(module.text(), "greetings, edge, from edgelib.greeting");
}

fn a_failing_app_answers_500_and_the_server_goes_on(host: Host) {
    let serve = Serve::start(host, Options::default());
    let failed = serve.request("GET /fail HTTP/1.1", b"");
    assert_eq!(failed.status, 500);
    assert_eq!(failed.text(), "Internal Server Error\n");
    // The traceback goes to the host's log.
    assert!(serve.logs("deliberate failure"), "{}", serve.log());
    assert_eq!(serve.request("GET /hello HTTP/1.1", b"").status, 200);
}

fn ten_mib_stream_down_and_up_with_their_sha256(host: Host) {
    let serve = Serve::start(host, Options::default());
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

fn outgoing_requests_reach_nginx(host: Host) {
    let dir = scratch(&format!("edge-nginx-{host:?}"));
    let nginx = servers::nginx(&dir);
    std::fs::write(dir.join("www/hello.txt"), "upstream body\n").unwrap();
    let upstream = format!("127.0.0.1:{}", nginx.port);

    let allowed = Serve::start(
        host,
        Options {
            allow_net: Some(&upstream),
            ..Options::default()
        },
    );
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
    if host == Host::Wasmtime {
        // wasmtime serve has no outgoing allow-list to deny with.
        return;
    }
    let denied = Serve::start(host, Options::default());
    let answer = denied.request(
        &format!("GET /upstream HTTP/1.1\r\nX-Upstream: {upstream}"),
        b"",
    );
    assert_eq!(answer.status, 502);
    assert_eq!(answer.text(), "upstream failed: permission denied");
}

/// Ours grants no socket without --allow-net; on wasmtime serve, the shim packed into
/// app.wasm grants none at all. Either way the app gets LuaSocket's error, not a trap.
fn raw_sockets_are_refused_where_none_are_granted(host: Host) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let serve = Serve::start(host, Options::default());
    let answer = serve.request(&format!("GET /rawsocket?{port} HTTP/1.1"), b"");
    assert_eq!(answer.status, 200, "{}", serve.log());
    assert_eq!(answer.text(), "refused: permission denied");
}

fn huge_heads_are_refused_and_slow_clients_hold_no_one_up(host: Host) {
    let serve = Serve::start(host, Options::default());
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

fn an_endless_body_ends_with_the_timeout(host: Host) {
    let serve = Serve::start(
        host,
        Options {
            timeout_secs: Some(2),
            ..Options::default()
        },
    );
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

/// Clients written by others: curl streams a 10 MiB file up and the echo back down
/// (checked by SHA-256), Python's http.client sends JSON and reads the reply.
fn curl_and_python_clients(host: Host) {
    let serve = Serve::start(host, Options::default());
    let dir = scratch(&format!("edge-clients-{host:?}"));
    let upload: Vec<u8> = (0..10u32 << 20)
        .map(|i| (i.wrapping_mul(40_503) >> 9) as u8)
        .collect();
    std::fs::write(dir.join("up.bin"), &upload).unwrap();
    let url = format!("http://127.0.0.1:{}", serve.port);
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "--fail",
        "-H",
        "Content-Type: application/octet-stream",
    ])
    .arg("--data-binary")
    .arg(format!("@{}", dir.join("up.bin").display()))
    .arg("-o")
    .arg(dir.join("down.bin"))
    .arg(format!("{url}/echo"));
    let out = run_within(curl, Duration::from_secs(120));
    assert!(out.status.success(), "curl: {}", stderr(&out));
    let echoed = std::fs::read(dir.join("down.bin")).unwrap();
    assert_eq!(echoed.len(), upload.len());
    assert_eq!(sha256(&echoed), sha256(&upload));

    let mut python = Command::new("python3");
    python.arg("-c").arg(
        "import http.client, json, sys\n\
         c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=60)\n\
         c.request('POST', '/json', json.dumps({'b': 'two', 'a': 'one'}),\n\
                   {'Content-Type': 'application/json'})\n\
         r = c.getresponse()\n\
         print(r.status, r.getheader('Content-Type'), json.loads(r.read())['fields'])",
    );
    python.arg(serve.port.to_string());
    let out = run_within(python, Duration::from_secs(60));
    assert_eq!(ok(&out).trim(), "200 application/json a=one,b=two");
}

/// The interfaces of the `wasi:http/proxy` world (wit/deps/http.wit, `world proxy`).
const PROXY_WORLD: &[&str] = &[
    "wasi:io/poll@0.2.12",
    "wasi:io/error@0.2.12",
    "wasi:io/streams@0.2.12",
    "wasi:clocks/monotonic-clock@0.2.12",
    "wasi:clocks/wall-clock@0.2.12",
    "wasi:random/random@0.2.12",
    "wasi:cli/stdout@0.2.12",
    "wasi:cli/stderr@0.2.12",
    "wasi:cli/stdin@0.2.12",
    "wasi:http/types@0.2.12",
    "wasi:http/outgoing-handler@0.2.12",
];

/// What edge hosts check before they run a component: app.wasm needs nothing beyond
/// the proxy world, and offers only the handler.
#[test]
fn app_wasm_imports_only_the_proxy_world_and_exports_only_the_handler() {
    use wasmtime::component::Component;
    let engine = wasmtime::Engine::default();
    let component = Component::from_file(&engine, app_wasm()).unwrap();
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_owned()).collect();
    for name in &imports {
        assert!(
            PROXY_WORLD.contains(&name.as_str()),
            "{name} is not in wasi:http/proxy"
        );
    }
    let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_owned()).collect();
    assert_eq!(exports, ["wasi:http/incoming-handler@0.2.12"]);
}

/// `build`'s mistakes are usage errors with a message, not a panic or a partial file.
#[test]
fn build_refuses_what_it_cannot_pack() {
    let dir = scratch("edge-build-errors");
    let out = dir.join("never.wasm");
    for args in [
        vec![
            "build".into(),
            dir.join("missing.lua").display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ],
        vec![
            "build".into(),
            edge_dir().join("app.lua").display().to_string(),
        ],
        vec![
            "build".into(),
            edge_dir().join("app.lua").display().to_string(),
            "--modules".into(),
            dir.join("no-such-dir").display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ],
    ] {
        let mut cmd = cli();
        cmd.args(&args);
        let result = run_within(cmd, Duration::from_secs(60));
        assert_eq!(
            result.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&result)
        );
        assert!(!stderr(&result).contains("panicked"), "{}", stderr(&result));
        assert!(!out.exists());
    }
}
