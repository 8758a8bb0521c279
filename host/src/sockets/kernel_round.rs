//! One question to the kernel per `wasi:io/poll` call, for all of this host's sockets in it.
//!
//! wasmtime-wasi-io polls a pollable list by polling one future per pollable; ours answer
//! from tokio's readiness flags, which lag the kernel until tokio's driver turns. So the
//! first time a poll call finds sockets not ready, their futures note them here, and the
//! caller (`readiness`) asks the kernel about all of them at once with one zero-timeout
//! `poll(2)` (as native `select` asks), then polls the list once more with the answers.
//! Only the first pass needs this: once a poll has waited, tokio's driver has turned and
//! its flags are fresh.
//!
//! The round lives in a thread-local for the length of one synchronous poll of the list:
//! nothing else runs on the thread meanwhile, so rounds of different instances cannot mix.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};

use super::fd::{Direction, SocketFd, ready_now};

#[derive(Default)]
struct Round {
    /// Sockets found not ready on this pass, to ask the kernel about.
    asked: Vec<(RawFd, Direction)>,
    /// The kernel's answers, for the pass after the question.
    ready: Vec<(RawFd, Direction)>,
}

thread_local! {
    static ROUND: RefCell<Option<Round>> = const { RefCell::new(None) };
}

/// Waits until `fd` is ready for `direction`: at once if tokio's reactor says so or, on a
/// first pass, the kernel does.
pub async fn socket_ready(fd: &SocketFd, direction: Direction) {
    std::future::poll_fn(|cx| match fd.poll_ready(direction, cx) {
        Poll::Pending if !kernel_says_ready(fd.fd(), direction) => Poll::Pending,
        _ => Poll::Ready(()),
    })
    .await
}

/// Called by a socket's readiness future that tokio finds not ready: whether the kernel
/// said it is ready in this round (then the future is), noting the question otherwise.
fn kernel_says_ready(fd: BorrowedFd<'_>, direction: Direction) -> bool {
    let key = (fd.as_raw_fd(), direction);
    ROUND.with_borrow_mut(|round| match round {
        Some(round) if round.ready.contains(&key) => true,
        Some(round) => {
            round.asked.push(key);
            false
        }
        None => false,
    })
}

/// Polls `poll` (a poll of a pollable list) once, and if it is not ready, asks the kernel
/// about the sockets it is waiting for and polls it again with the answers. For the
/// first pass of a host call only.
pub fn first_pass<T>(
    cx: &mut Context<'_>,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    ROUND.with_borrow_mut(|round| *round = Some(Round::default()));
    let first = poll(cx);
    let asked = ROUND.with_borrow_mut(|round| round.take().map(|r| r.asked).unwrap_or_default());
    if first.is_ready() || asked.is_empty() {
        return first;
    }
    let ready = ask_kernel(&asked);
    if ready.is_empty() {
        return first;
    }
    ROUND.with_borrow_mut(|round| {
        *round = Some(Round {
            asked: Vec::new(),
            ready,
        })
    });
    let second = poll(cx);
    ROUND.with_borrow_mut(|round| *round = None);
    second
}

/// The entries of `asked` the kernel reports ready now.
fn ask_kernel(asked: &[(RawFd, Direction)]) -> Vec<(RawFd, Direction)> {
    // SAFETY: the descriptors belong to sockets that are alive for the whole synchronous
    // poll these came from (their table entries are borrowed by it).
    let fds: Vec<(BorrowedFd<'_>, Direction)> = asked
        .iter()
        .map(|&(fd, d)| (unsafe { BorrowedFd::borrow_raw(fd) }, d))
        .collect();
    ready_now(&fds)
        .into_iter()
        .zip(asked)
        .filter_map(|(ready, &key)| ready.then_some(key))
        .collect()
}
