//! stdout and stderr passed through to the host's own (when not captured), and stdin
//! shared with the host (the interactive loop's terminal).
//!
//! wasmtime-wasi's inherited stdout makes a blocking write on the thread that runs the
//! instance. When the reader of a pipe stops reading, that write blocks the thread, and
//! with it every limit: the wall-clock timeout is a future on the same thread, and is
//! never polled again. Here the guest is let write only when the descriptor is writable
//! (a `poll` that does not wait), at most [`CHUNK`] bytes at a time, which a pipe with
//! room takes at once; otherwise it waits for writability through the runtime (epoll), as
//! for any other pollable, and a limit can fire meanwhile. Regular files, which epoll
//! cannot watch, are always writable, and are written as before.
//!
//! wasmtime-wasi's inherited stdin reads on a thread of its own, and a read, once asked
//! for, goes on until input comes, whether the guest still wants it or not. When the
//! guest gives up a wait for stdin (the interactive loop's Ctrl-C), that read takes the
//! next line typed, which was meant for the loop's prompt. [`SharedStdin`] reads only
//! when the guest asks and the descriptor is readable (a terminal in canonical mode: a
//! whole line is there), so a wait given up takes nothing.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, Bytes};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

/// The most the guest may write at once: `PIPE_BUF`, which a pipe that polls writable
/// takes without blocking.
const CHUNK: usize = 4096;

/// How often to look again at a descriptor epoll cannot watch (none is expected: files
/// are always writable, pipes, terminals and sockets can be watched).
const RETRY: Duration = Duration::from_millis(10);

/// One of the host's output streams.
#[derive(Clone, Copy)]
pub struct PassedThrough {
    which: Which,
    /// Asked once: the guest's C library line-buffers a terminal, and fully buffers the rest.
    terminal: bool,
}

#[derive(Clone, Copy)]
enum Which {
    Stdout,
    Stderr,
}

impl Which {
    fn with_fd<R>(self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> R {
        match self {
            Which::Stdout => f(io::stdout().as_fd()),
            Which::Stderr => f(io::stderr().as_fd()),
        }
    }

    /// Whether a write would not block now.
    fn writable(self) -> bool {
        self.with_fd(|fd| ready_now(fd, PollFlags::OUT))
    }
}

/// Whether `fd` is ready for `flags` now (a `poll` that does not wait). An error or a
/// hang-up is ready too: the read or write then reports it.
fn ready_now(fd: BorrowedFd<'_>, flags: PollFlags) -> bool {
    let mut fds = [PollFd::new(&fd, flags)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&now)).is_ok_and(|n| n > 0)
}

/// Whether a read of stdin would not block now.
fn stdin_readable() -> bool {
    ready_now(io::stdin().as_fd(), PollFlags::IN)
}

impl PassedThrough {
    pub fn stdout() -> PassedThrough {
        PassedThrough {
            which: Which::Stdout,
            terminal: io::stdout().is_terminal(),
        }
    }

    pub fn stderr() -> PassedThrough {
        PassedThrough {
            which: Which::Stderr,
            terminal: io::stderr().is_terminal(),
        }
    }
}

impl IsTerminal for PassedThrough {
    fn is_terminal(&self) -> bool {
        self.terminal
    }
}

impl StdoutStream for PassedThrough {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(Writer {
            which: self.which,
            pending: Bytes::new(),
            permit: 0,
            failed: None,
            watch: None,
        })
    }

    /// WASI 0.3's view, which this host does not link: tokio's own stream.
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        match self.which {
            Which::Stdout => Box::new(tokio::io::stdout()),
            Which::Stderr => Box::new(tokio::io::stderr()),
        }
    }
}

/// The guest's stream over one of them.
struct Writer {
    which: Which,
    /// What a write could not hand over yet: sent once the descriptor takes it.
    pending: Bytes,
    /// What the last `check-write` allowed, less what was written since.
    permit: usize,
    /// An error met while sending `pending`, for the next `check-write`.
    failed: Option<io::Error>,
    /// A duplicate of the descriptor, registered with the runtime to wait for
    /// writability; made at the first wait (`Err`: epoll cannot watch it).
    watch: Option<Result<AsyncFd<OwnedFd>, ()>>,
}

impl Writer {
    /// Sends what is pending while the descriptor takes it without blocking.
    fn send(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() && self.which.writable() {
            match self
                .which
                .with_fd(|fd| rustix::io::write(fd, &self.pending))
            {
                Ok(n) => self.pending.advance(n),
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(e) => {
                    self.pending.clear();
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Waits until the descriptor may be writable (spurious wake-ups are possible).
    async fn wait(&mut self) {
        let which = self.which;
        let watch = self
            .watch
            .get_or_insert_with(|| which.with_fd(|fd| watch(fd, Interest::WRITABLE)));
        match watch {
            Ok(fd) => match fd.writable().await {
                Ok(mut guard) => guard.clear_ready(),
                Err(_) => tokio::time::sleep(RETRY).await,
            },
            Err(()) => tokio::time::sleep(RETRY).await,
        }
    }
}

/// A duplicate of `fd` registered with the runtime for `interest` (`Err`: epoll cannot
/// watch it). The descriptor is not made non-blocking: it is shared with the rest of the
/// process, and with whoever else has it open.
fn watch(fd: BorrowedFd<'_>, interest: Interest) -> Result<AsyncFd<OwnedFd>, ()> {
    let dup = fd.try_clone_to_owned().map_err(|_| ())?;
    // SAFETY: the AsyncFd owns `dup`, which stays open, and the same descriptor, for as
    // long as the AsyncFd lives.
    unsafe { AsyncFd::register_with_interest(dup, interest) }.map_err(|_| ())
}

fn stream_error(e: io::Error) -> StreamError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        StreamError::Closed
    } else {
        StreamError::LastOperationFailed(e.into())
    }
}

impl OutputStream for Writer {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.len() > self.permit {
            return Err(StreamError::trap("write exceeds the permit of check-write"));
        }
        self.permit -= bytes.len();
        self.pending = bytes;
        self.send().map_err(stream_error)
    }

    /// Nothing is buffered here beyond `pending`, which readiness waits for.
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        if let Some(e) = self.failed.take() {
            return Err(stream_error(e));
        }
        self.permit = if self.pending.is_empty() && self.which.writable() {
            CHUNK
        } else {
            0
        };
        Ok(self.permit)
    }
}

impl Pollable for Writer {
    /// Ready when `check-write` has something to say: room, or an error.
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            loop {
                if let Err(e) = self.send() {
                    self.failed = Some(e);
                }
                if self.failed.is_some() || (self.pending.is_empty() && self.which.writable()) {
                    return;
                }
                self.wait().await;
            }
        })
    }
}

/// This process's stdin, read only when the guest asks and input is there, so that a
/// read the guest gives up takes nothing (see the module's documentation). For stdin
/// shared with the host's own reading, as a terminal is with the interactive loop's line
/// editor; wasmtime-wasi's inherited stdin, which reads ahead on a thread, is faster for a
/// pipe the guest alone reads.
#[derive(Clone, Copy)]
pub struct SharedStdin {
    terminal: bool,
}

impl SharedStdin {
    pub fn new() -> SharedStdin {
        SharedStdin {
            terminal: io::stdin().is_terminal(),
        }
    }
}

impl Default for SharedStdin {
    fn default() -> SharedStdin {
        SharedStdin::new()
    }
}

impl IsTerminal for SharedStdin {
    fn is_terminal(&self) -> bool {
        self.terminal
    }
}

impl StdinStream for SharedStdin {
    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(Reader { watch: None })
    }

    /// WASI 0.3's view, which this host does not link: tokio's own stream.
    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(tokio::io::stdin())
    }
}

/// The most one read takes (the guest's C library asks for a buffer's worth).
const MAX_READ: usize = 64 << 10;

/// The guest's stream over stdin.
struct Reader {
    /// As [`Writer::watch`], for readability.
    watch: Option<Result<AsyncFd<OwnedFd>, ()>>,
}

impl InputStream for Reader {
    /// What is there, read only when a read does not block: nothing is read ahead, and
    /// nothing is read for a wait the guest has left.
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if size == 0 || !stdin_readable() {
            return Ok(Bytes::new());
        }
        let mut buf = vec![0; size.min(MAX_READ)];
        match rustix::io::read(io::stdin().as_fd(), &mut buf) {
            Ok(0) => Err(StreamError::Closed),
            Ok(n) => {
                buf.truncate(n);
                Ok(buf.into())
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => Ok(Bytes::new()),
            Err(e) => Err(StreamError::LastOperationFailed(io::Error::from(e).into())),
        }
    }
}

impl Pollable for Reader {
    /// Ready when a read would not block. Waiting reads nothing: a dropped wait leaves
    /// the input to whoever reads next.
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            while !stdin_readable() {
                let watch = self
                    .watch
                    .get_or_insert_with(|| watch(io::stdin().as_fd(), Interest::READABLE));
                match watch {
                    Ok(fd) => match fd.readable().await {
                        Ok(mut guard) => guard.clear_ready(),
                        Err(_) => tokio::time::sleep(RETRY).await,
                    },
                    Err(()) => tokio::time::sleep(RETRY).await,
                }
            }
        })
    }
}

/// Writes `text` to the host's stderr, waiting at most `patience` for a pipe nobody reads
/// to take it (zero: only what it takes at once); what does not fit then is dropped.
/// For the host's own messages, which must not block a run, nor the exit after a limit.
/// Returns whether all of it was written.
pub fn write_stderr(text: &[u8], patience: Duration) -> bool {
    let deadline = std::time::Instant::now() + patience;
    let mut rest = text;
    while !rest.is_empty() {
        if !Which::Stderr.writable() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(RETRY.min(patience));
            continue;
        }
        let chunk = &rest[..rest.len().min(CHUNK)];
        match Which::Stderr.with_fd(|fd| rustix::io::write(fd, chunk)) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => return false,
        }
    }
    true
}
