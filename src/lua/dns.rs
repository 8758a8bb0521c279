//! `socket.dns`: the Lua face of [`net::dns`].

use std::ffi::c_int;
use std::net::IpAddr;

use super::api::{Args, Entry, LuaResult, Raise, cfunction, set_functions};
use crate::net::dns::{self, HostEntry};

/// Pushes the `dns` table.
pub fn push_table(args: &Args) {
    let functions: &[Entry] = &[
        (c"gethostname", cfunction!(gethostname)),
        (c"getaddrinfo", cfunction!(getaddrinfo)),
        (c"getnameinfo", cfunction!(getnameinfo)),
        (c"tohostname", cfunction!(tohostname)),
        (c"toip", cfunction!(toip)),
    ];
    args.new_table(0, functions.len() as c_int);
    // SAFETY: the table is on top of the C function's stack.
    unsafe { set_functions(args.state(), functions) };
}

/// LuaSocket's "resolved" table: `{name = ..., alias = {...}, ip = {...}}`.
fn push_entry(args: &Args, entry: &HostEntry) {
    args.new_table(0, 3);
    args.push_str(&entry.name);
    args.set_field(-2, c"name");
    push_list(args, entry.aliases.iter().map(String::as_str));
    args.set_field(-2, c"alias");
    let ips: Vec<String> = entry.ips.iter().map(IpAddr::to_string).collect();
    push_list(args, ips.iter().map(String::as_str));
    args.set_field(-2, c"ip");
}

fn push_list<'a>(args: &Args, items: impl Iterator<Item = &'a str>) {
    args.new_table(0, 0);
    for (i, item) in items.enumerate() {
        args.push_str(item);
        args.set_index(-2, i as i64 + 1);
    }
}

fn toip(args: &Args) -> LuaResult<c_int> {
    let host = args.str(1)?;
    match dns::to_ip(&host) {
        Ok(entry) => {
            args.push_str(&entry.ips[0].to_string());
            push_entry(args, &entry);
            Ok(2)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn tohostname(args: &Args) -> LuaResult<c_int> {
    let host = args.str(1)?;
    match dns::to_hostname(&host) {
        Ok(entry) => {
            args.push_str(&entry.name);
            push_entry(args, &entry);
            Ok(2)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn getaddrinfo(args: &Args) -> LuaResult<c_int> {
    let host = args.str(1)?;
    match dns::get_addr_info(&host) {
        Ok(ips) => {
            args.new_table(ips.len() as c_int, 0);
            for (i, ip) in ips.iter().enumerate() {
                args.new_table(0, 2);
                args.push_str(if ip.is_ipv4() { "inet" } else { "inet6" });
                args.set_field(-2, c"family");
                args.push_str(&ip.to_string());
                args.set_field(-2, c"addr");
                args.set_index(-2, i as i64 + 1);
            }
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn getnameinfo(args: &Args) -> LuaResult<c_int> {
    let host = args.opt_str(1)?;
    let service = args.opt_str(2)?;
    if host.is_none() && service.is_none() {
        return Err(Raise::Message("host and serv cannot be both nil".into()));
    }
    match dns::get_name_info(host.as_deref(), service.as_deref()) {
        Ok((names, service)) => {
            // Without a host, LuaSocket's list of names is there, and empty.
            push_list(args, names.iter().map(String::as_str));
            match service {
                Some(s) => args.push_str(&s),
                None => args.push_nil(),
            }
            Ok(2)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn gethostname(args: &Args) -> LuaResult<c_int> {
    args.push_str(&dns::host_name());
    Ok(1)
}
