//! A LuaSocket UDP object over wasi:sockets/udp: unconnected (`sendto`, `receivefrom`)
//! or connected to one peer (`send`, `receive`), switching with `setpeername`.
//!
//! As with TCP, the wasi socket is created once the family is known. wasi needs a bound
//! socket before it hands out datagram streams, so the first send binds implicitly to an
//! ephemeral port, as BSD does. Changing the peer replaces the streams, the old ones
//! dropped first (wasi traps on two live pairs).

use std::cell::Cell;
use std::net::SocketAddr;

use wasip2::io::poll::Pollable;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily};
use wasip2::sockets::udp::{
    IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream, UdpSocket,
};
use wasip2::sockets::udp_create_socket::create_udp_socket;

use super::addr::{self, Family, with_network};
use super::error::{NetError, NetResult};
use super::id;
use super::options::{self, OptValue, OptionTarget, Refusal, Remembered, SockOpt};
use super::poll::{now_ns, wait};
use super::select::{Interest, Selectable};
use super::timeout::{Deadline, Timeout};

/// LuaSocket's `_DATAGRAMSIZE`: what `receive()` reads without a size.
pub const DATAGRAM_SIZE: usize = 8192;

/// Largest datagram over IPv4 / what wasi accepts.
pub const MAX_DATAGRAM: usize = 65535;

/// How long replacing the streams waits for the host to let go of the socket after a
/// receive that found nothing (one tick of the host's timer suffices).
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Unconnected,
    Connected,
}

/// The datagram streams of a bound socket; drop order as wasi requires.
struct Streams {
    readable: Pollable,
    writable: Pollable,
    incoming: IncomingDatagramStream,
    outgoing: OutgoingDatagramStream,
    /// A receive found nothing, or `select` waited for a datagram. wasmtime-wasi then
    /// keeps reading in a background task that shares the socket; dropping the stream only
    /// cancels that task, and until the host has run the cancellation, `stream()` on the
    /// socket traps ("`connect` needs exclusive access"). See [`Udp::open_streams`].
    reading_behind: Cell<bool>,
}

/// A received datagram.
pub struct Datagram {
    pub data: Vec<u8>,
    pub from: SocketAddr,
}

pub struct Udp {
    // Streams before the socket: fields drop in declaration order.
    streams: Option<Streams>,
    socket: Option<UdpSocket>,
    family: Option<Family>,
    peer: Option<SocketAddr>,
    closed: bool,
    /// Whether the object has a descriptor (see [`Udp::fd`]).
    has_fd: bool,
    pub timeout: Timeout,
    options: Remembered,
    id: i64,
}

impl Udp {
    /// A new unconnected object; `family` None defers the choice to the first address.
    pub fn new(family: Option<Family>) -> NetResult<Udp> {
        let socket = family
            .map(|f| create(f, &Remembered::default()))
            .transpose()?;
        Ok(Udp {
            streams: None,
            socket,
            family,
            peer: None,
            closed: false,
            has_fd: false,
            timeout: Timeout::default(),
            options: Remembered::default(),
            id: id::next(),
        })
    }

    pub fn class(&self) -> Class {
        if self.peer.is_some() {
            Class::Connected
        } else {
            Class::Unconnected
        }
    }

    pub fn family(&self) -> Option<Family> {
        self.family
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The descriptor number `getfd` reports: `id::INVALID` once closed, and before an
    /// object without a family has a socket (LuaSocket creates it on first use) or a
    /// number from `setfd`.
    pub fn fd(&self) -> i64 {
        if self.closed || !(self.has_fd || self.socket.is_some()) {
            id::INVALID
        } else {
            self.id
        }
    }

    /// The number this object's descriptor has, or will have once it has a socket:
    /// what `select` finds it by when a wrapper's `getfd` names it.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// `setfd`: as for TCP, only what `getfd` reports changes; `_SOCKETINVALID` closes.
    pub fn set_fd(&mut self, fd: i64) {
        if fd == id::INVALID {
            self.close();
        } else {
            self.id = fd;
            self.has_fd = true;
        }
    }

    /// The deadline of one call. UDP calls report no elapsed time, so the clock is read
    /// only for a total limit: most datagrams cost one host call fewer.
    pub fn deadline(&self) -> Deadline {
        self.timeout.start(false)
    }

    /// The wasi socket of `family`, created now if need be.
    fn socket_for(&mut self, family: Family) -> NetResult<&UdpSocket> {
        if self.closed {
            return Err(NetError::Closed);
        }
        if self.family.is_some_and(|f| f != family) {
            return Err(NetError::FamilyNotSupported);
        }
        if self.socket.is_none() {
            self.socket = Some(create(family, &self.options)?);
            self.family = Some(family);
        }
        self.socket.as_ref().ok_or(NetError::Closed)
    }

    /// `setsockname`: binds to the first of `host`'s addresses.
    pub fn bind(&mut self, host: &str, port: u16) -> NetResult<()> {
        if self.streams.is_some() {
            return Err(NetError::InvalidArgument);
        }
        let ip = *addr::resolve(host, self.family)?
            .first()
            .ok_or(NetError::NameUnknown)?;
        let socket = self.socket_for(Family::of(&ip))?;
        bind_socket(socket, SocketAddr::new(ip, port))?;
        self.open_streams(None)
    }

    /// `setpeername`: connects to `host:port`, or with `"*"` disconnects.
    pub fn connect(&mut self, host: &str, port: u16) -> NetResult<()> {
        if host == "*" {
            return self.disconnect();
        }
        let ip = *addr::resolve(host, self.family)?
            .first()
            .ok_or(NetError::NameUnknown)?;
        let remote = SocketAddr::new(ip, port);
        self.ensure_bound(Family::of(&ip))?;
        if let Err(e) = self.open_streams(Some(remote)) {
            self.restore_streams();
            return Err(e);
        }
        self.peer = Some(remote);
        Ok(())
    }

    /// After a failed `setpeername`, the streams for the peer the socket still has: a
    /// failed connect(2) leaves a UDP socket as it was (wasmtime checks the policy before
    /// touching the socket), and `getpeername` must agree with what `send` does. Should the
    /// old peer be refused too, the object becomes unconnected rather than inconsistent.
    fn restore_streams(&mut self) {
        if self.open_streams(self.peer).is_err() {
            self.peer = None;
            let _ = self.open_streams(None);
        }
    }

    fn disconnect(&mut self) -> NetResult<()> {
        if self.peer.take().is_some() {
            self.open_streams(None)?;
        }
        Ok(())
    }

    /// Binds to an ephemeral port if nothing was bound yet.
    fn ensure_bound(&mut self, family: Family) -> NetResult<()> {
        if self.streams.is_some() {
            return Ok(());
        }
        let socket = self.socket_for(family)?;
        if socket.local_address().is_err() {
            bind_socket(socket, SocketAddr::new(family.any(), 0))?;
        }
        self.open_streams(None)
    }

    fn open_streams(&mut self, remote: Option<SocketAddr>) -> NetResult<()> {
        let reading_behind = self.streams.take().is_some_and(|s| s.reading_behind.get());
        if reading_behind {
            // The old streams are gone; a wait that really suspends lets the host run the
            // cancelled background read, which releases the socket for `stream()`.
            super::poll::sleep(RELEASE_WAIT);
        }
        let socket = self.socket.as_ref().ok_or(NetError::Closed)?;
        let (incoming, outgoing) = socket.stream(remote.map(addr::to_wasi))?;
        self.streams = Some(Streams {
            readable: incoming.subscribe(),
            writable: outgoing.subscribe(),
            incoming,
            outgoing,
            reading_behind: Cell::new(false),
        });
        Ok(())
    }

    /// `sendto`: one datagram to `to`; unconnected objects only.
    pub fn send_to(
        &mut self,
        data: &[u8],
        to: SocketAddr,
        deadline: &Deadline,
    ) -> NetResult<usize> {
        // Unconnected objects only (the Lua face's class check says so first).
        if self.peer.is_some() {
            return Err(NetError::AlreadyConnected);
        }
        self.ensure_bound(Family::of(&to.ip()))?;
        self.send_datagram(data, Some(to), deadline)
    }

    /// `send`: one datagram to the peer; connected objects only.
    pub fn send(&mut self, data: &[u8], deadline: &Deadline) -> NetResult<usize> {
        if self.peer.is_none() {
            return Err(NetError::NotConnected);
        }
        self.send_datagram(data, None, deadline)
    }

    fn send_datagram(
        &mut self,
        data: &[u8],
        to: Option<SocketAddr>,
        deadline: &Deadline,
    ) -> NetResult<usize> {
        if data.len() > MAX_DATAGRAM {
            return Err(NetError::MessageTooLong);
        }
        let streams = self.streams.as_ref().ok_or(NetError::NotConnected)?;
        // wasmtime insists on a fresh check-send before every send (a remembered permit
        // traps), so this costs two host calls per datagram.
        loop {
            match streams.outgoing.check_send() {
                Ok(0) => wait(&streams.writable, deadline)?,
                Ok(_) => break,
                Err(e) => return Err(udp_error(e)),
            }
        }
        let datagram = OutgoingDatagram {
            data: data.to_vec(),
            remote_address: to.map(addr::to_wasi),
        };
        match streams.outgoing.send(&[datagram]) {
            Ok(1) => Ok(data.len()),
            Ok(_) => Err(NetError::Timeout),
            Err(e) => Err(udp_error(e)),
        }
    }

    /// Receives one datagram, truncated to `size`.
    pub fn receive(&mut self, size: usize, deadline: &Deadline) -> NetResult<Datagram> {
        if self.closed {
            return Err(NetError::Closed);
        }
        // Nothing bound yet: nothing can arrive, so this only waits out the timeout.
        let Some(streams) = self.streams.as_ref() else {
            super::poll::sleep(
                deadline
                    .wait_limit(now_ns)
                    .unwrap_or(std::time::Duration::MAX),
            );
            return Err(NetError::Timeout);
        };
        loop {
            match streams.incoming.receive(1) {
                Ok(mut got) if !got.is_empty() => {
                    let mut d = got.swap_remove(0);
                    d.data.truncate(size);
                    return Ok(Datagram {
                        data: d.data,
                        from: addr::from_wasi(d.remote_address),
                    });
                }
                Ok(_) => {
                    streams.reading_behind.set(true);
                    wait(&streams.readable, deadline)?
                }
                Err(e) => return Err(udp_error(e)),
            }
        }
    }

    /// The bound address; for a socket not bound yet, as Linux answers for the socket
    /// LuaSocket's udp4/udp6 made at once: the wildcard address and port 0.
    pub fn local_address(&self) -> NetResult<SocketAddr> {
        let Some(socket) = self.socket.as_ref() else {
            return Err(self.no_socket_or(NetError::NotConnected));
        };
        match (socket.local_address(), self.family) {
            (Ok(address), _) => Ok(addr::from_wasi(address)),
            (Err(ErrorCode::InvalidState), Some(family)) => Ok(SocketAddr::new(family.any(), 0)),
            (Err(e), _) => Err(e.into()),
        }
    }

    /// Whether the socket has `opt` at all: not once closed, and IPV6_UNICAST_HOPS only
    /// on IPv6 (wasi's unicast hop limit is the TTL on an IPv4 socket, which Linux's
    /// IPv6 option is not).
    fn takes(&self, opt: SockOpt) -> bool {
        let ipv6_only_on_ipv4 = opt == SockOpt::UnicastHops && self.family == Some(Family::Inet4);
        !(self.closed || ipv6_only_on_ipv4)
    }

    pub fn remote_address(&self) -> NetResult<SocketAddr> {
        self.peer
            .ok_or_else(|| self.no_socket_or(NetError::NotConnected))
    }

    /// What a call needing a socket gets when there is none: EBADF for an object with no
    /// descriptor (closed, or without a family and not yet used), else `otherwise`.
    fn no_socket_or(&self, otherwise: NetError) -> NetError {
        if self.fd() == id::INVALID {
            NetError::BadDescriptor
        } else {
            otherwise
        }
    }

    /// Sets an option; a closed object's fail, as setsockopt on a closed descriptor.
    pub fn set_option(&mut self, opt: SockOpt, value: OptValue) -> NetResult<()> {
        if !self.takes(opt) {
            return Err(NetError::SetOptionFailed);
        }
        let target = self.socket.as_ref().map(|s| s as &dyn OptionTarget);
        options::set(&mut self.options, target, opt, value)
    }

    pub fn get_option(&self, opt: SockOpt) -> NetResult<OptValue> {
        if !self.takes(opt) {
            return Err(NetError::GetOptionFailed);
        }
        options::get(
            &self.options,
            self.socket.as_ref().map(|s| s as &dyn OptionTarget),
            opt,
        )
    }

    /// Closes the object; idempotent. Datagrams are sent or not at once: nothing lingers.
    pub fn close(&mut self) {
        self.streams = None;
        self.socket = None;
        self.peer = None;
        self.closed = true;
    }
}

/// A refused datagram is UDP's own error (the WIT's `refused`), not a refused connection.
fn udp_error(e: ErrorCode) -> NetError {
    match NetError::from(e) {
        NetError::ConnectionRefused => NetError::Refused,
        other => other,
    }
}

fn create(family: Family, pending: &Remembered) -> NetResult<UdpSocket> {
    let socket = create_udp_socket(family.to_wasi())?;
    options::apply_pending(pending, &socket);
    Ok(socket)
}

fn bind_socket(socket: &UdpSocket, address: SocketAddr) -> NetResult<()> {
    with_network(|net| socket.start_bind(net, addr::to_wasi(address)))?;
    loop {
        match socket.finish_bind() {
            Ok(()) => return Ok(()),
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            Err(e) => return Err(e.into()),
        }
    }
}

impl OptionTarget for UdpSocket {
    fn apply(&self, opt: SockOpt, value: &OptValue) -> Result<(), Refusal> {
        let done = match (opt, value) {
            (SockOpt::UnicastHops, OptValue::Int(n)) => {
                self.set_unicast_hop_limit(u8::try_from(*n).map_err(|_| Refusal)?)
            }
            (SockOpt::RecvBufferSize, OptValue::Int(n)) => {
                self.set_receive_buffer_size(options::buffer_size(*n)?)
            }
            (SockOpt::SendBufferSize, OptValue::Int(n)) => {
                self.set_send_buffer_size(options::buffer_size(*n)?)
            }
            (SockOpt::V6Only, OptValue::Bool(true))
                if self.address_family() == IpAddressFamily::Ipv6 =>
            {
                Ok(())
            }
            _ => return Err(Refusal),
        };
        done.map_err(|_| Refusal)
    }

    fn read(&self, opt: SockOpt) -> Result<OptValue, Refusal> {
        let value = match opt {
            SockOpt::UnicastHops => self
                .unicast_hop_limit()
                .map(|n| OptValue::Int(i64::from(n))),
            SockOpt::RecvBufferSize => self.receive_buffer_size().map(|n| OptValue::Int(n as i64)),
            SockOpt::SendBufferSize => self.send_buffer_size().map(|n| OptValue::Int(n as i64)),
            SockOpt::V6Only if self.address_family() == IpAddressFamily::Ipv6 => {
                Ok(OptValue::Bool(true))
            }
            _ => return Err(Refusal),
        };
        value.map_err(|_| Refusal)
    }
}

impl Selectable for Udp {
    fn ready_now(&self, _: Interest) -> bool {
        false
    }

    fn pollable(&self, interest: Interest) -> Option<&Pollable> {
        let streams = self.streams.as_ref()?;
        Some(match interest {
            Interest::Read => {
                // Waiting on it starts a background read in the host.
                streams.reading_behind.set(true);
                &streams.readable
            }
            Interest::Write => &streams.writable,
        })
    }
}
