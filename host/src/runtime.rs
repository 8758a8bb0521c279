//! One engine and one compiled component, from which an isolated instance is made for
//! every run, each in its own sandbox: network policy, preopened directories, and limits
//! on memory, CPU and wall-clock time.
//!
//! Limits and what enforces them:
//! - memory: the store's memory limit, with Lua's own budget set a quarter below it so
//!   that a script normally meets a catchable "not enough memory" first;
//! - CPU: epoch interruption; every tick (10 ms) that lands in guest code is counted;
//! - wall clock: `tokio::time::timeout` around the call. A guest blocked in a host call
//!   (poll, sleep) is not running wasm, so only an async timeout can stop it; epoch ticks
//!   also make CPU-bound guests yield so that the timeout gets its turn.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::LuasocketPre;
use crate::bindings::exports::luasocket::socket::lua::{Completion, Failure, Invocation};
use crate::lookup::{self, FilteredLookup, PendingNames};
use crate::policy::{NetPolicy, describe_use};
use crate::{cache, component};

/// How often the epoch advances: the granularity of CPU accounting and of yielding.
const TICK: Duration = Duration::from_millis(10);

/// The environment variable that tells the guest its Lua heap budget (bytes).
const LUA_MEMORY_VAR: &str = "LUASOCKET_WASI_LUA_MEMORY";

/// Resource limits of one run. `None`: unlimited.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Linear memory of the instance, in bytes.
    pub max_memory: Option<usize>,
    /// Wall-clock time, including time blocked in I/O.
    pub timeout: Option<Duration>,
    /// Time spent running guest code (in 10 ms ticks; an approximation).
    pub cpu: Option<Duration>,
}

/// A host directory made visible to the guest.
#[derive(Debug, Clone)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// What one run may do.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    pub net: NetPolicy,
    pub dirs: Vec<Preopen>,
    pub limits: Limits,
    /// Collect stdout/stderr into the result instead of passing them through.
    pub capture_output: bool,
    /// Give the guest this process's stdin.
    pub inherit_stdin: bool,
    /// Extra environment variables for the guest.
    pub env: Vec<(String, String)>,
}

/// Which limit stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    WallClock(Duration),
    Cpu(Duration),
    Memory(usize),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The chunk returned these values (as `tostring` shows them).
    Returned(Vec<String>),
    /// The chunk failed to compile or raised an error.
    Failed(Failure),
    /// The script called `os.exit(code)` (or the instance exited through WASI).
    Exited(i32),
    /// A limit stopped it.
    Limit(Limit),
    /// The instance trapped (a bug in the guest, or an exhausted resource).
    Trapped(String),
}

/// The outcome, plus the output when it was captured.
#[derive(Debug)]
pub struct RunResult {
    pub outcome: Outcome,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Host resources (sockets, streams, pollables…) the instance still held when the
    /// call returned: what a leak would grow.
    pub resources: usize,
}

/// The wasi context and resource table, apart from the rest of the state so the name
/// lookup filter can borrow them next to the policy.
struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
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
    wasi: Wasi,
    policy: NetPolicy,
    lookups: PendingNames,
    memory: MemoryLimiter,
    cpu: CpuMeter,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

struct MemoryLimiter {
    max: Option<usize>,
    hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.max.is_some_and(|max| desired > max) {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

struct CpuMeter {
    ticks: u64,
    limit: Option<u64>,
    hit: bool,
}

/// The compiled component and everything needed to instantiate it quickly.
pub struct Runtime {
    engine: Engine,
    pre: LuasocketPre<HostState>,
    ticker: OnceLock<()>,
}

impl Runtime {
    /// The component built into this crate, compiled or taken from the default cache.
    pub fn new() -> wasmtime::Result<Runtime> {
        Runtime::with_cache(cache::default_dir())
    }

    /// The built-in component, cached in `cache_dir` (`None`: compile every time).
    pub fn with_cache(cache_dir: Option<PathBuf>) -> wasmtime::Result<Runtime> {
        Runtime::from_component(component::WASM, component::SHA256, cache_dir)
    }

    /// Any build of the component, given as bytes and their SHA-256 (hex).
    pub fn from_component(
        wasm: &[u8],
        sha256: &str,
        cache_dir: Option<PathBuf>,
    ) -> wasmtime::Result<Runtime> {
        let engine = Engine::new(&engine_config())?;
        let component = cache::load(&engine, wasm, sha256, cache_dir.as_deref())?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        linker.allow_shadowing(true);
        lookup::add_to_linker(&mut linker, |s: &mut HostState| FilteredLookup {
            inner: wasmtime_wasi::sockets::WasiSocketsView::sockets(&mut s.wasi),
            policy: &s.policy,
            names: &mut s.lookups,
        })?;
        let pre = LuasocketPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Runtime {
            engine,
            pre,
            ticker: OnceLock::new(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs one chunk in a fresh instance under `sandbox`.
    pub async fn run(
        &self,
        sandbox: &Sandbox,
        invocation: Invocation,
    ) -> wasmtime::Result<RunResult> {
        let (mut store, output) = self.new_store(sandbox)?;
        let called = {
            let call = async {
                let instance = self.pre.instantiate_async(&mut store).await?;
                instance
                    .luasocket_socket_lua()
                    .call_run(&mut store, &invocation)
                    .await
            };
            match sandbox.limits.timeout {
                Some(limit) => tokio::time::timeout(limit, call)
                    .await
                    .map_err(|_| Limit::WallClock(limit)),
                None => Ok(call.await),
            }
        };
        let outcome = match called {
            Err(limit) => Outcome::Limit(limit),
            Ok(Ok(Ok(Completion::Returned(values)))) => Outcome::Returned(values),
            Ok(Ok(Ok(Completion::Exited(code)))) => Outcome::Exited(code),
            Ok(Ok(Err(failure))) => match failure {
                Failure::OutOfMemory(_) if sandbox.limits.max_memory.is_some() => {
                    Outcome::Limit(Limit::Memory(sandbox.limits.max_memory.unwrap_or_default()))
                }
                other => Outcome::Failed(other),
            },
            Ok(Err(error)) => classify(&store, sandbox, error),
        };
        let (stdout, stderr) = output
            .map(|(o, e)| (o.contents().to_vec(), e.contents().to_vec()))
            .unwrap_or_default();
        let resources = store.data_mut().wasi.table.iter_mut().count();
        Ok(RunResult {
            outcome,
            stdout,
            stderr,
            resources,
        })
    }

    #[allow(clippy::type_complexity)]
    fn new_store(
        &self,
        sandbox: &Sandbox,
    ) -> wasmtime::Result<(
        Store<HostState>,
        Option<(MemoryOutputPipe, MemoryOutputPipe)>,
    )> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .arg("luasocket-wasi")
            .allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(true);
        let policy = sandbox.net.clone();
        let check = policy.clone();
        builder.socket_addr_check(move |addr, usage| {
            let allowed = check.allows(addr, usage);
            if !allowed {
                check.report(format!("{} {addr}", describe_use(usage)));
            }
            Box::pin(async move { allowed })
        });
        for dir in &sandbox.dirs {
            let perms = if dir.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            builder.preopened_dir(&dir.host, &dir.guest, perms)?;
        }
        if let Some(path) = lua_path(&sandbox.dirs) {
            builder.env("LUA_PATH", path);
        }
        if let Some(max) = sandbox.limits.max_memory {
            builder.env(LUA_MEMORY_VAR, (max / 4 * 3).to_string());
        }
        for (k, v) in &sandbox.env {
            builder.env(k, v);
        }
        if sandbox.inherit_stdin {
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
            builder.inherit_stdout().inherit_stderr();
            None
        };
        let state = HostState {
            wasi: Wasi {
                ctx: builder.build(),
                table: ResourceTable::new(),
            },
            policy,
            lookups: PendingNames::new(),
            memory: MemoryLimiter {
                max: sandbox.limits.max_memory,
                hit: false,
            },
            cpu: CpuMeter {
                ticks: 0,
                limit: sandbox.limits.cpu.map(ticks),
                hit: false,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        if sandbox.limits.timeout.is_some() || sandbox.limits.cpu.is_some() {
            self.start_ticker();
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let cpu = &mut ctx.data_mut().cpu;
            cpu.ticks += 1;
            if cpu.limit.is_some_and(|limit| cpu.ticks > limit) {
                cpu.hit = true;
                return Err(wasmtime::Trap::Interrupt.into());
            }
            // Yield, so a wall-clock timeout can fire even while the guest computes.
            Ok(UpdateDeadline::Yield(1))
        });
        Ok((store, output))
    }

    fn start_ticker(&self) {
        self.ticker.get_or_init(|| {
            let engine = self.engine.weak();
            std::thread::Builder::new()
                .name("luasocket-wasi-epoch".into())
                .spawn(move || {
                    while let Some(engine) = engine.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(TICK);
                    }
                })
                .map(|_| ())
                .unwrap_or(())
        });
    }
}

/// Raises this process's open-file limit to its hard maximum. Every socket a script
/// opens is a host descriptor, and a `select` over 10,000 of them needs as many.
pub fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                ..limit
            },
        );
    }
}

/// Names the cause of a failed call from what the store saw.
fn classify(store: &Store<HostState>, sandbox: &Sandbox, error: wasmtime::Error) -> Outcome {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Outcome::Exited(exit.0);
    }
    let state = store.data();
    if state.cpu.hit {
        return Outcome::Limit(Limit::Cpu(sandbox.limits.cpu.unwrap_or_default()));
    }
    if state.memory.hit {
        return Outcome::Limit(Limit::Memory(state.memory.max.unwrap_or_default()));
    }
    Outcome::Trapped(format!("{error:?}"))
}

fn ticks(limit: Duration) -> u64 {
    limit.as_millis().div_ceil(TICK.as_millis()).max(1) as u64
}

/// `package.path` entries for the preopened directories, then Lua's defaults (`;;`).
fn lua_path(dirs: &[Preopen]) -> Option<String> {
    if dirs.is_empty() {
        return None;
    }
    let mut path: String = dirs
        .iter()
        .map(|d| {
            let g = d.guest.trim_end_matches('/');
            let g = if g.is_empty() { "" } else { g };
            format!("{g}/?.lua;{g}/?/init.lua;")
        })
        .collect();
    path.push(';');
    Some(path)
}

fn engine_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config
}

/// A runtime shared by many tasks.
pub type SharedRuntime = Arc<Runtime>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_path_lists_every_directory_then_the_defaults() {
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
            lua_path(&dirs).unwrap(),
            "./?.lua;./?/init.lua;/lib/?.lua;/lib/?/init.lua;;"
        );
        assert_eq!(lua_path(&[]), None);
    }

    #[test]
    fn cpu_limits_round_up_to_ticks() {
        assert_eq!(ticks(Duration::from_millis(1)), 1);
        assert_eq!(ticks(Duration::from_millis(25)), 3);
        assert_eq!(ticks(Duration::from_secs(1)), 100);
    }
}
