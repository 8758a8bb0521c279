//! `ssl.core`: LuaSec's C side over [`crate::net::tls`] — contexts, connections that take
//! over a connected TCP object, and certificate objects. `lua/ssl.lua` and
//! `lua/ssl/https.lua` are the Lua side, as in LuaSec.

use std::ffi::{CStr, c_int};

use super::api::{
    Args, Entry, LuaResult, Object, Raise, UserClass, cfunction, collect, ffi, register_class,
};
use super::descriptors::remember_fd;
use super::{results, stream};
use crate::net::error::{NetError, TlsError};
use crate::net::id;
use crate::net::tcp::{Class, Tcp};
use crate::net::tls::verify;
use crate::net::tls::x509::{self, Certificate};
use crate::net::tls::{Context, Mode, Params, Tls};

/// A connection userdata. Boxed: rustls's state is large, and Lua aligns userdata to 8.
/// `None` once collected.
#[derive(Default)]
pub struct Connection(Option<Box<Tls>>);

#[derive(Default)]
struct ContextData(Option<Context>);

#[derive(Default)]
struct CertificateData(Option<Box<Certificate>>);

/// LuaSec's classes: one metatable each, checked as `luaL_checkudata` does ("SSL:Context
/// expected, got tcp{master}").
macro_rules! luasec_class {
    ($type:ty, $name:literal) => {
        // SAFETY: one of LuaSec's class names, used for this type alone.
        unsafe impl UserClass for $type {
            type Kind = ();
            const KINDS: &'static [()] = &[()];

            fn name((): ()) -> &'static CStr {
                $name
            }

            fn expected(arg: c_int, _: &[()]) -> Raise {
                Raise::Type(arg, $name)
            }
        }
    };
}

luasec_class!(Connection, c"SSL:Connection");
luasec_class!(ContextData, c"SSL:Context");
luasec_class!(CertificateData, c"SSL:Certificate");

/// What a method of a collected object raises. (LuaSec frees the native object and
/// leaves its methods reading NULL; Lua's io says "attempt to use a closed file".)
fn collected(class: &str) -> Raise {
    Raise::Message(format!("attempt to use a collected {class}"))
}

impl Connection {
    fn live(&mut self) -> LuaResult<&mut Tls> {
        self.0
            .as_deref_mut()
            .ok_or_else(|| collected("SSL:Connection"))
    }
}

impl CertificateData {
    fn live(&self) -> LuaResult<&Certificate> {
        self.0
            .as_deref()
            .ok_or_else(|| collected("SSL:Certificate"))
    }
}

/// `require "ssl.core"`.
pub fn open(args: &Args) -> LuaResult<c_int> {
    register(args);
    let functions: &[Entry] = &[
        (c"newcontext", cfunction!(newcontext)),
        (c"wrap", cfunction!(wrap)),
        (c"loadcertificate", cfunction!(loadcertificate)),
    ];
    // SAFETY: the C function's own stack; the table is on top for `set_functions`.
    unsafe {
        ffi::lua_createtable(args.state(), 0, 4);
        super::api::set_functions(args.state(), functions);
    }
    args.push_integer(id::INVALID);
    args.set_field(-2, c"SOCKET_INVALID");
    Ok(1)
}

fn register(args: &Args) {
    let connection: &[Entry] = &[
        (c"close", cfunction!(close)),
        (c"dirty", cfunction!(dirty)),
        (c"dohandshake", cfunction!(dohandshake)),
        (c"exportkeyingmaterial", cfunction!(exportkeyingmaterial)),
        (c"getalpn", cfunction!(getalpn)),
        (c"getfd", cfunction!(getfd)),
        (c"getpeercertificate", cfunction!(getpeercertificate)),
        (c"getpeerchain", cfunction!(getpeerchain)),
        (c"getpeerverification", cfunction!(getpeerverification)),
        (c"getsniname", cfunction!(getsniname)),
        (c"getstats", cfunction!(getstats)),
        (c"info", cfunction!(info)),
        (c"receive", cfunction!(receive)),
        (c"send", cfunction!(send)),
        (c"setstats", cfunction!(setstats)),
        (c"settimeout", cfunction!(settimeout)),
        (c"sni", cfunction!(sni)),
        (c"want", cfunction!(want)),
    ];
    let connection_meta: &[Entry] = &[
        (c"__gc", cfunction!(collect::<Connection>)),
        (c"__close", cfunction!(close)),
        (c"__tostring", cfunction!(connection_tostring)),
    ];
    // As LuaSec, `__close` of a context or certificate is its `__gc`.
    let context_meta: &[Entry] = &[
        (c"__gc", cfunction!(collect::<ContextData>)),
        (c"__close", cfunction!(collect::<ContextData>)),
        (c"__tostring", cfunction!(context_tostring)),
    ];
    let context: &[Entry] = &[(c"setverifyext", cfunction!(setverifyext))];
    let certificate: &[Entry] = &[
        (c"digest", cfunction!(cert_digest)),
        (c"extensions", cfunction!(cert_extensions)),
        (c"getsignaturename", cfunction!(cert_signature)),
        (c"issued", cfunction!(cert_issued)),
        (c"issuer", cfunction!(cert_issuer)),
        (c"notafter", cfunction!(cert_notafter)),
        (c"notbefore", cfunction!(cert_notbefore)),
        (c"pem", cfunction!(cert_pem)),
        (c"pubkey", cfunction!(cert_pubkey)),
        (c"serial", cfunction!(cert_serial)),
        (c"setencode", cfunction!(cert_setencode)),
        (c"subject", cfunction!(cert_subject)),
        (c"validat", cfunction!(cert_validat)),
    ];
    let certificate_meta: &[Entry] = &[
        (c"__gc", cfunction!(collect::<CertificateData>)),
        (c"__close", cfunction!(collect::<CertificateData>)),
        (c"__tostring", cfunction!(cert_tostring)),
    ];
    // SAFETY: `luaopen_ssl_core`'s state, with room to spare.
    unsafe {
        register_class::<Connection>(args.state(), (), connection, connection_meta);
        register_class::<ContextData>(args.state(), (), context, context_meta);
        register_class::<CertificateData>(args.state(), (), certificate, certificate_meta);
    }
}

// ---------------------------------------------------------------------------------------
// Contexts
// ---------------------------------------------------------------------------------------

/// `ssl.newcontext(params)` → context, or nil and why.
fn newcontext(args: &Args) -> LuaResult<c_int> {
    if !args.is_table(1) {
        return Err(Raise::Type(1, c"table"));
    }
    let params = params(args, 1)?;
    match params.build() {
        Ok(context) => {
            args.push_object(ContextData(Some(context)), ());
            Ok(1)
        }
        Err(e) => Ok(args.fail(&e.to_string())),
    }
}

/// LuaSec's parameter table at `arg`, read field by field.
fn params(args: &Args, arg: c_int) -> LuaResult<Params> {
    let strings = |key: &CStr| strings(args, arg, key);
    let one = |key: &CStr| -> LuaResult<Option<String>> {
        Ok(strings(key)?.and_then(|v| v.into_iter().next()))
    };
    Ok(Params {
        mode: one(c"mode")?.unwrap_or_default(),
        protocol: one(c"protocol")?,
        key: one(c"key")?,
        certificate: one(c"certificate")?,
        cafile: one(c"cafile")?,
        capath: one(c"capath")?,
        verify: strings(c"verify")?,
        options: strings(c"options")?.unwrap_or_default(),
        ciphers: one(c"ciphers")?,
        ciphersuites: one(c"ciphersuites")?,
        curves: match one(c"curveslist")? {
            Some(list) => Some(list),
            None => one(c"curve")?,
        },
        alpn: strings(c"alpn")?.unwrap_or_default(),
    })
}

/// A field of the table at `arg` holding a string or a list of strings.
fn strings(args: &Args, arg: c_int, key: &CStr) -> LuaResult<Option<Vec<String>>> {
    args.push_raw_field(arg, key);
    let invalid = || {
        Raise::Message(format!(
            "invalid {} (a string or a list of strings)",
            key.to_string_lossy()
        ))
    };
    let result = if args.is_none_or_nil(-1) {
        Ok(None)
    } else if args.is_table(-1) {
        let mut list = Vec::new();
        for i in 1.. {
            if args.push_raw_index(-1, i) == ffi::LUA_TNIL {
                args.pop(1);
                break;
            }
            let item = args.opt_str(-1).ok().flatten().map(|s| s.into_owned());
            args.pop(1);
            list.push(item.ok_or_else(invalid)?);
        }
        Ok(Some(list))
    } else {
        args.opt_str(-1)
            .ok()
            .flatten()
            .map(|s| Some(vec![s.into_owned()]))
            .ok_or_else(invalid)
    };
    args.pop(1);
    result
}

/// `ctx:setverifyext(flag...)`: LuaSec's verification extensions; true, or false and
/// the flag it refused.
fn setverifyext(args: &Args) -> LuaResult<c_int> {
    let context = args.object::<ContextData>(1, &[()])?;
    let mut flags = Vec::new();
    for i in 2..=args.top() {
        flags.push(args.str(i)?.into_owned());
    }
    let context = context.0.as_ref().ok_or_else(|| collected("SSL:Context"))?;
    match context.verify_ext().set(&flags) {
        Ok(()) => {
            args.push_bool(true);
            Ok(1)
        }
        Err(e) => {
            args.push_bool(false);
            args.push_str(&e.to_string());
            Ok(2)
        }
    }
}

fn context_tostring(args: &Args) -> LuaResult<c_int> {
    args.object::<ContextData>(1, &[()])?;
    Ok(results::describe(args, c"SSL context"))
}

/// The context at `arg`, or one made from the parameter table there.
fn context_at(args: &Args, arg: c_int) -> LuaResult<Result<Context, String>> {
    if args.is_table(arg) {
        return Ok(params(args, arg)?.build().map_err(|e| e.to_string()));
    }
    let context = args.object::<ContextData>(arg, &[()])?;
    match &context.0 {
        Some(context) => Ok(Ok(context.clone())),
        None => Err(collected("SSL:Context")),
    }
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

/// `ssl.wrap(sock, ctx | params)`: the connection takes `sock`'s TCP connection over; `sock`
/// is left closed, as LuaSec leaves it without its descriptor.
fn wrap(args: &Args) -> LuaResult<c_int> {
    let Some(mut sock) = args.test_object::<Tcp>(1) else {
        return Err(Raise::Arg(1, "tcp{client} expected".into()));
    };
    let context = match context_at(args, 2)? {
        Ok(context) => context,
        Err(why) => return Ok(args.fail(&why)),
    };
    if sock.class() != Class::Client || sock.is_closed() {
        return Ok(args.fail(NetError::NotConnected.as_str()));
    }
    let timeout = sock.timeout;
    let taken = std::mem::take(&mut *sock);
    match Tls::new(taken, &context) {
        Ok(mut tls) => {
            tls.timeout = timeout;
            let fd = tls.fd();
            args.push_object(Connection(Some(Box::new(tls))), ());
            remember_fd(args, -1, fd);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

/// The TLS connection of the object at `arg`, if it is one and not collected; for
/// `select`, which must not run Lua while it holds the pointer.
pub fn test(args: &Args, arg: c_int) -> Option<*mut Tls> {
    let mut object = args.test_object::<Connection>(arg)?;
    object.0.as_deref_mut().map(|tls| tls as *mut Tls)
}

/// The connection object at 1, collected or not.
fn conn(args: &Args) -> LuaResult<Object<'_, Connection>> {
    args.object(1, &[()])
}

fn connection_tostring(args: &Args) -> LuaResult<c_int> {
    let closed = conn(args)?.0.as_ref().is_none_or(|tls| tls.is_closed());
    let text = format!(
        "SSL connection: {:p}{}",
        super::api::address(args, 1),
        if closed { " (closed)" } else { "" }
    );
    args.push_str(&text);
    Ok(1)
}

fn dohandshake(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    let deadline = conn.live()?.deadline();
    match conn.live()?.handshake(&deadline) {
        Ok(()) => {
            args.push_bool(true);
            Ok(1)
        }
        // LuaSec answers a failed handshake with false, not nil.
        Err(e) => {
            args.push_bool(false);
            args.push_str(e.as_str());
            Ok(2)
        }
    }
}

fn receive(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    let (pattern, prefix, cap) = stream::receive_args(args)?;
    let deadline = conn.live()?.deadline();
    let result = conn.live()?.receive(pattern, prefix, cap, &deadline);
    Ok(stream::push_received(args, result, None))
}

fn send(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    let (data, before) = stream::send_args(args)?;
    let deadline = conn.live()?.deadline();
    let result = if data.is_empty() {
        Ok(0)
    } else {
        conn.live()?.send(data, &deadline)
    };
    Ok(stream::push_sent(args, result, before, None))
}

/// Also `__close`. A collected connection is closed already.
fn close(args: &Args) -> LuaResult<c_int> {
    if let Some(tls) = conn(args)?.0.as_deref_mut() {
        tls.close();
    }
    Ok(0)
}

fn settimeout(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    super::timeout::set(args, |setting| {
        setting.apply(&mut conn.live()?.timeout);
        Ok(())
    })
}

/// A collected connection is as closed: not dirty, descriptor -1 (LuaSec's, too).
fn dirty(args: &Args) -> LuaResult<c_int> {
    let dirty = conn(args)?.0.as_ref().is_some_and(|tls| tls.dirty());
    args.push_bool(dirty);
    Ok(1)
}

fn getfd(args: &Args) -> LuaResult<c_int> {
    let fd = conn(args)?.0.as_ref().map_or(id::INVALID, |tls| tls.fd());
    args.push_number(fd as f64);
    Ok(1)
}

fn getstats(args: &Args) -> LuaResult<c_int> {
    let stats = conn(args)?.live()?.stats();
    Ok(stream::push_stats(args, stats))
}

fn setstats(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    let stats = stream::stats_args(args, conn.live()?.stats())?;
    conn.live()?.set_stats(stats);
    args.push_number(1.0);
    Ok(1)
}

/// Client: `sni(name)`, the name to ask for. Server: `sni(names, strict)`, the contexts
/// whose certificates the client's name picks. Both return nothing, as LuaSec's; a name
/// that cannot be used leaves the address in force.
fn sni(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    if conn.live()?.mode() == Mode::Client {
        let name = args.str(2)?.into_owned();
        conn.live()?.set_sni(&name);
        return Ok(0);
    }
    let names = server_names(args)?;
    let strict = args.boolean(3);
    conn.live()?.set_server_names(names, strict);
    Ok(0)
}

/// The `{ [name] = context }` table at 2, checked as LuaSec checks it.
fn server_names(args: &Args) -> LuaResult<Vec<(String, Context)>> {
    if !args.is_table(2) {
        return Err(Raise::Type(2, c"table"));
    }
    let mut names = Vec::new();
    args.push_nil();
    while args.next(2) {
        if !args.is_string(-2) {
            return Err(Raise::Type(-2, c"string"));
        }
        let name = String::from_utf8_lossy(args.bytes(-2)?).into_owned();
        let context = args.object::<ContextData>(-1, &[()])?;
        let context = context.0.clone().ok_or_else(|| collected("SSL:Context"))?;
        names.push((name, context));
        args.pop(1);
    }
    Ok(names)
}

/// `exportkeyingmaterial(label, length[, context])`: RFC 5705 keying material.
fn exportkeyingmaterial(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    let label = args.bytes(2)?;
    let len = args.integer(3)?;
    let context = args.opt_bytes(4)?;
    // As LuaSec's size_t cast: a negative length is a size no allocation can have.
    let out_of_memory = || Raise::Message(NetError::OutOfMemory.as_str().into());
    let len = usize::try_from(len).map_err(|_| out_of_memory())?;
    match conn.live()?.export_keying_material(label, len, context) {
        Ok(material) => {
            args.push_bytes(&material);
            Ok(1)
        }
        Err(NetError::OutOfMemory) => Err(out_of_memory()),
        // LuaSec pushes nil and "closed" but returns no value: a script sees nothing.
        Err(NetError::Closed) => Ok(0),
        Err(e) => Ok(args.fail(e.as_str())),
    }
}

fn getsniname(args: &Args) -> LuaResult<c_int> {
    let name = conn(args)?.live()?.requested_name();
    match name {
        Some(name) => args.push_str(&name),
        None => args.push_nil(),
    }
    Ok(1)
}

fn want(args: &Args) -> LuaResult<c_int> {
    let what = conn(args)?.live()?.want();
    args.push_str(what);
    Ok(1)
}

/// `info([field])`: a table describing the session, or one of its fields.
fn info(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    let field = args.opt_str(2)?.map(|f| f.into_owned());
    let Some(info) = conn.live()?.info() else {
        args.push_nil();
        return Ok(1);
    };
    args.new_table(0, 9);
    let strings: [(&CStr, &str); 6] = [
        (c"protocol", info.protocol),
        (c"cipher", info.cipher),
        (c"key", info.key),
        (c"authentication", info.authentication),
        (c"encryption", &info.encryption),
        (c"mac", info.mac),
    ];
    for (key, value) in strings {
        args.push_str(value);
        args.set_field(-2, key);
    }
    // Numbers as LuaSec pushes them (floats).
    args.push_number(f64::from(info.bits));
    args.set_field(-2, c"bits");
    args.push_number(f64::from(info.bits));
    args.set_field(-2, c"algbits");
    args.push_bool(false);
    args.set_field(-2, c"export");
    if let Some(field) = field {
        let key = std::ffi::CString::new(field).unwrap_or_default();
        args.push_raw_field(-1, &key);
        // SAFETY: removes the table this call pushed, under the field.
        unsafe { ffi::lua_remove(args.state(), -2) };
    }
    Ok(1)
}

fn getalpn(args: &Args) -> LuaResult<c_int> {
    let alpn = conn(args)?.live()?.alpn();
    match alpn {
        Some(p) => args.push_bytes(&p),
        None => args.push_nil(),
    }
    Ok(1)
}

/// `true`, or `false` and what verification found, as LuaSec reports it without a
/// verification callback.
fn getpeerverification(args: &Args) -> LuaResult<c_int> {
    let mut conn = conn(args)?;
    let by_depth = conn.live()?.verification_by_depth();
    let chain_len = conn.live()?.peer_certificates().len();
    let Err(error) = conn.live()?.verification() else {
        args.push_bool(true);
        return Ok(1);
    };
    args.push_bool(false);
    match error {
        NetError::Tls(e) if by_depth => push_errors_by_depth(args, e, chain_len),
        // OpenSSL's X509 error string alone, as LuaSec gives it.
        NetError::Tls(e) => args.push_str(e.verify_reason()),
        e => args.push_str(e.as_str()),
    }
    Ok(2)
}

/// LuaSec's `{ [depth + 1] = { reason... } }`, as OpenSSL's verification, carried on
/// past failures, reports them. webpki names no depth: a missing issuer is the top of
/// the chain the peer sent, where OpenSSL also finds that it cannot verify a lone
/// certificate; any other failure is put at the peer's own certificate.
fn push_errors_by_depth(args: &Args, problem: TlsError, chain_len: usize) {
    let unknown_issuer = problem == TlsError::UnknownIssuer;
    let depth = if unknown_issuer {
        chain_len.max(1) - 1
    } else {
        0
    };
    args.new_table(depth as c_int + 1, 0);
    args.new_table(2, 0);
    args.push_str(problem.verify_reason());
    args.set_index(-2, 1);
    if unknown_issuer && chain_len <= 1 {
        args.push_str("unable to verify the first certificate");
        args.set_index(-2, 2);
    }
    args.set_index(-2, depth as i64 + 1);
}

/// `getpeercertificate([n])`: the peer's certificate (1) or the nth of its chain.
fn getpeercertificate(args: &Args) -> LuaResult<c_int> {
    let chain = conn(args)?.live()?.peer_certificates();
    let n = args.opt_number(2)?.unwrap_or(1.0);
    let found = (n >= 1.0)
        .then(|| chain.get(n as usize - 1))
        .flatten()
        .and_then(|der| Certificate::parse(der));
    match found {
        Some(cert) => args.push_object(CertificateData(Some(Box::new(cert))), ()),
        None => args.push_nil(),
    }
    Ok(1)
}

fn getpeerchain(args: &Args) -> LuaResult<c_int> {
    let chain = conn(args)?.live()?.peer_certificates();
    if chain.is_empty() {
        args.push_nil();
        return Ok(1);
    }
    args.new_table(chain.len() as c_int, 0);
    for (i, der) in chain.iter().enumerate() {
        match Certificate::parse(der) {
            Some(cert) => args.push_object(CertificateData(Some(Box::new(cert))), ()),
            None => args.push_bool(false),
        }
        args.set_index(-2, i as i64 + 1);
    }
    Ok(1)
}

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

/// `ssl.loadcertificate(pem)` → certificate, or nil and why.
fn loadcertificate(args: &Args) -> LuaResult<c_int> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = args.bytes(1)?;
    let parsed = CertificateDer::from_pem_slice(pem)
        .ok()
        .and_then(|der| Certificate::parse(&der));
    match parsed {
        Some(cert) => {
            args.push_object(CertificateData(Some(Box::new(cert))), ());
            Ok(1)
        }
        // LuaSec's answer: nil alone.
        None => {
            args.push_nil();
            Ok(1)
        }
    }
}

/// The certificate object at 1, collected or not. Its methods copy what they need out of
/// it (`live`) before they push anything (see `api`).
fn cert(args: &Args) -> LuaResult<Object<'_, CertificateData>> {
    args.object(1, &[()])
}

fn cert_tostring(args: &Args) -> LuaResult<c_int> {
    cert(args)?;
    Ok(results::describe(args, c"X509 certificate"))
}

/// A distinguished name as LuaSec gives it: `{ {oid=, name=, value=}, ... }`.
fn push_name(args: &Args, entries: &[(String, String, Vec<u8>)]) {
    args.new_table(entries.len() as c_int, 0);
    for (i, (oid, name, value)) in entries.iter().enumerate() {
        args.new_table(0, 3);
        args.push_str(oid);
        args.set_field(-2, c"oid");
        args.push_str(name);
        args.set_field(-2, c"name");
        args.push_bytes(value);
        args.set_field(-2, c"value");
        args.set_index(-2, i as i64 + 1);
    }
}

fn cert_subject(args: &Args) -> LuaResult<c_int> {
    let cert = cert(args)?;
    let c = cert.live()?;
    let names = c.names(&c.subject);
    push_name(args, &names);
    Ok(1)
}

fn cert_issuer(args: &Args) -> LuaResult<c_int> {
    let cert = cert(args)?;
    let c = cert.live()?;
    let names = c.names(&c.issuer);
    push_name(args, &names);
    Ok(1)
}

/// `setencode("ai5" | "utf8")`: how names are given, as stored or as UTF-8. LuaSec
/// compares prefixes, and answers whether it knew the word.
fn cert_setencode(args: &Args) -> LuaResult<c_int> {
    let mut cert = cert(args)?;
    let how = args.bytes(2)?;
    let utf8 = match how {
        h if h.starts_with(b"ai5") => Some(false),
        h if h.starts_with(b"utf8") => Some(true),
        _ => None,
    };
    if let (Some(utf8), Some(c)) = (utf8, cert.0.as_deref_mut()) {
        c.utf8_names = utf8;
    }
    args.push_bool(utf8.is_some());
    Ok(1)
}

/// `ca:issued(cert[, intermediate...])`: true if the chain from `cert` reaches `ca`,
/// else nil and OpenSSL's reason.
fn cert_issued(args: &Args) -> LuaResult<c_int> {
    let issuer = cert(args)?.live()?.clone();
    let subject = args
        .object::<CertificateData>(2, &[()])?
        .live()?
        .der
        .clone();
    let mut chain = Vec::new();
    for i in 3..=args.top() {
        let der = args
            .object::<CertificateData>(i, &[()])?
            .live()?
            .der
            .clone();
        chain.push(rustls::pki_types::CertificateDer::from(der));
    }
    let verdict = verify::issued(
        &issuer,
        &subject.into(),
        &chain,
        rustls::pki_types::UnixTime::now(),
    );
    match verdict {
        Ok(()) => {
            args.push_bool(true);
            Ok(1)
        }
        Err(e) => Ok(args.fail(e.verify_reason())),
    }
}

fn cert_notbefore(args: &Args) -> LuaResult<c_int> {
    let time = x509::openssl_time(cert(args)?.live()?.not_before);
    args.push_str(&time);
    Ok(1)
}

fn cert_notafter(args: &Args) -> LuaResult<c_int> {
    let time = x509::openssl_time(cert(args)?.live()?.not_after);
    args.push_str(&time);
    Ok(1)
}

fn cert_serial(args: &Args) -> LuaResult<c_int> {
    let serial = cert(args)?.live()?.serial_hex();
    args.push_str(&serial);
    Ok(1)
}

fn cert_signature(args: &Args) -> LuaResult<c_int> {
    let name = cert(args)?.live()?.signature_algorithm.clone();
    args.push_str(&name);
    Ok(1)
}

/// `validat(time)`: whether the certificate is within its validity at `time`.
fn cert_validat(args: &Args) -> LuaResult<c_int> {
    let cert = cert(args)?;
    let t = args.number(2)?;
    let valid = cert.live()?.valid_at(t);
    args.push_bool(valid);
    Ok(1)
}

/// `digest([alg])`: hex of the DER's hash; "sha1" (the default), "sha256", "sha384",
/// "sha512".
fn cert_digest(args: &Args) -> LuaResult<c_int> {
    let cert = cert(args)?;
    let algorithm = args.opt_bytes(2)?.unwrap_or(b"sha1");
    match cert.live()?.digest(algorithm) {
        Some(hex) => {
            args.push_str(&hex);
            Ok(1)
        }
        None => {
            let name = String::from_utf8_lossy(algorithm);
            Ok(args.fail(&format!("digest algorithm not supported ({name})")))
        }
    }
}

fn cert_pem(args: &Args) -> LuaResult<c_int> {
    let text = cert(args)?.live()?.pem();
    args.push_str(&text);
    Ok(1)
}

/// `pubkey()` → PEM of the public key, its type, its size in bits.
fn cert_pubkey(args: &Args) -> LuaResult<c_int> {
    let key = cert(args)?.live()?.public_key.clone();
    args.push_str(&x509::pem("PUBLIC KEY", &key.der));
    args.push_str(&key.kind);
    args.push_integer(i64::from(key.bits));
    Ok(3)
}

/// `extensions()`: `{ [oid] = { name = "X509v3 Subject Alternative Name",
/// dNSName = {...}, ... } }`, the extension LuaSec describes.
fn cert_extensions(args: &Args) -> LuaResult<c_int> {
    let alt_names = cert(args)?.live()?.alt_names.clone();
    args.new_table(0, 1);
    let Some(alt) = alt_names else {
        return Ok(1);
    };
    args.new_table(0, 5);
    args.push_str("X509v3 Subject Alternative Name");
    args.set_field(-2, c"name");
    let kinds: [(&CStr, &Vec<String>); 4] = [
        (c"dNSName", &alt.dns),
        (c"iPAddress", &alt.ip),
        (c"rfc822Name", &alt.email),
        (c"uniformResourceIdentifier", &alt.uri),
    ];
    for (key, values) in kinds {
        if values.is_empty() {
            continue;
        }
        args.new_table(values.len() as c_int, 0);
        for (i, v) in values.iter().enumerate() {
            args.push_str(v);
            args.set_index(-2, i as i64 + 1);
        }
        args.set_field(-2, key);
    }
    args.set_field(-2, c"2.5.29.17");
    Ok(1)
}
