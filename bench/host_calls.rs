//! Host-function round trips: Lua calling a Rust function, in a plugin (the plugin world's
//! `host` import: Lua → guest → wasmtime → Rust and back) and in a native mlua state (the
//! physical limit for a Lua → Rust call), and plugin calls per second with many plugins.
//! Prints one `name=value` line per measurement.
//! Run: cargo run --release -p luasocket-wasi-host --example bench_host_calls [CALLS] [PLUGINS]
//!
//! `bench_host_calls --only VARIANT CALLS` makes just `CALLS` calls of one variant
//! (`native_noop`, `native_echo`, `plugin_noop`, `plugin_echo`, `plugin_echo_async`) and
//! prints nothing: what bench/run.py counts instructions of under callgrind, at two sizes,
//! so that start-up cancels out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use luasocket_wasi_host::{LuaValue, Runtime, Sandbox};

/// The loop every variant runs: `calls` calls of `f` with one argument.
const LOOP: &str = r#"
    function spin(f, calls, arg)
        for i = 1, calls do f(arg) end
        return calls
    end
"#;

fn native_state() -> mlua::Result<mlua::Lua> {
    let lua = mlua::Lua::new();
    lua.globals()
        .set("noop", lua.create_function(|_, ()| Ok(()))?)?;
    lua.globals()
        .set("echo", lua.create_function(|_, s: mlua::LuaString| Ok(s))?)?;
    lua.load(LOOP).exec()?;
    Ok(lua)
}

fn native(calls: i64) -> mlua::Result<(f64, f64)> {
    let lua = native_state()?;
    let spin: mlua::Function = lua.globals().get("spin")?;
    let mut rates = [0.0; 2];
    for (rate, name) in rates.iter_mut().zip(["noop", "echo"]) {
        let f: mlua::Function = lua.globals().get(name)?;
        let started = Instant::now();
        spin.call::<i64>((f, calls, "a short string"))?;
        *rate = calls as f64 / started.elapsed().as_secs_f64();
    }
    Ok((rates[0], rates[1]))
}

/// The runtime with the host functions every plugin variant calls.
fn runtime() -> Result<Runtime, Box<dyn std::error::Error>> {
    let mut runtime = Runtime::new()?;
    runtime
        .host_fn("noop", || ())
        .host_fn("echo", |s: String| s)
        .host_fn_async("echo_async", |s: String| async move { s });
    Ok(runtime)
}

fn plugin_source() -> String {
    format!(
        "{LOOP}\nlocal host = require 'host'\n\
         function run(name, calls) return spin(host[name], calls, 'a short string') end\n\
         function ping() return true end"
    )
}

/// `--only VARIANT CALLS`: one variant, nothing printed.
async fn only(variant: &str, calls: i64) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(name) = variant.strip_prefix("native_") {
        let lua = native_state()?;
        let spin: mlua::Function = lua.globals().get("spin")?;
        let f: mlua::Function = lua.globals().get(name)?;
        spin.call::<i64>((f, calls, "a short string"))?;
        return Ok(());
    }
    let name = variant
        .strip_prefix("plugin_")
        .ok_or_else(|| format!("unknown variant {variant}"))?;
    let runtime = runtime()?;
    let source = plugin_source();
    let mut plugin = runtime
        .load_plugin(&Sandbox::default(), "=bench", source.as_bytes())
        .await?;
    plugin
        .call("run", &[LuaValue::string(name), LuaValue::Integer(calls)])
        .await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--only") {
        args.next();
        let variant = args.next().ok_or("--only VARIANT CALLS")?;
        let calls = args
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or("--only VARIANT CALLS")?;
        return only(&variant, calls).await;
    }
    let calls: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let plugins: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);

    let (noop, echo) = native(calls)?;
    println!("native_mlua_noop_calls_per_s={noop:.0}");
    println!("native_mlua_echo_calls_per_s={echo:.0}");

    let runtime = runtime()?;
    let source = plugin_source();
    let sandbox = Sandbox::default();
    let mut plugin = runtime
        .load_plugin(&sandbox, "=bench", source.as_bytes())
        .await?;
    for name in ["noop", "echo", "echo_async"] {
        let started = Instant::now();
        plugin
            .call("run", &[LuaValue::string(name), LuaValue::Integer(calls)])
            .await?;
        let rate = calls as f64 / started.elapsed().as_secs_f64();
        println!("plugin_{name}_calls_per_s={rate:.0}");
    }

    // Plugin calls (host → Lua → host) per second, many plugins driven at once.
    let runtime = Arc::new(runtime);
    let mut loaded = Vec::new();
    for _ in 0..plugins {
        loaded.push(
            runtime
                .load_plugin(&sandbox, "=bench", source.as_bytes())
                .await?,
        );
    }
    let per_plugin = 200;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for mut p in loaded {
        set.spawn(async move {
            for _ in 0..per_plugin {
                p.call("run", &[LuaValue::string("noop"), LuaValue::Integer(1)])
                    .await
                    .expect("plugin call");
            }
        });
    }
    while set.join_next().await.is_some() {}
    let elapsed = started.elapsed().max(Duration::from_nanos(1));
    println!(
        "plugins={plugins} plugin_calls_per_s={:.0}",
        (plugins * per_plugin) as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
