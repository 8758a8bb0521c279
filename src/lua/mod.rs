//! The Lua face of the socket core: LuaSocket's modules, made available to `require`.
//! Native parts (`socket.core`) are Lua C functions over the core; the Lua parts are the
//! files under `lua/`, compiled into the component.

pub mod api;
mod dns;
pub mod harden;
mod mime;
mod options;
mod results;
mod select;
mod socket;
mod ssl;
mod stream;
mod tcp;
mod timeout;
mod udp;

use mlua::{Lua, Table};

use api::cfunction;

/// The Lua modules shipped in the component: `require` name and source.
const MODULES: &[(&str, &str)] = &[
    ("socket", include_str!("../../lua/socket.lua")),
    (
        "socket.headers",
        include_str!("../../lua/socket/headers.lua"),
    ),
    ("socket.url", include_str!("../../lua/socket/url.lua")),
    ("socket.tp", include_str!("../../lua/socket/tp.lua")),
    ("socket.http", include_str!("../../lua/socket/http.lua")),
    ("socket.smtp", include_str!("../../lua/socket/smtp.lua")),
    ("socket.ftp", include_str!("../../lua/socket/ftp.lua")),
    ("socket.unix", include_str!("../../lua/socket/unix.lua")),
    ("socket.serial", include_str!("../../lua/socket/serial.lua")),
    ("ltn12", include_str!("../../lua/ltn12.lua")),
    ("mime", include_str!("../../lua/mime.lua")),
    ("lsocket", include_str!("../../lua/lsocket.lua")),
    ("ssl", include_str!("../../lua/ssl.lua")),
    ("ssl.https", include_str!("../../lua/ssl/https.lua")),
    (
        "socket.compat1",
        include_str!("../../lua/socket/compat1.lua"),
    ),
];

/// Makes LuaSocket's modules loadable. They go into `package.preload`, so they take
/// precedence over any same-named file on `package.path`, as a built-in should.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let preload: Table = lua.globals().get::<Table>("package")?.get("preload")?;
    // SAFETY: `socket::open` is a binding function following the rules in `api`.
    let core = unsafe { lua.create_c_function(cfunction!(socket::open))? };
    preload.set("socket.core", core)?;
    // SAFETY: as above.
    let mime_core = unsafe { lua.create_c_function(cfunction!(mime::open))? };
    preload.set("mime.core", mime_core)?;
    // SAFETY: as above.
    let ssl_core = unsafe { lua.create_c_function(cfunction!(ssl::open))? };
    preload.set("ssl.core", ssl_core)?;
    for &(name, source) in MODULES {
        let loader = lua
            .load(source)
            .set_name(format!("@{}.lua", name.replace('.', "/")))
            .into_function()?;
        preload.set(name, loader)?;
    }
    Ok(())
}
