//! A plugin system: several Lua plugins, each in a sandbox of its own (what it may reach
//! on the network, its limits, a host function only it has), all calling one shared host
//! API at the same time: a key-value store, a log, and an async `ask` that awaits real
//! I/O to a service the host talks to on their behalf. One plugin runs away and its
//! limit stops it; the others carry on.
//! Run: cargo run --release -p luasocket-wasi-host --example plugin_system
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use luasocket_wasi_host::{
    HostError, HostFunctions, Limits, LuaValue, NetPolicy, Runtime, Sandbox,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

type Error = Box<dyn std::error::Error + Send + Sync>;

const INVENTORY: &str = r#"
    local host = require "app"
    function run()
        local count = 0
        for _, item in ipairs({"apples", "pears", "plums"}) do
            local stock = tonumber(host.ask("stock " .. item))
            host.kv_set("stock/" .. item, stock)
            count = count + stock
        end
        host.log(host.whoami() .. ": counted " .. count .. " items")
        return count
    end
"#;

const PRICING: &str = r#"
    local host = require "app"
    local socket = require "socket"
    function run(port)
        -- This plugin alone may reach the price service itself.
        local c = assert(socket.connect("127.0.0.1", port))
        assert(c:send("price apples\n"))
        local price = tonumber(assert(c:receive()))
        c:close()
        host.kv_set("price/apples", price)
        host.log(host.whoami() .. ": apples cost " .. price)
        return price
    end
"#;

const AUDIT: &str = r#"
    local host = require "app"
    function run()
        -- No network at all: socket.connect would be refused. Only the host's API.
        local ok, err = pcall(host.kv_set, "", true)
        host.log(host.whoami() .. ": the store refused an empty key (" .. tostring(err) .. ")")
        local seen = host.kv_keys()
        table.sort(seen)
        return #seen
    end
"#;

const RUNAWAY: &str = r#"
    local host = require "app"
    function run()
        while true do host.kv_get("stock/apples") end
    end
"#;

/// A service on loopback: answers `stock ITEM` and `price ITEM` lines.
async fn service() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let answer = if line.starts_with("stock") {
                        line.len() * 3
                    } else {
                        7
                    };
                    let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
                }
            });
        }
    });
    Ok(port)
}

/// The API every plugin shares, on the runtime.
fn shared_api(runtime: &mut Runtime, service_port: u16) -> Arc<Mutex<HashMap<String, LuaValue>>> {
    let store: Arc<Mutex<HashMap<String, LuaValue>>> = Arc::default();
    let (get, set, keys) = (store.clone(), store.clone(), store.clone());
    runtime
        .host_module("app")
        .host_fn("kv_get", move |key: String| {
            get.lock().unwrap().get(&key).cloned()
        })
        .host_fn("kv_set", move |key: String, value: LuaValue| {
            if key.is_empty() {
                return Err(HostError::new("keys may not be empty"));
            }
            set.lock().unwrap().insert(key, value);
            Ok(())
        })
        .host_fn("kv_keys", move || {
            let keys = keys
                .lock()
                .unwrap()
                .keys()
                .map(|k| LuaValue::string(k.as_str()))
                .collect();
            LuaValue::Sequence(keys)
        })
        .host_fn("log", |line: String| println!("  log: {line}"))
        // Async: the plugin waits (Lua sees a plain call), the host thread does not.
        .host_fn_async("ask", move |question: String| async move {
            let stream = TcpStream::connect(("127.0.0.1", service_port)).await?;
            let (read, mut write) = stream.into_split();
            write.write_all(format!("{question}\n").as_bytes()).await?;
            let mut answer = String::new();
            BufReader::new(read).read_line(&mut answer).await?;
            Ok::<_, HostError>(answer.trim_end().to_owned())
        });
    store
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let port = service().await?;
    let mut runtime = Runtime::new()?;
    let store = shared_api(&mut runtime, port);
    // Each sandbox: its policy, its limits, and a function of its own.
    let sandbox = |name: &'static str, net: &str, limits: Limits| -> Result<Sandbox, Error> {
        Ok(Sandbox {
            net: NetPolicy::parse(net)?,
            limits,
            functions: HostFunctions::new().with("whoami", move || name),
            ..Sandbox::default()
        })
    };
    let small = Limits {
        max_memory: Some(32 << 20),
        timeout: Some(Duration::from_secs(5)),
        ..Limits::default()
    };
    let plugins = [
        (
            "inventory",
            INVENTORY,
            sandbox("inventory", "", small.clone())?,
        ),
        (
            "pricing",
            PRICING,
            sandbox("pricing", &format!("127.0.0.1:{port}"), small.clone())?,
        ),
        ("audit", AUDIT, sandbox("audit", "", small.clone())?),
        (
            "runaway",
            RUNAWAY,
            sandbox(
                "runaway",
                "",
                Limits {
                    cpu: Some(Duration::from_millis(200)),
                    ..small
                },
            )?,
        ),
    ];
    let runtime = Arc::new(runtime);
    let mut tasks = tokio::task::JoinSet::new();
    for (name, source, sandbox) in plugins {
        let runtime = runtime.clone();
        tasks.spawn(async move {
            let mut plugin = runtime
                .load_plugin(&sandbox, name, source.as_bytes())
                .await?;
            let result = plugin.call("run", &[LuaValue::Integer(port.into())]).await;
            Ok::<_, Error>((name, result))
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done?? {
            (name, Ok(values)) => println!("{name}: returned {}", values[0]),
            (name, Err(e)) => println!("{name}: stopped: {e}"),
        }
    }
    let mut keys: Vec<_> = store.lock().unwrap().keys().cloned().collect();
    keys.sort();
    println!("the store holds {}", keys.join(", "));
    Ok(())
}
