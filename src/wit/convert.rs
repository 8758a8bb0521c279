//! Between the core's types and the WIT's: every conversion of the WIT face, as `From`
//! impls with exhaustive matches, so that a new core error or option kind does not
//! compile until it has its WIT case.

use std::net::SocketAddr;

use crate::exports::luasocket::socket::types::{Address, ErrorCode, Family, OptionValue, Timeouts};
use crate::net::NetError;
use crate::net::addr::Family as NetFamily;
use crate::net::options::OptValue;
use crate::net::timeout::{Limit, Timeout};

impl From<NetError> for ErrorCode {
    fn from(e: NetError) -> ErrorCode {
        match e {
            NetError::Timeout => ErrorCode::Timeout,
            NetError::Closed => ErrorCode::Closed,
            NetError::Oversized => ErrorCode::Oversized,
            NetError::ConnectionRefused => ErrorCode::ConnectionRefused,
            NetError::Refused => ErrorCode::Refused,
            NetError::MessageTooLong => ErrorCode::MessageTooLong,
            NetError::HostNotFound => ErrorCode::HostNotFound,
            NetError::SetOptionFailed => ErrorCode::SetsockoptFailed,
            NetError::GetOptionFailed => ErrorCode::GetsockoptFailed,
            NetError::AddressInUse => ErrorCode::AddressInUse,
            NetError::AddressNotAvailable => ErrorCode::AddressNotAvailable,
            NetError::AlreadyConnected => ErrorCode::AlreadyConnected,
            NetError::NotConnected => ErrorCode::NotConnected,
            NetError::InProgress => ErrorCode::InProgress,
            NetError::PermissionDenied => ErrorCode::PermissionDenied,
            NetError::Unreachable => ErrorCode::Unreachable,
            // To the WIT, all are names that resolve to nothing usable.
            NetError::NameUnknown
            | NetError::ServiceUnknown
            | NetError::FamilyMismatch
            | NetError::NotNumeric => ErrorCode::NameUnknown,
            NetError::NameTemporary => ErrorCode::NameTemporary,
            NetError::NamePermanent => ErrorCode::NamePermanent,
            // The WIT has no EBADF of its own: a call on a closed resource does not fit
            // its state.
            NetError::InvalidArgument | NetError::BadDescriptor => ErrorCode::InvalidArgument,
            NetError::FamilyNotSupported => ErrorCode::FamilyNotSupported,
            NetError::TooManySockets => ErrorCode::TooManySockets,
            NetError::OutOfMemory => ErrorCode::OutOfMemory,
            NetError::NotSupported => ErrorCode::NotSupported,
            // TLS is not part of the WIT: its would-blocks are timeouts to a caller there,
            // and its failures cannot arise from a WIT call.
            NetError::WantRead | NetError::WantWrite => ErrorCode::Timeout,
            NetError::Tls(_) | NetError::Http(_) | NetError::Unknown => ErrorCode::Unknown,
        }
    }
}

impl From<ErrorCode> for NetError {
    /// The core error whose LuaSocket message describes the case (`types.message`).
    fn from(c: ErrorCode) -> NetError {
        match c {
            ErrorCode::Timeout => NetError::Timeout,
            ErrorCode::Closed => NetError::Closed,
            ErrorCode::Oversized => NetError::Oversized,
            ErrorCode::ConnectionRefused => NetError::ConnectionRefused,
            ErrorCode::Refused => NetError::Refused,
            ErrorCode::MessageTooLong => NetError::MessageTooLong,
            ErrorCode::HostNotFound => NetError::HostNotFound,
            ErrorCode::SetsockoptFailed => NetError::SetOptionFailed,
            ErrorCode::GetsockoptFailed => NetError::GetOptionFailed,
            ErrorCode::AddressInUse => NetError::AddressInUse,
            ErrorCode::AddressNotAvailable => NetError::AddressNotAvailable,
            ErrorCode::AlreadyConnected => NetError::AlreadyConnected,
            ErrorCode::NotConnected => NetError::NotConnected,
            ErrorCode::InProgress => NetError::InProgress,
            ErrorCode::PermissionDenied => NetError::PermissionDenied,
            ErrorCode::Unreachable => NetError::Unreachable,
            ErrorCode::NameUnknown => NetError::NameUnknown,
            ErrorCode::NameTemporary => NetError::NameTemporary,
            ErrorCode::NamePermanent => NetError::NamePermanent,
            ErrorCode::InvalidArgument => NetError::InvalidArgument,
            ErrorCode::FamilyNotSupported => NetError::FamilyNotSupported,
            ErrorCode::TooManySockets => NetError::TooManySockets,
            ErrorCode::OutOfMemory => NetError::OutOfMemory,
            ErrorCode::NotSupported => NetError::NotSupported,
            ErrorCode::Unknown => NetError::Unknown,
        }
    }
}

impl From<NetFamily> for Family {
    fn from(f: NetFamily) -> Family {
        match f {
            NetFamily::Inet4 => Family::Inet4,
            NetFamily::Inet6 => Family::Inet6,
        }
    }
}

impl From<Family> for NetFamily {
    fn from(f: Family) -> NetFamily {
        match f {
            Family::Inet4 => NetFamily::Inet4,
            Family::Inet6 => NetFamily::Inet6,
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Address {
        Address {
            ip: a.ip().to_string(),
            port: a.port(),
            family: NetFamily::of(&a.ip()).into(),
        }
    }
}

impl From<&Timeout> for Timeouts {
    /// The WIT says "none" with an absent value rather than LuaSocket's -1.
    fn from(t: &Timeout) -> Timeouts {
        let secs = |l: Limit| l.duration().map(|_| l.secs());
        Timeouts {
            block: secs(t.block),
            total: secs(t.total),
        }
    }
}

impl From<Timeouts> for Timeout {
    fn from(t: Timeouts) -> Timeout {
        Timeout {
            block: Limit::from_secs(t.block),
            total: Limit::from_secs(t.total),
        }
    }
}

impl From<OptionValue> for OptValue {
    fn from(v: OptionValue) -> OptValue {
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
}

impl From<OptValue> for OptionValue {
    fn from(v: OptValue) -> OptionValue {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case maps back to a core error that maps to it again.
    #[test]
    fn every_code_survives_a_round_trip() {
        let all = [
            ErrorCode::Timeout,
            ErrorCode::Closed,
            ErrorCode::Oversized,
            ErrorCode::ConnectionRefused,
            ErrorCode::Refused,
            ErrorCode::MessageTooLong,
            ErrorCode::HostNotFound,
            ErrorCode::SetsockoptFailed,
            ErrorCode::GetsockoptFailed,
            ErrorCode::AddressInUse,
            ErrorCode::AddressNotAvailable,
            ErrorCode::AlreadyConnected,
            ErrorCode::NotConnected,
            ErrorCode::InProgress,
            ErrorCode::PermissionDenied,
            ErrorCode::Unreachable,
            ErrorCode::NameUnknown,
            ErrorCode::NameTemporary,
            ErrorCode::NamePermanent,
            ErrorCode::InvalidArgument,
            ErrorCode::FamilyNotSupported,
            ErrorCode::TooManySockets,
            ErrorCode::OutOfMemory,
            ErrorCode::NotSupported,
            ErrorCode::Unknown,
        ];
        for code in all {
            assert_eq!(ErrorCode::from(NetError::from(code)), code);
        }
    }
}
