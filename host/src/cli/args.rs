//! The command line, read as `lua` reads its own (lua.c's `collectargs`), with the
//! sandbox's options mixed in: options first, in any order, then the script and its
//! arguments. `-e`, `-l` and `-W` are steps, done in the order given.
//!
//! The parser is written by hand rather than with clap: `lua`'s grammar has ordered,
//! repeatable steps (`-e a -l m -e b`), values glued to their flag (`-eCHUNK`, `-lmod`),
//! options ending at the first non-option and `-`/`--`, and paths and chunks that are raw
//! bytes, and `arg` needs every argument's position. clap would need most of that
//! rebuilt around it; this is under 400 lines, most of them the values' checks.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use luasocket_wasi_host::policy::NetPolicy;
use luasocket_wasi_host::{Preopen, Sandbox};

/// What the command line asks for.
#[derive(Debug, Default)]
pub struct Command {
    pub sandbox: Sandbox,
    /// `-e`, `-l` and `-W`, in command-line order.
    pub steps: Vec<Step>,
    /// The script (a file, or `-` for stdin), if one is named.
    pub script: Option<Script>,
    /// Arguments after the script (or after the last option), and the whole command
    /// line for `arg`.
    pub script_args: Vec<String>,
    pub arg_table: Vec<(i32, String)>,
    /// `-i`: the read-eval-print loop after the script.
    pub interactive: bool,
    /// `-E`: no `LUA_*` variable is read, even with `--lua-env`.
    pub ignore_env: bool,
    /// `--lua-env`: `LUA_INIT`, `LUA_PATH` and `LUA_CPATH` (or their `_5_4` forms) come
    /// from the host's environment.
    pub lua_env: bool,
    /// LuaRocks trees (`--rocks-tree`), preopened read-only.
    pub rocks_trees: Vec<PathBuf>,
    /// `--tmpdir`: where `os.tmpname` makes files (kept off `package.path`).
    pub tmpdir: Option<Preopen>,
    pub version: bool,
    pub help: bool,
    /// `serve`: the address to listen on; the script is the app.
    pub serve: Option<SocketAddr>,
    /// `serve --modules DIR`: directories of Lua modules for the app's bundle.
    pub modules: Vec<PathBuf>,
}

/// Where `serve` listens unless `--listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// One thing done before the script, in command-line order.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// `-e CHUNK`: Lua source is bytes, and goes through as given.
    Exec(Vec<u8>),
    /// `-l mod` (`global` = `mod`) or `-l g=mod`.
    Require { global: String, module: String },
    /// `-W`: warnings on.
    Warnings,
}

#[derive(Debug, PartialEq)]
pub enum Script {
    File(PathBuf),
    Stdin,
}

/// Why a command line cannot be run (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0} needs a value")]
    MissingValue(String),
    #[error("unknown option {0}")]
    UnknownOption(String),
    /// What reaches the sandbox as a string (option values, script arguments; the WIT
    /// carries them as `string`) must be UTF-8.
    #[error("{what} is not valid UTF-8: '{shown}'")]
    NotUtf8 { what: String, shown: String },
    #[error("{flag} {path}: {reason}")]
    Dir {
        flag: &'static str,
        path: String,
        reason: String,
    },
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

/// A long option's `--flag=value`, split at the first `=`; lua's short options with a
/// value (`-e`, `-l`) may have it glued on (`-eCHUNK`).
fn split_inline(arg: &OsStr) -> (&OsStr, Option<&OsStr>) {
    let bytes = arg.as_bytes();
    if bytes.starts_with(b"--") {
        if let Some(eq) = bytes.iter().position(|&b| b == b'=') {
            return (
                OsStr::from_bytes(&bytes[..eq]),
                Some(OsStr::from_bytes(&bytes[eq + 1..])),
            );
        }
    } else if bytes.len() > 2 && (bytes.starts_with(b"-e") || bytes.starts_with(b"-l")) {
        return (
            OsStr::from_bytes(&bytes[..2]),
            Some(OsStr::from_bytes(&bytes[2..])),
        );
    }
    (arg, None)
}

/// Reads `argv` (the program's name first).
pub fn parse(argv: &[OsString]) -> Result<Command, UsageError> {
    let mut cmd = Command::default();
    let serving = argv.get(1).is_some_and(|a| a == "serve");
    if serving {
        cmd.serve = Some(listen(DEFAULT_LISTEN)?);
    }
    let mut i = if serving || argv.get(1).is_some_and(|a| a == "run") {
        2
    } else {
        1
    };
    let mut rules: Option<NetPolicy> = None;
    while i < argv.len() {
        let arg = argv[i].as_os_str();
        let (flag, inline) = split_inline(arg);
        if !flag.as_bytes().starts_with(b"-") {
            cmd.script = Some(Script::File(arg.into()));
            i += 1;
            // An app takes no arguments, so serve's options may follow it too
            // (`serve app.lua --listen ...`); a second name is an argument, refused below.
            if serving && i < argv.len() && argv[i].as_bytes().starts_with(b"-") {
                continue;
            }
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
            // -i implies -v, as in lua.c.
            "-i" => (cmd.interactive, cmd.version) = (true, true),
            "-E" => cmd.ignore_env = true,
            "-W" => cmd.steps.push(Step::Warnings),
            "-e" => cmd.steps.push(Step::Exec(value()?.as_bytes().to_vec())),
            "-l" => cmd.steps.push(require(&text(value()?)?)),
            "--lua-env" => cmd.lua_env = true,
            "--allow-net" => {
                let policy = match inline {
                    None => NetPolicy::allow_all(),
                    Some(list) => NetPolicy::parse(&text(list)?)
                        .map_err(|e| UsageError::Invalid(e.to_string()))?,
                };
                rules.get_or_insert_with(NetPolicy::deny_all).extend(policy);
            }
            "--dir" => cmd.sandbox.dirs.push(preopen(value()?)?),
            "--rocks-tree" => cmd.rocks_trees.push(rocks_tree(value()?)?),
            "--tmpdir" => cmd.tmpdir = Some(tmpdir(value()?)?),
            "--env" => cmd.sandbox.env.push(variable(&text(value()?)?)?),
            "--timeout" => cmd.sandbox.limits.timeout = Some(seconds(&flag, &text(value()?)?)?),
            "--cpu-limit" => cmd.sandbox.limits.cpu = Some(seconds(&flag, &text(value()?)?)?),
            "--max-memory" => cmd.sandbox.limits.max_memory = Some(megabytes(&text(value()?)?)?),
            "--max-sockets" => cmd.sandbox.limits.max_sockets = count(&flag, &text(value()?)?)?,
            "--listen" if serving => cmd.serve = Some(listen(&text(value()?)?)?),
            "--modules" if serving => cmd.modules.push(value()?.into()),
            "--" => {
                i += 1;
                if i < argv.len() {
                    cmd.script = Some(Script::File(argv[i].clone().into()));
                    i += 1;
                }
                break;
            }
            "-" => {
                cmd.script = Some(Script::Stdin);
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
    let script = if cmd.script.is_some() {
        first_arg - 1
    } else {
        0
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
    if serving {
        check_serve(&cmd)?;
    }
    Ok(cmd)
}

/// `--listen ADDR`: an IP address and port.
fn listen(spec: &str) -> Result<SocketAddr, UsageError> {
    spec.parse()
        .map_err(|_| UsageError::Invalid(format!("--listen needs IP:PORT, not '{spec}'")))
}

/// `serve` runs an app file, and nothing else.
fn check_serve(cmd: &Command) -> Result<(), UsageError> {
    if !matches!(cmd.script, Some(Script::File(_))) {
        return Err(UsageError::Invalid(
            "serve needs the app: serve [options] app.lua".into(),
        ));
    }
    if !cmd.steps.is_empty() || cmd.interactive || !cmd.script_args.is_empty() {
        return Err(UsageError::Invalid(
            "serve takes the sandbox's options and the app, not -e, -l, -W, -i or arguments".into(),
        ));
    }
    Ok(())
}

/// `-l mod` or `-l g=mod` (Lua 5.4.4's form).
fn require(spec: &str) -> Step {
    match spec.split_once('=') {
        Some((global, module)) => Step::Require {
            global: global.to_owned(),
            module: module.to_owned(),
        },
        None => Step::Require {
            global: spec.to_owned(),
            module: spec.to_owned(),
        },
    }
}

/// `NAME=VALUE`, or `NAME` alone for the host's value of it (nothing when it has none).
fn variable(spec: &str) -> Result<(String, String), UsageError> {
    let (name, value) = match spec.split_once('=') {
        Some((name, value)) => (name, Some(value.to_owned())),
        None => (spec, None),
    };
    if name.is_empty() {
        return Err(UsageError::Invalid(format!(
            "--env needs NAME or NAME=VALUE, not '{spec}'"
        )));
    }
    let value = match value {
        Some(v) => v,
        None => std::env::var_os(name)
            .map(|v| {
                v.into_string().map_err(|v| UsageError::NotUtf8 {
                    what: format!("--env {name} (its value here)"),
                    shown: lossy(&v),
                })
            })
            .transpose()?
            .unwrap_or_default(),
    };
    Ok((name.to_owned(), value))
}

/// `HOST[::GUEST][:ro]`: the host side is any path; the guest side is a WASI path, a
/// string. `:ro` at the end makes it read-only (a host path that itself ends in `:ro`
/// can be written with a `/` after it).
fn preopen(spec: &OsStr) -> Result<Preopen, UsageError> {
    let bytes = spec.as_bytes();
    let (bytes, writable) = match bytes.strip_suffix(b":ro") {
        Some(rest) => (rest, false),
        None => (bytes, true),
    };
    let (host, guest) = match bytes.windows(2).position(|w| w == b"::") {
        Some(at) => (&bytes[..at], &bytes[at + 2..]),
        None => (bytes, bytes),
    };
    let host = PathBuf::from(OsStr::from_bytes(host));
    let guest = std::str::from_utf8(guest).map_err(|_| {
        dir_error(
            "--dir",
            &host,
            "the guest path is not valid UTF-8 (WASI paths are strings): name one with HOST::GUEST",
        )
    })?;
    directory("--dir", &host)?;
    Ok(Preopen {
        host,
        guest: guest.to_owned(),
        writable,
    })
}

fn dir_error(flag: &'static str, path: &Path, reason: impl Into<String>) -> UsageError {
    UsageError::Dir {
        flag,
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Checks that `path` is a directory.
fn directory(flag: &'static str, path: &Path) -> Result<(), UsageError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(dir_error(flag, path, "not a directory")),
        Err(e) => Err(dir_error(flag, path, e.to_string())),
    }
}

/// A LuaRocks tree: seen at its own (absolute) path in the guest, so the paths LuaRocks
/// wrote into it (e.g. in its `bin/` wrappers) still name it. Must be UTF-8 for that.
fn rocks_tree(path: &OsStr) -> Result<PathBuf, UsageError> {
    let path = Path::new(path);
    directory("--rocks-tree", path)?;
    let absolute =
        std::path::absolute(path).map_err(|e| dir_error("--rocks-tree", path, e.to_string()))?;
    if absolute.to_str().is_none() {
        return Err(dir_error(
            "--rocks-tree",
            path,
            "the path is not valid UTF-8 (WASI paths are strings)",
        ));
    }
    Ok(absolute)
}

/// Where `os.tmpname` makes its files, in the guest (and `TMPDIR` there).
pub const GUEST_TMPDIR: &str = "/tmp";

/// `--tmpdir DIR`: DIR, read-write, as the guest's `/tmp`.
fn tmpdir(path: &OsStr) -> Result<Preopen, UsageError> {
    let host = PathBuf::from(path);
    directory("--tmpdir", &host)?;
    Ok(Preopen {
        host,
        guest: GUEST_TMPDIR.to_owned(),
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

#[cfg(test)]
mod tests {
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
        assert_eq!(c.script, Some(Script::File("s.lua".into())));
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
    fn serve_takes_its_options_before_or_after_the_app() {
        let c = parse(&argv(
            "luasocket-wasi serve --modules lib app.lua --listen 127.0.0.1:9000 --modules vendor",
        ))
        .unwrap();
        assert_eq!(c.script, Some(Script::File("app.lua".into())));
        assert_eq!(c.serve, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(c.modules, [PathBuf::from("lib"), "vendor".into()]);
        assert!(parse(&argv("luasocket-wasi serve app.lua other.lua")).is_err());
        assert!(parse(&argv("luasocket-wasi serve app.lua --listen nowhere")).is_err());
        // Outside serve, an option after the script is the script's argument.
        let run = parse(&argv("luasocket-wasi s.lua --modules x")).unwrap();
        assert_eq!(run.script_args, ["--modules", "x"]);
        assert!(run.modules.is_empty());
    }

    #[test]
    fn steps_keep_their_order_and_options_go_on_after_them() {
        let c = parse(&argv(
            "luasocket-wasi -e a=1 -lsocket -W -l u=socket.url -ereturn(a) s.lua x",
        ))
        .unwrap();
        assert_eq!(
            c.steps,
            vec![
                Step::Exec(b"a=1".to_vec()),
                Step::Require {
                    global: "socket".into(),
                    module: "socket".into()
                },
                Step::Warnings,
                Step::Require {
                    global: "u".into(),
                    module: "socket.url".into()
                },
                Step::Exec(b"return(a)".to_vec()),
            ]
        );
        assert_eq!(c.script, Some(Script::File("s.lua".into())));
        assert_eq!(c.script_args, vec!["x"]);
        let arg: std::collections::HashMap<i32, String> = c.arg_table.into_iter().collect();
        assert_eq!(arg[&0], "s.lua");
        assert_eq!(arg[&-8], "luasocket-wasi");
    }

    #[test]
    fn without_a_script_arguments_are_none_and_arg0_is_the_program() {
        let c = parse(&argv("luasocket-wasi -e print(1)")).unwrap();
        assert_eq!(c.script, None);
        let arg: std::collections::HashMap<i32, String> = c.arg_table.into_iter().collect();
        assert_eq!(arg[&0], "luasocket-wasi");
        assert_eq!(arg[&2], "print(1)");
    }

    #[test]
    fn lua_flags() {
        let c = parse(&argv("luasocket-wasi -i -E --lua-env -- -odd.lua a")).unwrap();
        assert!(c.interactive && c.version, "-i implies -v");
        assert!(c.ignore_env && c.lua_env);
        assert_eq!(c.script, Some(Script::File("-odd.lua".into())));
        assert_eq!(c.script_args, vec!["a"]);
        let c = parse(&argv("luasocket-wasi - a")).unwrap();
        assert_eq!(c.script, Some(Script::Stdin));
        assert!(
            parse(&argv("luasocket-wasi -ix")).is_err(),
            "as lua5.4: no glued -i"
        );
    }

    #[test]
    fn directories_variables_and_trees() {
        let tmp = std::env::temp_dir();
        let t = tmp.display();
        let c = parse(&argv(&format!(
            "luasocket-wasi --dir {t}::/a:ro --dir {t} --rocks-tree {t} --tmpdir {t} --env A=1=2 --env B= s.lua"
        )))
        .unwrap();
        let dirs: Vec<_> = c
            .sandbox
            .dirs
            .iter()
            .map(|d| (d.guest.as_str(), d.writable))
            .collect();
        assert_eq!(dirs, vec![("/a", false), (t.to_string().as_str(), true)]);
        assert_eq!(c.rocks_trees, vec![std::path::absolute(&tmp).unwrap()]);
        let tmpdir = c.tmpdir.unwrap();
        assert_eq!((tmpdir.guest.as_str(), tmpdir.writable), ("/tmp", true));
        assert_eq!(
            c.sandbox.env,
            vec![("A".into(), "1=2".into()), ("B".into(), String::new())]
        );
        assert!(parse(&argv("luasocket-wasi --env =x s.lua")).is_err());
        assert!(parse(&argv("luasocket-wasi --rocks-tree /nonexistent/tree s.lua")).is_err());
    }

    #[test]
    fn a_bare_env_name_takes_the_host_value_or_nothing() {
        let (_, home) = variable("PATH").unwrap();
        assert_eq!(home, std::env::var("PATH").unwrap());
        let (_, none) = variable("LUASOCKET_WASI_SURELY_UNSET").unwrap();
        assert_eq!(none, "");
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
