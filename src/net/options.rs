//! Socket options: every name LuaSocket knows, and what each means on wasi:sockets 0.2.
//!
//! Three kinds: options wasi:sockets has (keep-alive, buffer sizes, hop limits) are real;
//! options whose effect WASI fixes or cannot express but that scripts commonly set and
//! read back (`reuseaddr`, `tcp-nodelay`, `linger`…) are remembered and reported back;
//! the rest are refused as an OS refuses an option it lacks (`"setsockopt failed"`).

use super::error::{NetError, NetResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// The value an option takes, as LuaSocket checks it.
#[derive(Debug, Clone, PartialEq)]
pub enum OptValue {
    Bool(bool),
    Int(i64),
    /// `linger`: `{on = bool, timeout = seconds}`.
    Linger {
        on: bool,
        timeout: i64,
    },
    /// Multicast memberships: `{multiaddr = ip, interface = ip}`.
    Membership {
        multiaddr: String,
        interface: String,
    },
    /// `ip-multicast-if` and `bindtodevice`: an address or device name.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Linger,
    Membership,
    Text,
}

/// What happens to an option here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Set and read through wasi:sockets.
    Wasi,
    /// Kept by the socket and reported back; no effect on the wire.
    Remembered,
    /// `nil, "setsockopt failed"` / `"getsockopt failed"`.
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOpt {
    KeepAlive,
    ReuseAddr,
    ReusePort,
    TcpNoDelay,
    KeepIdle,
    KeepCount,
    KeepInterval,
    V6Only,
    Linger,
    RecvBufferSize,
    SendBufferSize,
    TcpDeferAccept,
    TcpFastOpen,
    TcpFastOpenConnect,
    BindToDevice,
    DontRoute,
    Broadcast,
    MulticastIf,
    MulticastTtl,
    MulticastLoop,
    AddMembership,
    DropMembership,
    UnicastHops,
    V6MulticastHops,
    V6MulticastLoop,
    V6AddMembership,
    V6DropMembership,
}

/// A buffer size as wasi takes it. Linux takes 0 too and raises any size to its minimum;
/// wasi refuses 0, so 0 asks for the smallest there is.
pub fn buffer_size(n: i64) -> Result<u64, Refusal> {
    u64::try_from(n).map(|n| n.max(1)).map_err(|_| Refusal)
}

/// Every option: its LuaSocket name, the protocols that accept it, its value kind, and
/// what it does here.
const TABLE: &[(SockOpt, &str, &[Proto], Kind, Support)] = {
    use Kind::*;
    use Proto::*;
    use SockOpt::*;
    use Support::*;
    &[
        (KeepAlive, "keepalive", &[Tcp], Bool, Wasi),
        (ReuseAddr, "reuseaddr", &[Tcp, Udp], Bool, Remembered),
        (ReusePort, "reuseport", &[Tcp, Udp], Bool, Refused),
        (TcpNoDelay, "tcp-nodelay", &[Tcp], Bool, Remembered),
        (KeepIdle, "tcp-keepidle", &[Tcp], Int, Wasi),
        (KeepCount, "tcp-keepcnt", &[Tcp], Int, Wasi),
        (KeepInterval, "tcp-keepintvl", &[Tcp], Int, Wasi),
        (V6Only, "ipv6-v6only", &[Tcp, Udp], Bool, Wasi),
        (SockOpt::Linger, "linger", &[Tcp], Kind::Linger, Remembered),
        (RecvBufferSize, "recv-buffer-size", &[Tcp, Udp], Int, Wasi),
        (SendBufferSize, "send-buffer-size", &[Tcp, Udp], Int, Wasi),
        (TcpDeferAccept, "tcp-defer-accept", &[Tcp], Int, Refused),
        (TcpFastOpen, "tcp-fastopen", &[Tcp], Int, Refused),
        (
            TcpFastOpenConnect,
            "tcp-fastopen-connect",
            &[Tcp],
            Int,
            Refused,
        ),
        (BindToDevice, "bindtodevice", &[Tcp], Text, Refused),
        (DontRoute, "dontroute", &[Udp], Bool, Refused),
        (Broadcast, "broadcast", &[Udp], Bool, Refused),
        (MulticastIf, "ip-multicast-if", &[Udp], Text, Refused),
        (MulticastTtl, "ip-multicast-ttl", &[Udp], Int, Refused),
        (MulticastLoop, "ip-multicast-loop", &[Udp], Bool, Refused),
        (
            AddMembership,
            "ip-add-membership",
            &[Udp],
            Membership,
            Refused,
        ),
        (
            DropMembership,
            "ip-drop-membership",
            &[Udp],
            Membership,
            Refused,
        ),
        (UnicastHops, "ipv6-unicast-hops", &[Udp], Int, Wasi),
        (V6MulticastHops, "ipv6-multicast-hops", &[Udp], Int, Refused),
        (
            V6MulticastLoop,
            "ipv6-multicast-loop",
            &[Udp],
            Bool,
            Refused,
        ),
        (
            V6AddMembership,
            "ipv6-add-membership",
            &[Udp],
            Membership,
            Refused,
        ),
        (
            V6DropMembership,
            "ipv6-drop-membership",
            &[Udp],
            Membership,
            Refused,
        ),
    ]
};

impl SockOpt {
    /// The option `name` as `proto` sockets know it.
    pub fn parse(name: &str, proto: Proto) -> Option<SockOpt> {
        TABLE
            .iter()
            .find(|row| row.1 == name && row.2.contains(&proto))
            .map(|row| row.0)
    }

    fn row(self) -> &'static (SockOpt, &'static str, &'static [Proto], Kind, Support) {
        TABLE.iter().find(|row| row.0 == self).unwrap_or(&TABLE[0])
    }

    pub fn name(self) -> &'static str {
        self.row().1
    }

    pub fn kind(self) -> Kind {
        self.row().3
    }

    pub fn support(self) -> Support {
        self.row().4
    }

    /// Whether getoption knows the option on `proto`: LuaSocket's get tables lack some of
    /// the settable ones, and getoption raises `unsupported option` for those.
    pub fn gettable(self, proto: Proto) -> bool {
        use SockOpt::*;
        !matches!(
            (self, proto),
            (
                TcpDeferAccept | TcpFastOpen | TcpFastOpenConnect | V6Only,
                Proto::Tcp
            ) | (
                MulticastTtl | AddMembership | DropMembership | V6AddMembership | V6DropMembership,
                Proto::Udp
            )
        )
    }

    /// What a remembered option reads before it is set: what the socket actually does.
    pub fn default_value(self) -> OptValue {
        match self.kind() {
            Kind::Bool => OptValue::Bool(false),
            Kind::Int => OptValue::Int(0),
            Kind::Linger => OptValue::Linger {
                on: false,
                timeout: 0,
            },
            Kind::Membership => OptValue::Membership {
                multiaddr: String::new(),
                interface: String::new(),
            },
            Kind::Text => OptValue::Text(String::new()),
        }
    }
}

/// All option names a protocol accepts, for documentation and tests.
pub fn names(proto: Proto) -> impl Iterator<Item = &'static str> {
    TABLE
        .iter()
        .filter(move |row| row.2.contains(&proto))
        .map(|row| row.1)
}

/// Options remembered by a socket (and, for a socket whose wasi resource does not exist
/// yet, wasi options waiting to be applied).
#[derive(Debug, Default, Clone)]
pub struct Remembered(Vec<(SockOpt, OptValue)>);

impl Remembered {
    pub fn set(&mut self, opt: SockOpt, value: OptValue) {
        match self.0.iter_mut().find(|(o, _)| *o == opt) {
            Some(slot) => slot.1 = value,
            None => self.0.push((opt, value)),
        }
    }

    pub fn get(&self, opt: SockOpt) -> Option<&OptValue> {
        self.0.iter().find(|(o, _)| *o == opt).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(SockOpt, OptValue)> {
        self.0.iter()
    }
}

/// The socket would not take or give the option. All such failures read alike to a
/// script: "setsockopt failed" / "getsockopt failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal;

/// A wasi socket that carries the real options.
pub trait OptionTarget {
    fn apply(&self, opt: SockOpt, value: &OptValue) -> Result<(), Refusal>;
    fn read(&self, opt: SockOpt) -> Result<OptValue, Refusal>;
}

/// `setoption` for any socket; `target` is its wasi socket, if it exists yet.
pub fn set(
    remembered: &mut Remembered,
    target: Option<&dyn OptionTarget>,
    opt: SockOpt,
    value: OptValue,
) -> NetResult<()> {
    match (opt.support(), target) {
        (Support::Refused, _) => Err(NetError::SetOptionFailed),
        (Support::Wasi, Some(t)) => t
            .apply(opt, &value)
            .map_err(|Refusal| NetError::SetOptionFailed),
        // Remembered ones, and wasi ones waiting for their socket (see `apply_pending`).
        _ => {
            remembered.set(opt, value);
            Ok(())
        }
    }
}

/// `getoption` for any socket.
pub fn get(
    remembered: &Remembered,
    target: Option<&dyn OptionTarget>,
    opt: SockOpt,
) -> NetResult<OptValue> {
    match (opt.support(), target) {
        (Support::Refused, _) => Err(NetError::GetOptionFailed),
        (Support::Wasi, Some(t)) => t.read(opt).map_err(|Refusal| NetError::GetOptionFailed),
        _ => Ok(remembered
            .get(opt)
            .cloned()
            .unwrap_or_else(|| opt.default_value())),
    }
}

/// Applies the wasi options set before the socket existed, once it does.
pub fn apply_pending(remembered: &Remembered, target: &dyn OptionTarget) {
    for (opt, value) in remembered
        .iter()
        .filter(|(o, _)| o.support() == Support::Wasi)
    {
        let _ = target.apply(*opt, value);
    }
}

/// Seconds as wasi durations (nanoseconds), for the keep-alive timers.
pub fn secs_to_ns(secs: i64) -> Option<u64> {
    u64::try_from(secs)
        .ok()
        .and_then(|s| s.checked_mul(1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_luasocket_name_is_known() {
        let tcp = [
            "keepalive",
            "reuseaddr",
            "reuseport",
            "tcp-nodelay",
            "tcp-keepidle",
            "tcp-keepcnt",
            "tcp-keepintvl",
            "ipv6-v6only",
            "linger",
            "recv-buffer-size",
            "send-buffer-size",
            "tcp-defer-accept",
            "tcp-fastopen",
            "tcp-fastopen-connect",
            "bindtodevice",
        ];
        let udp = [
            "dontroute",
            "broadcast",
            "reuseaddr",
            "reuseport",
            "ip-multicast-if",
            "ip-multicast-ttl",
            "ip-multicast-loop",
            "ip-add-membership",
            "ip-drop-membership",
            "ipv6-unicast-hops",
            "ipv6-multicast-hops",
            "ipv6-multicast-loop",
            "ipv6-add-membership",
            "ipv6-drop-membership",
            "ipv6-v6only",
            "recv-buffer-size",
            "send-buffer-size",
        ];
        for n in tcp {
            assert_eq!(SockOpt::parse(n, Proto::Tcp).map(SockOpt::name), Some(n));
        }
        for n in udp {
            assert_eq!(SockOpt::parse(n, Proto::Udp).map(SockOpt::name), Some(n));
        }
        assert_eq!(names(Proto::Tcp).count(), tcp.len());
        assert_eq!(names(Proto::Udp).count(), udp.len());
        assert_eq!(SockOpt::parse("broadcast", Proto::Tcp), None);
        assert_eq!(SockOpt::parse("tcp-nodelay", Proto::Udp), None);
    }

    struct Fake;

    impl OptionTarget for Fake {
        fn apply(&self, opt: SockOpt, _: &OptValue) -> Result<(), Refusal> {
            if opt == SockOpt::KeepAlive {
                Ok(())
            } else {
                Err(Refusal)
            }
        }
        fn read(&self, _: SockOpt) -> Result<OptValue, Refusal> {
            Ok(OptValue::Bool(true))
        }
    }

    #[test]
    fn the_three_kinds_behave() {
        let mut r = Remembered::default();
        let fake: &dyn OptionTarget = &Fake;
        assert_eq!(
            set(&mut r, Some(fake), SockOpt::ReusePort, OptValue::Bool(true)),
            Err(NetError::SetOptionFailed)
        );
        assert_eq!(
            get(&r, Some(fake), SockOpt::ReusePort),
            Err(NetError::GetOptionFailed)
        );
        assert_eq!(
            get(&r, Some(fake), SockOpt::TcpNoDelay),
            Ok(OptValue::Bool(false))
        );
        assert_eq!(
            set(
                &mut r,
                Some(fake),
                SockOpt::TcpNoDelay,
                OptValue::Bool(true)
            ),
            Ok(())
        );
        assert_eq!(
            get(&r, Some(fake), SockOpt::TcpNoDelay),
            Ok(OptValue::Bool(true))
        );
        assert_eq!(
            set(&mut r, Some(fake), SockOpt::KeepAlive, OptValue::Bool(true)),
            Ok(())
        );
        assert_eq!(
            set(
                &mut r,
                Some(fake),
                SockOpt::RecvBufferSize,
                OptValue::Int(1)
            ),
            Err(NetError::SetOptionFailed)
        );
        // Before the socket exists, wasi options wait.
        assert_eq!(
            set(&mut r, None, SockOpt::RecvBufferSize, OptValue::Int(4096)),
            Ok(())
        );
        assert_eq!(
            get(&r, None, SockOpt::RecvBufferSize),
            Ok(OptValue::Int(4096))
        );
    }

    #[test]
    fn remembered_values_replace() {
        let mut r = Remembered::default();
        r.set(SockOpt::TcpNoDelay, OptValue::Bool(true));
        r.set(SockOpt::TcpNoDelay, OptValue::Bool(false));
        assert_eq!(r.get(SockOpt::TcpNoDelay), Some(&OptValue::Bool(false)));
        assert_eq!(r.iter().count(), 1);
    }
}
