//! The pure-Lua protocol modules' unit tests (tests/lua/*_test.lua: ltn12, url, mime),
//! run inside the component. Each script asserts on known vectors (RFC 3986 resolution
//! examples, RFC 4648 and RFC 2045 vectors) and prints "ok" when all hold.

mod common;

use common::*;

fn run_lua_test(name: &str) -> String {
    // ltn12's file tests need a temporary directory.
    let tmp = scratch(&format!("luatest-{name}"));
    let tmp = format!("{}::/tmp", tmp.display());
    ok(&run_test_script(&["--dir", &tmp], name, &[]))
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
