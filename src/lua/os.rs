//! The `os` functions that WASI's C library leaves out of Lua's, given back where WASI 0.2
//! can give them.
//!
//! - `os.clock`: WASI 0.2 has no process CPU clock, so this is the instance's monotonic
//!   running time since its Lua state was made, in seconds. For a script that computes it
//!   is what CPU time would be; time spent blocked in I/O or `socket.sleep` counts too,
//!   which CPU time would not.

use mlua::Lua;

use crate::net::poll::now_ns;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    // Native builds (unit tests, the url and http fuzz targets) have no WASI clock: the
    // wasip2 crate makes every import unreachable!() off wasm, and reading it here made
    // every Lua state panic as it was made. C Lua's own os.clock works there; keep it.
    if cfg!(not(target_os = "wasi")) {
        return Ok(());
    }
    let start = now_ns();
    let clock = lua.create_function(move |_, ()| Ok(seconds_since(start, now_ns())))?;
    lua.globals().get::<mlua::Table>("os")?.set("clock", clock)
}

fn seconds_since(start_ns: u64, now_ns: u64) -> f64 {
    now_ns.saturating_sub(start_ns) as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_counts_seconds_from_the_start_and_never_goes_back() {
        assert_eq!(seconds_since(5_000_000_000, 6_500_000_000), 1.5);
        assert_eq!(seconds_since(5, 4), 0.0);
    }
}
