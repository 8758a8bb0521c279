//! LuaSocket's result shapes, shared by every socket class: `1` or `nil, message`,
//! addresses as `ip, port, family`, family names.

use std::ffi::c_int;
use std::net::SocketAddr;

use super::api::Args;
use crate::net::NetError;
use crate::net::addr::Family;

/// `1` on success, `nil, message` on failure, as most LuaSocket methods answer.
pub fn done(args: &Args, result: Result<(), NetError>) -> c_int {
    match result {
        Ok(()) => {
            args.push_number(1.0);
            1
        }
        Err(e) => args.fail(e.as_str()),
    }
}

/// `ip, port, family`, family spelled "inet"/"inet6" as `getsockname` spells it.
pub fn address(args: &Args, address: Result<SocketAddr, NetError>) -> c_int {
    match address {
        Ok(a) => {
            args.push_str(&a.ip().to_string());
            args.push_integer(i64::from(a.port()));
            args.push_str(if a.is_ipv4() { "inet" } else { "inet6" });
            3
        }
        Err(e) => args.fail(e.as_str()),
    }
}

/// The family as `getfamily` spells it.
pub fn family(args: &Args, family: Option<Family>) -> c_int {
    args.push_str(match family {
        Some(Family::Inet4) => "inet4",
        Some(Family::Inet6) => "inet6",
        None => "unspec",
    });
    1
}

/// `tostring(sock)`: "class: 0x…".
pub fn describe(args: &Args, class: &std::ffi::CStr) -> c_int {
    let text = format!(
        "{}: {:p}",
        class.to_string_lossy(),
        super::api::address(args, 1)
    );
    args.push_str(&text);
    1
}

/// `setfd`'s effect on the descriptor registry, once the object took the number.
pub fn after_setfd(args: &Args, fd: i64) -> c_int {
    if fd >= 0 {
        super::select::remember_fd(args, 1, fd);
    }
    0
}
