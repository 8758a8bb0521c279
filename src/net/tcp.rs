//! A LuaSocket TCP object over wasi:sockets/tcp: the master → client/server life cycle,
//! connect across every resolved address, accept, buffered receive, send with progress.
//!
//! wasi sockets differ from BSD ones in ways this module absorbs: the family is fixed at
//! creation (so the wasi socket is created lazily, once an address says which), a failed
//! connect consumes the socket (so each attempt gets a fresh one), and a socket must be
//! bound before it listens.

use std::net::{IpAddr, SocketAddr};

use wasip2::io::poll::Pollable;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use super::addr::{self, Family, with_network};
use super::buffer::{Partial, Pattern, READ_SIZE, RecvBuffer, Source};
use super::closing;
use super::connection::Connection;
use super::error::{NetError, NetResult};
use super::id;
use super::options::{self, OptValue, OptionTarget, Refusal, Remembered, SockOpt, secs_to_ns};
use super::poll::{now_ns, settle, wait};
use super::select::{Interest, Selectable};
use super::timeout::{Deadline, Timeout};

/// LuaSocket's TCP classes: what an object currently is and may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Master,
    Client,
    Server,
}

/// Which direction(s) `shutdown` closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Receive,
    Send,
    Both,
}

/// A socket waiting on its own pollable: a connect in progress, or a listener.
struct Pending {
    pollable: Pollable,
    socket: TcpSocket,
}

impl Pending {
    fn new(socket: TcpSocket) -> Pending {
        Pending {
            pollable: socket.subscribe(),
            socket,
        }
    }

    fn into_socket(self) -> TcpSocket {
        let Pending { pollable, socket } = self;
        drop(pollable);
        socket
    }
}

enum State {
    /// Not connected or listening: no wasi socket until the family is known, or one that
    /// may be bound.
    Idle(Option<TcpSocket>),
    Connecting(Pending),
    Connected(Connection),
    /// A connect that failed while nobody was waiting for it: its error until something
    /// reports it (`connect`, a send or receive, `getoption("error")`), as Linux keeps it
    /// in SO_ERROR, then none. The wasi socket went with the failure.
    Failed(Option<NetError>),
    Listening(Pending),
    Closed,
}

impl State {
    /// The wasi socket, once there is one.
    fn socket(&self) -> Option<&TcpSocket> {
        match self {
            State::Idle(s) => s.as_ref(),
            State::Connecting(p) | State::Listening(p) => Some(&p.socket),
            State::Connected(c) => Some(c.socket()),
            State::Failed(_) | State::Closed => None,
        }
    }
}

/// Byte counters for `getstats`/`setstats`.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub received: f64,
    pub sent: f64,
    pub birth_ns: u64,
}

impl Stats {
    /// Seconds since the object was made (or since `setstats` said it was).
    pub fn age_secs(&self) -> f64 {
        now_ns().saturating_sub(self.birth_ns) as f64 / 1e9
    }

    /// `setstats`'s age: the object was made `secs` ago (a negative age is now).
    pub fn set_age(&mut self, secs: f64) {
        self.birth_ns = now_ns().saturating_sub((secs.max(0.0) * 1e9) as u64);
    }
}

pub struct Tcp {
    class: Class,
    state: State,
    family: Option<Family>,
    pub timeout: Timeout,
    buffer: RecvBuffer,
    stats: Stats,
    /// Whether a `connect` call has answered that the connection is made. LuaSocket's
    /// connect is always a non-blocking connect(2) and a wait, and Linux answers the next
    /// connect(2) after one that finished so with success once, then "already connected";
    /// schedulers (copas) count on the success. Accepted connections are connected already.
    connect_reported: bool,
    /// Whether the object has a descriptor: an object without a family has no socket, and
    /// `getfd` says -1, until bind or connect makes one (LuaSocket's lazy sockets) or
    /// `setfd` gives it a number.
    has_fd: bool,
    options: Remembered,
    /// What `getfd` reports.
    id: i64,
}

impl Tcp {
    /// A master object; `family` None defers the choice to the first bind or connect.
    pub fn new(family: Option<Family>) -> NetResult<Tcp> {
        closing::sweep();
        let socket = family
            .map(|f| create(f, &Remembered::default()))
            .transpose()?;
        let created = socket.is_some();
        let mut tcp = Tcp::with_state(Class::Master, State::Idle(socket), family);
        tcp.has_fd = created;
        Ok(tcp)
    }

    fn with_state(class: Class, state: State, family: Option<Family>) -> Tcp {
        Tcp {
            class,
            state,
            family,
            timeout: Timeout::default(),
            buffer: RecvBuffer::default(),
            stats: Stats {
                received: 0.0,
                sent: 0.0,
                birth_ns: now_ns(),
            },
            connect_reported: true,
            has_fd: true,
            options: Remembered::default(),
            id: id::next(),
        }
    }

    /// The descriptor number `getfd` reports; `id::INVALID` once closed, and before a
    /// socket without a family has been bound or connected.
    pub fn fd(&self) -> i64 {
        if self.is_closed() || !self.has_fd {
            id::INVALID
        } else {
            self.id
        }
    }

    /// The number this object's descriptor has, or will have once it has a socket:
    /// what `select` finds it by when a wrapper's `getfd` names it.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// `setfd`: only changes what `getfd` reports, except that `_SOCKETINVALID` detaches
    /// the object from its connection, which is then closed (there is nothing to hand a
    /// descriptor over to).
    pub fn set_fd(&mut self, fd: i64) {
        if fd == id::INVALID {
            self.close();
        } else {
            self.id = fd;
            self.has_fd = true;
        }
    }

    /// Sets an option; a closed object's fail, as setsockopt on a closed descriptor.
    pub fn set_option(&mut self, opt: SockOpt, value: OptValue) -> NetResult<()> {
        if self.is_closed() {
            return Err(NetError::SetOptionFailed);
        }
        let target = self.state.socket().map(|s| s as &dyn OptionTarget);
        options::set(&mut self.options, target, opt, value)
    }

    pub fn get_option(&self, opt: SockOpt) -> NetResult<OptValue> {
        if self.is_closed() {
            return Err(NetError::GetOptionFailed);
        }
        options::get(
            &self.options,
            self.state.socket().map(|s| s as &dyn OptionTarget),
            opt,
        )
    }

    pub fn class(&self) -> Class {
        self.class
    }

    pub fn family(&self) -> Option<Family> {
        self.family
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether received bytes are waiting in the buffer.
    pub fn dirty(&self) -> bool {
        self.buffer.has_data()
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn set_stats(&mut self, stats: Stats) {
        self.stats = stats;
    }

    /// `getoption("error")`: the failure of a connect nobody has been told about yet,
    /// which this reports (and so clears), as Linux's SO_ERROR.
    pub fn take_error(&mut self) -> Option<NetError> {
        let _ = self.observe_connect();
        match &mut self.state {
            State::Failed(pending) => pending.take(),
            _ => None,
        }
    }

    /// Starts a call's clock under this socket's timeouts.
    pub fn deadline(&self) -> Deadline {
        // The elapsed time is reported (LuaSocket's debug builds).
        self.timeout.start(true)
    }

    /// Binds to the first of `host`'s addresses that accepts.
    pub fn bind(&mut self, host: &str, port: u16) -> NetResult<()> {
        let State::Idle(existing) = &mut self.state else {
            return Err(NetError::InvalidArgument);
        };
        let mut last = NetError::NameUnknown;
        for ip in addr::resolve(host, self.family)? {
            let socket = match existing.take() {
                Some(s) if Family::from_wasi(s.address_family()) == Family::of(&ip) => s,
                _ => create(Family::of(&ip), &self.options)?,
            };
            self.has_fd = true;
            let bound = bind_socket(&socket, SocketAddr::new(ip, port));
            if bound.is_ok() {
                self.family = Some(Family::of(&ip));
            }
            // A failed bind leaves the socket as it was (bound before, or not at all), as
            // bind(2) does: a second bind on a bound master must not unbind it.
            *existing = Some(socket);
            match bound {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Turns a bound master into a server. An unbound one is bound to the wildcard first,
    /// since wasi (unlike BSD) will not listen on an unbound socket.
    pub fn listen(&mut self, backlog: u32) -> NetResult<()> {
        let State::Idle(existing) = &mut self.state else {
            return Err(NetError::InvalidArgument);
        };
        let family = self.family.unwrap_or(Family::Inet4);
        let socket = match existing.take() {
            Some(s) => s,
            None => create(family, &self.options)?,
        };
        self.has_fd = true;
        if socket.local_address().is_err() {
            bind_socket(&socket, SocketAddr::new(family.any(), 0))?;
        }
        // A backlog the host cannot honour is not worth failing over. wasi refuses 0, so
        // `listen(0)` asks for 1: Linux then holds two pending connections where 0 holds
        // one (docs/tcp.md says so).
        let _ = socket.set_listen_backlog_size(u64::from(backlog.max(1)));
        socket.start_listen()?;
        let pending = Pending::new(socket);
        loop {
            match pending.socket.finish_listen() {
                Ok(()) => break,
                Err(ErrorCode::WouldBlock) => pending.pollable.block(),
                Err(e) => return Err(e.into()),
            }
        }
        self.family = Some(family);
        self.class = Class::Server;
        self.state = State::Listening(pending);
        Ok(())
    }

    /// Connects to `host:port`, trying each resolved address in turn (only the first when
    /// the timeout is zero). A zero timeout only starts the connect and answers "timeout",
    /// as Linux's non-blocking connect always answers EINPROGRESS, even on loopback: select
    /// for writing, then call `connect` again (see [`Tcp::connect_again`]).
    pub fn connect(&mut self, host: &str, port: u16, deadline: &Deadline) -> NetResult<()> {
        match &mut self.state {
            State::Connecting(_) => return self.connect_again(),
            State::Connected(_) if !self.connect_reported => {
                self.connect_reported = true;
                return Ok(());
            }
            State::Connected(_) => return Err(NetError::AlreadyConnected),
            State::Listening(_) | State::Closed => return Err(NetError::InvalidArgument),
            State::Idle(_) | State::Failed(_) => {}
        }
        // LuaSocket makes the object a client whatever the outcome, even a failed lookup.
        self.class = Class::Client;
        let ips = addr::resolve(host, self.family)?;
        // The failed connect's error, found by this connect(2) (LuaSocket resolves first);
        // the next starts afresh. Once the failure has been reported elsewhere, Linux
        // answers ECONNABORTED ("closed").
        if let State::Failed(pending) = &mut self.state {
            let error = pending.take().unwrap_or(NetError::Closed);
            self.state = State::Idle(None);
            return Err(error);
        }
        let try_once = deadline.wait_limit(now_ns).is_some_and(|d| d.is_zero());
        let tries = if try_once { 1 } else { ips.len() };
        let mut last = NetError::NameUnknown;
        for ip in ips.into_iter().take(tries) {
            match self.connect_to(ip, port, deadline, try_once) {
                Ok(()) => return Ok(()),
                Err(NetError::Timeout) => return Err(NetError::Timeout),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_to(
        &mut self,
        ip: IpAddr,
        port: u16,
        deadline: &Deadline,
        start_only: bool,
    ) -> NetResult<()> {
        let family = Family::of(&ip);
        let socket = match std::mem::replace(&mut self.state, State::Idle(None)) {
            State::Idle(Some(s)) if self.family == Some(family) => s,
            _ => create(family, &self.options)?,
        };
        self.has_fd = true;
        // However it finishes, the next connect answers success once more.
        self.connect_reported = false;
        with_network(|net| socket.start_connect(net, addr::to_wasi(SocketAddr::new(ip, port))))?;
        self.family = Some(family);
        if start_only {
            return self.start_connect_only(Pending::new(socket));
        }
        self.state = State::Connecting(Pending::new(socket));
        match self.finish_pending(deadline) {
            // A refusal by policy is connect(2)'s EACCES: nothing was started.
            Err(NetError::PermissionDenied) => {
                self.state = State::Idle(None);
                Err(NetError::PermissionDenied)
            }
            // A connect that failed during the wait: LuaSocket read its error from the
            // socket, so what follows is as after a reported non-blocking failure (send
            // and receive say "closed", the next connect "closed", then it starts afresh).
            Err(e) if e != NetError::Timeout => {
                self.state = State::Failed(None);
                Err(e)
            }
            done => done,
        }
    }

    /// A connect under a zero timeout: "timeout", as Linux's EINPROGRESS, even if it is as
    /// good as done; only a refusal by the host's network policy fails at once, as
    /// connect(2) does with EACCES. One look: a host that knows the outcome already (a
    /// refused loopback port is known at once) keeps it for the next connect, send,
    /// receive or `getoption("error")`, as Linux keeps it in SO_ERROR.
    fn start_connect_only(&mut self, pending: Pending) -> NetResult<()> {
        match pending.socket.finish_connect() {
            Ok((input, output)) => {
                let conn = Connection::new(pending.into_socket(), input, output);
                self.state = State::Connected(conn);
                Err(NetError::Timeout)
            }
            Err(ErrorCode::WouldBlock) => {
                self.state = State::Connecting(pending);
                Err(NetError::Timeout)
            }
            Err(ErrorCode::AccessDenied) => Err(NetError::PermissionDenied),
            Err(e) => {
                self.state = State::Failed(Some(e.into()));
                Err(NetError::Timeout)
            }
        }
    }

    /// `connect` while an earlier one is in progress, as Linux answers it: success once it
    /// has finished, its error if it failed, or "Operation already in progress". On
    /// loopback Linux has finished by the second call; here the host may still be at it.
    fn connect_again(&mut self) -> NetResult<()> {
        match self.observe_connect() {
            Ok(()) => {
                self.connect_reported = true;
                Ok(())
            }
            Err(NetError::Timeout) => Err(NetError::InProgress),
            Err(e) => {
                self.state = State::Idle(None);
                Err(e)
            }
        }
    }

    /// What a connect in progress has come to by now, as far as the host can tell after
    /// one turn (see [`settle`]); a no-op otherwise.
    fn observe_connect(&mut self) -> NetResult<()> {
        if let State::Connecting(pending) = &self.state {
            settle(&pending.pollable);
        }
        self.finish_pending(&Deadline::immediate())
    }

    /// Completes a connect in progress, within the deadline; a no-op otherwise. A failure
    /// leaves the error pending in [`State::Failed`] for whoever reports it.
    fn finish_pending(&mut self, deadline: &Deadline) -> NetResult<()> {
        let pending = match std::mem::replace(&mut self.state, State::Closed) {
            State::Connecting(pending) => pending,
            other => {
                self.state = other;
                return Ok(());
            }
        };
        loop {
            match pending.socket.finish_connect() {
                Ok((input, output)) => {
                    let conn = Connection::new(pending.into_socket(), input, output);
                    self.state = State::Connected(conn);
                    return Ok(());
                }
                Err(ErrorCode::WouldBlock) => {
                    if let Err(e) = wait(&pending.pollable, deadline) {
                        self.state = State::Connecting(pending);
                        return Err(e);
                    }
                }
                // A failed connect leaves the wasi socket unusable; the next try makes another.
                Err(e) => {
                    let error = NetError::from(e);
                    self.state = State::Failed(Some(error.clone()));
                    return Err(error);
                }
            }
        }
    }

    /// The connection and what goes with it, finishing a pending connect first.
    fn connected(
        &mut self,
        deadline: &Deadline,
    ) -> NetResult<(&mut Connection, &mut RecvBuffer, &mut Stats)> {
        if matches!(self.state, State::Connecting(_)) {
            // Without time to wait, what the host can tell after one turn: a loopback
            // connect started just before has finished, as it has on Linux.
            let finished = if deadline.wait_limit(now_ns).is_some_and(|d| d.is_zero()) {
                self.observe_connect()
            } else {
                self.finish_pending(deadline)
            };
            // A failed connect is reported by the first send or receive, as Linux does.
            if finished == Err(NetError::Timeout) {
                return Err(NetError::Timeout);
            }
        }
        match &mut self.state {
            State::Connected(conn) => Ok((conn, &mut self.buffer, &mut self.stats)),
            State::Failed(pending) => Err(pending.take().unwrap_or(NetError::Closed)),
            State::Closed => Err(NetError::Closed),
            _ => Err(NetError::NotConnected),
        }
    }

    /// Waits for a connection and returns it as a new client object (no timeout set).
    pub fn accept(&mut self, deadline: &Deadline) -> NetResult<Tcp> {
        let listener = match &self.state {
            State::Listening(listener) => listener,
            // LuaSocket's I/O on an invalid descriptor is IO_CLOSED.
            State::Closed => return Err(NetError::Closed),
            _ => return Err(NetError::InvalidArgument),
        };
        loop {
            match listener.socket.accept() {
                Ok((socket, input, output)) => {
                    let family = Family::from_wasi(socket.address_family());
                    let conn = Connection::new(socket, input, output);
                    return Ok(Tcp::with_state(
                        Class::Client,
                        State::Connected(conn),
                        Some(family),
                    ));
                }
                Err(ErrorCode::WouldBlock) => wait(&listener.pollable, deadline)?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives by `pattern` after `prefix`, bounded by `cap` bytes.
    pub fn receive(
        &mut self,
        pattern: Pattern,
        prefix: Vec<u8>,
        cap: Option<usize>,
        deadline: &Deadline,
    ) -> Result<Vec<u8>, Partial> {
        let (conn, buffer, stats) = match self.connected(deadline) {
            Ok(parts) => parts,
            Err(error) => {
                return Err(Partial {
                    error,
                    data: prefix,
                });
            }
        };
        let before = buffer.taken();
        let result = buffer.receive(conn, pattern, prefix, cap, deadline);
        stats.received += (buffer.taken() - before) as f64;
        result
    }

    /// Sends `data`; on failure reports how many bytes were accepted before it.
    pub fn send(&mut self, data: &[u8], deadline: &Deadline) -> Result<usize, (NetError, usize)> {
        let (conn, _, stats) = self.connected(deadline).map_err(|e| (e, 0))?;
        let result = conn.send(data, deadline);
        let (Ok(sent) | Err((_, sent))) = result;
        stats.sent += sent as f64;
        result
    }

    pub fn shutdown(&mut self, how: Shutdown) -> NetResult<()> {
        let State::Connected(conn) = &self.state else {
            return Err(NetError::NotConnected);
        };
        let how = match how {
            Shutdown::Receive => ShutdownType::Receive,
            Shutdown::Send => ShutdownType::Send,
            Shutdown::Both => ShutdownType::Both,
        };
        Ok(conn.socket().shutdown(how)?)
    }

    pub fn local_address(&mut self) -> NetResult<SocketAddr> {
        let _ = self.observe_connect();
        let socket =
            (self.state.socket()).ok_or_else(|| self.no_socket_or(NetError::NotConnected))?;
        match (socket.local_address(), self.family) {
            (Ok(address), _) => Ok(addr::from_wasi(address)),
            // Not bound yet. Linux answers the wildcard address and port 0 for the socket
            // LuaSocket's tcp4/tcp6 made at once.
            (Err(ErrorCode::InvalidState), Some(family)) => Ok(SocketAddr::new(family.any(), 0)),
            (Err(e), _) => Err(e.into()),
        }
    }

    /// The peer, once connected (a connect that has finished by now counts).
    pub fn remote_address(&mut self) -> NetResult<SocketAddr> {
        let _ = self.observe_connect();
        match &self.state {
            State::Connected(c) => Ok(addr::from_wasi(c.socket().remote_address()?)),
            _ => Err(self.no_socket_or(NetError::NotConnected)),
        }
    }

    /// What a call needing a socket gets when there is none: EBADF for an object with no
    /// descriptor (closed, or without a family and not yet used), else `otherwise` (a
    /// failed connect leaves the descriptor, as in Linux).
    fn no_socket_or(&self, otherwise: NetError) -> NetError {
        if self.fd() == id::INVALID {
            NetError::BadDescriptor
        } else {
            otherwise
        }
    }

    /// Closes the object; idempotent. Unsent data still goes out (see `closing`).
    pub fn close(&mut self) {
        self.close_after(Vec::new());
    }

    /// Closes the object once `tail` has followed what was already sent (a layered
    /// protocol's last bytes), without waiting for either.
    pub fn close_after(&mut self, tail: Vec<u8>) {
        if let State::Connected(conn) = std::mem::replace(&mut self.state, State::Closed) {
            closing::release(conn, tail);
        }
        closing::sweep();
    }

    /// Reads whatever bytes are available for a protocol layered on the connection (TLS),
    /// those already buffered first, waiting within `deadline` if there are none.
    pub fn read_raw(&mut self, out: &mut Vec<u8>, deadline: &Deadline) -> NetResult<()> {
        let (conn, buffer, _) = self.connected(deadline)?;
        if buffer.take_all(out) > 0 {
            return Ok(());
        }
        conn.read_some(out, READ_SIZE, deadline)
    }
}

impl Drop for Tcp {
    fn drop(&mut self) {
        self.close();
    }
}

/// A new wasi socket, with the options set before it existed.
fn create(family: Family, pending: &Remembered) -> NetResult<TcpSocket> {
    let socket = create_tcp_socket(family.to_wasi())?;
    options::apply_pending(pending, &socket);
    Ok(socket)
}

impl OptionTarget for TcpSocket {
    fn apply(&self, opt: SockOpt, value: &OptValue) -> Result<(), Refusal> {
        let done = match (opt, value) {
            (SockOpt::KeepAlive, OptValue::Bool(on)) => self.set_keep_alive_enabled(*on),
            (SockOpt::KeepIdle, OptValue::Int(s)) => {
                self.set_keep_alive_idle_time(secs_to_ns(*s).ok_or(Refusal)?)
            }
            (SockOpt::KeepInterval, OptValue::Int(s)) => {
                self.set_keep_alive_interval(secs_to_ns(*s).ok_or(Refusal)?)
            }
            (SockOpt::KeepCount, OptValue::Int(n)) => {
                self.set_keep_alive_count(u32::try_from(*n).map_err(|_| Refusal)?)
            }
            (SockOpt::RecvBufferSize, OptValue::Int(n)) => {
                self.set_receive_buffer_size(options::buffer_size(*n)?)
            }
            (SockOpt::SendBufferSize, OptValue::Int(n)) => {
                self.set_send_buffer_size(options::buffer_size(*n)?)
            }
            // wasi sockets are always IPv6-only; asking for that is fine, undoing it is not.
            (SockOpt::V6Only, OptValue::Bool(true))
                if self.address_family() == IpAddressFamily::Ipv6 =>
            {
                Ok(())
            }
            _ => return Err(Refusal),
        };
        done.map_err(|_| Refusal)
    }

    fn read(&self, opt: SockOpt) -> Result<OptValue, Refusal> {
        let secs = |ns: u64| OptValue::Int((ns / 1_000_000_000) as i64);
        let value = match opt {
            SockOpt::KeepAlive => self.keep_alive_enabled().map(OptValue::Bool),
            SockOpt::KeepIdle => self.keep_alive_idle_time().map(secs),
            SockOpt::KeepInterval => self.keep_alive_interval().map(secs),
            SockOpt::KeepCount => self.keep_alive_count().map(|n| OptValue::Int(i64::from(n))),
            SockOpt::RecvBufferSize => self.receive_buffer_size().map(|n| OptValue::Int(n as i64)),
            SockOpt::SendBufferSize => self.send_buffer_size().map(|n| OptValue::Int(n as i64)),
            SockOpt::V6Only if self.address_family() == IpAddressFamily::Ipv6 => {
                Ok(OptValue::Bool(true))
            }
            _ => return Err(Refusal),
        };
        value.map_err(|_| Refusal)
    }
}

impl Tcp {
    /// For `select`: whether a receive would find something now (see
    /// [`super::select::select_confirmed`]). A connection is read ahead into the buffer.
    pub fn confirm_readable(&mut self) -> bool {
        if self.buffer.has_data() {
            return true;
        }
        match &mut self.state {
            State::Connected(conn) => self.buffer.read_ahead(conn),
            _ => true,
        }
    }
}

impl Selectable for Tcp {
    /// Buffered data is readable at once; a failed connect is readable and writable, as
    /// Linux reports a socket with an error pending (so a scheduler wakes up to see it).
    fn ready_now(&self, interest: Interest) -> bool {
        matches!(self.state, State::Failed(_))
            || (interest == Interest::Read && self.buffer.has_data())
    }

    fn pollable(&self, interest: Interest) -> Option<&Pollable> {
        match (&self.state, interest) {
            (State::Connected(c), Interest::Read) => Some(c.readable()),
            (State::Connected(c), Interest::Write) => Some(c.writable()),
            (State::Listening(p), Interest::Read) | (State::Connecting(p), _) => Some(&p.pollable),
            _ => None,
        }
    }
}

fn bind_socket(socket: &TcpSocket, address: SocketAddr) -> NetResult<()> {
    with_network(|net| socket.start_bind(net, addr::to_wasi(address)))?;
    Ok(socket.finish_bind()?)
}
