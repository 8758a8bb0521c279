//! `settimeout`/`gettimeout`, shared by every socket class (LuaSocket's `timeout.c`).

use std::ffi::c_int;

use super::api::{Args, LuaResult, Raise};
use crate::net::timeout::{Limit, Timeout};

/// What `settimeout(value[, mode])` asks for: mode "b" (block, the default) or "t"/"r"
/// (total). Read before the object is touched: reading a mode given as a number makes a
/// string, which can run a finalizer (see `api`).
pub struct Setting {
    total: bool,
    limit: Limit,
}

fn setting(args: &Args) -> LuaResult<Setting> {
    let limit = Limit::from_secs(args.opt_number(2)?);
    match args.opt_bytes(3)?.unwrap_or(b"b").first() {
        Some(b'b') => Ok(Setting {
            total: false,
            limit,
        }),
        Some(b'r' | b't') => Ok(Setting { total: true, limit }),
        _ => Err(Raise::Arg(3, "invalid timeout mode".into())),
    }
}

impl Setting {
    pub fn apply(self, timeout: &mut Timeout) {
        if self.total {
            timeout.total = self.limit;
        } else {
            timeout.block = self.limit;
        }
    }
}

/// `settimeout`: the setting read first, then given to `apply`, which sets it on the
/// object (and may find the object gone).
pub fn set(args: &Args, apply: impl FnOnce(Setting) -> LuaResult<()>) -> LuaResult<c_int> {
    apply(setting(args)?)?;
    args.push_number(1.0);
    Ok(1)
}

/// `gettimeout()` → block, total (-1 for none).
pub fn get(args: &Args, timeout: Timeout) -> LuaResult<c_int> {
    args.push_number(timeout.block.secs());
    args.push_number(timeout.total.secs());
    Ok(2)
}
