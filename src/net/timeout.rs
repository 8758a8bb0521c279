//! LuaSocket's two timeouts. The *block* timeout bounds each single wait inside a call; the
//! *total* timeout bounds the whole call. Either may be absent (block forever) and both may be
//! set, in which case each wait gets whichever runs out first. A zero timeout means "try once,
//! never wait". Time is injected (`now` in nanoseconds) so the arithmetic is testable.

use std::time::Duration;

/// The timeouts configured on a socket (`settimeout`). `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timeout {
    pub block: Option<Duration>,
    pub total: Option<Duration>,
}

impl Timeout {
    /// A timeout as `settimeout` receives it: nil or a negative number means none.
    /// NaN counts as none too, rather than poisoning every later comparison.
    pub fn from_secs(secs: Option<f64>) -> Option<Duration> {
        match secs {
            Some(s) if s >= 0.0 => Some(Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)),
            _ => None,
        }
    }

    /// Seconds as `gettimeout` reports them, -1 for none.
    pub fn as_secs(limit: Option<Duration>) -> f64 {
        limit.map_or(-1.0, |d| d.as_secs_f64())
    }

    /// Starts the clock for one call (LuaSocket's `timeout_markstart`).
    pub fn start(self, now_ns: u64) -> Deadline {
        Deadline {
            timeout: self,
            start_ns: now_ns,
        }
    }
}

/// One call's view of the timeouts: when it started, so the total can run down.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    timeout: Timeout,
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
            block: Some(Duration::ZERO),
            total: None,
        }
        .start(0)
    }

    /// Whether no timeout applies: waits need no clock, and may block in the host.
    pub fn is_unlimited(&self) -> bool {
        self.timeout.block.is_none() && self.timeout.total.is_none()
    }

    /// How long the next wait may last: `None` = without limit, `Some(ZERO)` = not at all.
    pub fn wait_limit(&self, now_ns: u64) -> Option<Duration> {
        let remaining = self.timeout.total.map(|total| {
            let elapsed = Duration::from_nanos(now_ns.saturating_sub(self.start_ns));
            total.saturating_sub(elapsed)
        });
        match (self.timeout.block, remaining) {
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
        Timeout {
            block: block.map(Duration::from_millis),
            total: total.map(Duration::from_millis),
        }
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
    fn settimeout_conversions() {
        assert_eq!(Timeout::from_secs(None), None);
        assert_eq!(Timeout::from_secs(Some(-1.0)), None);
        assert_eq!(Timeout::from_secs(Some(f64::NAN)), None);
        assert_eq!(Timeout::from_secs(Some(0.0)), Some(Duration::ZERO));
        assert_eq!(Timeout::from_secs(Some(1e300)), Some(Duration::MAX));
        assert_eq!(Timeout::as_secs(None), -1.0);
        assert_eq!(Timeout::as_secs(Some(Duration::from_millis(1500))), 1.5);
    }
}
