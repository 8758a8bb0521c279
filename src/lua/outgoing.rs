//! `socket.outgoing` (the handler world only): one HTTP request through the host's
//! `wasi:http/outgoing-handler` (`net::http`), in the shapes `socket.http` works with, so
//! that `http.request` and `https.request` keep their API where there are no sockets.
//!
//! `send(reqt)` takes the request `socket.http` has prepared (`scheme`, `method`, `host`,
//! `port`, `uri`, `headers`, `source`, `timeout`) and answers `code, headers, status,
//! body`: the headers as `socket.headers` names them (lower case, repeats joined with
//! ", "), a status line, and the body as an LTN12 source. A failure is `nil, message`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::net::NetError;
use crate::net::http::{self, BodyReader, Request};

/// Puts the module in `package.preload`.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let module = lua.create_table()?;
    module.set("send", lua.create_function(send)?)?;
    let preload: Table = lua.globals().get::<Table>("package")?.get("preload")?;
    preload.set(
        "socket.outgoing",
        lua.create_function(move |_, ()| Ok(module.clone()))?,
    )
}

fn send(lua: &Lua, reqt: Table) -> mlua::Result<MultiValue> {
    let scheme: String = reqt.get("scheme")?;
    let https = match scheme.as_str() {
        "http" => false,
        "https" => true,
        other => return failure(lua, &format!("unsupported scheme '{other}'")),
    };
    let host: String = reqt.get("host")?;
    let port: u16 = reqt
        .get::<Option<u16>>("port")?
        .unwrap_or(if https { 443 } else { 80 });
    let authority = authority(&host, port, https);
    let method: String = reqt
        .get::<Option<String>>("method")?
        .unwrap_or_else(|| "GET".into());
    let target: String = reqt
        .get::<Option<String>>("uri")?
        .unwrap_or_else(|| "/".into());
    let headers = request_headers(reqt.get("headers")?)?;
    // `try_`: a script's NaN or 1e300 must not panic (that traps the instance).
    let timeout = reqt
        .get::<Option<f64>>("timeout")?
        .and_then(|t| Duration::try_from_secs_f64(t).ok());
    let source: Option<Function> = reqt.get("source")?;
    let request = Request {
        https,
        method: &method,
        authority: &authority,
        target: &target,
        headers: &headers,
        timeout,
    };
    let next_chunk = || -> mlua::Result<Option<Vec<u8>>> {
        let Some(source) = &source else {
            return Ok(None);
        };
        let (chunk, err): (Option<mlua::LuaString>, Option<String>) = source.call(())?;
        match (chunk, err) {
            (Some(chunk), _) => Ok(Some(chunk.as_bytes().to_vec())),
            (None, Some(err)) => Err(mlua::Error::runtime(err)),
            (None, None) => Ok(None),
        }
    };
    let response = match http::send(&request, next_chunk)? {
        Ok(response) => response,
        Err(e) => return failure(lua, e.as_str()),
    };
    let names = response_headers(lua, &response.headers)?;
    let status = format!("HTTP/1.1 {} {}", response.status, reason(response.status));
    let body = body_source(lua, response.body)?;
    Ok(MultiValue::from_iter([
        Value::Integer(i64::from(response.status)),
        Value::Table(names),
        Value::String(lua.create_string(status.trim_end())?),
        Value::Function(body),
    ]))
}

fn failure(lua: &Lua, message: &str) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_iter([
        Value::Nil,
        Value::String(lua.create_string(message)?),
    ]))
}

/// `host:port` as a URL's authority: IPv6 in brackets, the scheme's port left out.
fn authority(host: &str, port: u16, https: bool) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if port == if https { 443 } else { 80 } {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// `socket.http`'s header table: names to strings (or numbers, as `content-length`).
fn request_headers(headers: Option<Table>) -> mlua::Result<Vec<(String, Vec<u8>)>> {
    let mut list = Vec::new();
    let Some(headers) = headers else {
        return Ok(list);
    };
    for pair in headers.pairs::<String, Value>() {
        let (name, value) = pair?;
        let value = match &value {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Integer(_) | Value::Number(_) => value.to_string()?.into_bytes(),
            other => {
                return Err(mlua::Error::runtime(format!(
                    "invalid value for header '{name}' ({})",
                    other.type_name()
                )));
            }
        };
        list.push((name, value));
    }
    Ok(list)
}

/// The answer's headers as `socket.headers` gives them: lower-case names, repeated
/// headers joined with ", ".
fn response_headers(lua: &Lua, headers: &[(String, Vec<u8>)]) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let joined = match table.get::<Option<mlua::LuaString>>(name.as_str())? {
            Some(before) => {
                let mut v = before.as_bytes().to_vec();
                v.extend_from_slice(b", ");
                v.extend_from_slice(value);
                v
            }
            None => value.clone(),
        };
        table.set(name, lua.create_string(&joined)?)?;
    }
    Ok(table)
}

/// The body as an LTN12 source: a chunk per call, nil at the end, `nil, message` if the
/// answer broke off.
fn body_source(lua: &Lua, body: BodyReader) -> mlua::Result<Function> {
    let body = Rc::new(RefCell::new(body));
    lua.create_function(move |lua, ()| -> mlua::Result<MultiValue> {
        let next = body.borrow_mut().next_chunk();
        match next {
            Ok(Some(chunk)) => Ok(MultiValue::from_iter([Value::String(
                lua.create_string(&chunk)?,
            )])),
            Ok(None) => Ok(MultiValue::from_iter([Value::Nil])),
            Err(e) => failure(lua, NetError::as_str(&e)),
        }
    })
}

/// The reason phrase a status line would carry (wasi:http gives the code alone).
fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn authorities_leave_out_the_scheme_port() {
        assert_eq!(authority("example.org", 80, false), "example.org");
        assert_eq!(authority("example.org", 443, true), "example.org");
        assert_eq!(authority("example.org", 8080, false), "example.org:8080");
        assert_eq!(authority("::1", 80, true), "[::1]:80");
        assert_eq!(authority("[::1]", 443, true), "[::1]");
    }
}
