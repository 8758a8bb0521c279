//! Limits: wall clock (also while blocked in I/O), CPU, memory; each says which it was.

mod common;

use std::time::{Duration, Instant};

use common::*;

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
