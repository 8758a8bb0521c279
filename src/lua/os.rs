//! The `os` functions that WASI's C library leaves out of Lua's, given back where WASI 0.2
//! can give them.
//!
//! - `os.clock`: WASI 0.2 has no process CPU clock, so this is the instance's monotonic
//!   running time since its Lua state was made, in seconds. For a script that computes it
//!   is what CPU time would be; time spent blocked in I/O or `socket.sleep` counts too,
//!   which CPU time would not.
//! - `os.tmpname` and `io.tmpfile`: Lua's make their file under `/tmp`, which a sandbox
//!   has only when the host preopens a directory for it and says so with `TMPDIR` (the
//!   CLI's `--tmpdir`). Then the file is made there, as `mkstemp` makes it (a new name,
//!   created exclusively, so nothing in the directory is ever opened by mistake); without
//!   it, both fail as WASI's Lua made them fail.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use mlua::Lua;

use crate::net::poll::now_ns;

/// What WASI's Lua answers when there is no directory for temporary files.
const UNSUPPORTED: &str = "not supported on WASI";

/// lua's message when no unique name can be made (loslib.c).
const NO_NAME: &str = "unable to generate a unique filename";

/// How many names to try before giving up (each clash is a file made meanwhile).
const ATTEMPTS: usize = 100;

/// `os.tmpname` raising its failure as a plain message, as loslib's `luaL_error` does;
/// and `io.tmpfile` over it: a file opened for update and removed at once, so it goes
/// away with its handle, as C's `tmpfile` does.
const TMPFILES: &str = r#"
local make, open, remove, error = ...
local function tmpname()
    local name, err = make()
    if not name then error(err, 0) end
    return name
end
local function tmpfile()
    local name = tmpname()
    local file, err = open(name, "w+b")
    if not file then return nil, err end
    remove(name)
    return file
end
return tmpname, tmpfile
"#;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    // Native builds (unit tests, the url and http fuzz targets) have no WASI clock: the
    // wasip2 crate makes every import unreachable!() off wasm, and reading it here made
    // every Lua state panic as it was made. C Lua's own os.clock and
    // os.tmpname work there; keep them.
    if cfg!(not(target_os = "wasi")) {
        return Ok(());
    }
    let os = lua.globals().get::<mlua::Table>("os")?;
    let start = now_ns();
    let clock = lua.create_function(move |_, ()| Ok(seconds_since(start, now_ns())))?;
    os.set("clock", clock)?;
    let make = lua.create_function(|_, ()| {
        Ok(match tmpname() {
            Ok(name) => (Some(name), None),
            Err(message) => (None, Some(message)),
        })
    })?;
    let io = lua.globals().get::<mlua::Table>("io")?;
    let (tmpname, tmpfile): (mlua::Function, mlua::Function) =
        lua.load(TMPFILES).set_name("=tmpfiles").call((
            make,
            io.get::<mlua::Function>("open")?,
            os.get::<mlua::Function>("remove")?,
            lua.globals().get::<mlua::Function>("error")?,
        ))?;
    os.set("tmpname", tmpname)?;
    io.set("tmpfile", tmpfile)
}

fn seconds_since(start_ns: u64, now_ns: u64) -> f64 {
    now_ns.saturating_sub(start_ns) as f64 / 1e9
}

/// A new empty file in `$TMPDIR`, named as lua names them (`lua_XXXXXX`).
fn tmpname() -> Result<String, &'static str> {
    let dir = std::env::var("TMPDIR").map_err(|_| UNSUPPORTED)?;
    let dir = dir.trim_end_matches('/');
    for _ in 0..ATTEMPTS {
        let name = format!(
            "{dir}/lua_{}",
            suffix(RandomState::new().hash_one(now_ns()))
        );
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&name)
        {
            Ok(_) => return Ok(name),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => return Err(NO_NAME),
        }
    }
    Err(NO_NAME)
}

/// Six characters from `[A-Za-z0-9]`, as mkstemp's `XXXXXX` become.
fn suffix(mut bits: u64) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|_| {
            let c = ALPHABET[(bits % 62) as usize] as char;
            bits /= 62;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_counts_seconds_from_the_start_and_never_goes_back() {
        assert_eq!(seconds_since(5_000_000_000, 6_500_000_000), 1.5);
        assert_eq!(seconds_since(5, 4), 0.0);
    }

    #[test]
    fn suffixes_are_six_name_characters() {
        for bits in [0, 1, 61, 62, u64::MAX] {
            let s = suffix(bits);
            assert_eq!(s.len(), 6);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        }
        assert_ne!(suffix(1), suffix(2));
    }
}
