//! The guest component this crate was built with.

/// The component's bytes.
pub const WASM: &[u8] = include_bytes!(env!("LUASOCKET_WASI_COMPONENT_PATH"));

/// Their SHA-256, hex: the cache key.
pub const SHA256: &str = env!("LUASOCKET_WASI_COMPONENT_SHA256");
