//! luasocket-wasi, the guest: Lua 5.4 with LuaSocket, as a WebAssembly component.
//!
//! - [`net`]: the socket core, LuaSocket's semantics over wasi:sockets.
//! - [`lua`]: the Lua face of the core (`require "socket"`), and of [`mime`].
//! - [`mime`]: MIME's low-level codecs (base64, quoted-printable, line wrapping).
//! - `wit`: the WIT face of the same core (the exported interfaces).
//! - [`runner`]: Lua states and running chunks; [`interactive`]: the read-eval-print
//!   loop's input; [`cli`]: the `wasi:cli/run` command.
//! - `handler`: the handler world's `wasi:http/incoming-handler`, a WSAPI app per
//!   request; `bundle`: where that app and its modules come from.
//! - `world`: what differs between the worlds the crate builds into.
//! - [`watch`]: the host's interrupt, watched by the core's waits during an `eval`.
//!
//! `unsafe` code is only in the Lua bindings (Lua's C API), the runner and the REPL that
//! drive it, and `watch`; `net` and `wit` forbid it, and every `unsafe` block says why
//! it is sound (`SAFETY:`).

#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "handler-world")]
mod bundle;
pub mod cli;
#[cfg(feature = "handler-world")]
mod handler;
pub mod interactive;
pub mod lua;
pub mod mime;
pub mod net;
pub mod runner;
pub mod watch;
mod wit;
mod world;

/// What `-v` and embedders report.
pub const VERSION: &str = concat!(
    "luasocket-wasi ",
    env!("CARGO_PKG_VERSION"),
    " (LuaSocket 3.1.0)"
);

/// The bindings of one world: the cargo feature picks which (see `world`). Types of the
/// same shape are one Rust type: the `host` import's value graph is `lua`'s, so one
/// conversion serves both directions.
macro_rules! bind_world {
    ($world:tt $(, $interface:tt => $module:path)*) => {
        wit_bindgen::generate!({
            world: $world,
            path: "wit",
            merge_structurally_equal_types: true,
            // wasi types are the very types the wasip2 crate binds: `eval` takes its
            // pollable, the handler its HTTP requests.
            with: { "wasi:io/poll@0.2.12": wasip2::io::poll $(, $interface: $module)* },
            generate_all,
        });
    };
}

#[cfg(not(any(feature = "plugin-world", feature = "handler-world")))]
bind_world!("luasocket");
#[cfg(feature = "plugin-world")]
bind_world!("plugin");
#[cfg(feature = "handler-world")]
bind_world!(
    "handler",
    "wasi:io/error@0.2.12" => wasip2::io::error,
    "wasi:io/streams@0.2.12" => wasip2::io::streams,
    "wasi:clocks/monotonic-clock@0.2.12" => wasip2::clocks::monotonic_clock,
    "wasi:http/types@0.2.12" => wasip2::http::types,
    "wasi:http/outgoing-handler@0.2.12" => wasip2::http::outgoing_handler
);

use wit::Component;

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
