//! LuaSocket's two timeouts. The *block* timeout bounds each single wait inside a call; the
//! *total* timeout bounds the whole call. Either may be absent (block forever) and both may be
//! set, in which case each wait gets whichever runs out first. A zero timeout means "try once,
//! never wait". Time is injected (`now` in nanoseconds) so the arithmetic is testable.

use std::cell::Cell;
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
    /// The deadline of one call (LuaSocket's `timeout_markstart`). Its clock starts at the
    /// call's first host I/O rather than at the call ([`Deadline::begin`]), and only when
    /// something needs it: a total limit, or `reports_elapsed` (TCP's debug-build elapsed
    /// time). Every clock reading is a host call, so a receive served from the buffer, or
    /// a datagram without a total limit, reads none.
    pub fn start(self, reports_elapsed: bool) -> Deadline {
        let total = self.total.duration();
        Deadline {
            block: self.block.duration(),
            total,
            timed: reports_elapsed || total.is_some(),
            start_ns: Cell::new(None),
        }
    }
}

/// One call's view of the timeouts: when its I/O started, so the total can run down.
#[derive(Debug, Clone)]
pub struct Deadline {
    block: Option<Duration>,
    total: Option<Duration>,
    /// Whether the start time is wanted at all.
    timed: bool,
    start_ns: Cell<Option<u64>>,
}

impl Deadline {
    /// A deadline that never expires, for calls that must block.
    pub fn never() -> Deadline {
        Timeout::default().start(false)
    }

    /// A deadline that allows no waiting at all.
    pub fn immediate() -> Deadline {
        Timeout {
            block: Limit::of(Duration::ZERO),
            total: Limit::NONE,
        }
        .start(false)
    }

    /// Whether no timeout applies: waits need no clock, and may block in the host.
    pub fn is_unlimited(&self) -> bool {
        self.block.is_none() && self.total.is_none()
    }

    /// Marks host I/O about to happen: the clock starts now (`clock()`) if it is wanted
    /// and has not started yet.
    pub fn begin(&self, clock: impl FnOnce() -> u64) {
        if self.timed && self.start_ns.get().is_none() {
            self.start_ns.set(Some(clock()));
        }
    }

    /// How long the next wait may last: `None` = without limit, `Some(ZERO)` = not at all.
    /// Only a total limit reads `clock` (and starts the call's clock if I/O has not yet):
    /// a blocking limit bounds each wait alone, so a zero-timeout poll reads no clock.
    pub fn wait_limit(&self, clock: impl FnOnce() -> u64) -> Option<Duration> {
        let remaining = self.total.map(|total| {
            let now_ns = clock();
            self.begin(|| now_ns);
            let start_ns = self.start_ns.get().unwrap_or(now_ns);
            let elapsed = Duration::from_nanos(now_ns.saturating_sub(start_ns));
            total.saturating_sub(elapsed)
        });
        match (self.block, remaining) {
            (None, r) => r,
            (b, None) => b,
            (Some(b), Some(r)) => Some(b.min(r)),
        }
    }

    /// Seconds since the call's I/O started, for the debug-build extra return value: 0
    /// for a call that did none (its data was in the buffer), without reading the clock.
    pub fn elapsed_secs(&self, clock: impl FnOnce() -> u64) -> f64 {
        match self.start_ns.get() {
            Some(start_ns) => Duration::from_nanos(clock().saturating_sub(start_ns)).as_secs_f64(),
            None => 0.0,
        }
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
    fn the_clock_is_read_only_when_io_begins_and_something_needs_it() {
        let read = Cell::new(0);
        let clock = || {
            read.set(read.get() + 1);
            10 * MS
        };
        // Blocking limit only, no elapsed time wanted: never read.
        let d = t(Some(100), None).start(false);
        d.begin(clock);
        assert_eq!(d.wait_limit(clock), Some(Duration::from_millis(100)));
        assert_eq!(read.get(), 0);
        // A total limit: read once, at the first I/O.
        let d = t(None, Some(100)).start(false);
        assert_eq!(read.get(), 0);
        d.begin(clock);
        d.begin(clock);
        assert_eq!(read.get(), 1);
        assert_eq!(d.wait_limit(|| 40 * MS), Some(Duration::from_millis(70)));
        // Elapsed time wanted: a call that did no I/O took no time and reads no clock.
        let d = t(None, None).start(true);
        assert_eq!(d.elapsed_secs(clock), 0.0);
        assert_eq!(read.get(), 1);
        d.begin(clock);
        assert_eq!(d.elapsed_secs(|| 510 * MS), 0.5);
        assert_eq!(read.get(), 2);
    }

    #[test]
    fn a_first_wait_starts_the_clock() {
        let d = t(None, Some(100)).start(false);
        assert_eq!(d.wait_limit(|| 30 * MS), Some(Duration::from_millis(100)));
        assert_eq!(d.wait_limit(|| 80 * MS), Some(Duration::from_millis(50)));
    }

    #[test]
    fn no_timeouts_wait_forever() {
        assert_eq!(t(None, None).start(false).wait_limit(|| 5 * MS), None);
    }

    #[test]
    fn block_bounds_each_wait_regardless_of_elapsed_time() {
        let d = t(Some(100), None).start(false);
        assert_eq!(d.wait_limit(|| 0), Some(Duration::from_millis(100)));
        assert_eq!(d.wait_limit(|| 1000 * MS), Some(Duration::from_millis(100)));
    }

    #[test]
    fn total_runs_down_and_stops_at_zero() {
        let d = t(None, Some(100)).start(false);
        d.begin(|| 10 * MS);
        assert_eq!(d.wait_limit(|| 40 * MS), Some(Duration::from_millis(70)));
        assert_eq!(d.wait_limit(|| 500 * MS), Some(Duration::ZERO));
    }

    #[test]
    fn both_take_the_smaller() {
        let d = t(Some(50), Some(100)).start(false);
        assert_eq!(d.wait_limit(|| 0), Some(Duration::from_millis(50)));
        assert_eq!(d.wait_limit(|| 80 * MS), Some(Duration::from_millis(20)));
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
            assert_eq!(t.start(false).wait_limit(|| 0), Some(Duration::ZERO));
        }
    }
}
