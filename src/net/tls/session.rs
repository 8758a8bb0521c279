//! A TLS connection over a connected [`Tcp`] object: LuaSec's `ssl.wrap` result.
//!
//! rustls does the protocol; this moves its records to and from the TCP connection under
//! the object's timeouts, and hands the plaintext to the same [`RecvBuffer`] patterns
//! plain TCP uses. Records queued by rustls are gathered into one buffer and written with
//! one stream write: separate small writes would meet Nagle's algorithm (which WASI 0.2
//! cannot switch off) and stall on delayed ACKs.
//!
//! Waiting follows LuaSec: running out of time while the protocol needs to read reports
//! `"wantread"`, while it needs to write `"wantwrite"`, so a scheduler can select on the
//! connection and call again.

use std::io::{ErrorKind, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection};

use super::config::{Context, Mode, suite_name};
use super::sni::SniResolver;
use super::verify::{Verdict, take_verdict};
use crate::net::buffer::{Partial, Pattern, READ_SIZE, RecvBuffer, Source};
use crate::net::error::{NetError, NetResult, TlsError};
use crate::net::id;
use crate::net::poll::now_ns;
use crate::net::select::{Interest, Selectable};
use crate::net::tcp::{Stats, Tcp};
use crate::net::timeout::{Deadline, Timeout};

/// Where the connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Wrapped; the handshake has not finished (it may be under way).
    Handshaking,
    Ready,
    /// The handshake failed: every later call reports why.
    Failed(NetError),
    Closed,
}

/// The TCP connection and rustls's state: everything between plaintext and the wire.
struct Wire {
    tcp: Tcp,
    session: rustls::Connection,
    /// Bytes read from the peer that rustls has not taken yet.
    incoming: Vec<u8>,
    /// Records from rustls not yet accepted by the TCP stream.
    outgoing: Vec<u8>,
    /// Decrypted bytes waiting inside rustls.
    plaintext: usize,
    /// The peer closed the TCP connection.
    eof: bool,
    verdict: Option<Verdict>,
}

impl Wire {
    /// Gives rustls what has arrived and lets it process it.
    fn process(&mut self) -> NetResult<()> {
        while !self.incoming.is_empty() {
            match self.session.read_tls(&mut &self.incoming[..]) {
                Ok(0) | Err(_) => break, // rustls is full until plaintext is read
                Ok(n) => {
                    self.incoming.drain(..n);
                }
            }
            let result = self.session.process_new_packets();
            if let Some(verdict) = take_verdict() {
                self.verdict = Some(verdict);
            }
            match result {
                Ok(state) => self.plaintext = state.plaintext_bytes_to_read(),
                Err(e) => {
                    // Let the peer hear the alert rustls queued, if the stream takes it now.
                    let _ = self.flush(&Deadline::immediate());
                    return Err(NetError::Tls(TlsError::from(&e)));
                }
            }
        }
        Ok(())
    }

    /// Reads more from the peer, within the deadline.
    fn pull(&mut self, deadline: &Deadline) -> NetResult<()> {
        match self.tcp.read_raw(&mut self.incoming, deadline) {
            Ok(()) => Ok(()),
            Err(NetError::Timeout) => Err(NetError::WantRead),
            Err(NetError::Closed) => {
                self.eof = true;
                // An empty read tells rustls the transport has ended.
                let _ = self.session.read_tls(&mut &[][..]);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Writes everything rustls has queued, as one write where the stream allows.
    fn flush(&mut self, deadline: &Deadline) -> NetResult<()> {
        while self.session.wants_write() {
            if self.session.write_tls(&mut self.outgoing).is_err() {
                break;
            }
        }
        if self.outgoing.is_empty() {
            return Ok(());
        }
        match self.tcp.send(&self.outgoing, deadline) {
            Ok(_) => {
                self.outgoing.clear();
                Ok(())
            }
            Err((e, sent)) => {
                self.outgoing.drain(..sent);
                Err(if e == NetError::Timeout {
                    NetError::WantWrite
                } else {
                    e
                })
            }
        }
    }

    /// Runs the handshake to its end, within the deadline.
    fn handshake(&mut self, deadline: &Deadline) -> NetResult<()> {
        loop {
            if self.session.wants_write() || !self.outgoing.is_empty() {
                self.flush(deadline)?;
            }
            if !self.session.is_handshaking() {
                return Ok(());
            }
            if !self.incoming.is_empty() {
                let before = self.incoming.len();
                self.process()?;
                if self.incoming.len() < before {
                    continue;
                }
            }
            if self.eof {
                return Err(NetError::Closed);
            }
            self.pull(deadline)?;
            self.process()?;
        }
    }
}

impl Source for Wire {
    fn read_some(&mut self, out: &mut Vec<u8>, max: usize, deadline: &Deadline) -> NetResult<()> {
        loop {
            let start = out.len();
            let want = max.min(READ_SIZE).min(self.plaintext.max(1));
            out.try_reserve(want).map_err(|_| NetError::OutOfMemory)?;
            out.resize(start + want, 0);
            let read = self.session.reader().read(&mut out[start..]);
            match read {
                Ok(0) => {
                    out.truncate(start);
                    return Err(NetError::Closed);
                }
                Ok(n) => {
                    out.truncate(start + n);
                    self.plaintext = self.plaintext.saturating_sub(n);
                    return Ok(());
                }
                Err(e) => {
                    out.truncate(start);
                    if e.kind() != ErrorKind::WouldBlock || self.eof {
                        return Err(NetError::Closed);
                    }
                }
            }
            // Nothing decrypted yet: answer what rustls must say (key updates), then read.
            if self.session.wants_write() {
                self.flush(deadline)?;
            }
            let before = self.incoming.len();
            if before > 0 {
                self.process()?;
                if self.incoming.len() < before {
                    continue;
                }
            }
            self.pull(deadline)?;
            self.process()?;
        }
    }
}

/// What `info()` reports about the negotiated connection.
#[derive(Debug, Clone)]
/// Fields follow OpenSSL's cipher description, as LuaSec reports them.
pub struct Info {
    pub protocol: &'static str,
    pub cipher: &'static str,
    /// Bits of the symmetric key.
    pub bits: u32,
    /// Key exchange: `ECDH` (TLS 1.2), `any` (TLS 1.3 negotiates it apart from the suite).
    pub key: &'static str,
    /// Authentication: `RSA`/`ECDSA` (TLS 1.2), `any` (TLS 1.3).
    pub authentication: &'static str,
    /// e.g. `AESGCM(128)`, `CHACHA20/POLY1305(256)`.
    pub encryption: String,
    pub mac: &'static str,
}

pub struct Tls {
    wire: Wire,
    plain: RecvBuffer,
    phase: Phase,
    pub timeout: Timeout,
    stats: Stats,
    context: Context,
    /// `dohandshake` has been called: too late to change the name.
    started: bool,
    /// What the last call ran out of time waiting for (`want()`).
    waiting: Option<NetError>,
    /// `getfd`'s number, kept after the TCP object handed the connection over.
    id: i64,
}

impl Tls {
    /// Takes over a connected TCP object. A client verifies the server against `sni`'s
    /// name if one is set before the handshake, otherwise against the address it
    /// connected to.
    pub fn new(mut tcp: Tcp, context: &Context) -> NetResult<Tls> {
        let peer = tcp.remote_address()?;
        let session = match context {
            Context::Client(config, _) => {
                let name = ServerName::IpAddress(peer.ip().into());
                ClientConnection::new(config.clone(), name)
                    .map(rustls::Connection::Client)
                    .map_err(|e| NetError::Tls(TlsError::from(&e)))?
            }
            Context::Server(config, _) => ServerConnection::new(config.clone())
                .map(rustls::Connection::Server)
                .map_err(|e| NetError::Tls(TlsError::from(&e)))?,
        };
        let id = tcp.fd();
        Ok(Tls {
            wire: Wire {
                tcp,
                session,
                incoming: Vec::new(),
                outgoing: Vec::new(),
                plaintext: 0,
                eof: false,
                verdict: None,
            },
            plain: RecvBuffer::default(),
            phase: Phase::Handshaking,
            timeout: Timeout::default(),
            stats: Stats {
                received: 0.0,
                sent: 0.0,
                birth_ns: now_ns(),
            },
            context: context.clone(),
            started: false,
            waiting: None,
            id,
        })
    }

    /// Sets the name a client asks for and verifies against; only before the handshake
    /// has started. False if it cannot be used (not a DNS name, or too late).
    pub fn set_sni(&mut self, name: &str) -> bool {
        let Context::Client(config, _) = &self.context else {
            return false;
        };
        let server_name = match name.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => match ServerName::try_from(name.to_string()) {
                Ok(n) => n,
                Err(_) => return false,
            },
        };
        if self.started {
            return false;
        }
        match ClientConnection::new(config.clone(), server_name) {
            Ok(c) => {
                self.wire.session = rustls::Connection::Client(c);
                true
            }
            Err(_) => false,
        }
    }

    /// Server side: the certificate the client's SNI name picks, from `names`' contexts
    /// (see [`super::sni`]); only before the handshake has started. False if this is not
    /// a server connection or it is too late.
    pub fn set_server_names(&mut self, names: Vec<(String, Context)>, strict: bool) -> bool {
        let Context::Server(config, _) = &self.context else {
            return false;
        };
        if self.started {
            return false;
        }
        let names = names
            .into_iter()
            .filter_map(|(name, context)| match context {
                Context::Server(c, _) => Some((name, c)),
                // A client context has no certificate to offer: as a name not in the map.
                Context::Client(..) => None,
            })
            .collect();
        let chosen = SniResolver::config(config, names, strict);
        match ServerConnection::new(Arc::new(chosen)) {
            Ok(c) => {
                self.wire.session = rustls::Connection::Server(c);
                true
            }
            Err(_) => false,
        }
    }

    /// RFC 5705 keying material (`exportkeyingmaterial`), once the handshake is done.
    pub fn export_keying_material(
        &self,
        label: &[u8],
        len: usize,
        context: Option<&[u8]>,
    ) -> NetResult<Vec<u8>> {
        self.ready()?;
        if len == 0 {
            // OpenSSL derives zero bytes; rustls refuses to.
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        out.try_reserve_exact(len)
            .map_err(|_| NetError::OutOfMemory)?;
        out.resize(len, 0);
        self.wire
            .session
            .export_keying_material(&mut out, label, context)
            .map_err(|_| NetError::Tls(TlsError::Export))?;
        Ok(out)
    }

    /// LuaSec reports no elapsed time: the clock is read only for a total limit.
    pub fn deadline(&self) -> Deadline {
        self.timeout.start(false)
    }

    /// `dohandshake`: true once done; resumable after `wantread`/`wantwrite`.
    pub fn handshake(&mut self, deadline: &Deadline) -> NetResult<()> {
        match &self.phase {
            Phase::Handshaking => {}
            Phase::Ready => return Ok(()),
            Phase::Failed(e) => return Err(e.clone()),
            Phase::Closed => return Err(NetError::Closed),
        }
        self.started = true;
        let result = self.wire.handshake(deadline);
        self.note(result.as_ref().err(), ());
        match result {
            Ok(()) => {
                self.phase = Phase::Ready;
                Ok(())
            }
            Err(e) if e.would_block() => Err(e),
            Err(e) => {
                self.phase = Phase::Failed(e.clone());
                Err(e)
            }
        }
    }

    fn ready(&self) -> NetResult<()> {
        match &self.phase {
            Phase::Ready => Ok(()),
            // As LuaSec: I/O before the handshake finished finds the connection closed.
            _ => Err(NetError::Closed),
        }
    }

    pub fn receive(
        &mut self,
        pattern: Pattern,
        prefix: Vec<u8>,
        cap: Option<usize>,
        deadline: &Deadline,
    ) -> Result<Vec<u8>, Partial> {
        if let Err(error) = self.ready() {
            return Err(Partial {
                error,
                data: prefix,
            });
        }
        let before = self.plain.taken();
        let result = self
            .plain
            .receive(&mut self.wire, pattern, prefix, cap, deadline);
        self.stats.received += (self.plain.taken() - before) as f64;
        let error = result.as_ref().err().map(|p| p.error.clone());
        self.note(error.as_ref(), result)
    }

    /// Encrypts and sends `data`. Bytes count as sent once rustls has taken them; if
    /// the stream then runs out of time, their records wait in this object and go out
    /// first on the next call (or at close).
    pub fn send(&mut self, data: &[u8], deadline: &Deadline) -> Result<usize, (NetError, usize)> {
        self.ready().map_err(|e| (e, 0))?;
        self.wire.flush(deadline).map_err(|e| (e, 0))?;
        let mut sent = 0;
        let result = loop {
            if sent == data.len() {
                break Ok(sent);
            }
            match self.wire.session.writer().write(&data[sent..]) {
                Ok(0) | Err(_) => break Err((NetError::Closed, sent)),
                Ok(n) => sent += n,
            }
            if let Err(e) = self.wire.flush(deadline) {
                break Err((e, sent));
            }
        };
        self.stats.sent += sent as f64;
        let error = result.as_ref().err().map(|e| e.0.clone());
        self.note(error.as_ref(), result)
    }

    /// Sends close_notify and closes the TCP connection; the last records go out in the
    /// background, as TCP's unsent data does.
    pub fn close(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.phase == Phase::Ready {
            self.wire.session.send_close_notify();
        }
        while self.wire.session.wants_write() {
            if self
                .wire
                .session
                .write_tls(&mut self.wire.outgoing)
                .is_err()
            {
                break;
            }
        }
        let tail = std::mem::take(&mut self.wire.outgoing);
        self.wire.tcp.close_after(tail);
        self.phase = Phase::Closed;
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    pub fn mode(&self) -> Mode {
        self.context.mode()
    }

    /// What the protocol waits for, as LuaSec's `want()` names it.
    pub fn want(&self) -> &'static str {
        match &self.waiting {
            _ if !self.wire.outgoing.is_empty() => "write",
            Some(NetError::WantWrite) => "write",
            Some(NetError::WantRead) => "read",
            _ if self.phase == Phase::Handshaking && self.wire.session.wants_read() => "read",
            _ => "nothing",
        }
    }

    /// Remembers what a call ended waiting for, for `want()`.
    fn note<T>(&mut self, error: Option<&NetError>, result: T) -> T {
        self.waiting = error.filter(|e| e.would_block()).cloned();
        result
    }

    pub fn fd(&self) -> i64 {
        if self.is_closed() {
            id::INVALID
        } else {
            self.id
        }
    }

    pub fn set_fd(&mut self, fd: i64) {
        self.id = fd;
    }

    /// Plaintext is waiting: a receive would not need the network.
    pub fn dirty(&self) -> bool {
        self.plain.has_data() || self.wire.plaintext > 0
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn set_stats(&mut self, stats: Stats) {
        self.stats = stats;
    }

    pub fn info(&self) -> Option<Info> {
        if self.phase != Phase::Ready {
            return None;
        }
        let session = &self.wire.session;
        let suite = session.negotiated_cipher_suite()?;
        let protocol = match session.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "unknown",
        };
        let cipher = suite_name(suite);
        let bits = if cipher.contains("128") { 128 } else { 256 };
        let tls13 = protocol == "TLSv1.3";
        let authentication = match cipher {
            _ if tls13 => "any",
            c if c.contains("ECDSA") => "ECDSA",
            _ => "RSA",
        };
        let encryption = if cipher.contains("CHACHA20") {
            format!("CHACHA20/POLY1305({bits})")
        } else {
            format!("AESGCM({bits})")
        };
        Some(Info {
            protocol,
            cipher,
            bits,
            key: if tls13 { "any" } else { "ECDH" },
            authentication,
            encryption,
            mac: "AEAD",
        })
    }

    pub fn alpn(&self) -> Option<Vec<u8>> {
        self.wire.session.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The peer's certificates, its own first (DER).
    pub fn peer_certificates(&self) -> Vec<Vec<u8>> {
        self.wire
            .session
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
            .unwrap_or_default()
    }

    /// What `getpeerverification` reports, as OpenSSL's verify result does: known only
    /// once the handshake has finished ("closed" before, or after it failed), and good
    /// when the peer sent no certificate to verify.
    pub fn verification(&self) -> NetResult<()> {
        self.ready()?;
        match self.wire.verdict {
            Some(Err(e)) => Err(NetError::Tls(e)),
            Some(Ok(())) | None => Ok(()),
        }
    }

    /// Whether `getpeerverification` reports by chain depth (LuaSec does once a
    /// `setverifyext` flag is set on the context).
    pub fn verification_by_depth(&self) -> bool {
        self.context.verify_ext().any()
    }

    /// The name a client asked a server for (server side).
    pub fn requested_name(&self) -> Option<String> {
        match &self.wire.session {
            rustls::Connection::Server(s) => s.server_name().map(str::to_string),
            rustls::Connection::Client(_) => None,
        }
    }

    /// For `select`: whether a receive would find something now, decrypting what has
    /// arrived to find out (raw bytes may be only a partial record or a session ticket).
    pub fn confirm_readable(&mut self) -> bool {
        match self.phase {
            Phase::Ready => self.dirty() || self.plain.read_ahead(&mut self.wire),
            // A handshake in progress wants to be called again once bytes arrived.
            _ => true,
        }
    }
}

impl Drop for Tls {
    fn drop(&mut self) {
        self.close();
    }
}

impl Selectable for Tls {
    fn ready_now(&self, interest: Interest) -> bool {
        interest == Interest::Read && self.dirty()
    }

    fn pollable(&self, interest: Interest) -> Option<&wasip2::io::poll::Pollable> {
        if self.is_closed() {
            return None;
        }
        self.wire.tcp.pollable(interest)
    }
}
