//! The handler world's export, `wasi:http/incoming-handler`: each request runs a WSAPI
//! application (`run(wsapi_env)` returning status, headers and a body iterator) in a
//! fresh Lua state, the way a WSAPI connector (CGI, Xavante) runs one.
//!
//! The app and its modules come from the `bundle` import ([`crate::bundle`]): packed
//! into `app.wasm` by `luasocket-wasi build`, or handed over by `luasocket-wasi serve`,
//! so that hosts without a filesystem serve the same app. The request body is
//! streamed to the app through `wsapi_env.input`, and the response body is streamed
//! from its iterator: neither is held whole. An app that fails before it has answered
//! gets a 500 and its traceback goes to stderr; one that fails later leaves its body
//! unfinished, so the host and the client see a broken response, not a short one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, UserData, UserDataMethods, Value};
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam, Scheme,
};

use crate::exports::wasi::http::incoming_handler::Guest;
use crate::net::NetError;
use crate::net::http::{self, BodyReader, BodyWriter};
use crate::runner::{self, Failure, Session};
use crate::wit::Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let result = serve(&request, response_out);
        if let Err(message) = result {
            eprintln!("luasocket-wasi: {message}");
        }
        runner::finish();
    }
}

/// How far a request got when it failed.
enum Answered {
    /// Nothing was sent: the outparam can still carry a 500.
    No(ResponseOutparam),
    /// The status and headers went out; the body is cut short.
    Yes,
}

fn serve(request: &IncomingRequest, out: ResponseOutparam) -> Result<(), String> {
    let body = Rc::new(RequestBody::new(request));
    let outcome = run_app(request, &body, out);
    body.close();
    match outcome {
        Ok(()) => Ok(()),
        Err((Answered::No(out), message)) => {
            send_error(out);
            Err(message)
        }
        Err((Answered::Yes, message)) => Err(message),
    }
}

type Failed = (Answered, String);

fn run_app(
    request: &IncomingRequest,
    body: &Rc<RequestBody>,
    out: ResponseOutparam,
) -> Result<(), Failed> {
    let app = match load_app() {
        Ok(app) => app,
        Err(message) => return Err((Answered::No(out), message)),
    };
    let (session, run) = app;
    let answer = env(session.lua(), request, body)
        .map_err(runner::failure)
        .and_then(|env| session.protected_call(run, MultiValue::from_iter([Value::Table(env)])));
    let mut values = match answer {
        Ok(values) => values,
        Err(f) => return Err((Answered::No(out), describe(&f))),
    };
    let status = values.pop_front().unwrap_or(Value::Nil);
    let headers = values.pop_front().unwrap_or(Value::Nil);
    let iterator = values.pop_front().unwrap_or(Value::Nil);
    let response = match response(&status, &headers) {
        Ok(response) => response,
        Err(message) => return Err((Answered::No(out), message)),
    };
    let Ok(outgoing) = response.body() else {
        return Err((Answered::No(out), "the response body was taken".into()));
    };
    ResponseOutparam::set(out, Ok(response));
    send_body(&session, outgoing, iterator).map_err(|m| (Answered::Yes, m))
}

/// A fresh Lua state with the app loaded, and its `run`.
fn load_app() -> Result<(Session, Function), String> {
    let session = Session::new().map_err(|f| describe(&f))?;
    let app = crate::bundle::load(session.lua())?;
    let loaded = session
        .load(format!("@{}", app.name), &app.source)
        .map_err(|f| describe(&f))?;
    let run = app_function(loaded.front()).ok_or_else(|| {
        format!(
            "{} returns no WSAPI app (a function, or a table with `run`)",
            app.name
        )
    })?;
    Ok((session, run))
}

/// An app is a function, or a table (a module) whose `run` is one, as WSAPI's
/// launchers accept them.
fn app_function(value: Option<&Value>) -> Option<Function> {
    match value? {
        Value::Function(f) => Some(f.clone()),
        Value::Table(t) => match t.get::<Value>("run").ok()? {
            Value::Function(f) => Some(f),
            _ => None,
        },
        _ => None,
    }
}

fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Syntax(m) | Failure::Runtime(m) | Failure::OutOfMemory(m) => m.clone(),
        Failure::Exited(code) => format!("the app called os.exit({code})"),
    }
}

// ---------------------------------------------------------------------------------------
// The request: wsapi_env
// ---------------------------------------------------------------------------------------

/// `wsapi_env` for `request`: CGI's variables (RFC 3875, with WSAPI's rules: `PATH_INFO`
/// is "/" when empty, and any variable a request does not have reads as ""), `HTTP_*`
/// for each header, `input` and `error`.
fn env(lua: &Lua, request: &IncomingRequest, body: &Rc<RequestBody>) -> mlua::Result<Table> {
    let env = lua.create_table()?;
    let target = request.path_with_query().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let path = if path.is_empty() { "/" } else { path };
    let authority = request.authority().unwrap_or_default();
    let (name, port) = split_authority(&authority, request.scheme());
    env.set("REQUEST_METHOD", http::method_name(&request.method()))?;
    env.set(
        "PATH_INFO",
        lua.create_string(percent_decode(path.as_bytes()))?,
    )?;
    env.set("SCRIPT_NAME", "")?;
    env.set("QUERY_STRING", query)?;
    env.set("SERVER_NAME", name)?;
    env.set("SERVER_PORT", port)?;
    env.set("SERVER_PROTOCOL", "HTTP/1.1")?;
    env.set("SERVER_SOFTWARE", crate::VERSION)?;
    env.set("GATEWAY_INTERFACE", "CGI/1.1")?;
    if matches!(request.scheme(), Some(Scheme::Https)) {
        env.set("HTTPS", "on")?;
    }
    for (name, value) in headers(&request.headers()) {
        let value = lua.create_string(&value)?;
        match name.as_str() {
            "content-type" => env.set("CONTENT_TYPE", value.clone())?,
            "content-length" => env.set("CONTENT_LENGTH", value.clone())?,
            _ => {}
        }
        env.set(
            format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_")),
            value,
        )?;
    }
    env.set("input", Input(body.clone()))?;
    env.set("error", ErrorStream)?;
    let missing = lua.create_function(|_, (_, key): (Value, Value)| {
        Ok(if key.is_string() { Some("") } else { None })
    })?;
    let meta = lua.create_table()?;
    meta.set("__index", missing)?;
    env.set_metatable(Some(meta))?;
    Ok(env)
}

/// Header values by name, repeated headers joined with ", " as CGI does.
/// Indexed by name: a client sending thousands of headers must not cost the guest a
/// quadratic search.
fn headers(fields: &Fields) -> Vec<(String, Vec<u8>)> {
    let mut joined: Vec<(String, Vec<u8>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (name, value) in fields.entries() {
        match at.get(&name) {
            Some(&i) => {
                let v = &mut joined[i].1;
                v.extend_from_slice(b", ");
                v.extend_from_slice(&value);
            }
            None => {
                at.insert(name.clone(), joined.len());
                joined.push((name, value));
            }
        }
    }
    joined
}

/// `host[:port]` (or `[v6]:port`) into name and port, the port defaulting by scheme.
fn split_authority(authority: &str, scheme: Option<Scheme>) -> (String, String) {
    let default = match scheme {
        Some(Scheme::Https) => "443",
        _ => "80",
    };
    let (name, port) = match authority.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, port)
        }
        _ => (authority, default),
    };
    (
        name.to_owned(),
        if port.is_empty() { default } else { port }.to_owned(),
    )
}

/// `%XX` escapes decoded, as CGI's PATH_INFO carries the path; a malformed escape is
/// kept as it is.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The request's body, read as the app asks for it.
struct RequestBody {
    state: RefCell<BodyState>,
}

struct BodyState {
    reader: BodyReader,
    /// Read from the stream, not yet given to the app.
    pending: Vec<u8>,
    ended: bool,
}

impl RequestBody {
    fn new(request: &IncomingRequest) -> RequestBody {
        RequestBody {
            state: RefCell::new(BodyState {
                reader: BodyReader::new(request.consume().ok()),
                pending: Vec::new(),
                ended: false,
            }),
        }
    }

    /// Gives the body back to the host.
    fn close(&self) {
        let mut state = self.state.borrow_mut();
        state.reader.close();
        state.ended = true;
    }
}

impl BodyState {
    /// Reads more into `pending`; false at the end of the body (or where it broke off).
    fn fill(&mut self) -> bool {
        match self.reader.next_chunk() {
            Ok(Some(chunk)) => {
                self.pending.extend_from_slice(&chunk);
                true
            }
            Ok(None) | Err(_) => {
                self.ended = true;
                false
            }
        }
    }

    /// Up to `n` bytes; `None` at the end.
    fn read_count(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.pending.is_empty() && !self.ended {
            self.fill();
        }
        if self.pending.is_empty() {
            return None;
        }
        let n = n.min(self.pending.len());
        Some(self.pending.drain(..n).collect())
    }

    /// The rest of the body (empty at the end).
    fn read_all(&mut self) -> Vec<u8> {
        while !self.ended && self.fill() {}
        std::mem::take(&mut self.pending)
    }
}

/// `wsapi_env.input`: `read(n)` gives up to n bytes (nil at the end, or for n <= 0);
/// `read()` gives the rest of the body, or nil when nothing is left. `read("*a")` is the
/// same as `read()`, for code written against Lua files.
struct Input(Rc<RequestBody>);

impl UserData for Input {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("read", |lua, this, how: Value| {
            let mut state = this.0.state.borrow_mut();
            let whole = |state: &mut BodyState| Some(state.read_all()).filter(|b| !b.is_empty());
            let got = match &how {
                Value::Nil => whole(&mut state),
                Value::Integer(n) if *n > 0 => {
                    state.read_count(usize::try_from(*n).unwrap_or(usize::MAX))
                }
                Value::Number(n) if *n >= 1.0 => state.read_count(*n as usize),
                Value::Integer(_) | Value::Number(_) => None,
                Value::String(s) if matches!(&*s.as_bytes(), b"*a" | b"a") => whole(&mut state),
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "bad argument #1 to 'read' (number expected, got {})",
                        other.type_name()
                    )));
                }
            };
            match got {
                Some(bytes) => Ok(Value::String(lua.create_string(&bytes)?)),
                None => Ok(Value::Nil),
            }
        });
    }
}

/// `wsapi_env.error`: `write(...)` to the host's stderr, as a connector's error log.
struct ErrorStream;

impl UserData for ErrorStream {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("write", |_, _, parts: MultiValue| {
            use std::io::Write;
            let mut err = std::io::stderr();
            for part in parts {
                let bytes = match &part {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Integer(_) | Value::Number(_) => part.to_string()?.into_bytes(),
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument to 'write' (string expected, got {})",
                            other.type_name()
                        )));
                    }
                };
                let _ = err.write_all(&bytes);
            }
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------------------
// The response
// ---------------------------------------------------------------------------------------

/// The status and headers `run` returned, as a response.
fn response(status: &Value, headers: &Value) -> Result<OutgoingResponse, String> {
    let code = status_code(status).ok_or_else(|| {
        format!(
            "the app returned the status {}, not an HTTP status",
            describe_value(status)
        )
    })?;
    let fields = Fields::new();
    match headers {
        Value::Table(t) => {
            for pair in t.pairs::<Value, Value>() {
                let (name, value) = pair.map_err(|e| e.to_string())?;
                let Value::String(name) = &name else {
                    return Err(format!("a header name is a {}", name.type_name()));
                };
                let name = name.to_string_lossy();
                for value in header_values(&value)? {
                    fields
                        .append(&name, &value)
                        .map_err(|e| format!("header {name}: {e:?}"))?;
                }
            }
        }
        Value::Nil => {}
        other => {
            return Err(format!(
                "the app returned headers as a {}",
                other.type_name()
            ));
        }
    }
    let response = OutgoingResponse::new(fields);
    response
        .set_status_code(code)
        .map_err(|()| format!("the host refused the status {code}"))?;
    Ok(response)
}

/// A status as WSAPI apps give one: a number, or a string that starts with one ("200 OK").
fn status_code(status: &Value) -> Option<u16> {
    let code = match status {
        Value::Integer(n) => u16::try_from(*n).ok()?,
        Value::Number(n) if n.fract() == 0.0 => u16::try_from(*n as i64).ok()?,
        Value::String(s) => {
            let s = s.to_str().ok()?;
            s.split_whitespace().next()?.parse().ok()?
        }
        _ => return None,
    };
    (100..=999).contains(&code).then_some(code)
}

/// A header's value, or each of a list of values (repeated headers, `Set-Cookie`).
fn header_values(value: &Value) -> Result<Vec<Vec<u8>>, String> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => v
            .to_string()
            .map(String::into_bytes)
            .map_err(|e| e.to_string()),
        other => Err(format!("a header value is a {}", other.type_name())),
    };
    match value {
        Value::Table(list) => list
            .sequence_values::<Value>()
            .map(|v| one(&v.map_err(|e| e.to_string())?))
            .collect(),
        v => Ok(vec![one(v)?]),
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", s.to_string_lossy()),
        Value::Integer(n) => n.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.type_name().to_owned(),
    }
}

/// Writes each chunk the iterator gives until it gives nil (or false), then ends the
/// body.
fn send_body(session: &Session, body: OutgoingBody, iterator: Value) -> Result<(), String> {
    let Ok(stream) = body.write() else {
        return Err("the response body stream was taken".into());
    };
    let writer = BodyWriter(stream);
    let result = match &iterator {
        Value::Nil => Ok(()),
        Value::Function(next) => pump(session, next, &writer),
        Value::String(s) => writer.write(&s.as_bytes()).map_err(|e| sent_error(&e)),
        other => Err(format!(
            "the app returned a {} as its body",
            other.type_name()
        )),
    };
    drop(writer);
    result?;
    OutgoingBody::finish(body, None).map_err(|e| format!("the host refused the body: {e:?}"))
}

fn pump(session: &Session, next: &Function, writer: &BodyWriter) -> Result<(), String> {
    let mut next_chunk = || -> Result<Option<Vec<u8>>, String> {
        let mut values = session
            .protected_call(next.clone(), MultiValue::new())
            .map_err(|f| describe(&f))?;
        match values.pop_front().unwrap_or(Value::Nil) {
            Value::Nil | Value::Boolean(false) => Ok(None),
            Value::String(chunk) => Ok(Some(chunk.as_bytes().to_vec())),
            chunk @ (Value::Integer(_) | Value::Number(_)) => Ok(Some(
                chunk.to_string().map_err(|e| e.to_string())?.into_bytes(),
            )),
            other => Err(format!("the body iterator gave a {}", other.type_name())),
        }
    };
    writer
        .write_each(&mut next_chunk)?
        .map_err(|e| sent_error(&e))
}

fn sent_error(e: &NetError) -> String {
    format!("the response could not be sent: {e}")
}

/// A plain 500 for an app that failed before it answered (its traceback is on stderr,
/// not in the response).
fn send_error(out: ResponseOutparam) {
    let fields = Fields::new();
    let _ = fields.append("content-type", b"text/plain");
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(500);
    let body = response.body();
    ResponseOutparam::set(out, Ok(response));
    if let Ok(body) = body {
        if let Ok(stream) = body.write() {
            let _ = BodyWriter(stream).write(b"Internal Server Error\n");
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_into_name_and_port() {
        let s = |a: &str| split_authority(a, Some(Scheme::Http));
        assert_eq!(s("example.org:8080"), ("example.org".into(), "8080".into()));
        assert_eq!(s("example.org"), ("example.org".into(), "80".into()));
        assert_eq!(s("[::1]:81"), ("[::1]".into(), "81".into()));
        assert_eq!(s("[::1]"), ("[::1]".into(), "80".into()));
        assert_eq!(
            split_authority("h", Some(Scheme::Https)),
            ("h".into(), "443".into())
        );
    }

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(percent_decode(b"/a%20b/%7e"), b"/a b/~");
        assert_eq!(percent_decode(b"/100%"), b"/100%");
        assert_eq!(percent_decode(b"/%zz%4"), b"/%zz%4");
    }
}
