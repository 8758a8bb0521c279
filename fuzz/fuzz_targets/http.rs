//! socket.http's response handling, the component's own lua/socket/http.lua (with
//! socket.lua, ltn12, mime, url and headers) run by native Lua 5.4 against a fake server:
//! `socket.core` is a fake whose TCP objects serve the fuzz input as the server's bytes,
//! in fuzz-chosen chunks, through the real receive-pattern code (`RecvBuffer`).
//!
//! The input: a control byte (request form, method, redirects, body), a chunking table,
//! then the responses of successive connections (redirects open new ones), separated by
//! `\0\0\0\0`.
//!
//! Oracles: `http.request` never raises (it is protected: failures are `nil, message`);
//! it returns a status code or nil; the script stays within an instruction budget; every
//! line or "*a" receive has a maxsize of at most 64 KiB (status and header lines are
//! capped); the request written to the server has well-formed CRLF lines; at most
//! 1 + 5 connections (the redirect limit).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use luasocket_wasi::net::NetError;
use luasocket_wasi_fuzz::{
    Feed, lua_with_modules, observed, reset_budget, script_connections, split,
};
use mlua::{Function, Lua, MultiValue, Value};

const BUDGET: u32 = 50_000_000;

const HARNESS: &str = r#"
local http = require("socket.http")
local ltn12 = require("ltn12")
http.TIMEOUT = 1

return function(control)
    local form = control % 4
    local method = ({ "GET", "HEAD", "POST", "GET" })[(control >> 2) % 4 + 1]
    local redirect = (control >> 4) % 2 == 0
    local u = "http://user:pa%20ss@127.0.0.1:8080/path/x;p?q=1#frag"
    if form == 0 then
        return http.request(u)
    elseif form == 1 then
        return http.request(u, "field=value&other=1")
    else
        local t = {}
        local body = form == 3 and "a chunked request body" or nil
        local r, c, h, s = http.request {
            url = u,
            method = method,
            sink = ltn12.sink.table(t),
            source = body and ltn12.source.string(body) or nil,
            redirect = redirect,
            headers = form == 3 and { ["x-test"] = "1" } or nil,
        }
        -- An HTTP/0.9 answer (no status line) has no headers.
        if r and h ~= nil then
            assert(type(h) == "table", "headers are not a table")
            for k, v in pairs(h) do
                assert(type(k) == "string" and type(v) == "string", "bad header entry")
                assert(k == string.lower(k), "header name not lower-cased")
            end
        end
        return r, c, h, s, table.concat(t)
    end
end
"#;

thread_local! {
    static STATE: RefCell<Option<(Lua, Function)>> = const { RefCell::new(None) };
}

/// Checks that what the client sent is CRLF lines up to the blank line ending the head.
fn check_request(sent: &[u8]) {
    if sent.is_empty() {
        return;
    }
    let head_end = sent
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("request without the end of its head");
    let head = &sent[..head_end + 2];
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(head.get(i + 1), Some(&b'\n'), "bare CR in the request head"),
            b'\n' => assert!(i > 0 && head[i - 1] == b'\r', "bare LF in the request head"),
            _ => {}
        }
    }
    let line_end = head.windows(2).position(|w| w == b"\r\n").unwrap();
    let line = &head[..line_end];
    assert!(
        line.ends_with(b" HTTP/1.1"),
        "bad request line {:?}",
        String::from_utf8_lossy(line)
    );
    assert_eq!(
        line.iter().filter(|&&b| b == b' ').count(),
        2,
        "request line with extra spaces: {:?}",
        String::from_utf8_lossy(line)
    );
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let control = data[0];
    let nchunks = usize::from(data[1] % 8);
    let rest = &data[2..];
    let (chunk_table, rest) = rest.split_at(nchunks.min(rest.len()));
    // Chunk sizes 0 (a timed-out wait), 1..=254 bytes, or 255 = all that is left.
    let chunks: Vec<usize> = chunk_table
        .iter()
        .map(|&c| if c == 255 { usize::MAX } else { usize::from(c) })
        .collect();
    let feeds = split(rest, b"\0\0\0\0")
        .into_iter()
        .map(|r| Feed::new(r.to_vec(), chunks.clone(), NetError::Closed))
        .collect();
    script_connections(feeds);

    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let (lua, request) = state.get_or_insert_with(|| {
            let lua = lua_with_modules(BUDGET);
            let request: Function = lua
                .load(HARNESS)
                .set_name("@http_harness.lua")
                .call(())
                .expect("harness");
            (lua, request)
        });
        reset_budget(lua, BUDGET);
        let results = match request.call::<MultiValue>(i64::from(control)) {
            Ok(r) => r,
            Err(e) => panic!("http.request raised: {e}"),
        };
        let first = results.front().cloned().unwrap_or(Value::Nil);
        match first {
            Value::Nil => {
                let message = results.get(1).cloned().unwrap_or(Value::Nil);
                assert!(
                    matches!(message, Value::String(_)),
                    "failure without a message: {results:?}"
                );
            }
            Value::String(_) | Value::Integer(_) => {
                let code = results.get(1).cloned().unwrap_or(Value::Nil);
                assert!(
                    matches!(code, Value::Integer(c) if (0..=999).contains(&c)),
                    "a success without a status code: {results:?}"
                );
            }
            other => panic!("unexpected first result {other:?}"),
        }
        if lua.used_memory() > 64 << 20 {
            lua.gc_collect().unwrap();
        }
    });
    let seen = observed();
    assert!(
        seen.unbounded_receives.is_empty(),
        "unbounded receives: {:?}",
        seen.unbounded_receives
    );
    assert!(seen.connections <= 6, "{} connections", seen.connections);
    for sent in &seen.sent {
        check_request(sent);
    }
});
