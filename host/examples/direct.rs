//! Using the component's exported `tcp` and `select` resources from Rust, without Lua:
//! a TCP client inside the sandbox, waited on with `select`.
//! Run: cargo run --release -p luasocket-wasi-host --example direct
use std::io::{Read, Write};
use std::net::TcpListener;

use luasocket_wasi_host::bindings::exports::luasocket::socket::select::Socket;
use luasocket_wasi_host::bindings::exports::luasocket::socket::tcp::{Family, Pattern};
use luasocket_wasi_host::{NetPolicy, Runtime, Sandbox};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The exports are driven outside tokio's cooperative budget (see `Instance::parts`).
    tokio::task::coop::unconstrained(client()).await
}

async fn client() -> Result<(), Box<dyn std::error::Error>> {
    let server = TcpListener::bind("127.0.0.1:0")?;
    let port = server.local_addr()?.port();
    std::thread::spawn(move || {
        let (mut peer, _) = server.accept().unwrap();
        let mut request = [0u8; 5];
        peer.read_exact(&mut request).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        peer.write_all(b"pong from a native peer\n").unwrap();
    });

    let runtime = Runtime::new()?;
    let sandbox = Sandbox {
        net: NetPolicy::parse("127.0.0.1")?,
        ..Sandbox::default()
    };
    let mut instance = runtime.instantiate(&sandbox).await?;
    let (store, exports) = instance.parts();
    let (tcp, select) = (
        exports.luasocket_socket_tcp(),
        exports.luasocket_socket_select(),
    );
    let sock = tcp
        .call_create(&mut *store, Some(Family::Inet4))
        .await?
        .map_err(|e| format!("{e:?}"))?;
    let methods = tcp.tcp_socket();
    methods
        .call_connect(&mut *store, sock, "127.0.0.1", port)
        .await?
        .map_err(|e| format!("{e:?}"))?;
    methods
        .call_send(&mut *store, sock, b"ping\n")
        .await?
        .map_err(|e| format!("{e:?}"))?;

    // Wait (up to 5 s) until the answer is there, then read the line.
    let ready = select
        .call_select(&mut *store, &[Socket::Tcp(sock)], &[], Some(5.0))
        .await?;
    println!("select: readable {:?}", ready.readable);
    let line = methods
        .call_receive(&mut *store, sock, Pattern::Line, &[], None)
        .await?
        .map_err(|e| format!("{e:?}"))?;
    println!("received: {}", String::from_utf8_lossy(&line));
    methods.call_close(&mut *store, sock).await?;
    sock.resource_drop_async(&mut *store).await?;
    Ok(())
}
