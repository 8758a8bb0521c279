//! `luasocket:socket/dns` over [`net::dns`].

use super::Component;
use crate::exports::luasocket::socket::dns::{AddressInfo, ErrorCode, Family, Guest, HostEntry};
use crate::net::dns;

fn entry(e: dns::HostEntry) -> HostEntry {
    HostEntry {
        name: e.name,
        aliases: e.aliases,
        ips: e.ips.iter().map(|ip| ip.to_string()).collect(),
    }
}

impl Guest for Component {
    fn to_ip(host: String) -> Result<HostEntry, ErrorCode> {
        dns::to_ip(&host).map(entry).map_err(ErrorCode::from)
    }

    fn to_hostname(host: String) -> Result<HostEntry, ErrorCode> {
        dns::to_hostname(&host).map(entry).map_err(ErrorCode::from)
    }

    fn get_addr_info(host: String) -> Result<Vec<AddressInfo>, ErrorCode> {
        let ips = dns::get_addr_info(&host).map_err(ErrorCode::from)?;
        Ok(ips
            .into_iter()
            .map(|ip| AddressInfo {
                family: if ip.is_ipv4() {
                    Family::Inet4
                } else {
                    Family::Inet6
                },
                addr: ip.to_string(),
            })
            .collect())
    }

    fn get_name_info(
        host: Option<String>,
        service: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), ErrorCode> {
        if host.is_none() && service.is_none() {
            return Err(ErrorCode::InvalidArgument);
        }
        dns::get_name_info(host.as_deref(), service.as_deref()).map_err(ErrorCode::from)
    }

    fn get_hostname() -> String {
        dns::host_name()
    }
}
