//! Stress: many short runs of servers with 1,000 connections, quiet and with a CPU hog,
//! each of which must finish with every byte where it belongs. Four servers:
//! - a `select` line echo server (tests/lua/stress_select_server.lua) and 1,000 native
//!   clients that send bursts of lines and check every echo;
//! - the same server as a broadcast hub: each line one client sends goes to the 999
//!   others, a thousand sends in a row;
//! - the copas-style coroutine scheduler of tests/lua/scheduler_test.lua with its 1,000
//!   client coroutines in the same script (settimeout(0), non-blocking connect, select);
//! - the same scheduler over TLS (each connection wrapped by LuaSec's API, non-blocking
//!   handshakes driven by wantread/wantwrite).
//!
//! The broadcast hub finds the stall of tokio's cooperative budget (host/src/limits.rs,
//! `within`): before that fix, 34 of 50 of its runs ended with a send that took 0 bytes of
//! a 23-byte line into an empty socket buffer, the line a server ignoring `send`'s answer
//! would have lost. The suite runs a few rounds of each (about 90 s in all); `./dev long`
//! runs many more (`STRESS_LONG=1`), and `STRESS_RUNS=n` sets the count by hand.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::*;

const CONNECTIONS: usize = 1000;
/// Client threads sharing the connections.
const CLIENT_THREADS: usize = 4;
/// Per connection: rounds of a burst of lines sent at once, then their echoes read.
const ROUNDS: usize = 5;
const BURST: usize = 8;
/// Lines the broadcast hub's one publisher sends.
const MESSAGES: usize = 20;

/// One test at a time: a quiet run must not share the machine with another test's hog.
static SERIAL: Mutex<()> = Mutex::new(());

/// Keeps one core busy while alive.
struct CpuHog(Arc<AtomicBool>, Option<thread::JoinHandle<()>>);

impl CpuHog {
    fn start() -> CpuHog {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spin = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        CpuHog(stop, Some(spin))
    }
}

impl Drop for CpuHog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(spin) = self.1.take() {
            let _ = spin.join();
        }
    }
}

/// How many runs (each quiet and again beside a hog): `STRESS_RUNS` when set, `long`
/// under `STRESS_LONG` (`./dev long`), else `quick`.
fn runs(quick: usize, long: usize) -> usize {
    if let Some(n) = std::env::var("STRESS_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return n;
    }
    if std::env::var_os("STRESS_LONG").is_some() {
        long
    } else {
        quick
    }
}

/// Runs `once` quietly `n` times, then `n` times beside a CPU hog; every failure is
/// collected, and the test fails with the count and the first message.
fn quiet_then_hogged(n: usize, once: impl Fn(usize) -> Result<(), String>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for hog in [false, true] {
        let _hog = hog.then(CpuHog::start);
        let before = failures.len();
        for run in 0..n {
            if let Err(e) = once(run) {
                failures.push(format!("run {run}{}: {e}", if hog { " (hog)" } else { "" }));
            }
        }
        counts.push(failures.len() - before);
    }
    assert!(
        failures.is_empty(),
        "{} of {n} quiet runs and {} of {n} runs beside a CPU hog failed; first: {}",
        counts[0],
        counts[1],
        failures[0]
    );
}

fn spawn_script(args: &[&str]) -> Child {
    let mut cmd = cli();
    cmd.args(["run", "--allow-net=127.0.0.1", "--timeout", "120"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn luasocket-wasi")
}

/// A client thread's share: connect all, then rounds of bursts, checking every echo.
fn echo_clients(port: u16, first: usize) -> Result<usize, String> {
    let conns = connect_share(port, first)?;
    let mut readers: Vec<BufReader<&TcpStream>> = conns.iter().map(BufReader::new).collect();
    let mut echoes = 0;
    let mut line = String::new();
    for round in 0..ROUNDS {
        for (i, mut s) in conns.iter().enumerate() {
            let burst: String = (0..BURST)
                .map(|k| format!("{first}/{i} round {round} line {k}\n"))
                .collect();
            s.write_all(burst.as_bytes()).map_err(|e| e.to_string())?;
        }
        for (i, r) in readers.iter_mut().enumerate() {
            for k in 0..BURST {
                line.clear();
                r.read_line(&mut line)
                    .map_err(|e| format!("connection {first}/{i}, round {round}: {e}"))?;
                let want = format!("{first}/{i} round {round} line {k}\n");
                if line != want {
                    return Err(format!("expected {want:?}, got {line:?}"));
                }
                echoes += 1;
            }
        }
    }
    Ok(echoes)
}

/// A broadcast client thread's share: connect all, read "GO" on each, then (connection 0
/// of thread 0, the publisher) send the messages, or (everyone else) read them in order.
fn broadcast_clients(port: u16, first: usize) -> Result<usize, String> {
    let conns = connect_share(port, first)?;
    let mut readers: Vec<BufReader<&TcpStream>> = conns.iter().map(BufReader::new).collect();
    let mut line = String::new();
    let mut got = 0;
    for (i, r) in readers.iter_mut().enumerate() {
        line.clear();
        r.read_line(&mut line)
            .map_err(|e| format!("connection {first}/{i} waiting for GO: {e}"))?;
        if line != "GO\n" {
            return Err(format!("expected GO, got {line:?}"));
        }
    }
    for (i, r) in readers.iter_mut().enumerate() {
        if first == 0 && i == 0 {
            let mut publisher = &conns[0];
            for k in 0..MESSAGES {
                writeln!(publisher, "message {k} to everyone").map_err(|e| e.to_string())?;
            }
            continue;
        }
        for k in 0..MESSAGES {
            line.clear();
            r.read_line(&mut line)
                .map_err(|e| format!("connection {first}/{i}, message {k}: {e}"))?;
            if line != format!("message {k} to everyone\n") {
                return Err(format!("message {k} expected, got {line:?}"));
            }
            got += 1;
        }
    }
    Ok(got)
}

/// This client thread's connections: every `CLIENT_THREADS`th from `first`.
fn connect_share(port: u16, first: usize) -> Result<Vec<TcpStream>, String> {
    (first..CONNECTIONS)
        .step_by(CLIENT_THREADS)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .map_err(|e| e.to_string())?;
            Ok(s)
        })
        .collect()
}

/// A client thread's work: (port, thread number) → lines it got right.
type Clients = fn(u16, usize) -> Result<usize, String>;

#[derive(Clone, Copy)]
enum Mode {
    Echo,
    Broadcast,
}

fn select_server_once(mode: Mode) -> Result<(), String> {
    let (name, clients, sends): (_, Clients, _) = match mode {
        Mode::Echo => ("echo", echo_clients, CONNECTIONS * ROUNDS * BURST),
        Mode::Broadcast => (
            "broadcast",
            broadcast_clients,
            CONNECTIONS + (CONNECTIONS - 1) * MESSAGES,
        ),
    };
    let mut child = spawn_script(&[
        &test_script("stress_select_server.lua"),
        &CONNECTIONS.to_string(),
        name,
    ]);
    let mut lines = Lines::of(&mut child);
    let port: u16 = match lines.next().parse() {
        Ok(port) => port,
        Err(_) => {
            let out = wait_within(child, Duration::from_secs(30));
            return Err(format!("no port; stderr: {}", stderr(&out)));
        }
    };
    let threads: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| thread::spawn(move || clients(port, t)))
        .collect();
    let results: Vec<Result<usize, String>> = threads
        .into_iter()
        .map(|c| c.join().unwrap_or_else(|_| Err("client panicked".into())))
        .collect();
    let failed = results.iter().find_map(|r| r.as_ref().err());
    // The summary line comes only from a server that finished.
    let summary = if failed.is_none() {
        lines.next()
    } else {
        String::new()
    };
    let out = wait_within(child, Duration::from_secs(60));
    if let Some(e) = failed {
        return Err(format!("{e}; server: {}", stderr(&out).trim()));
    }
    if !out.status.success() {
        return Err(format!("server failed: {}", stderr(&out).trim()));
    }
    let want = format!("served {CONNECTIONS} sent {sends}");
    if !summary.starts_with(&want) {
        return Err(format!("expected {want:?}, the server said {summary:?}"));
    }
    Ok(())
}

#[test]
fn a_select_echo_server_with_1000_connections_loses_nothing() {
    quiet_then_hogged(runs(6, 1000), |_| select_server_once(Mode::Echo));
}

#[test]
fn a_select_broadcast_hub_with_1000_connections_loses_nothing() {
    quiet_then_hogged(runs(8, 1000), |_| select_server_once(Mode::Broadcast));
}

/// One run of the scheduler script with its own client coroutines; over TLS with the
/// certificates of `pki` (seen at /pki inside the sandbox).
fn scheduler_once(pki: Option<&Pki>) -> Result<(), String> {
    let mut cmd = cli();
    cmd.args(["run", "--allow-net=127.0.0.1", "--timeout", "120"])
        .args(["--dir", &test_lua_dir()]);
    if let Some(pki) = pki {
        cmd.arg("--dir")
            .arg(format!("{}::/pki", pki.dir().display()));
    }
    cmd.arg(test_script("scheduler_test.lua"))
        .arg("both")
        .arg(CONNECTIONS.to_string());
    if pki.is_some() {
        cmd.args(["tls", "/pki"]);
    }
    let started = Instant::now();
    let out = run_within(cmd, Duration::from_secs(180));
    let text = stdout(&out);
    let want = format!("ok: {CONNECTIONS} clients, {CONNECTIONS} served, peak {CONNECTIONS} open");
    if !out.status.success() || !text.starts_with(&want) {
        return Err(format!(
            "after {:.1} s: {} {}",
            started.elapsed().as_secs_f64(),
            text.trim(),
            stderr(&out).trim()
        ));
    }
    Ok(())
}

#[test]
fn a_coroutine_scheduler_with_1000_connections_loses_nothing() {
    quiet_then_hogged(runs(2, 250), |_| scheduler_once(None));
}

#[test]
fn the_scheduler_over_tls_with_1000_connections_loses_nothing() {
    let pki = Pki::new("stress-tls");
    quiet_then_hogged(runs(1, 40), |_| scheduler_once(Some(&pki)));
}
