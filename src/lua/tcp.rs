//! The Lua face of [`net::tcp::Tcp`]: argument checking and result shapes as LuaSocket's
//! `tcp.c` has them, nothing more. Every method is registered for the three classes and
//! checks the class itself, so calling one on the wrong class raises LuaSocket's
//! "tcp{client} expected".

use std::ffi::{CStr, c_int};

use super::api::{Args, Entry, LuaResult, Raise, cfunction, collect, register_class};
use super::options as opt_args;
use super::results;
use super::select::remember_fd;
use crate::net::addr::{self, Family};
use crate::net::buffer::{Partial, Pattern};
use crate::net::options::Proto;
use crate::net::poll::now_ns;
use crate::net::tcp::{Class, Shutdown, Tcp};
use crate::net::timeout::Deadline;

const MASTER: &CStr = c"tcp{master}";
const CLIENT: &CStr = c"tcp{client}";
const SERVER: &CStr = c"tcp{server}";
const ANY: &[&CStr] = &[MASTER, CLIENT, SERVER];

impl Default for Tcp {
    /// What a collected object leaves behind: closed.
    fn default() -> Tcp {
        let mut tcp = Tcp::new(None)
            .unwrap_or_else(|_| unreachable!("no socket is created without a family"));
        tcp.close();
        tcp
    }
}

fn class_name(class: Class) -> &'static CStr {
    match class {
        Class::Master => MASTER,
        Class::Client => CLIENT,
        Class::Server => SERVER,
    }
}

/// The TCP object at `arg`, if it is one.
pub fn test(args: &Args, arg: c_int) -> Option<*mut Tcp> {
    args.test_object::<Tcp>(arg, ANY)
}

fn any(args: &Args) -> LuaResult<&mut Tcp> {
    args.object(1, ANY, "tcp{any}")
}

fn master(args: &Args) -> LuaResult<&mut Tcp> {
    args.object(1, &[MASTER], "tcp{master}")
}

fn client(args: &Args) -> LuaResult<&mut Tcp> {
    args.object(1, &[CLIENT], "tcp{client}")
}

fn server(args: &Args) -> LuaResult<&mut Tcp> {
    args.object(1, &[SERVER], "tcp{server}")
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
        (c"setstats", cfunction!(setstats)),
        (c"settimeout", cfunction!(settimeout)),
        (c"shutdown", cfunction!(shutdown)),
    ];
    let meta: &[Entry] = &[
        (c"__gc", cfunction!(collect::<Tcp>)),
        (c"__tostring", cfunction!(tostring)),
    ];
    for class in ANY {
        unsafe { register_class(args.state(), class, methods, meta) };
    }
}

/// `socket.tcp()`, `tcp4()`, `tcp6()`: a new master object.
pub fn create(args: &Args, family: Option<Family>) -> LuaResult<c_int> {
    match Tcp::new(family) {
        Ok(tcp) => {
            let fd = tcp.fd();
            args.push_object(tcp, MASTER);
            remember_fd(args, -1, fd);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn tostring(args: &Args) -> LuaResult<c_int> {
    let class = class_name(any(args)?.class());
    Ok(results::describe(args, class))
}

fn bind(args: &Args) -> LuaResult<c_int> {
    let tcp = master(args)?;
    let host = args.str(2)?;
    let port = args.opt_str(3)?;
    let result =
        addr::parse_port(port.as_deref().unwrap_or("0")).and_then(|port| tcp.bind(&host, port));
    Ok(results::done(args, result))
}

fn connect(args: &Args) -> LuaResult<c_int> {
    let tcp = any(args)?;
    let host = args.str(2)?;
    let port = args.str(3)?;
    let deadline = tcp.deadline();
    let result = addr::parse_port(&port).and_then(|port| tcp.connect(&host, port, &deadline));
    // The class changes even when the connect fails: non-blocking connects rely on it.
    if tcp.class() == Class::Client {
        args.set_class(1, CLIENT);
    }
    Ok(results::done(args, result))
}

fn listen(args: &Args) -> LuaResult<c_int> {
    let tcp = master(args)?;
    let backlog = args.opt_number(2)?.unwrap_or(32.0);
    let result = tcp.listen(backlog.clamp(0.0, f64::from(u32::MAX)) as u32);
    if result.is_ok() {
        args.set_class(1, SERVER);
    }
    Ok(results::done(args, result))
}

fn accept(args: &Args) -> LuaResult<c_int> {
    let tcp = server(args)?;
    let deadline = tcp.deadline();
    match tcp.accept(&deadline) {
        Ok(client) => {
            let fd = client.fd();
            args.push_object(client, CLIENT);
            remember_fd(args, -1, fd);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

/// The pattern argument: a number (or numeric string) of bytes, or a string whose first
/// two characters are `*l` or `*a`.
fn pattern(args: &Args) -> LuaResult<Pattern> {
    const INVALID: &str = "invalid receive pattern";
    if let Some(n) = args.to_number(2) {
        return if n >= 0.0 {
            Ok(Pattern::Bytes(n as usize))
        } else {
            Err(Raise::Arg(2, INVALID.into()))
        };
    }
    match args.opt_bytes(2)?.unwrap_or(b"*l") {
        [b'*', b'l', ..] => Ok(Pattern::Line),
        [b'*', b'a', ..] => Ok(Pattern::All),
        _ => Err(Raise::Arg(2, INVALID.into())),
    }
}

/// `maxsize`, checked against the prefix and pattern before any I/O.
fn maxsize(args: &Args, pattern: Pattern, prefix_len: usize) -> LuaResult<Option<usize>> {
    let Some(max) = args.opt_number(4)? else {
        return Ok(None);
    };
    let invalid = |why: &'static str| Err(Raise::Arg(4, why.into()));
    if max.is_nan() || max < 1.0 {
        return invalid("maxsize must be at least 1");
    }
    let max = max as usize;
    if prefix_len >= max {
        return invalid("prefix longer than maxsize");
    }
    if let Pattern::Bytes(n) = pattern
        && n > max
    {
        return invalid("pattern asks for more than maxsize");
    }
    Ok(Some(max))
}

fn receive(args: &Args) -> LuaResult<c_int> {
    let tcp = client(args)?;
    let pattern = pattern(args)?;
    let prefix = args.opt_bytes(3)?.unwrap_or_default();
    let cap = maxsize(args, pattern, prefix.len())?;
    let deadline = tcp.deadline();
    let result = tcp.receive(pattern, prefix.to_vec(), cap, &deadline);
    // The received bytes are owned by this frame while pushed; an allocation failure in
    // the push would leak them once, which is the price of not copying them twice.
    match result {
        Ok(data) => {
            args.push_bytes(&data);
            drop(data);
            args.push_nil();
            args.push_nil();
        }
        Err(Partial { error, data }) => {
            args.push_nil();
            args.push_str(error.as_str());
            args.push_bytes(&data);
            drop(data);
        }
    }
    push_elapsed(args, &deadline);
    Ok(4)
}

fn send(args: &Args) -> LuaResult<c_int> {
    let tcp = client(args)?;
    let data = args.bytes(2)?;
    let i = args.opt_number(3)?.unwrap_or(1.0);
    let j = args.opt_number(4)?.unwrap_or(-1.0);
    let (start, end) = string_range(data.len(), i, j);
    let deadline = tcp.deadline();
    let result = if start <= end {
        tcp.send(&data[start - 1..end], &deadline)
    } else {
        Ok(0)
    };
    // Progress is reported as an index into the whole string, as LuaSocket does.
    let before = (start - 1) as f64;
    match result {
        Ok(n) => {
            args.push_number(before + n as f64);
            args.push_nil();
            args.push_nil();
        }
        Err((e, n)) => {
            args.push_nil();
            args.push_str(e.as_str());
            args.push_number(before + n as f64);
        }
    }
    push_elapsed(args, &deadline);
    Ok(4)
}

/// `string.sub`-style `i, j` as 1-based inclusive bounds clamped to the string (when
/// start exceeds end there is nothing to send, and start - 1 is what was "sent").
fn string_range(len: usize, i: f64, j: f64) -> (usize, usize) {
    let len_f = len as f64;
    let resolve = |x: f64| {
        if x < 0.0 {
            len_f + x.trunc() + 1.0
        } else {
            x.trunc()
        }
    };
    let start = resolve(i).max(1.0);
    let end = resolve(j).min(len_f).max(0.0);
    (start as usize, end as usize)
}

/// LuaSocket's debug builds (which LuaRocks makes) return the call's duration last.
fn push_elapsed(args: &Args, deadline: &Deadline) {
    args.push_number(deadline.elapsed_secs(now_ns()));
}

fn close(args: &Args) -> LuaResult<c_int> {
    any(args)?.close();
    args.push_number(1.0);
    Ok(1)
}

fn shutdown(args: &Args) -> LuaResult<c_int> {
    let tcp = client(args)?;
    let how = match args.opt_bytes(2)?.unwrap_or(b"both") {
        b"both" => Shutdown::Both,
        b"receive" => Shutdown::Receive,
        b"send" => Shutdown::Send,
        _ => return Err(Raise::Arg(2, "invalid shutdown method".into())),
    };
    let result = tcp.shutdown(how);
    Ok(results::done(args, result))
}

fn settimeout(args: &Args) -> LuaResult<c_int> {
    let tcp = any(args)?;
    super::timeout::set(args, &mut tcp.timeout)
}

fn gettimeout(args: &Args) -> LuaResult<c_int> {
    let tcp = any(args)?;
    super::timeout::get(args, &tcp.timeout)
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

fn getpeername(args: &Args) -> LuaResult<c_int> {
    let address = client(args)?.remote_address();
    Ok(results::address(args, address))
}

fn getstats(args: &Args) -> LuaResult<c_int> {
    let stats = any(args)?.stats();
    args.push_number(stats.received);
    args.push_number(stats.sent);
    args.push_number(now_ns().saturating_sub(stats.birth_ns) as f64 / 1e9);
    Ok(3)
}

fn setstats(args: &Args) -> LuaResult<c_int> {
    let tcp = any(args)?;
    let mut stats = tcp.stats();
    stats.received = args.opt_number(2)?.unwrap_or(stats.received);
    stats.sent = args.opt_number(3)?.unwrap_or(stats.sent);
    if let Some(age) = args.opt_number(4)? {
        stats.birth_ns = now_ns().saturating_sub((age.max(0.0) * 1e9) as u64);
    }
    tcp.set_stats(stats);
    args.push_number(1.0);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::string_range;

    #[test]
    fn ranges_follow_string_sub() {
        assert_eq!(string_range(5, 1.0, -1.0), (1, 5));
        assert_eq!(string_range(5, 2.0, 3.0), (2, 3));
        assert_eq!(string_range(5, -2.0, -1.0), (4, 5));
        assert_eq!(string_range(5, 0.0, 100.0), (1, 5));
        assert_eq!(string_range(5, 4.0, 2.0), (4, 2));
        assert_eq!(string_range(0, 1.0, -1.0), (1, 0));
        assert_eq!(string_range(5, 100.0, -1.0), (100, 5));
        assert_eq!(string_range(5, -100.0, 2.0), (1, 2));
    }
}

fn getfd(args: &Args) -> LuaResult<c_int> {
    let fd = any(args)?.fd();
    args.push_number(fd as f64);
    Ok(1)
}

fn setfd(args: &Args) -> LuaResult<c_int> {
    let tcp = any(args)?;
    let fd = args.number(2)? as i64;
    tcp.set_fd(fd);
    Ok(results::after_setfd(args, fd))
}

fn setoption(args: &Args) -> LuaResult<c_int> {
    let tcp = any(args)?;
    let opt = opt_args::name(args, Proto::Tcp)?;
    let value = opt_args::value(args, opt)?;
    Ok(opt_args::push_set(args, tcp.set_option(opt, value)))
}

fn getoption(args: &Args) -> LuaResult<c_int> {
    let tcp = any(args)?;
    // "error" is read-only: the last connect failure.
    if args.bytes(2)? == b"error" {
        match tcp.connect_error() {
            Some(e) => args.push_str(e.as_str()),
            None => args.push_nil(),
        }
        return Ok(1);
    }
    let opt = opt_args::name(args, Proto::Tcp)?;
    Ok(opt_args::push_value(args, tcp.get_option(opt)))
}
