//! `mime.core`: the Lua face of [`crate::mime`], the module LuaSocket implements in C.
//! The high-level filters are Lua (`lua/mime.lua`).
//!
//! Arguments are read in the order LuaSocket's C functions read them, so that the same
//! bad call raises the same argument error, and the end-of-input calls skip the same
//! checks. Numbers go back as floats (`lua_pushnumber`), as LuaSocket pushes them.

use std::ffi::c_int;

use super::api::{Args, Entry, LuaResult, Raise, cfunction, set_functions};
use crate::mime::{self, Chunk, Coded, Counted, MimeResult, OutOfMemory};

/// `require "mime.core"`.
pub fn open(args: &Args) -> LuaResult<c_int> {
    let functions: &[Entry] = &[
        (c"b64", cfunction!(b64)),
        (c"unb64", cfunction!(unb64)),
        (c"qp", cfunction!(qp)),
        (c"unqp", cfunction!(unqp)),
        (c"qpwrp", cfunction!(qpwrp)),
        (c"wrp", cfunction!(wrp)),
        (c"eol", cfunction!(eol)),
        (c"dot", cfunction!(dot)),
    ];
    args.new_table(0, functions.len() as c_int + 1);
    // SAFETY: the table is on top of the C function's stack.
    unsafe { set_functions(args.state(), functions) };
    args.push_str("MIME 1.0.3");
    args.set_field(-2, c"_VERSION");
    Ok(1)
}

/// `A, B = mime.b64(C [, D])`.
fn b64(args: &Args) -> LuaResult<c_int> {
    let (c, d) = chunks(args)?;
    push_coded(args, mime::b64(c, d))
}

/// `A, B = mime.unb64(C [, D])`.
fn unb64(args: &Args) -> LuaResult<c_int> {
    let (c, d) = chunks(args)?;
    push_coded(args, mime::unb64(c, d))
}

/// `A, B = mime.qp(C [, D, marker])`.
fn qp(args: &Args) -> LuaResult<c_int> {
    // LuaSocket checks the marker before the end-of-input test, and D after it.
    let c = args.opt_bytes(1)?;
    let marker = marker(args, 3)?;
    let d = if c.is_some() {
        args.opt_bytes(2)?
    } else {
        None
    };
    push_coded(args, mime::qp(c, d, marker))
}

/// `A, B = mime.unqp(C [, D])`.
fn unqp(args: &Args) -> LuaResult<c_int> {
    let (c, d) = chunks(args)?;
    push_coded(args, mime::unqp(c, d))
}

/// `A, m = mime.qpwrp(n [, B, length])`.
fn qpwrp(args: &Args) -> LuaResult<c_int> {
    let (left, b, length) = wrap_args(args)?;
    push_counted(args, mime::qpwrp(left, b, length))
}

/// `A, m = mime.wrp(n [, B, length])`.
fn wrp(args: &Args) -> LuaResult<c_int> {
    let (left, b, length) = wrap_args(args)?;
    push_counted(args, mime::wrp(left, b, length))
}

/// `A, B = mime.eol(C [, D, marker])`.
fn eol(args: &Args) -> LuaResult<c_int> {
    let ctx = c_int_from_integer(args.integer(1)?);
    let d = args.opt_bytes(2)?;
    let marker = marker(args, 3)?;
    push_counted(args, mime::eol(ctx, d, marker))
}

/// `A, n = mime.dot(m [, B])`.
fn dot(args: &Args) -> LuaResult<c_int> {
    let state = c_size(args.number(1)?);
    let b = args.opt_bytes(2)?;
    push_counted(args, mime::dot(state, b))
}

/// C and D of the coders. An absent C is the end-of-input black hole, which LuaSocket
/// answers before looking at D.
fn chunks(args: &Args) -> LuaResult<(Chunk<'_>, Chunk<'_>)> {
    let c = args.opt_bytes(1)?;
    let d = if c.is_some() {
        args.opt_bytes(2)?
    } else {
        None
    };
    Ok((c, d))
}

/// n, B and length of the wrappers, converted to `int` as LuaSocket's C code does.
fn wrap_args(args: &Args) -> LuaResult<(i32, Chunk<'_>, i32)> {
    let left = c_int(args.number(1)?);
    let b = args.opt_bytes(2)?;
    let length = match args.opt_number(3)? {
        Some(n) => c_int(n),
        None => mime::DEFAULT_LENGTH,
    };
    Ok((left, b, length))
}

/// An end-of-line marker (`luaL_optstring`, default CRLF), as far as C's `strlen` sees it.
fn marker(args: &Args, arg: c_int) -> LuaResult<&[u8]> {
    Ok(c_str(args.opt_bytes(arg)?.unwrap_or(mime::CRLF)))
}

fn push_coded(args: &Args, result: MimeResult<Coded>) -> LuaResult<c_int> {
    let Coded { out, rest } = result.map_err(out_of_memory)?;
    push_opt_bytes(args, out);
    push_opt_bytes(args, rest);
    Ok(2)
}

fn push_counted<N: Into<Count>>(args: &Args, result: MimeResult<Counted<N>>) -> LuaResult<c_int> {
    let Counted { out, count } = result.map_err(out_of_memory)?;
    push_opt_bytes(args, out);
    args.push_number(count.into().0);
    Ok(2)
}

/// A counter as `lua_pushnumber` receives it from C: `int` and `size_t` cast to a float.
struct Count(f64);

impl From<i32> for Count {
    fn from(n: i32) -> Self {
        Count(f64::from(n))
    }
}

impl From<u64> for Count {
    fn from(n: u64) -> Self {
        // Rounds to the nearest float, as C's conversion does.
        Count(n as f64)
    }
}

/// Pushes a result this frame owns. An allocation failure in the push would leak it
/// once (see `api`); copying it into Lua-owned memory first would cost that memory twice.
fn push_opt_bytes(args: &Args, bytes: Option<Vec<u8>>) {
    match bytes {
        Some(bytes) => {
            args.push_bytes(&bytes);
            drop(bytes);
        }
        None => args.push_nil(),
    }
}

// Numbers and strings as LuaSocket's C code receives them.

/// `(int) x`, as LuaSocket converts `luaL_checknumber` results for `wrp` and `qpwrp`:
/// truncation toward zero. C leaves out-of-range values undefined; x86-64 (the platform
/// LuaSocket is mostly built for) gives `INT_MIN` for them and for NaN, and so does this.
fn c_int(x: f64) -> i32 {
    let t = x.trunc();
    if (-2_147_483_648.0..=2_147_483_647.0).contains(&t) {
        t as i32
    } else {
        i32::MIN
    }
}

/// `(int) n` for a Lua integer (`eol`'s context): the low 32 bits.
fn c_int_from_integer(n: i64) -> i32 {
    n as i32
}

/// `(size_t) x`, as LuaSocket converts `dot`'s state: truncation toward zero, with
/// x86-64's results for the undefined cases (negative values wrap around, NaN gives
/// 2^63, values from 2^64 up give 0), so the state echoed back matches LuaSocket's.
fn c_size(x: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    // cvttsd2si: signed 64-bit truncation, 2^63 as the "indefinite" result.
    let signed = |x: f64| -> i64 {
        let t = x.trunc();
        if (-TWO_63..TWO_63).contains(&t) {
            t as i64
        } else {
            i64::MIN
        }
    };
    if x >= TWO_63 {
        (signed(x - TWO_63) as u64) ^ (1 << 63)
    } else {
        signed(x) as u64
    }
}

/// A string argument as `luaL_optstring` gives it to C code that uses it with `strlen`:
/// cut at the first zero byte. Applies to the markers of `qp` and `eol`.
fn c_str(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// LuaSocket builds results in a `luaL_Buffer`, whose failure is Lua's memory error.
fn out_of_memory(_: OutOfMemory) -> Raise {
    Raise::Message("not enough memory".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_conversions_match_x86_64() {
        assert_eq!(c_int(1.7), 1);
        assert_eq!(c_int(-1.7), -1);
        assert_eq!(c_int(2_147_483_647.9), i32::MAX);
        assert_eq!(c_int(-2_147_483_648.9), i32::MIN);
        assert_eq!(c_int(2_147_483_648.0), i32::MIN);
        assert_eq!(c_int(1e300), i32::MIN);
        assert_eq!(c_int(f64::NAN), i32::MIN);
        assert_eq!(c_int(f64::NEG_INFINITY), i32::MIN);
        assert_eq!(c_size(7.5), 7);
        assert_eq!(c_size(-1.0), u64::MAX);
        assert_eq!(c_size(-1.5), u64::MAX);
        assert_eq!(c_size(f64::NAN), 1 << 63);
        assert_eq!(c_size(1e300), 0);
        assert_eq!(c_size(9_223_372_036_854_775_808.0), 1 << 63);
        assert_eq!(c_size(f64::INFINITY), 0);
        assert_eq!(c_int_from_integer(-1), -1);
        assert_eq!(c_int_from_integer(1 << 32 | 10), 10);
        assert_eq!(c_str(b"M\0N"), b"M");
        assert_eq!(c_str(b"\r\n"), b"\r\n");
    }
}
