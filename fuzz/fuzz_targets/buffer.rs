//! `RecvBuffer`, LuaSocket's receive patterns, over a byte stream with a random chunking
//! (interleaved with timed-out waits) and a random sequence of receives ("*l", "*a", n,
//! with prefixes and maxsizes, plus read-ahead as `select` does it).
//!
//! Oracle, beyond "no panic": each receive hands back exactly the bytes it took from the
//! stream (`taken` tells how many): unchanged for n and "*a", without CRs and the LF for
//! "*l"; results keep their prefix and respect maxsize and n; after a final drain the
//! pieces add up to the whole stream, so nothing is lost, duplicated or reordered.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use luasocket_wasi::net::NetError;
use luasocket_wasi::net::buffer::{Partial, Pattern, RecvBuffer};
use luasocket_wasi::net::timeout::Deadline;
use luasocket_wasi_fuzz::{Feed, strip_cr};

#[derive(Debug, Arbitrary)]
enum Pat {
    Line,
    All,
    Bytes(u16),
    Big(u8),
}

#[derive(Debug, Arbitrary)]
struct Call {
    pattern: Pat,
    prefix: Vec<u8>,
    maxsize: Option<u16>,
    read_ahead: bool,
}

#[derive(Debug, Arbitrary)]
enum End {
    Closed,
    Timeout,
    Reset,
}

#[derive(Debug, Arbitrary)]
struct Input {
    unit: Vec<u8>,
    /// The stream is `unit` this many times (+1), so that reads of 4 KiB and more, which
    /// bypass the buffer, and 64 KiB reads get exercised.
    repeat: u8,
    chunks: Vec<u16>,
    end: End,
    calls: Vec<Call>,
}

fuzz_target!(|input: Input| {
    let copies = 1 + usize::from(input.repeat % 48);
    let stream: Vec<u8> = input.unit.repeat(copies);
    let end = match input.end {
        End::Closed => NetError::Closed,
        End::Timeout => NetError::Timeout,
        End::Reset => NetError::Unknown,
    };
    let chunks = input.chunks.iter().map(|&c| usize::from(c)).collect();
    let mut feed = Feed::new(stream.clone(), chunks, end.clone());
    let mut buf = RecvBuffer::default();

    for call in input.calls.iter().take(64) {
        // As select does it (`Tcp::confirm_readable`): only when nothing is buffered.
        if call.read_ahead && !buf.has_data() {
            let before = buf.taken();
            let ready = buf.read_ahead(&mut feed);
            assert_eq!(buf.taken(), before, "read-ahead took bytes");
            if ready {
                assert!(
                    buf.has_data() || feed.served() == stream.len(),
                    "read-ahead says ready with nothing buffered and the stream going on"
                );
            } else {
                assert!(
                    !buf.has_data(),
                    "data buffered but read-ahead says not ready"
                );
            }
        }
        let pattern = match call.pattern {
            Pat::Line => Pattern::Line,
            Pat::All => Pattern::All,
            Pat::Bytes(n) => Pattern::Bytes(usize::from(n)),
            Pat::Big(k) => Pattern::Bytes(4096 * usize::from(k % 40)),
        };
        let prefix = &call.prefix[..call.prefix.len().min(64)];
        // The Lua face rejects these before any I/O (see src/lua/tcp.rs `maxsize`).
        let cap = call.maxsize.map(usize::from);
        if let Some(cap) = cap {
            if cap < 1 || prefix.len() >= cap {
                continue;
            }
            if let Pattern::Bytes(n) = pattern
                && n > cap
            {
                continue;
            }
        }
        let taken_before = buf.taken() as usize;
        let result = buf.receive(&mut feed, pattern, prefix.to_vec(), cap, &Deadline::never());
        let taken_after = buf.taken() as usize;
        assert!(taken_after >= taken_before);
        assert!(taken_after <= feed.served(), "took more than the peer sent");
        assert_eq!(
            buf.has_data(),
            feed.served() > taken_after,
            "dirty disagrees with what is buffered"
        );
        let raw = &stream[taken_before..taken_after];
        let (data, ok, error) = match &result {
            Ok(data) => (data, true, None),
            Err(Partial { error, data }) => (data, false, Some(error.clone())),
        };
        assert!(data.starts_with(prefix), "the prefix is not kept");
        let got = &data[prefix.len()..];
        if let Some(cap) = cap {
            assert!(data.len() <= cap, "result longer than maxsize");
        }
        match error {
            None => {}
            Some(NetError::Oversized) => {
                let cap = cap.expect("oversized without a maxsize");
                assert_eq!(data.len(), cap, "oversized partial shorter than maxsize");
            }
            Some(NetError::Timeout) => {}
            Some(e) => assert_eq!(e, end, "an error the peer did not cause"),
        }
        match pattern {
            Pattern::Line => {
                if ok {
                    assert_eq!(raw.last(), Some(&b'\n'), "a line without its LF");
                    assert_eq!(got, strip_cr(&raw[..raw.len() - 1]), "line != bytes taken");
                } else {
                    assert_eq!(got, strip_cr(raw), "partial line != bytes taken");
                }
                assert!(!got.contains(&b'\n') && !got.contains(&b'\r'));
            }
            Pattern::All | Pattern::Bytes(_) => {
                assert_eq!(got, raw, "received bytes != bytes taken");
            }
        }
        match pattern {
            Pattern::Bytes(n) if ok => assert_eq!(data.len(), n.max(prefix.len())),
            Pattern::All if ok => {
                assert_eq!(end, NetError::Closed, "\"*a\" succeeded without a close");
                assert_eq!(feed.served(), stream.len());
            }
            _ => {}
        }
    }

    // Drain: whatever is left comes out, then the end, and every byte has been taken.
    loop {
        let before = buf.taken() as usize;
        let result = buf.receive(
            &mut feed,
            Pattern::All,
            Vec::new(),
            None,
            &Deadline::never(),
        );
        let after = buf.taken() as usize;
        let data = match &result {
            Ok(d) => d,
            Err(p) => &p.data,
        };
        assert_eq!(data.as_slice(), &stream[before..after]);
        match result {
            Ok(_) => continue,
            Err(p) if p.error == NetError::Timeout && feed.served() < stream.len() => continue,
            Err(p) => {
                assert_eq!(p.error, end);
                break;
            }
        }
    }
    assert_eq!(buf.taken() as usize, stream.len(), "bytes lost");
    assert!(!buf.has_data());
});
