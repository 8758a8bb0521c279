//! Driving the library as an embedder does, without the CLI: the runtime, sandboxes, and
//! a runtime for the async calls.

use luasocket_wasi_host::{NetPolicy, Runtime, Sandbox};

/// A runtime with the compile cache private to the test run.
pub fn runtime() -> Runtime {
    Runtime::with_cache(Some(super::cache_dir())).expect("runtime")
}

/// A sandbox that allows `net` (a `--allow-net` list) and captures the script's output.
pub fn capturing_sandbox(net: &str) -> Sandbox {
    Sandbox {
        net: NetPolicy::parse(net).unwrap(),
        capture_output: true,
        ..Sandbox::default()
    }
}

/// Runs a future to completion on a current-thread tokio runtime of its own.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// [`block_on`], outside tokio's cooperative budget: as an embedder should drive the
/// exports (see `Instance::parts`).
pub fn block_on_unconstrained<F: Future>(f: F) -> F::Output {
    block_on(tokio::task::coop::unconstrained(f))
}
