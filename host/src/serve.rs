//! `luasocket-wasi serve`: HTTP requests answered by a Lua app in the handler world,
//! one fresh instance per request, as `wasmtime serve` and edge hosts run components.
//!
//! The server owns the listener (hyper, HTTP/1.1); each request becomes a
//! `wasi:http` incoming request in a new store, made in the sandbox of the command line
//! as `run` makes one (network policy, directories, limits), and the instance's
//! `incoming-handler.handle` answers it. The response streams back while the instance
//! still runs; the instance ends when the handler returns or a limit stops it.
//!
//! What a client can do to the server is bounded here, not in the guest: the request
//! head must arrive within [`HEAD_TIMEOUT`] and fit in [`MAX_HEAD`] bytes, and each
//! request's instance lives at most as long as the sandbox's timeout allows.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpListener;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::bundle::Bundle;
use crate::runtime::{Runtime, Sandbox};

/// How long a client may take to send a request's head (slow clients hold a
/// connection open, not an instance: none is made before the head is in).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a request head may hold, in bytes (hyper answers 431 beyond it).
pub const MAX_HEAD: usize = 64 * 1024;

/// A handler-world runtime, serving requests in a sandbox.
#[derive(Clone)]
pub struct Server {
    runtime: Arc<Runtime>,
    sandbox: Arc<Sandbox>,
    bundle: Arc<Bundle>,
}

/// A response whose body the instance is still writing.
pub type Response = hyper::Response<HyperOutgoingBody>;

impl Server {
    /// `runtime` must hold the handler world's component; `bundle` is the app.
    pub fn new(
        runtime: Arc<Runtime>,
        sandbox: Sandbox,
        bundle: Bundle,
    ) -> wasmtime::Result<Server> {
        if runtime.proxy().is_none() {
            wasmtime::bail!("the component does not export wasi:http/incoming-handler");
        }
        Ok(Server {
            runtime,
            sandbox: Arc::new(sandbox),
            bundle: Arc::new(bundle),
        })
    }

    /// Accepts connections on `listener` and serves their requests until it fails.
    pub async fn run(self, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (client, _) = listener.accept().await?;
            let _ = client.set_nodelay(true);
            let server = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let server = server.clone();
                    async move { server.handle(request).await }
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEAD_TIMEOUT)
                    .max_buf_size(MAX_HEAD)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(client), service)
                    .await;
            });
        }
    }

    /// Answers one request in a fresh instance.
    pub async fn handle(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<Response, wasmtime::Error> {
        let pre = self.runtime.proxy().cloned().ok_or_else(|| {
            wasmtime::format_err!("the component does not export wasi:http/incoming-handler")
        })?;
        let (mut store, _) = self.runtime.new_store(&self.sandbox)?;
        store.data_mut().bundle = self.bundle.clone();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let timeout = self.sandbox.limits.timeout;
        let task = tokio::spawn(async move {
            let call = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .await
            };
            within(timeout, call).await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(wasmtime::format_err!("the app failed: {code:?}")),
            // The outparam was dropped unset: the task says why.
            Err(_) => Err(match task.await {
                Ok(Ok(())) => wasmtime::format_err!("the app sent no response"),
                Ok(Err(e)) => e.context("the app sent no response"),
                Err(e) => wasmtime::Error::from(e),
            }),
        }
    }
}

/// `call`, stopped after `timeout` if there is one.
async fn within<T>(
    timeout: Option<Duration>,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    match timeout {
        None => call.await,
        Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
            Err(wasmtime::format_err!(
                "the request took longer than {limit:?}"
            ))
        }),
    }
}

/// Prints where the server listens, as `wasmtime serve` does.
pub fn announce(addr: SocketAddr) {
    eprintln!("Serving HTTP on http://{addr}/");
}
