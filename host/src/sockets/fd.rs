//! One socket's descriptor: non-blocking system calls made directly, and tokio's reactor
//! only for waiting.
//!
//! Every operation asks the kernel (a `recv`, a `send`, an `accept`): the answer is what
//! the kernel says now, as native LuaSocket's. tokio's readiness flags are only a hint
//! for waiting; an operation that finds the socket not ready clears them, so the next
//! wait really waits, and one that tokio believes not ready is tried anyway, since tokio
//! may not have heard of new data yet (its driver turns only when the thread waits).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use rustix::event::{PollFd, PollFlags, poll};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A direction of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Read,
    Write,
}

/// The descriptor as tokio's reactor holds it: a copy of `SocketFd::fd`, which outlives
/// the registration (see the field order there).
struct Registered(RawFd);

impl AsRawFd for Registered {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

pub struct SocketFd {
    /// The reactor's registration, made at the first wait and not before: a TCP socket
    /// that is neither connecting nor listening (fresh, or only bound) reports a hang-up,
    /// which tokio keeps as a final "closed" readiness no clear removes, so a socket
    /// registered at creation would look ready for ever, and its waits would spin.
    /// `None` inside: registering failed (the reactor is gone), so there is no waiting.
    /// Declared before `fd`, so it is dropped (deregistered) while the descriptor is open.
    io: OnceLock<Option<AsyncFd<Registered>>>,
    fd: OwnedFd,
}

impl SocketFd {
    /// Takes a socket already in non-blocking mode.
    pub fn new(fd: OwnedFd) -> io::Result<SocketFd> {
        // tokio panics without a reactor; a host call outside a runtime is an error instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("sockets need a tokio runtime"));
        }
        Ok(SocketFd {
            io: OnceLock::new(),
            fd,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The reactor's registration, made now if this is the first wait.
    fn registered(&self) -> Option<&AsyncFd<Registered>> {
        self.io
            .get_or_init(|| {
                tokio::runtime::Handle::try_current().ok()?;
                let interest = Interest::READABLE | Interest::WRITABLE;
                // SAFETY: the descriptor stays open, the same one, for as long as the
                // registration lives: `fd` is dropped after `io` (field order).
                unsafe {
                    AsyncFd::register_with_interest(Registered(self.fd.as_raw_fd()), interest)
                }
                .ok()
            })
            .as_ref()
    }

    /// Runs `op`, a non-blocking system call, and keeps tokio's readiness in step: when
    /// it would block, the flag tokio holds for `direction` is cleared (the tick tokio
    /// keeps makes that safe against an event arriving meanwhile).
    pub fn attempt<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        // Not registered yet: nothing has waited, so there is no readiness to keep.
        let Some(io) = self.io.get().and_then(Option::as_ref) else {
            return op(self.fd());
        };
        let mut cx = Context::from_waker(Waker::noop());
        let ready = match direction {
            Direction::Read => io.poll_read_ready(&mut cx),
            Direction::Write => io.poll_write_ready(&mut cx),
        };
        match ready {
            Poll::Ready(Ok(mut guard)) => match guard.try_io(|_| op(self.fd())) {
                Ok(result) => result,
                // The errno itself, not just the kind: callers map errors by errno.
                Err(_would_block) => Err(would_block()),
            },
            // tokio has not seen it ready: the kernel decides.
            _ => op(self.fd()),
        }
    }

    /// Ready when tokio's reactor says so and the kernel agrees, registering `cx` to be
    /// woken otherwise. tokio's flag can be stale either way: set after the data it
    /// announced was read (it clears only on a would-block), or not yet set for data that
    /// came since its driver last turned. A set flag is checked with the kernel (and
    /// cleared if wrong, with tokio's tick guarding against an event meanwhile); an unset
    /// one is the caller's to check (`kernel_round` asks for many sockets at once).
    pub fn poll_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<()> {
        let Some(io) = self.registered() else {
            return Poll::Ready(());
        };
        loop {
            let guard = match direction {
                Direction::Read => io.poll_read_ready(cx),
                Direction::Write => io.poll_write_ready(cx),
            };
            let mut guard = match guard {
                Poll::Pending => return Poll::Pending,
                // An error from the reactor (it shut down) leaves nothing to wait for.
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(guard)) => guard,
            };
            let kernel = guard.try_io(|_| {
                if ready_now(&[(self.fd(), direction)])[0] {
                    Ok(())
                } else {
                    Err(would_block())
                }
            });
            if kernel.is_ok() {
                return Poll::Ready(());
            }
            // Cleared: poll again, which registers `cx` (or finds a newer event).
        }
    }

    /// Waits until the kernel reports `direction` ready, as tokio's reactor learns it, for
    /// a task of the host's own (a write finishing in the background). Unlike
    /// `poll_ready`, whose one waker per direction the guest's next wait on this socket
    /// would replace (tokio keeps only the latest), each caller here is woken.
    pub async fn ready(&self, direction: Direction) {
        let Some(io) = self.registered() else {
            return;
        };
        loop {
            let guard = match direction {
                Direction::Read => io.readable().await,
                Direction::Write => io.writable().await,
            };
            // An error from the reactor (it shut down) leaves nothing to wait for.
            let Ok(mut guard) = guard else { return };
            if ready_now(&[(self.fd(), direction)])[0] {
                return;
            }
            guard.clear_ready();
        }
    }
}

/// EAGAIN as the kernel gives it: `io::ErrorKind::WouldBlock.into()` would carry no
/// errno, and the error mapping (`address::io_code`) would make it `unknown`.
fn would_block() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::AGAIN.raw_os_error())
}

/// Which of `fds` the kernel reports ready now (a zero-timeout `poll`), by position.
pub fn ready_now(fds: &[(BorrowedFd<'_>, Direction)]) -> Vec<bool> {
    let mut polls: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(fd, direction)| PollFd::new(fd, flags(*direction)))
        .collect();
    if poll(&mut polls, Some(&rustix::time::Timespec::default())).is_err() {
        return vec![false; fds.len()];
    }
    polls.iter().map(|p| !p.revents().is_empty()).collect()
}

/// What counts as ready: data or an end (a hang-up or an error is news to a reader, and
/// makes a write fail at once rather than wait).
fn flags(direction: Direction) -> PollFlags {
    match direction {
        Direction::Read => PollFlags::IN | PollFlags::RDHUP,
        Direction::Write => PollFlags::OUT,
    }
}
