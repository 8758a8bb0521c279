//! Limits: wall clock (also while blocked in I/O), CPU, memory; each says which it was.

mod common;

use std::time::{Duration, Instant};

use common::*;
use luasocket_wasi_host::{Failure, Invocation, Limits, Outcome, RunResult, Runtime, Sandbox};

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
