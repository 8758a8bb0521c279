//! A connected TCP socket's two `wasi:io` streams.
//!
//! Reading is a `recv` into a buffer of the size asked for, not zero-filled first. Writing
//! is a `send` made at once; what the kernel does not take yet waits in a buffer of at
//! most [`WRITE_ROOM`] bytes, which later writes, checks and waits push out first. So a
//! small send into a socket with room is in the kernel when `write` returns, as native
//! `send` is: `check-write` grants what the buffer has room for, counted down by each
//! write. Only when the kernel leaves something behind does a task push it out as the
//! socket drains, since the guest may never look at this stream again (it may be waiting
//! on another socket for its peer to read, or have closed it).

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, Shutdown};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

use super::fd::{Direction, SocketFd};
use super::kernel_round::socket_ready;

/// The most one read hands back (wasi's streams say 64 KiB).
const READ_MAX: usize = 64 * 1024;

/// Bytes written but not yet taken by the kernel that the stream may hold: what
/// `check-write` grants at most.
pub const WRITE_ROOM: usize = 64 * 1024;

/// A failed system call as a stream error the guest can ask the code of
/// (`network-error-code` reads an `io::Error`).
fn failed(errno: Errno) -> StreamError {
    StreamError::LastOperationFailed(io::Error::from(errno).into())
}

pub struct TcpReader {
    fd: Arc<SocketFd>,
    /// Set once the stream has ended (end of stream, an error, or a shutdown): it stays so.
    ended: bool,
}

impl TcpReader {
    pub fn new(fd: Arc<SocketFd>) -> TcpReader {
        TcpReader { fd, ended: false }
    }

    fn end(&mut self, error: StreamError) -> StreamError {
        self.ended = true;
        error
    }
}

impl InputStream for TcpReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.ended {
            return Err(StreamError::Closed);
        }
        if size == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = BytesMut::with_capacity(size.min(READ_MAX));
        let got = self.fd.attempt(Direction::Read, |fd| {
            rustix::net::recv(fd, buf.spare_capacity_mut(), RecvFlags::DONTWAIT)
                .map(|((init, _), _)| init.len())
                .map_err(io::Error::from)
        });
        match got {
            Ok(0) => Err(self.end(StreamError::Closed)),
            Ok(n) => {
                // SAFETY: recv initialised the first n bytes of the spare capacity.
                unsafe { buf.set_len(n) };
                Ok(buf.freeze())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Bytes::new()),
            Err(e) => {
                let errno = Errno::from_io_error(&e).unwrap_or(Errno::IO);
                Err(self.end(failed(errno)))
            }
        }
    }
}

#[async_trait::async_trait]
impl Pollable for TcpReader {
    async fn ready(&mut self) {
        if !self.ended {
            socket_ready(&self.fd, Direction::Read).await
        }
    }
}

impl Drop for TcpReader {
    fn drop(&mut self) {
        let _ = rustix::net::shutdown(self.fd.fd(), Shutdown::Read);
    }
}

/// The output stream: its state is shared with the socket, whose `shutdown(send)` must
/// wait for what is pending.
pub struct TcpWriter {
    fd: Arc<SocketFd>,
    side: Arc<Mutex<WriteSide>>,
}

pub struct WriteSide {
    fd: Arc<SocketFd>,
    /// Written, not yet taken by the kernel.
    pending: BytesMut,
    /// What the last `check-write` granted and no write has used yet.
    permit: usize,
    /// Why the stream cannot be written any more, once it cannot.
    broken: Option<Broken>,
    /// A shutdown of the send side waiting for `pending` to go out first.
    shutdown_after_flush: bool,
    /// A task is pushing `pending` out (`flush_in_background`).
    flushing: bool,
}

#[derive(Debug, Clone, Copy)]
enum Broken {
    Closed,
    Failed(Errno),
}

impl Broken {
    fn error(self) -> StreamError {
        match self {
            Broken::Closed => StreamError::Closed,
            Broken::Failed(errno) => failed(errno),
        }
    }
}

impl TcpWriter {
    /// The stream, and the handle through which the socket shuts its send side down.
    pub fn new(fd: Arc<SocketFd>) -> (TcpWriter, Arc<Mutex<WriteSide>>) {
        let side = Arc::new(Mutex::new(WriteSide {
            fd: Arc::clone(&fd),
            pending: BytesMut::new(),
            permit: 0,
            broken: None,
            shutdown_after_flush: false,
            flushing: false,
        }));
        (
            TcpWriter {
                fd,
                side: Arc::clone(&side),
            },
            side,
        )
    }

    fn side(&self) -> MutexGuard<'_, WriteSide> {
        lock(&self.side)
    }
}

impl WriteSide {
    /// Sends what the kernel takes of `data` now; returns how much.
    fn send_now(&mut self, data: &[u8]) -> usize {
        let sent = self.fd.attempt(Direction::Write, |fd| {
            rustix::net::send(fd, data, SendFlags::DONTWAIT | SendFlags::NOSIGNAL)
                .map_err(io::Error::from)
        });
        match sent {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                self.broken = Some(match Errno::from_io_error(&e) {
                    // The peer is gone: the stream is closed, as wasi says it.
                    Some(Errno::PIPE) => Broken::Closed,
                    Some(errno) => Broken::Failed(errno),
                    None => Broken::Failed(Errno::IO),
                });
                0
            }
        }
    }

    /// Pushes out what is pending, as far as the kernel takes it now.
    fn push_pending(&mut self) {
        if self.pending.is_empty() || self.broken.is_some() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let sent = self.send_now(&pending);
        self.pending = pending;
        let _ = self.pending.split_to(sent);
        if self.pending.is_empty() && self.shutdown_after_flush {
            self.shutdown_now();
        }
    }

    /// `shutdown(send)` through the socket: after what is pending, which goes first.
    pub fn shutdown(&mut self) {
        if self.pending.is_empty() {
            self.shutdown_now();
        } else {
            self.shutdown_after_flush = true;
        }
    }

    fn shutdown_now(&mut self) {
        let _ = rustix::net::shutdown(self.fd.fd(), Shutdown::Write);
        self.shutdown_after_flush = false;
        self.broken.get_or_insert(Broken::Closed);
    }

    fn room(&self) -> usize {
        WRITE_ROOM.saturating_sub(self.pending.len())
    }

    /// Whether a task must be started to push `pending` out; if so, it counts as started.
    fn needs_task(&mut self) -> bool {
        let needed = !self.pending.is_empty() && self.broken.is_none() && !self.flushing;
        self.flushing |= needed;
        needed
    }
}

fn lock(side: &Mutex<WriteSide>) -> MutexGuard<'_, WriteSide> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    side.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pushes what is pending out as the kernel takes it, then ends (sending the FIN first if
/// a shutdown or the stream's drop asked for one). A peer that never reads keeps it
/// waiting until the connection gives up (the kernel's timeouts), holding only the
/// descriptor.
fn flush_in_background(side: Arc<Mutex<WriteSide>>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime to wait in (a host call outside one): later writes, checks and
        // waits still push the buffer out.
        lock(&side).flushing = false;
        return;
    };
    runtime.spawn(async move {
        loop {
            let fd = Arc::clone(&lock(&side).fd);
            fd.ready(Direction::Write).await;
            let mut side = lock(&side);
            side.push_pending();
            if side.pending.is_empty() || side.broken.is_some() {
                side.flushing = false;
                return;
            }
        }
    });
}

impl OutputStream for TcpWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let (written, start_task) = {
            let mut side = self.side();
            let written = side.write(&bytes);
            (written, side.needs_task())
        };
        if start_task {
            flush_in_background(Arc::clone(&self.side));
        }
        written
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.side().flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.side().check_write()
    }
}

impl WriteSide {
    fn write(&mut self, bytes: &[u8]) -> StreamResult<()> {
        if let Some(broken) = self.broken {
            return Err(broken.error());
        }
        if bytes.len() > self.permit {
            return Err(StreamError::trap("write beyond what check-write permitted"));
        }
        self.permit -= bytes.len();
        let mut rest = bytes;
        if self.pending.is_empty() {
            let sent = self.send_now(rest);
            rest = &rest[sent..];
        }
        self.pending.extend_from_slice(rest);
        match self.broken {
            Some(broken) => Err(broken.error()),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.push_pending();
        match self.broken {
            // A flush after the send side was shut down is not an error.
            Some(Broken::Closed) if self.pending.is_empty() => Ok(()),
            Some(broken) => Err(broken.error()),
            None => Ok(()),
        }
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.push_pending();
        if let Some(broken) = self.broken {
            return Err(broken.error());
        }
        self.permit = self.room();
        Ok(self.permit)
    }
}

#[async_trait::async_trait]
impl Pollable for TcpWriter {
    /// Ready when `check-write` would grant something, or report the stream's end.
    async fn ready(&mut self) {
        loop {
            {
                let mut side = self.side();
                side.push_pending();
                if side.broken.is_some() || side.room() > 0 {
                    return;
                }
            }
            socket_ready(&self.fd, Direction::Write).await;
        }
    }
}

impl Drop for TcpWriter {
    fn drop(&mut self) {
        let start_task = self.side().finish();
        if start_task {
            flush_in_background(Arc::clone(&self.side));
        }
    }
}

impl WriteSide {
    /// When the stream is dropped: what was written still goes out, then the end of stream
    /// (FIN), as wasi's dropped output stream does, without holding up the guest. Returns
    /// whether a task must be started to finish that.
    fn finish(&mut self) -> bool {
        self.push_pending();
        if self.broken.is_some() {
            return false;
        }
        if self.pending.is_empty() {
            self.shutdown_now();
            return false;
        }
        self.shutdown_after_flush = true;
        self.needs_task()
    }
}
