//! `wasi:sockets/ip-name-lookup`, filtered by the sandbox policy, on threads of its own.
//!
//! wasmtime-wasi can only allow or forbid name lookup as a whole. This layer replaces its
//! implementation: names the policy does not cover are refused with `access-denied` (the
//! script sees "permission denied"), and the addresses an allowed name resolves to are
//! recorded, so that connecting to them is allowed on that name's ports.
//!
//! Lookups run the system resolver (getaddrinfo) on a thread each, not on tokio's blocking
//! pool where wasmtime-wasi runs them. getaddrinfo cannot be cancelled: against a resolver
//! that never answers it holds its thread until resolv.conf's `timeout × attempts` (a
//! minute or more). A pool thread is waited for when the runtime shuts down, so the CLI
//! outlived its `--timeout` by that much, and it takes a place in the pool every
//! instance's file I/O shares. Here a call that times out abandons its lookup: the thread
//! ends on its own, and nothing waits for it. Running lookups (abandoned ones included)
//! are capped per instance and per process; past a cap a lookup fails at once with
//! `temporary-resolver-failure`.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, Network};
use wasmtime_wasi::p2::{DynPollable, Pollable, SocketError};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use crate::policy::NetPolicy;

/// Lookups one instance may have running at once, those it abandoned included. LuaSocket
/// resolves one name at a time; this only stops a script from piling up threads.
pub const LOOKUPS_PER_INSTANCE: usize = 16;

/// Lookups running at once in the whole process, over all instances.
pub const LOOKUPS_PER_PROCESS: usize = 256;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// One instance's name lookups.
#[derive(Default)]
pub struct Lookups {
    /// Which name each open lookup stream is resolving, by resource handle.
    names: HashMap<u32, String>,
    /// Lookup threads of this instance still running; shared with them, as they can
    /// outlive the call (and the instance) that started them.
    running: Arc<AtomicUsize>,
}

/// The view the filtered interface works on.
pub struct FilteredLookup<'a> {
    pub inner: WasiSocketsCtxView<'a>,
    pub policy: &'a NetPolicy,
    pub lookups: &'a mut Lookups,
}

struct FilteredLookupData;

impl HasData for FilteredLookupData {
    type Data<'a> = FilteredLookup<'a>;
}

/// Installs the filtered interface over the one `wasmtime_wasi` added (which must be in
/// `linker` already, with shadowing allowed).
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> FilteredLookup<'_>,
) -> wasmtime::Result<()> {
    ip_name_lookup::add_to_linker::<T, FilteredLookupData>(linker, view)
}

/// A lookup's place under both caps, given back when its thread ends.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(instance: &Arc<AtomicUsize>) -> Option<Slot> {
        if !reserve(&RUNNING, LOOKUPS_PER_PROCESS) {
            return None;
        }
        if !reserve(instance, LOOKUPS_PER_INSTANCE) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot(instance.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts one more under `cap`, if there is room.
fn reserve(counter: &AtomicUsize, cap: usize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
}

type Answer = Result<Vec<IpAddr>, ErrorCode>;

/// What the guest's `resolve-address-stream` handles stand for.
///
/// The handles have wasmtime-wasi's resource type (this interface's bindings are its), but
/// every function on them is implemented here, so the table entry behind each one is a
/// `Lookup`, found by the handle's index ([`entry`]).
pub struct Lookup {
    state: State,
}

enum State {
    Waiting(oneshot::Receiver<Answer>),
    Answered(Result<std::vec::IntoIter<IpAddr>, ErrorCode>),
}

impl Lookup {
    fn answered(answer: Answer) -> Lookup {
        Lookup {
            state: State::Answered(answer.map(Vec::into_iter)),
        }
    }

    /// Starts resolving `name` on a thread of its own, which holds `slot` until it ends.
    fn start(name: String, slot: Slot) -> Result<Lookup, ErrorCode> {
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("luasocket-wasi-lookup".into())
            .spawn(move || {
                // Nobody may be waiting any more: the answer is then dropped.
                let _ = tx.send(resolve(&name));
                drop(slot);
            })
            .map_err(|_| ErrorCode::TemporaryResolverFailure)?;
        Ok(Lookup {
            state: State::Waiting(rx),
        })
    }

    /// The addresses, if the answer has come.
    fn addresses(&mut self) -> Option<&mut Result<std::vec::IntoIter<IpAddr>, ErrorCode>> {
        if let State::Waiting(rx) = &mut self.state {
            let answer = match rx.try_recv() {
                Ok(answer) => answer,
                Err(oneshot::error::TryRecvError::Empty) => return None,
                Err(oneshot::error::TryRecvError::Closed) => Err(ErrorCode::Unknown),
            };
            *self = Lookup::answered(answer);
        }
        match &mut self.state {
            State::Answered(addresses) => Some(addresses),
            State::Waiting(_) => None,
        }
    }
}

impl Pollable for Lookup {
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            if let State::Waiting(rx) = &mut self.state {
                // A closed channel means the thread panicked; `addresses` says so.
                let answer = rx.await.unwrap_or(Err(ErrorCode::Unknown));
                *self = Lookup::answered(answer);
            }
        })
    }
}

/// The table entry behind a guest's stream handle.
fn entry(stream: &Resource<ResolveAddressStream>) -> Resource<Lookup> {
    if stream.owned() {
        Resource::new_own(stream.rep())
    } else {
        Resource::new_borrow(stream.rep())
    }
}

/// What to do with a name: as wasmtime-wasi parses it (IP literals are their own answer,
/// international names go to punycode, anything else is an invalid argument).
enum Query {
    Address(IpAddr),
    Name(String),
}

fn parse(name: &str) -> Result<Query, ErrorCode> {
    match url::Host::parse(name) {
        Ok(url::Host::Domain(domain)) => Ok(Query::Name(domain)),
        Ok(url::Host::Ipv4(ip)) => Ok(Query::Address(IpAddr::V4(ip))),
        Ok(url::Host::Ipv6(ip)) => Ok(Query::Address(IpAddr::V6(ip))),
        // `url` wants IPv6 literals in brackets.
        Err(_) => name
            .parse::<Ipv6Addr>()
            .map(|ip| Query::Address(IpAddr::V6(ip)))
            .map_err(|_| ErrorCode::InvalidArgument),
    }
}

/// The system resolver's answer, on the calling thread (which it may block for long).
fn resolve(name: &str) -> Answer {
    (name, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip().to_canonical()).collect())
        .map_err(|_| ErrorCode::NameUnresolvable)
}

// The lookup interface's error type lives in `network`; its conversions are unchanged.
impl network::Host for FilteredLookup<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        self.inner.convert_error_code(error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        self.inner.network_error_code(err)
    }
}

impl network::HostNetwork for FilteredLookup<'_> {
    fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.inner, network)
    }
}

impl Host for FilteredLookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !self.policy.allows_name(&name) {
            self.policy.report(format!("name lookup of '{name}'"));
            return Err(ErrorCode::AccessDenied.into());
        }
        // The network handle is the capability to look names up: it must be a real one.
        self.inner.table.get(&network)?;
        let lookup = match parse(&name)? {
            Query::Address(ip) => Lookup::answered(Ok(vec![ip])),
            Query::Name(domain) => {
                let slot =
                    Slot::take(&self.lookups.running).ok_or(ErrorCode::TemporaryResolverFailure)?;
                Lookup::start(domain, slot)?
            }
        };
        let rep = self.inner.table.push(lookup)?.rep();
        self.lookups.names.insert(rep, name);
        Ok(Resource::new_own(rep))
    }
}

impl HostResolveAddressStream for FilteredLookup<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        let rep = stream.rep();
        let lookup = self.inner.table.get_mut(&entry(&stream))?;
        let next = match lookup.addresses() {
            None => return Err(ErrorCode::WouldBlock.into()),
            Some(Err(e)) => return Err((*e).into()),
            Some(Ok(addresses)) => addresses.next(),
        };
        if let (Some(ip), Some(name)) = (next, self.lookups.names.get(&rep)) {
            self.policy.learn(name, ip);
        }
        Ok(next.map(IpAddress::from))
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(self.inner.table, entry(&stream))
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.lookups.names.remove(&stream.rep());
        self.inner.table.delete(entry(&stream))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn names_and_literals_are_told_apart_as_wasmtime_wasi_does() {
        assert!(matches!(parse("example.org"), Ok(Query::Name(n)) if n == "example.org"));
        assert!(
            matches!(parse("bücher.example"), Ok(Query::Name(n)) if n == "xn--bcher-kva.example")
        );
        assert!(matches!(parse("127.0.0.1"), Ok(Query::Address(ip)) if ip == Ipv4Addr::LOCALHOST));
        assert!(matches!(parse("::1"), Ok(Query::Address(ip)) if ip == Ipv6Addr::LOCALHOST));
        assert!(matches!(parse("[::1]"), Ok(Query::Address(ip)) if ip == Ipv6Addr::LOCALHOST));
        assert!(matches!(parse("a b"), Err(ErrorCode::InvalidArgument)));
    }

    #[test]
    fn slots_stop_at_the_instance_cap_and_come_back() {
        let instance = Arc::new(AtomicUsize::new(0));
        let slots: Vec<Slot> = (0..LOOKUPS_PER_INSTANCE)
            .map(|_| Slot::take(&instance).expect("room"))
            .collect();
        assert!(Slot::take(&instance).is_none());
        drop(slots);
        assert_eq!(instance.load(Ordering::SeqCst), 0);
        assert!(Slot::take(&instance).is_some());
    }
}
