//! The network policy: denied by default, denials are clear, and nothing gets through.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::*;

/// A listener that records whether anyone connected.
fn canary() -> (u16, impl Fn() -> bool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, move || listener.accept().is_ok())
}

#[test]
fn connect_is_denied_by_default_and_nothing_is_contacted() {
    let (port, contacted) = canary();
    let out = lua(
        &[],
        &format!("return require('socket').connect('127.0.0.1', {port})"),
    );
    assert_eq!(ok(&out), "nil\tpermission denied\n");
    assert!(
        stderr(&out).contains(&format!(
            "denied TCP connect to 127.0.0.1:{port} (not allowed by --allow-net)"
        )),
        "{}",
        stderr(&out)
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(!contacted(), "the canary must not see a connection");
}

#[test]
fn only_the_allowed_port_is_reachable() {
    let (port, contacted) = canary();
    let other = port.wrapping_add(1).max(1);
    let out = lua(
        &[&format!("--allow-net=127.0.0.1:{other}")],
        &format!("return require('socket').connect('127.0.0.1', {port})"),
    );
    assert_eq!(ok(&out), "nil\tpermission denied\n");
    assert!(!contacted());
    let out = lua(
        &[&format!("--allow-net=127.0.0.1:{port}")],
        &format!("return require('socket').connect('127.0.0.1', {port}) ~= nil"),
    );
    assert_eq!(ok(&out), "true\n");
    assert!(contacted());
}

#[test]
fn names_must_be_allowed_to_be_looked_up() {
    let (port, contacted) = canary();
    let chunk =
        format!("local c, e = require('socket').connect('localhost', {port}) return c ~= nil, e");
    let out = lua(&["--allow-net=127.0.0.1"], &chunk);
    assert_eq!(ok(&out), "false\tpermission denied\n");
    assert!(
        stderr(&out).contains("denied name lookup of 'localhost'"),
        "{}",
        stderr(&out)
    );
    let out = lua(&[&format!("--allow-net=localhost:{port}")], &chunk);
    assert_eq!(ok(&out), "true\tnil\n");
    assert!(contacted());
}

#[test]
fn listening_needs_permission_too() {
    let out = lua(&[], "return require('socket').bind('127.0.0.1', 0)");
    assert_eq!(ok(&out), "nil\tpermission denied\n");
    let out = lua(
        &["--allow-net=127.0.0.1"],
        "return require('socket').bind('0.0.0.0', 0)",
    );
    assert_eq!(
        ok(&out),
        "nil\tpermission denied\n",
        "the wildcard address is more than loopback"
    );
}

#[test]
fn a_directory_that_cannot_be_opened_is_named_to_embedders() {
    use luasocket_wasi_host::{Preopen, Runtime, Sandbox};
    let sandbox = Sandbox {
        dirs: vec![Preopen {
            host: "/nonexistent/dir".into(),
            guest: "/d".into(),
            writable: false,
        }],
        ..Sandbox::default()
    };
    let runtime = Runtime::with_cache(Some(cache_dir())).unwrap();
    let instance = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(runtime.instantiate(&sandbox));
    let error = format!("{:?}", instance.err().expect("no such directory"));
    assert!(
        error.contains("cannot make /nonexistent/dir visible as /d"),
        "{error}"
    );
}
