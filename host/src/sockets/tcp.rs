//! `wasi:sockets/tcp`: a socket's life (unbound → bound → listening, or → connecting →
//! connected) as the 0.2 interface describes it, each step the system call it stands for.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::net::sockopt;
use rustix::net::{SocketFlags, SocketType};
use wasmtime::component::Resource;
use wasmtime_wasi::p2::SocketResult;
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use super::SocketsView;
use super::address::{
    Family, code, errno_code, fits_family, from_any, is_remote, is_unicast, new_socket,
};
use super::bindings::wasi::sockets::tcp::{HostTcpSocket, ShutdownType};
use super::bindings::wasi::sockets::{tcp, tcp_create_socket};
use super::fd::{Direction, SocketFd, ready_now};
use super::kernel_round::socket_ready;
use super::stream::{TcpReader, TcpWriter, WriteSide};

/// What `listen` uses unless told otherwise (as wasmtime-wasi).
const DEFAULT_BACKLOG: u32 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unbound,
    Bound,
    Connecting,
    Connected,
    Listening,
    /// A connect failed: the socket is done (wasi sockets connect once).
    Closed,
}

/// A `start-*` whose `finish-*` has not come yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Started {
    Bind,
    Connect,
    Listen,
}

pub struct TcpSocket {
    fd: Arc<SocketFd>,
    family: Family,
    state: State,
    started: Option<Started>,
    /// A connect that failed before `finish-connect` asked.
    connect_error: Option<ErrorCode>,
    backlog: u32,
    /// The send side of the streams, for `shutdown(send)`.
    send_side: Option<Arc<Mutex<WriteSide>>>,
}

impl TcpSocket {
    fn new(fd: OwnedFd, family: Family, state: State) -> SocketResult<TcpSocket> {
        Ok(TcpSocket {
            fd: Arc::new(SocketFd::new(fd).map_err(super::address::io_code)?),
            family,
            state,
            started: None,
            connect_error: None,
            backlog: DEFAULT_BACKLOG,
            send_side: None,
        })
    }

    /// Whether the descriptor is one of these (the socket count asks).
    pub fn is_socket(entry: &dyn std::any::Any) -> bool {
        entry.is::<TcpSocket>()
    }

    fn local(&self) -> Option<SocketAddr> {
        rustix::net::getsockname(self.fd.fd())
            .ok()
            .as_ref()
            .and_then(from_any)
    }

    /// Finishes a connect in progress if the kernel says it has: its streams, or its error.
    fn check_connect(&mut self) -> SocketResult<()> {
        if let Some(error) = self.connect_error.take() {
            self.state = State::Closed;
            return Err(error.into());
        }
        if !ready_now(&[(self.fd.fd(), Direction::Write)])[0] {
            return Err(ErrorCode::WouldBlock.into());
        }
        match sockopt::socket_error(self.fd.fd()) {
            Ok(Ok(())) => {
                self.state = State::Connected;
                Ok(())
            }
            Ok(Err(errno)) | Err(errno) => {
                self.state = State::Closed;
                Err(code(errno))
            }
        }
    }
}

fn ip_addr(addr: IpSocketAddress) -> SocketAddr {
    addr.into()
}

impl tcp::Host for SocketsView<'_> {}

impl tcp_create_socket::Host for SocketsView<'_> {
    fn create_tcp_socket(&mut self, family: IpAddressFamily) -> SocketResult<Resource<TcpSocket>> {
        if !self.may_open() {
            return Err(ErrorCode::NewSocketLimit.into());
        }
        let family = Family::from(family);
        let fd = new_socket(family, SocketType::STREAM)?;
        let socket = TcpSocket::new(fd, family, State::Unbound)?;
        Ok(self.table.push(socket)?)
    }
}

impl SocketsView<'_> {
    fn tcp(&mut self, socket: &Resource<TcpSocket>) -> SocketResult<&mut TcpSocket> {
        Ok(self.table.get_mut(socket)?)
    }

    /// The streams of a socket just connected or accepted, as children of its resource.
    fn streams(
        &mut self,
        socket: &Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let tcp = self.tcp(socket)?;
        let fd = Arc::clone(&tcp.fd);
        let (writer, send_side) = TcpWriter::new(Arc::clone(&fd));
        tcp.send_side = Some(send_side);
        let input: DynInputStream = Box::new(TcpReader::new(fd));
        let output: DynOutputStream = Box::new(writer);
        let input = self.table.push_child(input, socket)?;
        let output = self.table.push_child(output, socket)?;
        Ok((input, output))
    }

    fn allowed(&self, addr: SocketAddr, usage: SocketAddrUse) -> SocketResult<()> {
        if self.policy.check(addr, usage) {
            Ok(())
        } else {
            Err(ErrorCode::AccessDenied.into())
        }
    }
}

impl HostTcpSocket for SocketsView<'_> {
    fn start_bind(
        &mut self,
        this: Resource<TcpSocket>,
        _network: Resource<Network>,
        local: IpSocketAddress,
    ) -> SocketResult<()> {
        let addr = ip_addr(local);
        let tcp = self.tcp(&this)?;
        if tcp.state != State::Unbound || tcp.started.is_some() {
            return Err(ErrorCode::InvalidState.into());
        }
        if !is_unicast(addr.ip()) || !fits_family(addr.ip(), tcp.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.allowed(addr, SocketAddrUse::TcpBind)?;
        let tcp = self.tcp(&this)?;
        // As wasmtime-wasi (and every server): a restarted listener may reuse its port. At
        // bind, not at creation: a client socket that only connects needs no system call
        // for it.
        sockopt::set_socket_reuseaddr(tcp.fd.fd(), true).map_err(code)?;
        rustix::net::bind(tcp.fd.fd(), &addr).map_err(|e| match e {
            // The address is not one of this machine's.
            rustix::io::Errno::ADDRNOTAVAIL => ErrorCode::AddressNotBindable.into(),
            other => code(other),
        })?;
        tcp.started = Some(Started::Bind);
        Ok(())
    }

    fn finish_bind(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let tcp = self.tcp(&this)?;
        if tcp.started != Some(Started::Bind) {
            return Err(ErrorCode::NotInProgress.into());
        }
        tcp.started = None;
        tcp.state = State::Bound;
        Ok(())
    }

    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        _network: Resource<Network>,
        remote: IpSocketAddress,
    ) -> SocketResult<()> {
        let addr = ip_addr(remote);
        let tcp = self.tcp(&this)?;
        if !matches!(tcp.state, State::Unbound | State::Bound) || tcp.started.is_some() {
            return Err(ErrorCode::InvalidState.into());
        }
        if !is_unicast(addr.ip()) || !is_remote(addr) || !fits_family(addr.ip(), tcp.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let (family, unbound) = (tcp.family, tcp.state == State::Unbound);
        // The implicit bind the kernel is about to make needs allowing too.
        if unbound {
            self.allowed(family.unspecified(), SocketAddrUse::TcpBind)?;
        }
        self.allowed(addr, SocketAddrUse::TcpConnect)?;
        let tcp = self.tcp(&this)?;
        tcp.started = Some(Started::Connect);
        tcp.state = State::Connecting;
        match rustix::net::connect(tcp.fd.fd(), &addr) {
            Ok(()) | Err(rustix::io::Errno::INPROGRESS) => {}
            // Reported by finish-connect, where wasi reports connect failures.
            Err(errno) => tcp.connect_error = Some(errno_code(errno)),
        }
        Ok(())
    }

    fn finish_connect(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let tcp = self.tcp(&this)?;
        if tcp.started != Some(Started::Connect) {
            return Err(ErrorCode::NotInProgress.into());
        }
        match tcp.check_connect() {
            Err(e) if matches!(e.downcast_ref(), Some(ErrorCode::WouldBlock)) => return Err(e),
            done => {
                tcp.started = None;
                done?;
            }
        }
        self.streams(&this)
    }

    fn start_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let tcp = self.tcp(&this)?;
        if tcp.state != State::Bound || tcp.started.is_some() {
            return Err(ErrorCode::InvalidState.into());
        }
        let local = tcp.local().ok_or(ErrorCode::InvalidState)?;
        self.allowed(local, SocketAddrUse::TcpListen)?;
        let tcp = self.tcp(&this)?;
        rustix::net::listen(tcp.fd.fd(), backlog_arg(tcp.backlog)).map_err(code)?;
        tcp.started = Some(Started::Listen);
        Ok(())
    }

    fn finish_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let tcp = self.tcp(&this)?;
        if tcp.started != Some(Started::Listen) {
            return Err(ErrorCode::NotInProgress.into());
        }
        tcp.started = None;
        tcp.state = State::Listening;
        Ok(())
    }

    fn accept(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(
        Resource<TcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        if self.tcp(&this)?.state != State::Listening {
            return Err(ErrorCode::InvalidState.into());
        }
        // Counted first: past the limit the connection stays queued in the kernel.
        if !self.may_open() {
            return Err(ErrorCode::NewSocketLimit.into());
        }
        let (fd, family) = loop {
            let tcp = self.tcp(&this)?;
            let family = tcp.family;
            let accepted = tcp.fd.attempt(Direction::Read, |fd| {
                rustix::net::acceptfrom_with(fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
                    .map_err(std::io::Error::from)
            });
            let (fd, peer) = accepted.map_err(super::address::io_code)?;
            match peer.as_ref().and_then(from_any) {
                Some(peer) if self.policy.check(peer, SocketAddrUse::TcpAccept) => {
                    break (fd, family);
                }
                // Refused peers are reset and the next one is taken, as wasmtime-wasi does.
                _ => reset(fd),
            }
        };
        let socket = TcpSocket::new(fd, family, State::Connected)?;
        let socket = self.table.push(socket)?;
        let (input, output) = self.streams(&socket)?;
        Ok((socket, input, output))
    }

    fn local_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        let tcp = self.tcp(&this)?;
        if tcp.state == State::Unbound && tcp.started != Some(Started::Bind) {
            return Err(ErrorCode::InvalidState.into());
        }
        tcp.local()
            .map(Into::into)
            .ok_or_else(|| ErrorCode::InvalidState.into())
    }

    fn remote_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        let tcp = self.tcp(&this)?;
        if tcp.state != State::Connected {
            return Err(ErrorCode::InvalidState.into());
        }
        let peer = rustix::net::getpeername(tcp.fd.fd()).map_err(code)?;
        peer.as_ref()
            .and_then(from_any)
            .map(Into::into)
            .ok_or_else(|| ErrorCode::InvalidState.into())
    }

    fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&this)?.state == State::Listening)
    }

    fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family.into())
    }

    fn set_listen_backlog_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let tcp = self.tcp(&this)?;
        let backlog = u32::try_from(value)
            .unwrap_or(u32::MAX)
            .min(i32::MAX as u32);
        match tcp.state {
            State::Listening => {
                // Linux takes a new backlog on a listening socket.
                rustix::net::listen(tcp.fd.fd(), backlog_arg(backlog)).map_err(code)?;
            }
            State::Unbound | State::Bound => {}
            _ => return Err(ErrorCode::InvalidState.into()),
        }
        tcp.backlog = backlog;
        Ok(())
    }

    fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> SocketResult<bool> {
        sockopt::socket_keepalive(self.tcp(&this)?.fd.fd()).map_err(code)
    }

    fn set_keep_alive_enabled(
        &mut self,
        this: Resource<TcpSocket>,
        value: bool,
    ) -> SocketResult<()> {
        sockopt::set_socket_keepalive(self.tcp(&this)?.fd.fd(), value).map_err(code)
    }

    fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        let d = sockopt::tcp_keepidle(self.tcp(&this)?.fd.fd()).map_err(code)?;
        Ok(nanos(d))
    }

    fn set_keep_alive_idle_time(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        let d = keepalive_duration(value)?;
        sockopt::set_tcp_keepidle(self.tcp(&this)?.fd.fd(), d).map_err(code)
    }

    fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        let d = sockopt::tcp_keepintvl(self.tcp(&this)?.fd.fd()).map_err(code)?;
        Ok(nanos(d))
    }

    fn set_keep_alive_interval(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        let d = keepalive_duration(value)?;
        sockopt::set_tcp_keepintvl(self.tcp(&this)?.fd.fd(), d).map_err(code)
    }

    fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> SocketResult<u32> {
        sockopt::tcp_keepcnt(self.tcp(&this)?.fd.fd()).map_err(code)
    }

    fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        // Linux refuses more than 127 probes; wasi says to clamp.
        sockopt::set_tcp_keepcnt(self.tcp(&this)?.fd.fd(), value.min(127)).map_err(code)
    }

    fn hop_limit(&mut self, this: Resource<TcpSocket>) -> SocketResult<u8> {
        let tcp = self.tcp(&this)?;
        hop_limit(&tcp.fd, tcp.family)
    }

    fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        let tcp = self.tcp(&this)?;
        set_hop_limit(&tcp.fd, tcp.family, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        receive_buffer_size(&self.tcp(&this)?.fd)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        set_receive_buffer_size(&self.tcp(&this)?.fd, value)
    }

    fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        send_buffer_size(&self.tcp(&this)?.fd)
    }

    fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        set_send_buffer_size(&self.tcp(&this)?.fd, value)
    }

    fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn shutdown(&mut self, this: Resource<TcpSocket>, how: ShutdownType) -> SocketResult<()> {
        let tcp = self.tcp(&this)?;
        if tcp.state != State::Connected {
            return Err(ErrorCode::InvalidState.into());
        }
        if matches!(how, ShutdownType::Receive | ShutdownType::Both) {
            rustix::net::shutdown(tcp.fd.fd(), rustix::net::Shutdown::Read).map_err(code)?;
        }
        if matches!(how, ShutdownType::Send | ShutdownType::Both) {
            // After what the output stream still holds.
            match &tcp.send_side {
                Some(side) => side.lock().unwrap_or_else(|e| e.into_inner()).shutdown(),
                None => rustix::net::shutdown(tcp.fd.fd(), rustix::net::Shutdown::Write)
                    .map_err(code)?,
            }
        }
        Ok(())
    }

    fn drop(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Pollable for TcpSocket {
    /// Ready when `accept` or `finish-connect` has an answer; in every other state at
    /// once, as wasi says (there is nothing to wait for).
    async fn ready(&mut self) {
        let direction = match self.state {
            State::Listening => Direction::Read,
            State::Connecting if self.connect_error.is_none() => Direction::Write,
            _ => return,
        };
        socket_ready(&self.fd, direction).await
    }
}

fn backlog_arg(backlog: u32) -> i32 {
    i32::try_from(backlog).unwrap_or(i32::MAX)
}

/// Closes an accepted connection the policy refuses with a reset, not an orderly close:
/// the peer learns at once that it was not served.
fn reset(fd: OwnedFd) {
    let _ = sockopt::set_socket_linger(&fd, Some(Duration::ZERO));
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A keep-alive time as wasi gives it (nanoseconds): at least a second, as the kernel
/// counts in seconds, and 0 is invalid.
fn keepalive_duration(ns: u64) -> SocketResult<Duration> {
    if ns == 0 {
        return Err(ErrorCode::InvalidArgument.into());
    }
    let secs = ns.div_ceil(1_000_000_000).clamp(1, i16::MAX as u64);
    Ok(Duration::from_secs(secs))
}

pub(super) fn hop_limit(fd: &SocketFd, family: Family) -> SocketResult<u8> {
    match family {
        Family::V4 => {
            let ttl = sockopt::ip_ttl(fd.fd()).map_err(code)?;
            u8::try_from(ttl).map_err(|_| ErrorCode::NotSupported.into())
        }
        Family::V6 => sockopt::ipv6_unicast_hops(fd.fd()).map_err(code),
    }
}

pub(super) fn set_hop_limit(fd: &SocketFd, family: Family, value: u8) -> SocketResult<()> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument.into());
    }
    match family {
        Family::V4 => sockopt::set_ip_ttl(fd.fd(), value.into()),
        Family::V6 => sockopt::set_ipv6_unicast_hops(fd.fd(), Some(value)),
    }
    .map_err(code)
}

// Linux reports twice what was set (it counts its bookkeeping); wasi wants the figure
// back in the terms it was given, as wasmtime-wasi halves it.
pub(super) fn receive_buffer_size(fd: &SocketFd) -> SocketResult<u64> {
    let n = sockopt::socket_recv_buffer_size(fd.fd()).map_err(code)?;
    Ok((n / 2) as u64)
}

pub(super) fn send_buffer_size(fd: &SocketFd) -> SocketResult<u64> {
    let n = sockopt::socket_send_buffer_size(fd.fd()).map_err(code)?;
    Ok((n / 2) as u64)
}

pub(super) fn set_receive_buffer_size(fd: &SocketFd, value: u64) -> SocketResult<()> {
    let size = buffer_size(value)?;
    ignore_nobufs(sockopt::set_socket_recv_buffer_size(fd.fd(), size))
}

pub(super) fn set_send_buffer_size(fd: &SocketFd, value: u64) -> SocketResult<()> {
    let size = buffer_size(value)?;
    ignore_nobufs(sockopt::set_socket_send_buffer_size(fd.fd(), size))
}

fn buffer_size(value: u64) -> SocketResult<usize> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument.into());
    }
    Ok(usize::try_from(value)
        .unwrap_or(usize::MAX)
        .clamp(1, i32::MAX as usize))
}

/// Buffer sizes are hints: a size the kernel cannot give is not an error (wasi, and
/// wasmtime-wasi, treat them so).
fn ignore_nobufs(result: rustix::io::Result<()>) -> SocketResult<()> {
    match result {
        Ok(()) | Err(rustix::io::Errno::NOBUFS) => Ok(()),
        Err(e) => Err(code(e)),
    }
}
