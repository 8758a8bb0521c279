//! The WIT face of the socket core: the exported `types`, `tcp`, `udp`, `dns`, `select`
//! and `lua` interfaces. Like the Lua face, it only converts: arguments in, results and
//! errors out. The conversions between core and WIT types live in `convert`, once.

#![forbid(unsafe_code)]

mod convert;
mod dns;
mod lua;
mod select;
mod tcp;
mod udp;

use crate::exports::luasocket::socket::types::{self as wit, ErrorCode, OptionValue};
use crate::net::NetError;
use crate::net::options::{OptValue, Proto, SockOpt};

pub struct Component;

impl wit::Guest for Component {
    fn message(code: ErrorCode) -> String {
        NetError::from(code).as_str().to_owned()
    }
}

/// An option by LuaSocket name, with a value of the kind it takes.
pub fn option(name: &str, proto: Proto) -> Result<SockOpt, ErrorCode> {
    SockOpt::parse(name, proto).ok_or(ErrorCode::InvalidArgument)
}

/// Checks the value's kind against the option's before it reaches the core.
pub fn checked_value(opt: SockOpt, v: OptionValue) -> Result<OptValue, ErrorCode> {
    use crate::net::options::Kind;
    let v = OptValue::from(v);
    let fits = matches!(
        (opt.kind(), &v),
        (Kind::Bool, OptValue::Bool(_))
            | (Kind::Int, OptValue::Int(_))
            | (Kind::Linger, OptValue::Linger { .. })
            | (Kind::Membership, OptValue::Membership { .. })
            | (Kind::Text, OptValue::Text(_))
    );
    if fits {
        Ok(v)
    } else {
        Err(ErrorCode::InvalidArgument)
    }
}
