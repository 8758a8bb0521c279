//! Methods and metamethods across classes: a fresh component instance per input runs
//! tests/lua/classes.lua in its `program` mode, which decodes the input into up to 48
//! calls: a member of any class (tcp, udp, SSL context, connection, certificate; `__gc`,
//! `__close`, `__tostring` included), on an object of any class or state (master,
//! client, server, accepted, closed, collected; udp either way; contexts, connections and
//! certificates, collected or not) or a foreign value (io.stdout, tables posing as
//! sockets, nil, numbers, strings, functions, threads, nothing at all), with assorted
//! arguments (other objects among them); or `select`, `ssl.wrap`, a renewed object, a GC
//! step.
//!
//! Why through the component, when the url and http targets run Lua natively: the
//! guest's sockets cannot be made natively. The `wasip2` crate compiles every wasi import
//! to `unreachable!()` off wasm32, and `socket.tcp()` already reads the monotonic clock,
//! so `socket.core` only works inside the component. Its code is not instrumented there;
//! guidance comes from the host side (wasmtime-wasi's sockets) and from what the script
//! reports: one feature per call (which member, on which object, accepted or refused,
//! raised or not), counted in libFuzzer's extra counters.
//!
//! Oracles: no trap (a memory fault is one), no host panic, no call over 10 s; every
//! wrong-class call raises LuaSocket's or LuaSec's own message, and select raises only
//! where LuaSocket's does, on an entry it cannot index for getfd (the script checks
//! both, by the rules native LuaSocket and LuaSec follow, which tests/classes.rs
//! verifies).
#![no_main]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use luasocket_wasi_host::{Invocation, Limits, NetPolicy, Outcome, Runtime, Sandbox};

const SCRIPT: &[u8] = include_bytes!("../../tests/lua/classes.lua");

/// The calls one input may hold: three bytes each (the script stops at 48).
const MAX_INPUT: usize = 48 * 3;

/// libFuzzer counts every byte of this section as coverage, as it does the compiler's
/// counters (FuzzerExtraCounters.cpp), and clears it before each input.
#[used]
#[unsafe(link_section = "__libfuzzer_extra_counters")]
static FEATURES: [AtomicU8; 1 << 14] = [const { AtomicU8::new(0) }; 1 << 14];

fn tokio() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // Compiled code is cached beside the binary, as the wit target caches it.
        let exe = std::env::current_exe().expect("the fuzz binary's path");
        let cache = exe.parent().expect("a directory").join("wit-cache");
        Runtime::with_cache(Some(cache)).expect("runtime")
    })
}

fn sandbox() -> Sandbox {
    Sandbox {
        net: NetPolicy::parse("127.0.0.1,[::1]").unwrap(),
        capture_output: true,
        limits: Limits {
            max_memory: Some(256 << 20),
            timeout: Some(Duration::from_secs(10)),
            ..Limits::default()
        },
        ..Sandbox::default()
    }
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts the script's features: numbers separated by commas.
fn count(features: &str) {
    for n in features.split(',').filter_map(|f| f.parse::<usize>().ok()) {
        // Wraps at 256, as the compiler's 8-bit counters do.
        FEATURES[n % FEATURES.len()].fetch_add(1, Ordering::Relaxed);
    }
}

fuzz_target!(|data: &[u8]| {
    let program = hex(&data[..data.len().min(MAX_INPUT)]);
    let invocation = Invocation {
        chunk_name: "@tests/lua/classes.lua".into(),
        source: SCRIPT.to_vec(),
        args: vec!["program".into(), program],
        arg_table: vec![],
    };
    let outcome = tokio().block_on(async {
        let mut inst = runtime().instantiate(&sandbox()).await.expect("instance");
        inst.run(&invocation).await
    });
    match outcome {
        Outcome::Returned(values) => count(values.get(1).map_or("", String::as_str)),
        other => panic!("classes.lua program {:?}: {other:?}", hex(data)),
    }
});
