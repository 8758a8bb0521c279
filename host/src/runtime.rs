//! One engine and one compiled component, from which isolated instances are made, each
//! in its own sandbox: network policy, preopened directories, limits (see `limits`), and
//! host functions (see `functions`). Instances are cheap: the component is compiled once
//! and pre-linked (`InstancePre`); with the pooling allocator, their memories come from a
//! pre-reserved pool.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::bindings::LuasocketPre;
use crate::bindings::exports::luasocket::socket::lua::Invocation;
use crate::component::World;
use crate::functions::{self, HostFunctions, InstanceFunctions};
use crate::handles::{self, Counted};
use crate::instance::{CallError, Instance, Outcome, Plugin};
use crate::limits::{Interruption, Limits, TICK};
use crate::lookup::{self, FilteredLookup};
use crate::policy::NetPolicy;
use crate::readiness::{self, FreshPoll};
use crate::session::Session;
use crate::sockets::{self, SocketsImpl, SocketsView};
use crate::state::Captured;
pub use crate::state::HostState;
use crate::stdio::{PassedThrough, SharedStdin};
use crate::typed::{IntoAsyncHostFn, IntoHostFn};
use crate::{bundle, cache, files};

/// The environment variable that tells the guest its Lua heap budget (bytes).
const LUA_MEMORY_VAR: &str = "LUASOCKET_WASI_LUA_MEMORY";

/// A host directory made visible to the guest.
#[derive(Debug, Clone)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// What an instance may do.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    pub net: NetPolicy,
    pub dirs: Vec<Preopen>,
    pub limits: Limits,
    /// Collect stdout/stderr (readable from the instance) instead of passing them through.
    pub capture_output: bool,
    /// Give the guest this process's stdin.
    pub inherit_stdin: bool,
    /// With `inherit_stdin`: stdin is shared with the host's own reading (a terminal the
    /// host's line editor reads too), so it is read only when the guest asks and input is
    /// there ([`SharedStdin`](crate::stdio::SharedStdin)); a read the guest gives up (an
    /// interrupted `io.read`) takes nothing from it. Otherwise wasmtime-wasi's inherited
    /// stdin, which reads ahead on a thread of its own.
    pub stdin_shared: bool,
    /// Extra environment variables for the guest (e.g. `HOSTNAME`). A `LUA_PATH` here
    /// replaces the one made from `dirs` (start it with [`package_path`] to keep them).
    pub env: Vec<(String, String)>,
    /// Host functions of this instance alone, beside the runtime's (and before them, for
    /// a name both have).
    pub functions: HostFunctions,
}

/// The result of a one-shot run.
#[derive(Debug)]
pub struct RunResult {
    pub outcome: Outcome,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Host resources (sockets, streams, pollables…) the instance still held when the
    /// run returned: what a leak would grow.
    pub resources: usize,
    /// The instance's linear memory when the run returned, in bytes. Wasm memories only
    /// grow, so this is also the most the run needed.
    pub memory: usize,
}

/// How the runtime is built.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Where compiled code is cached (`None`: compile every time).
    pub cache_dir: Option<PathBuf>,
    /// Pre-reserve memory for this many concurrent instances (the pooling allocator):
    /// instantiation is faster, and memory is recycled, for hosts that run many.
    pub pool: Option<Pool>,
    /// Which built-in component to run (default: the plugin world, with host functions).
    pub world: World,
    /// Whose `wasi:sockets` TCP and UDP the instances get: this host's (the default) or
    /// wasmtime-wasi's (to compare the two).
    pub sockets: SocketsImpl,
    /// Whether guest code can be interrupted (default: yes). Without it the code runs
    /// faster, and sandboxes with CPU or wall-clock limits are refused.
    pub interruption: Interruption,
}

/// Pooling allocator sizes.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// Instances alive at once.
    pub instances: u32,
    /// The most linear memory one instance may have, in bytes.
    pub max_memory: usize,
}

/// The compiled component and everything needed to instantiate it quickly. Share it
/// (`Arc<Runtime>`) between tasks: instances are independent.
pub struct Runtime {
    engine: Engine,
    pre: LuasocketPre<HostState>,
    /// The handler world's export, if the component has it.
    proxy: Option<ProxyPre<HostState>>,
    ticker: OnceLock<()>,
    interruption: Interruption,
    /// Host functions every instance has; shared with the instances made so far, so a
    /// change is copied on write and reaches only the instances made after it.
    functions: Arc<HostFunctions>,
    /// The name Lua `require`s the host functions by.
    module: Arc<str>,
}

impl Runtime {
    /// The plugin world's component built into this crate, compiled or taken from the
    /// default cache.
    pub fn new() -> wasmtime::Result<Runtime> {
        Runtime::with_cache(cache::default_dir())
    }

    /// The plugin world's component, cached in `cache_dir` (`None`: compile every time).
    pub fn with_cache(cache_dir: Option<PathBuf>) -> wasmtime::Result<Runtime> {
        Runtime::with_options(RuntimeOptions {
            cache_dir,
            ..RuntimeOptions::default()
        })
    }

    /// The built-in component of `options.world`.
    pub fn with_options(options: RuntimeOptions) -> wasmtime::Result<Runtime> {
        let (wasm, sha256) = options.world.component();
        Runtime::from_component(wasm, sha256, options)
    }

    /// Any build of the component, of either world, given as bytes and their SHA-256
    /// (hex); `options.world` is not looked at.
    pub fn from_component(
        wasm: &[u8],
        sha256: &str,
        options: RuntimeOptions,
    ) -> wasmtime::Result<Runtime> {
        let engine = Engine::new(&engine_config(options.pool, options.interruption))?;
        let component = cache::load(&engine, wasm, sha256, options.cache_dir.as_deref())?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        linker.allow_shadowing(true);
        lookup::add_to_linker(&mut linker, |s: &mut HostState| FilteredLookup {
            inner: wasmtime_wasi::sockets::WasiSocketsView::sockets(&mut s.wasi),
            policy: &s.policy,
            lookups: &mut s.lookups,
        })?;
        match options.sockets {
            SocketsImpl::Host => {
                sockets::add_to_linker(&mut linker, |s: &mut HostState| SocketsView {
                    table: &mut s.wasi.table,
                    policy: &s.policy,
                    count: &mut s.sockets,
                })?
            }
            SocketsImpl::Wasmtime => {
                handles::add_to_linker(&mut linker, |s: &mut HostState| Counted {
                    count: &mut s.sockets,
                    sockets: wasmtime_wasi::sockets::WasiSocketsView::sockets(&mut s.wasi),
                })?
            }
        }
        files::add_to_linker(&mut linker)?;
        readiness::add_to_linker(&mut linker, |s: &mut HostState| FreshPoll {
            table: &mut s.wasi.table,
            turns: &mut s.turns,
        })?;
        // The command world does not import these; defining them anyway costs nothing.
        functions::add_to_linker(&mut linker, |s: &mut HostState| &mut s.functions)?;
        // wasi:http only for the component that imports it (the handler world): its 270k
        // instructions of linking were a twentieth of every CLI start.
        if imports_http(&engine, &component) {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        }
        bundle::add_to_linker(&mut linker, |s: &HostState| &s.bundle)?;
        let instance_pre = linker.instantiate_pre(&component)?;
        let proxy = ProxyPre::new(instance_pre.clone()).ok();
        let pre = LuasocketPre::new(instance_pre)?;
        Ok(Runtime {
            engine,
            pre,
            proxy,
            ticker: OnceLock::new(),
            interruption: options.interruption,
            functions: Arc::default(),
            module: Arc::from("host"),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Adds the synchronous host function `name` for every instance made from now on:
    /// `runtime.host_fn("upper", |s: String| s.to_uppercase())`, which Lua calls as
    /// `require("host").upper("x")`. See [`HostFunctions::add`].
    pub fn host_fn<M>(&mut self, name: &str, f: impl IntoHostFn<M>) -> &mut Runtime {
        Arc::make_mut(&mut self.functions).add(name, f);
        self
    }

    /// Adds the async host function `name`. See [`HostFunctions::add_async`].
    pub fn host_fn_async<M>(&mut self, name: &str, f: impl IntoAsyncHostFn<M>) -> &mut Runtime {
        Arc::make_mut(&mut self.functions).add_async(name, f);
        self
    }

    /// The runtime's host functions, to add several or a set made elsewhere.
    pub fn host_functions(&mut self) -> &mut HostFunctions {
        Arc::make_mut(&mut self.functions)
    }

    /// Names the module Lua `require`s the host functions by (default `host`). A Lua
    /// state whose module would shadow a built-in one (`socket`, `string`, …) fails to
    /// start, so such a name shows at the first load or run.
    pub fn host_module(&mut self, name: &str) -> &mut Runtime {
        self.module = Arc::from(name);
        self
    }

    /// A fresh instance in `sandbox`.
    pub async fn instantiate(&self, sandbox: &Sandbox) -> wasmtime::Result<Instance> {
        let (mut store, output) = self.new_store(sandbox)?;
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            bindings,
            limits: sandbox.limits.clone(),
            output,
            unusable: false,
        })
    }

    /// Runs one chunk in a fresh instance under `sandbox`.
    pub async fn run(
        &self,
        sandbox: &Sandbox,
        invocation: Invocation,
    ) -> wasmtime::Result<RunResult> {
        let mut instance = self.instantiate(sandbox).await?;
        let outcome = instance.run(&invocation).await;
        let (stdout, stderr) = instance.output();
        let resources = instance.resources();
        let memory = instance.memory();
        Ok(RunResult {
            outcome,
            stdout,
            stderr,
            resources,
            memory,
        })
    }

    /// A Lua state in a fresh instance for a command line's steps and typed input. The
    /// epoch ticks run for it whatever the limits (when the runtime is interruptible), so
    /// that a computing guest yields and an interrupt it does not heed can still be acted
    /// on.
    pub async fn open_session(&self, sandbox: &Sandbox) -> Result<Session, PluginError> {
        self.start_ticker();
        let instance = self
            .instantiate(sandbox)
            .await
            .map_err(PluginError::Instantiate)?;
        Session::open(instance).await.map_err(PluginError::Load)
    }

    /// A plugin: `source` loaded into a Lua state of a fresh instance, ready for calls.
    pub async fn load_plugin(
        &self,
        sandbox: &Sandbox,
        chunk_name: &str,
        source: &[u8],
    ) -> Result<Plugin, PluginError> {
        let instance = self
            .instantiate(sandbox)
            .await
            .map_err(PluginError::Instantiate)?;
        instance
            .load_plugin(chunk_name, source)
            .await
            .map_err(PluginError::Load)
    }

    /// The handler world's `wasi:http/incoming-handler`, pre-linked, if the component
    /// exports it ([`crate::serve`]).
    pub fn proxy(&self) -> Option<&ProxyPre<HostState>> {
        self.proxy.as_ref()
    }

    pub(crate) fn new_store(
        &self,
        sandbox: &Sandbox,
    ) -> wasmtime::Result<(Store<HostState>, Option<Captured>)> {
        if self.interruption == Interruption::Disabled && sandbox.limits.need_interruption() {
            wasmtime::bail!(
                "CPU and wall-clock limits need a runtime built with Interruption::Enabled"
            );
        }
        let mut builder = WasiCtxBuilder::new();
        builder
            .arg("luasocket-wasi")
            .allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(true);
        let policy = sandbox.net.clone();
        let check = policy.clone();
        builder.socket_addr_check(move |addr, usage| {
            let allowed = check.check(addr, usage);
            Box::pin(async move { allowed })
        });
        for dir in &sandbox.dirs {
            let perms = if dir.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            builder
                .preopened_dir(&dir.host, &dir.guest, perms)
                .with_context(|| {
                    format!(
                        "cannot make {} visible as {}",
                        dir.host.display(),
                        dir.guest
                    )
                })?;
        }
        let own_path = sandbox.env.iter().any(|(name, _)| name == "LUA_PATH");
        if !own_path && !sandbox.dirs.is_empty() {
            // Lua's defaults (`;;`) after the directories.
            builder.env("LUA_PATH", package_path(&sandbox.dirs) + ";");
        }
        if let Some(budget) = sandbox.limits.lua_budget() {
            builder.env(LUA_MEMORY_VAR, budget.to_string());
        }
        for (k, v) in &sandbox.env {
            builder.env(k, v);
        }
        if sandbox.inherit_stdin && sandbox.stdin_shared {
            builder.stdin(SharedStdin::new());
        } else if sandbox.inherit_stdin {
            builder.inherit_stdin();
        }
        let output = if sandbox.capture_output {
            let pipes = (
                MemoryOutputPipe::new(64 << 20),
                MemoryOutputPipe::new(64 << 20),
            );
            builder.stdout(pipes.0.clone()).stderr(pipes.1.clone());
            Some(pipes)
        } else {
            builder
                .stdout(PassedThrough::stdout())
                .stderr(PassedThrough::stderr());
            None
        };
        let mut table = ResourceTable::new();
        if let Some(max) = sandbox.limits.max_sockets {
            table.set_max_capacity(handles::table_capacity(max));
        }
        let functions = InstanceFunctions {
            module: self.module.clone(),
            shared: self.functions.clone(),
            own: sandbox.functions.clone(),
            panicked: None,
        };
        let state = HostState::new(builder.build(), table, policy, &sandbox.limits, functions);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        if sandbox.limits.timeout.is_some() || sandbox.limits.cpu.is_some() {
            self.start_ticker();
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            if !ctx.data_mut().cpu.tick() {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            // Yield, so a wall-clock timeout can fire even while the guest computes.
            Ok(UpdateDeadline::Yield(1))
        });
        Ok((store, output))
    }

    fn start_ticker(&self) {
        if self.interruption == Interruption::Disabled {
            return;
        }
        self.ticker.get_or_init(|| {
            let engine = self.engine.weak();
            let ticker = std::thread::Builder::new().name("luasocket-wasi-epoch".into()).spawn(move || {
                while let Some(engine) = engine.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            });
            // Without the thread, limits other than memory cannot fire; say so once.
            if let Err(e) = ticker {
                eprintln!("luasocket-wasi: cannot start the epoch thread, CPU and time limits are off: {e}");
            }
        });
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot instantiate the component: {0:?}")]
    Instantiate(wasmtime::Error),
    #[error("cannot load the plugin: {0}")]
    Load(CallError),
}

/// Raises this process's open-file limit to its hard maximum. Every socket a script
/// opens is a host descriptor, and a `select` over 10,000 of them needs as many.
pub fn raise_descriptor_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: limit.maximum,
                ..limit
            },
        );
    }
}

/// `package.path` templates for modules in preopened directories (`GUEST/?.lua` and
/// `GUEST/?/init.lua` for each), each followed by `;`.
pub fn package_path(dirs: &[Preopen]) -> String {
    dirs.iter()
        .map(|d| {
            let g = d.guest.trim_end_matches('/');
            format!("{g}/?.lua;{g}/?/init.lua;")
        })
        .collect()
}

/// Whether `component` imports any `wasi:http` interface.
fn imports_http(engine: &Engine, component: &wasmtime::component::Component) -> bool {
    component
        .component_type()
        .imports(engine)
        .any(|(name, _)| name.starts_with("wasi:http/"))
}

fn engine_config(pool: Option<Pool>, interruption: Interruption) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(interruption == Interruption::Enabled);
    // For `perf record`: write /tmp/perf-PID.map so guest frames get names (bench/NOTES.md).
    if std::env::var_os("LUASOCKET_WASI_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config.wasm_component_model(true);
    if let Some(pool) = pool {
        let mut p = PoolingAllocationConfig::default();
        let n = pool.instances;
        // A component instance here is a few core instances (the module and the
        // canonical-ABI shims), one memory and a few tables.
        p.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .max_memory_size(pool.max_memory);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_path_lists_every_directory() {
        let dirs = vec![
            Preopen {
                host: "a".into(),
                guest: ".".into(),
                writable: false,
            },
            Preopen {
                host: "b".into(),
                guest: "/lib/".into(),
                writable: false,
            },
        ];
        assert_eq!(
            package_path(&dirs),
            "./?.lua;./?/init.lua;/lib/?.lua;/lib/?/init.lua;"
        );
        assert_eq!(package_path(&[]), "");
    }
}
