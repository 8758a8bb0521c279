//! One isolated instance of the component, and what can be done with it: run chunks,
//! host a plugin (a Lua state kept between calls), or drive the exported socket
//! resources directly. Every call is guarded by the sandbox's limits; after a trap or a
//! limit the instance is unusable and says so, while other instances carry on.

use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::ResourceAny;
use wasmtime_wasi::I32Exit;

use crate::bindings::Luasocket;

/// Calls into the instance under its limits: `guarded!(instance, |store, exports| call)`,
/// where `call` is a future using the store and the generated bindings.
macro_rules! guarded {
    ($instance:expr, |$store:ident, $exports:ident| $call:expr) => {{
        let instance: &mut Instance = $instance;
        match instance.begin_call() {
            Err(e) => Err(e),
            Ok(timeout) => {
                let result = {
                    let $store = &mut instance.store;
                    let $exports = instance.bindings.luasocket_socket_lua();
                    within(timeout, $call).await
                };
                instance.end_call(result)
            }
        }
    }};
}
use crate::bindings::exports::luasocket::socket::lua::{Completion, Failure, Invocation};
use crate::functions::HostPanic;
use crate::limits::{Limit, Limits, within};
use crate::state::{Captured, HostState};
use crate::value::{LuaValue, ValueError, from_wit, to_wit};

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

/// Why a call into an instance did not return a value.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{}", describe_failure(.0))]
    Failed(Failure),
    #[error("the script called os.exit({0})")]
    Exited(i32),
    #[error("{0:?} reached")]
    Limit(Limit),
    #[error("the instance trapped: {0}")]
    Trapped(String),
    #[error("the instance is unusable after an earlier trap or limit")]
    Unusable,
    /// An interrupted input (`Session::eval`) did not stop within this grace period, so
    /// the call was taken away, and the instance with it.
    #[error("the input did not stop within {0:?} of the interrupt")]
    Interrupted(Duration),
    #[error("bad value from the plugin: {0}")]
    Value(#[from] ValueError),
    /// A host function panicked during the call; the instance trapped.
    #[error("host function '{}' panicked: {}", .0.function, .0.message)]
    HostPanic(HostPanic),
}

fn describe_failure(f: &Failure) -> String {
    match f {
        Failure::Syntax(m) | Failure::Runtime(m) | Failure::OutOfMemory(m) => m.clone(),
        Failure::Exited(code) => format!("the script called os.exit({code})"),
    }
}

/// A live instance with its own store.
pub struct Instance {
    pub(crate) store: Store<HostState>,
    pub(crate) bindings: Luasocket,
    pub(crate) limits: Limits,
    pub(crate) output: Option<Captured>,
    pub(crate) unusable: bool,
}

impl Instance {
    /// The store and the generated bindings, to use the exported `tcp`, `udp`, `dns`
    /// and `select` interfaces directly (see `host/examples/direct.rs`). Await those calls
    /// inside `tokio::task::coop::unconstrained`, as the instance's own calls are: under
    /// tokio's cooperative budget, a busy guest is told ready sockets are not (see
    /// [`crate::limits::within`]).
    pub fn parts(&mut self) -> (&mut Store<HostState>, &Luasocket) {
        (&mut self.store, &self.bindings)
    }

    /// Captured stdout and stderr so far (when the sandbox captures output).
    pub fn output(&self) -> (Vec<u8>, Vec<u8>) {
        self.output
            .as_ref()
            .map(|(o, e)| (o.contents().to_vec(), e.contents().to_vec()))
            .unwrap_or_default()
    }

    /// Host resources the instance holds (sockets, streams, pollables…).
    pub fn resources(&mut self) -> usize {
        self.store.data_mut().resources()
    }

    /// The instance's linear memory, in bytes (it only grows).
    pub fn memory(&mut self) -> usize {
        self.store.data().memory()
    }

    /// Runs a chunk in a fresh Lua state inside this instance.
    pub async fn run(&mut self, invocation: &Invocation) -> Outcome {
        let result = guarded!(self, |store, lua| lua.call_run(store, invocation));
        self.outcome(result)
    }

    /// What the result of running a chunk (`run`, or a session's `exec`) comes to.
    pub(crate) fn outcome(
        &self,
        result: Result<Result<Completion, Failure>, CallError>,
    ) -> Outcome {
        match result {
            Ok(Ok(Completion::Returned(values))) => Outcome::Returned(values),
            Ok(Ok(Completion::Exited(code))) => Outcome::Exited(code),
            Ok(Err(Failure::OutOfMemory(_))) if self.limits.max_memory.is_some() => {
                Outcome::Limit(Limit::Memory(self.limits.max_memory.unwrap_or_default()))
            }
            Ok(Err(failure)) => Outcome::Failed(failure),
            Err(CallError::Exited(code)) => Outcome::Exited(code),
            Err(CallError::Limit(limit)) => Outcome::Limit(limit),
            Err(e) => Outcome::Trapped(e.to_string()),
        }
    }

    /// Before a call: refuses if unusable, resets the per-call meters, and says how long
    /// the call may take.
    pub(crate) fn begin_call(&mut self) -> Result<Option<Duration>, CallError> {
        if self.unusable {
            return Err(CallError::Unusable);
        }
        self.store.data_mut().start_call();
        Ok(self.limits.timeout)
    }

    /// After a call: a trap or a limit makes the instance unusable, and is named.
    pub(crate) fn end_call<T>(
        &mut self,
        result: Result<wasmtime::Result<T>, Limit>,
    ) -> Result<T, CallError> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.unusable = true;
                Err(classify(self.store.data(), error, &self.limits))
            }
            Err(limit) => {
                self.unusable = true;
                Err(CallError::Limit(limit))
            }
        }
    }

    /// Loads `source` into a new Lua state of this instance, as a plugin.
    pub async fn load_plugin(
        mut self,
        chunk_name: &str,
        source: &[u8],
    ) -> Result<Plugin, CallError> {
        let state = guarded!(&mut self, |store, lua| lua.call_new_state(store))?
            .map_err(CallError::Failed)?;
        let mut plugin = Plugin {
            instance: self,
            state,
        };
        guarded!(&mut plugin.instance, |store, lua| lua
            .state()
            .call_load(store, state, chunk_name, source))?
        .map_err(CallError::Failed)?;
        Ok(plugin)
    }
}

/// A Lua plugin: one state in its own instance, called by function name.
pub struct Plugin {
    instance: Instance,
    state: ResourceAny,
}

impl Plugin {
    /// Calls the plugin's global function `name`.
    pub async fn call(
        &mut self,
        name: &str,
        args: &[LuaValue],
    ) -> Result<Vec<LuaValue>, CallError> {
        let state = self.state;
        let args: Vec<_> = args.iter().map(to_wit).collect();
        let values = guarded!(&mut self.instance, |store, lua| lua
            .state()
            .call_call(store, state, name, &args))?
        .map_err(|f| match f {
            Failure::Exited(code) => CallError::Exited(code),
            other => CallError::Failed(other),
        })?;
        values
            .iter()
            .map(|v| from_wit(v).map_err(CallError::from))
            .collect()
    }

    pub fn instance(&mut self) -> &mut Instance {
        &mut self.instance
    }
}

/// Names the cause of a failed call from the error and what the store saw.
fn classify(state: &HostState, error: wasmtime::Error, limits: &Limits) -> CallError {
    if let Some(code) = exit_status(&error) {
        return CallError::Exited(code);
    }
    if let Some(panic) = state.host_panic() {
        return CallError::HostPanic(panic.clone());
    }
    if let Some(limit) = state.limit_hit(&error, limits) {
        return CallError::Limit(limit);
    }
    CallError::Trapped(format!("{error:?}"))
}

/// The exit status carried by a WASI exit, if that is what the error is.
pub(crate) fn exit_status(error: &wasmtime::Error) -> Option<i32> {
    error.downcast_ref::<I32Exit>().map(|e| e.0)
}
