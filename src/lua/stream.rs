//! `receive` and `send` as LuaSocket shapes them, for every stream object (TCP, TLS):
//! the pattern, prefix and `maxsize` arguments, `i, j` ranges, and the results with the
//! partial data and progress, plus the elapsed time of LuaSocket's debug builds (LuaSec's
//! objects do not report it).

use std::ffi::c_int;

use super::api::{Args, LuaResult, Raise};
use crate::net::NetError;
use crate::net::buffer::{Partial, Pattern};
use crate::net::poll::now_ns;
use crate::net::tcp::Stats;
use crate::net::timeout::Deadline;

/// A byte-count pattern as LuaSocket's `(size_t) n` after `n >= 0` reads it: a fraction
/// is truncated (`0.5` asks for 0 bytes), `-0.0` is 0, NaN and negatives are no count.
/// Counts past `usize::MAX` (infinity, 2^53 on wasm32) saturate: more than can ever
/// arrive, so the receive ends with the close or the timeout, and what it holds grows
/// only with what the peer sends (the reads ask for at most 64 KiB each). Native builds
/// differ there only by accident: on x86-64 the conversion of infinity wraps to 0.
fn byte_count(n: f64) -> Option<usize> {
    (n >= 0.0).then_some(n as usize)
}

/// The pattern argument: a number (or numeric string, "1e3" included, as Lua converts
/// it) of bytes, or a string whose first two characters are `*l` or `*a`.
fn pattern(args: &Args) -> LuaResult<Pattern> {
    const INVALID: &str = "invalid receive pattern";
    if let Some(n) = args.to_number(2) {
        return byte_count(n)
            .map(Pattern::Bytes)
            .ok_or_else(|| Raise::Arg(2, INVALID.into()));
    }
    match args.opt_bytes(2)?.unwrap_or(b"*l") {
        [b'*', b'l', ..] => Ok(Pattern::Line),
        [b'*', b'a', ..] => Ok(Pattern::All),
        _ => Err(Raise::Arg(2, INVALID.into())),
    }
}

/// `maxsize`, checked against the prefix and pattern before any I/O.
fn maxsize(args: &Args, pattern: Pattern, prefix_len: usize) -> LuaResult<Option<usize>> {
    let Some(max) = args.opt_number(4)? else {
        return Ok(None);
    };
    // As a size_t cast, saturating: NaN and anything below 1 are 0, which is too small.
    let max = max as usize;
    pattern
        .check_cap(prefix_len, max)
        .map_err(|why| Raise::Arg(4, why.as_str().into()))?;
    Ok(Some(max))
}

/// `receive(pattern [, prefix [, maxsize]])`'s arguments, checked before any I/O.
pub fn receive_args(args: &Args) -> LuaResult<(Pattern, Vec<u8>, Option<usize>)> {
    let pattern = pattern(args)?;
    let prefix = args.opt_bytes(3)?.unwrap_or_default();
    let cap = maxsize(args, pattern, prefix.len())?;
    Ok((pattern, prefix.to_vec(), cap))
}

/// `data, nil, nil` or `nil, error, partial`, then the elapsed time if `deadline`.
pub fn push_received(
    args: &Args,
    result: Result<Vec<u8>, Partial>,
    deadline: Option<&Deadline>,
) -> c_int {
    // The received bytes are owned by this frame while pushed; an allocation failure in
    // the push would leak them once, which is the price of not copying them twice.
    match result {
        Ok(data) => {
            args.push_bytes(&data);
            drop(data);
            args.push_nil();
            args.push_nil();
        }
        Err(Partial { error, data }) => {
            args.push_nil();
            args.push_str(error.as_str());
            args.push_bytes(&data);
            drop(data);
        }
    }
    push_elapsed(args, deadline)
}

/// `send(data [, i [, j]])`'s arguments: the bytes to send, and how many of the string
/// come before them (progress is reported as an index into the whole string).
pub fn send_args(args: &Args) -> LuaResult<(&[u8], f64)> {
    let data = args.bytes(2)?;
    let i = args.opt_number(3)?.unwrap_or(1.0);
    let j = args.opt_number(4)?.unwrap_or(-1.0);
    let (start, end) = string_range(data.len(), i, j);
    let slice = if start <= end {
        &data[start - 1..end]
    } else {
        &[][..]
    };
    Ok((slice, (start - 1) as f64))
}

/// `last, nil, nil` or `nil, error, last`, then the elapsed time if `deadline`.
pub fn push_sent(
    args: &Args,
    result: Result<usize, (NetError, usize)>,
    before: f64,
    deadline: Option<&Deadline>,
) -> c_int {
    match result {
        Ok(n) => {
            args.push_number(before + n as f64);
            args.push_nil();
            args.push_nil();
        }
        Err((e, n)) => {
            args.push_nil();
            args.push_str(e.as_str());
            args.push_number(before + n as f64);
        }
    }
    push_elapsed(args, deadline)
}

/// `string.sub`-style `i, j` as 1-based inclusive bounds clamped to the string (when
/// start exceeds end there is nothing to send, and start - 1 is what was "sent").
fn string_range(len: usize, i: f64, j: f64) -> (usize, usize) {
    let len_f = len as f64;
    let resolve = |x: f64| {
        if x < 0.0 {
            len_f + x.trunc() + 1.0
        } else {
            x.trunc()
        }
    };
    let start = resolve(i).max(1.0);
    let end = resolve(j).min(len_f).max(0.0);
    (start as usize, end as usize)
}

/// `getstats()`: received, sent, age in seconds.
pub fn push_stats(args: &Args, stats: Stats) -> c_int {
    args.push_number(stats.received);
    args.push_number(stats.sent);
    args.push_number(stats.age_secs());
    3
}

/// `setstats([received [, sent [, age]]])`: the counters with the given ones replaced.
pub fn stats_args(args: &Args, mut stats: Stats) -> LuaResult<Stats> {
    stats.received = args.opt_number(2)?.unwrap_or(stats.received);
    stats.sent = args.opt_number(3)?.unwrap_or(stats.sent);
    if let Some(age) = args.opt_number(4)? {
        stats.set_age(age);
    }
    Ok(stats)
}

/// LuaSocket's debug builds (which LuaRocks makes) return the call's duration last.
/// Returns how many results there are in all.
fn push_elapsed(args: &Args, deadline: Option<&Deadline>) -> c_int {
    match deadline {
        Some(d) => {
            args.push_number(d.elapsed_secs(now_ns));
            4
        }
        None => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::{byte_count, string_range};

    #[test]
    fn byte_counts_truncate_and_saturate_as_a_size_t_cast() {
        assert_eq!(byte_count(0.5), Some(0));
        assert_eq!(byte_count(-0.0), Some(0));
        assert_eq!(byte_count(3.9), Some(3));
        assert_eq!(byte_count(-0.5), None);
        assert_eq!(byte_count(f64::NAN), None);
        assert_eq!(byte_count(f64::NEG_INFINITY), None);
        assert_eq!(byte_count(f64::INFINITY), Some(usize::MAX));
        assert_eq!(
            byte_count(2f64.powi(63)),
            Some((1u64 << 63).min(usize::MAX as u64) as usize)
        );
    }

    #[test]
    fn ranges_follow_string_sub() {
        assert_eq!(string_range(5, 1.0, -1.0), (1, 5));
        assert_eq!(string_range(5, 2.0, 3.0), (2, 3));
        assert_eq!(string_range(5, -2.0, -1.0), (4, 5));
        assert_eq!(string_range(5, 0.0, 100.0), (1, 5));
        assert_eq!(string_range(5, 4.0, 2.0), (4, 2));
        assert_eq!(string_range(0, 1.0, -1.0), (1, 0));
        assert_eq!(string_range(5, 100.0, -1.0), (100, 5));
        assert_eq!(string_range(5, -100.0, 2.0), (1, 2));
    }
}
