//! Waiting, the only place the guest blocks: one pollable (or several) against a deadline,
//! with the monotonic clock as the timer. Zero-length waits never touch the timer, so
//! "try once" costs a single `ready()` check.
//!
//! While interactive input runs ([`watch::interruptible`]), every wait here also watches the
//! host's interrupt (Ctrl-C), and ends at once when it comes: a wait reports `Timeout`,
//! a sleep is cut short, and the caller's `noticed` is called, so that the call returns
//! to Lua and the input stops at its next instruction (`crate::interactive`). Without that, an input blocked in `socket.sleep(60)`
//! or a `receive` could only be stopped by the host taking the whole instance away.

use std::time::Duration;

use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::io::poll::{Pollable, poll};

use super::error::{NetError, NetResult};
use super::timeout::Deadline;
use crate::watch;

/// Nanoseconds on the monotonic clock.
pub fn now_ns() -> u64 {
    monotonic_clock::now()
}

/// Whether the watched interrupt has come (telling whoever watches it).
fn interrupted(interrupt: &Pollable) -> bool {
    let yes = interrupt.ready();
    if yes {
        watch::notice();
    }
    yes
}

/// Blocks until `pollable` is ready, or the interrupt comes (telling whoever watches it):
/// says whether it was `pollable`. For waits outside the socket core (`io.stdin`).
pub fn block_unless_interrupted(pollable: &Pollable) -> bool {
    block(pollable)
}

/// Blocks until `pollable` is ready, or the interrupt is: says whether it was `pollable`.
fn block(pollable: &Pollable) -> bool {
    watch::with_interrupt(|interrupt| match interrupt {
        None => {
            pollable.block();
            true
        }
        Some(interrupt) => {
            // The interrupt wins a tie, and is noticed whether or not `pollable` is ready.
            let ready = poll(&[pollable, interrupt]);
            if ready.contains(&1) {
                watch::notice();
                false
            } else {
                ready.contains(&0)
            }
        }
    })
}

/// Waits until `pollable` is ready, or fails with `Timeout` when the deadline's next wait
/// runs out first (or the interrupt comes). Readiness may be spurious: callers retry their
/// operation and come back.
pub fn wait(pollable: &Pollable, deadline: &Deadline) -> NetResult<()> {
    deadline.begin(now_ns);
    // Only a total limit reads the clock (a host call) here.
    let ready = match deadline.wait_limit(now_ns) {
        None => block(pollable),
        Some(limit) if limit.is_zero() => pollable.ready(),
        Some(limit) => !wait_any(&[pollable], Some(limit)).is_empty(),
    };
    if ready {
        Ok(())
    } else {
        Err(NetError::Timeout)
    }
}

/// Waits for any of `pollables` for at most `limit` (`None`: no limit) and returns the
/// indices of those that are ready; none when the time ran out or the interrupt came. An
/// empty list just sleeps: `poll` traps on one.
pub fn wait_any(pollables: &[&Pollable], limit: Option<Duration>) -> Vec<u32> {
    if limit.is_some_and(|l| l.is_zero()) {
        return ready_now(pollables);
    }
    if limit.is_none() && pollables.is_empty() {
        return Vec::new();
    }
    watch::with_interrupt(|interrupt| {
        if limit.is_none() && interrupt.is_none() {
            return poll(pollables);
        }
        let timer = limit.map(timer);
        let mut list = Vec::with_capacity(pollables.len() + 2);
        list.extend_from_slice(pollables);
        list.extend(timer.as_ref());
        list.extend(interrupt);
        if interrupt.is_some_and(interrupted) {
            return Vec::new();
        }
        let mut ready = poll(&list);
        if interrupt.is_some_and(interrupted) {
            return Vec::new();
        }
        ready.retain(|&i| (i as usize) < pollables.len());
        ready
    })
}

/// Whether `pollable` is ready after at most one turn of the host's event loop (bounded
/// by a timer tick, about a millisecond). The host learns what the kernel already knows
/// one turn later: a loopback connect, finished the moment it starts on Linux, shows
/// here only once the host has run.
pub fn settle(pollable: &Pollable) -> bool {
    pollable.ready() || poll(&[pollable, &timer(Duration::from_micros(1))]).contains(&0)
}

fn ready_now(pollables: &[&Pollable]) -> Vec<u32> {
    (0..pollables.len() as u32)
        .filter(|&i| pollables[i as usize].ready())
        .collect()
}

fn timer(limit: Duration) -> Pollable {
    let ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    monotonic_clock::subscribe_duration(ns)
}

/// Sleeps for `limit` (less when interrupted); `socket.sleep`.
pub fn sleep(limit: Duration) {
    if !limit.is_zero() {
        wait_any(&[], Some(limit));
    }
}

/// Seconds since the Unix epoch, as `socket.gettime` returns them.
pub fn wall_time_secs() -> f64 {
    let now = wall_clock::now();
    now.seconds as f64 + f64::from(now.nanoseconds) / 1e9
}
