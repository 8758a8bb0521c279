//! The MIME core (`src/mime.rs`), driven as mime.lua drives it: each function a step of
//! an LTN12 filter, fed the input in random chunks (empty ones included), then the end.
//!
//! Oracles: the output never depends on the chunking; Base64 matches a reference encoder
//! and decodes back; Quoted-Printable decodes back (CRLF and binary markers), keeps to
//! its alphabet, never ends a line with a blank, and `qpwrp` keeps lines within 76
//! characters without splitting an `=XX`; `wrp` keeps lines within its length and only
//! adds line breaks; `eol` leaves no bare CR or LF; dot-stuffing is undone exactly.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use luasocket_wasi::mime::{self, Chunk, Coded, Counted, MimeResult};

#[derive(Debug, Arbitrary)]
struct Input {
    data: Vec<u8>,
    cuts: Vec<u8>,
    cuts2: Vec<u8>,
    length: u8,
    marker: Vec<u8>,
    binary: bool,
}

/// Splits `data` into chunks of the sizes in `cuts` (cycled; 0 makes an empty chunk).
fn chunks<'a>(data: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let size = if cuts.is_empty() {
            rest.len()
        } else {
            usize::from(cuts[i % cuts.len()])
        };
        i += 1;
        let (a, b) = rest.split_at(size.min(rest.len()));
        out.push(a);
        rest = b;
        if i > 4 * data.len() + 8 {
            out.push(rest);
            break;
        }
    }
    out
}

/// A coder as `ltn12.filter.cycle(low, "")` runs it.
fn run_coded(f: impl Fn(Chunk, Chunk) -> MimeResult<Coded>, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ctx = Vec::new();
    for part in parts {
        let step = f(Some(&ctx), Some(part)).expect("memory");
        out.extend(step.out.expect("a step with input returned nil"));
        ctx = step.rest.expect("a step with input returned no leftover");
    }
    let last = f(Some(&ctx), None).expect("memory");
    assert!(last.rest.is_none(), "the end step returned a leftover");
    out.extend(last.out.unwrap_or_default());
    out
}

/// A counter-carrying filter as `ltn12.filter.cycle(low, start)` runs it.
fn run_counted<N: Copy>(
    f: impl Fn(N, Chunk) -> MimeResult<Counted<N>>,
    start: N,
    parts: &[&[u8]],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = start;
    for part in parts {
        let step = f(n, Some(part)).expect("memory");
        out.extend(step.out.expect("a step with input returned nil"));
        n = step.count;
    }
    out.extend(f(n, None).expect("memory").out.unwrap_or_default());
    out
}

fn reference_b64(data: &[u8]) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for group in data.chunks(3) {
        let b = |i: usize| u32::from(group.get(i).copied().unwrap_or(0));
        let bits = (b(0) << 16) | (b(1) << 8) | b(2);
        for k in 0..4 {
            if k <= group.len() {
                out.push(A[((bits >> (18 - 6 * k)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
        out.push(&rest[..at]);
        rest = &rest[at + 2..];
    }
    out.push(rest);
    out
}

fn without_crlf(data: &[u8]) -> Vec<u8> {
    data.iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect()
}

/// Undoes SMTP dot-stuffing: a dot doubled at the start of a line (the body starts on one).
fn unstuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at_line_start = true;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        out.push(b);
        if b == b'.' && at_line_start {
            assert_eq!(
                data.get(i + 1),
                Some(&b'.'),
                "a leading dot was not doubled"
            );
            i += 1;
        }
        at_line_start = b == b'\n' && out.len() >= 2 && out[out.len() - 2] == b'\r';
        i += 1;
    }
    out
}

fuzz_target!(|input: Input| {
    let data = &input.data[..];
    let whole: Vec<&[u8]> = vec![data];
    let a = chunks(data, &input.cuts);
    let b = chunks(data, &input.cuts2);

    // Base64
    let encoded = run_coded(mime::b64, &a);
    assert_eq!(
        encoded,
        run_coded(mime::b64, &whole),
        "b64 depends on chunking"
    );
    assert_eq!(
        encoded,
        reference_b64(data),
        "b64 differs from the reference"
    );
    let once = mime::b64(Some(data), None).unwrap().out.unwrap_or_default();
    assert_eq!(once, encoded);
    assert_eq!(
        run_coded(mime::unb64, &chunks(&encoded, &input.cuts2)),
        data,
        "unb64(b64(x)) != x"
    );
    let length = i32::from(input.length);
    let wrapped = run_counted(
        |n, c| mime::wrp(n, c, length),
        length,
        &chunks(&encoded, &input.cuts),
    );
    assert_eq!(
        run_coded(mime::unb64, &chunks(&wrapped, &input.cuts2)),
        data
    );

    // Arbitrary input through the decoders: chunking never matters.
    assert_eq!(run_coded(mime::unb64, &a), run_coded(mime::unb64, &b));
    assert_eq!(run_coded(mime::unqp, &a), run_coded(mime::unqp, &b));

    // Quoted-Printable
    let marker: &[u8] = if input.binary { b"=0D=0A" } else { mime::CRLF };
    let qp = |c: Chunk, d: Chunk| mime::qp(c, d, marker);
    let q = run_coded(qp, &a);
    assert_eq!(q, run_coded(qp, &b), "qp depends on chunking");
    for &byte in &q {
        assert!(
            matches!(byte, b'\t' | b'\r' | b'\n' | 32..=126),
            "qp wrote byte {byte}"
        );
    }
    for line in lines(&q) {
        assert!(
            !line.contains(&b'\r') && !line.contains(&b'\n'),
            "bare CR/LF in qp"
        );
        assert!(
            !matches!(line.last(), Some(b' ' | b'\t')),
            "qp line ends with a blank"
        );
    }
    assert_eq!(
        run_coded(mime::unqp, &chunks(&q, &input.cuts2)),
        data,
        "unqp(qp(x)) != x"
    );
    let qw = run_counted(|n, c| mime::qpwrp(n, c, 76), 76, &chunks(&q, &input.cuts));
    assert_eq!(
        qw,
        run_counted(|n, c| mime::qpwrp(n, c, 76), 76, &[&q[..]]),
        "qpwrp depends on chunking"
    );
    for line in lines(&qw) {
        assert!(line.len() <= 76, "qp line of {} characters", line.len());
    }
    assert_eq!(run_coded(mime::unqp, &chunks(&qw, &input.cuts2)), data);

    // Line wrapping of arbitrary text
    let w = run_counted(|n, c| mime::wrp(n, c, length), length, &a);
    assert_eq!(
        w,
        run_counted(|n, c| mime::wrp(n, c, length), length, &b),
        "wrp depends on chunking"
    );
    for line in lines(&w) {
        assert!(
            line.len() <= usize::from(input.length.max(1)),
            "wrp line too long"
        );
    }
    assert_eq!(without_crlf(&w), without_crlf(data), "wrp changed the text");

    // End-of-line normalization
    // Cut at a zero byte, as the Lua face reads markers (C strings).
    let marker = input.marker[..input.marker.len().min(4)]
        .split(|&b| b == 0)
        .next()
        .unwrap_or_default();
    let eol = |n: i32, c: Chunk<'_>| mime::eol(n, c, marker);
    let normalized = run_counted(eol, 0, &a);
    assert_eq!(
        normalized,
        run_counted(eol, 0, &b),
        "eol depends on chunking"
    );
    let crlf = run_counted(|n, c| mime::eol(n, c, mime::CRLF), 0, &a);
    for line in lines(&crlf) {
        assert!(
            !line.contains(&b'\r') && !line.contains(&b'\n'),
            "bare CR/LF after eol"
        );
    }

    // SMTP dot-stuffing
    let stuffed = run_counted(mime::dot, mime::DOT_START, &a);
    assert_eq!(
        stuffed,
        run_counted(mime::dot, mime::DOT_START, &b),
        "dot depends on chunking"
    );
    assert_eq!(unstuff(&stuffed), data, "dot-stuffing is not undone");
});
