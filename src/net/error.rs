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
    /// A call on an object with no socket (closed, or never given one): EBADF.
    BadDescriptor,
    InProgress,
    /// The host's sandbox policy refused the address, or the operation as a whole.
    PermissionDenied,
    Unreachable,
    NameUnknown,
    /// A port that is neither a number nor a known service: getaddrinfo's EAI_SERVICE.
    ServiceUnknown,
    /// A literal address of the other family for a socket whose family is fixed:
    /// getaddrinfo's EAI_ADDRFAMILY, in gai_strerror's words (LuaSocket has none).
    FamilyMismatch,
    /// A sendto destination that is not a numeric address and port: EAI_NONAME in
    /// gai_strerror's words, which udp.c's sendto reports instead of LuaSocket's own.
    NotNumeric,
    NameTemporary,
    NamePermanent,
    InvalidArgument,
    FamilyNotSupported,
    TooManySockets,
    OutOfMemory,
    NotSupported,
    /// A TLS operation must wait to read (LuaSec's non-blocking answer, and its timeout).
    WantRead,
    /// A TLS operation must wait to write.
    WantWrite,
    Tls(TlsError),
    /// The handler world's HTTP (`wasi:http`) failed in a way LuaSocket has no word for.
    Http(HttpError),
    Unknown,
}

/// `wasi:http` failures beyond LuaSocket's vocabulary (`net::http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// A header name or value the host refused.
    BadHeader,
    /// A method, scheme, host or path the host refused.
    BadRequest,
    /// The host's TLS with the server failed.
    Tls,
    /// The server broke HTTP (or a size limit of the host's).
    Protocol,
    /// A resource was used twice: a bug in this crate, reported rather than trapped.
    Internal,
}

impl HttpError {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpError::BadHeader => "invalid header",
            HttpError::BadRequest => "invalid request",
            HttpError::Tls => "tls error",
            HttpError::Protocol => "http protocol error",
            HttpError::Internal => "internal error",
        }
    }
}

/// Why TLS failed, in the words a script sees. Certificate problems read as OpenSSL's
/// verification messages do, since scripts written for LuaSec print or match them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsError {
    UnknownIssuer,
    Expired,
    NotYetValid,
    NameMismatch,
    BadSignature,
    Revoked,
    NotAuthorized,
    BadCertificate,
    NoPeerCertificate,
    /// The peer sent a fatal alert about the handshake.
    HandshakeFailure,
    ProtocolVersion,
    NoApplicationProtocol,
    /// The peer sent a fatal alert of another kind.
    PeerAlert,
    /// The peer's records do not decrypt or do not parse.
    Corrupt,
    /// The peer broke the TLS protocol in another way.
    Protocol,
    /// Keying material could not be exported (asked of a session that cannot give it).
    Export,
}

impl TlsError {
    /// What certificate verification found, without the handshake's "certificate verify
    /// failed: " (X509_verify_cert_error_string's words).
    pub fn verify_reason(self) -> &'static str {
        let text = self.as_str();
        text.strip_prefix("certificate verify failed: ")
            .unwrap_or(text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsError::UnknownIssuer => {
                "certificate verify failed: unable to get local issuer certificate"
            }
            TlsError::Expired => "certificate verify failed: certificate has expired",
            TlsError::NotYetValid => "certificate verify failed: certificate is not yet valid",
            TlsError::NameMismatch => "certificate verify failed: hostname mismatch",
            TlsError::BadSignature => "certificate verify failed: certificate signature failure",
            TlsError::Revoked => "certificate verify failed: certificate revoked",
            TlsError::NotAuthorized => "certificate verify failed: unsuitable certificate purpose",
            TlsError::BadCertificate => "certificate verify failed: bad certificate",
            TlsError::NoPeerCertificate => "peer did not return a certificate",
            TlsError::HandshakeFailure => "handshake failure",
            TlsError::ProtocolVersion => "unsupported protocol",
            TlsError::NoApplicationProtocol => "no application protocol",
            TlsError::PeerAlert => "tlsv1 alert from peer",
            TlsError::Corrupt => "decryption failed or bad record mac",
            TlsError::Protocol => "tls protocol error",
            TlsError::Export => "error exporting keying material",
        }
    }
}

impl NetError {
    /// The message LuaSocket returns for this failure.
    pub fn as_str(&self) -> &'static str {
        match self {
            NetError::Timeout => "timeout",
            NetError::Oversized => "oversized",
            NetError::Closed => "closed",
            NetError::ConnectionRefused => "connection refused",
            // As Linux's LuaSocket prints ECONNREFUSED on a UDP socket (udp.c's own
            // "refused" is for IO_CLOSED, which Linux never gives there).
            NetError::Refused => "connection refused",
            NetError::MessageTooLong => "Message too long",
            NetError::HostNotFound => "host not found",
            NetError::SetOptionFailed => "setsockopt failed",
            NetError::GetOptionFailed => "getsockopt failed",
            NetError::AddressInUse => "address already in use",
            NetError::AddressNotAvailable => "Cannot assign requested address",
            NetError::AlreadyConnected => "already connected",
            NetError::NotConnected => "Transport endpoint is not connected",
            NetError::BadDescriptor => "Bad file descriptor",
            NetError::InProgress => "Operation already in progress",
            NetError::PermissionDenied => "permission denied",
            NetError::Unreachable => "Network is unreachable",
            NetError::NameUnknown => "host or service not provided, or not known",
            NetError::ServiceUnknown => "service not supported for socket type",
            NetError::FamilyMismatch => "Address family for hostname not supported",
            NetError::NotNumeric => "Name or service not known",
            NetError::NameTemporary => "temporary failure in name resolution",
            NetError::NamePermanent => "non-recoverable failure in name resolution",
            NetError::InvalidArgument => "Invalid argument",
            NetError::FamilyNotSupported => "address family not supported by protocol",
            NetError::TooManySockets => "too many open files",
            NetError::OutOfMemory => "not enough memory",
            NetError::NotSupported => "Operation not supported",
            NetError::WantRead => "wantread",
            NetError::WantWrite => "wantwrite",
            NetError::Tls(e) => e.as_str(),
            NetError::Http(e) => e.as_str(),
            NetError::Unknown => "unknown error",
        }
    }
}

pub type NetResult<T> = Result<T, NetError>;

impl NetError {
    /// Whether the operation only ran out of time and may be retried.
    pub fn would_block(&self) -> bool {
        matches!(
            self,
            NetError::Timeout | NetError::WantRead | NetError::WantWrite
        )
    }
}

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

/// rustls's failure, as a script sees it.
impl From<&rustls::Error> for TlsError {
    fn from(e: &rustls::Error) -> TlsError {
        use rustls::{AlertDescription, CertificateError, Error as E};
        match e {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsError::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsError::NotYetValid
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsError::NameMismatch,
                CertificateError::BadSignature
                | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
                    TlsError::BadSignature
                }
                CertificateError::Revoked => TlsError::Revoked,
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => TlsError::NotAuthorized,
                _ => TlsError::BadCertificate,
            },
            E::NoCertificatesPresented => TlsError::NoPeerCertificate,
            E::AlertReceived(alert) => match alert {
                AlertDescription::HandshakeFailure => TlsError::HandshakeFailure,
                AlertDescription::ProtocolVersion => TlsError::ProtocolVersion,
                AlertDescription::NoApplicationProtocol => TlsError::NoApplicationProtocol,
                _ => TlsError::PeerAlert,
            },
            E::PeerIncompatible(_) => TlsError::HandshakeFailure,
            E::NoApplicationProtocol => TlsError::NoApplicationProtocol,
            E::DecryptError => TlsError::Corrupt,
            _ => TlsError::Protocol,
        }
    }
}
