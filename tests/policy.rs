//! The network policy on every path a script has to the network: TCP connect, bind and
//! listen, accept, UDP bind, `sendto`, connected UDP, receiving, name lookup; IPv4 and
//! IPv6; names whose addresses are not allowed; ports outside the allowed set. Each denied
//! operation returns `nil, "permission denied"` (and the CLI names it), and listening
//! canaries prove that nothing was contacted. (tests/sandbox.rs has the first basics.)

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::*;

/// A TCP listener that records whether anyone connected.
struct TcpCanary(TcpListener);

impl TcpCanary {
    fn on(ip: &str) -> TcpCanary {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        TcpCanary(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn contacted(&self) -> bool {
        std::thread::sleep(Duration::from_millis(50));
        self.0.accept().is_ok()
    }
}

/// A UDP socket that records whether any datagram arrived.
struct UdpCanary(UdpSocket);

impl UdpCanary {
    fn on(ip: &str) -> UdpCanary {
        let socket = UdpSocket::bind((ip, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        UdpCanary(socket)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn received(&self) -> bool {
        self.0.recv(&mut [0; 64]).is_ok()
    }
}

fn denied(out: &std::process::Output, what: &str) {
    let named = stderr(out).lines().any(|l| {
        l.starts_with(&format!("luasocket-wasi: denied {what}"))
            && l.ends_with("(not allowed by --allow-net)")
    });
    assert!(
        named,
        "expected the CLI to name the denial '{what}':\n{}",
        stderr(out)
    );
}

#[test]
fn tcp_connect_is_denied_for_ipv4_and_ipv6_by_every_constructor() {
    let v4 = TcpCanary::on("127.0.0.1");
    let v6 = TcpCanary::on("::1");
    let (p4, p6) = (v4.port(), v6.port());
    let out = lua(
        &[],
        &format!(
            r#"
            local socket = require("socket")
            print(socket.connect("127.0.0.1", {p4}))
            print(socket.connect4("127.0.0.1", {p4}))
            print(socket.connect("::1", {p6}))
            print(socket.connect6("::1", {p6}))
            print(socket.tcp():connect("127.0.0.1", {p4}))
            print(socket.tcp6():connect("::1", {p6}))
            -- non-blocking: the denial is immediate, not a pending connect
            local t = socket.tcp(); t:settimeout(0)
            print(t:connect("127.0.0.1", {p4}))
            -- IPv4-mapped IPv6 addresses are refused outright by wasi:sockets
            print(socket.tcp6():connect("::ffff:127.0.0.1", {p4}))
            "#
        ),
    );
    assert_eq!(
        ok(&out),
        "nil\tpermission denied\n".repeat(7) + "nil\tInvalid argument\n"
    );
    denied(&out, &format!("TCP connect to 127.0.0.1:{p4}"));
    denied(&out, &format!("TCP connect to [::1]:{p6}"));
    assert!(!v4.contacted(), "the IPv4 canary must not be contacted");
    assert!(!v6.contacted(), "the IPv6 canary must not be contacted");
}

#[test]
fn ports_and_families_outside_the_rules_stay_closed() {
    let v4 = TcpCanary::on("127.0.0.1");
    let v6 = TcpCanary::on("::1");
    let (p4, p6) = (v4.port(), v6.port());
    // Rules for the other family's canary port, and for a range just below each port.
    let rules = format!(
        "--allow-net=127.0.0.1:{}-{},[::1]:{p4}",
        p4.saturating_sub(10),
        p4 - 1
    );
    let out = lua(
        &[&rules],
        &format!(
            r#"
            local socket = require("socket")
            print(socket.connect("127.0.0.1", {p4}))
            print(socket.connect("::1", {p6}))
            print(socket.connect("127.0.0.2", {p4}))
            "#
        ),
    );
    assert_eq!(ok(&out), "nil\tpermission denied\n".repeat(3));
    assert!(!v4.contacted() && !v6.contacted());
    // The same canaries are reachable once a rule covers them: the denials were the policy.
    let out = lua(
        &[&format!("--allow-net=127.0.0.1:{p4},[::1]:{p6}")],
        &format!(
            r#"
            local socket = require("socket")
            print(socket.connect("127.0.0.1", {p4}) ~= nil, socket.connect("::1", {p6}) ~= nil)
            "#
        ),
    );
    assert_eq!(ok(&out), "true\ttrue\n");
    assert!(v4.contacted() && v6.contacted());
}

#[test]
fn tcp_bind_and_listen_need_the_address_and_the_port() {
    let free = common::servers::free_port();
    let out = lua(
        &["--allow-net=127.0.0.1:1-1023,[::1]:1-1023"],
        &format!(
            r#"
            local socket = require("socket")
            print(socket.bind("127.0.0.1", {free}))      -- port outside the rule
            print(socket.bind("::1", {free}))
            print(socket.bind("127.0.0.2", 0))            -- address outside the rule
            print(socket.bind("*", 0))                    -- the wildcard is not loopback
            -- an ephemeral bind needs only the address, but listening on the port it got
            -- needs a rule for that port
            local t = socket.tcp()
            print(t:bind("127.0.0.1", 0))
            print(t:listen())
            "#
        ),
    );
    assert_eq!(
        ok(&out),
        "nil\tpermission denied\n".repeat(4) + "1.0\nnil\tpermission denied\n"
    );
    denied(&out, &format!("TCP bind to 127.0.0.1:{free}"));
    denied(&out, &format!("TCP bind to [::1]:{free}"));
    denied(&out, "TCP listen on 127.0.0.1:");
    assert!(
        TcpListener::bind(("127.0.0.1", free)).is_ok(),
        "nothing may be left listening on the denied port"
    );
}

#[test]
fn accept_refuses_peers_the_rules_do_not_cover() {
    // The script may listen on 127.0.0.1, but only 127.0.0.1 may talk to it: a peer from
    // 127.0.0.2 (also loopback on Linux) is turned away and never seen by the script.
    let port = common::servers::free_port();
    let peer = std::thread::spawn(move || {
        let target: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        for _ in 0..200 {
            if let Ok(mut s) = connect_from([127, 0, 0, 2].into(), target) {
                let _ = s.write_all(b"hostile\n");
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let out = lua(
        &[&format!("--allow-net=127.0.0.1:{port}")],
        &format!(
            r#"
            local socket = require("socket")
            local server = assert(socket.bind("127.0.0.1", {port}))
            server:settimeout(1.5)
            print(server:accept())
            "#
        ),
    );
    assert!(
        peer.join().unwrap(),
        "the peer could not reach the listener"
    );
    assert_eq!(ok(&out), "nil\ttimeout\n");
    denied(&out, "TCP accept from 127.0.0.2:");
}

/// Connects to `to` from the source address `from` (std cannot bind before connecting).
fn connect_from(from: std::net::Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketAddrV4, SocketType, bind, connect, socket};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
    bind(&fd, &SocketAddrV4::new(from, 0))?;
    connect(&fd, &to)?;
    Ok(TcpStream::from(fd))
}

#[test]
fn udp_bind_sendto_and_connected_udp_are_checked() {
    let v4 = UdpCanary::on("127.0.0.1");
    let v6 = UdpCanary::on("::1");
    let (p4, p6) = (v4.port(), v6.port());
    let free = common::servers::free_port();
    let out = lua(
        &["--allow-net=127.0.0.1:1-1023"],
        &format!(
            r#"
            local socket = require("socket")
            print(socket.udp():setsockname("127.0.0.1", {free}))
            print(socket.udp6():setsockname("::1", 0))
            local u = socket.udp()
            print(u:sendto("leak", "127.0.0.1", {p4}))
            print(socket.udp6():sendto("leak", "::1", {p6}))
            print(u:setpeername("127.0.0.1", {p4}))
            print(socket.udp6():setpeername("::1", {p6}))
            print(socket.udp():setpeername("127.0.0.1", 53) and "connected")
            "#
        ),
    );
    assert_eq!(
        ok(&out),
        "nil\tpermission denied\n".repeat(6) + "connected\n"
    );
    denied(&out, &format!("UDP bind to 127.0.0.1:{free}"));
    denied(&out, &format!("UDP send to 127.0.0.1:{p4}"));
    denied(&out, &format!("UDP send to [::1]:{p6}"));
    assert!(!v4.received(), "the IPv4 canary must get no datagram");
    assert!(!v6.received(), "the IPv6 canary must get no datagram");
}

#[test]
fn a_connected_udp_socket_cannot_send_elsewhere() {
    let allowed = UdpSocket::bind("127.0.0.1:0").unwrap();
    allowed
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let other = UdpCanary::on("127.0.0.1");
    let (pa, po) = (allowed.local_addr().unwrap().port(), other.port());
    let out = lua(
        &[&format!("--allow-net=127.0.0.1:{pa}")],
        &format!(
            r#"
            local socket = require("socket")
            local u = assert(socket.udp())
            assert(u:setpeername("127.0.0.1", {pa}))
            print(u:send("hello"))
            -- disconnecting and sending elsewhere is checked like any sendto
            assert(u:setpeername("*"))
            print(u:sendto("leak", "127.0.0.1", {po}))
            "#
        ),
    );
    assert_eq!(ok(&out), "5.0\nnil\tpermission denied\n");
    let mut buf = [0; 64];
    let n = allowed.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert!(!other.received());
}

#[test]
fn udp_datagrams_from_peers_outside_the_rules_are_dropped() {
    let port = common::servers::free_port();
    let sender = std::thread::spawn(move || {
        let hostile = UdpSocket::bind("127.0.0.2:0").unwrap();
        let friendly = UdpSocket::bind("127.0.0.1:0").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        for _ in 0..5 {
            hostile.send_to(b"hostile", ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        friendly.send_to(b"friendly", ("127.0.0.1", port)).unwrap();
    });
    let out = lua(
        &[&format!("--allow-net=127.0.0.1:{port}")],
        &format!(
            r#"
            local socket = require("socket")
            local u = assert(socket.udp())
            assert(u:setsockname("127.0.0.1", {port}))
            u:settimeout(5)
            print(u:receivefrom())
            "#
        ),
    );
    sender.join().unwrap();
    let text = ok(&out);
    assert!(text.starts_with("friendly\t127.0.0.1\t"), "{text}");
    denied(&out, "UDP receive from 127.0.0.2:");
}

#[test]
fn names_must_be_listed_and_open_only_what_they_resolve_to_on_their_ports() {
    let canary = TcpCanary::on("127.0.0.1");
    let other = TcpCanary::on("127.0.0.1");
    let (port, op) = (canary.port(), other.port());
    let out = lua(
        &[&format!("--allow-net=localhost:{port}")],
        &format!(
            r#"
            local socket = require("socket")
            -- not looked up yet: the address alone is not allowed
            print(socket.connect("127.0.0.1", {port}))
            -- other names are not looked up, by any function
            print(socket.connect("example.invalid", {port}))
            print(socket.dns.toip("example.invalid"))
            print(socket.dns.getaddrinfo("example.invalid"))
            print(socket.tcp():connect("localhost.localdomain", {port}))
            -- the allowed name resolves, and its address opens on the rule's port only
            print((socket.dns.toip("localhost")))
            print(socket.connect("localhost", {op}))
            print(socket.connect("127.0.0.1", {op}))
            print(socket.connect("localhost", {port}) ~= nil)
            "#
        ),
    );
    assert_eq!(
        ok(&out),
        "nil\tpermission denied\n".repeat(5)
            + "127.0.0.1\n"
            + &"nil\tpermission denied\n".repeat(2)
            + "true\n"
    );
    denied(&out, "name lookup of 'example.invalid'");
    denied(&out, &format!("TCP connect to 127.0.0.1:{op}"));
    assert!(!other.contacted(), "the other port must not be contacted");
    assert!(canary.contacted(), "the allowed name's port is reachable");
}

#[test]
fn a_denied_setpeername_leaves_a_connected_udp_socket_with_its_old_peer() {
    let allowed = UdpSocket::bind("127.0.0.1:0").unwrap();
    allowed
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let canary = UdpCanary::on("127.0.0.1");
    let (a, c) = (allowed.local_addr().unwrap().port(), canary.port());
    let out = lua(
        &[&format!("--allow-net=127.0.0.1:{a}")],
        &format!(
            r#"
            local socket = require("socket")
            local u = socket.udp()
            assert(u:setpeername("127.0.0.1", {a}))
            print(u:setpeername("127.0.0.1", {c}))
            print(u.class, u:getpeername())
            print(u:send("still to the old peer"))
            "#
        ),
    );
    assert_eq!(
        ok(&out),
        format!("nil\tpermission denied\nudp{{connected}}\t127.0.0.1\t{a}\tinet\n21.0\n")
    );
    let mut buf = [0; 64];
    let (n, _) = allowed
        .recv_from(&mut buf)
        .expect("the old peer gets the datagram");
    assert_eq!(&buf[..n], b"still to the old peer");
    assert!(!canary.received(), "the denied peer must not be contacted");
    denied(&out, &format!("UDP send to 127.0.0.1:{c}"));
}
