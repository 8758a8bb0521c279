//! Lua itself inside the component, driven through the host library as an embedder
//! would: pcall/error (setjmp/longjmp as wasm exceptions), coroutines, memory errors.

mod common;

use luasocket_wasi_host::{Failure, Invocation, Limits, Outcome, Sandbox};

use common::embedder::runtime;

fn run_with(sandbox: &Sandbox, source: &str) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let invocation = Invocation {
        chunk_name: "=test".into(),
        source: source.as_bytes().to_vec(),
        args: vec!["a1".into()],
        arg_table: vec![],
    };
    let sandbox = Sandbox {
        capture_output: true,
        ..sandbox.clone()
    };
    rt.block_on(runtime().run(&sandbox, invocation))
        .expect("run")
        .outcome
}

fn run(source: &str) -> Vec<String> {
    match run_with(&Sandbox::default(), source) {
        Outcome::Returned(values) => values,
        other => panic!("expected values, got {other:?}"),
    }
}

#[test]
fn pcall_and_error_unwind_through_the_vm() {
    assert_eq!(run("return pcall(error, 'boom')"), vec!["false", "boom"]);
    assert_eq!(
        run("local ok, e = pcall(error, {code = 7}) return ok, type(e), e.code"),
        vec!["false", "table", "7"]
    );
    let nested = r#"
        local log = {}
        local ok, err = pcall(function()
            local ok2, err2 = pcall(function() error("inner", 0) end)
            log[#log + 1] = tostring(ok2) .. ":" .. err2
            error("outer", 0)
        end)
        log[#log + 1] = tostring(ok) .. ":" .. err
        return table.concat(log, ",")
    "#;
    assert_eq!(run(nested), vec!["false:inner,false:outer"]);
    assert_eq!(
        run("return xpcall(function() error('x') end, function(m) return 'handled ' .. m end)"),
        vec!["false", "handled test:1: x"]
    );
}

#[test]
fn errors_from_the_socket_bindings_are_plain_strings() {
    // Exactly what luaL_argerror makes of it, as for LuaSocket's C functions.
    let values = run(
        "local s = require('socket').tcp(); local ok, e = pcall(function() return s.receive(s) end); return ok, type(e), e",
    );
    assert_eq!(
        values,
        vec![
            "false",
            "string",
            "test:1: bad argument #1 to 'receive' (tcp{client} expected)"
        ]
    );
    let values = run(
        "local s = require('socket').tcp(); return select(2, pcall(function() return s:receive() end))",
    );
    assert_eq!(
        values,
        vec!["test:1: calling 'receive' on bad self (tcp{client} expected)"]
    );
    let values = run("local s = require('socket').tcp(); return select(2, pcall(s.receive, s))");
    assert_eq!(
        values,
        vec!["bad argument #1 to '?' (tcp{client} expected)"]
    );
    let values = run(
        "local s = require('socket').tcp(); local ok, e = pcall(function() s.settimeout(s, 1, 'x') end); return e",
    );
    assert_eq!(
        values,
        vec!["test:1: bad argument #3 to 'settimeout' (invalid timeout mode)"]
    );
    let values =
        run("local s = require('socket').tcp(); return pcall(function() return s:bind({}) end)");
    assert_eq!(
        values,
        vec![
            "false",
            "test:1: bad argument #1 to 'bind' (string expected, got table)"
        ]
    );
}

#[test]
fn deep_recursion_and_stack_overflow_are_errors() {
    assert_eq!(
        run(
            "local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end return f(10000)"
        ),
        vec!["10000"]
    );
    let values = run(
        "local function f() return f() + 1 end local ok, e = pcall(f) return ok, e:match('stack overflow') ~= nil",
    );
    assert_eq!(values, vec!["false", "true"]);
}

#[test]
fn coroutines_yield_across_pcall() {
    let script = r#"
        local co = coroutine.wrap(function(a)
            local ok, v = pcall(function()
                local b = coroutine.yield(a + 1)
                error("after " .. b, 0)
            end)
            coroutine.yield(tostring(ok) .. " " .. v)
            return "done"
        end)
        return co(1), co(10), co()
    "#;
    assert_eq!(run(script), vec!["2", "false after 10", "done"]);
}

#[test]
fn varargs_reach_the_chunk() {
    assert_eq!(run("return ..."), vec!["a1"]);
}

#[test]
fn running_out_of_memory_is_a_catchable_error() {
    let sandbox = Sandbox {
        limits: Limits {
            max_memory: Some(64 << 20),
            ..Limits::default()
        },
        ..Sandbox::default()
    };
    let script = r#"
        local ok, err = pcall(function()
            local t = {}
            for i = 1, 1e6 do t[i] = string.rep("x", 1 << 20) .. i end
        end)
        collectgarbage()
        return ok, err, #string.rep("y", 1000)
    "#;
    match run_with(&sandbox, script) {
        Outcome::Returned(values) => assert_eq!(values, vec!["false", "not enough memory", "1000"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn syntax_errors_are_reported_as_such() {
    match run_with(&Sandbox::default(), "return +") {
        Outcome::Failed(Failure::Syntax(m)) => assert!(m.contains("unexpected symbol"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn precompiled_chunks_are_refused() {
    match run_with(&Sandbox::default(), "\x1bLua") {
        Outcome::Failed(Failure::Syntax(m)) => assert!(m.contains("binary"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn debug_cannot_reach_the_registry_or_retype_userdata() {
    let script = r#"
        local s = require("socket").tcp()
        return debug.getregistry, pcall(debug.setmetatable, s, {}), (debug.traceback("t"):match("^t\nstack traceback:") ~= nil)
    "#;
    let values = run(script);
    assert_eq!(values, vec!["nil", "false", "true"]);
}

/// `os.clock` counts the instance's running time (WASI 0.2 has no CPU clock): a number
/// that starts near 0 and grows while the script computes.
#[test]
fn os_clock_measures_running_time() {
    let out = common::lua(
        &[],
        "local t = os.clock() local x = 0 for i = 1, 5e6 do x = x + i end \
         return math.type(t), t >= 0 and t < 1, os.clock() > t",
    );
    assert_eq!(common::ok(&out), "float\ttrue\ttrue\n");
}
