//! The `luasocket-wasi` command: the `lua` interpreter, sandboxed.
//!
//!   luasocket-wasi [run] [options] [script.lua [args...]]
//!   luasocket-wasi serve [options] app.lua      (cli/serve.rs)
//!   luasocket-wasi build app.lua -o app.wasm    (cli/build.rs)
//!
//! Options are `lua`'s (`-e`, `-l`, `-i`, `-v`, `-E`, `-W`, `--`, `-`) and the sandbox's.
//! With no script and no `-e`, a terminal on stdin gets the read-eval-print loop
//! (`cli/repl.rs`), anything else is read as the script, as `lua` does it.

#![deny(clippy::undocumented_unsafe_blocks)]

#[path = "cli/args.rs"]
mod args;
#[path = "cli/build.rs"]
mod build;
#[path = "cli/repl.rs"]
mod repl;
#[path = "cli/serve.rs"]
mod serve;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use luasocket_wasi_host::runtime::package_path;
use luasocket_wasi_host::sockets::SocketsImpl;
use luasocket_wasi_host::{Failure, Invocation, Session};
use luasocket_wasi_host::{
    Interruption, Limit, Outcome, Preopen, Runtime, RuntimeOptions, Sandbox,
};

use args::{Command, Script, Step};

const USAGE: &str = "\
usage: luasocket-wasi [run] [options] [script.lua [args...]]
       luasocket-wasi serve [--listen IP:PORT] [--modules DIR] [sandbox options] app.lua
       luasocket-wasi build app.lua [--modules DIR] -o app.wasm

Runs Lua 5.4 with LuaSocket inside a WebAssembly sandbox, taking what lua5.4 takes.
With no script and no -e, a terminal on stdin starts the interactive loop, and anything
else on stdin is run as the script. Values returned by an -e chunk are printed.

Lua's options:
  -e CHUNK              run CHUNK (several may be given; they run in order)
  -l MOD, -l G=MOD      require MOD into the global MOD (or G)
  -i                    the interactive loop after the script (implies -v)
  -v, --version         print the version
  -E                    read no LUA_* variable, even with --lua-env
  -W                    turn warnings on
  --                    stop handling options (the next argument is the script)
  -                     stop handling options, and run stdin as the script

The sandbox's options (nothing is reachable unless given):
  --allow-net[=LIST]    network access, denied by default. LIST is comma-separated
                        HOST[:PORT[-PORT]] rules: an IP (IPv6 in brackets), a CIDR
                        (10.0.0.0/8), a name (example.org: may be looked up, and its
                        addresses reached), or * for any host. No LIST: everything.
  --dir HOST[::GUEST][:ro]
                        make a host directory visible as GUEST (default: the same path),
                        read-write, or read-only with :ro; require finds Lua modules in it
  --rocks-tree DIR      a LuaRocks tree (luarocks --tree DIR), read-only, with its
                        share/lua/5.4 on package.path (C modules cannot load)
  --tmpdir DIR          DIR, read-write, as /tmp: os.tmpname and io.tmpfile work there
  --env NAME[=VALUE]    set NAME for os.getenv (no VALUE: the host's value of NAME)
  --lua-env             take LUA_INIT, LUA_PATH and LUA_CPATH (or their _5_4 forms)
                        from the host's environment; without it, none is read
  --timeout SECS        stop after SECS of wall-clock time, blocked in I/O or not
  --cpu-limit SECS      stop after SECS spent running Lua (10 ms granularity)
  --max-memory MB       cap the instance's memory; Lua errors with \"not enough memory\"
  --max-sockets N       sockets the script may hold at once (default 16384; 0: no
                        limit); past it, creating or accepting one fails with
                        \"too many open files\"
  -h, --help            print this help
Limits apply to each step (LUA_INIT, each -l and -e, the script) and to each input of
the interactive loop.

serve: app.lua is a WSAPI application (run(wsapi_env) -> status, headers, body
iterator) answering HTTP requests on --listen (default 127.0.0.1:8080), each in a fresh
instance under the sandbox's options. require finds the .lua files under each --modules
DIR (DIR/lib/x.lua is lib.x); they and the app are read once, at start.

build: app.lua and its --modules packed into app.wasm, a component that any wasi:http
host serves as it is (wasmtime serve app.wasm): it imports only wasi:http/proxy, and
raw sockets, files and the environment answer as in a sandbox granting nothing.

exit status: the script's os.exit(n) status (n's low 8 bits, as the OS keeps them); 0 when
it ends normally, and for --help and --version; 1 when it raises an error (or calls
os.exit(false)); 2 for bad usage (including an argument that is not UTF-8 where a string
is needed, and a --dir that is not a directory) or a script that cannot be read; 3 when the
host fails; 121 handle limit; 122 memory limit; 123 CPU limit; 124 wall-clock limit;
125 the instance trapped. A limit that fires says so on stderr; a script's own os.exit
with those codes prints nothing.";

/// Exit statuses other than the script's own.
mod status {
    pub const SCRIPT_ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const HOST_ERROR: u8 = 3;
    pub const HANDLE_LIMIT: u8 = 121;
    pub const MEMORY_LIMIT: u8 = 122;
    pub const CPU_LIMIT: u8 = 123;
    pub const WALL_CLOCK_LIMIT: u8 = 124;
    pub const TRAP: u8 = 125;
}

const VERSION: &str = concat!(
    "luasocket-wasi ",
    env!("CARGO_PKG_VERSION"),
    " (Lua 5.4, LuaSocket 3.1.0)"
);

/// The chunk name `lua` gives `-e`, `-l` and `-W` steps.
const COMMAND_LINE: &str = "=(command line)";

fn main() -> ExitCode {
    backtrace_policy();
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "build") {
        return build::build(&argv[2..]);
    }
    let cmd = match args::parse(&argv) {
        Ok(cmd) => cmd,
        Err(e) => return fail(status::USAGE, &format!("{e}\n{USAGE}")),
    };
    if cmd.help {
        print_line(USAGE);
        return ExitCode::SUCCESS;
    }
    if cmd.serve.is_some() {
        return serve::serve(cmd);
    }
    match Plan::new(cmd) {
        Ok(plan) => plan.carry_out(),
        Err(e) => fail(status::USAGE, &e),
    }
}

/// Host errors are wasmtime's, which capture a backtrace when `RUST_BACKTRACE` (or
/// `RUST_LIB_BACKTRACE`) asks, and the host makes them on ordinary paths: every stream
/// that reaches its end, every socket call that would block. A developer's
/// `RUST_BACKTRACE=1` made a small-request HTTP client markedly slower. The CLI never
/// shows those backtraces, so it switches capture off for errors; `RUST_LIB_BACKTRACE`
/// takes precedence for them and leaves panics' backtraces as `RUST_BACKTRACE` says. A
/// `RUST_LIB_BACKTRACE` the user set is theirs and kept.
fn backtrace_policy() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the first thing main does, before there is any other thread to read
        // the environment concurrently.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
}

/// A parsed command line turned into what is run: every step's source read, the
/// sandbox's environment made.
struct Plan {
    sandbox: Sandbox,
    /// In order: LUA_INIT, then `-e`/`-l`/`-W`, then the script.
    steps: Vec<Planned>,
    interactive: bool,
    /// The version line first (`-v`, `-i`, or the loop without a script).
    banner: bool,
}

struct Planned {
    invocation: Invocation,
    /// `-e` chunks' values are printed.
    print_results: bool,
}

impl Plan {
    fn new(mut cmd: Command) -> Result<Plan, String> {
        let nothing_to_run = cmd.script.is_none()
            && !cmd.steps.iter().any(|s| matches!(s, Step::Exec(_)))
            && !cmd.version;
        // As lua.c: no script, no -e and no -v: the loop on a terminal, else stdin.
        let terminal = std::io::stdin().is_terminal();
        if nothing_to_run && !cmd.interactive && !terminal {
            cmd.script = Some(Script::Stdin);
        }
        let interactive = cmd.interactive || (nothing_to_run && terminal);
        let lua_env = LuaEnv::read(cmd.lua_env && !cmd.ignore_env)?;
        let mut steps = Vec::new();
        if let Some(init) = &lua_env.init {
            steps.push(init_step(init)?);
        }
        for step in &cmd.steps {
            steps.push(command_line_step(step));
        }
        if let Some(script) = &cmd.script {
            let (chunk_name, source) = read_script(script)?;
            steps.push(Planned {
                invocation: Invocation {
                    chunk_name,
                    source,
                    args: std::mem::take(&mut cmd.script_args),
                    arg_table: Vec::new(),
                },
                print_results: false,
            });
        }
        // lua.c creates `arg` before anything runs, so the loop has it even with nothing
        // else to do: an empty step carries it there.
        if steps.is_empty() && interactive {
            steps.push(Planned {
                invocation: chunk(COMMAND_LINE.into(), Vec::new(), Vec::new()),
                print_results: false,
            });
        }
        // `arg` is set once, before the first step, as lua.c creates it.
        if let Some(first) = steps.first_mut() {
            first.invocation.arg_table = cmd.arg_table.clone();
        }
        let stdin_is_the_script = cmd.script == Some(Script::Stdin);
        let banner = cmd.version || interactive;
        let mut sandbox = sandbox(cmd, &lua_env, stdin_is_the_script);
        // The loop's line editor reads the terminal too: the guest's reads must not read
        // ahead of it, nor go on after Ctrl-C gave them up.
        sandbox.stdin_shared = interactive;
        Ok(Plan {
            sandbox,
            steps,
            interactive,
            banner,
        })
    }

    fn carry_out(self) -> ExitCode {
        if self.banner {
            print_line(VERSION);
        }
        if self.steps.is_empty() && !self.interactive {
            return ExitCode::SUCCESS;
        }
        luasocket_wasi_host::runtime::raise_descriptor_limit();
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return fail(status::HOST_ERROR, &e.to_string()),
        };
        let code = self.run(&rt);
        // Dropping the runtime would wait for its blocking threads, and a file operation
        // can outlast the run on one (a slow disk, a file swapped for a FIFO under us): a
        // limit that fired must end the process, not wait for the host.
        rt.shutdown_background();
        code
    }

    /// The steps, then the loop if asked for (outside `block_on`: it blocks on each input).
    fn run(&self, rt: &tokio::runtime::Runtime) -> ExitCode {
        // LUASOCKET_WASI_SOCKETS=wasmtime runs on wasmtime-wasi's sockets instead of the
        // host's own, so the benchmarks can compare the two.
        // Epoch checks only where something needs them: the loop's Ctrl-C, a CPU or
        // wall-clock limit. Everything else runs the faster code without them.
        let interruption = if self.interactive || self.sandbox.limits.need_interruption() {
            Interruption::Enabled
        } else {
            Interruption::Disabled
        };
        let runtime = Runtime::with_options(RuntimeOptions {
            cache_dir: luasocket_wasi_host::cache::default_dir(),
            sockets: SocketsImpl::from_env(),
            interruption,
            ..RuntimeOptions::default()
        });
        let runtime = match runtime {
            Ok(r) => r,
            Err(e) => return fail(status::HOST_ERROR, &format!("{e:?}")),
        };
        let session = match rt.block_on(self.run_steps(&runtime)) {
            Ok(session) => session,
            Err(code) => return code,
        };
        if !self.interactive {
            // The process ends now: freeing the compiled code's tables piece by piece
            // (800k instructions) is work the exit does at once.
            std::mem::forget(runtime);
            return ExitCode::SUCCESS;
        }
        repl::Loop::new(rt, &runtime, &self.sandbox, session).run()
    }

    async fn run_steps(&self, runtime: &Runtime) -> Result<Session, ExitCode> {
        let mut session = runtime
            .open_session(&self.sandbox)
            .await
            .map_err(|e| fail(status::HOST_ERROR, &e.to_string()))?;
        for step in &self.steps {
            run_step(&mut session, step).await?;
        }
        Ok(session)
    }
}

async fn run_step(session: &mut Session, step: &Planned) -> Result<(), ExitCode> {
    match session.exec(&step.invocation).await {
        Outcome::Returned(values) => {
            if step.print_results && !values.is_empty() {
                print_line(&values.join("\t"));
            }
            Ok(())
        }
        other => Err(report(other)),
    }
}

/// The `LUA_*` variables `lua` reads, when `--lua-env` asks for them; the `_5_4` forms
/// first, as lua.c looks for them.
#[derive(Default)]
struct LuaEnv {
    init: Option<(String, String)>,
    path: Option<String>,
    cpath: Option<String>,
}

impl LuaEnv {
    fn read(wanted: bool) -> Result<LuaEnv, String> {
        if !wanted {
            return Ok(LuaEnv::default());
        }
        Ok(LuaEnv {
            init: lua_variable("LUA_INIT")?,
            path: lua_variable("LUA_PATH")?.map(|(_, v)| v),
            cpath: lua_variable("LUA_CPATH")?.map(|(_, v)| v),
        })
    }
}

/// `NAME_5_4`, else `NAME`: which was found, and its value.
fn lua_variable(name: &str) -> Result<Option<(String, String)>, String> {
    for name in [format!("{name}_5_4"), name.to_owned()] {
        if let Some(value) = std::env::var_os(&name) {
            let value = value
                .into_string()
                .map_err(|v| format!("{name} is not valid UTF-8: '{}'", v.to_string_lossy()))?;
            return Ok(Some((name, value)));
        }
    }
    Ok(None)
}

/// lua.c's `handle_luainit`: `@file` runs a file (read here, as scripts are), anything
/// else is a chunk named after the variable.
fn init_step((name, value): &(String, String)) -> Result<Planned, String> {
    let (chunk_name, source) = match value.strip_prefix('@') {
        Some(file) => read_script(&Script::File(file.into()))?,
        None => (format!("={name}"), value.as_bytes().to_vec()),
    };
    Ok(Planned {
        invocation: chunk(chunk_name, source, Vec::new()),
        print_results: false,
    })
}

fn chunk(chunk_name: String, source: Vec<u8>, args: Vec<String>) -> Invocation {
    Invocation {
        chunk_name,
        source,
        args,
        arg_table: Vec::new(),
    }
}

/// A `-e`, `-l` or `-W` as a chunk: what lua.c's `runargs` does, in Lua.
fn command_line_step(step: &Step) -> Planned {
    let (source, args, print_results) = match step {
        Step::Exec(source) => (source.clone(), Vec::new(), true),
        // lua.c's `dolibrary`: the first value `require` returns, set as a global.
        Step::Require { global, module } => (
            b"local global, module = ...\n_ENV[global] = require(module)".to_vec(),
            vec![global.clone(), module.clone()],
            false,
        ),
        Step::Warnings => (b"warn('@on')".to_vec(), Vec::new(), false),
    };
    Planned {
        invocation: chunk(COMMAND_LINE.into(), source, args),
        print_results,
    }
}

/// The script's chunk name and source; the guest reads it as `lua` reads a script file
/// (a first line starting with `#` skipped) because of its name.
fn read_script(script: &Script) -> Result<(String, Vec<u8>), String> {
    let (name, source) = match script {
        Script::Stdin => {
            let mut source = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut source)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            ("=stdin".to_owned(), source)
        }
        Script::File(path) => {
            let shown = path.display();
            let source = std::fs::read(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
            (format!("@{shown}"), source)
        }
    };
    Ok((name, source))
}

/// The sandbox the command line describes: its preopens, with `package.path` and
/// `package.cpath` over them, and the guest's environment.
fn sandbox(cmd: Command, lua_env: &LuaEnv, stdin_is_the_script: bool) -> Sandbox {
    let mut sandbox = cmd.sandbox;
    let trees: Vec<&Path> = cmd.rocks_trees.iter().map(|t| t.as_path()).collect();
    let mut path = package_path(&sandbox.dirs);
    let mut cpath = String::new();
    for tree in &trees {
        let t = tree.display();
        path.push_str(&format!(
            "{t}/share/lua/5.4/?.lua;{t}/share/lua/5.4/?/init.lua;"
        ));
        // Looked along only to say that a C module cannot load.
        cpath.push_str(&format!("{t}/lib/lua/5.4/?.so;"));
    }
    // Always set, so that the directories added below (rocks trees, the temporary one)
    // do not get on it. What follows is the user's LUA_PATH, whose `;;` is Lua's defaults,
    // or those.
    // (`path` ends in `;` when not empty, so one more makes the `;;`.)
    let defaults = if path.is_empty() { ";;" } else { ";" };
    path.push_str(lua_env.path.as_deref().unwrap_or(defaults));
    sandbox.env.push(("LUA_PATH".into(), path));
    if !cpath.is_empty() || lua_env.cpath.is_some() {
        let defaults = if cpath.is_empty() { ";;" } else { ";" };
        cpath.push_str(lua_env.cpath.as_deref().unwrap_or(defaults));
        sandbox.env.push(("LUA_CPATH".into(), cpath));
    }
    for tree in trees {
        sandbox.dirs.push(Preopen {
            host: tree.to_owned(),
            guest: tree.display().to_string(),
            writable: false,
        });
    }
    if let Some(tmp) = cmd.tmpdir {
        sandbox.dirs.push(tmp);
        sandbox
            .env
            .push(("TMPDIR".into(), args::GUEST_TMPDIR.to_owned()));
    }
    sandbox.inherit_stdin = !stdin_is_the_script;
    // Reported while the script runs, on its thread: never waits for a stderr nobody reads.
    sandbox.net = std::mem::take(&mut sandbox.net).on_denied(Arc::new(|denial| {
        say(
            &format!("denied {denial} (not allowed by --allow-net)"),
            Duration::ZERO,
        );
    }));
    sandbox
}

/// A line on stdout. A reader that went away (`luasocket-wasi --help | head -1`) is not
/// an error, as it is not for `lua`: `println!` would panic there.
fn print_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// The exit status for a step that did not return, saying why where a limit fired.
fn report(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Returned(_) => ExitCode::SUCCESS,
        Outcome::Failed(Failure::Syntax(m) | Failure::Runtime(m)) => fail(status::SCRIPT_ERROR, &m),
        Outcome::Failed(Failure::OutOfMemory(m)) => fail(
            status::MEMORY_LIMIT,
            &format!("{m} (Lua ran out of memory)"),
        ),
        // Silent, whatever the code: only a limit that fired says so.
        Outcome::Failed(Failure::Exited(code)) | Outcome::Exited(code) => exit_status(code),
        Outcome::Limit(limit) => fail(limit_status(limit), &describe_limit(limit)),
        Outcome::Trapped(m) => fail(status::TRAP, &format!("the instance trapped: {m}")),
    }
}

fn limit_status(limit: Limit) -> u8 {
    match limit {
        Limit::WallClock(_) => status::WALL_CLOCK_LIMIT,
        Limit::Cpu(_) => status::CPU_LIMIT,
        Limit::Memory(_) => status::MEMORY_LIMIT,
        Limit::Handles(_) => status::HANDLE_LIMIT,
    }
}

fn describe_limit(limit: Limit) -> String {
    match limit {
        Limit::WallClock(d) => format!(
            "wall-clock limit reached: the script ran for {} s (--timeout)",
            secs(d)
        ),
        Limit::Cpu(d) => format!(
            "CPU limit reached: the script computed for {} s (--cpu-limit)",
            secs(d)
        ),
        Limit::Memory(bytes) => format!(
            "memory limit reached: not enough memory within {} MB (--max-memory)",
            bytes >> 20
        ),
        Limit::Handles(n) => {
            format!("handle limit reached: the script held {n} host handles (--max-sockets)")
        }
    }
}

/// What the OS makes of `exit(code)`: its low 8 bits (so 256 is 0 and -1 is 255, as for
/// `lua`).
fn exit_status(code: i32) -> ExitCode {
    ExitCode::from(code.to_le_bytes()[0])
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    say(message, MESSAGE_PATIENCE);
    ExitCode::from(code)
}

/// How long a last message may wait for a stderr pipe that is full (a script that filled
/// it and was stopped by a limit): the CLI must end all the same.
const MESSAGE_PATIENCE: Duration = Duration::from_secs(1);

fn say(message: &str, patience: Duration) {
    let line = format!("luasocket-wasi: {message}\n");
    luasocket_wasi_host::stdio::write_stderr(line.as_bytes(), patience);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(step: &Step) -> (Vec<u8>, Vec<String>, bool) {
        let p = command_line_step(step);
        (p.invocation.source, p.invocation.args, p.print_results)
    }

    #[test]
    fn command_line_steps_are_chunks() {
        let (source, args, print) = planned(&Step::Exec(b"return 1".to_vec()));
        assert_eq!(
            (source.as_slice(), args.len(), print),
            (&b"return 1"[..], 0, true)
        );
        let (_, args, print) = planned(&Step::Require {
            global: "g".into(),
            module: "m".into(),
        });
        assert_eq!((args, print), (vec!["g".to_owned(), "m".to_owned()], false));
        assert_eq!(planned(&Step::Warnings).0, b"warn('@on')");
    }
}
