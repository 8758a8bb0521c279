//! The socket core: LuaSocket's semantics over wasi:sockets and wasi:io/poll, with no Lua
//! and no WIT types in it. Layers, bottom up: `timeout` and `poll` (deadlines and waiting),
//! `buffer` (receive patterns), `addr` (addresses and resolution), `options`, `id`, then
//! the sockets (`tcp`, `udp`), `dns`, `select` over any of them, and `tls` over a TCP connection.

pub mod addr;
pub mod buffer;
pub mod closing;
pub mod dns;
pub mod error;
pub mod id;
pub mod options;
pub mod poll;
pub mod select;
pub mod tcp;
pub mod timeout;
pub mod tls;
pub mod udp;

pub use error::{NetError, NetResult};
