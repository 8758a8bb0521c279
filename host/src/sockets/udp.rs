//! `wasi:sockets/udp`: a bound socket, optionally connected to one peer, and its two
//! datagram streams. A receive is one `recvfrom` per datagram into a buffer kept by the
//! stream (not a zero-filled 64 KiB one each time); `check-send` grants a number of
//! datagrams that sends count down, so several can go per check.

use std::net::SocketAddr;
use std::sync::Arc;

use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, SocketType};
use wasmtime::component::Resource;
use wasmtime_wasi::p2::SocketResult;
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::SocketsView;
use super::address::{Family, code, fits_family, from_any, is_remote, is_unicast, new_socket};
use super::bindings::wasi::sockets::udp::{
    HostIncomingDatagramStream, HostOutgoingDatagramStream, HostUdpSocket, IncomingDatagram,
    OutgoingDatagram,
};
use super::bindings::wasi::sockets::{udp, udp_create_socket};
use super::fd::{Direction, SocketFd};
use super::kernel_round::socket_ready;
use super::tcp::{
    hop_limit, receive_buffer_size, send_buffer_size, set_hop_limit, set_receive_buffer_size,
    set_send_buffer_size,
};

/// The largest datagram wasi carries (and IPv4's limit).
const MAX_DATAGRAM: usize = 65535;

/// Datagrams one `check-send` grants.
const SEND_PERMIT: u64 = 64;

pub struct UdpSocket {
    fd: Arc<SocketFd>,
    family: Family,
    bound: bool,
    bind_started: bool,
    remote: Option<SocketAddr>,
}

impl UdpSocket {
    /// Whether a table entry is one of these (the socket count asks).
    pub fn is_socket(entry: &dyn std::any::Any) -> bool {
        entry.is::<UdpSocket>()
    }
}

pub struct IncomingDatagrams {
    fd: Arc<SocketFd>,
    /// Where each datagram lands before it is copied out at its own size.
    buffer: Vec<u8>,
}

pub struct OutgoingDatagrams {
    fd: Arc<SocketFd>,
    family: Family,
    remote: Option<SocketAddr>,
    permit: u64,
}

impl udp::Host for SocketsView<'_> {}

impl udp_create_socket::Host for SocketsView<'_> {
    fn create_udp_socket(&mut self, family: IpAddressFamily) -> SocketResult<Resource<UdpSocket>> {
        if !self.may_open() {
            return Err(ErrorCode::NewSocketLimit.into());
        }
        let family = Family::from(family);
        let fd = new_socket(family, SocketType::DGRAM)?;
        let fd = Arc::new(SocketFd::new(fd).map_err(super::address::io_code)?);
        let socket = UdpSocket {
            fd,
            family,
            bound: false,
            bind_started: false,
            remote: None,
        };
        Ok(self.table.push(socket)?)
    }
}

impl SocketsView<'_> {
    fn udp(&mut self, socket: &Resource<UdpSocket>) -> SocketResult<&mut UdpSocket> {
        Ok(self.table.get_mut(socket)?)
    }

    fn allow(&self, addr: SocketAddr, usage: SocketAddrUse) -> SocketResult<()> {
        if self.policy.check(addr, usage) {
            Ok(())
        } else {
            Err(ErrorCode::AccessDenied.into())
        }
    }

    /// Connects (or with `None`, disconnects) the socket, checking the peer first.
    fn set_peer(
        &mut self,
        this: &Resource<UdpSocket>,
        remote: Option<SocketAddr>,
    ) -> SocketResult<()> {
        let udp = self.udp(this)?;
        let family = udp.family;
        let Some(addr) = remote else {
            if udp.remote.take().is_some() {
                rustix::net::connect_unspec(udp.fd.fd()).map_err(code)?;
            }
            return Ok(());
        };
        if !is_unicast(addr.ip()) || !is_remote(addr) || !fits_family(addr.ip(), family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        // Connecting only sets the peer; it must be allowed both ways.
        self.allow(addr, SocketAddrUse::UdpSend)?;
        self.allow(addr, SocketAddrUse::UdpReceive)?;
        let udp = self.udp(this)?;
        rustix::net::connect(udp.fd.fd(), &addr).map_err(code)?;
        udp.remote = Some(addr);
        Ok(())
    }
}

impl HostUdpSocket for SocketsView<'_> {
    fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        _network: Resource<Network>,
        local: IpSocketAddress,
    ) -> SocketResult<()> {
        let addr: SocketAddr = local.into();
        let udp = self.udp(&this)?;
        if udp.bound || udp.bind_started {
            return Err(ErrorCode::InvalidState.into());
        }
        if !fits_family(addr.ip(), udp.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.allow(addr, SocketAddrUse::UdpBind)?;
        let udp = self.udp(&this)?;
        rustix::net::bind(udp.fd.fd(), &addr).map_err(|e| match e {
            Errno::ADDRNOTAVAIL => ErrorCode::AddressNotBindable.into(),
            other => code(other),
        })?;
        udp.bind_started = true;
        Ok(())
    }

    fn finish_bind(&mut self, this: Resource<UdpSocket>) -> SocketResult<()> {
        let udp = self.udp(&this)?;
        if !udp.bind_started {
            return Err(ErrorCode::NotInProgress.into());
        }
        udp.bind_started = false;
        udp.bound = true;
        Ok(())
    }

    fn stream(
        &mut self,
        this: Resource<UdpSocket>,
        remote: Option<IpSocketAddress>,
    ) -> SocketResult<(Resource<IncomingDatagrams>, Resource<OutgoingDatagrams>)> {
        let live = self
            .table
            .iter_children(&this)?
            .any(|c| c.is::<IncomingDatagrams>() || c.is::<OutgoingDatagrams>());
        if live {
            return Err(wasmtime_wasi::p2::SocketError::trap(wasmtime::format_err!(
                "UDP streams not dropped yet"
            )));
        }
        if !self.udp(&this)?.bound {
            // wasi 0.2: the socket must have been bound explicitly.
            return Err(ErrorCode::InvalidState.into());
        }
        self.set_peer(&this, remote.map(Into::into))?;
        let udp = self.udp(&this)?;
        let incoming = IncomingDatagrams {
            fd: Arc::clone(&udp.fd),
            buffer: vec![0; MAX_DATAGRAM],
        };
        let outgoing = OutgoingDatagrams {
            fd: Arc::clone(&udp.fd),
            family: udp.family,
            remote: udp.remote,
            permit: 0,
        };
        let incoming = self.table.push_child(incoming, &this)?;
        let outgoing = self.table.push_child(outgoing, &this)?;
        Ok((incoming, outgoing))
    }

    fn local_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        let udp = self.udp(&this)?;
        if !udp.bound {
            return Err(ErrorCode::InvalidState.into());
        }
        let local = rustix::net::getsockname(udp.fd.fd()).map_err(code)?;
        from_any(&local)
            .map(Into::into)
            .ok_or_else(|| ErrorCode::InvalidState.into())
    }

    fn remote_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        let udp = self.udp(&this)?;
        udp.remote
            .map(Into::into)
            .ok_or_else(|| ErrorCode::InvalidState.into())
    }

    fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family.into())
    }

    fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> SocketResult<u8> {
        let udp = self.udp(&this)?;
        hop_limit(&udp.fd, udp.family)
    }

    fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> SocketResult<()> {
        let udp = self.udp(&this)?;
        set_hop_limit(&udp.fd, udp.family, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        receive_buffer_size(&self.udp(&this)?.fd)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<UdpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        set_receive_buffer_size(&self.udp(&this)?.fd, value)
    }

    fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        send_buffer_size(&self.udp(&this)?.fd)
    }

    fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        set_send_buffer_size(&self.udp(&this)?.fd, value)
    }

    fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn drop(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Pollable for UdpSocket {
    /// wasi: a UDP socket's own pollable is always ready (its streams are what wait).
    async fn ready(&mut self) {}
}

impl HostIncomingDatagramStream for SocketsView<'_> {
    fn receive(
        &mut self,
        this: Resource<IncomingDatagrams>,
        max: u64,
    ) -> SocketResult<Vec<IncomingDatagram>> {
        let policy = self.policy;
        let stream = self.table.get_mut(&this)?;
        let mut got = Vec::new();
        while (got.len() as u64) < max {
            match stream.receive_one() {
                Ok(Some((data, from))) => {
                    // Datagrams from peers the policy does not cover never reach the script.
                    if policy.check(from, SocketAddrUse::UdpReceive) {
                        got.push(IncomingDatagram {
                            data,
                            remote_address: from.into(),
                        });
                    }
                }
                Ok(None) => break,
                // An error after some datagrams waits for the next call.
                Err(e) if got.is_empty() => return Err(code(e)),
                Err(_) => break,
            }
        }
        Ok(got)
    }

    fn subscribe(
        &mut self,
        this: Resource<IncomingDatagrams>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn drop(&mut self, this: Resource<IncomingDatagrams>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl IncomingDatagrams {
    /// One datagram, if one is waiting.
    fn receive_one(&mut self) -> Result<Option<(Vec<u8>, SocketAddr)>, Errno> {
        let buffer = &mut self.buffer;
        let got = self.fd.attempt(Direction::Read, |fd| {
            rustix::net::recvfrom(fd, &mut buffer[..], RecvFlags::DONTWAIT)
                .map_err(std::io::Error::from)
        });
        match got {
            Ok((n, _, from)) => match from.as_ref().and_then(from_any) {
                Some(from) => Ok(Some((self.buffer[..n].to_vec(), from))),
                // Not an IP datagram: nothing a wasi guest could be given.
                None => Ok(None),
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for IncomingDatagrams {
    async fn ready(&mut self) {
        socket_ready(&self.fd, Direction::Read).await
    }
}

impl HostOutgoingDatagramStream for SocketsView<'_> {
    fn check_send(&mut self, this: Resource<OutgoingDatagrams>) -> SocketResult<u64> {
        let stream = self.table.get_mut(&this)?;
        stream.permit = SEND_PERMIT;
        Ok(stream.permit)
    }

    fn send(
        &mut self,
        this: Resource<OutgoingDatagrams>,
        datagrams: Vec<OutgoingDatagram>,
    ) -> SocketResult<u64> {
        let policy = self.policy;
        let stream = self.table.get_mut(&this)?;
        if datagrams.len() as u64 > stream.permit {
            return Err(wasmtime_wasi::p2::SocketError::trap(wasmtime::format_err!(
                "send of {} datagrams beyond the {} check-send permitted",
                datagrams.len(),
                stream.permit
            )));
        }
        let mut sent = 0;
        for datagram in datagrams {
            match stream.send_one(datagram, policy) {
                Ok(true) => sent += 1,
                Ok(false) => break,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break,
            }
        }
        stream.permit -= sent;
        Ok(sent)
    }

    fn subscribe(
        &mut self,
        this: Resource<OutgoingDatagrams>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    fn drop(&mut self, this: Resource<OutgoingDatagrams>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl OutgoingDatagrams {
    /// Sends one datagram: true if it went, false if the socket would block.
    fn send_one(
        &mut self,
        datagram: OutgoingDatagram,
        policy: &crate::policy::NetPolicy,
    ) -> SocketResult<bool> {
        if datagram.data.len() > MAX_DATAGRAM {
            return Err(ErrorCode::DatagramTooLarge.into());
        }
        let to: Option<SocketAddr> = datagram.remote_address.map(Into::into);
        let target = match (self.remote, to) {
            (Some(peer), Some(to)) if peer != to => return Err(ErrorCode::InvalidArgument.into()),
            (Some(_), _) => None,
            (None, Some(to)) => {
                // The other family (or IPv4-mapped) is wasi's invalid-argument, not
                // whatever the kernel would make of it.
                if !is_unicast(to.ip()) || !is_remote(to) || !fits_family(to.ip(), self.family) {
                    return Err(ErrorCode::InvalidArgument.into());
                }
                if !policy.check(to, SocketAddrUse::UdpSend) {
                    return Err(ErrorCode::AccessDenied.into());
                }
                Some(to)
            }
            (None, None) => return Err(ErrorCode::InvalidArgument.into()),
        };
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        let sent = self.fd.attempt(Direction::Write, |fd| {
            match target {
                Some(to) => rustix::net::sendto(fd, &datagram.data, flags, &to),
                None => rustix::net::send(fd, &datagram.data, flags),
            }
            .map_err(std::io::Error::from)
        });
        match sent {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(code(Errno::from_io_error(&e).unwrap_or(Errno::IO))),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for OutgoingDatagrams {
    async fn ready(&mut self) {
        socket_ready(&self.fd, Direction::Write).await
    }
}
