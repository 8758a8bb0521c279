//! The component as any WASI 0.2 host sees it: it imports nothing but `wasi:*`, and it
//! runs as a plain `wasi:cli/command` with the stock wasmtime-wasi linker, the way
//! `wasmtime run -S inherit-network ... luasocket_wasi.wasm script.lua` runs it.

mod common;

use std::net::TcpListener;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

struct Plain {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Plain {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

fn engine() -> Engine {
    Engine::new(&Config::new()).unwrap()
}

fn component(engine: &Engine) -> Component {
    Component::new(engine, luasocket_wasi_host::component::WASM).unwrap()
}

#[test]
fn imports_are_only_standard_wasi() {
    let engine = engine();
    let component = component(&engine);
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(!imports.is_empty());
    for name in &imports {
        assert!(name.starts_with("wasi:"), "non-standard import {name}");
    }
    let exports: Vec<String> = ty
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(
        exports.iter().any(|e| e.starts_with("wasi:cli/run@")),
        "{exports:?}"
    );
    assert!(
        exports
            .iter()
            .any(|e| e.starts_with("luasocket:socket/tcp@")),
        "{exports:?}"
    );
}

/// Runs the component's `wasi:cli/run` with `args`, network inherited as with `-S inherit-network`.
fn run_command(args: &[&str]) -> (bool, String) {
    run_command_with_stdin(args, b"")
}

fn run_command_with_stdin(args: &[&str], stdin: &[u8]) -> (bool, String) {
    let engine = engine();
    let component = component(&engine);
    let mut linker = Linker::<Plain>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let stdout = MemoryOutputPipe::new(1 << 20);
    let mut builder = WasiCtxBuilder::new();
    // What `wasmtime run -S inherit-network -S allow-ip-name-lookup` configures.
    builder
        .args(args)
        .stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(
            stdin.to_vec(),
        ))
        .stdout(stdout.clone())
        .inherit_stderr()
        .inherit_network()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true);
    let mut store = Store::new(
        &engine,
        Plain {
            ctx: builder.build(),
            table: ResourceTable::new(),
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ok = rt.block_on(async {
        let command = Command::instantiate_async(&mut store, &component, &linker)
            .await
            .unwrap();
        command
            .wasi_cli_run()
            .call_run(&mut store)
            .await
            .unwrap()
            .is_ok()
    });
    (ok, String::from_utf8_lossy(&stdout.contents()).into_owned())
}

#[test]
fn runs_as_a_plain_command_with_network() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = std::thread::spawn(move || listener.accept().map(|_| ()).is_ok());
    let chunk = format!(
        "local c = assert(require('socket').connect('127.0.0.1', {port})) c:close() return 'connected'"
    );
    let (ok, out) = run_command(&["luasocket_wasi.wasm", "-e", &chunk]);
    assert!(ok, "{out}");
    assert_eq!(out, "connected\n");
    assert!(accepting.join().unwrap());
    let (ok, out) = run_command(&["luasocket_wasi.wasm", "-e", "error('x')"]);
    assert!(!ok, "an error fails the command: {out}");
}

#[test]
fn a_script_s_first_line_starting_with_hash_is_skipped() {
    let script = b"#!/usr/bin/env -S wasmtime run luasocket_wasi.wasm\nprint(arg[0], ...)\n";
    let (ok, out) = run_command_with_stdin(&["luasocket_wasi.wasm", "-", "a"], script);
    assert!(ok, "{out}");
    assert_eq!(out, "-\ta\n");
    let (ok, _) = run_command(&["luasocket_wasi.wasm", "-e", "#!x\nprint(1)"]);
    assert!(!ok, "-e chunks are taken as they are");
}
