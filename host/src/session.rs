//! A Lua state that runs a command line's steps in order and then, for an interactive
//! session, one piece of typed input after another: what the CLI's `lua`-like behaviour
//! (`-l`, `-e`, the script, `-i`) lives in. Each step and each input is a call under the
//! sandbox's limits, as a plugin call is.
//!
//! Ctrl-C reaches a running input through [`Interrupt`]: the component is handed a
//! pollable that becomes ready when it is triggered, looks at it every few thousand Lua
//! instructions and in every wait (a read of `io.stdin` included), and stops the input
//! with `"interrupted!"`, keeping its state. A read of stdin given up so takes nothing
//! from a `Sandbox::stdin_shared` stdin: the next line typed is the loop's. A trap would end the instance (wasmtime refuses to enter a store that trapped),
//! so the host only takes the call away when the component did not stop within [`GRACE`]:
//! code under a hook of its own, or blocked where the socket core does not wait (a name
//! lookup, a UDP send).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Resource, ResourceAny};

use crate::bindings::exports::luasocket::socket::lua::{Evaluation, Invocation};
use crate::instance::{CallError, Instance, Outcome};
use crate::limits::within;

/// How long an interrupted input may take to stop on its own before the host takes the
/// call away (and with it the instance).
pub const GRACE: Duration = Duration::from_secs(1);

/// How often a triggered interrupt is looked for while waiting for it.
const LOOK: Duration = Duration::from_millis(10);

/// A flag that Ctrl-C (or anything else) sets to interrupt the running input. Clones
/// share the flag; `signal_hook::flag::register` can set it from a signal handler.
#[derive(Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Clears the flag: an interrupt that came after an input ended is not for the next.
    pub fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// The flag itself, for `signal_hook::flag::register`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }

    /// Resolves once the interrupt has been triggered and `grace` has passed since.
    async fn unheeded(&self, grace: Duration) {
        while !self.is_triggered() {
            tokio::time::sleep(LOOK).await;
        }
        tokio::time::sleep(grace).await;
    }
}

/// The pollable the component watches: ready once the interrupt is triggered.
struct InterruptPollable(Interrupt);

impl wasmtime_wasi::p2::Pollable for InterruptPollable {
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        let interrupt = self.0.clone();
        Box::pin(async move {
            while !interrupt.is_triggered() {
                tokio::time::sleep(LOOK).await;
            }
        })
    }
}

/// One Lua state in its own instance, taking command-line steps and typed input.
pub struct Session {
    instance: Instance,
    state: ResourceAny,
}

impl Session {
    /// A fresh state in `instance`.
    pub async fn open(mut instance: Instance) -> Result<Session, CallError> {
        let state = guarded!(&mut instance, |store, lua| lua.call_new_state(store))?
            .map_err(CallError::Failed)?;
        Ok(Session { instance, state })
    }

    /// Runs one step (a chunk with its arguments, optionally setting `arg`) in the state.
    pub async fn exec(&mut self, invocation: &Invocation) -> Outcome {
        let state = self.state;
        let result = guarded!(&mut self.instance, |store, lua| lua
            .state()
            .call_exec(store, state, invocation));
        self.instance.outcome(result)
    }

    /// Evaluates typed input (see the WIT's `eval`), interruptible through `interrupt`.
    /// An interrupt the component does not heed within [`GRACE`] ends the call, and with
    /// it the instance: [`CallError::Interrupted`].
    pub async fn eval(
        &mut self,
        source: &[u8],
        interrupt: &Interrupt,
    ) -> Result<Evaluation, CallError> {
        let state = self.state;
        let pollable = self
            .instance
            .store
            .data_mut()
            .push_pollable(InterruptPollable(interrupt.clone()))
            .map_err(|e| CallError::Trapped(format!("cannot make the interrupt: {e}")))?;
        let borrowed = Resource::new_borrow(pollable.rep());
        let result = guarded!(&mut self.instance, |store, lua| async {
            let methods = lua.state();
            tokio::select! {
                r = methods.call_eval(store, state, source, borrowed) => r.map(Some),
                () = interrupt.unheeded(GRACE) => Ok(None),
            }
        });
        if !self.instance.unusable {
            self.instance.store.data_mut().drop_pollable(pollable);
        }
        match result? {
            Some(evaluation) => evaluation.map_err(CallError::Failed),
            None => {
                self.instance.unusable = true;
                Err(CallError::Interrupted(GRACE))
            }
        }
    }

    pub fn instance(&mut self) -> &mut Instance {
        &mut self.instance
    }
}
