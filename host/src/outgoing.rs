//! The handler world's outgoing HTTP (`wasi:http/outgoing-handler`), under the same
//! network policy as sockets: the host resolves the request's host, checks every address
//! with [`NetPolicy::check`] (a name rule lets its addresses through, as for sockets),
//! and connects only to an allowed one, so that what is checked is what is reached.
//! HTTPS is the host's (rustls, with Mozilla's roots), as wasi:http expects.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Uri;
use hyper::http::uri::Scheme;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::policy::NetPolicy;

/// How long a connection or a response's first byte may take when the guest does not
/// say (wasmtime-wasi-http's own default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The hooks of one store's `wasi:http`.
pub(crate) struct OutgoingHttp {
    policy: NetPolicy,
}

impl OutgoingHttp {
    pub(crate) fn new(policy: NetPolicy) -> OutgoingHttp {
        OutgoingHttp { policy }
    }
}

/// The connection's remaining work, after the response head.
type Done = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type Sent = Box<dyn Future<Output = Result<(hyper::Response<WasiBody>, Done), HttpError>> + Send>;

impl WasiHttpHooks for OutgoingHttp {
    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_done: Done,
    ) -> Sent {
        let policy = self.policy.clone();
        Box::new(send(policy, request, options))
    }
}

/// Where a request goes: its host as written (for TLS), its port, and whether TLS.
struct Target {
    host: String,
    port: u16,
    tls: bool,
}

impl Target {
    fn of(uri: &Uri) -> Result<Target, HttpError> {
        let authority = uri.authority().ok_or(HttpError::HttpRequestUriInvalid)?;
        let tls = uri.scheme() == Some(&Scheme::HTTPS);
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Ok(Target {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            tls,
        })
    }
}

async fn send(
    policy: NetPolicy,
    mut request: hyper::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(hyper::Response<WasiBody>, Done), HttpError> {
    let target = Target::of(request.uri())?;
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let addrs = allowed_addresses(&policy, &target).await?;
    let tcp = tokio::time::timeout(connect_timeout, connect(&addrs))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = if target.tls {
        Box::new(tls(tcp, &target.host).await?)
    } else {
        Box::new(tcp)
    };
    let (mut sender, connection) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)??;
    let driver = tokio::spawn(connection);
    // The request line carries the path only; the authority went into the Host header.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)??;
    let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
    let done: Done = Box::new(async move {
        match driver.await {
            Ok(result) => result.map_err(HttpError::from),
            Err(_) => Err(HttpError::ConnectionTerminated),
        }
    });
    Ok((response, done))
}

/// The target's addresses that the policy lets this request reach, in the resolver's
/// order. A name the policy does not cover is not even looked up.
async fn allowed_addresses(
    policy: &NetPolicy,
    target: &Target,
) -> Result<Vec<SocketAddr>, HttpError> {
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => {
            if !policy.allows_name(&target.host) {
                policy.report(format!("HTTP request to '{}'", target.host));
                return Err(HttpError::HttpRequestDenied);
            }
            let found = tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|_| HttpError::DnsError {
                    rcode: Some("address not available".into()),
                    info_code: None,
                })?;
            let found: Vec<SocketAddr> = found.collect();
            for addr in &found {
                policy.learn(&target.host, addr.ip());
            }
            found
        }
    };
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|&addr| policy.check(addr, SocketAddrUse::TcpConnect))
        .collect();
    if allowed.is_empty() {
        return Err(HttpError::HttpRequestDenied);
    }
    Ok(allowed)
}

/// The first of `addrs` that accepts a connection.
async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, HttpError> {
    let mut last = None;
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            HttpError::ConnectionRefused
        }
        Some(e) => HttpError::Connect(e),
        None => HttpError::DestinationNotFound,
    })
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

async fn tls(tcp: TcpStream, host: &str) -> Result<impl Stream, HttpError> {
    use rustls::pki_types::ServerName;
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|_| HttpError::TlsProtocolError)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = match host.parse::<IpAddr>() {
        Ok(ip) => ServerName::from(ip),
        Err(_) => ServerName::try_from(host.to_owned())?,
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(HttpError::Tls)
}
