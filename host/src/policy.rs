//! What a sandboxed script may reach on the network: data the embedder hands in, checked
//! at one choke point (wasmtime-wasi's socket address check, and our name-lookup filter).
//!
//! Deny by default. A rule names a host (IP, CIDR, name, or `*`) and optionally a port or
//! port range, as the CLI's `--allow-net=127.0.0.1:8080,[::1],10.0.0.0/8,example.org:443`.
//! Names are allowed to be looked up, and the addresses they resolve to become reachable
//! on the rule's ports for the rest of the run.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use wasmtime_wasi::sockets::SocketAddrUse;

/// Which hosts a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Any,
    Net { addr: IpAddr, prefix: u8 },
    Name(String),
}

/// Which ports a rule covers (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub low: u16,
    pub high: u16,
}

impl Ports {
    pub const ALL: Ports = Ports {
        low: 0,
        high: u16::MAX,
    };

    fn contains(self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub host: HostPattern,
    pub ports: Ports,
}

/// Why a rule did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network rule '{rule}': {why}")]
pub struct RuleError {
    rule: String,
    why: &'static str,
}

impl Rule {
    /// Parses one rule: `HOST[:PORT[-PORT]]`, with IPv6 in brackets when a port follows
    /// (`[::1]:80`), CIDR as `10.0.0.0/8` or `[fd00::]/8`, `*` for any host.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let err = |why| RuleError {
            rule: text.to_owned(),
            why,
        };
        let (host, port) = split_host_port(text).ok_or_else(|| err("unbalanced brackets"))?;
        let ports = match port {
            None => Ports::ALL,
            Some(p) => parse_ports(p).ok_or_else(|| err("bad port or port range"))?,
        };
        let host = parse_host(host).ok_or_else(|| err("bad host, address or CIDR"))?;
        Ok(Rule { host, ports })
    }

    fn covers_ip(&self, ip: IpAddr) -> bool {
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Net { addr, prefix } => in_net(ip, *addr, *prefix),
            HostPattern::Name(_) => false,
        }
    }

    fn covers_name(&self, name: &str) -> bool {
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Name(n) => n.eq_ignore_ascii_case(name.trim_end_matches('.')),
            HostPattern::Net { .. } => false,
        }
    }
}

fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let close = rest.find(']')?;
        let (inside, after) = (&rest[..close], &rest[close + 1..]);
        // `[fd00::]/8` keeps its prefix length with the host part.
        let (prefix, after) = match after.strip_prefix('/') {
            Some(p) => {
                let end = p.find(':').unwrap_or(p.len());
                (Some(&p[..end]), &p[end..])
            }
            None => (None, after),
        };
        let port = match after {
            "" => None,
            a => Some(a.strip_prefix(':')?),
        };
        let host_len = 1 + inside.len() + 1 + prefix.map_or(0, |p| p.len() + 1);
        return Some((&text[..host_len], port));
    }
    // More than one colon without brackets: a bare IPv6 address, no port.
    if text.matches(':').count() > 1 {
        return Some((text, None));
    }
    Some(match text.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    })
}

fn parse_ports(text: &str) -> Option<Ports> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    let ports = Ports {
        low: low.parse().ok()?,
        high: high.parse().ok()?,
    };
    (ports.low <= ports.high).then_some(ports)
}

fn parse_host(text: &str) -> Option<HostPattern> {
    if text == "*" {
        return Some(HostPattern::Any);
    }
    let unbracketed = text.replacen(['[', ']'], "", 2);
    let (addr, prefix) = match unbracketed.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (unbracketed.as_str(), None),
    };
    if let Ok(ip) = addr.parse::<IpAddr>() {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        return (prefix <= max).then_some(HostPattern::Net { addr: ip, prefix });
    }
    let is_name = prefix.is_none()
        && !text.is_empty()
        && text.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    is_name.then(|| HostPattern::Name(text.to_ascii_lowercase()))
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    // IPv4-mapped IPv6 peers count as the IPv4 address they carry.
    let ip = ip.to_canonical();
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            mask_eq(u32::from(a).into(), u32::from(n).into(), prefix, 32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => mask_eq(u128::from(a), u128::from(n), prefix, 128),
        _ => false,
    }
}

fn mask_eq(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    let shift = width - u32::from(prefix);
    shift >= width || (a >> shift) == (b >> shift)
}

/// One denied operation, for the embedder's log.
#[derive(Debug, Clone)]
pub struct Denial {
    pub what: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// Called with each denial; the CLI prints them, pointing at `--allow-net`.
pub type DenialHook = Arc<dyn Fn(&Denial) + Send + Sync>;

/// The network policy of one sandbox.
#[derive(Clone, Default)]
pub struct NetPolicy {
    rules: Vec<Rule>,
    /// Addresses learned from looking up allowed names, with those rules' ports.
    learned: Arc<Mutex<Vec<(IpAddr, Ports)>>>,
    on_denied: Option<DenialHook>,
}

impl fmt::Debug for NetPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetPolicy")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl NetPolicy {
    /// Nothing allowed.
    pub fn deny_all() -> NetPolicy {
        NetPolicy::default()
    }

    /// Everything allowed (`--allow-net` with no list).
    pub fn allow_all() -> NetPolicy {
        NetPolicy::default().with_rule(Rule {
            host: HostPattern::Any,
            ports: Ports::ALL,
        })
    }

    /// Parses a comma-separated list of rules.
    pub fn parse(list: &str) -> Result<NetPolicy, RuleError> {
        let mut policy = NetPolicy::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            policy.rules.push(Rule::parse(item)?);
        }
        Ok(policy)
    }

    pub fn with_rule(mut self, rule: Rule) -> NetPolicy {
        self.rules.push(rule);
        self
    }

    pub fn extend(&mut self, other: NetPolicy) {
        self.rules.extend(other.rules);
    }

    pub fn on_denied(mut self, hook: DenialHook) -> NetPolicy {
        self.on_denied = Some(hook);
        self
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn allows_endpoint(&self, ip: IpAddr, port: Option<u16>) -> bool {
        let port_ok = |ports: Ports| port.is_none_or(|p| ports.contains(p));
        self.rules
            .iter()
            .any(|r| r.covers_ip(ip) && port_ok(r.ports))
            || self.learned.lock().is_ok_and(|l| {
                l.iter()
                    .any(|&(a, ports)| a == ip.to_canonical() && port_ok(ports))
            })
    }

    /// The socket address check: may the script use `addr` this way?
    pub fn allows(&self, addr: SocketAddr, usage: SocketAddrUse) -> bool {
        let (ip, port) = (addr.ip(), addr.port());
        match usage {
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => {
                self.allows_endpoint(ip, Some(port))
            }
            // An ephemeral local port is what every client needs (wasi binds one
            // implicitly before connecting); only the address it sits on matters.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind if port == 0 => {
                ip.is_unspecified() || self.allows_endpoint(ip, None)
            }
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind | SocketAddrUse::TcpListen => {
                self.allows_endpoint(ip, Some(port))
            }
            // Peers of an allowed server, or of an allowed UDP exchange, come from any port.
            SocketAddrUse::TcpAccept | SocketAddrUse::UdpReceive => self.allows_endpoint(ip, None),
        }
    }

    /// The one check every socket operation goes through, whichever wasi:sockets
    /// implementation runs: allowed, or the denial reported (the CLI prints it).
    pub fn check(&self, addr: SocketAddr, usage: SocketAddrUse) -> bool {
        let allowed = self.allows(addr, usage);
        if !allowed {
            self.report(format!("{} {addr}", describe_use(usage)));
        }
        allowed
    }

    /// May the script look `name` up?
    pub fn allows_name(&self, name: &str) -> bool {
        self.rules.iter().any(|r| r.covers_name(name))
    }

    /// Records that the allowed `name` resolved to `ip`, opening it on the name's ports.
    pub fn learn(&self, name: &str, ip: IpAddr) {
        let Ok(mut learned) = self.learned.lock() else {
            return;
        };
        for rule in self.rules.iter().filter(|r| r.covers_name(name)) {
            let entry = (ip.to_canonical(), rule.ports);
            if !learned.contains(&entry) {
                learned.push(entry);
            }
        }
    }

    /// Reports a denial to the hook, if any.
    pub fn report(&self, what: String) {
        if let Some(hook) = &self.on_denied {
            hook(&Denial { what });
        }
    }

    /// Whether anything at all is allowed.
    pub fn is_deny_all(&self) -> bool {
        self.rules.is_empty()
    }
}

/// How a denied use reads in a message.
pub fn describe_use(usage: SocketAddrUse) -> &'static str {
    match usage {
        SocketAddrUse::TcpBind => "TCP bind to",
        SocketAddrUse::TcpConnect => "TCP connect to",
        SocketAddrUse::TcpAccept => "TCP accept from",
        SocketAddrUse::UdpBind => "UDP bind to",
        SocketAddrUse::TcpListen => "TCP listen on",
        SocketAddrUse::UdpSend => "UDP send to",
        SocketAddrUse::UdpReceive => "UDP receive from",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_documented_forms() {
        let p = NetPolicy::parse(
            "127.0.0.1:8080,[::1],10.0.0.0/8,example.org:443,[fd00::]/8:80-90,*:53,::2",
        )
        .unwrap();
        let hosts: Vec<_> = p
            .rules()
            .iter()
            .map(|r| (r.host.clone(), r.ports))
            .collect();
        assert_eq!(
            hosts[0],
            (
                HostPattern::Net {
                    addr: "127.0.0.1".parse().unwrap(),
                    prefix: 32
                },
                Ports {
                    low: 8080,
                    high: 8080
                }
            )
        );
        assert_eq!(
            hosts[1],
            (
                HostPattern::Net {
                    addr: "::1".parse().unwrap(),
                    prefix: 128
                },
                Ports::ALL
            )
        );
        assert_eq!(
            hosts[2],
            (
                HostPattern::Net {
                    addr: "10.0.0.0".parse().unwrap(),
                    prefix: 8
                },
                Ports::ALL
            )
        );
        assert_eq!(
            hosts[3],
            (
                HostPattern::Name("example.org".into()),
                Ports {
                    low: 443,
                    high: 443
                }
            )
        );
        assert_eq!(
            hosts[4],
            (
                HostPattern::Net {
                    addr: "fd00::".parse().unwrap(),
                    prefix: 8
                },
                Ports { low: 80, high: 90 }
            )
        );
        assert_eq!(hosts[5], (HostPattern::Any, Ports { low: 53, high: 53 }));
        assert_eq!(
            hosts[6],
            (
                HostPattern::Net {
                    addr: "::2".parse().unwrap(),
                    prefix: 128
                },
                Ports::ALL
            )
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "[::1",
            "1.2.3.4:99999",
            "1.2.3.4:9-1",
            "10.0.0.0/33",
            "bad host",
            "a..b",
            "[::1]x",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deny_by_default() {
        let p = NetPolicy::deny_all();
        assert!(!p.allows(sa("127.0.0.1:80"), SocketAddrUse::TcpConnect));
        assert!(!p.allows_name("localhost"));
    }

    #[test]
    fn connect_needs_host_and_port() {
        let p = NetPolicy::parse("127.0.0.1:8080,10.0.0.0/8").unwrap();
        assert!(p.allows(sa("127.0.0.1:8080"), SocketAddrUse::TcpConnect));
        assert!(!p.allows(sa("127.0.0.1:8081"), SocketAddrUse::TcpConnect));
        assert!(p.allows(sa("10.200.3.4:1"), SocketAddrUse::TcpConnect));
        assert!(!p.allows(sa("11.0.0.1:1"), SocketAddrUse::TcpConnect));
        assert!(!p.allows(sa("[::1]:8080"), SocketAddrUse::TcpConnect));
        assert!(
            p.allows(sa("[::ffff:127.0.0.1]:8080"), SocketAddrUse::TcpConnect),
            "mapped IPv4"
        );
    }

    #[test]
    fn ephemeral_binds_and_server_peers() {
        let p = NetPolicy::parse("127.0.0.1:8080").unwrap();
        assert!(
            p.allows(sa("0.0.0.0:0"), SocketAddrUse::TcpBind),
            "implicit client bind"
        );
        assert!(p.allows(sa("127.0.0.1:0"), SocketAddrUse::TcpBind));
        assert!(!p.allows(sa("10.0.0.1:0"), SocketAddrUse::TcpBind));
        assert!(p.allows(sa("127.0.0.1:8080"), SocketAddrUse::TcpBind));
        assert!(!p.allows(sa("127.0.0.1:9000"), SocketAddrUse::TcpBind));
        assert!(
            !p.allows(sa("0.0.0.0:8080"), SocketAddrUse::TcpBind),
            "the wildcard is not loopback"
        );
        assert!(p.allows(sa("127.0.0.1:51234"), SocketAddrUse::TcpAccept));
    }

    #[test]
    fn names_are_looked_up_then_their_addresses_open_on_their_ports() {
        let p = NetPolicy::parse("LocalHost:443").unwrap();
        assert!(p.allows_name("localhost"));
        assert!(p.allows_name("localhost."));
        assert!(!p.allows_name("example.org"));
        assert!(!p.allows(sa("127.0.0.1:443"), SocketAddrUse::TcpConnect));
        p.learn("localhost", "127.0.0.1".parse().unwrap());
        assert!(p.allows(sa("127.0.0.1:443"), SocketAddrUse::TcpConnect));
        assert!(!p.allows(sa("127.0.0.1:80"), SocketAddrUse::TcpConnect));
    }
}
