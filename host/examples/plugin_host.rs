//! A plugin host in a few lines: load a Lua plugin into a sandbox that may reach one
//! address, give it a host function, and call it.
//! Run: cargo run --release -p luasocket-wasi-host --example plugin_host
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use luasocket_wasi_host::{LuaValue, NetPolicy, Runtime, Sandbox};

const PLUGIN: &str = r#"
    local socket = require("socket")
    local host = require("host")
    function quote(port)
        local c = assert(socket.connect("127.0.0.1", port))
        c:send("QUOTE\n")
        local price = assert(c:receive())
        c:close()
        host.log("got a price: " .. price)
        return { symbol = "LUA", price = tonumber(price) * host.rate("EUR") }
    end
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A service on loopback for the plugin to talk to.
    let server = TcpListener::bind("127.0.0.1:0")?;
    let port = server.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in server.incoming().flatten() {
            let mut reply = stream.try_clone().unwrap();
            BufReader::new(stream)
                .read_line(&mut String::new())
                .unwrap();
            reply.write_all(b"42.5\n").unwrap();
        }
    });
    let mut runtime = Runtime::new()?;
    // Host functions: plain closures; Lua calls them as `require("host").name(...)`.
    runtime
        .host_fn("log", |line: String| println!("plugin: {line}"))
        .host_fn("rate", |currency: String| match currency.as_str() {
            "EUR" => Ok(0.5),
            _ => Err(format!("no rate for {currency}")),
        });
    let sandbox = Sandbox {
        net: NetPolicy::parse(&format!("127.0.0.1:{port}"))?,
        ..Sandbox::default()
    };
    let mut plugin = runtime
        .load_plugin(&sandbox, "=quote.lua", PLUGIN.as_bytes())
        .await?;
    let result = plugin
        .call("quote", &[LuaValue::Integer(port.into())])
        .await?;
    println!("plugin returned {}", result[0]);
    Ok(())
}
