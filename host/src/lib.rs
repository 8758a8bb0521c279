//! luasocket-wasi, the host: runs the component under wasmtime, in a sandbox.
//!
//! - [`policy`]: what a script may reach on the network;
//! - [`runtime`]: engine, compiled component, instances, limits;
//! - [`cache`]: the compiled-code cache;
//! - [`lookup`]: name lookup filtered by the policy.
//!
//! The `luasocket-wasi` command line (`src/main.rs`) is one user of this library.

pub mod cache;
pub mod component;
pub mod lookup;
pub mod policy;
pub mod runtime;

/// Host bindings for the component's exports, generated from `wit/`.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "luasocket",
        path: "../wit",
        exports: { default: async },
    });
}

pub use bindings::exports::luasocket::socket::lua::{Failure, Invocation};
pub use policy::{NetPolicy, Rule};
pub use runtime::{Limit, Limits, Outcome, Preopen, RunResult, Runtime, Sandbox};
