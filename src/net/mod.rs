//! The socket core: LuaSocket's semantics over wasi:sockets and wasi:io/poll, with no Lua
//! and no WIT types in it. Layers, bottom up: `timeout` and `poll` (deadlines and waiting),
//! `buffer` (receive patterns), `addr` (addresses and resolution), `options`, `id`, then
//! the sockets (`tcp` and `udp`; a connected TCP socket is a `connection`, and `closing`
//! parks those still sending), `dns`, `select` over any of them, and `tls` over a TCP
//! connection.

#![forbid(unsafe_code)]

pub mod addr;
pub mod buffer;
pub mod closing;
pub mod connection;
pub mod dns;
pub mod error;
#[cfg(feature = "handler-world")]
pub mod http;
pub mod id;
pub mod options;
pub mod poll;
pub mod select;
pub mod tcp;
pub mod timeout;
pub mod tls;
pub mod udp;

pub use error::{NetError, NetResult};
