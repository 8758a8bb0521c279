//! Limits: wall clock (also while blocked in I/O), CPU, memory; each says which it was.

mod common;

use std::time::{Duration, Instant};

use common::*;
use luasocket_wasi_host::{
    Failure, Interruption, Invocation, Limit, Limits, Outcome, RunResult, Runtime, RuntimeOptions,
    Sandbox,
};

#[test]
fn wall_clock_stops_a_busy_loop() {
    let start = Instant::now();
    let out = lua(&["--timeout", "1"], "while true do end");
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wall-clock limit reached: the script ran for 1 s (--timeout)"),
        "{}",
        stderr(&out)
    );
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn wall_clock_stops_a_script_blocked_in_accept() {
    let start = Instant::now();
    let out = lua(
        &["--allow-net=127.0.0.1", "--timeout", "1"],
        "local s = assert(require('socket').bind('127.0.0.1', 0)) s:accept()",
    );
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn wall_clock_stops_a_script_blocked_in_sleep() {
    let out = lua(&["--timeout", "0.5"], "require('socket').sleep(1000)");
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
}

#[test]
fn cpu_limit_stops_a_runaway() {
    let out = lua(
        &["--cpu-limit", "0.3"],
        "local x = 0 while true do x = x + 1 end",
    );
    assert_eq!(out.status.code(), Some(123), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CPU limit reached"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cpu_limit_does_not_count_time_blocked() {
    let out = lua(
        &["--cpu-limit", "0.3"],
        "require('socket').sleep(1) return 'slept'",
    );
    assert_eq!(ok(&out), "slept\n");
}

#[test]
fn memory_limit_is_reported_when_not_caught() {
    let out = lua(
        &["--max-memory", "32"],
        "local t = {} while true do t[#t + 1] = string.rep('x', 1 << 20) .. #t end",
    );
    assert_eq!(out.status.code(), Some(122), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not enough memory"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn memory_limit_is_catchable_inside_the_script() {
    let out = lua(
        &["--max-memory", "32"],
        "local ok, e = pcall(string.rep, 'x', 1 << 30) return ok, e",
    );
    assert_eq!(ok(&out), "false\tnot enough memory\n");
}

/// Fills the instance's linear memory (not only Lua's budget: the table's array part needs
/// old and new block while it grows) and catches the error, leaving the garbage in place.
const CAUGHT_BOMB: &str = "
    local ok, e = pcall(function() local t = {} for i = 1, 1e9 do t[i] = {} end end)
    assert(not ok and e == 'not enough memory', e)
";

/// What a script does after its bomb: nothing was written before it, so stdio is first
/// used with the memory still full.
const AFTER_BOMB: &str = "
    io.stderr:write('err after\\n')
    print('out after')
    error('boom after')
";

#[test]
fn output_works_after_a_caught_memory_error() {
    let out = lua(
        &["--max-memory", "64"],
        &format!("{CAUGHT_BOMB}{AFTER_BOMB}"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out after\n");
    let err = stderr(&out);
    assert!(err.starts_with("err after\n"), "{err}");
    assert!(
        err.contains("luasocket-wasi: (command line):7: boom after"),
        "{err}"
    );
}

#[test]
fn os_exit_output_survives_a_caught_memory_error() {
    let out = lua(
        &["--max-memory", "64"],
        &format!("{CAUGHT_BOMB} print('after') io.stderr:write('err\\n') os.exit(7)"),
    );
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "after\n");
    assert_eq!(stderr(&out), "err\n");
}

#[test]
fn captured_output_works_after_a_caught_memory_error() {
    let sandbox = Sandbox {
        capture_output: true,
        limits: Limits {
            max_memory: Some(64 << 20),
            ..Limits::default()
        },
        ..Sandbox::default()
    };
    let result = run_library(&sandbox, &format!("{CAUGHT_BOMB}{AFTER_BOMB}"));
    assert_eq!(String::from_utf8_lossy(&result.stdout), "out after\n");
    assert_eq!(String::from_utf8_lossy(&result.stderr), "err after\n");
    match result.outcome {
        Outcome::Failed(Failure::Runtime(m)) => assert!(m.starts_with("bomb:7: boom after"), "{m}"),
        other => panic!("expected the uncaught error, got {other:?}"),
    }
}

#[test]
fn files_open_after_a_caught_memory_error() {
    let dir = scratch("oom-files");
    let spec = format!("{}::/data", dir.display());
    let out = lua(
        &["--max-memory", "64", "--dir", &spec],
        &format!(
            "{CAUGHT_BOMB}
            -- C's malloc cannot make Lua collect: with the garbage still there the open
            -- may fail, but only as an error the script sees
            local f, e = io.open('/data/note', 'w')
            if f then f:close() else assert(e:find('Out of memory'), e) end
            collectgarbage()
            f = assert(io.open('/data/note', 'w'))
            assert(f:write('kept'))
            assert(f:close())
            print('written')"
        ),
    );
    assert_eq!(ok(&out), "written\n");
    assert_eq!(std::fs::read_to_string(dir.join("note")).unwrap(), "kept");
}

fn run_library(sandbox: &Sandbox, source: &str) -> RunResult {
    let invocation = Invocation {
        chunk_name: "=bomb".into(),
        source: source.as_bytes().to_vec(),
        args: vec![],
        arg_table: vec![],
    };
    let runtime = Runtime::with_cache(Some(cache_dir())).expect("runtime");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(runtime.run(sandbox, invocation))
        .expect("run")
}

/// Set in the inner run of a test that [`silent_resolver`] re-runs in a namespace.
const INSIDE_NAMESPACE: &str = "LUASOCKET_WASI_TEST_SILENT_RESOLVER";

/// A resolver that never answers, for the test `name` (this binary's test of that name).
///
/// The system resolver's address cannot be changed for one process, so the test runs
/// twice: the outer run starts this binary again, for this test only, in user, mount and
/// network namespaces of its own (`unshare -rmn`, no root needed) where /etc/resolv.conf
/// is bind-mounted over with one naming 127.0.0.1 and glibc's longest usual patience,
/// `timeout:30 attempts:2`, and returns None once that run passed. The inner run gets the
/// socket on 127.0.0.1:53, which takes the queries and never answers (so no "port
/// unreachable" ends the wait early either). Where unprivileged namespaces are not
/// available the test says it is skipped and passes.
fn silent_resolver(name: &str) -> Option<std::net::UdpSocket> {
    if std::env::var_os(INSIDE_NAMESPACE).is_some() {
        return Some(std::net::UdpSocket::bind("127.0.0.1:53").expect("bind the resolver port"));
    }
    let usable = std::process::Command::new("unshare")
        .args(["-rmn", "ip", "link", "set", "lo", "up"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        eprintln!("skipped: no unprivileged namespaces (unshare -rmn) or no `ip` here");
        return None;
    }
    let dir = scratch(name);
    let conf = dir.join("resolv.conf");
    std::fs::write(
        &conf,
        "nameserver 127.0.0.1\noptions timeout:30 attempts:2\n",
    )
    .unwrap();
    let mut inner = std::process::Command::new("unshare");
    inner
        .args(["-rmn", "sh", "-c"])
        .arg(
            "ip link set lo up && mount --bind \"$0\" /etc/resolv.conf \
             && exec \"$1\" --exact \"$2\" --nocapture --test-threads=1",
        )
        .arg(&conf)
        .arg(std::env::current_exe().unwrap())
        .arg(name)
        .env(INSIDE_NAMESPACE, "1");
    let out = run_within(inner, Duration::from_secs(180));
    assert!(
        out.status.success() && stdout(&out).contains("1 passed"),
        "the run inside the namespace failed\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    None
}

#[test]
fn wall_clock_stops_a_name_lookup_the_resolver_never_answers() {
    let Some(_resolver) =
        silent_resolver("wall_clock_stops_a_name_lookup_the_resolver_never_answers")
    else {
        return;
    };
    let start = Instant::now();
    let out = lua(
        &["--allow-net=never.example", "--timeout", "2"],
        "print(require('socket').dns.toip('never.example'))",
    );
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wall-clock limit reached"),
        "{}",
        stderr(&out)
    );
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "ended after {took:?}");
}

#[test]
fn a_timed_out_lookup_leaves_the_embedder_nothing_to_wait_for() {
    let Some(_resolver) =
        silent_resolver("a_timed_out_lookup_leaves_the_embedder_nothing_to_wait_for")
    else {
        return;
    };
    let sandbox = Sandbox {
        net: luasocket_wasi_host::NetPolicy::parse("never.example").unwrap(),
        capture_output: true,
        limits: Limits {
            timeout: Some(Duration::from_secs(1)),
            ..Limits::default()
        },
        ..Sandbox::default()
    };
    let start = Instant::now();
    // run_library builds, uses and drops its own tokio runtime: the drop is what would
    // wait for a lookup still running on the runtime's blocking pool.
    let result = run_library(
        &sandbox,
        "return require('socket').dns.toip('never.example')",
    );
    assert!(
        matches!(result.outcome, Outcome::Limit(Limit::WallClock(_))),
        "{:?}",
        result.outcome
    );
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "returned after {took:?}");
}

#[test]
fn fifos_and_devices_are_refused_at_once_and_files_still_open() {
    let dir = scratch("fifo");
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(dir.join("plain"), "plain text").unwrap();
    let spec = format!("{}::/data", dir.display());
    let start = Instant::now();
    let out = lua(
        &["--dir", &spec, "--dir", "/dev::/dev", "--timeout", "5"],
        "print(io.open('/data/fifo', 'r'))
         print(io.open('/data/fifo', 'w'))
         print(io.open('/dev/tty'))
         print(io.open('/data/plain'):read('a'))
         assert(io.open('/data/new', 'w')):close()
         print(io.type(io.open('/data')))",
    );
    assert_eq!(
        ok(&out),
        "nil\t/data/fifo: Permission denied\t2\n\
         nil\t/data/fifo: Permission denied\t2\n\
         nil\t/dev/tty: Permission denied\t2\n\
         plain text\n\
         file\n"
    );
    assert!(dir.join("new").exists());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn wall_clock_stops_a_script_whose_output_is_never_read() {
    for write in ["io.write", "io.stderr:write"] {
        let mut cmd = cli();
        cmd.args(["--timeout", "1", "-e"])
            .arg(format!("while true do {write}(string.rep('x', 65536)) end"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // Nothing reads either pipe until the process has ended: the first one fills.
        let start = Instant::now();
        let out = wait_within(cmd.spawn().unwrap(), Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(124), "{write}");
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(10),
            "{write}: ended after {took:?}"
        );
        if write == "io.write" {
            // stderr had room for the reason (the other way round, it is dropped).
            assert!(stderr(&out).contains("wall-clock limit reached"), "{write}");
        }
    }
}

/// A runtime built without interruption runs code without the epoch checks, so it cannot
/// enforce CPU or wall-clock limits: it refuses a sandbox with either, and runs the rest.
#[test]
fn an_uninterruptible_runtime_refuses_time_limits_and_runs_the_rest() {
    let runtime = Runtime::with_options(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        interruption: Interruption::Disabled,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let invocation = || Invocation {
        chunk_name: "=chunk".into(),
        source: b"return 6 * 7".to_vec(),
        args: vec![],
        arg_table: vec![],
    };
    for limits in [
        Limits {
            cpu: Some(Duration::from_secs(1)),
            ..Limits::default()
        },
        Limits {
            timeout: Some(Duration::from_secs(1)),
            ..Limits::default()
        },
    ] {
        let sandbox = Sandbox {
            limits,
            ..Sandbox::default()
        };
        let err = rt
            .block_on(runtime.run(&sandbox, invocation()))
            .expect_err("a time limit it cannot enforce");
        assert!(
            format!("{err:#}").contains("need a runtime built with Interruption::Enabled"),
            "{err:#}"
        );
    }
    let done = rt
        .block_on(runtime.run(&Sandbox::default(), invocation()))
        .expect("run");
    match done.outcome {
        Outcome::Returned(values) => assert_eq!(values, ["42"]),
        other => panic!("{other:?}"),
    }
}
