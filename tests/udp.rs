//! UDP through the component: unconnected and connected, native peers, both families.

mod common;

use std::net::UdpSocket;

use common::peers::echo_peer;
use common::*;

const NET: &str = "--allow-net=127.0.0.1,[::1]";

fn exchange(host: &str, bind: &str) {
    let (port, peer) = echo_peer(bind);
    let out = lua(
        &[NET, "--timeout", "30"],
        &format!(
            r#"
        local socket = require("socket")
        local u = assert(socket.udp())
        print(u.class, u:getfamily())
        print(u:sendto("hello", "{host}", {port}))
        local data, ip, p = u:receivefrom()
        print(data, ip, p == {port}, math.type(p))
        print(select(3, u:getsockname()))
        -- connected
        print(u:setpeername("{host}", {port}), u.class)
        print(u:send("abcdef"), u:receive(3))
        print(pcall(function() return u:sendto("x", "{host}", {port}) end))
        print(u:getpeername())
        -- back to unconnected
        print(u:setpeername("*"), u.class)
        print(u:sendto("", "{host}", {port}))
        print(#u:receive())
        u:settimeout(0.1)
        print(u:receive())
        u:sendto("stop", "{host}", {port})
        print(u:close())
    "#
        ),
    );
    peer.join().unwrap();
    let fam = if host.contains(':') { "inet6" } else { "inet" };
    assert_eq!(
        ok(&out),
        format!(
            "udp{{unconnected}}\tinet4\n5.0\nolleh\t{host}\ttrue\tinteger\n{fam}\n\
             1.0\tudp{{connected}}\n6.0\tfed\n\
             false\t(command line):12: calling 'sendto' on bad self (udp{{unconnected}} expected)\n\
             {host}\t{port}\t{fam}\n1.0\tudp{{unconnected}}\n0.0\n0\nnil\ttimeout\n1.0\n"
        )
    );
}

#[test]
fn udp_exchange_over_ipv4() {
    exchange("127.0.0.1", "127.0.0.1:0");
}

#[test]
fn udp_exchange_over_ipv6() {
    exchange("::1", "[::1]:0");
}

#[test]
fn udp_server_in_lua_with_a_native_client() {
    let script = r#"
        io.stdout:setvbuf("no")
        local socket = require("socket")
        local u = assert(socket.udp4())
        assert(u:setsockname("127.0.0.1", 0))
        print((select(2, u:getsockname())))
        for _ = 1, 3 do
            local data, ip, port = u:receivefrom(4)
            u:sendto(data:upper(), ip, port)
        end
    "#;
    let mut cmd = cli();
    cmd.args([NET, "--timeout", "30", "-e", script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let port: u16 = Lines::of(&mut child).next().parse().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    for word in ["abc", "longer than four", "xy"] {
        client
            .send_to(word.as_bytes(), ("127.0.0.1", port))
            .unwrap();
        let n = client.recv(&mut buf).unwrap();
        let expect: String = word.chars().take(4).collect::<String>().to_uppercase();
        assert_eq!(
            &buf[..n],
            expect.as_bytes(),
            "datagrams are truncated to the receive size"
        );
    }
    let out = wait_within(child, std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn refused_datagrams_and_bad_addresses() {
    // A port with nobody behind it: the ICMP answer comes back as "connection refused".
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = lua(
        &[NET],
        &format!(
            r#"
        local socket = require("socket")
        local u = socket.udp()
        u:settimeout(1)
        assert(u:setpeername("127.0.0.1", {port}))
        u:send("anyone?")
        print(u:receive())
        -- sendto takes only addresses: a name is refused in gai_strerror's words, as udp.c
        local v = socket.udp()
        print(v:sendto("x", "localhost", 9))
        print(v:sendto(string.rep("x", 70000), "127.0.0.1", {port}))
        -- The port as udp.c reads it (a string, or a number formatted as one): an integer
        -- and its text go, a float's text ("9.0") and values out of range do not.
        for _, p in ipairs({{9, "9", 9.0, 9.5, -1, 65536, "09"}}) do
            io.write(tostring(v:sendto("x", "127.0.0.1", p)), " ")
        end
        print()
    "#
        ),
    );
    assert_eq!(
        ok(&out),
        "nil\tconnection refused\nnil\tName or service not known\nnil\tMessage too long\n\
         1.0 1.0 nil nil nil nil 1.0 \n"
    );
}

#[test]
fn udp_options() {
    let out = lua(
        &[NET],
        r#"
        local socket = require("socket")
        local u = socket.udp6()
        print(u:setoption("ipv6-unicast-hops", 7), u:getoption("ipv6-unicast-hops"))
        print(u:setoption("ipv6-v6only", true), u:getoption("ipv6-v6only"))
        print(u:setoption("broadcast", true))
        print(u:setoption("ip-add-membership", {multiaddr = "239.1.1.1", interface = "0.0.0.0"}))
        print(u:setoption("reuseaddr", true), u:getoption("reuseaddr"))
        print(u:setoption("recv-buffer-size", 100000), u:getoption("recv-buffer-size") > 0)
        print(pcall(function() return u:setoption("tcp-nodelay", true) end))
        print(u:getoption("error"), u:dirty())
    "#,
    );
    assert_eq!(
        ok(&out),
        "1.0\t7.0\n1.0\ttrue\nnil\tsetsockopt failed\nnil\tsetsockopt failed\n1.0\ttrue\n1.0\ttrue\n\
         false\t(command line):10: bad argument #1 to 'setoption' (unsupported option `tcp-nodelay')\n\
         nil\tfalse\n"
    );
}

/// Found by the wit fuzz target: a receive (or select) that found nothing left
/// wasmtime-wasi's background read holding the socket, and the next setpeername trapped
/// the instance ("connect needs exclusive access").
#[test]
fn setpeername_after_a_receive_that_waited_does_not_trap() {
    let (port, _peer) = echo_peer("127.0.0.1:0");
    let out = lua(
        &[NET],
        &format!(
            r#"
        local socket = require("socket")
        local u = socket.udp()
        assert(u:setpeername("127.0.0.1", 9))
        u:settimeout(0.01)
        print(u:receive())
        print(socket.select({{u}}, nil, 0.01))
        print(u:setpeername("127.0.0.1", {port}))
        u:settimeout(2)
        u:send("still usable")
        print(u:receive())
    "#
        ),
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "nil\ttimeout", "{text}");
    assert_eq!(lines[2], "1.0", "{text}");
    assert_eq!(lines[3], "elbasu llits", "{text}");
}

/// `socket.udp()` has no socket, and `getfd` says -1, until an address gives it a family
/// (setsockname, setpeername, sendto), as LuaSocket creates it lazily; `udp4()` has one.
#[test]
fn a_udp_object_without_a_family_has_no_descriptor_until_used() {
    let out = lua(
        &[NET],
        r#"
        local socket = require("socket")
        local function fd(u) return u:getfd() >= 0 end
        local a, b, c = socket.udp(), socket.udp(), socket.udp()
        print(a:getfd(), fd(socket.udp4()), fd(socket.udp6()))
        a:setsockname("127.0.0.1", 0)
        b:setpeername("127.0.0.1", 9)
        c:sendto("x", "127.0.0.1", 9)
        print(fd(a), fd(b), fd(c))
        local d = socket.udp()
        d:setfd(7)
        print(d:getfd(), d:close(), d:getfd())
        "#,
    );
    assert_eq!(
        ok(&out),
        "-1.0\ttrue\ttrue\ntrue\ttrue\ttrue\n7.0\t1.0\t-1.0\n"
    );
}
