//! Embeds the guest's components, one per world, built beforehand by `./dev build` (which
//! runs `cargo build --profile PROFILE --target wasm32-wasip2 -p luasocket-wasi
//! [--features FEATURE]` for each), and their SHA-256s, which key the compiled-code cache.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Each world: the prefix of the variables `src/component.rs` reads, the variable that
/// may point at another build, and the profile whose directory holds the default one.
const WORLDS: &[(&str, &str, &str)] = &[
    ("COMMAND", "LUASOCKET_WASI_COMPONENT", "guest"),
    ("PLUGIN", "LUASOCKET_WASI_PLUGIN_COMPONENT", "guest-plugin"),
    (
        "HANDLER",
        "LUASOCKET_WASI_HANDLER_COMPONENT",
        "guest-handler",
    ),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for &(world, var, profile) in WORLDS {
        let default = manifest.join(format!(
            "../target/wasm32-wasip2/{profile}/luasocket_wasi.wasm"
        ));
        let wasm = std::env::var_os(var).map_or(default, PathBuf::from);
        println!("cargo:rerun-if-env-changed={var}");
        embed(world, &wasm);
    }
}

fn embed(world: &str, wasm: &Path) {
    println!("cargo:rerun-if-changed={}", wasm.display());
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| {
        panic!(
            "cannot read the guest component at {}: {e}\nbuild it first: ./dev build",
            wasm.display()
        )
    });
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = wasm.canonicalize().unwrap_or_else(|_| wasm.to_owned());
    println!(
        "cargo:rustc-env=LUASOCKET_WASI_{world}_PATH={}",
        path.display()
    );
    println!("cargo:rustc-env=LUASOCKET_WASI_{world}_SHA256={hash}");
}
