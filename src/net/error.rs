//! The socket core's one error type. Every failure the core can report is a variant here,
//! and its `Display` is the exact string LuaSocket returns for it: this is the one place
//! where wasi:sockets error codes become LuaSocket's vocabulary.

use wasip2::io::streams::StreamError;
use wasip2::sockets::network::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.as_str())]
pub enum NetError {
    Timeout,
    /// A receive reached its `maxsize` before the pattern completed.
    Oversized,
    /// The peer closed, reset or aborted the connection (LuaSocket folds them together).
    Closed,
    ConnectionRefused,
    /// A UDP peer refused a datagram (ICMP port unreachable); LuaSocket's UDP wording.
    Refused,
    MessageTooLong,
    /// `toip`/`tohostname` failures, worded as gethostbyname's.
    HostNotFound,
    SetOptionFailed,
    GetOptionFailed,
    AddressInUse,
    AddressNotAvailable,
    AlreadyConnected,
    NotConnected,
    InProgress,
    /// The host's sandbox policy refused the address, or the operation as a whole.
    PermissionDenied,
    Unreachable,
    NameUnknown,
    NameTemporary,
    NamePermanent,
    InvalidArgument,
    FamilyNotSupported,
    TooManySockets,
    OutOfMemory,
    NotSupported,
    Unknown,
}

impl NetError {
    /// The message LuaSocket returns for this failure.
    pub fn as_str(&self) -> &'static str {
        match self {
            NetError::Timeout => "timeout",
            NetError::Oversized => "oversized",
            NetError::Closed => "closed",
            NetError::ConnectionRefused => "connection refused",
            NetError::Refused => "refused",
            NetError::MessageTooLong => "Message too long",
            NetError::HostNotFound => "host not found",
            NetError::SetOptionFailed => "setsockopt failed",
            NetError::GetOptionFailed => "getsockopt failed",
            NetError::AddressInUse => "address already in use",
            NetError::AddressNotAvailable => "cannot assign requested address",
            NetError::AlreadyConnected => "already connected",
            NetError::NotConnected => "Socket is not connected",
            NetError::InProgress => "Operation already in progress",
            NetError::PermissionDenied => "permission denied",
            NetError::Unreachable => "network is unreachable",
            NetError::NameUnknown => "host or service not provided, or not known",
            NetError::NameTemporary => "temporary failure in name resolution",
            NetError::NamePermanent => "non-recoverable failure in name resolution",
            NetError::InvalidArgument => "invalid argument",
            NetError::FamilyNotSupported => "address family not supported by protocol",
            NetError::TooManySockets => "too many open files",
            NetError::OutOfMemory => "not enough memory",
            NetError::NotSupported => "operation not supported",
            NetError::Unknown => "unknown error",
        }
    }
}

pub type NetResult<T> = Result<T, NetError>;

impl From<ErrorCode> for NetError {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::AccessDenied => NetError::PermissionDenied,
            ErrorCode::NotSupported => NetError::NotSupported,
            ErrorCode::InvalidArgument => NetError::InvalidArgument,
            ErrorCode::OutOfMemory => NetError::OutOfMemory,
            ErrorCode::Timeout | ErrorCode::WouldBlock => NetError::Timeout,
            ErrorCode::ConcurrencyConflict => NetError::InProgress,
            ErrorCode::NotInProgress | ErrorCode::InvalidState => NetError::InvalidArgument,
            ErrorCode::NewSocketLimit => NetError::TooManySockets,
            ErrorCode::AddressNotBindable => NetError::AddressNotAvailable,
            ErrorCode::AddressInUse => NetError::AddressInUse,
            ErrorCode::RemoteUnreachable => NetError::Unreachable,
            ErrorCode::ConnectionRefused => NetError::ConnectionRefused,
            ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted => NetError::Closed,
            ErrorCode::DatagramTooLarge => NetError::MessageTooLong,
            ErrorCode::NameUnresolvable => NetError::NameUnknown,
            ErrorCode::TemporaryResolverFailure => NetError::NameTemporary,
            ErrorCode::PermanentResolverFailure => NetError::NamePermanent,
            ErrorCode::Unknown => NetError::Unknown,
        }
    }
}

impl From<StreamError> for NetError {
    /// A stream ends either cleanly or because the connection broke; LuaSocket reports
    /// both as "closed".
    fn from(_: StreamError) -> Self {
        NetError::Closed
    }
}
