//! LuaRocks libraries in the sandbox: rocks installed by the real `luarocks` (Debian's,
//! `scripts/bootstrap.sh test` installs it) into a local tree, used through
//! `--rocks-tree`. LuaRocks' server is out of reach here, so the rocks are made from
//! local rockspecs (`tests/rocks/`) with `luarocks make`, which is what `luarocks
//! install` does once it has downloaded one.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn rocks_source(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/rocks")
        .join(name)
}

/// Runs `luarocks make` for Lua 5.4 in `dir` (which holds the rockspec and the sources),
/// installing into `tree`.
fn luarocks_make(dir: &Path, rockspec: &str, tree: &Path) {
    let out = Command::new("luarocks")
        .args(["--lua-version", "5.4", "make", "--tree"])
        .arg(tree)
        .arg(rockspec)
        .current_dir(dir)
        .output()
        .expect("run luarocks (scripts/bootstrap.sh test installs Debian's)");
    assert!(
        out.status.success(),
        "luarocks make {rockspec}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tree with redis-lua installed: the rockspec beside Debian's redis.lua, made.
fn tree_with_redis_lua(scratch_dir: &Path) -> PathBuf {
    let build = scratch_dir.join("build");
    std::fs::create_dir_all(&build).unwrap();
    let debian = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-deps/lua-redis/usr/share/lua/5.1/redis.lua");
    assert!(
        debian.is_file(),
        "no {}: run scripts/bootstrap.sh test",
        debian.display()
    );
    std::fs::copy(&debian, build.join("redis.lua")).unwrap();
    let spec = "redis-lua-2.0.5-1.rockspec";
    std::fs::copy(rocks_source("redis-lua").join(spec), build.join(spec)).unwrap();
    let tree = scratch_dir.join("lua_modules");
    luarocks_make(&build, spec, &tree);
    assert!(tree.join("share/lua/5.4/redis.lua").is_file());
    tree
}

/// One inline command to redis from native code; its reply as text.
fn redis_native(port: u16, command: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut reply = [0u8; 512];
    let n = stream.read(&mut reply).unwrap();
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

#[test]
fn a_pure_lua_rock_from_luarocks_talks_to_its_server() {
    let dir = scratch("rocks-redis");
    let tree = tree_with_redis_lua(&dir);
    let server = common::servers::redis(&dir);
    let script = dir.join("client.lua");
    std::fs::write(
        &script,
        r#"#!/usr/bin/env luasocket-wasi
local redis = require("redis")            -- from the rocks tree
local client = redis.connect("127.0.0.1", tonumber(arg[1]))
assert(client:ping())
client:set("written-by-rock", "hello from " .. redis._VERSION)
print(client:get("written-by-rock"), client:incr("counter"), client:incr("counter"))
local replies = client:pipeline(function(p) p:hset("h", "f", "v") p:hgetall("h") end)
print(replies[1], replies[2].f)
-- The tree is read-only: what the script does cannot change the installed rocks.
print(io.open(package.searchpath("redis", package.path), "a"))
"#,
    )
    .unwrap();
    let mut cmd = cli();
    cmd.args(["--allow-net=127.0.0.1", "--timeout", "60", "--rocks-tree"])
        .arg(&tree)
        .arg(&script)
        .arg(server.port.to_string());
    let out = run_within(cmd, Duration::from_secs(90));
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "hello from redis-lua 2.0.5-dev\t1\t2", "{text}");
    assert_eq!(lines[1], "true\tv");
    assert!(
        lines[2].starts_with("nil\t") && lines[2].ends_with("Operation not permitted\t63"),
        "{text}"
    );
    // The server saw it: the key is there when asked from outside.
    assert!(redis_native(server.port, "GET written-by-rock").contains("hello from redis-lua"));
}

#[test]
fn a_c_rock_is_refused_with_a_clear_message() {
    let dir = scratch("rocks-c");
    let build = dir.join("build");
    std::fs::create_dir_all(&build).unwrap();
    for file in ["cmod-1.0-1.rockspec", "cmod.c"] {
        std::fs::copy(rocks_source("cmod").join(file), build.join(file)).unwrap();
    }
    let tree = dir.join("lua_modules");
    luarocks_make(&build, "cmod-1.0-1.rockspec", &tree);
    let so = tree.join("lib/lua/5.4/cmod.so");
    assert!(
        so.is_file(),
        "luarocks built the C module with the C compiler"
    );
    // It is a working C module: native Lua loads it.
    let native = Command::new("lua5.4")
        .arg("-e")
        .arg(format!(
            "package.cpath = '{}/lib/lua/5.4/?.so' print(require('cmod').answer())",
            tree.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&native.stdout), "42\n");
    let mut cmd = cli();
    cmd.arg("--rocks-tree").arg(&tree).args(["-l", "cmod"]);
    let out = run_within(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    let expected = format!(
        "error loading module 'cmod' from file '{}':\n\tC modules cannot load in the sandbox",
        std::path::absolute(&so).unwrap().display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}
