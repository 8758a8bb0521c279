//! Compiling the component once: the machine code Cranelift produces is kept on disk,
//! keyed by the component's hash and everything about the engine that affects code
//! (wasmtime version, settings, CPU features), and later starts map it in directly.
//!
//! The cache directory is trusted: what is found there is loaded as native code. It lives
//! in the user's own cache directory, written atomically (temporary file, then rename).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components go unless told otherwise: `$LUASOCKET_WASI_CACHE`, else
/// `$XDG_CACHE_HOME/luasocket-wasi`, else `~/.cache/luasocket-wasi`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LUASOCKET_WASI_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("luasocket-wasi"))
}

/// The hex SHA-256 of a component's bytes.
pub fn component_hash(wasm: &[u8]) -> String {
    hex(&Sha256::digest(wasm))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file a component's compiled form is kept in, for this engine.
pub fn artifact_path(dir: &Path, engine: &Engine, component_hash: &str) -> PathBuf {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let engine_key = h.finish();
    dir.join(format!(
        "{}-{engine_key:016x}.cwasm",
        &component_hash[..32.min(component_hash.len())]
    ))
}

/// The component, from the cache when it is there, otherwise compiled (and cached when
/// `dir` is given). A cache that cannot be read or written only costs a compile.
pub fn load(
    engine: &Engine,
    wasm: &[u8],
    hash: &str,
    dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, wasm);
    };
    let path = artifact_path(dir, engine, hash);
    if path.is_file() {
        // SAFETY: the file was written by `store` below for this very engine
        // configuration (the name says so), in a directory we trust.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let compiled = engine.precompile_component(wasm)?;
    store(&path, &compiled);
    // SAFETY: produced just now by this engine.
    unsafe { Component::deserialize(engine, &compiled) }
}

fn store(path: &Path, compiled: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("c")
    ));
    if std::fs::write(&tmp, compiled).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
