//! The WIT face of the socket core: the exported `types`, `tcp`, `udp`, `dns`, `select`
//! and `lua` interfaces. Like the Lua face, it only converts: arguments in, results and
//! errors out. The conversions between core and WIT types live here, once.

mod dns;
mod lua;
mod select;
mod tcp;
mod udp;

use std::net::SocketAddr;

use crate::exports::luasocket::socket::types::{
    self as wit, Address, ErrorCode, Family, OptionValue, Timeouts,
};
use crate::net::NetError;
use crate::net::addr::Family as NetFamily;
use crate::net::options::{OptValue, Proto, SockOpt};
use crate::net::timeout::{Limit, Timeout};

pub struct Component;

impl wit::Guest for Component {
    fn message(code: ErrorCode) -> String {
        from_code(code).as_str().to_owned()
    }
}

/// Every core error has its case, and back.
const CODES: &[(NetError, ErrorCode)] = &[
    (NetError::Timeout, ErrorCode::Timeout),
    (NetError::Closed, ErrorCode::Closed),
    (NetError::Oversized, ErrorCode::Oversized),
    (NetError::ConnectionRefused, ErrorCode::ConnectionRefused),
    (NetError::Refused, ErrorCode::Refused),
    (NetError::MessageTooLong, ErrorCode::MessageTooLong),
    (NetError::HostNotFound, ErrorCode::HostNotFound),
    (NetError::SetOptionFailed, ErrorCode::SetsockoptFailed),
    (NetError::GetOptionFailed, ErrorCode::GetsockoptFailed),
    (NetError::AddressInUse, ErrorCode::AddressInUse),
    (
        NetError::AddressNotAvailable,
        ErrorCode::AddressNotAvailable,
    ),
    (NetError::AlreadyConnected, ErrorCode::AlreadyConnected),
    (NetError::NotConnected, ErrorCode::NotConnected),
    (NetError::InProgress, ErrorCode::InProgress),
    (NetError::PermissionDenied, ErrorCode::PermissionDenied),
    (NetError::Unreachable, ErrorCode::Unreachable),
    (NetError::NameUnknown, ErrorCode::NameUnknown),
    // After NameUnknown, so that the code maps back to it: to the WIT, all are names
    // that resolve to nothing usable.
    (NetError::ServiceUnknown, ErrorCode::NameUnknown),
    (NetError::FamilyMismatch, ErrorCode::NameUnknown),
    (NetError::NotNumeric, ErrorCode::NameUnknown),
    (NetError::NameTemporary, ErrorCode::NameTemporary),
    (NetError::NamePermanent, ErrorCode::NamePermanent),
    (NetError::InvalidArgument, ErrorCode::InvalidArgument),
    // After InvalidArgument, so that the code maps back to it: the WIT has no EBADF of
    // its own (a call on a closed resource does not fit its state).
    (NetError::BadDescriptor, ErrorCode::InvalidArgument),
    (NetError::FamilyNotSupported, ErrorCode::FamilyNotSupported),
    (NetError::TooManySockets, ErrorCode::TooManySockets),
    (NetError::OutOfMemory, ErrorCode::OutOfMemory),
    (NetError::NotSupported, ErrorCode::NotSupported),
    (NetError::Unknown, ErrorCode::Unknown),
];

pub fn code(e: NetError) -> ErrorCode {
    CODES
        .iter()
        .find(|(n, _)| *n == e)
        .map_or(ErrorCode::Unknown, |&(_, c)| c)
}

pub fn from_code(c: ErrorCode) -> NetError {
    CODES
        .iter()
        .find(|&&(_, w)| w == c)
        .map_or(NetError::Unknown, |(n, _)| n.clone())
}

pub fn family(f: NetFamily) -> Family {
    match f {
        NetFamily::Inet4 => Family::Inet4,
        NetFamily::Inet6 => Family::Inet6,
    }
}

pub fn net_family(f: Family) -> NetFamily {
    match f {
        Family::Inet4 => NetFamily::Inet4,
        Family::Inet6 => NetFamily::Inet6,
    }
}

pub fn address(a: SocketAddr) -> Address {
    Address {
        ip: a.ip().to_string(),
        port: a.port(),
        family: if a.is_ipv4() {
            Family::Inet4
        } else {
            Family::Inet6
        },
    }
}

pub fn timeouts(t: &Timeout) -> Timeouts {
    // The WIT says "none" with an absent value rather than LuaSocket's -1.
    let secs = |l: Limit| l.duration().map(|_| l.secs());
    Timeouts {
        block: secs(t.block),
        total: secs(t.total),
    }
}

pub fn timeout(t: Timeouts) -> Timeout {
    Timeout {
        block: Limit::from_secs(t.block),
        total: Limit::from_secs(t.total),
    }
}

/// An option by LuaSocket name, with a value of the kind it takes.
pub fn option(name: &str, proto: Proto) -> Result<SockOpt, ErrorCode> {
    SockOpt::parse(name, proto).ok_or(ErrorCode::InvalidArgument)
}

pub fn option_value(v: OptionValue) -> OptValue {
    match v {
        OptionValue::Boolean(b) => OptValue::Bool(b),
        OptionValue::Integer(n) => OptValue::Int(n),
        OptionValue::Linger((on, timeout)) => OptValue::Linger { on, timeout },
        OptionValue::Membership((multiaddr, interface)) => OptValue::Membership {
            multiaddr,
            interface,
        },
        OptionValue::Text(t) => OptValue::Text(t),
    }
}

pub fn wit_option_value(v: OptValue) -> OptionValue {
    match v {
        OptValue::Bool(b) => OptionValue::Boolean(b),
        OptValue::Int(n) => OptionValue::Integer(n),
        OptValue::Linger { on, timeout } => OptionValue::Linger((on, timeout)),
        OptValue::Membership {
            multiaddr,
            interface,
        } => OptionValue::Membership((multiaddr, interface)),
        OptValue::Text(t) => OptionValue::Text(t),
    }
}

/// Checks the value's kind against the option's before it reaches the core.
pub fn checked_value(opt: SockOpt, v: OptionValue) -> Result<OptValue, ErrorCode> {
    use crate::net::options::Kind;
    let v = option_value(v);
    let fits = matches!(
        (opt.kind(), &v),
        (Kind::Bool, OptValue::Bool(_))
            | (Kind::Int, OptValue::Int(_))
            | (Kind::Linger, OptValue::Linger { .. })
            | (Kind::Membership, OptValue::Membership { .. })
            | (Kind::Text, OptValue::Text(_))
    );
    if fits {
        Ok(v)
    } else {
        Err(ErrorCode::InvalidArgument)
    }
}
