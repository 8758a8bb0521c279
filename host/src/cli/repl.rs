//! The interactive loop, as `lua` has it (lua.c's `doREPL`): a prompt (`> `, then `>> `
//! while a statement goes on), values printed, errors shown and the loop carried on,
//! Ctrl-D to end.
//!
//! The line editor lives here, in the host, because it needs the terminal; the Lua state
//! lives in the component, and each complete input is one `eval` call into it, under the
//! sandbox's limits. Ctrl-C at the prompt drops what was typed (the editor sees it as a
//! key); while an input runs, the terminal is the system's again, Ctrl-C is SIGINT, and it
//! interrupts that input (see `luasocket_wasi_host::session`). When the instance is lost
//! (a limit, a trap, an interrupt the input did not heed), the loop says so and goes on
//! in a fresh one.

use std::process::ExitCode;

use luasocket_wasi_host::bindings::exports::luasocket::socket::lua::Evaluation;
use luasocket_wasi_host::{CallError, Failure, Interrupt, Runtime, Sandbox, Session};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::{describe_limit, exit_status, fail, say, status};

const PROMPT: &str = "> ";
const CONTINUED: &str = ">> ";

pub struct Loop<'a> {
    rt: &'a tokio::runtime::Runtime,
    runtime: &'a Runtime,
    sandbox: &'a Sandbox,
    session: Session,
    interrupt: Interrupt,
}

/// What one read from the editor gave.
enum Read {
    /// A complete input ran (or failed, and said so): read the next.
    Next,
    /// The input goes on: keep it and read a continuation line.
    More,
    /// The loop is over with this status.
    End(ExitCode),
}

impl<'a> Loop<'a> {
    pub fn new(
        rt: &'a tokio::runtime::Runtime,
        runtime: &'a Runtime,
        sandbox: &'a Sandbox,
        session: Session,
    ) -> Loop<'a> {
        Loop {
            rt,
            runtime,
            sandbox,
            session,
            interrupt: Interrupt::default(),
        }
    }

    /// Runs until Ctrl-D, `os.exit`, or a failing terminal.
    pub fn run(mut self) -> ExitCode {
        if let Err(e) =
            signal_hook::flag::register(signal_hook::consts::SIGINT, self.interrupt.flag())
        {
            return fail(status::HOST_ERROR, &format!("cannot watch for Ctrl-C: {e}"));
        }
        let mut editor = match DefaultEditor::new() {
            Ok(e) => e,
            Err(e) => return fail(status::HOST_ERROR, &format!("cannot use the terminal: {e}")),
        };
        let mut input = String::new();
        loop {
            let prompt = if input.is_empty() { PROMPT } else { CONTINUED };
            let line = match editor.readline(prompt) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => {
                    input.clear();
                    continue;
                }
                Err(ReadlineError::Eof) => {
                    // lua.c ends the loop with a newline, leaving the shell's prompt alone.
                    println!();
                    return ExitCode::SUCCESS;
                }
                Err(e) => {
                    return fail(
                        status::HOST_ERROR,
                        &format!("cannot read the terminal: {e}"),
                    );
                }
            };
            if !input.is_empty() {
                input.push('\n');
            }
            input.push_str(&line);
            match self.eval(&input) {
                Read::More => continue,
                Read::Next => {
                    // Every complete input is remembered, failed or not, as lua.c does.
                    let _ = editor.add_history_entry(input.as_str());
                    input.clear();
                }
                Read::End(code) => return code,
            }
        }
    }

    fn eval(&mut self, input: &str) -> Read {
        // A Ctrl-C that came between inputs is not for this one.
        self.interrupt.clear();
        let result = self
            .rt
            .block_on(self.session.eval(input.as_bytes(), &self.interrupt));
        match result {
            Ok(Evaluation::Done) => Read::Next,
            Ok(Evaluation::Incomplete) => Read::More,
            Err(CallError::Failed(Failure::Exited(code))) => Read::End(exit_status(code)),
            Err(CallError::Failed(
                Failure::Syntax(m) | Failure::Runtime(m) | Failure::OutOfMemory(m),
            )) => {
                // lua.c's loop shows errors without the program's name.
                show(&m);
                Read::Next
            }
            Err(lost) => self.start_over(&lost),
        }
    }

    /// The instance is gone: says why, and carries on in a fresh one.
    fn start_over(&mut self, why: &CallError) -> Read {
        let reason = match why {
            CallError::Limit(limit) => describe_limit(*limit),
            other => other.to_string(),
        };
        say(
            &format!("{reason}; the Lua state is lost, going on with a fresh one"),
            crate::MESSAGE_PATIENCE,
        );
        match self.rt.block_on(self.runtime.open_session(self.sandbox)) {
            Ok(session) => {
                self.session = session;
                Read::Next
            }
            Err(e) => Read::End(fail(status::HOST_ERROR, &e.to_string())),
        }
    }
}

fn show(message: &str) {
    let line = format!("{message}\n");
    luasocket_wasi_host::stdio::write_stderr(line.as_bytes(), crate::MESSAGE_PATIENCE);
}
