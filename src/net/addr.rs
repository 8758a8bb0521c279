//! Addresses: converting between std's `IpAddr`/`SocketAddr` and wasi:sockets' records,
//! parsing literals in the guest (the host may forbid name lookup, and then even a literal
//! would fail to "resolve"), and forward name resolution.

use std::cell::OnceCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{
    IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress, Network,
};

use super::error::{NetError, NetResult};

/// The address family a socket was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Inet4,
    Inet6,
}

impl Family {
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Inet4,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    pub fn to_wasi(self) -> IpAddressFamily {
        match self {
            Family::Inet4 => IpAddressFamily::Ipv4,
            Family::Inet6 => IpAddressFamily::Ipv6,
        }
    }

    pub fn from_wasi(family: IpAddressFamily) -> Family {
        match family {
            IpAddressFamily::Ipv4 => Family::Inet4,
            IpAddressFamily::Ipv6 => Family::Inet6,
        }
    }

    /// The wildcard address of this family, which `"*"` stands for.
    pub fn any(self) -> IpAddr {
        match self {
            Family::Inet4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

thread_local! {
    static NETWORK: OnceCell<Network> = const { OnceCell::new() };
}

/// Runs `f` with the instance's network handle, fetched once.
pub fn with_network<R>(f: impl FnOnce(&Network) -> R) -> R {
    NETWORK.with(|cell| f(cell.get_or_init(instance_network)))
}

pub fn to_wasi(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: a.port(),
            address: a.ip().octets().into(),
        }),
        SocketAddr::V6(a) => {
            let s = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: a.scope_id(),
            })
        }
    }
}

pub fn from_wasi(addr: IpSocketAddress) -> SocketAddr {
    match addr {
        IpSocketAddress::Ipv4(a) => {
            SocketAddr::new(ip_from_wasi(IpAddress::Ipv4(a.address)), a.port)
        }
        IpSocketAddress::Ipv6(a) => {
            SocketAddr::new(ip_from_wasi(IpAddress::Ipv6(a.address)), a.port)
        }
    }
}

pub fn ip_from_wasi(ip: IpAddress) -> IpAddr {
    match ip {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}

/// An IP literal, with IPv6 optionally in brackets as URLs write it.
pub fn parse_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// A port as LuaSocket takes it, a string for getaddrinfo: digits, or one of the
/// well-known service names (WASI has no services database to ask).
pub fn parse_port(port: &str) -> NetResult<u16> {
    if let Ok(n) = port.parse::<u16>() {
        return Ok(n);
    }
    // A Lua float such as 80.0 arrives as "80.0".
    if let Ok(f) = port.parse::<f64>()
        && f.fract() == 0.0
        && (0.0..=65535.0).contains(&f)
    {
        return Ok(f as u16);
    }
    SERVICES
        .iter()
        .find(|(name, _)| *name == port)
        .map(|&(_, n)| n)
        .ok_or(NetError::ServiceUnknown)
}

/// A destination as udp.c's sendto resolves it: getaddrinfo with AI_NUMERICHOST and
/// AI_NUMERICSERV in the socket's family. The port is checked first, as getaddrinfo does.
pub fn numeric_destination(ip: &str, port: &str, family: Option<Family>) -> NetResult<SocketAddr> {
    let port = numeric_port(port)?;
    Ok(SocketAddr::new(numeric_ip(ip, family)?, port))
}

/// A numeric service: digits only. Above 65535 it is refused, where glibc would keep
/// the low 16 bits (port-range in tests/differential/differences.md).
fn numeric_port(port: &str) -> NetResult<u16> {
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NetError::NotNumeric);
    }
    port.parse().map_err(|_| NetError::NotNumeric)
}

/// A numeric host of the socket's family, if it has one.
pub fn numeric_ip(ip: &str, family: Option<Family>) -> NetResult<IpAddr> {
    let ip = parse_literal(ip).ok_or(NetError::NotNumeric)?;
    match family {
        Some(f) if f != Family::of(&ip) => Err(NetError::FamilyMismatch),
        _ => Ok(ip),
    }
}

/// The well-known services, for names in place of port numbers and back.
const SERVICES: &[(&str, u16)] = &[
    ("echo", 7),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("http", 80),
    ("pop3", 110),
    ("nntp", 119),
    ("imap", 143),
    ("https", 443),
    ("submission", 587),
    ("imaps", 993),
    ("pop3s", 995),
];

/// The name of a well-known port.
pub fn service_of(port: u16) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|&&(_, p)| p == port)
        .map(|&(name, _)| name)
}

/// The addresses `host` stands for, in the resolver's order, restricted to `family` when
/// given. `"*"` is the wildcard of the family (IPv4 when the family is still open), as in
/// LuaSocket's `bind`.
pub fn resolve(host: &str, family: Option<Family>) -> NetResult<Vec<IpAddr>> {
    if host == "*" {
        return Ok(vec![family.unwrap_or(Family::Inet4).any()]);
    }
    let found = match parse_literal(host) {
        Some(ip) if family.is_some_and(|f| f != Family::of(&ip)) => {
            return Err(NetError::FamilyMismatch);
        }
        Some(ip) => vec![ip],
        None => lookup(host)?,
    };
    let matching: Vec<IpAddr> = found
        .into_iter()
        .filter(|ip| family.is_none_or(|f| Family::of(ip) == f))
        .collect();
    if matching.is_empty() {
        return Err(NetError::NameUnknown);
    }
    Ok(matching)
}

/// Forward lookup through wasi:sockets/ip-name-lookup.
pub fn lookup(name: &str) -> NetResult<Vec<IpAddr>> {
    // The resolver rejects what it cannot parse as a name with "invalid-argument"; to a
    // script that is simply an unknown host.
    let stream =
        with_network(|net| resolve_addresses(net, name)).map_err(|e| match NetError::from(e) {
            NetError::InvalidArgument => NetError::NameUnknown,
            other => other,
        })?;
    let mut found = Vec::new();
    let mut pollable = None;
    loop {
        match stream.resolve_next_address() {
            Ok(Some(ip)) => found.push(ip_from_wasi(ip)),
            Ok(None) => break,
            Err(wasip2::sockets::network::ErrorCode::WouldBlock) => {
                pollable.get_or_insert_with(|| stream.subscribe()).block();
            }
            Err(e) => return Err(e.into()),
        }
    }
    drop(pollable);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(
            parse_literal("127.0.0.1"),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(parse_literal("::1"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(
            parse_literal("[::1]"),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(parse_literal("localhost"), None);
        assert_eq!(parse_literal("1.2.3"), None);
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("8080"), Ok(8080));
        assert_eq!(parse_port("8080.0"), Ok(8080));
        assert_eq!(parse_port("http"), Ok(80));
        // Refused, where glibc keeps the low 16 bits (port-range in the differences).
        assert_eq!(parse_port("65536"), Err(NetError::ServiceUnknown));
        assert_eq!(parse_port("-1"), Err(NetError::ServiceUnknown));
        assert_eq!(parse_port("8080.5"), Err(NetError::ServiceUnknown));
        assert_eq!(parse_port("nope"), Err(NetError::ServiceUnknown));
    }

    #[test]
    fn wildcard_follows_family() {
        assert_eq!(
            resolve("*", None).unwrap(),
            vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
        );
        assert_eq!(
            resolve("*", Some(Family::Inet6)).unwrap(),
            vec![IpAddr::V6(Ipv6Addr::UNSPECIFIED)]
        );
    }

    #[test]
    fn literal_of_the_wrong_family_is_a_family_mismatch() {
        assert_eq!(
            resolve("::1", Some(Family::Inet4)),
            Err(NetError::FamilyMismatch)
        );
        assert_eq!(
            resolve("127.0.0.1", Some(Family::Inet6)),
            Err(NetError::FamilyMismatch)
        );
    }

    #[test]
    fn sendto_destinations_are_numeric() {
        let v4 = Some(Family::Inet4);
        assert_eq!(
            numeric_destination("127.0.0.1", "53", v4),
            Ok("127.0.0.1:53".parse().unwrap())
        );
        for (ip, port) in [
            ("localhost", "53"),
            ("127.0.0.1", "domain"),
            ("127.0.0.1", ""),
            ("127.0.0.1", "65536"),
            ("127.0.0.1", "+53"),
        ] {
            assert_eq!(numeric_destination(ip, port, v4), Err(NetError::NotNumeric));
        }
        assert_eq!(
            numeric_destination("::1", "53", v4),
            Err(NetError::FamilyMismatch)
        );
        // The service is checked before the host.
        assert_eq!(
            numeric_destination("::1", "x", v4),
            Err(NetError::NotNumeric)
        );
    }

    #[test]
    fn socket_addresses_round_trip() {
        for s in ["127.0.0.1:80", "[::1]:8080", "[fe80::1%3]:1"] {
            let a: SocketAddr = s.parse().unwrap();
            assert_eq!(from_wasi(to_wasi(a)).ip(), a.ip());
            assert_eq!(from_wasi(to_wasi(a)).port(), a.port());
        }
    }
}
