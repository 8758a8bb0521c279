//! A host for the plugin world written in Python (tests/python_host/host.py, on the
//! `wasmtime` package from PyPI, pinned in scripts/bootstrap.sh): the WIT's `host`
//! interface implemented in another language. The script instantiates the plugin
//! component this crate embeds with the package's WASI 0.2, answers `offered` and `call`
//! (a key-value store, an echo, a function that fails), runs a Lua plugin that sends and
//! receives nested, shared and self-referencing tables and errors both ways, and checks
//! every answer; it exits non-zero if any check fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python_host/host.py")
}

/// The embedded plugin component, written out for Python to load, and the directory
/// Python keeps its compiled copy in.
/// Written once per test process: the tests run on parallel threads, and a shared
/// partial file would be renamed away under the other's write.
fn component() -> (PathBuf, PathBuf) {
    static WRITTEN: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    WRITTEN
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-host");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!(
                "plugin-{}.wasm",
                &luasocket_wasi_host::component::PLUGIN_SHA256[..16]
            ));
            if !path.exists() {
                let partial = dir.join(format!("plugin.{}.partial", std::process::id()));
                std::fs::write(&partial, luasocket_wasi_host::component::PLUGIN_WASM).unwrap();
                std::fs::rename(&partial, &path).unwrap();
            }
            (path, dir.join("cache"))
        })
        .clone()
}

fn run(sabotage: Option<&str>) -> std::process::Output {
    let (wasm, cache) = component();
    let mut cmd = Command::new("python3");
    cmd.arg(script()).arg(&wasm).arg("--cache").arg(&cache);
    cmd.env_remove("PYTHON_HOST_SABOTAGE");
    if let Some(what) = sabotage {
        cmd.env("PYTHON_HOST_SABOTAGE", what);
    }
    common::run_within(cmd, Duration::from_secs(300))
}

fn missing_package(out: &std::process::Output) -> bool {
    String::from_utf8_lossy(&out.stderr).contains("No module named 'wasmtime'")
}

#[test]
fn a_python_host_answers_the_plugin_s_host_calls() {
    let out = run(None);
    assert!(
        !missing_package(&out),
        "Python's wasmtime package is missing: run scripts/bootstrap.sh test"
    );
    let stdout = common::stdout(&out);
    let stderr = common::stderr(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("python host (wasmtime 51.0.0): all 21 checks passed"),
        "{stdout}\n{stderr}"
    );
}

/// The checks can fail: with the host's `echo` answering its arguments reversed, the
/// script must report exactly the checks that depend on it, and exit non-zero.
#[test]
fn the_python_host_s_checks_catch_a_wrong_answer() {
    let out = run(Some("echo"));
    assert!(!missing_package(&out), "run scripts/bootstrap.sh test");
    let stderr = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for check in [
        "FAILED echo: several values, nil in the middle",
        "FAILED a Python cycle survives Lua",
        "python host: 3 of 21 checks failed",
    ] {
        assert!(stderr.contains(check), "{check} not in:\n{stderr}");
    }
}
