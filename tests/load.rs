//! Load with data integrity: 500 native clients at once, each sending 1 MiB of random
//! bytes through an echo server inside the component and reading it all back, then
//! 10,000 rapid connect/echo/close cycles against the same server; every byte is checked
//! (the SHA-256 of what each client got back against what it sent, so a byte lost,
//! added, corrupted or reordered in either direction fails the run), the server's byte
//! counts must match, and afterwards the instance holds no more host handles than after
//! serving one connection, and Lua's heap is back where it was after the first tenth.
//! Two server designs (tests/lua/load_echo_server.lua): one select loop, and a coroutine
//! per connection under the copas-style scheduler.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cache_dir;
use common::servers::free_port;
use luasocket_wasi_host::{
    Invocation, Limits, NetPolicy, Outcome, Preopen, RunResult, Runtime, Sandbox,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

const CLIENTS: usize = 500;
const BYTES: usize = 1 << 20;
const CYCLES: usize = 10_000;
/// Clients making the connect/close cycles, at once.
const CYCLERS: usize = 8;

fn tests_lua() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/lua")
}

/// Deterministic bytes that look random (xorshift64*), different for every client.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

async fn connect(port: u16) -> TcpStream {
    let started = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => return s,
            // Until the script is listening.
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
}

/// Sends `data` in uneven writes while reading the echo; returns what came back's digest.
async fn echo_through(stream: TcpStream, data: Arc<Vec<u8>>, seed: u64) -> (usize, [u8; 32]) {
    let (mut rx, mut tx) = stream.into_split();
    let writer = tokio::spawn(async move {
        let mut at = 0;
        let mut step = seed as usize % 7919 + 1;
        while at < data.len() {
            step = step * 31 % 65_521 + 1;
            let end = (at + step).min(data.len());
            tx.write_all(&data[at..end]).await.expect("send");
            at = end;
        }
        tx.shutdown().await.expect("shutdown");
    });
    let mut digest = Sha256::new();
    let mut got = 0;
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), rx.read(&mut buf))
            .await
            .expect("the echo stalled for 60 s")
            .expect("receive");
        if n == 0 {
            break;
        }
        got += n;
        digest.update(&buf[..n]);
    }
    writer.await.expect("writer");
    (got, digest.finalize().into())
}

/// One client of the first phase: connected with all the others before anyone sends.
async fn bulk_client(port: u16, i: usize, all: Arc<Barrier>) {
    let stream = connect(port).await;
    all.wait().await;
    let data = Arc::new(random_bytes(i as u64 + 1, BYTES));
    let sent: [u8; 32] = Sha256::digest(&data[..]).into();
    let (got, back) = echo_through(stream, data, i as u64).await;
    assert_eq!(got, BYTES, "client {i}: bytes back");
    assert_eq!(
        back, sent,
        "client {i}: the echo differs from what was sent"
    );
}

/// `count` short connections, one after another.
async fn cycles(port: u16, first: usize, count: usize) {
    for k in 0..count {
        let seed = (first * count + k) as u64 + 1_000_000;
        let data = Arc::new(random_bytes(seed, 64 + (seed as usize % 1500)));
        let sent: [u8; 32] = Sha256::digest(&data[..]).into();
        let len = data.len();
        let (got, back) = echo_through(connect(port).await, data, seed).await;
        assert_eq!((got, back), (len, sent), "cycle {k} of client {first}");
    }
}

fn sandbox() -> Sandbox {
    Sandbox {
        net: NetPolicy::parse("127.0.0.1").unwrap(),
        dirs: vec![Preopen {
            host: tests_lua(),
            guest: "/tests-lua".into(),
            writable: false,
        }],
        capture_output: true,
        limits: Limits {
            timeout: Some(Duration::from_secs(600)),
            ..Limits::default()
        },
        ..Sandbox::default()
    }
}

fn invocation(design: &str, total: usize, port: u16) -> Invocation {
    let path = tests_lua().join("load_echo_server.lua");
    Invocation {
        chunk_name: format!("@{}", path.display()),
        source: std::fs::read(&path).expect("the server script"),
        args: vec![],
        arg_table: vec![
            (1, design.into()),
            (2, total.to_string()),
            (3, port.to_string()),
        ],
    }
}

/// The server's summary line: served, bytes in, bytes out, heap after warm-up and at end.
fn summary(result: &RunResult) -> (usize, u64, u64, f64, f64) {
    let out = String::from_utf8_lossy(&result.stdout);
    let line = out.lines().last().unwrap_or_default();
    let f: Vec<&str> = line.split(' ').collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    match (num(1), num(3), num(5), num(7), num(9)) {
        (Some(s), Some(i), Some(o), Some(w), Some(e)) => (s as usize, i as u64, o as u64, w, e),
        _ => panic!(
            "no summary in {out:?}; outcome {:?}, stderr {}",
            result.outcome,
            String::from_utf8_lossy(&result.stderr)
        ),
    }
}

fn serve(runtime: &Runtime, design: &str, total: usize, load: impl AsyncFnOnce(u16)) -> RunResult {
    let port = free_port();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sandbox = sandbox();
        let server = runtime.run(&sandbox, invocation(design, total, port));
        let (result, ()) = tokio::join!(server, load(port));
        let result = result.expect("run");
        assert!(
            matches!(result.outcome, Outcome::Returned(_)),
            "{:?}: {}",
            result.outcome,
            String::from_utf8_lossy(&result.stderr)
        );
        result
    })
}

fn load_test(design: &str) {
    luasocket_wasi_host::runtime::raise_descriptor_limit();
    let runtime = Runtime::with_cache(Some(cache_dir())).unwrap();
    let baseline = serve(&runtime, design, 1, async |port| {
        cycles(port, 0, 1).await;
    });
    let started = Instant::now();
    let mut phase = Duration::ZERO;
    let result = serve(&runtime, design, CLIENTS + CYCLES, async |port| {
        let all = Arc::new(Barrier::new(CLIENTS));
        let bulk: Vec<_> = (0..CLIENTS)
            .map(|i| tokio::spawn(bulk_client(port, i, Arc::clone(&all))))
            .collect();
        for client in bulk {
            client.await.expect("a bulk client failed");
        }
        phase = started.elapsed();
        let short: Vec<_> = (0..CYCLERS)
            .map(|k| tokio::spawn(cycles(port, k, CYCLES / CYCLERS)))
            .collect();
        for client in short {
            client.await.expect("a cycling client failed");
        }
    });
    let elapsed = started.elapsed();
    let (served, bytes_in, bytes_out, heap_warm, heap_end) = summary(&result);
    eprintln!(
        "load ({design}): {CLIENTS} clients x {BYTES} B in {:.1} s, then {CYCLES} cycles in {:.1} s; \
         server: {served} served, {bytes_in} B in, {bytes_out} B out; host handles {} (after one \
         connection: {}); instance memory {} MiB; Lua heap {heap_warm:.0} KiB after warm-up, \
         {heap_end:.0} KiB at the end",
        phase.as_secs_f64(),
        (elapsed - phase).as_secs_f64(),
        result.resources,
        baseline.resources,
        result.memory >> 20,
    );
    assert_eq!(served, CLIENTS + CYCLES);
    assert_eq!(bytes_in, bytes_out, "the server echoed what it read");
    assert!(bytes_in >= (CLIENTS * BYTES) as u64);
    assert!(
        result.resources <= baseline.resources,
        "{} host handles left, {} after one connection",
        result.resources,
        baseline.resources
    );
    assert!(
        heap_end <= heap_warm + 64.0,
        "Lua's heap grew from {heap_warm} KiB to {heap_end} KiB"
    );
}

#[test]
fn a_select_echo_server_carries_500_clients_of_1_mib_and_10000_cycles_intact() {
    load_test("select");
}

#[test]
fn a_scheduler_echo_server_carries_500_clients_of_1_mib_and_10000_cycles_intact() {
    load_test("scheduler");
}
