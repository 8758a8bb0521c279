//! The `socket` namespace: constants, exceptions (try/newtry/protect, across coroutine
//! yields), skip/choose, LTN12 sources and sinks over sockets, headers, and DNS.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use common::*;

const NET: &str = "--allow-net=127.0.0.1,[::1],localhost";

#[test]
fn constants_and_module_identity() {
    let out = lua(
        &[],
        r#"
        local socket = require("socket")
        assert(socket == require("socket.core"))
        return socket._VERSION, socket._DEBUG, math.type(socket._SETSIZE), socket._SETSIZE >= 10000,
            socket._DATAGRAMSIZE, socket.BLOCKSIZE, socket._SOCKETINVALID
    "#,
    );
    assert_eq!(
        ok(&out),
        "LuaSocket 3.1.0\ttrue\tinteger\ttrue\t8192\t2048\t-1\n"
    );
}

#[test]
fn try_newtry_and_protect() {
    let out = lua(
        &[],
        r#"
        local socket = require("socket")
        local log = {}
        local try = socket.newtry(function() log[#log + 1] = "finalized" end)
        local f = socket.protect(function(x)
            assert(try(x, "first") == x)
            try(nil, "boom")
            return "unreachable"
        end)
        print(f(1))
        print(log[1], #log)
        -- other errors pass through protect untouched
        local g = socket.protect(function() error("real error", 0) end)
        print(pcall(g))
        local h = socket.protect(function() error({code = 1}) end)
        local ok, e = pcall(h)
        print(ok, type(e), e.code)
        -- try returns every argument on success; false counts as failure
        print(socket.try(1, 2, 3))
        print(socket.protect(function() socket.try(false, "f") end)())
        print(socket.skip(2, "a", "b", "c", "d"))
        print(select('#', socket.skip(5, 'a')))
    "#,
    );
    assert_eq!(
        ok(&out),
        "nil\tboom\nfinalized\t1\nfalse\treal error\nfalse\ttable\t1\n1\t2\t3\nnil\tf\nc\td\n0\n"
    );
}

#[test]
fn protect_works_across_coroutine_yields() {
    let out = lua(
        &[],
        r#"
        local socket = require("socket")
        local f = socket.protect(function(a)
            local b = coroutine.yield(a + 1)
            socket.try(nil, "after yield " .. b)
        end)
        local co = coroutine.wrap(f)
        print(co(1))
        print(co(5))
    "#,
    );
    assert_eq!(ok(&out), "2\nnil\tafter yield 5\n");
}

#[test]
fn choose_picks_by_name_or_default() {
    let out = lua(
        &[],
        r#"
        local socket = require("socket")
        local pick = socket.choose({ default = function(a) return "d" .. tostring(a) end, x = function(a, b) return a .. b end })
        print(pick("x", "1", "2"), pick(7), pcall(pick, "nope"))
    "#,
    );
    let text = ok(&out);
    assert!(text.starts_with("12\td7\tfalse\t"), "{text}");
    assert!(text.contains("unknown key (nope)"), "{text}");
}

#[test]
fn sources_and_sinks_over_a_native_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let expected = payload.clone();
    let peer = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&payload).unwrap();
        s.write_all(b"tail").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    });
    let script = format!(
        r#"
        local socket = require("socket")
        local c = assert(socket.connect("127.0.0.1", {port}))
        -- by-length: exactly 10000 bytes, in BLOCKSIZE pieces
        local src = socket.source("by-length", c, 10000)
        local parts, n = {{}}, 0
        while true do
            local chunk = src()
            if not chunk then break end
            n = n + 1
            parts[#parts + 1] = chunk
        end
        local body = table.concat(parts)
        print(#body, n, src.getfd() == c:getfd())
        -- keep-open sink echoes the body back
        local sink = socket.sink("keep-open", c)
        assert(sink(body))
        assert(sink(nil) == 1)
        -- until-closed: the rest, closing the socket at the end
        local rest = {{}}
        for chunk in socket.source("until-closed", c) do rest[#rest + 1] = chunk end
        print(table.concat(rest), c:getfd())
        local done = socket.sink("close-when-done", c)
        print(done(nil), c:getfd())
        io.write(body:sub(1, 3))
    "#
    );
    let out = lua(&[NET], &script);
    let back = peer.join().unwrap();
    assert_eq!(back, expected);
    let first3: String = expected[..3].iter().map(|&b| b as char).collect();
    assert_eq!(
        stdout(&out),
        format!("10000\t5\ttrue\ntail\t-1.0\n1\t-1.0\n{first3}"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn headers_module_registers_itself() {
    let out = lua(
        &[],
        r#"
        local socket = require("socket")
        local h = require("socket.headers")
        return h == socket.headers, h.canonic["content-type"], h.canonic["www-authenticate"], h.canonic["x-unknown"]
    "#,
    );
    assert_eq!(ok(&out), "true\tContent-Type\tWWW-Authenticate\tnil\n");
}

#[test]
fn dns_answers_without_reverse_lookup() {
    let out = lua(
        &[NET],
        r#"
        local dns = require("socket").dns
        local ip, resolved = dns.toip("localhost")
        print(ip, resolved.name, #resolved.alias, resolved.ip[1])
        print(dns.toip("127.0.0.1"))
        print(dns.toip("::1"))
        local name, r = dns.tohostname("127.0.0.1")
        print(name, r.ip[1])
        local found = {}
        for _, a in ipairs(dns.getaddrinfo("localhost")) do found[a.family] = a.addr end
        print(found.inet)
        print(dns.getaddrinfo("::1")[1].family, dns.getaddrinfo("::1")[1].addr)
        local names, service = dns.getnameinfo("127.0.0.1", "80")
        print(names[1], service, select(2, dns.getnameinfo(nil, 8080)))
        print(pcall(dns.getnameinfo))
        print(type(dns.gethostname()))
    "#,
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "127.0.0.1\tlocalhost\t0\t127.0.0.1");
    assert!(lines[1].starts_with("127.0.0.1\ttable: "), "{text}");
    assert_eq!(lines[2], "nil\thost not found");
    assert_eq!(lines[3], "127.0.0.1\t127.0.0.1");
    assert_eq!(lines[4], "127.0.0.1");
    assert_eq!(lines[5], "inet6\t::1");
    assert_eq!(lines[6], "127.0.0.1\thttp\t8080");
    assert_eq!(lines[7], "false\thost and serv cannot be both nil");
    assert_eq!(lines[8], "string");
}

#[test]
fn unknown_hosts_are_not_found() {
    let out = lua(
        &["--allow-net"],
        "local dns = require('socket').dns return dns.toip('bad..name'), dns.tohostname('bad..name')",
    );
    assert_eq!(ok(&out), "nil\tnil\thost not found\n");
    let out = lua(
        &["--allow-net"],
        "return require('socket').connect('bad..name', 80)",
    );
    assert_eq!(
        ok(&out),
        "nil\thost or service not provided, or not known\n"
    );
}

#[test]
fn dns_lookups_obey_the_sandbox() {
    let out = lua(
        &["--allow-net=127.0.0.1"],
        "return require('socket').dns.toip('localhost')",
    );
    assert_eq!(ok(&out), "nil\tpermission denied\n");
}

#[test]
fn gethostname_is_what_the_host_says() {
    let out = lua(&[], "return require('socket').dns.gethostname()");
    assert_eq!(ok(&out), "localhost\n");
}

/// A NaN timeout waits not at all, as LuaSocket's arithmetic makes it (`MAX(NaN - t, 0)`
/// is 0): accept, receive and select answer "timeout" at once instead of blocking for good,
/// and `gettimeout` gives back what was set.
#[test]
fn nan_timeouts_try_once() {
    let out = lua(
        &[NET, "--timeout", "20"],
        r#"
        local socket = require("socket")
        local server = assert(socket.bind("127.0.0.1", 0))
        local _, port = server:getsockname()
        local client = assert(socket.connect("127.0.0.1", port))
        local peer = assert(server:accept())
        local start = socket.gettime()
        server:settimeout(0/0)
        print(server:accept())
        peer:settimeout(0/0, "t")
        local r, e, partial = peer:receive()
        print(r, e, partial)
        print(select(3, socket.select({ peer }, nil, 0/0)))
        print(select(3, socket.select(nil, nil, 0/0)))
        local u = socket.udp(); u:setsockname("127.0.0.1", 0); u:settimeout(0/0)
        print(u:receive())
        print(socket.gettime() - start < 2)
        local b, t = server:gettimeout()
        print(b ~= b, t)
        client:close()
    "#,
    );
    assert_eq!(
        ok(&out),
        "nil\ttimeout\nnil\ttimeout\t\ntimeout\ntimeout\nnil\ttimeout\ntrue\ntrue\t-1.0\n"
    );
}
