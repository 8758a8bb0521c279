//! `luasocket:socket/lua`: the one-shot runner, plugin states, and values crossing
//! between Lua and WIT as flattened graphs.

use mlua::{Lua, MultiValue};
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
        // Asked only during `interruptible`, which watches `interrupt` for this call.
        let interrupted = crate::watch::is_ready;
        let hurry = interactive::interrupt::hurry;
        let evaluation =
            crate::watch::interruptible(interrupt, hurry, || self.0.eval(&source, interrupted));
        match evaluation.map_err(failure)? {
            interactive::Evaluation::Done => Ok(Evaluation::Done),
            interactive::Evaluation::Incomplete => Ok(Evaluation::Incomplete),
        }
    }
}

fn to_wit(lua: &Lua, values: MultiValue) -> Result<Vec<Value>, Failure> {
    graph::read_values(lua, values).map_err(|e| Failure::Runtime(e.reason))
}

fn from_wit(lua: &Lua, values: &[Value]) -> Result<MultiValue, Failure> {
    graph::push_values(lua, values).map_err(|e| match e {
        PushError::Memory => Failure::OutOfMemory(e.to_string()),
        e => Failure::Runtime(e.to_string()),
    })
}
