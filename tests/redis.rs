//! An existing LuaSocket library, unmodified, inside the component: Debian's lua-redis
//! (`redis.lua`, a pure-Lua Redis client) against a real `redis-server` on loopback.
//!
//! `scripts/bootstrap.sh test` installs redis-server and extracts redis.lua from the
//! lua-redis .deb into `target/test-deps/lua-redis` (never installed system-wide). The
//! Lua side lives in tests/lua/redis_test.lua and tests/lua/redis_subscriber.lua, which
//! also run by hand through the CLI (see their headers).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::servers::{self, free_port};
use common::*;

const NET: &str = "--allow-net=127.0.0.1";

/// The directory holding the extracted redis.lua, as a `--dir` argument that puts it at
/// `/lib`, where `require "redis"` finds it. The package's real file is under 5.1 (the
/// 5.2 and 5.3 entries are symlinks to it, which would point outside the preopen).
fn redis_lua_dir() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-deps/lua-redis/usr/share/lua/5.1");
    assert!(
        dir.join("redis.lua").is_file(),
        "{} has no redis.lua: run scripts/bootstrap.sh test",
        dir.display()
    );
    format!("{}::/lib", dir.canonicalize().unwrap().display())
}

/// Sends one command to redis from native code and returns its reply: a status, error
/// or integer line as is, a bulk string's contents.
fn native_command(port: u16, words: &[&str]) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("*{}\r\n", words.len());
    for word in words {
        request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
    }
    (&stream).write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("a reply from redis");
    let line = line.trim_end().to_owned();
    match line.strip_prefix('$').map(|n| n.parse::<i64>()) {
        Some(Ok(len)) if len >= 0 => {
            let mut body = vec![0; len as usize + 2];
            reader.read_exact(&mut body).expect("the bulk reply");
            body.truncate(len as usize);
            String::from_utf8(body).unwrap()
        }
        _ => line,
    }
}

#[test]
fn redis_lua_runs_unmodified_against_a_real_redis_server() {
    let dir = scratch("redis-lua");
    let redis = servers::redis(&dir);
    // A port that was just free: nobody listens there.
    let closed = free_port();
    let options = [NET, "--timeout", "60", "--dir", &redis_lua_dir()];
    let ports = [redis.port.to_string(), closed.to_string()];
    let out = run_test_script(&options, "redis_test.lua", &[&ports[0], &ports[1]]);
    assert_eq!(ok(&out), "ok\n", "stderr: {}", stderr(&out));
    // The script left a key behind: seen from outside, it was this server it talked to,
    // and the count it wrote shows the script ran its checks (447 when written).
    let left = native_command(redis.port, &["GET", "written-by-lua"]);
    let checks: u32 = left
        .strip_prefix("checks: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the key the script leaves, not {left:?}"));
    assert!(checks > 400, "only {checks} checks ran");
}

#[test]
fn a_lua_subscriber_receives_what_a_native_publisher_sends() {
    let dir = scratch("redis-pubsub");
    let redis = servers::redis(&dir);
    let lib = redis_lua_dir();
    let mut cmd = cli();
    cmd.args(["run", NET, "--timeout", "60", "--dir", lib.as_str()])
        .arg(test_script("redis_subscriber.lua"))
        .arg(redis.port.to_string())
        .arg("feed")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn luasocket-wasi");
    let mut lines = Lines::of(&mut child);
    // Publishing before the subscription is confirmed would reach nobody.
    let first = lines.next();
    if first != "subscribed" {
        let out = wait_within(child, Duration::from_secs(60));
        panic!(
            "expected \"subscribed\", got {first:?}; stderr: {}",
            stderr(&out)
        );
    }
    for payload in ["one", "two words", "three"] {
        assert_eq!(
            native_command(redis.port, &["PUBLISH", "feed", payload]),
            ":1"
        );
        assert_eq!(lines.next(), payload);
    }
    assert_eq!(
        native_command(redis.port, &["PUBLISH", "feed", "stop"]),
        ":1"
    );
    assert_eq!(lines.next(), "done");
    let out = wait_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    // The subscriber unsubscribed before leaving: nobody is listening on the channel.
    assert_eq!(
        native_command(redis.port, &["PUBLISH", "feed", "late"]),
        ":0"
    );
}
