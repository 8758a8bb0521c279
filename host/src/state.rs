//! The state each instance's store holds: its wasi context and resource table, its
//! network policy and name lookups, the meters its limits read, and its host functions.
//! `runtime.rs` builds it, `instance.rs` reads what it saw after a failed call; neither
//! needs the other for that (as wasmtime-wasi keeps `WasiCtx` apart from its views).

use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bundle::Bundle;
use crate::functions::{HostPanic, InstanceFunctions};
use crate::handles::{self, SocketCount};
use crate::limits::{CpuMeter, Limit, Limits, MemoryLimiter};
use crate::lookup::Lookups;
use crate::outgoing::OutgoingHttp;
use crate::policy::NetPolicy;
use crate::readiness::DriverTurns;

/// Where a sandbox's stdout and stderr go when captured.
pub(crate) type Captured = (MemoryOutputPipe, MemoryOutputPipe);

/// The wasi context and resource table, apart from the rest of the state so the name
/// lookup filter can borrow them next to the policy.
pub(crate) struct Wasi {
    pub(crate) ctx: WasiCtx,
    pub(crate) table: ResourceTable,
}

impl WasiView for Wasi {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Per-instance state.
pub struct HostState {
    pub(crate) wasi: Wasi,
    pub(crate) policy: NetPolicy,
    pub(crate) lookups: Lookups,
    pub(crate) memory: MemoryLimiter,
    pub(crate) cpu: CpuMeter,
    pub(crate) sockets: SocketCount,
    pub(crate) turns: DriverTurns,
    pub(crate) functions: InstanceFunctions,
    /// `wasi:http` (the handler world): its context, and the policy's hooks for the
    /// outgoing requests.
    pub(crate) http: WasiHttpCtx,
    pub(crate) outgoing: OutgoingHttp,
    /// The app's files, for the handler world's `bundle` import (`serve` sets them).
    pub(crate) bundle: Arc<Bundle>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.wasi.table,
            hooks: &mut self.outgoing,
        }
    }
}

impl HostState {
    pub(crate) fn new(
        ctx: WasiCtx,
        table: ResourceTable,
        policy: NetPolicy,
        limits: &Limits,
        functions: InstanceFunctions,
    ) -> HostState {
        HostState {
            wasi: Wasi { ctx, table },
            outgoing: OutgoingHttp::new(policy.clone()),
            http: WasiHttpCtx::new(),
            policy,
            lookups: Lookups::default(),
            memory: MemoryLimiter {
                max: limits.max_memory,
                hit: false,
                size: 0,
            },
            cpu: CpuMeter::new(limits.cpu),
            sockets: SocketCount::new(limits.max_sockets),
            turns: DriverTurns::default(),
            functions,
            bundle: Arc::default(),
        }
    }

    /// Resets the per-call meters.
    pub(crate) fn start_call(&mut self) {
        self.cpu.ticks = 0;
        self.cpu.hit = false;
    }

    /// The limit the store stopped the call on, if any (the store's meters, and the
    /// resource table's capacity for a call that failed by filling it).
    pub(crate) fn limit_hit(&self, error: &wasmtime::Error, limits: &Limits) -> Option<Limit> {
        if self.cpu.hit {
            return Some(Limit::Cpu(limits.cpu.unwrap_or_default()));
        }
        if self.memory.hit {
            return Some(Limit::Memory(self.memory.max.unwrap_or_default()));
        }
        if handles::is_table_full(error) {
            return Some(Limit::Handles(self.wasi.table.max_capacity()));
        }
        None
    }

    /// The panic of a host function during the call, if one panicked.
    pub(crate) fn host_panic(&self) -> Option<&HostPanic> {
        self.functions.panicked.as_ref()
    }

    /// The instance's linear memory, in bytes.
    pub(crate) fn memory(&self) -> usize {
        self.memory.size
    }

    /// A pollable of the host's own making, in the instance's resource table.
    pub(crate) fn push_pollable<P: wasmtime_wasi::p2::Pollable>(
        &mut self,
        pollable: P,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let resource = self.wasi.table.push(pollable)?;
        wasmtime_wasi::p2::subscribe(&mut self.wasi.table, resource)
    }

    /// Removes it again (with what it watched).
    pub(crate) fn drop_pollable(&mut self, pollable: Resource<DynPollable>) {
        let _ = self.wasi.table.delete(pollable);
    }

    /// Live entries in the resource table.
    pub(crate) fn resources(&mut self) -> usize {
        self.wasi.table.iter_mut().count()
    }
}
