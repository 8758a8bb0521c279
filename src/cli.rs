//! `wasi:cli/run`: the component as a command, for stock WASI hosts such as
//! `wasmtime run`. It takes what the `lua` interpreter takes, in a sandbox-sized subset:
//!
//!   luasocket_wasi.wasm [-e chunk]... [-l module]... [-v] [--] [script | -] [args...]
//!
//! Scripts are read through the host's preopened directories (`--dir`); `-` is stdin.
//! Values returned by `-e` chunks are printed, so `-e 'return x'` shows x.

use std::io::{Read, Write};

use crate::runner::{self, Completion, Failure, Session};

const USAGE: &str =
    "usage: luasocket_wasi.wasm [-e chunk] [-l module] [-v] [--] [script | -] [args...]";

/// One thing to do before the script, in command-line order.
#[derive(Debug, PartialEq)]
enum Step {
    Exec(String),
    Require(String),
    Version,
}

#[derive(Debug, PartialEq)]
struct Command {
    steps: Vec<Step>,
    /// Index in argv of the script (`-` for stdin), if any.
    script: Option<usize>,
}

fn parse(argv: &[String]) -> Result<Command, String> {
    let mut steps = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let value = |i: usize| {
            argv.get(i + 1)
                .cloned()
                .ok_or_else(|| format!("'{}' needs an argument\n{USAGE}", argv[i]))
        };
        match argv[i].as_str() {
            "-e" => steps.push(Step::Exec(value(i)?)),
            "-l" => steps.push(Step::Require(value(i)?)),
            "-v" => {
                steps.push(Step::Version);
                i += 1;
                continue;
            }
            "--" => {
                i += 1;
                break;
            }
            "-" => break,
            other if other.starts_with('-') => {
                return Err(format!("unrecognized option '{other}'\n{USAGE}"));
            }
            _ => break,
        }
        i += 2;
    }
    Ok(Command {
        steps,
        script: (i < argv.len()).then_some(i),
    })
}

/// Runs the command line; false makes the exit status 1.
pub fn main(argv: Vec<String>) -> bool {
    let result = run(&argv);
    runner::finish();
    match result {
        Ok(Ended::Normally) | Ok(Ended::Exited(0)) => true,
        // WASI 0.2 can only say "failed": every non-zero status becomes 1.
        Ok(Ended::Exited(_)) => false,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "luasocket-wasi: {message}");
            false
        }
    }
}

enum Ended {
    Normally,
    Exited(i32),
}

fn run(argv: &[String]) -> Result<Ended, String> {
    let command = parse(argv)?;
    let session = Session::new().map_err(describe)?;
    // No script: arg[0] is the program, as lua.c does it.
    session
        .set_arg_table(runner::arg_table(argv, command.script.unwrap_or(0)))
        .map_err(describe)?;
    for step in command.steps {
        match step {
            Step::Exec(chunk) => {
                match session.run_chunk("=(command line)".into(), chunk.as_bytes(), Vec::new()) {
                    Ok(Completion::Returned(results)) if !results.is_empty() => {
                        runner::flush_stdio();
                        println!("{}", results.join("\t"));
                    }
                    Ok(Completion::Returned(_)) => {}
                    Ok(Completion::Exited(code)) => return Ok(Ended::Exited(code)),
                    Err(f) => return Err(describe(f)),
                }
            }
            Step::Require(name) => {
                let chunk = format!("{name} = require(...)");
                if let Completion::Exited(code) = session
                    .run_chunk("=(command line)".into(), chunk.as_bytes(), vec![name])
                    .map_err(describe)?
                {
                    return Ok(Ended::Exited(code));
                }
            }
            Step::Version => println!("Lua 5.4 with {}", crate::VERSION),
        }
    }
    let Some(index) = command.script else {
        return Ok(Ended::Normally);
    };
    let (name, source) = read_script(&argv[index])?;
    let args = argv[index + 1..].to_vec();
    match session.run_chunk(name, &source, args).map_err(describe)? {
        Completion::Exited(code) => Ok(Ended::Exited(code)),
        Completion::Returned(_) => Ok(Ended::Normally),
    }
}

/// A script's chunk name and source (the runner skips a first `#` line of a script).
fn read_script(path: &str) -> Result<(String, Vec<u8>), String> {
    let (name, source) = if path == "-" {
        let mut source = Vec::new();
        std::io::stdin()
            .read_to_end(&mut source)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        ("=stdin".to_owned(), source)
    } else {
        let source = std::fs::read(path).map_err(|e| format!("cannot open {path}: {e}"))?;
        (format!("@{path}"), source)
    };
    Ok((name, source))
}

fn describe(failure: Failure) -> String {
    match failure {
        Failure::Syntax(m) | Failure::Runtime(m) | Failure::OutOfMemory(m) => m,
        Failure::Exited(code) => format!("exited with status {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn script_and_its_arguments() {
        let c = parse(&argv("prog -e x=1 s.lua a b")).unwrap();
        assert_eq!(c.steps, vec![Step::Exec("x=1".into())]);
        assert_eq!(c.script, Some(3));
    }

    #[test]
    fn no_script() {
        assert_eq!(parse(&argv("prog -e x")).unwrap().script, None);
        assert_eq!(parse(&argv("prog -")).unwrap().script, Some(1));
        assert_eq!(parse(&argv("prog -- -weird.lua")).unwrap().script, Some(2));
    }

    #[test]
    fn bad_options() {
        assert!(parse(&argv("prog -x")).is_err());
        assert!(parse(&argv("prog -e")).is_err());
    }
}
