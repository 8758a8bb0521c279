//! LuaSocket's `socket.dns` over what WASI 0.2 offers: forward lookup only.
//!
//! There is no reverse lookup, no canonical name and no host name in wasi:sockets 0.2, and
//! the component imports nothing else. The answers below are what `getnameinfo` gives
//! when it finds no name (the numeric address), the name as the script wrote it where a
//! canonical name would be, and for the machine's name whatever the host put in the
//! sandbox's `HOSTNAME` variable, else "localhost".

use std::net::IpAddr;

use super::addr::{self, lookup, parse_literal};
use super::error::{NetError, NetResult};

/// What `toip` and `tohostname` describe a host with (LuaSocket's "resolved" table).
#[derive(Debug, Clone, PartialEq)]
pub struct HostEntry {
    pub name: String,
    pub aliases: Vec<String>,
    pub ips: Vec<IpAddr>,
}

/// Addresses of `host`: the literal itself, or a forward lookup.
fn addresses(host: &str) -> NetResult<Vec<IpAddr>> {
    match parse_literal(host) {
        Some(ip) => Ok(vec![ip]),
        None => lookup(host),
    }
}

/// `toip`: gethostbyname's view, IPv4 only; failures are "host not found" unless the
/// host refused the lookup.
pub fn to_ip(host: &str) -> NetResult<HostEntry> {
    let ips: Vec<IpAddr> = addresses(host)
        .map_err(not_found)?
        .into_iter()
        .filter(IpAddr::is_ipv4)
        .collect();
    if ips.is_empty() {
        return Err(NetError::HostNotFound);
    }
    Ok(HostEntry {
        name: host.to_owned(),
        aliases: Vec::new(),
        ips,
    })
}

/// `tohostname`: with no reverse lookup, an address names itself; a name is looked up
/// to confirm it exists and stands for itself.
pub fn to_hostname(host: &str) -> NetResult<HostEntry> {
    let ips = addresses(host).map_err(not_found)?;
    if ips.is_empty() {
        return Err(NetError::HostNotFound);
    }
    Ok(HostEntry {
        name: host.to_owned(),
        aliases: Vec::new(),
        ips,
    })
}

fn not_found(e: NetError) -> NetError {
    match e {
        NetError::PermissionDenied => e,
        _ => NetError::HostNotFound,
    }
}

/// `getaddrinfo`: every address, IPv4 and IPv6, in the resolver's order.
pub fn get_addr_info(host: &str) -> NetResult<Vec<IpAddr>> {
    addr::resolve(host, None)
}

/// `getnameinfo`: the numeric form of each address (what getnameinfo answers when no
/// name is found), and the service name of `port`.
pub fn get_name_info(
    host: Option<&str>,
    service: Option<&str>,
) -> NetResult<(Vec<String>, Option<String>)> {
    let names = match host {
        Some(h) => addresses(h)?.iter().map(IpAddr::to_string).collect(),
        None => Vec::new(),
    };
    let service = service.map(service_name).transpose()?;
    Ok((names, service))
}

/// A port's well-known name, or its number.
fn service_name(service: &str) -> NetResult<String> {
    let port = addr::parse_port(service)?;
    Ok(addr::service_of(port).map_or_else(|| port.to_string(), str::to_owned))
}

/// `gethostname`.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_answer_without_lookup() {
        let e = to_ip("127.0.0.1").unwrap();
        assert_eq!(e.name, "127.0.0.1");
        assert_eq!(e.ips, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            to_ip("::1"),
            Err(NetError::HostNotFound),
            "toip is IPv4 only"
        );
        assert_eq!(to_hostname("::1").unwrap().name, "::1");
    }

    #[test]
    fn name_info_is_numeric() {
        assert_eq!(
            get_name_info(Some("::1"), Some("80")).unwrap(),
            (vec!["::1".to_owned()], Some("http".to_owned()))
        );
        assert_eq!(
            get_name_info(None, Some("8080")).unwrap(),
            (vec![], Some("8080".to_owned()))
        );
    }
}
