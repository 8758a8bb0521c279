//! Host-function round trips: Lua calling a Rust function, in a plugin (the plugin world's
//! `host` import: Lua → guest → wasmtime → Rust and back) and in a native mlua state (the
//! physical limit for a Lua → Rust call), and plugin calls per second with many plugins.
//! Prints one `name=value` line per measurement.
//! Run: cargo run --release -p luasocket-wasi-host --example bench_host_calls [CALLS] [PLUGINS]

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

fn native(calls: i64) -> mlua::Result<(f64, f64)> {
    let lua = mlua::Lua::new();
    lua.globals()
        .set("noop", lua.create_function(|_, ()| Ok(()))?)?;
    lua.globals()
        .set("echo", lua.create_function(|_, s: mlua::LuaString| Ok(s))?)?;
    lua.load(LOOP).exec()?;
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let calls: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let plugins: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);

    let (noop, echo) = native(calls)?;
    println!("native_mlua_noop_calls_per_s={noop:.0}");
    println!("native_mlua_echo_calls_per_s={echo:.0}");

    let mut runtime = Runtime::new()?;
    runtime
        .host_fn("noop", || ())
        .host_fn("echo", |s: String| s)
        .host_fn_async("echo_async", |s: String| async move { s });
    let source = format!(
        "{LOOP}\nlocal host = require 'host'\n\
         function run(name, calls) return spin(host[name], calls, 'a short string') end\n\
         function ping() return true end"
    );
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
