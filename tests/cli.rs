//! The `luasocket-wasi` command line: results, errors, exit statuses, `arg`, modules.

mod common;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

use common::*;

#[test]
fn returned_values_of_an_inline_chunk_are_printed() {
    let out = lua(&[], r#"return select(2, pcall(error, "boom"))"#);
    assert_eq!(ok(&out), "boom\n");
    let out = lua(&[], "return 1, nil, 'x'");
    assert_eq!(ok(&out), "1\tnil\tx\n");
}

#[test]
fn an_uncaught_error_exits_1_with_message_and_traceback() {
    let out = lua(&[], "local function f() error('deep trouble') end f()");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("luasocket-wasi: (command line):1: deep trouble\nstack traceback:"),
        "{err}"
    );
    assert!(
        err.contains("in local 'f'") || err.contains("in function 'f'"),
        "{err}"
    );
    assert!(
        !err.contains("xpcall"),
        "the runner's own frame is hidden: {err}"
    );
}

#[test]
fn error_objects_are_described() {
    let out = lua(
        &[],
        "error(setmetatable({}, {__tostring = function() return 'custom' end}))",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("custom"), "{}", stderr(&out));
    let out = lua(&[], "error({})");
    assert!(
        stderr(&out).contains("(error object is a table value)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn syntax_errors_exit_1() {
    let out = lua(&[], "x = = 1");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unexpected symbol near '='"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn os_exit_sets_the_status_and_flushes_output() {
    let out = lua(&[], "io.write('bye'); os.exit(7)");
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "bye");
    assert_eq!(lua(&[], "os.exit(true)").status.code(), Some(0));
    assert_eq!(lua(&[], "os.exit(false)").status.code(), Some(1));
}

#[test]
fn scripts_get_arg_and_varargs_like_lua() {
    let dir = scratch("args");
    let script = dir.join("args.lua");
    std::fs::write(
        &script,
        "print(arg[0], arg[1], arg[2], #arg, select('#', ...), ...)\nprint(arg[-1])",
    )
    .unwrap();
    let mut cmd = cli();
    cmd.arg("run")
        .arg("--timeout")
        .arg("30")
        .arg(&script)
        .args(["one", "two"]);
    let out = run_within(cmd, std::time::Duration::from_secs(60));
    let text = ok(&out);
    let path = script.to_string_lossy();
    assert_eq!(text, format!("{path}\tone\ttwo\t2\t2\tone\ttwo\n30\n"));
}

#[test]
fn print_and_io_write_reach_stdout_in_order() {
    let out = lua(
        &[],
        "io.write('a'); print('b'); io.write('c\\n'); io.stderr:write('to stderr\\n')",
    );
    assert_eq!(ok(&out), "ab\nc\n");
    assert_eq!(stderr(&out), "to stderr\n");
}

#[test]
fn require_finds_modules_in_preopened_directories() {
    let dir = scratch("modules");
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(
        dir.join("greet.lua"),
        "return { hello = function(n) return 'hello ' .. n end }",
    )
    .unwrap();
    std::fs::write(dir.join("pkg/init.lua"), "return { name = 'pkg' }").unwrap();
    let spec = format!("{}::/mods", dir.display());
    let out = lua(
        &["--dir", &spec],
        "return require('greet').hello('wasm'), require('pkg').name, package.path",
    );
    let text = ok(&out);
    assert!(
        text.starts_with("hello wasm\tpkg\t/mods/?.lua;/mods/?/init.lua;"),
        "{text}"
    );
    // Without the directory there is nothing to find.
    let out = lua(&[], "require('greet')");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("module 'greet' not found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let mut cmd = cli();
    cmd.arg("--no-such-flag").arg("x.lua");
    let out = run_within(cmd, std::time::Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown option --no-such-flag"),
        "{}",
        stderr(&out)
    );
    let mut cmd = cli();
    cmd.arg("run").arg("/nonexistent/script.lua");
    let out = run_within(cmd, std::time::Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot open /nonexistent/script.lua"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_compiled_component_is_cached() {
    let dir = scratch("cache");
    let run = || {
        let mut cmd = cli();
        cmd.env("LUASOCKET_WASI_CACHE", &dir)
            .args(["-e", "return 42"]);
        ok(&run_within(cmd, std::time::Duration::from_secs(120)))
    };
    assert_eq!(run(), "42\n");
    let artifacts: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(artifacts.len(), 1, "one compiled artifact");
    assert!(
        artifacts[0]
            .file_name()
            .to_string_lossy()
            .ends_with(".cwasm")
    );
    assert_eq!(run(), "42\n", "and it loads on the next start");
}

/// An argument with these bytes, as a shell can pass it.
fn raw(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

fn run_args(args: &[OsString]) -> std::process::Output {
    let mut cmd = cli();
    cmd.args(args);
    run_within(cmd, Duration::from_secs(60))
}

#[test]
fn odd_arguments_are_refused_with_exit_2_never_a_panic() {
    let file = scratch("odd-args").join("plain");
    std::fs::write(&file, "").unwrap();
    let x = || OsString::from("x=1");
    let e = || OsString::from("-e");
    let cases: Vec<(Vec<OsString>, &str)> = vec![
        (
            vec![e(), "print(...)".into(), raw(b"\xff")],
            "script argument arg[3] is not valid UTF-8: '\u{fffd}'",
        ),
        (
            vec![raw(b"s.lua"), "ok".into(), raw(b"a\xffb")],
            "script argument arg[2] is not valid UTF-8: 'a\u{fffd}b'",
        ),
        (
            vec![raw(b"--timeout=\xff"), e(), x()],
            "--timeout is not valid UTF-8",
        ),
        (
            vec!["--max-memory".into(), raw(b"\xff"), e(), x()],
            "--max-memory is not valid UTF-8",
        ),
        (
            vec![raw(b"--allow-net=\xff"), e(), x()],
            "--allow-net is not valid UTF-8",
        ),
        (vec![raw(b"-\xff"), e(), x()], "unknown option -\u{fffd}"),
        (
            vec![raw(b"--\xff=1"), e(), x()],
            "unknown option --\u{fffd}",
        ),
        (
            vec!["--dir".into(), raw(b"/tmp/\xff"), e(), x()],
            "the guest path is not valid UTF-8",
        ),
        (
            vec!["--dir".into(), "/nonexistent/dir::/d".into(), e(), x()],
            "--dir /nonexistent/dir: No such file or directory",
        ),
        (
            vec!["--dir".into(), file.clone().into(), e(), x()],
            "not a directory",
        ),
        (vec!["--timeout".into()], "--timeout needs a value"),
        (
            vec![raw(b"/nonexistent/\xff.lua")],
            "cannot open /nonexistent/\u{fffd}.lua",
        ),
    ];
    for (args, message) in cases {
        let out = run_args(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn bytes_that_are_not_utf8_reach_lua_where_they_can() {
    // An -e chunk is Lua source, which is bytes.
    let out = run_args(&[raw(b"-e"), raw(b"io.write(#'\xff\xfe')")]);
    assert_eq!(ok(&out), "2");
    // A script whose path is not UTF-8 runs; arg[0] names it with a replacement character.
    let dir = scratch("odd-path");
    let script = dir.join(OsStr::from_bytes(b"s\xff.lua"));
    std::fs::write(&script, "print(arg[0]:match('[^/]*$'), ...)").unwrap();
    let out = run_args(&[script.into_os_string(), "a".into()]);
    assert_eq!(ok(&out), "s\u{fffd}.lua\ta\n");
    // So does a --dir whose host path is not UTF-8, seen under a guest path that is.
    let host = dir.join(OsStr::from_bytes(b"d\xff"));
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("f"), "inside").unwrap();
    let mut spec = host.into_os_string();
    spec.push("::/data");
    let out = run_args(&[
        "--dir".into(),
        spec,
        "-e".into(),
        "return io.open('/data/f'):read('a')".into(),
    ]);
    assert_eq!(ok(&out), "inside\n");
}

/// The first line `lua5.4` and the CLI print for a failure, without the program's name.
fn first_message(err: &[u8], program: &str) -> String {
    let text = String::from_utf8_lossy(err);
    let line = text.lines().next().unwrap_or("");
    line.strip_prefix(program).unwrap_or(line).to_owned()
}

#[test]
fn os_exit_takes_its_status_as_lua_does() {
    let statuses = [
        "0.5",
        "2^53",
        "256",
        "-1",
        "257",
        "3.0",
        "'7'",
        "' 0x10 '",
        "'7.5'",
        "'abc'",
        "{}",
        "setmetatable({}, {__name = 'My'})",
        "2^31",
        "-2^31 - 1",
        "math.huge",
        "0/0",
        "-0.0",
        "true",
        "false",
        "nil",
    ];
    for status in statuses {
        let chunk = format!("os.exit({status})");
        let native = std::process::Command::new("lua5.4")
            .args(["-e", &chunk])
            .output()
            .expect("lua5.4 (./dev test installs it)");
        let ours = lua(&[], &chunk);
        assert_eq!(ours.status.code(), native.status.code(), "{chunk}");
        assert_eq!(
            first_message(&ours.stderr, "luasocket-wasi: "),
            first_message(&native.stderr, "lua5.4: "),
            "{chunk}"
        );
    }
}

#[test]
fn a_script_exiting_with_a_limit_status_prints_nothing() {
    for code in 121..=125 {
        let out = lua(&[], &format!("os.exit({code})"));
        assert_eq!(out.status.code(), Some(code));
        assert_eq!(stderr(&out), "", "only a limit that fired names itself");
    }
}
