//! One socket's descriptor: non-blocking system calls made directly, and tokio's reactor
//! only for waiting.
//!
//! Every operation asks the kernel (a `recv`, a `send`, an `accept`): the answer is what
//! the kernel says now, as native LuaSocket's. tokio's readiness flags are only a hint
//! for waiting; an operation that finds the socket not ready clears them, so the next
//! wait really waits, and one that tokio believes not ready is tried anyway, since tokio
//! may not have heard of new data yet (its driver turns only when the thread waits).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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

pub struct SocketFd {
    io: AsyncFd<OwnedFd>,
}

impl SocketFd {
    /// Takes a socket already in non-blocking mode and registers it with tokio's reactor
    /// (which must be running: sockets are made inside host calls).
    pub fn new(fd: OwnedFd) -> io::Result<SocketFd> {
        // tokio panics without a reactor; a host call outside a runtime is an error instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("sockets need a tokio runtime"));
        }
        // SAFETY: an `OwnedFd` is open and stays the same descriptor until it is dropped,
        // which only the `AsyncFd` that owns it can do.
        let io = unsafe {
            AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE)
        };
        let io = io.map_err(|e| e.into_parts().1)?;
        Ok(SocketFd { io })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }

    /// Runs `op`, a non-blocking system call, and keeps tokio's readiness in step: when
    /// it would block, the flag tokio holds for `direction` is cleared (the tick tokio
    /// keeps makes that safe against an event arriving meanwhile).
    pub fn attempt<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut cx = Context::from_waker(Waker::noop());
        let ready = match direction {
            Direction::Read => self.io.poll_read_ready(&mut cx),
            Direction::Write => self.io.poll_write_ready(&mut cx),
        };
        match ready {
            Poll::Ready(Ok(mut guard)) => match guard.try_io(|io| op(io.get_ref().as_fd())) {
                Ok(result) => result,
                Err(_would_block) => Err(io::ErrorKind::WouldBlock.into()),
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
        loop {
            let guard = match direction {
                Direction::Read => self.io.poll_read_ready(cx),
                Direction::Write => self.io.poll_write_ready(cx),
            };
            let mut guard = match guard {
                Poll::Pending => return Poll::Pending,
                // An error from the reactor (it shut down) leaves nothing to wait for.
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(guard)) => guard,
            };
            let kernel = guard.try_io(|io| {
                if ready_now(&[(io.get_ref().as_fd(), direction)])[0] {
                    Ok(())
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            });
            if kernel.is_ok() {
                return Poll::Ready(());
            }
            // Cleared: poll again, which registers `cx` (or finds a newer event).
        }
    }

    /// Waits until the kernel reports `direction` ready, as tokio's reactor learns it.
    pub async fn ready(&self, direction: Direction) {
        std::future::poll_fn(|cx| self.poll_ready(direction, cx)).await
    }
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
