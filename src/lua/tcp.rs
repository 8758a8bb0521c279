//! The Lua face of [`net::tcp::Tcp`]: argument checking and result shapes as LuaSocket's
//! `tcp.c` has them, nothing more. Every method is registered for the three classes and
//! checks the class itself, so calling one on the wrong class raises LuaSocket's
//! "tcp{client} expected".

use std::ffi::{CStr, c_int};

use super::api::{
    Args, Entry, LuaResult, Object, Raise, UserClass, cfunction, collect, register_class,
};
use super::descriptors::remember_fd;
use super::options as opt_args;
use super::results;
use super::stream;
use crate::net::addr::{self, Family};
use crate::net::options::Proto;
use crate::net::tcp::{Class, Shutdown, Tcp};

// SAFETY: LuaSocket's tcp class names, used for `Tcp` alone.
unsafe impl UserClass for Tcp {
    type Kind = Class;
    const KINDS: &'static [Class] = &[Class::Master, Class::Client, Class::Server];
    const GROUPS: &'static [&'static CStr] = &[c"tcp{any}"];
    const CLASS_FIELD: bool = true;
    const GC_RESULT: Option<f64> = Some(1.0);

    fn name(kind: Class) -> &'static CStr {
        match kind {
            Class::Master => c"tcp{master}",
            Class::Client => c"tcp{client}",
            Class::Server => c"tcp{server}",
        }
    }
}

impl Default for Tcp {
    /// What a collected object leaves behind: closed.
    fn default() -> Tcp {
        let mut tcp = Tcp::new(None)
            .unwrap_or_else(|_| unreachable!("no socket is created without a family"));
        tcp.close();
        tcp
    }
}

type TcpArg<'a> = LuaResult<Object<'a, Tcp>>;

fn any(args: &Args) -> TcpArg<'_> {
    args.object(1, Tcp::KINDS)
}

fn master(args: &Args) -> TcpArg<'_> {
    args.object(1, &[Class::Master])
}

fn client(args: &Args) -> TcpArg<'_> {
    args.object(1, &[Class::Client])
}

fn server(args: &Args) -> TcpArg<'_> {
    args.object(1, &[Class::Server])
}

/// Registers the classes. Called by `luaopen_socket_core`.
pub fn register(args: &Args) {
    let methods: &[Entry] = &[
        (c"accept", cfunction!(accept)),
        (c"bind", cfunction!(bind)),
        (c"close", cfunction!(close)),
        (c"connect", cfunction!(connect)),
        (c"dirty", cfunction!(dirty)),
        (c"getfamily", cfunction!(getfamily)),
        (c"getfd", cfunction!(getfd)),
        (c"getoption", cfunction!(getoption)),
        (c"getpeername", cfunction!(getpeername)),
        (c"getsockname", cfunction!(getsockname)),
        (c"getstats", cfunction!(getstats)),
        (c"gettimeout", cfunction!(gettimeout)),
        (c"listen", cfunction!(listen)),
        (c"receive", cfunction!(receive)),
        (c"send", cfunction!(send)),
        (c"setfd", cfunction!(setfd)),
        (c"setoption", cfunction!(setoption)),
        // LuaSocket's aliases (tcp.c): the same checks, the same answers.
        (c"setpeername", cfunction!(connect)),
        (c"setsockname", cfunction!(bind)),
        (c"setstats", cfunction!(setstats)),
        (c"settimeout", cfunction!(settimeout)),
        (c"shutdown", cfunction!(shutdown)),
    ];
    let meta: &[Entry] = &[
        (c"__gc", cfunction!(collect::<Tcp>)),
        (c"__tostring", cfunction!(results::tostring)),
    ];
    for &kind in Tcp::KINDS {
        // SAFETY: `luaopen_socket_core`'s state, with room to spare.
        unsafe { register_class::<Tcp>(args.state(), kind, methods, meta) };
    }
}

/// `socket.tcp()`, `tcp4()`, `tcp6()`: a new master object.
pub fn create(args: &Args, family: Option<Family>) -> LuaResult<c_int> {
    match Tcp::new(family) {
        Ok(tcp) => {
            let fd = tcp.id();
            args.push_object(tcp, Class::Master);
            remember_fd(args, -1, fd);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn bind(args: &Args) -> LuaResult<c_int> {
    let mut tcp = master(args)?;
    let host = args.str(2)?;
    let port = args.str(3)?;
    let result = addr::parse_port(&port).and_then(|port| tcp.bind(&host, port));
    Ok(results::done(args, result))
}

fn connect(args: &Args) -> LuaResult<c_int> {
    let mut tcp = any(args)?;
    let host = args.str(2)?;
    let port = args.str(3)?;
    let deadline = tcp.deadline();
    let result = addr::parse_port(&port).and_then(|port| tcp.connect(&host, port, &deadline));
    // The class changes even when the connect fails: non-blocking connects rely on it.
    if tcp.class() == Class::Client {
        args.set_class::<Tcp>(1, Class::Client);
    }
    Ok(results::done(args, result))
}

fn listen(args: &Args) -> LuaResult<c_int> {
    let mut tcp = master(args)?;
    let backlog = args.opt_number(2)?.unwrap_or(32.0);
    let result = tcp.listen(backlog.clamp(0.0, f64::from(u32::MAX)) as u32);
    if result.is_ok() {
        args.set_class::<Tcp>(1, Class::Server);
    }
    Ok(results::done(args, result))
}

fn accept(args: &Args) -> LuaResult<c_int> {
    let mut tcp = server(args)?;
    let deadline = tcp.deadline();
    match tcp.accept(&deadline) {
        Ok(client) => {
            let fd = client.fd();
            args.push_object(client, Class::Client);
            remember_fd(args, -1, fd);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn receive(args: &Args) -> LuaResult<c_int> {
    let mut tcp = client(args)?;
    let (pattern, prefix, cap) = stream::receive_args(args)?;
    let deadline = tcp.deadline();
    let result = tcp.receive(pattern, prefix, cap, &deadline);
    Ok(stream::push_received(args, result, Some(&deadline)))
}

fn send(args: &Args) -> LuaResult<c_int> {
    let mut tcp = client(args)?;
    let (data, before) = stream::send_args(args)?;
    let deadline = tcp.deadline();
    // Nothing to send touches nothing, not even a closed connection (as LuaSocket).
    let result = if data.is_empty() {
        Ok(0)
    } else {
        tcp.send(data, &deadline)
    };
    Ok(stream::push_sent(args, result, before, Some(&deadline)))
}

fn close(args: &Args) -> LuaResult<c_int> {
    any(args)?.close();
    args.push_number(1.0);
    Ok(1)
}

fn shutdown(args: &Args) -> LuaResult<c_int> {
    let mut tcp = client(args)?;
    let how = match args.opt_bytes(2)?.unwrap_or(b"both") {
        b"both" => Shutdown::Both,
        b"receive" => Shutdown::Receive,
        b"send" => Shutdown::Send,
        _ => return Err(Raise::Arg(2, "invalid shutdown method".into())),
    };
    // LuaSocket's meth_shutdown ignores what shutdown(2) answers and returns 1: a
    // connection the peer has already finished closing (ENOTCONN) is no error to a script.
    let _ = tcp.shutdown(how);
    Ok(results::done(args, Ok(())))
}

fn settimeout(args: &Args) -> LuaResult<c_int> {
    let mut tcp = any(args)?;
    super::timeout::set(args, |setting| {
        setting.apply(&mut tcp.timeout);
        Ok(())
    })
}

fn gettimeout(args: &Args) -> LuaResult<c_int> {
    let timeout = any(args)?.timeout;
    super::timeout::get(args, timeout)
}

fn dirty(args: &Args) -> LuaResult<c_int> {
    let dirty = any(args)?.dirty();
    args.push_bool(dirty);
    Ok(1)
}

fn getfamily(args: &Args) -> LuaResult<c_int> {
    let family = any(args)?.family();
    Ok(results::family(args, family))
}

fn getsockname(args: &Args) -> LuaResult<c_int> {
    let address = any(args)?.local_address();
    Ok(results::address(args, address))
}

/// Any class, as LuaSocket (a master or server answers the error).
fn getpeername(args: &Args) -> LuaResult<c_int> {
    let address = any(args)?.remote_address();
    Ok(results::address(args, address))
}

/// Clients only, as LuaSocket (the counters are its buffer's).
fn getstats(args: &Args) -> LuaResult<c_int> {
    let stats = client(args)?.stats();
    Ok(stream::push_stats(args, stats))
}

fn setstats(args: &Args) -> LuaResult<c_int> {
    let mut tcp = client(args)?;
    let stats = stream::stats_args(args, tcp.stats())?;
    tcp.set_stats(stats);
    args.push_number(1.0);
    Ok(1)
}

fn getfd(args: &Args) -> LuaResult<c_int> {
    let fd = any(args)?.fd();
    args.push_number(fd as f64);
    Ok(1)
}

fn setfd(args: &Args) -> LuaResult<c_int> {
    let mut tcp = any(args)?;
    let fd = args.number(2)? as i64;
    tcp.set_fd(fd);
    Ok(results::after_setfd(args, fd))
}

fn setoption(args: &Args) -> LuaResult<c_int> {
    let mut tcp = any(args)?;
    let opt = opt_args::name(args, Proto::Tcp)?;
    let value = opt_args::value(args, opt)?;
    let result = tcp.set_option(opt, value);
    Ok(opt_args::push_set(args, result))
}

fn getoption(args: &Args) -> LuaResult<c_int> {
    let mut tcp = any(args)?;
    // "error" is read-only: a connect failure not reported yet (SO_ERROR).
    if args.bytes(2)? == b"error" {
        match tcp.take_error() {
            Some(e) => args.push_str(e.as_str()),
            None => args.push_nil(),
        }
        return Ok(1);
    }
    let opt = opt_args::gettable_name(args, Proto::Tcp)?;
    let value = tcp.get_option(opt);
    Ok(opt_args::push_value(args, value))
}
