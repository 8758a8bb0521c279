//! The guest components this crate was built with, one per world (see `wit/plugin.wit`).

/// The command world's component (`luasocket`): imports only `wasi:*`, as stock WASI
/// hosts (`wasmtime run`) need.
pub const WASM: &[u8] = include_bytes!(env!("LUASOCKET_WASI_COMMAND_PATH"));

/// Its SHA-256, hex: the cache key.
pub const SHA256: &str = env!("LUASOCKET_WASI_COMMAND_SHA256");

/// The plugin world's component (`plugin`): the command world's, plus the `host` import
/// through which Lua calls the embedder's functions.
pub const PLUGIN_WASM: &[u8] = include_bytes!(env!("LUASOCKET_WASI_PLUGIN_PATH"));

/// Its SHA-256, hex.
pub const PLUGIN_SHA256: &str = env!("LUASOCKET_WASI_PLUGIN_SHA256");

/// The handler world's component (`handler`): the command world's, plus
/// `wasi:http/incoming-handler`, so a Lua app answers HTTP requests (`serve`).
pub const HANDLER_WASM: &[u8] = include_bytes!(env!("LUASOCKET_WASI_HANDLER_PATH"));

/// Its SHA-256, hex.
pub const HANDLER_SHA256: &str = env!("LUASOCKET_WASI_HANDLER_SHA256");

/// The shim `build` composes with the handler (shim/): the interfaces the handler
/// imports beyond `wasi:http/proxy`, answered as a host that grants nothing answers them.
pub const SHIM_WASM: &[u8] = include_bytes!(env!("LUASOCKET_WASI_SHIM_PATH"));

/// Which of the built-in components a [`crate::Runtime`] runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum World {
    /// `luasocket`: what stock hosts run. Lua has no host functions.
    Command,
    /// `plugin`: the same, and Lua can call the host functions the runtime and each
    /// sandbox register. What the runtime runs unless told otherwise.
    #[default]
    Plugin,
    /// `handler`: the command world's, and Lua apps serve HTTP requests
    /// ([`crate::serve`]).
    Handler,
}

impl World {
    /// The component's bytes and their SHA-256.
    pub fn component(self) -> (&'static [u8], &'static str) {
        match self {
            World::Command => (WASM, SHA256),
            World::Plugin => (PLUGIN_WASM, PLUGIN_SHA256),
            World::Handler => (HANDLER_WASM, HANDLER_SHA256),
        }
    }
}
