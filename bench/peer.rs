//! Native peers for the benchmarks, outside the measured process: the other end of each
//! scenario, as fast as a plain Rust program on std sockets can be.
//!
//!   peer sink PORT                 accept connections, read and discard everything
//!   peer source PORT BYTES         accept connections, send BYTES to each, close
//!   peer echo PORT                 accept connections, echo each line back
//!   peer udp-count PORT SECONDS    count datagrams until SECONDS pass without one
//!   peer udp-blast HOST PORT N SIZE   send N datagrams of SIZE bytes
//!   peer udp-window HOST PORT N SIZE W   send N datagrams of SIZE bytes, at most W ahead
//!                                  of the receiver's acknowledgements (so none is lost)
//!   peer clients PORT N LINES      N concurrent connections, LINES round trips each
//!   peer http-load PORT C N        N GET / requests over C kept-alive connections at
//!                                  once; reports the rate and the latency percentiles
//!
//! Each prints one line "key=value ..." when done (or "ready" once listening).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn listen(port: &str) -> TcpListener {
    let l = TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).expect("bind");
    println!("ready");
    l
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "sink" => {
            for stream in listen(&arg(2)).incoming().flatten() {
                std::thread::spawn(move || {
                    let mut s = stream;
                    let mut buf = vec![0u8; 1 << 20];
                    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        }
        "source" => {
            let bytes: usize = arg(3).parse().expect("bytes");
            for stream in listen(&arg(2)).incoming().flatten() {
                std::thread::spawn(move || {
                    let mut s = stream;
                    let block = vec![b'x'; 1 << 20];
                    let mut left = bytes;
                    while left > 0 {
                        let n = left.min(block.len());
                        if s.write_all(&block[..n]).is_err() {
                            return;
                        }
                        left -= n;
                    }
                });
            }
        }
        "echo" => {
            for stream in listen(&arg(2)).incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let mut out = stream.try_clone().expect("clone");
                    let mut reader = BufReader::new(stream);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match reader.read_until(b'\n', &mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {
                                if out.write_all(&line).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        }
        "udp-count" => {
            let sock =
                UdpSocket::bind(("127.0.0.1", arg(2).parse::<u16>().expect("port"))).expect("bind");
            let idle: f64 = arg(3).parse().unwrap_or(1.0);
            println!("ready");
            let mut buf = [0u8; 65536];
            let mut count = 0u64;
            sock.set_read_timeout(Some(Duration::from_secs(60))).ok();
            let mut first: Option<Instant> = None;
            let mut last = Instant::now();
            while sock.recv(&mut buf).is_ok() {
                count += 1;
                last = Instant::now();
                first.get_or_insert(last);
                sock.set_read_timeout(Some(Duration::from_secs_f64(idle)))
                    .ok();
            }
            let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
            println!("received={count} seconds={secs:.6}");
        }
        "udp-blast" => {
            let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let to = format!("{}:{}", arg(2), arg(3));
            let n: usize = arg(4).parse().expect("count");
            let payload = vec![b'u'; arg(5).parse().expect("size")];
            let start = Instant::now();
            for _ in 0..n {
                let _ = sock.send_to(&payload, &to);
            }
            println!("sent={n} seconds={:.6}", start.elapsed().as_secs_f64());
        }
        "udp-window" => {
            let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
            sock.connect(format!("{}:{}", arg(2), arg(3)))
                .expect("connect");
            let n: u64 = arg(4).parse().expect("count");
            let payload = vec![b'u'; arg(5).parse().expect("size")];
            let window: u64 = arg(6).parse().expect("window");
            sock.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let (mut sent, mut acked) = (0u64, 0u64);
            let mut ack = [0u8; 64];
            let start = Instant::now();
            while acked < n {
                while sent < n && sent - acked < window {
                    let _ = sock.send(&payload);
                    sent += 1;
                }
                // Each acknowledgement carries the receiver's count, in decimal.
                match sock.recv(&mut ack) {
                    Ok(len) => {
                        let count = std::str::from_utf8(&ack[..len])
                            .ok()
                            .and_then(|s| s.parse().ok());
                        acked = acked.max(count.unwrap_or(acked));
                    }
                    Err(_) => break,
                }
            }
            println!(
                "sent={sent} acked={acked} seconds={:.6}",
                start.elapsed().as_secs_f64()
            );
        }
        "clients" => {
            let port: u16 = arg(2).parse().expect("port");
            let n: usize = arg(3).parse().expect("connections");
            let lines: usize = arg(4).parse().expect("lines");
            clients(port, n, lines);
        }
        "http-load" => {
            let port: u16 = arg(2).parse().expect("port");
            let connections: usize = arg(3).parse().expect("connections");
            let requests: usize = arg(4).parse().expect("requests");
            http_load(port, connections, requests);
        }
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}

/// Opens `n` connections (all held open at once), then makes `lines` rounds in which
/// every connection sends a line and reads its echo. Four threads share the work.
fn clients(port: u16, n: usize, lines: usize) {
    let start = Instant::now();
    let threads = 4;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mine: Vec<TcpStream> = (t..n)
                    .step_by(threads)
                    .map(|_| {
                        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                        s.set_nodelay(true).ok();
                        s
                    })
                    .collect();
                // Readers borrow the streams: one descriptor per connection, so that
                // 10,000 of them fit the usual limit of 20,000 with the server's.
                let mut readers: Vec<BufReader<&TcpStream>> =
                    mine.iter().map(BufReader::new).collect();
                let mut ok = 0usize;
                let mut line = String::new();
                for round in 0..lines {
                    for mut s in &mine {
                        let _ = writeln!(s, "round {round} from a native client");
                    }
                    for r in readers.iter_mut() {
                        line.clear();
                        if r.read_line(&mut line).is_ok() && !line.is_empty() {
                            ok += 1;
                        }
                    }
                }
                ok
            })
        })
        .collect();
    let ok: usize = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    let secs = start.elapsed().as_secs_f64();
    println!("connections={n} echoes={ok} seconds={secs:.6}");
}

/// `requests` GETs of `/`, spread over `connections` kept-alive connections that each
/// send one request, read the whole answer, and send the next.
fn http_load(port: u16, connections: usize, requests: usize) {
    let start = Instant::now();
    let handles: Vec<_> = (0..connections)
        .map(|c| {
            let mine = requests / connections + usize::from(c < requests % connections);
            std::thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream.set_nodelay(true).ok();
                let mut out = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                let mut latencies = Vec::with_capacity(mine);
                for _ in 0..mine {
                    let sent = Instant::now();
                    out.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
                        .expect("send");
                    read_http_answer(&mut reader);
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("a client thread"))
        .collect();
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e6;
    println!(
        "requests={} seconds={secs:.6} p50_us={:.1} p99_us={:.1}",
        all.len(),
        pct(0.50),
        pct(0.99)
    );
}

/// Reads one HTTP/1.1 answer (status 200 expected), its body framed by Content-Length
/// or chunked.
fn read_http_answer(reader: &mut BufReader<TcpStream>) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    assert!(line.starts_with("HTTP/1.1 200"), "answer: {line:?}");
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        if header.starts_with("transfer-encoding:") && header.contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0; length.expect("a length or chunks")];
        reader.read_exact(&mut body).expect("body");
    }
}
