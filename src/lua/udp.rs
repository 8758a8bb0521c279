//! The Lua face of [`net::udp::Udp`], shaped as LuaSocket's `udp.c`: classes
//! `udp{unconnected}` and `udp{connected}`, switched by `setpeername`.

use std::cell::Cell;
use std::ffi::{CStr, c_int};
use std::net::{IpAddr, SocketAddr};

use super::api::{Args, Entry, LuaResult, Object, UserClass, cfunction, collect, register_class};
use super::descriptors::remember_fd;
use super::options as opt_args;
use super::results;
use crate::net::NetError;
use crate::net::addr::{self, Family};
use crate::net::options::Proto;
use crate::net::udp::{Class, DATAGRAM_SIZE, MAX_DATAGRAM, Udp};

// SAFETY: LuaSocket's udp class names, used for `Udp` alone.
unsafe impl UserClass for Udp {
    type Kind = Class;
    const KINDS: &'static [Class] = &[Class::Unconnected, Class::Connected];
    const GROUPS: &'static [&'static CStr] = &[c"udp{any}", c"select{able}"];
    const CLASS_FIELD: bool = true;
    const GC_RESULT: Option<f64> = Some(1.0);

    fn name(kind: Class) -> &'static CStr {
        match kind {
            Class::Unconnected => c"udp{unconnected}",
            Class::Connected => c"udp{connected}",
        }
    }
}

impl Default for Udp {
    /// What a collected object leaves behind: closed.
    fn default() -> Udp {
        let mut udp = Udp::new(None)
            .unwrap_or_else(|_| unreachable!("no socket is created without a family"));
        udp.close();
        udp
    }
}

type UdpArg<'a> = LuaResult<Object<'a, Udp>>;

fn any(args: &Args) -> UdpArg<'_> {
    args.object(1, Udp::KINDS)
}

fn unconnected(args: &Args) -> UdpArg<'_> {
    args.object(1, &[Class::Unconnected])
}

fn connected(args: &Args) -> UdpArg<'_> {
    args.object(1, &[Class::Connected])
}

pub fn register(args: &Args) {
    let methods: &[Entry] = &[
        (c"close", cfunction!(close)),
        (c"dirty", cfunction!(dirty)),
        (c"getfamily", cfunction!(getfamily)),
        (c"getfd", cfunction!(getfd)),
        (c"getoption", cfunction!(getoption)),
        (c"getpeername", cfunction!(getpeername)),
        (c"getsockname", cfunction!(getsockname)),
        (c"gettimeout", cfunction!(gettimeout)),
        (c"receive", cfunction!(receive)),
        (c"receivefrom", cfunction!(receivefrom)),
        (c"send", cfunction!(send)),
        (c"sendto", cfunction!(sendto)),
        (c"setfd", cfunction!(setfd)),
        (c"setoption", cfunction!(setoption)),
        (c"setpeername", cfunction!(setpeername)),
        (c"setsockname", cfunction!(setsockname)),
        (c"settimeout", cfunction!(settimeout)),
    ];
    let meta: &[Entry] = &[
        (c"__gc", cfunction!(collect::<Udp>)),
        (c"__tostring", cfunction!(results::tostring)),
    ];
    for &kind in Udp::KINDS {
        // SAFETY: `luaopen_socket_core`'s state, with room to spare.
        unsafe { register_class::<Udp>(args.state(), kind, methods, meta) };
    }
}

/// `socket.udp()`, `udp4()`, `udp6()`.
pub fn create(args: &Args, family: Option<Family>) -> LuaResult<c_int> {
    match Udp::new(family) {
        Ok(udp) => {
            let fd = udp.id();
            args.push_object(udp, Class::Unconnected);
            remember_fd(args, -1, fd);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn sendto(args: &Args) -> LuaResult<c_int> {
    let mut udp = unconnected(args)?;
    let data = args.bytes(2)?;
    let ip = args.str(3)?;
    // Like LuaSocket (AI_NUMERICHOST): an address, never a name to look up. A port given
    // as a Lua integer in range is taken as it is: LuaSocket's luaL_checkstring would
    // format it and getaddrinfo parse it back, which wasi-libc's printf makes a visible
    // share of a small datagram's cost. Anything else goes the way of the text.
    let to = match args.as_integer(4).and_then(|n| u16::try_from(n).ok()) {
        Some(port) => addr::numeric_ip(&ip, udp.family()).map(|ip| SocketAddr::new(ip, port)),
        None => addr::numeric_destination(&ip, &args.str(4)?, udp.family()),
    };
    let deadline = udp.deadline();
    Ok(push_sent(
        args,
        to.and_then(|to| udp.send_to(data, to, &deadline)),
    ))
}

fn send(args: &Args) -> LuaResult<c_int> {
    let mut udp = connected(args)?;
    let data = args.bytes(2)?;
    let deadline = udp.deadline();
    let result = udp.send(data, &deadline);
    Ok(push_sent(args, result))
}

fn push_sent(args: &Args, result: Result<usize, NetError>) -> c_int {
    match result {
        Ok(n) => {
            args.push_number(n as f64);
            1
        }
        Err(e) => args.fail(e.as_str()),
    }
}

/// The size argument: at most what a datagram can hold.
fn size(args: &Args) -> LuaResult<usize> {
    let n = args.opt_number(2)?.unwrap_or(DATAGRAM_SIZE as f64);
    Ok(if n.is_nan() || n < 0.0 {
        0
    } else {
        (n as usize).min(MAX_DATAGRAM)
    })
}

fn receive(args: &Args) -> LuaResult<c_int> {
    let mut udp = any(args)?;
    let size = size(args)?;
    let deadline = udp.deadline();
    match udp.receive(size, &deadline) {
        Ok(d) => {
            args.push_bytes(&d.data);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn receivefrom(args: &Args) -> LuaResult<c_int> {
    let mut udp = unconnected(args)?;
    let size = size(args)?;
    let deadline = udp.deadline();
    match udp.receive(size, &deadline) {
        Ok(d) => {
            args.push_bytes(&d.data);
            push_ip(args, d.from.ip());
            args.push_integer(i64::from(d.from.port()));
            Ok(3)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

thread_local! {
    /// The last address `receivefrom` formatted: a server hears the same few peers over
    /// and over, and formatting an address in wasm costs more than receiving a small
    /// datagram's bytes.
    static LAST_IP: Cell<Option<(IpAddr, String)>> = const { Cell::new(None) };
}

fn push_ip(args: &Args, ip: IpAddr) {
    let text = match LAST_IP.take() {
        Some((seen, text)) if seen == ip => text,
        _ => ip.to_string(),
    };
    // The text is out of the cell while Lua copies it: a memory error there unwinds past
    // this frame, and must leave an empty cache behind, not a borrow that traps the next
    // receivefrom.
    args.push_str(&text);
    LAST_IP.set(Some((ip, text)));
}

fn setpeername(args: &Args) -> LuaResult<c_int> {
    let mut udp = any(args)?;
    let host = args.str(2)?;
    // As udp.c: the port is required, unless the address is "*" (disconnect).
    let result = if host == "*" {
        udp.connect("*", 0)
    } else {
        let port = args.str(3)?;
        addr::parse_port(&port).and_then(|port| udp.connect(&host, port))
    };
    let class = udp.class();
    args.set_class::<Udp>(1, class);
    Ok(results::done(args, result))
}

fn setsockname(args: &Args) -> LuaResult<c_int> {
    let mut udp = unconnected(args)?;
    let host = args.str(2)?;
    let port = args.str(3)?;
    let result = addr::parse_port(&port).and_then(|port| udp.bind(&host, port));
    Ok(results::done(args, result))
}

fn getsockname(args: &Args) -> LuaResult<c_int> {
    let address = any(args)?.local_address();
    Ok(results::address(args, address))
}

fn getpeername(args: &Args) -> LuaResult<c_int> {
    let address = connected(args)?.remote_address();
    Ok(results::address(args, address))
}

fn close(args: &Args) -> LuaResult<c_int> {
    any(args)?.close();
    args.push_number(1.0);
    Ok(1)
}

fn dirty(args: &Args) -> LuaResult<c_int> {
    any(args)?;
    args.push_bool(false);
    Ok(1)
}

fn getfamily(args: &Args) -> LuaResult<c_int> {
    let family = any(args)?.family();
    Ok(results::family(args, family))
}

fn getfd(args: &Args) -> LuaResult<c_int> {
    let fd = any(args)?.fd();
    args.push_number(fd as f64);
    Ok(1)
}

fn setfd(args: &Args) -> LuaResult<c_int> {
    let mut udp = any(args)?;
    let fd = args.number(2)? as i64;
    udp.set_fd(fd);
    Ok(results::after_setfd(args, fd))
}

fn settimeout(args: &Args) -> LuaResult<c_int> {
    let mut udp = any(args)?;
    super::timeout::set(args, |setting| {
        setting.apply(&mut udp.timeout);
        Ok(())
    })
}

fn gettimeout(args: &Args) -> LuaResult<c_int> {
    let timeout = any(args)?.timeout;
    super::timeout::get(args, timeout)
}

fn setoption(args: &Args) -> LuaResult<c_int> {
    let mut udp = any(args)?;
    let opt = opt_args::name(args, Proto::Udp)?;
    let value = opt_args::value(args, opt)?;
    let result = udp.set_option(opt, value);
    Ok(opt_args::push_set(args, result))
}

fn getoption(args: &Args) -> LuaResult<c_int> {
    let udp = any(args)?;
    if args.bytes(2)? == b"error" {
        args.push_nil();
        return Ok(1);
    }
    let opt = opt_args::gettable_name(args, Proto::Udp)?;
    let value = udp.get_option(opt);
    Ok(opt_args::push_value(args, value))
}
