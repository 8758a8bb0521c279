//! The native peers the differential scripts talk to: plain Rust over std::net, so what
//! a script sees depends only on the LuaSocket it runs under. Each listens on a loopback
//! port for the whole test run and serves every connection in its own thread.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::Duration;

/// The text the greeter's `lines` command sends: every kind of line end `*l` meets.
pub const LINES: &[u8] = b"one\r\ntwo\n\nthree\rfour\r\r\nlast without end";

/// Ports of the running peers, passed to every script as `name=port`.
pub struct Peers {
    ports: Vec<(&'static str, u16)>,
}

impl Peers {
    pub fn start() -> Peers {
        let ports = vec![
            ("echo", serve_tcp("127.0.0.1:0", echo)),
            ("echo6", serve_tcp("[::1]:0", echo)),
            ("greeter", serve_tcp("127.0.0.1:0", greet)),
            ("http_echo", serve_tcp("127.0.0.1:0", http_echo)),
            ("udp_echo", serve_udp("127.0.0.1:0")),
            ("udp_echo6", serve_udp("[::1]:0")),
            ("refused", unused_tcp_port()),
            ("udp_closed", unused_udp_port()),
        ];
        Peers { ports }
    }

    pub fn args(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|(name, port)| format!("{name}={port}"))
            .collect()
    }
}

fn serve_tcp(address: &str, serve: fn(TcpStream)) -> u16 {
    let listener = TcpListener::bind(address).expect("a loopback listener");
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    port
}

/// Sends back whatever arrives, until the client closes.
fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 65536];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Reads one command line, then does what it says (in TEXT, `\n` and `\r` stand for
/// the line ends the command line cannot hold):
/// - `lines`: sends [`LINES`] and closes;
/// - `bytes N`: sends N bytes of `0123456789` repeated, and closes;
/// - `hold TEXT`: sends TEXT and keeps the connection open until the client closes it;
/// - `drip MS TEXT`: sends TEXT a byte every MS milliseconds, then holds as `hold`;
/// - `reset TEXT`: sends TEXT, waits a moment, and resets the connection (SO_LINGER 0);
/// - `half TEXT`: sends TEXT, shuts its sending side, then drains until the client closes;
/// - `count`: reads until the client shuts its sending side, then answers the byte count.
fn greet(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let line = line
        .trim_end_matches(['\r', '\n'])
        .replace("\\n", "\n")
        .replace("\\r", "\r");
    let (command, rest) = line.split_once(' ').unwrap_or((&line, ""));
    let mut out = stream;
    let _ = match command {
        "lines" => out.write_all(LINES),
        "bytes" => out.write_all(&digits(rest.parse().unwrap_or(0))),
        "hold" => out.write_all(rest.as_bytes()).map(|_| hold(reader)),
        "drip" => drip(&mut out, rest).map(|_| hold(reader)),
        "reset" => reset(out, rest),
        "half" => half(out, reader, rest),
        "count" => count(out, reader),
        _ => out.write_all(b"unknown command\n"),
    };
}

fn digits(n: usize) -> Vec<u8> {
    b"0123456789".iter().copied().cycle().take(n).collect()
}

/// Waits for the client to close, discarding what it sends.
fn hold(mut reader: BufReader<TcpStream>) {
    let mut sink = Vec::new();
    let _ = reader.read_to_end(&mut sink);
}

fn drip(out: &mut TcpStream, rest: &str) -> std::io::Result<()> {
    let (ms, text) = rest.split_once(' ').unwrap_or(("100", rest));
    let pause = Duration::from_millis(ms.parse().unwrap_or(100));
    for byte in text.bytes() {
        out.write_all(&[byte])?;
        thread::sleep(pause);
    }
    Ok(())
}

/// A reset rather than a close: what a crashed or impatient peer leaves behind.
fn reset(mut out: TcpStream, text: &str) -> std::io::Result<()> {
    out.write_all(text.as_bytes())?;
    thread::sleep(Duration::from_millis(100));
    rustix::net::sockopt::set_socket_linger(&out, Some(Duration::ZERO))?;
    drop(out);
    Ok(())
}

fn half(mut out: TcpStream, reader: BufReader<TcpStream>, text: &str) -> std::io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.shutdown(Shutdown::Write)?;
    // Its sending side is shut: what the client sends now is only drained.
    std::io::copy(&mut reader.into_inner(), &mut std::io::sink())?;
    Ok(())
}

fn count(mut out: TcpStream, mut reader: BufReader<TcpStream>) -> std::io::Result<()> {
    let mut all = Vec::new();
    reader.read_to_end(&mut all)?;
    writeln!(out, "{}", all.len())
}

/// An HTTP/1.0 server whose answer's body is the request it got, byte for byte: the
/// head, and the body as Content-Length or chunked framing delimits it.
fn http_echo(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut request = Vec::new();
    let mut length = 0;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        request.extend_from_slice(line.as_bytes());
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
        if line == "\r\n" {
            break;
        }
    }
    let body = if chunked {
        chunked_body(&mut reader)
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map(|_| body)
    };
    let Ok(body) = body else { return };
    request.extend_from_slice(&body);
    let mut out = stream;
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        request.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&request);
}

/// The raw bytes of a chunked body, framing included, up to its last chunk and the
/// blank line after any trailers.
fn chunked_body(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        raw.extend_from_slice(size_line.as_bytes());
        let hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(hex, 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        raw.extend_from_slice(&chunk);
    }
    loop {
        let mut trailer = String::new();
        if reader.read_line(&mut trailer)? == 0 || trailer == "\r\n" {
            raw.extend_from_slice(trailer.as_bytes());
            return Ok(raw);
        }
        raw.extend_from_slice(trailer.as_bytes());
    }
}

/// Sends every datagram back to where it came from.
fn serve_udp(address: &str) -> u16 {
    let socket = UdpSocket::bind(address).expect("a loopback UDP socket");
    let port = socket.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    port
}

/// A port nothing listens on (it was free a moment ago): connecting is refused.
fn unused_tcp_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

fn unused_udp_port() -> u16 {
    let probe = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    probe.local_addr().unwrap().port()
}
