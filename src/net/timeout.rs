//! LuaSocket's two timeouts. The *block* timeout bounds each single wait inside a call; the
//! *total* timeout bounds the whole call. Either may be absent (block forever) and both may be
//! set, in which case each wait gets whichever runs out first. A zero timeout means "try once,
//! never wait". Time is injected (`now` in nanoseconds) so the arithmetic is testable.

use std::time::Duration;

/// One timeout as LuaSocket keeps it: the seconds the script gave, negative for none.
/// Kept as given, so `gettimeout` reports exactly what `settimeout` received (NaN and
/// infinity included); what it means for a wait is [`Limit::duration`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit(f64);

impl Limit {
    /// No limit: LuaSocket's -1.
    pub const NONE: Limit = Limit(-1.0);

    /// A limit as `settimeout` receives it: nil means none.
    pub fn from_secs(secs: Option<f64>) -> Limit {
        Limit(secs.unwrap_or(-1.0))
    }

    /// A limit of exactly `d`.
    pub fn of(d: Duration) -> Limit {
        Limit(d.as_secs_f64())
    }

    /// Seconds as `gettimeout` reports them (-1 for none).
    pub fn secs(self) -> f64 {
        self.0
    }

    /// How long a wait may last: `None` = without limit. A negative value is no limit; NaN
    /// waits not at all, as in LuaSocket, where `MAX(t, 0.0)` turns the NaN left of the
    /// subtraction into 0 (a NaN that meant "forever" would block a script for good);
    /// infinity and anything too large for a `Duration` are as good as forever.
    pub fn duration(self) -> Option<Duration> {
        if self.0.is_nan() {
            Some(Duration::ZERO)
        } else if self.0 < 0.0 {
            None
        } else {
            Some(Duration::try_from_secs_f64(self.0).unwrap_or(Duration::MAX))
        }
    }
}

impl Default for Limit {
    fn default() -> Limit {
        Limit::NONE
    }
}

/// The timeouts configured on a socket (`settimeout`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timeout {
    pub block: Limit,
    pub total: Limit,
}

impl Timeout {
    /// Starts the clock for one call (LuaSocket's `timeout_markstart`).
    pub fn start(self, now_ns: u64) -> Deadline {
        Deadline {
            block: self.block.duration(),
            total: self.total.duration(),
            start_ns: now_ns,
        }
    }

    /// As `start`, but reads `clock` only when a total limit needs the start time. For
    /// calls that never report how long they took (UDP's), this saves a host call on
    /// every operation without a total limit; such a deadline's `elapsed_secs` is
    /// meaningless.
    pub fn start_lazily(self, clock: impl FnOnce() -> u64) -> Deadline {
        let start_ns = if self.total.duration().is_some() {
            clock()
        } else {
            0
        };
        self.start(start_ns)
    }
}

/// One call's view of the timeouts: when it started, so the total can run down.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    block: Option<Duration>,
    total: Option<Duration>,
    start_ns: u64,
}

impl Deadline {
    /// A deadline that never expires, for calls that must block.
    pub fn never() -> Deadline {
        Timeout::default().start(0)
    }

    /// A deadline that allows no waiting at all.
    pub fn immediate() -> Deadline {
        Timeout {
            block: Limit::of(Duration::ZERO),
            total: Limit::NONE,
        }
        .start(0)
    }

    /// Whether no timeout applies: waits need no clock, and may block in the host.
    pub fn is_unlimited(&self) -> bool {
        self.block.is_none() && self.total.is_none()
    }

    /// How long the next wait may last: `None` = without limit, `Some(ZERO)` = not at all.
    pub fn wait_limit(&self, now_ns: u64) -> Option<Duration> {
        let remaining = self.total.map(|total| {
            let elapsed = Duration::from_nanos(now_ns.saturating_sub(self.start_ns));
            total.saturating_sub(elapsed)
        });
        match (self.block, remaining) {
            (None, r) => r,
            (b, None) => b,
            (Some(b), Some(r)) => Some(b.min(r)),
        }
    }

    /// Seconds since the call started, for the debug-build extra return value.
    pub fn elapsed_secs(&self, now_ns: u64) -> f64 {
        Duration::from_nanos(now_ns.saturating_sub(self.start_ns)).as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn t(block: Option<u64>, total: Option<u64>) -> Timeout {
        let limit =
            |ms: Option<u64>| ms.map_or(Limit::NONE, |ms| Limit::of(Duration::from_millis(ms)));
        Timeout {
            block: limit(block),
            total: limit(total),
        }
    }

    #[test]
    fn a_lazy_start_reads_the_clock_only_for_a_total_limit() {
        let read = std::cell::Cell::new(0);
        let clock = || {
            read.set(read.get() + 1);
            10 * MS
        };
        let d = t(Some(100), None).start_lazily(clock);
        assert_eq!(read.get(), 0);
        assert_eq!(d.wait_limit(1000 * MS), Some(Duration::from_millis(100)));
        let d = t(None, Some(100)).start_lazily(clock);
        assert_eq!(read.get(), 1);
        assert_eq!(d.wait_limit(40 * MS), Some(Duration::from_millis(70)));
    }

    #[test]
    fn no_timeouts_wait_forever() {
        assert_eq!(t(None, None).start(0).wait_limit(5 * MS), None);
    }

    #[test]
    fn block_bounds_each_wait_regardless_of_elapsed_time() {
        let d = t(Some(100), None).start(0);
        assert_eq!(d.wait_limit(0), Some(Duration::from_millis(100)));
        assert_eq!(d.wait_limit(1000 * MS), Some(Duration::from_millis(100)));
    }

    #[test]
    fn total_runs_down_and_stops_at_zero() {
        let d = t(None, Some(100)).start(10 * MS);
        assert_eq!(d.wait_limit(40 * MS), Some(Duration::from_millis(70)));
        assert_eq!(d.wait_limit(500 * MS), Some(Duration::ZERO));
    }

    #[test]
    fn both_take_the_smaller() {
        let d = t(Some(50), Some(100)).start(0);
        assert_eq!(d.wait_limit(0), Some(Duration::from_millis(50)));
        assert_eq!(d.wait_limit(80 * MS), Some(Duration::from_millis(20)));
    }

    #[test]
    fn settimeout_values_as_luasocket_reads_them() {
        let d = |secs: Option<f64>| Limit::from_secs(secs).duration();
        assert_eq!(d(None), None);
        assert_eq!(d(Some(-1.0)), None);
        assert_eq!(d(Some(-0.0)), Some(Duration::ZERO));
        assert_eq!(d(Some(f64::NAN)), Some(Duration::ZERO), "NaN: try once");
        assert_eq!(d(Some(0.0)), Some(Duration::ZERO));
        assert_eq!(d(Some(1e300)), Some(Duration::MAX));
        assert_eq!(d(Some(f64::INFINITY)), Some(Duration::MAX));
        assert_eq!(Limit::NONE.secs(), -1.0);
        assert!(
            Limit::from_secs(Some(f64::NAN)).secs().is_nan(),
            "reported as given"
        );
        assert_eq!(Limit::of(Duration::from_millis(1500)).secs(), 1.5);
    }

    #[test]
    fn a_nan_timeout_never_waits() {
        let nan = Limit::from_secs(Some(f64::NAN));
        for t in [
            Timeout {
                block: nan,
                total: Limit::NONE,
            },
            Timeout {
                block: Limit::NONE,
                total: nan,
            },
        ] {
            assert_eq!(t.start(0).wait_limit(0), Some(Duration::ZERO));
        }
    }
}
