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
            vec![e(), x(), raw(b"s.lua"), raw(b"\xff")],
            "script argument arg[1] is not valid UTF-8: '\u{fffd}'",
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

fn run_cli(args: &[&str], setup: impl FnOnce(&mut std::process::Command)) -> std::process::Output {
    let mut cmd = cli();
    cmd.args(args);
    setup(&mut cmd);
    run_within(cmd, Duration::from_secs(60))
}

#[test]
fn steps_run_in_order_in_one_state_then_the_script() {
    let dir = scratch("steps");
    let script = dir.join("s.lua");
    std::fs::write(&script, "print('script', x, u.escape('a b'), ...)").unwrap();
    let script = script.to_str().unwrap();
    // lua5.4 -e 'x = 1' -l u=socket.url -e 'x = x + 1' s.lua a: options go on after -e.
    let out = run_cli(
        &[
            "-e",
            "x = 1",
            "-lu=socket.url",
            "-e",
            "x = x + 1",
            script,
            "a",
        ],
        |_| {},
    );
    assert_eq!(ok(&out), "script\t2\ta%20b\ta\n");
    let out = run_cli(&["-l", "socket", "-e", "return socket._VERSION"], |_| {});
    assert_eq!(ok(&out), "LuaSocket 3.1.0\n");
    let out = run_cli(&["-l", "no.such.module"], |_| {});
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("module 'no.such.module' not found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn warnings_are_off_until_w_or_warn_on() {
    let out = run_cli(&["-e", "warn('quiet')"], |_| {});
    assert_eq!(stderr(&out), "");
    let out = run_cli(
        &["-W", "-e", "warn('lo', 'ud') warn('@off') warn('x')"],
        |_| {},
    );
    assert_eq!(stderr(&out), "Lua warning: loud\n");
}

#[test]
fn version_then_steps_and_no_script_means_stdin() {
    let out = run_cli(&["-v"], |_| {});
    assert!(ok(&out).starts_with("luasocket-wasi "), "{}", stdout(&out));
    let out = run_cli(&["-v", "-e", "print('after')"], |_| {});
    assert!(ok(&out).ends_with(")\nafter\n"), "{}", stdout(&out));
    // No script, no -e, stdin not a terminal: stdin is the script, as for lua5.4.
    let mut cmd = cli();
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        b"#!/usr/bin/env lua\nprint('from stdin', arg[0])",
    )
    .unwrap();
    let out = wait_within(child, Duration::from_secs(60));
    assert!(ok(&out).starts_with("from stdin\t"), "{}", stdout(&out));
}

#[test]
fn a_first_line_starting_with_hash_is_skipped_in_files_not_in_chunks() {
    let dir = scratch("shebang");
    let script = dir.join("s.lua");
    std::fs::write(
        &script,
        "#!/usr/bin/env lua\nprint('ran')\nerror('on line 3')\n",
    )
    .unwrap();
    let out = run_cli(&[script.to_str().unwrap()], |_| {});
    assert_eq!(stdout(&out), "ran\n");
    assert!(
        stderr(&out).contains("s.lua:3: on line 3"),
        "line numbers kept: {}",
        stderr(&out)
    );
    let out = run_cli(&["-e", "#!x\nprint(1)"], |_| {});
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unexpected symbol near '#'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_guest_sees_only_the_variables_it_is_given() {
    let probe = "print(os.getenv('A'), os.getenv('B'), os.getenv('HOME'))";
    let out = run_cli(&["-e", probe], |c| {
        c.env("A", "host").env("HOME", "/home/x");
    });
    assert_eq!(ok(&out), "nil\tnil\tnil\n", "nothing by default");
    let out = run_cli(&["--env", "A=1=2", "--env", "B", "-e", probe], |c| {
        c.env("B", "from host").env("HOME", "/home/x");
    });
    assert_eq!(ok(&out), "1=2\tfrom host\tnil\n");
}

#[test]
fn lua_variables_are_read_only_when_asked_and_not_under_e() {
    let dir = scratch("lua-env");
    std::fs::write(dir.join("m.lua"), "return 'module m'").unwrap();
    let path = format!("{}/?.lua;;", dir.display());
    let probe = "print(x, pcall(require, 'm'))";
    let env = |c: &mut std::process::Command| {
        c.env("LUA_INIT", "x = 'init'")
            .env("LUA_PATH", &path)
            .env_remove("LUA_INIT_5_4")
            .env_remove("LUA_PATH_5_4");
    };
    let out = run_cli(&["-e", probe], env);
    assert!(
        ok(&out).starts_with("nil\tfalse\tmodule 'm' not found"),
        "{}",
        stdout(&out)
    );
    let dirflag = format!("{}:ro", dir.display());
    let out = run_cli(&["--lua-env", "--dir", &dirflag, "-e", probe], env);
    assert!(
        ok(&out).starts_with("init\ttrue\tmodule m"),
        "{}",
        stdout(&out)
    );
    let out = run_cli(
        &["--lua-env", "-E", "--dir", &dirflag, "-e", "print(x)"],
        env,
    );
    assert_eq!(ok(&out), "nil\n", "-E wins");
    // The _5_4 forms come first; LUA_INIT=@file runs the file.
    let init = dir.join("init.lua");
    std::fs::write(&init, "#!shebang too\nx = 'from file'").unwrap();
    let out = run_cli(&["--lua-env", "-e", "print(x)"], |c| {
        env(c);
        c.env("LUA_INIT_5_4", format!("@{}", init.display()));
    });
    assert_eq!(ok(&out), "from file\n");
    let out = run_cli(&["--lua-env", "-e", "print(1)"], |c| {
        c.env("LUA_INIT", "error('in init')");
    });
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("LUA_INIT:1: in init"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn read_only_directories_and_a_temporary_one() {
    let dir = scratch("ro");
    std::fs::write(dir.join("f"), "data").unwrap();
    let ro = format!("{}::/ro:ro", dir.display());
    let out = run_cli(
        &[
            "--dir",
            &ro,
            "-e",
            "print(io.open('/ro/f'):read('a'), io.open('/ro/g', 'w'))",
        ],
        |_| {},
    );
    assert_eq!(ok(&out), "data\tnil\t/ro/g: Operation not permitted\t63\n");
    assert!(!dir.join("g").exists());
    let out = run_cli(&["-e", "print(pcall(os.tmpname))"], |_| {});
    assert_eq!(ok(&out), "false\tnot supported on WASI\n");
    let tmp = scratch("tmpdir");
    let chunk = "local n = os.tmpname() local f = io.tmpfile() f:write('x') f:seek('set') \
                 print(n:match('^/tmp/lua_%w%w%w%w%w%w$') ~= nil, f:read('a'), package.path:find('/tmp/') == nil)";
    let out = run_cli(&["--tmpdir", tmp.to_str().unwrap(), "-e", chunk], |_| {});
    assert_eq!(ok(&out), "true\tx\ttrue\n");
    let made: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert_eq!(
        made.len(),
        1,
        "os.tmpname's file stays; io.tmpfile's is gone"
    );
}

#[test]
fn a_reader_that_went_away_is_no_panic() {
    // stdout is a pipe whose reading end is already closed: every write fails (EPIPE).
    for args in [&["--help"][..], &["-v"], &["-e", "return 1, 2"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = cli()
            .args(args)
            .stdout(std::process::Stdio::from(writer))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
    }
}
