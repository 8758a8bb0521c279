//! Host functions: named Rust functions, sync or async, that Lua in the plugin world
//! calls through the `luasocket:socket/host` import (see `wit/plugin.wit`).
//!
//! A [`HostFunctions`] set is registered on the [`crate::Runtime`] (shared by every
//! instance) or in a [`crate::Sandbox`] (that instance's own, taking precedence). Each
//! instance answers its guest's `offered` and `call` from both sets.
//!
//! An `Err` from a host function becomes a Lua error in the calling script, which it may
//! catch. A panic is a bug of the host function, not something the script should catch
//! and carry on from: it is caught here (so it never unwinds through the guest or takes
//! down the task driving other instances), traps the calling instance only, and comes
//! back from that call as [`crate::CallError::HostPanic`].

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::value::Graph;

/// A host function's failure, raised in Lua as an error with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    message: String,
}

impl HostError {
    pub fn new(message: impl Into<String>) -> HostError {
        HostError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

impl From<String> for HostError {
    fn from(message: String) -> HostError {
        HostError { message }
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> HostError {
        HostError::new(message)
    }
}

impl From<std::io::Error> for HostError {
    fn from(e: std::io::Error) -> HostError {
        HostError::new(e.to_string())
    }
}

impl From<crate::value::ValueError> for HostError {
    fn from(e: crate::value::ValueError) -> HostError {
        HostError::new(e.to_string())
    }
}

/// What a call returns: the results as graphs, or the error to raise.
pub type HostResult = Result<Vec<Graph>, HostError>;

/// The future of an async host function's call.
pub type BoxedCall = Pin<Box<dyn Future<Output = HostResult> + Send>>;

/// A synchronous host function, on graphs.
pub type SyncFn = dyn Fn(Vec<Graph>) -> HostResult + Send + Sync;

/// An async host function, on graphs.
pub type AsyncFn = dyn Fn(Vec<Graph>) -> BoxedCall + Send + Sync;

/// One registered function. Synchronous ones are kept apart so their calls box no future.
#[derive(Clone)]
enum Callable {
    Sync(Arc<SyncFn>),
    Async(Arc<AsyncFn>),
}

/// A set of named host functions.
///
/// ```no_run
/// # use luasocket_wasi_host::functions::{HostFunctions, HostError};
/// let mut functions = HostFunctions::new();
/// functions
///     .add("upper", |s: String| s.to_uppercase())
///     .add("div", |a: i64, b: i64| -> Result<i64, HostError> {
///         a.checked_div(b).ok_or_else(|| "division by zero".into())
///     })
///     .add_async("wait", |ms: u64| async move {
///         tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
///     });
/// ```
#[derive(Clone, Default)]
pub struct HostFunctions {
    functions: HashMap<String, Callable>,
}

impl HostFunctions {
    pub fn new() -> HostFunctions {
        HostFunctions::default()
    }

    /// Adds (or replaces) `name`, already typed (see [`HostFunctions::add`]).
    pub(crate) fn insert_sync(&mut self, name: &str, f: Arc<SyncFn>) {
        self.functions.insert(name.to_owned(), Callable::Sync(f));
    }

    /// The same for an async function ([`HostFunctions::add_async`]).
    pub(crate) fn insert_async(&mut self, name: &str, f: Arc<AsyncFn>) {
        self.functions.insert(name.to_owned(), Callable::Async(f));
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    fn get(&self, name: &str) -> Option<&Callable> {
        self.functions.get(name)
    }
}

impl std::fmt::Debug for HostFunctions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.names().collect();
        names.sort_unstable();
        f.debug_set().entries(names).finish()
    }
}

/// A host function that panicked, with the panic's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPanic {
    pub function: String,
    pub message: String,
}

/// How a call went wrong on the host's side.
enum Failure {
    Error(HostError),
    Panic(HostPanic),
}

/// What one instance may call: its sandbox's functions, then the runtime's.
pub(crate) struct InstanceFunctions {
    pub(crate) module: Arc<str>,
    pub(crate) shared: Arc<HostFunctions>,
    pub(crate) own: HostFunctions,
    /// Set when a host function panicked: the instance trapped because of it.
    pub(crate) panicked: Option<HostPanic>,
}

impl InstanceFunctions {
    /// The module and function names Lua gets, sorted (so every state sees one order).
    fn offer(&self) -> (String, Vec<String>) {
        let mut names: Vec<String> = self
            .own
            .names()
            .chain(self.shared.names().filter(|n| self.own.get(n).is_none()))
            .map(str::to_owned)
            .collect();
        names.sort_unstable();
        (self.module.to_string(), names)
    }

    /// Runs `name`; a panic is caught and reported as such.
    async fn call(&self, name: &str, args: Vec<Graph>) -> Result<Vec<Graph>, Failure> {
        let callable = self.own.get(name).or_else(|| self.shared.get(name));
        let Some(callable) = callable.cloned() else {
            return Err(Failure::Error(HostError::new(format!(
                "no host function '{name}'"
            ))));
        };
        let outcome = match callable {
            Callable::Sync(f) => catch_unwind(AssertUnwindSafe(|| f(args))),
            Callable::Async(f) => match catch_unwind(AssertUnwindSafe(|| f(args))) {
                Ok(future) => CatchPanic(future).await,
                Err(payload) => Err(payload),
            },
        };
        match outcome {
            Ok(result) => result.map_err(Failure::Error),
            Err(payload) => Err(Failure::Panic(HostPanic {
                function: name.to_owned(),
                message: panic_message(payload.as_ref()),
            })),
        }
    }
}

/// Polls a host function's future, catching a panic in any poll.
struct CatchPanic(BoxedCall);

impl Future for CatchPanic {
    type Output = Result<HostResult, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// The host side of the `host` import, generated from `wit/plugin.wit`.
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        interfaces: "import luasocket:socket/host@0.1.0;",
        imports: { "luasocket:socket/host.call": async | trappable },
    });
}

use bindings::luasocket::socket::host::{self as import, Host, Offer};

/// The import's graph as the exports' one ([`Graph`]): the WIT defines the two alike, case
/// for case (see `wit/plugin.wit` for why there are two); strings move, nothing is copied.
fn from_import(value: import::Value) -> Graph {
    use crate::value::Node as N;
    use import::Node as I;
    let node = |n| match n {
        I::Nil => N::Nil,
        I::Boolean(b) => N::Boolean(b),
        I::Integer(n) => N::Integer(n),
        I::Number(x) => N::Number(x),
        I::Text(s) => N::Text(s),
        I::Bytes(b) => N::Bytes(b),
        I::Sequence(items) => N::Sequence(items),
        I::Table(entries) => N::Table(entries),
    };
    Graph {
        nodes: value.nodes.into_iter().map(node).collect(),
    }
}

/// [`Graph`] as the import's.
fn to_import(value: Graph) -> import::Value {
    use crate::value::Node as N;
    use import::Node as I;
    let node = |n| match n {
        N::Nil => I::Nil,
        N::Boolean(b) => I::Boolean(b),
        N::Integer(n) => I::Integer(n),
        N::Number(x) => I::Number(x),
        N::Text(s) => I::Text(s),
        N::Bytes(b) => I::Bytes(b),
        N::Sequence(items) => I::Sequence(items),
        N::Table(entries) => I::Table(entries),
    };
    import::Value {
        nodes: value.nodes.into_iter().map(node).collect(),
    }
}

impl Host for InstanceFunctions {
    fn offered(&mut self) -> Offer {
        let (module, functions) = self.offer();
        Offer { module, functions }
    }

    async fn call(
        &mut self,
        name: String,
        args: Vec<import::Value>,
    ) -> wasmtime::Result<Result<Vec<import::Value>, String>> {
        let args = args.into_iter().map(from_import).collect();
        match InstanceFunctions::call(self, &name, args).await {
            Ok(results) => Ok(Ok(results.into_iter().map(to_import).collect())),
            Err(Failure::Error(e)) => Ok(Err(e.message)),
            Err(Failure::Panic(panic)) => {
                let trap = wasmtime::Error::msg(format!(
                    "host function '{}' panicked: {}",
                    panic.function, panic.message
                ));
                self.panicked = Some(panic);
                Err(trap)
            }
        }
    }
}

/// Defines the `host` import in `linker`, answered by each store's [`InstanceFunctions`].
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> &mut InstanceFunctions,
) -> wasmtime::Result<()> {
    bindings::luasocket::socket::host::add_to_linker::<
        T,
        wasmtime::component::HasSelf<InstanceFunctions>,
    >(linker, get)
}
