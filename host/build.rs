//! Embeds the guest's components, one per world, built beforehand by `./dev build` (which
//! runs `cargo build --profile PROFILE --target wasm32-wasip2 -p luasocket-wasi
//! [--features FEATURE]` for each), and their SHA-256s, which key the compiled-code cache.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Each component: the prefix of the variables `src/component.rs` reads, the variable
/// that may point at another build, and the profile and file name of the default one.
const WORLDS: &[(&str, &str, &str, &str)] = &[
    (
        "COMMAND",
        "LUASOCKET_WASI_COMPONENT",
        "guest",
        "luasocket_wasi",
    ),
    (
        "PLUGIN",
        "LUASOCKET_WASI_PLUGIN_COMPONENT",
        "guest-plugin",
        "luasocket_wasi",
    ),
    (
        "HANDLER",
        "LUASOCKET_WASI_HANDLER_COMPONENT",
        "guest-handler",
        "luasocket_wasi",
    ),
    // Not a world of the guest: what `build` composes with the handler (shim/).
    (
        "SHIM",
        "LUASOCKET_WASI_SHIM_COMPONENT",
        "guest-shim",
        "luasocket_wasi_shim",
    ),
];

fn main() {
    // The CLI is linked at a fixed address: as a position-independent executable, the
    // loader first applied 45,103 relative relocations to it, a third of `--help`'s time
    // (1.73 → 1.23 ms) and 168 of its 267 page faults. The cost: the CLI's own code is
    // no longer at a random address (its heap, stacks, libraries and the compiled guest
    // still are). The library is unaffected.
    println!("cargo:rustc-link-arg-bins=-no-pie");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for &(world, var, profile, file) in WORLDS {
        let default = manifest.join(format!("../target/wasm32-wasip2/{profile}/{file}.wasm"));
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
