//! Waiting, the only place the guest blocks: one pollable (or several) against a deadline,
//! with the monotonic clock as the timer. Zero-length waits never touch the timer, so
//! "try once" costs a single `ready()` check.

use std::time::Duration;

use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::io::poll::{Pollable, poll};

use super::error::{NetError, NetResult};
use super::timeout::Deadline;

/// Nanoseconds on the monotonic clock.
pub fn now_ns() -> u64 {
    monotonic_clock::now()
}

/// Waits until `pollable` is ready, or fails with `Timeout` when the deadline's next wait
/// runs out first. Readiness may be spurious: callers retry their operation and come back.
pub fn wait(pollable: &Pollable, deadline: &Deadline) -> NetResult<()> {
    if deadline.is_unlimited() {
        // No clock reading (a host call) when there is nothing to time.
        pollable.block();
        return Ok(());
    }
    let ready = match deadline.wait_limit(now_ns()) {
        None => {
            pollable.block();
            true
        }
        Some(limit) if limit.is_zero() => pollable.ready(),
        Some(limit) => {
            let timer = timer(limit);
            poll(&[pollable, &timer]).contains(&0)
        }
    };
    if ready {
        Ok(())
    } else {
        Err(NetError::Timeout)
    }
}

/// Waits for any of `pollables` for at most `limit` (`None`: no limit) and returns the
/// indices of those that are ready. An empty list just sleeps: `poll` traps on one.
pub fn wait_any(pollables: &[&Pollable], limit: Option<Duration>) -> Vec<u32> {
    match limit {
        Some(limit) if limit.is_zero() => ready_now(pollables),
        Some(limit) => {
            let timer = timer(limit);
            let mut list = Vec::with_capacity(pollables.len() + 1);
            list.extend_from_slice(pollables);
            list.push(&timer);
            let timer_index = pollables.len() as u32;
            let mut ready = poll(&list);
            ready.retain(|&i| i != timer_index);
            ready
        }
        None if pollables.is_empty() => Vec::new(),
        None => poll(pollables),
    }
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

/// Sleeps for `limit`; `socket.sleep`.
pub fn sleep(limit: Duration) {
    if !limit.is_zero() {
        timer(limit).block();
    }
}

/// Seconds since the Unix epoch, as `socket.gettime` returns them.
pub fn wall_time_secs() -> f64 {
    let now = wall_clock::now();
    now.seconds as f64 + f64::from(now.nanoseconds) / 1e9
}
