//! luasocket-wasi, the host: runs the component under wasmtime, in a sandbox.
//!
//! - [`policy`]: what a script may reach on the network;
//! - [`runtime`]: the engine and compiled component, making sandboxed instances;
//! - [`instance`]: one instance: runs, plugins, direct use of the socket resources;
//! - [`limits`]: memory, CPU, wall-clock and socket limits;
//! - [`handles`]: counting sockets and host handles;
//! - [`files`]: file opens that cannot block (regular files and directories only);
//! - [`value`]: Lua values crossing to the host;
//! - [`cache`]: the compiled-code cache;
//! - [`lookup`]: name lookup filtered by the policy;
//! - [`readiness`]: `wasi:io/poll` that keeps socket readiness fresh in busy guests;
//! - [`sockets`]: this host's own `wasi:sockets` TCP and UDP, over direct system calls;
//! - [`stdio`]: stdout and stderr passed through without blocking the instance's thread.
//!
//! The `luasocket-wasi` command line (`src/main.rs`) is one user of this library.

pub mod cache;
pub mod component;
pub mod files;
pub mod handles;
pub mod instance;
pub mod limits;
pub mod lookup;
pub mod policy;
pub mod readiness;
pub mod runtime;
pub mod sockets;
pub mod stdio;
pub mod value;

/// Host bindings for the component's exports, generated from `wit/`.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "luasocket",
        path: "../wit",
        exports: { default: async },
    });
}

pub use bindings::exports::luasocket::socket::lua::{Failure, Invocation};
pub use instance::{CallError, Instance, Outcome, Plugin};
pub use limits::{Limit, Limits};
pub use policy::{NetPolicy, Rule};
pub use runtime::{Pool, Preopen, RunResult, Runtime, RuntimeOptions, Sandbox};
pub use value::LuaValue;
