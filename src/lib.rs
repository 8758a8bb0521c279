//! luasocket-wasi, the guest: Lua 5.4 with LuaSocket, as a WebAssembly component.
//!
//! - [`net`]: the socket core, LuaSocket's semantics over wasi:sockets.
//! - [`lua`]: the Lua face of the core (`require "socket"`).
//! - [`runner`]: Lua states and running chunks; [`cli`]: the `wasi:cli/run` command.
//! - this file: the WIT exports, a thin layer over the above.

pub mod cli;
pub mod lua;
pub mod net;
pub mod runner;

/// What `-v` and embedders report.
pub const VERSION: &str = concat!(
    "luasocket-wasi ",
    env!("CARGO_PKG_VERSION"),
    " (LuaSocket 3.1.0)"
);

wit_bindgen::generate!({
    world: "luasocket",
    path: "wit",
    generate_all,
});

use exports::luasocket::socket::lua as wit_lua;

struct Component;

impl wit_lua::Guest for Component {
    fn run(inv: wit_lua::Invocation) -> Result<wit_lua::Completion, wit_lua::Failure> {
        let inv = runner::Invocation {
            chunk_name: inv.chunk_name,
            source: inv.source,
            args: inv.args,
            arg_table: inv.arg_table,
        };
        let completion = runner::run(inv).map_err(|f| match f {
            runner::Failure::Syntax(m) => wit_lua::Failure::Syntax(m),
            runner::Failure::Runtime(m) => wit_lua::Failure::Runtime(m),
            runner::Failure::OutOfMemory(m) => wit_lua::Failure::OutOfMemory(m),
        })?;
        Ok(match completion {
            runner::Completion::Returned(values) => wit_lua::Completion::Returned(values),
            runner::Completion::Exited(code) => wit_lua::Completion::Exited(code),
        })
    }
}

impl exports::wasi::cli::run::Guest for Component {
    fn run() -> Result<(), ()> {
        if cli::main(wasip2::cli::environment::get_arguments()) {
            Ok(())
        } else {
            Err(())
        }
    }
}

export!(Component);
