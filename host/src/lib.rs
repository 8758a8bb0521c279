//! luasocket-wasi, the host: runs the component under wasmtime, in a sandbox.
//!
//! - [`policy`]: what a script may reach on the network;
//! - [`runtime`]: the engine and compiled component, making sandboxed instances;
//! - [`instance`]: one instance: runs, plugins, direct use of the socket resources;
//! - [`state`]: what each instance's store holds (wasi context, policy, meters);
//! - [`serve`]: HTTP requests answered by a Lua app (the handler world), one instance each;
//! - [`bundle`]: the app's files, as the handler world's `bundle` import gives them;
//! - [`package`]: an app packed into one component for any `wasi:http` host (`build`);
//! - [`session`]: one Lua state for a command line's steps and typed input (the REPL);
//! - [`limits`]: memory, CPU, wall-clock and socket limits;
//! - [`handles`]: counting sockets and host handles;
//! - [`files`]: file opens that cannot block (regular files and directories only);
//! - [`value`]: Lua values crossing to the host;
//! - [`functions`]: host functions, which Lua calls (the plugin world's `host` import);
//! - [`typed`]: host functions as plain Rust closures, their parameters and results
//!   converted from and to Lua values;
//! - [`cache`]: the compiled-code cache;
//! - [`lookup`]: name lookup filtered by the policy;
//! - `outgoing`: the handler world's outgoing HTTP, under the same policy;
//! - [`readiness`]: `wasi:io/poll` that keeps socket readiness fresh in busy guests;
//! - [`sockets`]: this host's own `wasi:sockets` TCP and UDP, over direct system calls;
//! - [`stdio`]: stdout and stderr passed through without blocking the instance's thread.
//!
//! The `luasocket-wasi` command line (`src/main.rs`) is one user of this library.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod bundle;
pub mod cache;
pub mod component;
pub mod files;
pub mod functions;
pub mod handles;
#[macro_use]
pub mod instance;
pub mod limits;
pub mod lookup;
mod outgoing;
pub mod package;
pub mod policy;
pub mod readiness;
pub mod runtime;
pub mod serve;
pub mod session;
pub mod sockets;
pub mod state;
pub mod stdio;
pub mod typed;
pub mod value;

/// Host bindings for the component's exports, generated from `wit/`.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "luasocket",
        path: "../wit",
        exports: { default: async },
        // `state.eval` takes a pollable: wasmtime-wasi's own, from its resource table.
        with: { "wasi:io/poll": wasmtime_wasi_io::bindings::wasi::io::poll },
    });
}

pub use bindings::exports::luasocket::socket::lua::{Failure, Invocation};
pub use component::World;
pub use functions::{HostError, HostFunctions, HostPanic};
pub use instance::{CallError, Instance, Outcome, Plugin};
pub use limits::{Interruption, Limit, Limits};
pub use policy::{NetPolicy, Rule};
pub use runtime::{Pool, Preopen, RunResult, Runtime, RuntimeOptions, Sandbox};
pub use session::{Interrupt, Session};
pub use value::{Graph, LuaValue};
