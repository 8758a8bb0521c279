//! Shared helpers: running the `luasocket-wasi` CLI with a deadline, and native peers.
#![allow(dead_code)]

pub mod embedder;
pub mod peers;
pub mod pki;
pub mod servers;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The CLI under test, with a compile cache private to the test run.
pub fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_luasocket-wasi"));
    cmd.env("LUASOCKET_WASI_CACHE", cache_dir());
    cmd.stdin(Stdio::null());
    cmd
}

pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cache")
}

/// The path of a test script in tests/lua/.
pub fn test_script(name: &str) -> String {
    format!("{}/../tests/lua/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The `--dir` argument that lets test scripts `require` the modules beside them in
/// tests/lua/ (the scheduler, `sched.lua`; the checks, `testsupport.lua`).
pub fn test_lua_dir() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lua");
    let dir = dir
        .canonicalize()
        .expect("the repository's tests/lua/ directory");
    format!("{}::/tests-lua", dir.display())
}

/// The `--dir` argument that mounts the repository's lua/ at `/lua`, where `require` looks
/// first: the tests exercise the files in the tree whether or not the component embeds
/// them.
pub fn lua_dir() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lua");
    let dir = dir.canonicalize().expect("the repository's lua/ directory");
    format!("{}::/lua", dir.display())
}

/// Runs a test script of tests/lua/ (`run OPTIONS SCRIPT ARGS`) to completion within two
/// minutes, with tests/lua/ mounted so that it finds `testsupport.lua`.
pub fn run_test_script(options: &[&str], name: &str, args: &[&str]) -> Output {
    let mut cmd = cli();
    cmd.arg("run")
        .args(options)
        .args(["--dir", &test_lua_dir()])
        .arg(test_script(name))
        .args(args);
    run_within(cmd, Duration::from_secs(120))
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs to completion, failing the test if it takes longer than `limit`.
pub fn run_within(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn luasocket-wasi");
    wait_within(child, limit)
}

pub fn wait_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a Lua chunk (`-e`) with the given options.
pub fn lua(options: &[&str], chunk: &str) -> Output {
    let mut cmd = cli();
    cmd.args(options).arg("-e").arg(chunk);
    run_within(cmd, Duration::from_secs(60))
}

/// Starts a Lua chunk (`-e`) with the given options, its output piped to be read while it
/// runs ([`Lines`]).
pub fn spawn_lua(options: &[&str], chunk: &str) -> Child {
    let mut cmd = cli();
    cmd.args(options)
        .arg("-e")
        .arg(chunk)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn luasocket-wasi")
}

/// The port a spawned server script prints first; on anything else, the script's errors.
pub fn read_port(child: Child, lines: &mut Lines) -> (Child, u16) {
    let first = lines.next();
    match first.parse() {
        Ok(port) => (child, port),
        Err(_) => {
            let out = wait_within(child, Duration::from_secs(30));
            panic!(
                "the script prints its port, not {first:?}\nstderr: {}",
                stderr(&out)
            );
        }
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Reads lines a running script prints, one at a time.
pub struct Lines(BufReader<ChildStdout>);

impl Lines {
    pub fn of(child: &mut Child) -> Lines {
        Lines(BufReader::new(child.stdout.take().expect("piped stdout")))
    }

    pub fn next(&mut self) -> String {
        let mut line = String::new();
        self.0
            .read_line(&mut line)
            .expect("read a line from the script");
        line.trim_end().to_owned()
    }
}
