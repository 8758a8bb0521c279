//! `wasi:sockets` TCP and UDP implemented by this host, over non-blocking system calls.
//!
//! wasmtime-wasi's implementation serves any guest through tokio's sockets, and for this
//! one it showed: readiness inferred from an edge-triggered driver that only turns when
//! the guest waits, writes finished by background tasks (so a non-blocking `send` often
//! took nothing), read buffers zero-filled on every call, a 64 KiB zero-filled buffer per
//! datagram and a check-send permit reset after each. Here every operation is the system
//! call native LuaSocket makes, at the moment the guest asks (see `fd`); tokio is used
//! only to wait. The guest is unchanged and stays a standard WASI 0.2 component; the
//! network policy is checked in one place (`NetPolicy::check`) on every path.
//!
//! `Runtime` uses this by default; `SocketsImpl::Wasmtime` switches back to
//! wasmtime-wasi's, so the two can be measured side by side.

mod address;
mod fd;
pub mod kernel_round;
mod stream;
mod tcp;
mod udp;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode};

use crate::handles::SocketCount;
use crate::policy::NetPolicy;

pub use tcp::TcpSocket;
pub use udp::{IncomingDatagrams, OutgoingDatagrams, UdpSocket};

/// Which `wasi:sockets` implementation an instance gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SocketsImpl {
    /// This host's own (this module).
    #[default]
    Host,
    /// wasmtime-wasi's.
    Wasmtime,
}

impl SocketsImpl {
    /// From `LUASOCKET_WASI_SOCKETS` (`wasmtime` or `host`), for the CLI and benchmarks.
    pub fn from_env() -> SocketsImpl {
        match std::env::var("LUASOCKET_WASI_SOCKETS").as_deref() {
            Ok("wasmtime") => SocketsImpl::Wasmtime,
            _ => SocketsImpl::Host,
        }
    }
}

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "luasocket-wasi:host/sockets",
        imports: { default: trappable },
        trappable_error_type: {
            "wasi:sockets/network.error-code" => wasmtime_wasi::p2::SocketError,
        },
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:sockets/network": wasmtime_wasi::p2::bindings::sockets::network,
            "wasi:sockets/tcp.tcp-socket": super::TcpSocket,
            "wasi:sockets/udp.udp-socket": super::UdpSocket,
            "wasi:sockets/udp.incoming-datagram-stream": super::IncomingDatagrams,
            "wasi:sockets/udp.outgoing-datagram-stream": super::OutgoingDatagrams,
        },
        require_store_data_send: true,
    });
}

/// What the implementation works on: the instance's resource table, its policy and its
/// socket count.
pub struct SocketsView<'a> {
    pub table: &'a mut ResourceTable,
    pub policy: &'a NetPolicy,
    pub count: &'a mut SocketCount,
}

impl SocketsView<'_> {
    /// Counts a new socket against the instance's limit.
    fn may_open(&mut self) -> bool {
        self.count.may_open(self.table, |entry| {
            TcpSocket::is_socket(entry) || UdpSocket::is_socket(entry)
        })
    }
}

// The generated interfaces turn a `SocketError` into wasi's code through `network`.
impl network::Host for SocketsView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        error.downcast()
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        let err = self.table.get(&err)?;
        Ok(err
            .downcast_ref::<std::io::Error>()
            .and_then(rustix::io::Errno::from_io_error)
            .map(address::errno_code))
    }
}

impl network::HostNetwork for SocketsView<'_> {
    fn drop(&mut self, this: Resource<network::Network>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

struct Sockets;

impl HasData for Sockets {
    type Data<'a> = SocketsView<'a>;
}

/// Installs the four interfaces over wasmtime-wasi's (which `linker` must hold already,
/// with shadowing allowed): the `network` interface and name lookup stay wasmtime-wasi's.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SocketsView<'_>,
) -> wasmtime::Result<()> {
    use bindings::wasi::sockets as wasi;
    wasi::tcp::add_to_linker::<T, Sockets>(linker, view)?;
    wasi::tcp_create_socket::add_to_linker::<T, Sockets>(linker, view)?;
    wasi::udp::add_to_linker::<T, Sockets>(linker, view)?;
    wasi::udp_create_socket::add_to_linker::<T, Sockets>(linker, view)?;
    Ok(())
}
