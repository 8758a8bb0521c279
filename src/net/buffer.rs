//! Buffered input and LuaSocket's receive patterns: a line, everything until the peer
//! closes, or exactly n bytes. The patterns live here once, whatever the socket type (TCP,
//! and TLS's plaintext), over any [`Source`] of bytes.
//!
//! Input is buffered because lines must be found without reading past them; output is not:
//! the wasi output stream already copies what it accepts, and `send` reports progress.

use super::error::{NetError, NetResult};
use super::timeout::Deadline;

/// Largest single read: wasi input streams hand out at most 64 KiB per call.
pub const READ_SIZE: usize = 64 * 1024;

/// The smallest buffered read. Buffered reads adapt between this and [`READ_SIZE`]: the
/// host zero-fills a buffer of the size asked for on every read, data or not (64 KiB
/// costs more than the system call for a 64-byte line), so the size follows what reads
/// actually return: doubled when a read fills it, halved when it comes back mostly empty.
const MIN_READ: usize = 4096;

/// From this many missing bytes on, an exact-size receive reads straight into its result
/// instead of through the buffer; below it, one buffered read serves many small receives.
const DIRECT_READ: usize = 4096;

/// Where bytes come from: a connected stream, waiting within the deadline.
pub trait Source {
    /// Appends between 1 and `max` bytes to `out`, waiting within `deadline`, or fails
    /// with `Timeout`, `Closed` or another error without appending anything.
    fn read_some(&mut self, out: &mut Vec<u8>, max: usize, deadline: &Deadline) -> NetResult<()>;
}

/// What `receive` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `"*l"`: up to LF, LF excluded, every CR dropped.
    Line,
    /// `"*a"`: until the peer closes.
    All,
    /// `n`: exactly n bytes (prefix included).
    Bytes(usize),
}

/// Why a receive's `maxsize` cannot be met, found before any I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapError {
    TooSmall,
    PrefixTooLong,
    PatternTooBig,
}

impl CapError {
    pub fn as_str(self) -> &'static str {
        match self {
            CapError::TooSmall => "maxsize must be at least 1",
            CapError::PrefixTooLong => "prefix longer than maxsize",
            CapError::PatternTooBig => "pattern asks for more than maxsize",
        }
    }
}

impl Pattern {
    /// Whether a receive of this pattern after `prefix_len` bytes can stay within `cap`:
    /// the checks both faces make before reading.
    pub fn check_cap(self, prefix_len: usize, cap: usize) -> Result<(), CapError> {
        if cap < 1 {
            return Err(CapError::TooSmall);
        }
        if prefix_len >= cap {
            return Err(CapError::PrefixTooLong);
        }
        match self {
            Pattern::Bytes(n) if n > cap => Err(CapError::PatternTooBig),
            _ => Ok(()),
        }
    }
}

/// A failed receive: the error and everything accumulated before it (prefix included),
/// which has been removed from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Partial {
    pub error: NetError,
    pub data: Vec<u8>,
}

/// Bytes read from the peer and not yet handed to the application.
#[derive(Debug, Default)]
pub struct RecvBuffer {
    data: Vec<u8>,
    pos: usize,
    /// Bytes the application has taken, line terminators included (`getstats`).
    taken: u64,
    /// The size of the next buffered read (0 until the first: [`MIN_READ`]).
    read_size: usize,
}

impl RecvBuffer {
    /// Whether bytes are waiting (LuaSocket's `dirty`).
    pub fn has_data(&self) -> bool {
        self.pos < self.data.len()
    }

    /// Bytes taken by the application so far, line terminators included.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    fn available(&self) -> &[u8] {
        &self.data[self.pos..]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.taken += n as u64;
        if self.pos == self.data.len() {
            self.data.clear();
            self.pos = 0;
        }
    }

    /// Reads whatever is available now into the buffer, without waiting. True when the
    /// next receive will not wait: data arrived, or the stream ended or failed.
    pub fn read_ahead(&mut self, src: &mut impl Source) -> bool {
        !matches!(self.fill(src, &Deadline::immediate()), Err(e) if e.would_block())
    }

    /// Reads more into the buffer, first reclaiming space already consumed.
    fn fill(&mut self, src: &mut impl Source, deadline: &Deadline) -> NetResult<()> {
        if self.pos > 0 {
            self.data.drain(..self.pos);
            self.pos = 0;
        }
        let want = self.read_size.clamp(MIN_READ, READ_SIZE);
        let before = self.data.len();
        src.read_some(&mut self.data, want, deadline)?;
        let got = self.data.len() - before;
        self.read_size = if got >= want {
            (want * 2).min(READ_SIZE)
        } else if got < want / 4 {
            (want / 2).max(MIN_READ)
        } else {
            want
        };
        Ok(())
    }

    /// Moves every buffered byte to `out`; returns how many.
    pub fn take_all(&mut self, out: &mut Vec<u8>) -> usize {
        self.take_into(out, usize::MAX)
    }

    /// Moves up to `max` buffered bytes to `out`; returns how many.
    fn take_into(&mut self, out: &mut Vec<u8>, max: usize) -> usize {
        let n = max.min(self.available().len());
        out.extend_from_slice(&self.available()[..n]);
        self.consume(n);
        n
    }

    /// Receives by `pattern`, appending to `prefix`; `cap` bounds the whole result
    /// (LuaSocket's `maxsize`, already validated against prefix and pattern).
    pub fn receive(
        &mut self,
        src: &mut impl Source,
        pattern: Pattern,
        prefix: Vec<u8>,
        cap: Option<usize>,
        deadline: &Deadline,
    ) -> Result<Vec<u8>, Partial> {
        let mut out = prefix;
        let cap = cap.unwrap_or(usize::MAX);
        let result = match pattern {
            Pattern::Line => self.line(src, &mut out, cap, deadline),
            Pattern::All => self.all(src, &mut out, cap, deadline),
            Pattern::Bytes(n) => self.exact(src, &mut out, n, deadline),
        };
        match result {
            Ok(()) => Ok(out),
            // A partial as long as the cap is an oversized result, however the wait ended.
            Err(e) if e.would_block() && out.len() >= cap => Err(Partial {
                error: NetError::Oversized,
                data: out,
            }),
            Err(error) => Err(Partial { error, data: out }),
        }
    }

    fn exact(
        &mut self,
        src: &mut impl Source,
        out: &mut Vec<u8>,
        n: usize,
        deadline: &Deadline,
    ) -> NetResult<()> {
        // LuaSocket reads once even for 0 bytes when neither a prefix nor buffered data is
        // there: `receive(0)` (and `receive(0.5)`, truncated) waits for data, which it
        // leaves buffered, or fails with the timeout or the close. Code probes a
        // connection that way. It still takes nothing, so no loop can advance on it.
        if n == 0 && out.is_empty() && !self.has_data() {
            return self.fill(src, deadline);
        }
        while out.len() < n {
            let need = n - out.len();
            if self.take_into(out, need) > 0 {
                continue;
            }
            if need >= DIRECT_READ {
                // Sizeable reads skip the buffer (one copy less), asking for no more than
                // is needed so nothing is left over to buffer.
                self.read_direct(src, out, need.min(READ_SIZE), deadline)?;
            } else {
                self.fill(src, deadline)?;
            }
        }
        Ok(())
    }

    /// `"*a"`. Reads are kept as the separate chunks the host hands over and joined once
    /// at the end, into a result of the exact size: growing one buffer instead copied
    /// everything again at each doubling, into fresh memory (wasm's allocator cannot remap
    /// pages as the native one does), about half the time of a large receive.
    fn all(
        &mut self,
        src: &mut impl Source,
        out: &mut Vec<u8>,
        cap: usize,
        deadline: &Deadline,
    ) -> NetResult<()> {
        let start = out.len();
        self.take_into(out, cap - out.len());
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        let mut len = out.len();
        let result = loop {
            if len >= cap {
                break self.confirm_end(src, deadline);
            }
            let mut chunk = Vec::new();
            match src.read_some(&mut chunk, READ_SIZE.min(cap - len), deadline) {
                Ok(()) => {
                    len += chunk.len();
                    self.taken += chunk.len() as u64;
                    chunks.push(chunk);
                }
                // Nothing at all before the close is a failure, as in LuaSocket.
                Err(NetError::Closed) if len > start => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        out.try_reserve_exact(len - out.len())
            .map_err(|_| NetError::OutOfMemory)?;
        for chunk in chunks {
            out.extend_from_slice(&chunk);
        }
        result
    }

    /// Reads straight into the result, counting it as taken.
    fn read_direct(
        &mut self,
        src: &mut impl Source,
        out: &mut Vec<u8>,
        max: usize,
        deadline: &Deadline,
    ) -> NetResult<()> {
        let before = out.len();
        src.read_some(out, max, deadline)?;
        self.taken += (out.len() - before) as u64;
        Ok(())
    }

    /// At the cap of `"*a"`: success only if the peer closes right there. Anything that
    /// arrives instead stays buffered for the next call.
    fn confirm_end(&mut self, src: &mut impl Source, deadline: &Deadline) -> NetResult<()> {
        if self.has_data() {
            return Err(NetError::Oversized);
        }
        match self.fill(src, deadline) {
            Ok(()) | Err(NetError::Timeout) => Err(NetError::Oversized),
            Err(NetError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn line(
        &mut self,
        src: &mut impl Source,
        out: &mut Vec<u8>,
        cap: usize,
        deadline: &Deadline,
    ) -> NetResult<()> {
        loop {
            let avail = self.available();
            let newline = avail.iter().position(|&c| c == b'\n');
            let segment = &avail[..newline.unwrap_or(avail.len())];
            let mut used = 0;
            while used < segment.len() {
                if segment[used] == b'\r' {
                    used += 1;
                    continue;
                }
                if out.len() >= cap {
                    self.consume(used);
                    return Err(NetError::Oversized);
                }
                let run = segment[used..]
                    .iter()
                    .position(|&c| c == b'\r')
                    .unwrap_or(segment.len() - used);
                let take = run.min(cap - out.len());
                out.extend_from_slice(&segment[used..used + take]);
                used += take;
            }
            match newline {
                Some(at) => {
                    self.consume(at + 1);
                    return Ok(());
                }
                None => {
                    self.consume(used);
                    self.fill(src, deadline)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_checked_against_prefix_and_pattern() {
        assert_eq!(Pattern::Line.check_cap(0, 0), Err(CapError::TooSmall));
        assert_eq!(Pattern::All.check_cap(3, 3), Err(CapError::PrefixTooLong));
        assert_eq!(
            Pattern::Bytes(5).check_cap(0, 4),
            Err(CapError::PatternTooBig)
        );
        assert_eq!(Pattern::Bytes(4).check_cap(3, 4), Ok(()));
        assert_eq!(Pattern::Line.check_cap(2, 3), Ok(()));
    }
    use std::collections::VecDeque;

    /// A peer that delivers scripted chunks, then times out or closes.
    struct Script {
        chunks: VecDeque<Vec<u8>>,
        then: NetError,
    }

    impl Script {
        fn new(chunks: &[&[u8]], then: NetError) -> Script {
            Script {
                chunks: chunks.iter().map(|c| c.to_vec()).collect(),
                then,
            }
        }
    }

    impl Source for Script {
        fn read_some(&mut self, out: &mut Vec<u8>, max: usize, _: &Deadline) -> NetResult<()> {
            let Some(mut chunk) = self.chunks.pop_front() else {
                return Err(self.then.clone());
            };
            if chunk.len() > max {
                self.chunks.push_front(chunk.split_off(max));
            }
            out.extend_from_slice(&chunk);
            Ok(())
        }
    }

    fn recv(
        buf: &mut RecvBuffer,
        src: &mut Script,
        p: Pattern,
        prefix: &str,
        cap: Option<usize>,
    ) -> Result<Vec<u8>, Partial> {
        buf.receive(src, p, prefix.as_bytes().to_vec(), cap, &Deadline::never())
    }

    fn ok(s: &str) -> Result<Vec<u8>, Partial> {
        Ok(s.as_bytes().to_vec())
    }

    fn partial(error: NetError, s: &str) -> Result<Vec<u8>, Partial> {
        Err(Partial {
            error,
            data: s.as_bytes().to_vec(),
        })
    }

    #[test]
    fn lines_drop_every_cr_and_span_reads() {
        let mut src = Script::new(&[b"he\rllo\r", b"\nwor", b"ld\nrest"], NetError::Timeout);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", None),
            ok("hello")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", None),
            ok("world")
        );
        assert!(buf.has_data());
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", None),
            partial(NetError::Timeout, "rest")
        );
        assert!(!buf.has_data(), "the partial is taken out of the buffer");
    }

    #[test]
    fn taken_counts_terminators_and_direct_reads() {
        let big = vec![7u8; 100_000];
        let mut src = Script::new(&[b"ab\r\n", &big], NetError::Closed);
        let mut buf = RecvBuffer::default();
        assert_eq!(recv(&mut buf, &mut src, Pattern::Line, "", None), ok("ab"));
        assert_eq!(buf.taken(), 4);
        assert_eq!(
            buf.receive(
                &mut src,
                Pattern::Bytes(100_000),
                Vec::new(),
                None,
                &Deadline::never()
            )
            .unwrap()
            .len(),
            100_000
        );
        assert_eq!(buf.taken(), 100_004);
    }

    #[test]
    fn buffered_reads_grow_with_full_reads_and_shrink_with_small_ones() {
        let big = vec![b'x'; 300_000];
        let mut src = Script::new(&[&big, b"\n", b"a\n", b"b\n", b"c\n"], NetError::Closed);
        let mut buf = RecvBuffer::default();
        let line = recv(&mut buf, &mut src, Pattern::Line, "", None).unwrap();
        assert_eq!(line.len(), 300_000);
        // 4, 8, 16, 32, 64, 64, 64 KiB, then 41,952 bytes (kept), then the 1-byte "\n"
        assert_eq!(
            buf.read_size,
            READ_SIZE / 2,
            "grown to the maximum, then halved"
        );
        for expected in ["a", "b", "c"] {
            assert_eq!(
                recv(&mut buf, &mut src, Pattern::Line, "", None),
                ok(expected)
            );
        }
        assert_eq!(buf.read_size, MIN_READ, "tiny reads shrink it step by step");
    }

    #[test]
    fn prefix_is_kept_in_results_and_partials() {
        let mut src = Script::new(&[b"abc"], NetError::Closed);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "xy", None),
            partial(NetError::Closed, "xyabc")
        );
    }

    #[test]
    fn exact_counts_the_prefix() {
        let mut src = Script::new(&[b"12345678"], NetError::Closed);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(5), "ab", None),
            ok("ab123")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(2), "long", None),
            ok("long")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(0), "", None),
            ok("")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(9), "", None),
            partial(NetError::Closed, "45678")
        );
    }

    #[test]
    fn zero_bytes_wait_for_data_unless_a_prefix_or_buffered_data_is_there() {
        let mut src = Script::new(&[b"ab"], NetError::Closed);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(0), "", None),
            ok("")
        );
        assert!(buf.has_data(), "the data waited for stays buffered");
        assert_eq!(buf.taken(), 0);
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(2), "", None),
            ok("ab")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(0), "p", None),
            ok("p")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Bytes(0), "", None),
            partial(NetError::Closed, "")
        );
        let mut silent = Script::new(&[], NetError::Timeout);
        assert_eq!(
            recv(&mut buf, &mut silent, Pattern::Bytes(0), "", None),
            partial(NetError::Timeout, "")
        );
    }

    #[test]
    fn exact_large_reads_bypass_the_buffer_and_lose_nothing() {
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut src = Script::new(&[&big[..100], &big[100..]], NetError::Closed);
        let mut buf = RecvBuffer::default();
        let got = buf
            .receive(
                &mut src,
                Pattern::Bytes(150_000),
                Vec::new(),
                None,
                &Deadline::never(),
            )
            .unwrap();
        assert_eq!(got, big[..150_000]);
        let rest = buf
            .receive(&mut src, Pattern::All, Vec::new(), None, &Deadline::never())
            .unwrap();
        assert_eq!(rest, big[150_000..]);
    }

    #[test]
    fn all_until_close_and_empty_close_fails() {
        let mut src = Script::new(&[b"a\nb", b"c"], NetError::Closed);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::All, "", None),
            ok("a\nbc")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::All, "", None),
            partial(NetError::Closed, "")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::All, "p", None),
            partial(NetError::Closed, "p")
        );
    }

    #[test]
    fn line_cap_stops_without_losing_bytes() {
        let mut src = Script::new(&[b"abcdef\n"], NetError::Closed);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", Some(4)),
            partial(NetError::Oversized, "abcd")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", Some(4)),
            ok("ef")
        );
    }

    #[test]
    fn line_exactly_at_cap_succeeds_even_with_crs_after() {
        let mut src = Script::new(&[b"abcd", b"\r\r", b"\nnext"], NetError::Timeout);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", Some(4)),
            ok("abcd")
        );
    }

    #[test]
    fn timeout_at_cap_is_oversized() {
        let mut src = Script::new(&[b"abcd"], NetError::Timeout);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", Some(4)),
            partial(NetError::Oversized, "abcd")
        );
        let mut src = Script::new(&[b"abc"], NetError::Timeout);
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::Line, "", Some(4)),
            partial(NetError::Timeout, "abc")
        );
    }

    #[test]
    fn all_at_cap_succeeds_only_if_the_peer_closes_there() {
        let mut src = Script::new(&[b"abcd"], NetError::Closed);
        let mut buf = RecvBuffer::default();
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::All, "", Some(4)),
            ok("abcd")
        );

        let mut src = Script::new(&[b"abcdef"], NetError::Closed);
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::All, "", Some(4)),
            partial(NetError::Oversized, "abcd")
        );
        assert_eq!(
            recv(&mut buf, &mut src, Pattern::All, "", Some(4)),
            ok("ef")
        );
    }
}
