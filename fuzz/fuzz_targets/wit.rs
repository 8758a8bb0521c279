//! The WIT surface: a fresh component instance per input, driven through the host crate
//! with a fuzz-chosen sequence of tcp/udp/dns/select calls on random handles (closed and
//! reused ones included) against native loopback peers started once: echo, sink (reads,
//! never answers), reset (accepts, then aborts with RST), greeter (sends a fixed text and
//! closes), a refused port, UDP echo, and servers inside the instance itself.
//!
//! The guest runs as wasm, so coverage guidance comes from the host side (the host crate,
//! wasmtime-wasi's sockets) and from the shape of the results; the guest's own logic is
//! covered natively by the other targets.
//!
//! Oracles: no trap, no host panic, no call over 5 s (timeouts are kept tiny: every
//! socket always has a small block or total timeout); an echo or greeter connection
//! returns a prefix of what the peer sent, in order (CRs aside, which "*l" drops);
//! receives keep their prefix and respect maxsize; `stats.sent` is what the sends
//! reported; a closed socket's fd is -1; after everything is dropped, the instance holds
//! no more host resources than after one socket's life.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use luasocket_wasi_fuzz::strip_cr;
use luasocket_wasi_host::bindings::exports::luasocket::socket::select::Socket;
use luasocket_wasi_host::bindings::exports::luasocket::socket::tcp::{
    self, Family, Pattern, ShutdownHow, Timeouts,
};
use luasocket_wasi_host::bindings::exports::luasocket::socket::types::{ErrorCode, OptionValue};
use luasocket_wasi_host::{Instance, Limits, NetPolicy, Runtime, Sandbox};
use wasmtime::component::ResourceAny;

const GREETING: &[u8] = b"hello\r\nsecond line\n\r\nthird\rline\nand the rest without a newline";

struct Peers {
    echo: u16,
    sink: u16,
    reset: u16,
    greeter: u16,
    refused: u16,
    udp_echo: u16,
}

fn serve(handler: fn(TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || handler(stream));
        }
    });
    port
}

fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let echo = serve(|mut s| {
            let mut buf = [0u8; 8192];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = s.shutdown(Shutdown::Write);
        });
        let sink = serve(|mut s| {
            let mut buf = [0u8; 8192];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        });
        let reset = serve(|s| {
            let _ = rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO));
            drop(s);
        });
        let greeter = serve(|mut s| {
            let _ = s.write_all(GREETING);
            let _ = s.shutdown(Shutdown::Write);
            let mut buf = [0u8; 8192];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        });
        let refused = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_echo = udp.local_addr().unwrap().port();
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&buf[..n], from);
            }
        });
        Peers {
            echo,
            sink,
            reset,
            greeter,
            refused,
            udp_echo,
        }
    })
}

fn tokio() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // Compiled code is cached beside the binary, in the fuzz build's target dir.
        let exe = std::env::current_exe().expect("the fuzz binary's path");
        let cache = exe.parent().expect("a directory").join("wit-cache");
        Runtime::with_cache(Some(cache)).expect("runtime")
    })
}

fn sandbox() -> Sandbox {
    Sandbox {
        net: NetPolicy::parse("127.0.0.1,[::1],localhost").unwrap(),
        capture_output: true,
        limits: Limits {
            max_memory: Some(256 << 20),
            ..Limits::default()
        },
        ..Sandbox::default()
    }
}

#[derive(Debug, Arbitrary, Clone, Copy)]
enum Fam {
    Any,
    V4,
    V6,
}

impl Fam {
    fn get(self) -> Option<Family> {
        match self {
            Fam::Any => None,
            Fam::V4 => Some(Family::Inet4),
            Fam::V6 => Some(Family::Inet6),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Host {
    V4,
    V6,
    Localhost,
    Any4,
    Star,
    Empty,
    Denied,
    Bad,
    Text(String),
}

impl Host {
    fn name(&self) -> String {
        match self {
            Host::V4 => "127.0.0.1".into(),
            Host::V6 => "::1".into(),
            Host::Localhost => "localhost".into(),
            Host::Any4 => "0.0.0.0".into(),
            Host::Star => "*".into(),
            Host::Empty => String::new(),
            Host::Denied => "10.1.2.3".into(),
            Host::Bad => "256.1.2.3".into(),
            Host::Text(t) => t.chars().take(40).collect(),
        }
    }
}

#[derive(Debug, Arbitrary, Clone, Copy, PartialEq)]
enum Peer {
    Echo,
    Sink,
    Reset,
    Greeter,
    Refused,
    /// A listening socket of this instance (by slot).
    Guest(u8),
    Zero,
}

#[derive(Debug, Arbitrary)]
enum Pat {
    Line,
    All,
    Bytes(u16),
}

/// Timeout values: small, zero, none-like (negative, NaN), huge.
#[derive(Debug, Arbitrary, Clone, Copy)]
enum Tiny {
    None,
    Zero,
    OneMs,
    FiveMs,
    Negative,
    NaN,
    Huge,
}

impl Tiny {
    fn get(self) -> Option<f64> {
        match self {
            Tiny::None => None,
            Tiny::Zero => Some(0.0),
            Tiny::OneMs => Some(0.001),
            Tiny::FiveMs => Some(0.005),
            Tiny::Negative => Some(-1.0),
            Tiny::NaN => Some(f64::NAN),
            Tiny::Huge => Some(1e300),
        }
    }

    fn bounded(self) -> bool {
        matches!(self, Tiny::Zero | Tiny::OneMs | Tiny::FiveMs)
    }
}

#[derive(Debug, Arbitrary)]
enum OptVal {
    Bool(bool),
    Int(i64),
    Linger(bool, i64),
    Membership(String, String),
    Text(String),
}

impl OptVal {
    fn get(&self) -> OptionValue {
        match self {
            OptVal::Bool(b) => OptionValue::Boolean(*b),
            OptVal::Int(i) => OptionValue::Integer(*i),
            OptVal::Linger(on, t) => OptionValue::Linger((*on, *t)),
            OptVal::Membership(a, b) => OptionValue::Membership((a.clone(), b.clone())),
            OptVal::Text(t) => OptionValue::Text(t.clone()),
        }
    }
}

const OPTIONS: &[&str] = &[
    "keepalive",
    "reuseaddr",
    "reuseport",
    "tcp-nodelay",
    "tcp-keepidle",
    "tcp-keepcnt",
    "tcp-keepintvl",
    "linger",
    "recv-buffer-size",
    "send-buffer-size",
    "tcp-defer-accept",
    "tcp-fastopen",
    "tcp-fastopen-connect",
    "bindtodevice",
    "dontroute",
    "broadcast",
    "ip-multicast-if",
    "ip-multicast-ttl",
    "ip-multicast-loop",
    "ip-add-membership",
    "ip-drop-membership",
    "ipv6-v6only",
    "ipv6-unicast-hops",
    "ipv6-multicast-hops",
    "ipv6-add-membership",
    "nope",
    "",
];

#[derive(Debug, Arbitrary)]
enum Op {
    TcpCreate(Fam),
    Connect(u8, Peer, Host),
    Bind(u8, Host, Peer),
    Listen(u8, u8),
    Accept(u8),
    Send(u8, Vec<u8>, u8),
    Receive(u8, Pat, Vec<u8>, Option<u16>),
    SetTimeouts(u8, Tiny, Tiny),
    Shutdown(u8, u8),
    Inspect(u8),
    SetOption(u8, u8, OptVal),
    GetOption(u8, u8),
    Close(u8),
    Drop(u8),
    UdpCreate(Fam),
    UdpSockname(u8, Host, Peer),
    UdpPeername(u8, Host, Peer),
    UdpSendTo(u8, Vec<u8>, Host, Peer),
    UdpSend(u8, Vec<u8>),
    UdpReceive(u8, Option<u16>),
    UdpTimeouts(u8, Tiny, Tiny),
    UdpInspect(u8),
    UdpSetOption(u8, u8, OptVal),
    UdpGetOption(u8, u8),
    UdpClose(u8),
    UdpDrop(u8),
    Select(Vec<(bool, u8)>, Vec<(bool, u8)>, Tiny),
    Dns(u8, Host),
    Message(u8),
}

/// What the harness knows of a TCP socket, to check what comes back.
struct TcpSlot {
    res: ResourceAny,
    /// What the peer sends, if it is an echo or the greeter: the echo sends back what was
    /// sent (`sent`), the greeter its text.
    peer: Option<Peer>,
    sent: Vec<u8>,
    /// Everything received so far, lines with their LF put back.
    received: Vec<u8>,
    closed: bool,
}

struct UdpSlot {
    res: ResourceAny,
}

fn pick<T>(v: &mut [Option<T>], i: u8) -> Option<(usize, &mut T)> {
    if v.is_empty() {
        return None;
    }
    let k = usize::from(i) % v.len();
    v[k].as_mut().map(|s| (k, s))
}

/// Awaits a call into the instance: a trap or a hang is a finding.
macro_rules! call {
    ($what:expr, $fut:expr) => {{
        match tokio::time::timeout(Duration::from_secs(5), $fut).await {
            Err(_) => panic!("{} did not return within 5 s", $what),
            Ok(Err(trap)) => panic!("{} trapped: {trap:?}", $what),
            Ok(Ok(value)) => {
                if tracing() {
                    eprintln!("  {} -> {:?}", $what, value);
                }
                value
            }
        }
    }};
}

/// `FUZZ_TRACE=1`: print every call and its result (to see what an input does).
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

fn bounded(block: Tiny, total: Tiny) -> Timeouts {
    let block = if block.bounded() || total.bounded() {
        block
    } else {
        Tiny::OneMs
    };
    Timeouts {
        block: block.get(),
        total: total.get(),
    }
}

const SMALL: Timeouts = Timeouts {
    block: Some(0.002),
    total: None,
};

struct Harness<'a> {
    inst: &'a mut Instance,
    tcp: Vec<Option<TcpSlot>>,
    udp: Vec<Option<UdpSlot>>,
}

impl Harness<'_> {
    fn port_of(&self, peer: Peer) -> Option<u16> {
        let p = peers();
        Some(match peer {
            Peer::Echo => p.echo,
            Peer::Sink => p.sink,
            Peer::Reset => p.reset,
            Peer::Greeter => p.greeter,
            Peer::Refused => p.refused,
            Peer::Zero => 0,
            Peer::Guest(_) => return None,
        })
    }

    async fn guest_port(&mut self, i: u8) -> Option<u16> {
        let (store, exports) = self.inst.parts();
        let m = exports.luasocket_socket_tcp().tcp_socket();
        if self.tcp.is_empty() {
            return None;
        }
        let slot = self.tcp[usize::from(i) % self.tcp.len()].as_ref()?;
        let addr = call!("local-address", m.call_local_address(&mut *store, slot.res));
        addr.ok().map(|a| a.port)
    }

    async fn resolve(&mut self, peer: Peer) -> u16 {
        match peer {
            Peer::Guest(i) => self.guest_port(i).await.unwrap_or(0),
            other => self.port_of(other).unwrap_or(0),
        }
    }

    async fn new_tcp(&mut self, res: ResourceAny) {
        let (store, exports) = self.inst.parts();
        let m = exports.luasocket_socket_tcp().tcp_socket();
        call!("set-timeouts", m.call_set_timeouts(&mut *store, res, SMALL));
        self.tcp.push(Some(TcpSlot {
            res,
            peer: None,
            sent: Vec::new(),
            received: Vec::new(),
            closed: false,
        }));
    }

    async fn step(&mut self, op: &Op) {
        match op {
            Op::TcpCreate(f) => {
                let (store, exports) = self.inst.parts();
                let t = exports.luasocket_socket_tcp();
                if let Ok(res) = call!("tcp create", t.call_create(&mut *store, f.get())) {
                    self.new_tcp(res).await;
                }
            }
            Op::Connect(i, peer, host) => {
                let port = self.resolve(*peer).await;
                // Only this harness's peers, whatever the host name says.
                let host = match host {
                    Host::V6 | Host::Localhost | Host::Empty | Host::Denied | Host::Bad => {
                        host.name()
                    }
                    _ => "127.0.0.1".into(),
                };
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let r = call!(
                        "connect",
                        m.call_connect(&mut *store, slot.res, &host, port)
                    );
                    if r.is_ok() && slot.peer.is_none() && host == "127.0.0.1" {
                        slot.peer = Some(*peer);
                    }
                }
            }
            Op::Bind(i, host, peer) => {
                let port = self.resolve(*peer).await;
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let _ = call!(
                        "bind",
                        m.call_bind(&mut *store, slot.res, &host.name(), port)
                    );
                }
            }
            Op::Listen(i, backlog) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let _ = call!(
                        "listen",
                        m.call_listen(&mut *store, slot.res, u32::from(*backlog))
                    );
                }
            }
            Op::Accept(i) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                let accepted = match pick(&mut self.tcp, *i) {
                    Some((_, slot)) => call!("accept", m.call_accept(&mut *store, slot.res)).ok(),
                    None => None,
                };
                if let Some(res) = accepted {
                    self.new_tcp(res).await;
                }
            }
            Op::Send(i, data, repeat) => {
                let data = data.repeat(1 + usize::from(*repeat % 64));
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let n = match call!("send", m.call_send(&mut *store, slot.res, &data)) {
                        Ok(n) => {
                            assert_eq!(n as usize, data.len(), "a send succeeded partly");
                            n
                        }
                        Err(e) => e.sent,
                    };
                    assert!(n as usize <= data.len(), "sent more than given");
                    slot.sent.extend_from_slice(&data[..n as usize]);
                }
            }
            Op::Receive(i, pat, prefix, maxsize) => {
                let is_line = matches!(pat, Pat::Line);
                let pattern = match pat {
                    Pat::Line => Pattern::Line,
                    Pat::All => Pattern::All,
                    Pat::Bytes(n) => Pattern::Bytes(u64::from(*n)),
                };
                let prefix = &prefix[..prefix.len().min(32)];
                let cap = maxsize.map(u64::from);
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let r = call!(
                        "receive",
                        m.call_receive(&mut *store, slot.res, pattern, prefix, cap)
                    );
                    let (data, ok) = match &r {
                        Ok(d) => (d.as_slice(), true),
                        Err(e) => (e.partial.as_slice(), false),
                    };
                    if let Err(e) = &r
                        && e.code == ErrorCode::InvalidArgument
                    {
                        // maxsize rejected before any I/O (prefix or n too long, or 0)
                        return;
                    }
                    assert!(data.starts_with(prefix), "the prefix is not kept");
                    if let Some(cap) = cap {
                        assert!(data.len() as u64 <= cap, "result longer than maxsize");
                    }
                    let got = &data[prefix.len()..];
                    slot.received.extend_from_slice(got);
                    if ok && is_line {
                        slot.received.push(b'\n');
                    }
                    let expected = match slot.peer {
                        Some(Peer::Echo) => Some(slot.sent.as_slice()),
                        Some(Peer::Greeter) => Some(GREETING),
                        _ => None,
                    };
                    if let Some(expected) = expected {
                        assert!(
                            strip_cr(expected).starts_with(&strip_cr(&slot.received)),
                            "received bytes the peer did not send, or out of order"
                        );
                    }
                }
            }
            Op::SetTimeouts(i, block, total) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let t = bounded(*block, *total);
                    call!(
                        "set-timeouts",
                        m.call_set_timeouts(&mut *store, slot.res, t)
                    );
                    let back = call!("get-timeouts", m.call_get_timeouts(&mut *store, slot.res));
                    let _ = back;
                }
            }
            Op::Shutdown(i, how) => {
                let how = match how % 3 {
                    0 => ShutdownHow::Receive,
                    1 => ShutdownHow::Send,
                    _ => ShutdownHow::Both,
                };
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let _ = call!("shutdown", m.call_shutdown(&mut *store, slot.res, how));
                }
            }
            Op::Inspect(i) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let s = slot.res;
                    let class = call!("class", m.call_class(&mut *store, s));
                    let _ = call!("family", m.call_family(&mut *store, s));
                    let _ = call!("local-address", m.call_local_address(&mut *store, s));
                    let _ = call!("remote-address", m.call_remote_address(&mut *store, s));
                    let _ = call!("last-error", m.call_last_error(&mut *store, s));
                    let _ = call!("dirty", m.call_dirty(&mut *store, s));
                    let stats = call!("stats", m.call_stats(&mut *store, s));
                    let fd = call!("fd", m.call_fd(&mut *store, s));
                    if slot.closed {
                        assert_eq!(fd, -1, "a closed socket has an fd");
                    }
                    if class == tcp::Class::Client {
                        assert_eq!(
                            stats.sent,
                            slot.sent.len() as u64,
                            "stats.sent differs from what the sends reported"
                        );
                    }
                    assert!(stats.age >= 0.0 && stats.age.is_finite());
                }
            }
            Op::SetOption(i, name, value) => {
                let name = OPTIONS[usize::from(*name) % OPTIONS.len()];
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let _ = call!(
                        "set-option",
                        m.call_set_option(&mut *store, slot.res, name, &value.get())
                    );
                }
            }
            Op::GetOption(i, name) => {
                let name = OPTIONS[usize::from(*name) % OPTIONS.len()];
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    let _ = call!("get-option", m.call_get_option(&mut *store, slot.res, name));
                }
            }
            Op::Close(i) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_tcp().tcp_socket();
                if let Some((_, slot)) = pick(&mut self.tcp, *i) {
                    call!("close", m.call_close(&mut *store, slot.res));
                    slot.closed = true;
                }
            }
            Op::Drop(i) => {
                if self.tcp.is_empty() {
                    return;
                }
                let k = usize::from(*i) % self.tcp.len();
                if let Some(slot) = self.tcp[k].take() {
                    let (store, _) = self.inst.parts();
                    call!("drop tcp", slot.res.resource_drop_async(&mut *store));
                }
            }
            Op::UdpCreate(f) => {
                let (store, exports) = self.inst.parts();
                let u = exports.luasocket_socket_udp();
                if let Ok(res) = call!("udp create", u.call_create(&mut *store, f.get())) {
                    let m = u.udp_socket();
                    call!(
                        "udp set-timeouts",
                        m.call_set_timeouts(&mut *store, res, SMALL)
                    );
                    self.udp.push(Some(UdpSlot { res }));
                }
            }
            Op::UdpSockname(i, host, peer) => {
                let port = match peer {
                    Peer::Zero | Peer::Guest(_) => 0,
                    p => self.port_of(*p).unwrap_or(0),
                };
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let _ = call!(
                        "setsockname",
                        m.call_set_sockname(&mut *store, slot.res, &host.name(), port)
                    );
                }
            }
            Op::UdpPeername(i, host, peer) => {
                let port = self.udp_port(*peer);
                let host = udp_host(host);
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let _ = call!(
                        "setpeername",
                        m.call_set_peername(&mut *store, slot.res, &host, port)
                    );
                }
            }
            Op::UdpSendTo(i, data, host, peer) => {
                let port = self.udp_port(*peer);
                let host = udp_host(host);
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let r = call!(
                        "sendto",
                        m.call_send_to(&mut *store, slot.res, data, &host, port)
                    );
                    if let Ok(n) = r {
                        assert_eq!(n as usize, data.len(), "a datagram sent in part");
                    }
                }
            }
            Op::UdpSend(i, data) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let _ = call!("udp send", m.call_send(&mut *store, slot.res, data));
                }
            }
            Op::UdpReceive(i, size) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let size = size.map(u32::from);
                    let r = call!("udp receive", m.call_receive(&mut *store, slot.res, size));
                    if let (Ok(d), Some(size)) = (r, size) {
                        assert!(d.data.len() <= size.max(1) as usize, "datagram over size");
                    }
                }
            }
            Op::UdpTimeouts(i, block, total) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let t = bounded(*block, *total);
                    call!(
                        "udp set-timeouts",
                        m.call_set_timeouts(&mut *store, slot.res, t)
                    );
                    let _ = call!(
                        "udp get-timeouts",
                        m.call_get_timeouts(&mut *store, slot.res)
                    );
                }
            }
            Op::UdpInspect(i) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let s = slot.res;
                    let _ = call!("udp class", m.call_class(&mut *store, s));
                    let _ = call!("udp family", m.call_family(&mut *store, s));
                    let _ = call!("udp local", m.call_local_address(&mut *store, s));
                    let _ = call!("udp remote", m.call_remote_address(&mut *store, s));
                    let _ = call!("udp fd", m.call_fd(&mut *store, s));
                }
            }
            Op::UdpSetOption(i, name, value) => {
                let name = OPTIONS[usize::from(*name) % OPTIONS.len()];
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let _ = call!(
                        "udp set-option",
                        m.call_set_option(&mut *store, slot.res, name, &value.get())
                    );
                }
            }
            Op::UdpGetOption(i, name) => {
                let name = OPTIONS[usize::from(*name) % OPTIONS.len()];
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    let _ = call!(
                        "udp get-option",
                        m.call_get_option(&mut *store, slot.res, name)
                    );
                }
            }
            Op::UdpClose(i) => {
                let (store, exports) = self.inst.parts();
                let m = exports.luasocket_socket_udp().udp_socket();
                if let Some((_, slot)) = pick(&mut self.udp, *i) {
                    call!("udp close", m.call_close(&mut *store, slot.res));
                }
            }
            Op::UdpDrop(i) => {
                if self.udp.is_empty() {
                    return;
                }
                let k = usize::from(*i) % self.udp.len();
                if let Some(slot) = self.udp[k].take() {
                    let (store, _) = self.inst.parts();
                    call!("drop udp", slot.res.resource_drop_async(&mut *store));
                }
            }
            Op::Select(read, write, timeout) => {
                let to_sockets = |list: &[(bool, u8)]| -> Vec<Socket> {
                    list.iter()
                        .take(16)
                        .filter_map(|&(is_tcp, i)| {
                            if is_tcp {
                                let v = &self.tcp;
                                (!v.is_empty())
                                    .then(|| v[usize::from(i) % v.len()].as_ref())
                                    .flatten()
                                    .map(|s| Socket::Tcp(s.res))
                            } else {
                                let v = &self.udp;
                                (!v.is_empty())
                                    .then(|| v[usize::from(i) % v.len()].as_ref())
                                    .flatten()
                                    .map(|s| Socket::Udp(s.res))
                            }
                        })
                        .collect()
                };
                let (r, w) = (to_sockets(read), to_sockets(write));
                let timeout = if timeout.bounded() {
                    timeout.get()
                } else {
                    Some(0.0)
                };
                let (store, exports) = self.inst.parts();
                let s = exports.luasocket_socket_select();
                let ready = call!("select", s.call_select(&mut *store, &r, &w, timeout));
                for &k in &ready.readable {
                    assert!((k as usize) < r.len(), "readable index out of range");
                }
                for &k in &ready.writable {
                    assert!((k as usize) < w.len(), "writable index out of range");
                }
            }
            Op::Dns(which, host) => {
                let name = host.name();
                let (store, exports) = self.inst.parts();
                let d = exports.luasocket_socket_dns();
                match which % 5 {
                    0 => drop(call!("toip", d.call_to_ip(&mut *store, &name))),
                    1 => drop(call!("tohostname", d.call_to_hostname(&mut *store, &name))),
                    2 => drop(call!(
                        "getaddrinfo",
                        d.call_get_addr_info(&mut *store, &name)
                    )),
                    3 => drop(call!(
                        "getnameinfo",
                        d.call_get_name_info(&mut *store, Some(&name), Some("80"))
                    )),
                    _ => drop(call!("gethostname", d.call_get_hostname(&mut *store))),
                }
            }
            Op::Message(code) => {
                let code = ERRORS[usize::from(*code) % ERRORS.len()];
                let (store, exports) = self.inst.parts();
                let t = exports.luasocket_socket_types();
                let text = call!("message", t.call_message(&mut *store, code));
                assert!(!text.is_empty(), "an error code without a message");
            }
        }
    }

    fn udp_port(&self, peer: Peer) -> u16 {
        match peer {
            Peer::Echo | Peer::Greeter => peers().udp_echo,
            Peer::Refused => peers().refused,
            Peer::Zero => 0,
            _ => peers().udp_echo,
        }
    }

    async fn drop_all(&mut self) {
        let (store, _) = self.inst.parts();
        for slot in self.tcp.drain(..).flatten() {
            call!("drop tcp", slot.res.resource_drop_async(&mut *store));
        }
        for slot in self.udp.drain(..).flatten() {
            call!("drop udp", slot.res.resource_drop_async(&mut *store));
        }
    }
}

fn udp_host(host: &Host) -> String {
    match host {
        Host::V6 | Host::Localhost | Host::Empty | Host::Denied | Host::Bad => host.name(),
        _ => "127.0.0.1".into(),
    }
}

const ERRORS: &[ErrorCode] = &[
    ErrorCode::Timeout,
    ErrorCode::Closed,
    ErrorCode::Oversized,
    ErrorCode::ConnectionRefused,
    ErrorCode::Refused,
    ErrorCode::MessageTooLong,
    ErrorCode::HostNotFound,
    ErrorCode::SetsockoptFailed,
    ErrorCode::GetsockoptFailed,
    ErrorCode::AddressInUse,
    ErrorCode::AddressNotAvailable,
    ErrorCode::AlreadyConnected,
    ErrorCode::NotConnected,
    ErrorCode::InProgress,
    ErrorCode::PermissionDenied,
    ErrorCode::Unreachable,
    ErrorCode::NameUnknown,
    ErrorCode::NameTemporary,
    ErrorCode::NamePermanent,
    ErrorCode::InvalidArgument,
    ErrorCode::FamilyNotSupported,
    ErrorCode::TooManySockets,
    ErrorCode::OutOfMemory,
    ErrorCode::NotSupported,
    ErrorCode::Unknown,
];

/// Host resources an instance holds after one socket has come and gone: the baseline
/// the end of every input is held to.
fn baseline() -> usize {
    static BASE: OnceLock<usize> = OnceLock::new();
    *BASE.get_or_init(|| {
        tokio().block_on(tokio::task::coop::unconstrained(async {
            let mut inst = runtime().instantiate(&sandbox()).await.expect("instance");
            let mut h = Harness {
                inst: &mut inst,
                tcp: Vec::new(),
                udp: Vec::new(),
            };
            h.step(&Op::TcpCreate(Fam::V4)).await;
            h.step(&Op::Connect(0, Peer::Echo, Host::V4)).await;
            h.step(&Op::UdpCreate(Fam::V4)).await;
            h.step(&Op::UdpSendTo(0, b"x".to_vec(), Host::V4, Peer::Echo))
                .await;
            h.step(&Op::Dns(0, Host::Localhost)).await;
            h.drop_all().await;
            inst.resources()
        }))
    })
}

// Outside tokio's cooperative budget, as embedders must drive the exports
// (`Instance::parts`).
fuzz_target!(|ops: Vec<Op>| {
    peers();
    let base = baseline();
    tokio().block_on(tokio::task::coop::unconstrained(async {
        let mut inst = runtime().instantiate(&sandbox()).await.expect("instance");
        let mut h = Harness {
            inst: &mut inst,
            tcp: Vec::new(),
            udp: Vec::new(),
        };
        for op in ops.iter().take(48) {
            if tracing() {
                eprintln!("{op:?}");
            }
            h.step(op).await;
        }
        h.drop_all().await;
        let left = inst.resources();
        assert!(
            left <= base,
            "{left} host resources left after everything was dropped (baseline {base})"
        );
    }));
});
