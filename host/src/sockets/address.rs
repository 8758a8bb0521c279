//! Addresses as wasi:sockets 0.2 takes them, and the checks its interfaces require before
//! any system call.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrAny, SocketFlags, SocketType};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};

/// A socket's family, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl From<IpAddressFamily> for Family {
    fn from(f: IpAddressFamily) -> Family {
        match f {
            IpAddressFamily::Ipv4 => Family::V4,
            IpAddressFamily::Ipv6 => Family::V6,
        }
    }
}

impl From<Family> for IpAddressFamily {
    fn from(f: Family) -> IpAddressFamily {
        match f {
            Family::V4 => IpAddressFamily::Ipv4,
            Family::V6 => IpAddressFamily::Ipv6,
        }
    }
}

impl Family {
    /// The wildcard address with port 0: what an implicit bind binds.
    pub fn unspecified(self) -> SocketAddr {
        match self {
            Family::V4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            Family::V6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        }
    }
}

/// A new non-blocking socket of `family` and `kind`. IPv6 sockets are IPv6-only, as wasi
/// requires (IPv4-mapped addresses are refused, so nothing could reach the IPv4 side).
pub fn new_socket(family: Family, kind: SocketType) -> Result<OwnedFd, SocketError> {
    let domain = match family {
        Family::V4 => AddressFamily::INET,
        Family::V6 => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        domain,
        kind,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .map_err(code)?;
    if family == Family::V6 {
        rustix::net::sockopt::set_ipv6_v6only(&fd, true).map_err(code)?;
    }
    Ok(fd)
}

/// Whether `addr` may be used on a socket of `family`: its own family, and for IPv6
/// neither an IPv4-mapped nor a deprecated IPv4-compatible address.
pub fn fits_family(addr: IpAddr, family: Family) -> bool {
    match (family, addr) {
        (Family::V4, IpAddr::V4(_)) => true,
        (Family::V6, IpAddr::V6(v6)) => v6.to_ipv4_mapped().is_none() && !ipv4_compatible(v6),
        _ => false,
    }
}

fn ipv4_compatible(v6: Ipv6Addr) -> bool {
    matches!(v6.segments(), [0, 0, 0, 0, 0, 0, _, _]) && !v6.is_unspecified() && !v6.is_loopback()
}

/// Neither multicast nor broadcast: wasi 0.2 sockets are unicast.
pub fn is_unicast(addr: IpAddr) -> bool {
    match addr.to_canonical() {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
}

/// A remote address one can send to: a real address and port.
pub fn is_remote(addr: SocketAddr) -> bool {
    !addr.ip().to_canonical().is_unspecified() && addr.port() != 0
}

/// A system call's failure as wasi's error code. `io::Error`s carry their errno.
pub fn code(errno: Errno) -> SocketError {
    errno_code(errno).into()
}

pub fn io_code(e: io::Error) -> SocketError {
    // Errors made in Rust carry only a kind: those that mean an errno are mapped as one.
    let errno = Errno::from_io_error(&e).unwrap_or(match e.kind() {
        io::ErrorKind::WouldBlock => Errno::AGAIN,
        io::ErrorKind::OutOfMemory => Errno::NOMEM,
        _ => Errno::IO,
    });
    code(errno)
}

pub fn errno_code(errno: Errno) -> ErrorCode {
    match errno {
        Errno::PERM | Errno::ACCESS => ErrorCode::AccessDenied,
        Errno::ADDRINUSE => ErrorCode::AddressInUse,
        Errno::ADDRNOTAVAIL => ErrorCode::AddressNotBindable,
        Errno::TIMEDOUT => ErrorCode::Timeout,
        Errno::CONNREFUSED => ErrorCode::ConnectionRefused,
        Errno::CONNRESET | Errno::PIPE => ErrorCode::ConnectionReset,
        Errno::CONNABORTED => ErrorCode::ConnectionAborted,
        Errno::INVAL => ErrorCode::InvalidArgument,
        Errno::HOSTUNREACH
        | Errno::HOSTDOWN
        | Errno::NETDOWN
        | Errno::NETUNREACH
        | Errno::NONET => ErrorCode::RemoteUnreachable,
        Errno::ISCONN | Errno::NOTCONN | Errno::DESTADDRREQ => ErrorCode::InvalidState,
        Errno::MSGSIZE => ErrorCode::DatagramTooLarge,
        Errno::NOMEM | Errno::NOBUFS => ErrorCode::OutOfMemory,
        Errno::MFILE | Errno::NFILE => ErrorCode::NewSocketLimit,
        Errno::OPNOTSUPP
        | Errno::NOPROTOOPT
        | Errno::PFNOSUPPORT
        | Errno::PROTONOSUPPORT
        | Errno::PROTOTYPE
        | Errno::SOCKTNOSUPPORT
        | Errno::AFNOSUPPORT => ErrorCode::NotSupported,
        Errno::AGAIN => ErrorCode::WouldBlock,
        _ => ErrorCode::Unknown,
    }
}

/// A socket address from the kernel as a std one (None for other families).
pub fn from_any(addr: &SocketAddrAny) -> Option<SocketAddr> {
    SocketAddr::try_from(addr.clone()).ok()
}
