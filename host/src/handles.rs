//! The per-instance limit on sockets and host handles.
//!
//! Every socket a script holds is a host descriptor, and every socket, stream, pollable or
//! open file is an entry in the instance's resource table. Without a limit one script
//! could take all of the host process's descriptors, failing every other instance.
//!
//! Two layers:
//! - sockets: creating one (`create-tcp-socket`, `create-udp-socket`) or accepting one
//!   (`tcp-socket.accept`) past the limit fails with wasi's `new-socket-limit`, which the
//!   script sees as LuaSocket's `nil, "too many open files"`. These three functions are
//!   shadowed in the linker, in front of wasmtime-wasi's own;
//! - handles: the resource table's capacity is bounded too (a few entries per allowed
//!   socket, plus room for files and the rest). Should anything fill it, wasmtime-wasi
//!   traps, and the run ends with the handle limit named (`Limit::Handles`).

use std::any::Any;

use wasmtime::component::{Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
use wasmtime_wasi::p2::bindings::sockets::tcp::HostTcpSocket;
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket::Host as TcpCreate;
use wasmtime_wasi::p2::bindings::sockets::udp_create_socket::Host as UdpCreate;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, SocketError, TcpSocket, UdpSocket};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

/// Sockets one instance may hold at once unless its limits say otherwise.
pub const DEFAULT_MAX_SOCKETS: usize = 16_384;

/// Resource-table entries allowed per socket: the socket, its two streams and the
/// pollables the guest keeps on them, and one more while `select` waits on it.
const HANDLES_PER_SOCKET: usize = 8;

/// Resource-table entries for everything that is not a socket: stdio, preopened and
/// opened files, name lookups, clocks' pollables.
const OTHER_HANDLES: usize = 4096;

/// The resource-table capacity that goes with a socket limit.
pub fn table_capacity(max_sockets: usize) -> usize {
    max_sockets
        .saturating_mul(HANDLES_PER_SOCKET)
        .saturating_add(OTHER_HANDLES)
}

/// Counts the sockets an instance holds, cheaply: the table is only scanned when the
/// sockets opened since the last scan could have reached the limit.
#[derive(Debug)]
pub struct SocketCount {
    limit: Option<usize>,
    live_at_scan: usize,
    opened_since: usize,
}

impl SocketCount {
    pub fn new(limit: Option<usize>) -> SocketCount {
        SocketCount {
            limit,
            live_at_scan: 0,
            opened_since: 0,
        }
    }

    /// Whether one more socket may be opened; if so, it is counted. `is_socket` tells
    /// the sockets in `table` apart: each wasi:sockets implementation knows its own.
    pub fn may_open(&mut self, table: &mut ResourceTable, is_socket: fn(&dyn Any) -> bool) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        if self.live_at_scan + self.opened_since >= limit {
            self.live_at_scan = table.iter_mut().filter(|e| is_socket(&**e)).count();
            self.opened_since = 0;
            if self.live_at_scan >= limit {
                return false;
            }
        }
        self.opened_since += 1;
        true
    }
}

/// wasmtime-wasi's sockets.
fn is_wasmtime_socket(entry: &dyn Any) -> bool {
    entry.is::<TcpSocket>() || entry.is::<UdpSocket>()
}

/// Whether a failed call failed because the resource table was full.
pub fn is_table_full(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|e| matches!(e.downcast_ref(), Some(ResourceTableError::Full)))
}

/// What the shadowing functions need from the store's data.
pub struct Counted<'a> {
    pub count: &'a mut SocketCount,
    pub sockets: WasiSocketsCtxView<'a>,
}

type Accepted = (
    Resource<TcpSocket>,
    Resource<DynInputStream>,
    Resource<DynOutputStream>,
);

/// wasi's result for a socket call: the error code, or a trap.
fn code<T>(result: Result<T, SocketError>) -> wasmtime::Result<(Result<T, ErrorCode>,)> {
    match result {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(e.downcast()?),)),
    }
}

const TCP_CREATE: &str = "wasi:sockets/tcp-create-socket@0.2.12";
const UDP_CREATE: &str = "wasi:sockets/udp-create-socket@0.2.12";
const TCP: &str = "wasi:sockets/tcp@0.2.12";

/// Shadows socket creation and accept with counting versions. `linker` must hold
/// wasmtime-wasi's interfaces already, with shadowing allowed.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> Counted<'_>,
) -> wasmtime::Result<()> {
    linker.instance(TCP_CREATE)?.func_wrap(
        "create-tcp-socket",
        move |mut store, (family,): (IpAddressFamily,)| {
            let Counted { count, mut sockets } = view(store.data_mut());
            if !count.may_open(sockets.table, is_wasmtime_socket) {
                return Ok((Err(ErrorCode::NewSocketLimit),));
            }
            code(TcpCreate::create_tcp_socket(&mut sockets, family))
        },
    )?;
    linker.instance(UDP_CREATE)?.func_wrap_async(
        "create-udp-socket",
        move |mut store, (family,): (IpAddressFamily,)| {
            Box::new(async move {
                let Counted { count, mut sockets } = view(store.data_mut());
                if !count.may_open(sockets.table, is_wasmtime_socket) {
                    return Ok((Err(ErrorCode::NewSocketLimit),));
                }
                code(UdpCreate::create_udp_socket(&mut sockets, family).await)
            })
        },
    )?;
    linker.instance(TCP)?.func_wrap(
        "[method]tcp-socket.accept",
        move |mut store, (this,): (Resource<TcpSocket>,)| -> wasmtime::Result<_> {
            let Counted { count, mut sockets } = view(store.data_mut());
            if !count.may_open(sockets.table, is_wasmtime_socket) {
                return Ok((Err::<Accepted, _>(ErrorCode::NewSocketLimit),));
            }
            code(HostTcpSocket::accept(&mut sockets, this))
        },
    )?;
    Ok(())
}
