//! `setoption`/`getoption` arguments and results, shared by TCP and UDP: names checked
//! against the core's table, values checked the way LuaSocket's `options.c` checks them.

use std::ffi::c_int;

use super::api::{Args, LuaResult, Raise};
use crate::net::NetError;
use crate::net::options::{Kind, OptValue, Proto, SockOpt};

/// The option named by argument 2, for setoption.
pub fn name(args: &Args, proto: Proto) -> LuaResult<SockOpt> {
    named(args, proto, |_| true)
}

/// The option named by argument 2, for getoption, which knows fewer (see `gettable`).
pub fn gettable_name(args: &Args, proto: Proto) -> LuaResult<SockOpt> {
    named(args, proto, |opt| opt.gettable(proto))
}

fn named(args: &Args, proto: Proto, known: impl Fn(SockOpt) -> bool) -> LuaResult<SockOpt> {
    let name = args.str(2)?;
    SockOpt::parse(&name, proto)
        .filter(|&opt| known(opt))
        .ok_or_else(|| Raise::Arg(2, format!("unsupported option `{name:.35}'").into()))
}

/// The value of argument 3, of the kind the option takes.
pub fn value(args: &Args, opt: SockOpt) -> LuaResult<OptValue> {
    Ok(match opt.kind() {
        Kind::Bool if args.is_boolean(3) => OptValue::Bool(args.boolean(3)),
        Kind::Bool => return Err(Raise::Type(3, c"boolean")),
        // As options.c: lua_tonumber, unchecked (what is not a number is 0).
        Kind::Int => OptValue::Int(args.to_number(3).unwrap_or(0.0) as i64),
        Kind::Text => OptValue::Text(args.str(3)?.into_owned()),
        Kind::Linger => {
            if !args.is_table(3) {
                return Err(Raise::Type(3, c"table"));
            }
            let on = field(
                args,
                c"on",
                |a| a.is_boolean(-1).then(|| a.boolean(-1)),
                "boolean 'on' field expected",
            )?;
            let timeout = field(
                args,
                c"timeout",
                |a| a.to_number(-1),
                "number 'timeout' field expected",
            )?;
            OptValue::Linger {
                on,
                timeout: timeout as i64,
            }
        }
        Kind::Membership => {
            if !args.is_table(3) {
                return Err(Raise::Type(3, c"table"));
            }
            let text = |a: &Args| a.opt_str(-1).ok().flatten().map(|s| s.into_owned());
            let multiaddr = field(
                args,
                c"multiaddr",
                text,
                "string 'multiaddr' field expected",
            )?;
            let interface = field(
                args,
                c"interface",
                text,
                "string 'interface' field expected",
            )?;
            OptValue::Membership {
                multiaddr,
                interface,
            }
        }
    })
}

fn field<T>(
    args: &Args,
    key: &std::ffi::CStr,
    read: impl Fn(&Args) -> Option<T>,
    missing: &'static str,
) -> LuaResult<T> {
    args.push_raw_field(3, key);
    let value = read(args);
    args.pop(1);
    value.ok_or(Raise::Arg(3, missing.into()))
}

/// `1` or `nil, "setsockopt failed"`.
pub fn push_set(args: &Args, result: Result<(), NetError>) -> c_int {
    match result {
        Ok(()) => {
            args.push_number(1.0);
            1
        }
        Err(e) => args.fail(e.as_str()),
    }
}

/// The value, as LuaSocket pushes it (numbers as floats).
pub fn push_value(args: &Args, result: Result<OptValue, NetError>) -> c_int {
    match result {
        Ok(OptValue::Bool(b)) => args.push_bool(b),
        Ok(OptValue::Int(n)) => args.push_number(n as f64),
        Ok(OptValue::Text(t)) => args.push_str(&t),
        Ok(OptValue::Linger { on, timeout }) => {
            args.new_table(0, 2);
            args.push_bool(on);
            args.set_field(-2, c"on");
            // An integer, as opt.c's lua_pushinteger.
            args.push_integer(timeout);
            args.set_field(-2, c"timeout");
        }
        Ok(OptValue::Membership {
            multiaddr,
            interface,
        }) => {
            args.new_table(0, 2);
            args.push_str(&multiaddr);
            args.set_field(-2, c"multiaddr");
            args.push_str(&interface);
            args.set_field(-2, c"interface");
        }
        Err(e) => return args.fail(e.as_str()),
    }
    1
}
