//! The pure-Lua protocol modules' unit tests (tests/lua/*_test.lua: ltn12, url, mime),
//! run inside the component. Each script asserts on known vectors (RFC 3986 resolution
//! examples, RFC 4648 and RFC 2045 vectors) and prints "ok" when all hold.

mod common;

use std::time::Duration;

use common::*;

fn run_lua_test(name: &str) -> String {
    let script = format!("{}/../tests/lua/{name}", env!("CARGO_MANIFEST_DIR"));
    // ltn12's file tests need a temporary directory.
    let tmp = scratch(&format!("luatest-{name}"));
    let mut cmd = cli();
    cmd.arg("run")
        .arg("--dir")
        .arg(format!("{}::/tmp", tmp.display()))
        .arg(&script);
    let out = run_within(cmd, Duration::from_secs(120));
    ok(&out)
}

#[test]
fn ltn12_vectors() {
    assert!(run_lua_test("ltn12_test.lua").starts_with("ok"));
}

#[test]
fn url_vectors_including_rfc3986_examples() {
    assert!(run_lua_test("url_test.lua").starts_with("ok"));
}

#[test]
fn mime_vectors_and_chunking() {
    assert!(run_lua_test("mime_test.lua").starts_with("ok"));
}
