//! HTTP over `wasi:http` (the handler world), for hosts that give no sockets: outgoing
//! requests through `outgoing-handler`, and reading and writing the bodies of both
//! directions. No Lua here: `lua/outgoing.rs` and `handler.rs` shape it for scripts.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::connection::write_all;
use super::error::{HttpError, NetError};
use super::poll::wait;
use super::timeout::Deadline;

/// Headers a guest may not set: the host frames the message and names the host itself
/// (wasmtime-wasi-http refuses these, as the wasi:http proposal allows).
const HOST_OWNED: &[&str] = &[
    "connection",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// An outgoing request.
pub struct Request<'a> {
    pub https: bool,
    pub method: &'a str,
    /// `host[:port]`.
    pub authority: &'a str,
    /// Path and query.
    pub target: &'a str,
    pub headers: &'a [(String, Vec<u8>)],
    /// For connecting and for the first byte of the answer, each.
    pub timeout: Option<std::time::Duration>,
}

/// The answer's head, and its body to read.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: BodyReader,
}

/// Sends `request` with the body `next_chunk` gives (until `None`), and waits for the
/// answer's head. `E` is the body source's own failure.
pub fn send<E>(
    request: &Request<'_>,
    mut next_chunk: impl FnMut() -> Result<Option<Vec<u8>>, E>,
) -> Result<Result<Response, NetError>, E> {
    let outgoing = match build(request) {
        Ok(outgoing) => outgoing,
        Err(e) => return Ok(Err(e)),
    };
    let Ok(body) = outgoing.body() else {
        return Ok(Err(NetError::Http(HttpError::Internal)));
    };
    let options = options(request.timeout);
    let future = match outgoing_handler::handle(outgoing, options) {
        Ok(future) => future,
        Err(code) => return Ok(Err(error(&code))),
    };
    if let Err(e) = write_body(body, &mut next_chunk)? {
        return Ok(Err(e));
    }
    let deadline = Deadline::never();
    let answer = loop {
        match future.get() {
            Some(answer) => break answer,
            None => {
                if let Err(e) = wait(&future.subscribe(), &deadline) {
                    return Ok(Err(e));
                }
            }
        }
    };
    Ok(match answer {
        Ok(Ok(response)) => Ok(read_head(response)),
        Ok(Err(code)) => Err(error(&code)),
        Err(()) => Err(NetError::Http(HttpError::Internal)),
    })
}

fn build(request: &Request<'_>) -> Result<OutgoingRequest, NetError> {
    let fields = Fields::new();
    for (name, value) in request.headers {
        if HOST_OWNED.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        fields
            .append(name, value)
            .map_err(|_| NetError::Http(HttpError::BadHeader))?;
    }
    let outgoing = OutgoingRequest::new(fields);
    let invalid = |()| NetError::Http(HttpError::BadRequest);
    outgoing
        .set_method(&method(request.method))
        .map_err(invalid)?;
    let scheme = if request.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing.set_scheme(Some(&scheme)).map_err(invalid)?;
    outgoing
        .set_authority(Some(request.authority))
        .map_err(invalid)?;
    outgoing
        .set_path_with_query(Some(request.target))
        .map_err(invalid)?;
    Ok(outgoing)
}

fn options(timeout: Option<std::time::Duration>) -> Option<RequestOptions> {
    let ns = u64::try_from(timeout?.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    // A host that cannot honour a timeout says so; the request goes out without it.
    let _ = options.set_connect_timeout(Some(ns));
    let _ = options.set_first_byte_timeout(Some(ns));
    let _ = options.set_between_bytes_timeout(Some(ns));
    Some(options)
}

/// Writes the request body, then ends it.
fn write_body<E>(
    body: OutgoingBody,
    next_chunk: &mut impl FnMut() -> Result<Option<Vec<u8>>, E>,
) -> Result<Result<(), NetError>, E> {
    let Ok(stream) = body.write() else {
        return Ok(Err(NetError::Http(HttpError::Internal)));
    };
    let written = BodyWriter(stream).write_each(next_chunk)?;
    if let Err(e) = written {
        return Ok(Err(e));
    }
    Ok(OutgoingBody::finish(body, None).map_err(|code| error(&code)))
}

fn read_head(response: IncomingResponse) -> Response {
    let headers = response.headers().entries();
    let status = response.status();
    Response {
        status,
        headers,
        body: BodyReader::new(response.consume().ok()),
    }
}

/// The method for its name, as `wasi:http` spells methods.
pub fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// The name of `method`.
pub fn method_name(method: &Method) -> &str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(name) => name,
    }
}

/// A `wasi:http` failure in LuaSocket's words where it has them.
fn error(code: &ErrorCode) -> NetError {
    match code {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
            NetError::PermissionDenied
        }
        ErrorCode::DnsError(_) | ErrorCode::DnsTimeout | ErrorCode::DestinationNotFound => {
            NetError::HostNotFound
        }
        ErrorCode::ConnectionRefused => NetError::ConnectionRefused,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => NetError::Timeout,
        ErrorCode::ConnectionTerminated | ErrorCode::HttpResponseIncomplete => NetError::Closed,
        ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => NetError::Http(HttpError::Tls),
        ErrorCode::HttpRequestMethodInvalid
        | ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestUriTooLong
        | ErrorCode::HttpRequestLengthRequired
        | ErrorCode::HttpRequestBodySize(_) => NetError::Http(HttpError::BadRequest),
        ErrorCode::HttpRequestHeaderSectionSize(_) | ErrorCode::HttpRequestHeaderSize(_) => {
            NetError::Http(HttpError::BadHeader)
        }
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => {
            NetError::Unreachable
        }
        ErrorCode::ConnectionLimitReached => NetError::TooManySockets,
        _ => NetError::Http(HttpError::Protocol),
    }
}

/// Reads an incoming body (a request's or a response's) chunk by chunk. The stream is a
/// child of the body resource, so it goes first (`close`).
pub struct BodyReader {
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
}

/// How much one read asks the host for.
const READ_SIZE: u64 = 64 * 1024;

impl BodyReader {
    pub fn new(body: Option<IncomingBody>) -> BodyReader {
        let stream = body.as_ref().and_then(|b| b.stream().ok());
        BodyReader { stream, body }
    }

    /// The next chunk; `None` at the end (or once the stream failed: the body is then
    /// shorter than it was meant to be, and `Err` says so).
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        loop {
            match stream.blocking_read(READ_SIZE) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Ok(Some(bytes)),
                Err(StreamError::Closed) => {
                    self.close();
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(_)) => {
                    self.close();
                    return Err(NetError::Closed);
                }
            }
        }
    }

    /// Gives the stream and the body back to the host.
    pub fn close(&mut self) {
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            drop(IncomingBody::finish(body));
        }
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        self.close();
    }
}

/// Writes an outgoing body's stream.
pub struct BodyWriter(pub OutputStream);

impl BodyWriter {
    /// Writes all of `chunk` and flushes it.
    pub fn write(&self, chunk: &[u8]) -> Result<(), NetError> {
        let writable = self.0.subscribe();
        let written = write_all(&self.0, &writable, chunk, &Deadline::never());
        drop(writable);
        written.map_err(|(e, _)| e)?;
        self.0.flush().map_err(NetError::from)
    }

    /// Writes each chunk `next_chunk` gives, until `None`.
    pub fn write_each<E>(
        &self,
        next_chunk: &mut impl FnMut() -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Result<(), NetError>, E> {
        while let Some(chunk) = next_chunk()? {
            if let Err(e) = self.write(&chunk) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}
