//! The interactive loop: through a real pseudo-terminal, as a person at a terminal uses
//! it (the CLI's controlling terminal, so Ctrl-C is a real SIGINT), and the session
//! underneath it through the library.

mod common;

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::embedder::{block_on, runtime};
use common::*;
use luasocket_wasi_host::bindings::exports::luasocket::socket::lua::Evaluation;
use luasocket_wasi_host::{CallError, Failure, Interrupt, Invocation, Outcome, Sandbox};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

/// The CLI on the slave side of a new pseudo-terminal, as a session leader whose
/// controlling terminal it is.
struct Terminal {
    master: OwnedFd,
    child: Child,
    /// Everything read so far, terminal escapes removed.
    seen: String,
}

impl Terminal {
    fn start(args: &[&str]) -> Terminal {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name: CString = ptsname(&master, Vec::new()).unwrap();
        let winsize = rustix::termios::Winsize {
            ws_row: 24,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, winsize).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        let mut cmd = cli();
        cmd.args(args)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe system calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(std::io::stdin().as_fd())?;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn the CLI on a terminal");
        rustix::io::ioctl_fionbio(&master, true).unwrap();
        Terminal {
            master,
            child,
            seen: String::new(),
        }
    }

    fn type_keys(&mut self, keys: &str) {
        let mut master = std::fs::File::from(self.master.try_clone().unwrap());
        master.write_all(keys.as_bytes()).unwrap();
    }

    /// Waits until `text` shows up after what earlier calls consumed; returns what came
    /// before it and consumes both.
    fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(at) = self.seen.find(text) {
                let before = self.seen[..at].to_owned();
                self.seen.drain(..at + text.len());
                return before;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on the terminal; it shows {:?}",
                self.seen
            );
            let mut buf = [0u8; 4096];
            match rustix::io::read(&self.master, &mut buf) {
                Ok(n) if n > 0 => self.seen.push_str(&plain(&buf[..n])),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Types a line and waits for the next prompt; returns what was printed between.
    fn enter(&mut self, line: &str) -> String {
        self.type_keys(&format!("{line}\r"));
        self.expect(line);
        let out = self.expect("\n> ");
        out.strip_prefix('\n').unwrap_or(&out).to_owned()
    }

    fn wait(mut self) -> Option<i32> {
        let out = wait_within(
            std::mem::replace(&mut self.child, cli().spawn().unwrap()),
            Duration::from_secs(30),
        );
        out.status.code()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Terminal output without its control sequences (CSI `ESC [ ... letter`) and carriage
/// returns (the editor redraws its line from the start with one).
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '~' {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

#[test]
fn it_reads_evaluates_and_prints_as_lua_does() {
    let mut t = Terminal::start(&[]);
    let banner = t.expect("> ");
    assert!(banner.contains("luasocket-wasi "), "{banner:?}");
    assert_eq!(t.enter("1+1"), "2");
    assert!(t.enter("{}").starts_with("table: 0x"));
    assert_eq!(t.enter("print(1, nil)"), "1\tnil");
    assert_eq!(t.enter("x = 41"), "");
    assert_eq!(t.enter("x + 1"), "42");
    // `arg` as lua.c makes it with no script: the interpreter at 0, nothing after.
    assert!(t.enter("#arg, arg[0]").starts_with("0\t/"));
    // An unfinished statement asks for more with >>.
    t.type_keys("for i = 1, 2 do\r");
    t.expect(">> ");
    assert_eq!(t.enter("print(i * 10) end"), "10\n20");
    // Errors are shown, without the program's name, and the loop goes on.
    let error = t.enter("error('boom')");
    assert!(
        error.starts_with("stdin:1: boom\nstack traceback:"),
        "{error:?}"
    );
    assert!(
        t.enter("x = = 1")
            .contains("stdin:1: unexpected symbol near '='")
    );
    assert_eq!(t.enter("x"), "41", "the state survives errors");
    // History: the arrow brings back the last input, the multi-line one before it too.
    t.type_keys("\x1b[A\r");
    assert!(t.expect("\n> ").ends_with("\n41"));
    // Ctrl-D ends the loop, with status 0.
    t.type_keys("\x04");
    assert_eq!(t.wait(), Some(0));
}

#[test]
fn ctrl_c_interrupts_the_running_input_and_keeps_the_state() {
    let mut t = Terminal::start(&[]);
    t.expect("> ");
    t.enter("x = 'kept'");
    t.type_keys("while true do end\r");
    t.expect("while true do end");
    std::thread::sleep(Duration::from_millis(300));
    t.type_keys("\x03");
    let out = t.expect("\n> ");
    assert!(out.contains("interrupted!\nstack traceback:"), "{out:?}");
    assert_eq!(t.enter("x"), "kept");
    // In a function, lua names where: the same here.
    t.type_keys("local function f() while true do end end f()\r");
    t.expect("f()");
    std::thread::sleep(Duration::from_millis(300));
    t.type_keys("\x03");
    assert!(t.expect("\n> ").contains("stdin:1: interrupted!"));
    // A wait in the socket core ends at once.
    t.type_keys("require('socket').sleep(60)\r");
    t.expect("sleep(60)");
    std::thread::sleep(Duration::from_millis(300));
    let pressed = Instant::now();
    t.type_keys("\x03");
    let out = t.expect("\n> ");
    assert!(out.contains("stdin:1: interrupted!"), "{out:?}");
    assert!(pressed.elapsed() < Duration::from_secs(5));
    assert_eq!(t.enter("x"), "kept");
    // Ctrl-C at the prompt drops what was typed.
    t.type_keys("for i = 1, 3 do\r");
    t.expect(">> ");
    t.type_keys("\x03");
    t.expect("> ");
    assert_eq!(t.enter("1"), "1");
    t.type_keys("os.exit(3)\r");
    assert_eq!(t.wait(), Some(3));
}

/// `io.read()` and friends, with "reading" written first: once it shows, the loop has
/// handed the terminal back (canonical mode, Ctrl-C a signal), and what is typed is the
/// read's.
fn read_after_saying_so(t: &mut Terminal, read: &str) {
    let line = format!("io.write('reading\\n') {read}");
    t.type_keys(&format!("{line}\r"));
    t.expect(&line);
    t.expect("reading\n");
}

#[test]
fn ctrl_c_interrupts_a_read_of_stdin_and_the_next_line_goes_to_the_loop() {
    let mut t = Terminal::start(&[]);
    t.expect("> ");
    t.enter("x = 'kept'");
    // A line typed while the input reads stdin is the read's, as in lua.
    read_after_saying_so(&mut t, "line = io.read()");
    t.type_keys("typed\r");
    t.expect("typed\n> ");
    assert_eq!(t.enter("line"), "typed");
    // Ctrl-C while it waits: the read fails, the input stops with lua's message, and the
    // state lives on.
    read_after_saying_so(&mut t, "io.read()");
    std::thread::sleep(Duration::from_millis(100));
    let pressed = Instant::now();
    t.type_keys("\x03");
    let out = t.expect("\n> ");
    assert!(out.contains("stdin:1: interrupted!"), "{out:?}");
    assert!(!out.contains("state is lost"), "{out:?}");
    assert!(pressed.elapsed() < Duration::from_secs(5));
    // The next line typed goes to the loop: nothing is left reading the terminal.
    assert_eq!(t.enter("print(2)"), "2");
    assert_eq!(t.enter("x"), "kept");
    // The same in a loop over io.lines(), after a line it took.
    read_after_saying_so(&mut t, "for l in io.lines() do print('got ' .. l) end");
    t.type_keys("a\r");
    t.expect("got a\n");
    std::thread::sleep(Duration::from_millis(100));
    t.type_keys("\x03");
    let out = t.expect("\n> ");
    assert!(out.contains("interrupted!"), "{out:?}");
    assert!(!out.contains("state is lost"), "{out:?}");
    assert_eq!(t.enter("print(3)"), "3");
    // Ctrl-D at a read is the end of input for it, not for the loop.
    read_after_saying_so(&mut t, "print(io.read())");
    t.type_keys("\x04");
    assert_eq!(t.expect("\n> "), "nil");
    assert_eq!(t.enter("x"), "kept");
    t.type_keys("os.exit(4)\r");
    assert_eq!(t.wait(), Some(4));
}

#[test]
fn the_sandbox_flags_apply_and_a_lost_state_is_replaced() {
    let mut t = Terminal::start(&["--cpu-limit", "0.5", "-e", "y = 'from -e'", "-i"]);
    t.expect("> ");
    assert_eq!(t.enter("y"), "from -e", "-i after -e: same state");
    let denied = t.enter("require('socket').connect('127.0.0.1', 9)");
    assert!(denied.contains("not allowed by --allow-net"), "{denied:?}");
    let out = t.enter("while true do end");
    assert!(
        out.contains("CPU limit reached") && out.contains("going on with a fresh one"),
        "{out:?}"
    );
    assert_eq!(t.enter("y"), "nil", "a fresh state");
    assert_eq!(t.enter("2^10"), "1024.0");
    t.type_keys("\x04");
    assert_eq!(t.wait(), Some(0));
}

#[test]
fn i_after_a_script_enters_the_loop_with_its_globals() {
    let dir = scratch("repl-script");
    let script = dir.join("s.lua");
    std::fs::write(&script, "#!/usr/bin/env lua\ngreeting = 'hi ' .. ...").unwrap();
    let mut t = Terminal::start(&["-i", script.to_str().unwrap(), "there"]);
    t.expect("> ");
    assert_eq!(t.enter("greeting"), "hi there");
    t.type_keys("\x04");
    assert_eq!(t.wait(), Some(0));
}

// The session underneath, through the library.

#[test]
fn a_session_keeps_one_state_across_steps_and_inputs() {
    block_on(async {
        let rt = runtime();
        let sandbox = Sandbox {
            capture_output: true,
            ..Sandbox::default()
        };
        let mut s = rt.open_session(&sandbox).await.unwrap();
        let step = Invocation {
            chunk_name: "=step".into(),
            source: b"n = select('#', ...) return arg[0], ...".to_vec(),
            args: vec!["a".into(), "b".into()],
            arg_table: vec![(0, "prog".into())],
        };
        let Outcome::Returned(values) = s.exec(&step).await else {
            panic!("a step returns")
        };
        assert_eq!(values, vec!["prog", "a", "b"]);
        let never = Interrupt::default();
        for (input, expected) in [
            (&b"n"[..], Evaluation::Done),
            (b"t = {", Evaluation::Incomplete),
            (b"t = {\n1}", Evaluation::Done),
            (b"#t, n", Evaluation::Done),
        ] {
            assert_eq!(s.eval(input, &never).await.unwrap(), expected);
        }
        let failed = s.eval(b"print = nil", &never).await;
        assert!(failed.is_ok());
        let Err(CallError::Failed(Failure::Runtime(m))) = s.eval(b"1", &never).await else {
            panic!("print is gone")
        };
        assert_eq!(m, "error calling 'print' (attempt to call a nil value)");
        let (stdout, _) = s.instance().output();
        assert_eq!(String::from_utf8_lossy(&stdout), "2\n1\t2\n");
    });
}

#[test]
fn an_input_that_does_not_heed_the_interrupt_is_taken_away() {
    block_on(async {
        let rt = runtime();
        let sandbox = Sandbox {
            capture_output: true,
            ..Sandbox::default()
        };
        let mut s = rt.open_session(&sandbox).await.unwrap();
        let interrupt = Interrupt::default();
        // A hook of the script's own: the component does not put its check in place.
        let runaway = b"debug.sethook(function() end, '', 1000) while true do end";
        let trigger = interrupt.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            trigger.trigger();
        });
        let started = Instant::now();
        let result = s.eval(runaway, &interrupt).await;
        assert!(
            matches!(result, Err(CallError::Interrupted(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(matches!(
            s.eval(b"1", &Interrupt::default()).await,
            Err(CallError::Unusable)
        ));
    });
}
