//! Embeds the guest component, built beforehand by `./dev build`
//! (`cargo build --profile guest --target wasm32-wasip2 -p luasocket-wasi`), and its SHA-256,
//! which keys the compiled-code cache.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let wasm = std::env::var_os("LUASOCKET_WASI_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/wasm32-wasip2/guest/luasocket_wasi.wasm"));
    println!("cargo:rerun-if-env-changed=LUASOCKET_WASI_COMPONENT");
    println!("cargo:rerun-if-changed={}", wasm.display());
    let bytes = std::fs::read(&wasm).unwrap_or_else(|e| {
        panic!(
            "cannot read the guest component at {}: {e}\n\
             build it first: ./dev build (or cargo build --profile guest --target wasm32-wasip2 -p luasocket-wasi)",
            wasm.display()
        )
    });
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!(
        "cargo:rustc-env=LUASOCKET_WASI_COMPONENT_PATH={}",
        wasm.canonicalize().unwrap_or(wasm).display()
    );
    println!("cargo:rustc-env=LUASOCKET_WASI_COMPONENT_SHA256={hash}");
}
