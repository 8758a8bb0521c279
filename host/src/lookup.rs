//! `wasi:sockets/ip-name-lookup`, filtered by the sandbox policy.
//!
//! wasmtime-wasi can only allow or forbid name lookup as a whole. This layer sits in front
//! of its implementation: names the policy does not cover are refused with
//! `access-denied` (the script sees "permission denied"), and the addresses an allowed
//! name resolves to are recorded, so that connecting to them is allowed on that name's
//! ports.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, Network};
use wasmtime_wasi::p2::{DynPollable, SocketError};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use crate::policy::NetPolicy;

/// Which name each open lookup stream is resolving, by resource handle.
pub type PendingNames = HashMap<u32, String>;

/// The view the filtered interface works on.
pub struct FilteredLookup<'a> {
    pub inner: WasiSocketsCtxView<'a>,
    pub policy: &'a NetPolicy,
    pub names: &'a mut PendingNames,
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
        let stream = self.inner.resolve_addresses(network, name.clone())?;
        self.names.insert(stream.rep(), name);
        Ok(stream)
    }
}

impl HostResolveAddressStream for FilteredLookup<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        let rep = stream.rep();
        let next = self.inner.resolve_next_address(stream)?;
        if let (Some(ip), Some(name)) = (next, self.names.get(&rep)) {
            self.policy.learn(name, to_std(ip));
        }
        Ok(next)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.inner.subscribe(stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.names.remove(&stream.rep());
        HostResolveAddressStream::drop(&mut self.inner, stream)
    }
}

fn to_std(ip: IpAddress) -> IpAddr {
    match ip {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}
