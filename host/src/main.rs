//! The `luasocket-wasi` command: the `lua` interpreter, sandboxed.
//!
//!   luasocket-wasi [run] [options] script.lua [args...]
//!   luasocket-wasi [options] -e 'chunk' [args...]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use luasocket_wasi_host::policy::NetPolicy;
use luasocket_wasi_host::sockets::SocketsImpl;
use luasocket_wasi_host::{Failure, Invocation};
use luasocket_wasi_host::{Limit, Outcome, Preopen, Runtime, RuntimeOptions, Sandbox};

const USAGE: &str = "\
usage: luasocket-wasi [run] [options] script.lua [args...]
       luasocket-wasi [options] -e 'chunk' [args...]

Runs Lua 5.4 with LuaSocket inside a WebAssembly sandbox. `-` reads the script from stdin.
Values returned by an -e chunk are printed.

options:
  --allow-net[=LIST]    network access, denied by default. LIST is comma-separated
                        HOST[:PORT[-PORT]] rules: an IP (IPv6 in brackets), a CIDR
                        (10.0.0.0/8), a name (example.org: may be looked up, and its
                        addresses reached), or * for any host. No LIST: everything.
  --dir HOST[::GUEST]   make a host directory visible as GUEST (default: the same path),
                        read-write; Lua modules in it are found by require.
  --timeout SECS        stop after SECS of wall-clock time, blocked in I/O or not
  --cpu-limit SECS      stop after SECS spent running Lua (10 ms granularity)
  --max-memory MB       cap the instance's memory; Lua errors with \"not enough memory\"
  --max-sockets N       sockets the script may hold at once (default 16384; 0: no
                        limit); past it, creating or accepting one fails with
                        \"too many open files\"
  -e CHUNK              run CHUNK instead of a script
  -v, --version         print the version
  -h, --help            print this help

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

/// What the command line asks for.
#[derive(Debug, Default)]
struct Command {
    sandbox: Sandbox,
    /// Lua chunk from -e, or a script.
    chunk: Option<Chunk>,
    /// Arguments after the script, and the whole command line for `arg`.
    script_args: Vec<String>,
    arg_table: Vec<(i32, String)>,
    version: bool,
    help: bool,
}

#[derive(Debug)]
enum Chunk {
    /// Lua source is bytes: an -e chunk goes through as given.
    Inline(Vec<u8>),
    File(PathBuf),
    Stdin,
}

/// Why a command line cannot be run (exit status 2).
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("{0} needs a value")]
    MissingValue(String),
    #[error("unknown option {0}")]
    UnknownOption(String),
    /// What reaches the sandbox as a string (option values, script arguments; the WIT
    /// carries them as `string`) must be UTF-8.
    #[error("{what} is not valid UTF-8: '{shown}'")]
    NotUtf8 { what: String, shown: String },
    #[error("--dir {path}: {reason}")]
    Dir { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

fn lossy(text: &OsStr) -> String {
    text.to_string_lossy().into_owned()
}

fn utf8(what: impl FnOnce() -> String, text: &OsStr) -> Result<&str, UsageError> {
    text.to_str().ok_or_else(|| UsageError::NotUtf8 {
        what: what(),
        shown: lossy(text),
    })
}

/// A long option's `--flag=value`, split at the first `=`.
fn split_inline(arg: &OsStr) -> (&OsStr, Option<&OsStr>) {
    let bytes = arg.as_bytes();
    match bytes.iter().position(|&b| b == b'=') {
        Some(eq) if bytes.starts_with(b"--") => (
            OsStr::from_bytes(&bytes[..eq]),
            Some(OsStr::from_bytes(&bytes[eq + 1..])),
        ),
        _ => (arg, None),
    }
}

fn parse(argv: &[OsString]) -> Result<Command, UsageError> {
    let mut cmd = Command::default();
    let mut i = if argv.get(1).is_some_and(|a| a == "run") {
        2
    } else {
        1
    };
    let mut rules: Option<NetPolicy> = None;
    while i < argv.len() {
        let arg = argv[i].as_os_str();
        let (flag, inline) = split_inline(arg);
        if !flag.as_bytes().starts_with(b"-") {
            cmd.chunk = Some(Chunk::File(arg.into()));
            i += 1;
            break;
        }
        // Options are ASCII: a flag that is not UTF-8 matches none of them.
        let flag = lossy(flag);
        let mut value = || -> Result<&OsStr, UsageError> {
            if let Some(v) = inline {
                return Ok(v);
            }
            i += 1;
            argv.get(i)
                .map(OsString::as_os_str)
                .ok_or_else(|| UsageError::MissingValue(flag.clone()))
        };
        let text = |v: &OsStr| utf8(|| flag.clone(), v).map(str::to_owned);
        match flag.as_str() {
            "-h" | "--help" => cmd.help = true,
            "-v" | "--version" => cmd.version = true,
            "--allow-net" => {
                let policy = match inline {
                    None => NetPolicy::allow_all(),
                    Some(list) => NetPolicy::parse(&text(list)?)
                        .map_err(|e| UsageError::Invalid(e.to_string()))?,
                };
                rules.get_or_insert_with(NetPolicy::deny_all).extend(policy);
            }
            "--dir" => cmd.sandbox.dirs.push(preopen(value()?)?),
            "--timeout" => cmd.sandbox.limits.timeout = Some(seconds(&flag, &text(value()?)?)?),
            "--cpu-limit" => cmd.sandbox.limits.cpu = Some(seconds(&flag, &text(value()?)?)?),
            "--max-memory" => cmd.sandbox.limits.max_memory = Some(megabytes(&text(value()?)?)?),
            "--max-sockets" => cmd.sandbox.limits.max_sockets = count(&flag, &text(value()?)?)?,
            "-e" => {
                cmd.chunk = Some(Chunk::Inline(value()?.as_bytes().to_vec()));
                i += 1;
                break;
            }
            "--" => {
                i += 1;
                if i < argv.len() {
                    cmd.chunk = Some(Chunk::File(argv[i].clone().into()));
                    i += 1;
                }
                break;
            }
            "-" => {
                cmd.chunk = Some(Chunk::Stdin);
                i += 1;
                break;
            }
            _ => return Err(UsageError::UnknownOption(flag)),
        }
        i += 1;
    }
    let first_arg = i.min(argv.len());
    // As lua.c: argv[k] is arg[k - script], script being the script's position in argv,
    // or 0 when there is none (so arg[0] is the interpreter).
    let script = match cmd.chunk {
        Some(Chunk::File(_) | Chunk::Stdin) => first_arg - 1,
        _ => 0,
    };
    cmd.script_args = argv[first_arg..]
        .iter()
        .enumerate()
        .map(|(n, a)| {
            let position = first_arg + n - script;
            utf8(|| format!("script argument arg[{position}]"), a).map(str::to_owned)
        })
        .collect::<Result<_, _>>()?;
    // The script's own arguments are UTF-8 by now; the rest (the interpreter, options, a
    // script path or chunk) only name things, and a replacement character will do.
    cmd.arg_table = argv
        .iter()
        .enumerate()
        .map(|(k, a)| (k as i32 - script as i32, lossy(a)))
        .collect();
    if let Some(policy) = rules {
        cmd.sandbox.net = policy;
    }
    Ok(cmd)
}

/// `HOST[::GUEST]`: the host side is any path; the guest side is a WASI path, a string.
fn preopen(spec: &OsStr) -> Result<Preopen, UsageError> {
    let bytes = spec.as_bytes();
    let (host, guest) = match bytes.windows(2).position(|w| w == b"::") {
        Some(at) => (&bytes[..at], &bytes[at + 2..]),
        None => (bytes, bytes),
    };
    let host = PathBuf::from(OsStr::from_bytes(host));
    let refuse = |reason: String| UsageError::Dir {
        path: host.display().to_string(),
        reason,
    };
    let guest = std::str::from_utf8(guest).map_err(|_| {
        refuse(
            "the guest path is not valid UTF-8 (WASI paths are strings): name one with HOST::GUEST"
                .into(),
        )
    })?;
    match std::fs::metadata(&host) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(refuse("not a directory".into())),
        Err(e) => return Err(refuse(e.to_string())),
    }
    Ok(Preopen {
        host,
        guest: guest.to_owned(),
        writable: true,
    })
}

fn seconds(flag: &str, text: &str) -> Result<Duration, UsageError> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            UsageError::Invalid(format!(
                "{flag} needs a positive number of seconds, not '{text}'"
            ))
        })
}

fn megabytes(text: &str) -> Result<usize, UsageError> {
    text.parse::<usize>()
        .ok()
        .filter(|&mb| mb >= 4)
        .and_then(|mb| mb.checked_mul(1 << 20))
        .ok_or_else(|| {
            UsageError::Invalid(format!(
                "--max-memory needs a whole number of megabytes (at least 4), not '{text}'"
            ))
        })
}

/// A count where 0 means unlimited.
fn count(flag: &str, text: &str) -> Result<Option<usize>, UsageError> {
    let n = text.parse::<usize>().map_err(|_| {
        UsageError::Invalid(format!(
            "{flag} needs a whole number (0: no limit), not '{text}'"
        ))
    })?;
    Ok((n > 0).then_some(n))
}

fn read_chunk(chunk: &Chunk) -> Result<(String, Vec<u8>), String> {
    match chunk {
        Chunk::Inline(code) => Ok(("=(command line)".into(), code.clone())),
        Chunk::Stdin => {
            let mut source = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut source)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(("=stdin".into(), source))
        }
        Chunk::File(path) => {
            let shown = path.display();
            let source = std::fs::read(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
            Ok((format!("@{shown}"), source))
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mut cmd = match parse(&argv) {
        Ok(cmd) => cmd,
        Err(e) => return fail(status::USAGE, &format!("{e}\n{USAGE}")),
    };
    if cmd.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if cmd.version {
        println!(
            "luasocket-wasi {} (Lua 5.4, LuaSocket 3.1.0)",
            env!("CARGO_PKG_VERSION")
        );
        if cmd.chunk.is_none() {
            return ExitCode::SUCCESS;
        }
    }
    let Some(chunk) = cmd.chunk.take() else {
        return fail(status::USAGE, USAGE);
    };
    let (chunk_name, source) = match read_chunk(&chunk) {
        Ok(c) => c,
        Err(e) => return fail(status::USAGE, &e),
    };
    let inline = matches!(chunk, Chunk::Inline(_));
    cmd.sandbox.inherit_stdin = !matches!(chunk, Chunk::Stdin);
    // Reported while the script runs, on its thread: never waits for a stderr nobody reads.
    cmd.sandbox.net = std::mem::take(&mut cmd.sandbox.net).on_denied(Arc::new(|denial| {
        say(
            &format!("denied {denial} (not allowed by --allow-net)"),
            Duration::ZERO,
        );
    }));
    luasocket_wasi_host::runtime::raise_descriptor_limit();
    let invocation = Invocation {
        chunk_name,
        source,
        args: cmd.script_args,
        arg_table: cmd.arg_table,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = runtime.map_err(|e| e.to_string()).and_then(|rt| {
        let result = rt.block_on(async {
            // LUASOCKET_WASI_SOCKETS=wasmtime runs on wasmtime-wasi's sockets instead of
            // the host's own, so the benchmarks can compare the two.
            let runtime = Runtime::with_options(RuntimeOptions {
                cache_dir: luasocket_wasi_host::cache::default_dir(),
                sockets: SocketsImpl::from_env(),
                ..RuntimeOptions::default()
            });
            let runtime = runtime.map_err(|e| format!("{e:?}"))?;
            runtime
                .run(&cmd.sandbox, invocation)
                .await
                .map_err(|e| format!("{e:?}"))
        });
        // Dropping the runtime would wait for its blocking threads, and a file operation
        // can outlast the run on one (a slow disk, a file swapped for a FIFO under us): a
        // limit that fired must end the process, not wait for the host.
        rt.shutdown_background();
        result
    });
    match result {
        Ok(result) => report(result.outcome, inline),
        Err(e) => fail(status::HOST_ERROR, &e),
    }
}

fn report(outcome: Outcome, print_results: bool) -> ExitCode {
    match outcome {
        Outcome::Returned(values) => {
            if print_results && !values.is_empty() {
                println!("{}", values.join("\t"));
            }
            ExitCode::SUCCESS
        }
        Outcome::Failed(Failure::Syntax(m) | Failure::Runtime(m)) => fail(status::SCRIPT_ERROR, &m),
        Outcome::Failed(Failure::OutOfMemory(m)) => fail(
            status::MEMORY_LIMIT,
            &format!("{m} (Lua ran out of memory)"),
        ),
        // Silent, whatever the code: only a limit that fired says so.
        Outcome::Failed(Failure::Exited(code)) | Outcome::Exited(code) => exit_status(code),
        Outcome::Limit(Limit::WallClock(d)) => fail(
            status::WALL_CLOCK_LIMIT,
            &format!(
                "wall-clock limit reached: the script ran for {} s (--timeout)",
                secs(d)
            ),
        ),
        Outcome::Limit(Limit::Cpu(d)) => fail(
            status::CPU_LIMIT,
            &format!(
                "CPU limit reached: the script computed for {} s (--cpu-limit)",
                secs(d)
            ),
        ),
        Outcome::Limit(Limit::Memory(bytes)) => fail(
            status::MEMORY_LIMIT,
            &format!(
                "memory limit reached: not enough memory within {} MB (--max-memory)",
                bytes >> 20
            ),
        ),
        Outcome::Limit(Limit::Handles(n)) => fail(
            status::HANDLE_LIMIT,
            &format!("handle limit reached: the script held {n} host handles (--max-sockets)"),
        ),
        Outcome::Trapped(m) => fail(status::TRAP, &format!("the instance trapped: {m}")),
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
    use std::path::Path;

    use super::*;

    fn argv(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn script_with_options_and_args() {
        let c = parse(&argv(
            "luasocket-wasi run --allow-net=127.0.0.1:80 --timeout 2 s.lua a b",
        ))
        .unwrap();
        assert!(matches!(c.chunk, Some(Chunk::File(ref p)) if p == Path::new("s.lua")));
        assert_eq!(c.script_args, vec!["a", "b"]);
        assert_eq!(c.sandbox.limits.timeout, Some(Duration::from_secs(2)));
        assert_eq!(c.sandbox.limits.max_sockets, Some(16_384), "the default");
        assert_eq!(c.sandbox.net.rules().len(), 1);
        let arg: std::collections::HashMap<i32, String> = c.arg_table.into_iter().collect();
        assert_eq!(arg[&0], "s.lua");
        assert_eq!(arg[&1], "a");
        assert_eq!(arg[&2], "b");
        assert_eq!(arg[&-1], "2");
        assert_eq!(arg[&-4], "run");
        assert_eq!(arg[&-5], "luasocket-wasi");
    }

    #[test]
    fn inline_chunk_gets_the_rest_as_arguments() {
        let c = parse(&argv("luasocket-wasi -e print(...) x y")).unwrap();
        assert!(matches!(c.chunk, Some(Chunk::Inline(ref s)) if s == b"print(...)"));
        assert_eq!(c.script_args, vec!["x", "y"]);
        let arg: std::collections::HashMap<i32, String> = c.arg_table.into_iter().collect();
        assert_eq!(arg[&0], "luasocket-wasi");
    }

    #[test]
    fn network_is_denied_unless_allowed() {
        assert!(
            parse(&argv("luasocket-wasi s.lua"))
                .unwrap()
                .sandbox
                .net
                .is_deny_all()
        );
        assert!(
            !parse(&argv("luasocket-wasi --allow-net s.lua"))
                .unwrap()
                .sandbox
                .net
                .is_deny_all()
        );
    }

    #[test]
    fn no_argument_panics_the_parser() {
        let odd: &[&[u8]] = &[
            b"",
            b"-",
            b"--",
            b"=",
            b"--=",
            b"-e",
            b"run",
            b"x",
            b"\xff",
            b"-\xff",
            b"--\xff",
            b"--timeout=",
            b"--timeout",
            b"--dir=::",
            b"--dir=\xff::",
            b"--dir=/::\xff",
            b"--allow-net=",
            b"--allow-net=\xff",
            b"--max-sockets=\xff",
            b"--cpu-limit=-1",
        ];
        for a in odd {
            for b in odd {
                for c in odd {
                    let argv: Vec<OsString> = [b"luasocket-wasi".as_slice(), a, b, c]
                        .iter()
                        .map(|bytes| OsStr::from_bytes(bytes).to_owned())
                        .collect();
                    let _ = parse(&argv);
                }
            }
        }
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&argv("luasocket-wasi --timeout x s.lua")).is_err());
        assert!(parse(&argv("luasocket-wasi --max-memory 1 s.lua")).is_err());
        assert!(parse(&argv("luasocket-wasi --max-sockets -1 s.lua")).is_err());
        assert!(parse(&argv("luasocket-wasi --allow-net=[::1 s.lua")).is_err());
        assert!(parse(&argv("luasocket-wasi --bogus s.lua")).is_err());
        assert!(parse(&argv("luasocket-wasi -e")).is_err());
    }
}
