//! `luasocket:socket/lua`: the one-shot runner, plugin states, and values crossing
//! between Lua and WIT as flattened graphs.

use std::mem::ManuallyDrop;

use mlua::{Lua, MultiValue, ffi};
use wasip2::io::poll::Pollable;

use super::Component;
use crate::exports::luasocket::socket::lua::{
    Completion, Evaluation, Failure, Guest, GuestState, Invocation, State, Value,
};
use crate::interactive;
use crate::lua::graph::{self, PushError};
use crate::runner::{self, Session};

impl Guest for Component {
    type State = StateResource;

    fn run(inv: Invocation) -> Result<Completion, Failure> {
        completion(runner::run(invocation(inv)))
    }

    fn new_state() -> Result<State, Failure> {
        let session = Session::new().map_err(failure)?;
        // The command line's `eval` reads stdin through it; a plugin's calls, which no
        // interrupt watches, read as before.
        interactive::stdin::install(session.lua());
        Ok(State::new(StateResource(session)))
    }
}

fn invocation(inv: Invocation) -> runner::Invocation {
    runner::Invocation {
        chunk_name: inv.chunk_name,
        source: inv.source,
        args: inv.args,
        arg_table: inv.arg_table,
    }
}

fn completion(c: Result<runner::Completion, runner::Failure>) -> Result<Completion, Failure> {
    match c {
        Ok(runner::Completion::Returned(values)) => Ok(Completion::Returned(values)),
        Ok(runner::Completion::Exited(code)) => Ok(Completion::Exited(code)),
        Err(f) => Err(failure(f)),
    }
}

fn failure(f: runner::Failure) -> Failure {
    match f {
        runner::Failure::Syntax(m) => Failure::Syntax(m),
        runner::Failure::Runtime(m) => Failure::Runtime(m),
        runner::Failure::OutOfMemory(m) => Failure::OutOfMemory(m),
        runner::Failure::Exited(code) => Failure::Exited(code),
    }
}

pub struct StateResource(Session);

impl GuestState for StateResource {
    fn load(&self, chunk_name: String, source: Vec<u8>) -> Result<Vec<Value>, Failure> {
        let results = self.0.load(chunk_name, &source).map_err(failure)?;
        let values = to_wit(self.0.lua(), results);
        runner::flush_stdio();
        values
    }

    fn call(&self, name: String, args: Vec<Value>) -> Result<Vec<Value>, Failure> {
        let lua = self.0.lua();
        let args = from_wit(lua, &args)?;
        let results = self.0.call(&name, args).map_err(failure)?;
        let values = to_wit(lua, results);
        runner::flush_stdio();
        values
    }

    fn exec(&self, inv: Invocation) -> Result<Completion, Failure> {
        completion(self.0.exec(invocation(inv)))
    }

    fn eval(&self, source: Vec<u8>, interrupt: &Pollable) -> Result<Evaluation, Failure> {
        let handle = interrupt.handle();
        let interrupted = move || {
            // SAFETY: the pollable is borrowed for this whole call, and the check is only
            // made during it; ManuallyDrop keeps the borrowed handle from being dropped.
            let pollable = ManuallyDrop::new(unsafe { Pollable::from_handle(handle) });
            pollable.ready()
        };
        let hurry = interactive::interrupt::hurry;
        let evaluation =
            crate::net::poll::interruptible(interrupt, hurry, || self.0.eval(&source, interrupted));
        match evaluation.map_err(failure)? {
            interactive::Evaluation::Done => Ok(Evaluation::Done),
            interactive::Evaluation::Incomplete => Ok(Evaluation::Incomplete),
        }
    }
}

fn to_wit(lua: &Lua, values: MultiValue) -> Result<Vec<Value>, Failure> {
    let mut graphs = Ok(Vec::new());
    // SAFETY: the values are the protected function's arguments, 1..=top; reading them
    // neither raises nor leaves anything, so nothing is returned.
    let done = unsafe {
        lua.exec_raw::<()>(values, |state| {
            graphs = graph::read(state, 1, ffi::lua_gettop(state));
            ffi::lua_settop(state, 0);
        })
    };
    done.map_err(|e| Failure::Runtime(e.to_string()))?;
    graphs.map_err(|e| Failure::Runtime(e.reason))
}

/// Rebuilds Lua values from graphs; a malformed graph is an error, not a trap.
fn from_wit(lua: &Lua, values: &[Value]) -> Result<MultiValue, Failure> {
    let mut pushed = Ok(0);
    // SAFETY: the function pushes the values and returns them, or pushes nothing.
    let values = unsafe {
        lua.exec_raw::<MultiValue>((), |state| {
            pushed = graph::push(state, values);
        })
    };
    match pushed {
        Ok(_) => values.map_err(|e| Failure::Runtime(e.to_string())),
        Err(PushError::Memory) => Err(Failure::OutOfMemory(PushError::Memory.to_string())),
        Err(e) => Err(Failure::Runtime(e.to_string())),
    }
}
