//! Resource limits and what enforces them.
//!
//! - memory: the store's memory limit, with Lua's own budget set a quarter below it so
//!   that a script normally meets a catchable "not enough memory" first;
//! - CPU: epoch interruption; every tick (10 ms) that lands in guest code is counted;
//! - sockets and host handles: counted at creation and accept, see `handles`;
//! - wall clock: `tokio::time::timeout` around each call. A guest blocked in a host call
//!   (poll, sleep) is not running wasm, so only an async timeout can stop it; epoch ticks
//!   also make CPU-bound guests yield so that the timeout gets its turn.

use std::future::Future;
use std::time::Duration;

use wasmtime::ResourceLimiter;

pub use crate::handles::DEFAULT_MAX_SOCKETS;

/// How often the epoch advances: the granularity of CPU accounting and of yielding.
pub const TICK: Duration = Duration::from_millis(10);

/// Whether a runtime's guest code can be interrupted while it computes. CPU and
/// wall-clock limits, and interrupting a REPL input, need it: the compiled code then checks
/// an epoch counter at every function entry and loop back-edge. Lua's interpreter loop is
/// one such loop per bytecode, so the checks cost about a quarter of the instructions of
/// a `socket.http` request (586k against 451k, callgrind). A runtime without them refuses
/// sandboxes that set those limits instead of running them unenforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Interruption {
    /// Epoch checks compiled in: every limit can be enforced.
    #[default]
    Enabled,
    /// No checks: faster, for runs without CPU or time limits.
    Disabled,
}

impl Limits {
    /// Whether enforcing these limits needs an interruptible runtime.
    pub fn need_interruption(&self) -> bool {
        self.timeout.is_some() || self.cpu.is_some()
    }
}

/// Resource limits of a run or of each plugin call. `None`: unlimited.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory of the instance, in bytes.
    pub max_memory: Option<usize>,
    /// Wall-clock time of each call, including time blocked in I/O.
    pub timeout: Option<Duration>,
    /// Time spent running guest code in each call (in 10 ms ticks; an approximation).
    pub cpu: Option<Duration>,
    /// Sockets the instance may hold at once (listening, connected, UDP, and closed ones
    /// still draining); its host handles are bounded in proportion (see `handles`).
    /// Default: [`DEFAULT_MAX_SOCKETS`].
    pub max_sockets: Option<usize>,
}

impl Default for Limits {
    /// No memory, time or CPU limits; the default socket limit.
    fn default() -> Limits {
        Limits {
            max_memory: None,
            timeout: None,
            cpu: None,
            max_sockets: Some(DEFAULT_MAX_SOCKETS),
        }
    }
}

impl Limits {
    /// Lua's heap budget for a memory limit: three quarters, leaving the rest to the
    /// socket buffers and the runtime around Lua.
    pub fn lua_budget(&self) -> Option<usize> {
        self.max_memory.map(|max| max / 4 * 3)
    }
}

/// Which limit stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    WallClock(Duration),
    Cpu(Duration),
    Memory(usize),
    /// The instance filled its table of host handles (sockets, streams, files…); the
    /// number is the table's capacity.
    Handles(usize),
}

/// Refuses memory growth past the limit, and remembers that it did.
pub struct MemoryLimiter {
    pub max: Option<usize>,
    pub hit: bool,
    /// The largest linear memory granted so far, in bytes (memories never shrink).
    pub size: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.max.is_some_and(|max| desired > max) {
            self.hit = true;
            return Ok(false);
        }
        self.size = self.size.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Epoch ticks spent in guest code during the current call.
pub struct CpuMeter {
    pub ticks: u64,
    pub limit: Option<u64>,
    pub hit: bool,
}

impl CpuMeter {
    pub fn new(limit: Option<Duration>) -> CpuMeter {
        CpuMeter {
            ticks: 0,
            limit: limit.map(ticks),
            hit: false,
        }
    }

    /// Counts a tick; false when the limit is passed.
    pub fn tick(&mut self) -> bool {
        self.ticks += 1;
        if self.limit.is_some_and(|limit| self.ticks > limit) {
            self.hit = true;
            return false;
        }
        true
    }
}

pub fn ticks(limit: Duration) -> u64 {
    limit.as_millis().div_ceil(TICK.as_millis()).max(1) as u64
}

/// Runs `call` under the wall-clock limit, outside tokio's cooperative budget.
///
/// The budget is why a `select` server once stalled: tokio lets a task make 128 I/O
/// readiness polls per turn, then makes every further one report "not ready" until the
/// task yields. wasmtime-wasi answers wasi's non-blocking questions (`check-write`,
/// `pollable.ready`, a `poll` over many sockets) with exactly such polls, so past the
/// 128th in a busy stretch the guest was told a socket with an empty send buffer would
/// take nothing: `send` under `settimeout(0)` accepted 0 bytes of a 30-byte echo, the
/// script dropped it, and its client waited forever for the answer; `select` reported at
/// most 128 of the ready sockets. A guest call is one long task turn that yields on its
/// own schedule (when it waits, on epoch ticks, and in `readiness`), so the budget only
/// ever made it see the network wrongly; it is switched off for the whole call.
pub async fn within<T>(limit: Option<Duration>, call: impl Future<Output = T>) -> Result<T, Limit> {
    let call = tokio::task::coop::unconstrained(call);
    match limit {
        Some(limit) => tokio::time::timeout(limit, call)
            .await
            .map_err(|_| Limit::WallClock(limit)),
        None => Ok(call.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_limits_round_up_to_ticks() {
        assert_eq!(ticks(Duration::from_millis(1)), 1);
        assert_eq!(ticks(Duration::from_millis(25)), 3);
        assert_eq!(ticks(Duration::from_secs(1)), 100);
    }

    #[test]
    fn meter_stops_past_the_limit() {
        let mut m = CpuMeter::new(Some(Duration::from_millis(20)));
        assert!(m.tick() && m.tick());
        assert!(!m.tick());
        assert!(m.hit);
    }

    #[test]
    fn lua_gets_three_quarters() {
        let l = Limits {
            max_memory: Some(64 << 20),
            ..Limits::default()
        };
        assert_eq!(l.lua_budget(), Some(48 << 20));
    }
}
