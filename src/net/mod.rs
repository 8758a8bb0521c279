//! The socket core: LuaSocket's semantics over wasi:sockets and wasi:io/poll, with no Lua
//! and no WIT types in it. Layers, bottom up: `timeout` and `poll` (deadlines and waiting),
//! `buffer` (receive patterns), `addr` (addresses and resolution), then the sockets.

pub mod addr;
pub mod buffer;
pub mod closing;
pub mod error;
pub mod poll;
pub mod tcp;
pub mod timeout;

pub use error::{NetError, NetResult};
