//! Memory per instance with many alive at once in one host: N plugins (each an instance
//! with a Lua state that has loaded LuaSocket), all kept alive, RSS measured before and
//! after, and how long each took to make (start-up inside a running host, where process
//! start and loading the compiled code are already paid). Prints "instances=N
//! rss_before_kib=.. rss_after_kib=.. per_instance_kib=.. us_per_instance=..".
//!
//! `bench_instances N handler`: what `serve` pays per request before the app runs, the
//! handler world's component instantiated N times from the same pooling allocator
//! `serve` uses, each instance dropped before the next. Prints
//! "handler_instances=N us_per_instance=..".

use luasocket_wasi_host::{NetPolicy, Pool, Runtime, RuntimeOptions, Sandbox, World};

/// Instantiations of the handler world, one after another as serve's requests on one
/// connection are.
async fn handler_instances(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::with_options(RuntimeOptions {
        cache_dir: luasocket_wasi_host::cache::default_dir(),
        world: World::Handler,
        pool: Some(Pool {
            instances: 1000,
            max_memory: 1 << 30,
        }),
        ..RuntimeOptions::default()
    })?;
    let sandbox = Sandbox::default();
    drop(runtime.instantiate(&sandbox).await?);
    let started = std::time::Instant::now();
    for _ in 0..n {
        drop(runtime.instantiate(&sandbox).await?);
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
    println!("handler_instances={n} us_per_instance={micros:.1}");
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    if std::env::args().nth(2).as_deref() == Some("handler") {
        return handler_instances(n).await;
    }
    let runtime = Runtime::new()?;
    let sandbox = Sandbox {
        net: NetPolicy::parse("127.0.0.1")?,
        ..Sandbox::default()
    };
    // One instance first, so that what is shared (code, runtime) is not counted per instance.
    let _warm = runtime
        .load_plugin(&sandbox, "=idle", b"socket = require('socket')")
        .await?;
    let before = rss_kib();
    let started = std::time::Instant::now();
    let mut alive = Vec::with_capacity(n);
    for _ in 0..n {
        alive.push(
            runtime
                .load_plugin(&sandbox, "=idle", b"socket = require('socket')")
                .await?,
        );
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
    let after = rss_kib();
    println!(
        "instances={n} rss_before_kib={before} rss_after_kib={after} per_instance_kib={} \
         us_per_instance={micros:.0}",
        after.saturating_sub(before) / n.max(1) as u64
    );
    Ok(())
}
