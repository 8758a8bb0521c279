//! Class checks (issue 13, item 4): every metamethod and method of the tcp, udp and
//! LuaSec classes refuses what is not its class with LuaSocket's or LuaSec's message,
//! instead of reading it as its own type. tests/lua/classes.lua holds the calls and the
//! rules; native Lua 5.4 with LuaSocket 3.1 and LuaSec runs the same script, which is
//! what shows the rules are theirs.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const NET: &str = "--allow-net=127.0.0.1,[::1]";

fn script() -> String {
    format!("{}/../tests/lua/classes.lua", env!("CARGO_MANIFEST_DIR"))
}

fn ours(mode: &str) -> String {
    let mut cmd = cli();
    cmd.args([NET, &script(), mode]);
    ok(&run_within(cmd, Duration::from_secs(120)))
}

/// The summary line: "checked N wrong-class calls, made M right-class calls".
fn checked(out: &str) -> (usize, usize) {
    let line = out
        .lines()
        .find(|l| l.starts_with("checked "))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    let numbers: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    (numbers[0], numbers[1])
}

#[test]
fn wrong_class_calls_raise_the_native_messages() {
    let out = ours("wrong");
    assert!(out.contains("absent: none\n"), "{out}");
    let (wrong, right) = checked(&out);
    assert!(wrong > 2000, "{out}");
    assert_eq!(right, 0);
}

/// The rules in the script are LuaSocket's and LuaSec's: native Lua passes it too, with
/// every member the script lists.
#[test]
fn native_luasocket_and_luasec_follow_the_same_rules() {
    let native = Command::new("lua5.4")
        .args([&script(), "wrong"])
        .output()
        .expect("lua5.4 (scripts/bootstrap.sh test installs it with lua-socket and lua-sec)");
    let native = ok(&native);
    assert!(native.contains("absent: none\n"), "{native}");
    assert!(checked(&native).0 > 2000, "{native}");
}

/// Every member on every object it accepts, with assorted arguments, then select and
/// ssl.wrap on everything, then the wrong-class calls again on the closed and collected
/// objects: all come back, and the instance exits cleanly after collecting everything.
#[test]
fn every_member_on_every_object_comes_back() {
    let out = ours("all");
    let (wrong, right) = checked(&out);
    assert!(wrong > 4000, "{out}");
    assert!(right > 5000, "{out}");
}

/// The three reports of the issue, as one-liners: each raises (as native does) where the
/// instance used to trap, or to spin at exit.
#[test]
fn the_reported_calls_raise_instead_of_corrupting_memory() {
    let out = lua(
        &[NET],
        r#"
        local S = require "socket"
        local ssl = require "ssl"
        print(pcall(function() getmetatable(S.tcp()).__gc(S.udp()) end))
        print(pcall(function() getmetatable(S.tcp()).__gc(io.stdout) end))
        local ctx = ssl.newcontext({ mode = "client", protocol = "any" })
        print(pcall(function() getmetatable(ctx).__gc(S.tcp()) end))
        print(pcall(function() getmetatable(S.udp()).__tostring(io.stdout) end))
        "#,
    );
    assert_eq!(
        ok(&out),
        "false\t(command line):4: bad argument #1 to '__gc' (tcp{any} expected)\n\
         false\t(command line):5: bad argument #1 to '__gc' (tcp{any} expected)\n\
         false\t(command line):7: bad argument #1 to '__gc' (SSL:Context expected, got tcp{master})\n\
         false\tinvalid object passed to 'auxiliar.c:__tostring'\n"
    );
}

/// A foreign object's `getfd` runs while `select` gathers its sets: it may collect a
/// connection gathered before it, and `select` must then leave that one out rather than
/// wait on freed memory (which, reused by strings, once made it "readable").
#[test]
fn select_resolves_sockets_after_asking_foreign_objects() {
    let out = lua(
        &[NET],
        r#"
        local socket, ssl = require "socket", require "ssl"
        local server = assert(socket.bind("127.0.0.1", 0))
        local ip, port = server:getsockname()
        local client = assert(socket.connect(ip, port))
        local peer = assert(server:accept())
        local conn = assert(ssl.wrap(client, { mode = "client", verify = "none" }))
        -- The collected connection's memory is handed out again, to strings.
        local junk = {}
        local evil = { getfd = function()
            getmetatable(conn).__gc(conn)
            collectgarbage()
            for i = 1, 4000 do junk[i] = string.rep(string.char(i % 256), i % 200 + 1) end
            return 3
        end }
        local r, w, err = socket.select({ conn, evil }, { conn, evil }, 0)
        print(#r, #w, err, tostring(conn))
        "#,
    );
    let text = ok(&out);
    assert!(
        text.starts_with("0\t0\ttimeout\tSSL connection: 0x") && text.ends_with(" (closed)\n"),
        "{text}"
    );
}

/// A finalizer runs Lua inside whatever binding allocated; `debug.setlocal` on that
/// binding's frame could unanchor the object it works on. Lua frames keep it.
#[test]
fn debug_setlocal_is_for_lua_frames_only() {
    let out = lua(
        &[NET],
        r#"
        local x = 1
        local function set() return debug.setlocal(2, 1, 7) end
        print(set(), x)
        print(pcall(function() return debug.setlocal(2, 1, 5) end))
        print(pcall(debug.setlocal, 1, 1, 5))
        print(pcall(debug.setlocal, 50, 1, 5))
        local co = coroutine.create(function() local y = 1; coroutine.yield(); print(y) end)
        coroutine.resume(co)
        print(debug.setlocal(co, 1, 1, 9))
        coroutine.resume(co)
        "#,
    );
    assert_eq!(
        ok(&out),
        "x\t7\n\
         false\t(command line):5: debug.setlocal on C functions is disabled in the sandbox\n\
         false\tdebug.setlocal on C functions is disabled in the sandbox\n\
         false\tbad argument #1 to 'debug.setlocal' (level out of range)\n\
         y\n\
         9\n"
    );
}
