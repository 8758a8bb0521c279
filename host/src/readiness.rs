//! `wasi:io/poll` as wasmtime-wasi implements it, plus one thing: readiness stays fresh
//! while a guest never has to wait.
//!
//! wasmtime-wasi's sockets learn that data arrived from tokio's I/O driver, and the driver
//! only runs when the runtime gets its turn: when a poll has to wait. Until then a socket
//! whose last read came back empty stays "not ready", and even a read finds nothing (tokio
//! skips the system call). A guest that keeps finding something else ready, a closed peer
//! left in its `select` set, an always-writable socket, or a zero-timeout `receive` in a
//! loop, never waits, and so never sees its other sockets' data: native LuaSocket asks the
//! kernel each time and has no such trap. Here a poll or `ready` check that comes more than
//! [`STALE`] after the runtime last had its turn first yields to it once (a zero-timeout
//! `epoll_wait`, about a microsecond).

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use crate::sockets::kernel_round::first_pass;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::io::poll::{self, Host, HostPollable};

/// How long a guest may go without the runtime getting its turn: the longest a busy
/// guest can miss new data. Polls that wait reset it, so only busy loops pay the yield.
pub const STALE: Duration = Duration::from_micros(200);

/// When the runtime last had its turn (as far as this instance saw).
pub struct DriverTurns {
    last: Instant,
}

impl Default for DriverTurns {
    fn default() -> Self {
        DriverTurns {
            last: Instant::now(),
        }
    }
}

impl DriverTurns {
    /// Gives the runtime its turn if it has not had one for [`STALE`].
    async fn refresh(&mut self) {
        if self.last.elapsed() > STALE {
            tokio::task::yield_now().await;
            self.last = Instant::now();
        }
    }

    /// Runs `wait`, noting whether it had to wait (then the runtime had its turn). Its
    /// first pass asks the kernel about this host's sockets that seem not ready
    /// (`sockets::kernel_round`).
    async fn track<T>(&mut self, wait: impl Future<Output = T>) -> T {
        let mut wait = pin!(wait);
        let mut waited = false;
        let out = std::future::poll_fn(|cx| {
            let p = if waited {
                wait.as_mut().poll(cx)
            } else {
                first_pass(cx, |cx| wait.as_mut().poll(cx))
            };
            waited |= p.is_pending();
            p
        })
        .await;
        if waited {
            self.last = Instant::now();
        }
        out
    }
}

/// The view the interface works on.
pub struct FreshPoll<'a> {
    pub table: &'a mut ResourceTable,
    pub turns: &'a mut DriverTurns,
}

struct FreshPollData;

impl HasData for FreshPollData {
    type Data<'a> = FreshPoll<'a>;
}

/// Installs the interface over the one `wasmtime_wasi` added (which must be in `linker`
/// already, with shadowing allowed).
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> FreshPoll<'_>,
) -> wasmtime::Result<()> {
    poll::add_to_linker::<T, FreshPollData>(linker, view)
}

impl Host for FreshPoll<'_> {
    async fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        self.turns.refresh().await;
        self.turns.track(Host::poll(self.table, pollables)).await
    }
}

impl HostPollable for FreshPoll<'_> {
    async fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        self.turns.refresh().await;
        self.turns
            .track(HostPollable::block(self.table, pollable))
            .await
    }

    /// One look, as wasmtime-wasi-io's `ready`, with the kernel asked about this host's
    /// sockets.
    async fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        self.turns.refresh().await;
        let mut block = pin!(HostPollable::block(self.table, pollable));
        let looked =
            std::future::poll_fn(|cx| Poll::Ready(first_pass(cx, |cx| block.as_mut().poll(cx))))
                .await;
        match looked {
            Poll::Ready(done) => done.map(|()| true),
            Poll::Pending => Ok(false),
        }
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        HostPollable::drop(self.table, pollable)
    }
}
