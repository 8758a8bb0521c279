//! `settimeout`/`gettimeout`, shared by every socket class (LuaSocket's `timeout.c`).

use std::ffi::c_int;

use super::api::{Args, LuaResult, Raise};
use crate::net::timeout::{Limit, Timeout};

/// `settimeout(value[, mode])`: mode "b" (block, the default) or "t"/"r" (total).
pub fn set(args: &Args, timeout: &mut Timeout) -> LuaResult<c_int> {
    let limit = Limit::from_secs(args.opt_number(2)?);
    match args.opt_bytes(3)?.unwrap_or(b"b").first() {
        Some(b'b') => timeout.block = limit,
        Some(b'r' | b't') => timeout.total = limit,
        _ => return Err(Raise::Arg(3, "invalid timeout mode".into())),
    }
    args.push_number(1.0);
    Ok(1)
}

/// `gettimeout()` → block, total (-1 for none).
pub fn get(args: &Args, timeout: &Timeout) -> LuaResult<c_int> {
    args.push_number(timeout.block.secs());
    args.push_number(timeout.total.secs());
    Ok(2)
}
