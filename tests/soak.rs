//! Soak: connect/transfer/close cycles from native clients through a select-based Lua
//! server inside the component. Zero errors, and afterwards the host handles and Lua's
//! heap are back where they were after a short warm-up, and the instance's memory is no
//! bigger than after 20 cycles.
//!
//! 10,000 cycles run with the suite (about a second here); `./dev long` also runs
//! 200,000.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::cache_dir;
use common::servers::free_port;
use luasocket_wasi_host::{Invocation, Limits, NetPolicy, Outcome, Runtime, Sandbox};

/// Clients connecting at once.
const CLIENTS: usize = 4;

const SERVER: &str = r#"
local socket = require("socket")
local cycles, port, warmup = ...
cycles, port, warmup = tonumber(cycles), tonumber(port), tonumber(warmup)
local server = assert(socket.bind("127.0.0.1", port))
server:settimeout(0)
local recvt = { server }
local handled, errors, warm = 0, {}, nil
local function drop(c)
    for i = #recvt, 1, -1 do
        if recvt[i] == c then table.remove(recvt, i) end
    end
    c:close()
end
while handled < cycles do
    local readable, _, err = socket.select(recvt, nil, 10)
    if err then errors[#errors + 1] = "select: " .. err break end
    for _, s in ipairs(readable) do
        if s == server then
            local c, aerr = server:accept()
            if c then
                c:settimeout(2)
                recvt[#recvt + 1] = c
            elseif aerr ~= "timeout" then
                errors[#errors + 1] = "accept: " .. aerr
            end
        else
            local line, rerr = s:receive("*l")
            if line then
                local sent, serr = s:send(line .. "\n")
                if not sent then errors[#errors + 1] = "send: " .. serr drop(s) end
            else
                if rerr ~= "closed" then errors[#errors + 1] = "receive: " .. rerr end
                drop(s)
                handled = handled + 1
                if handled == warmup then
                    collectgarbage() collectgarbage()
                    warm = collectgarbage("count")
                end
            end
        end
    end
end
server:close()
recvt = nil
collectgarbage() collectgarbage()
local growth = collectgarbage("count") - warm
print(handled, #errors, table.concat(errors, "; "))
return growth
"#;

struct Soaked {
    resources: usize,
    memory: usize,
    lua_growth_kib: f64,
    elapsed: Duration,
}

/// Runs `cycles` connections through the Lua server, checking every echo.
fn soak(runtime: &Runtime, cycles: usize) -> Soaked {
    let port = free_port();
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| {
            thread::spawn(move || {
                let payload = format!("client {k} {}", "p".repeat(1000));
                let mut done = 0;
                let mut cycle = k;
                while cycle < cycles {
                    let stream = match TcpStream::connect(("127.0.0.1", port)) {
                        Ok(s) => s,
                        // Until the script is listening.
                        Err(_) if done == 0 && started.elapsed() < Duration::from_secs(30) => {
                            thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        Err(e) => panic!("connect, cycle {cycle}: {e}"),
                    };
                    stream
                        .set_read_timeout(Some(Duration::from_secs(20)))
                        .unwrap();
                    let mut out = stream.try_clone().unwrap();
                    writeln!(out, "{payload} {cycle}").unwrap();
                    let mut echo = String::new();
                    BufReader::new(stream).read_line(&mut echo).unwrap();
                    assert_eq!(echo, format!("{payload} {cycle}\n"), "cycle {cycle}");
                    done += 1;
                    cycle += CLIENTS;
                }
                done
            })
        })
        .collect();
    let sandbox = Sandbox {
        net: NetPolicy::parse("127.0.0.1").unwrap(),
        capture_output: true,
        limits: Limits {
            timeout: Some(Duration::from_secs(600)),
            ..Limits::default()
        },
        ..Sandbox::default()
    };
    let warmup = (cycles / 10).max(1);
    let invocation = Invocation {
        chunk_name: "=soak".into(),
        source: SERVER.as_bytes().to_vec(),
        args: vec![cycles.to_string(), port.to_string(), warmup.to_string()],
        arg_table: vec![],
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(runtime.run(&sandbox, invocation))
        .unwrap();
    let done: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&result.stdout).into_owned();
    let Outcome::Returned(values) = &result.outcome else {
        panic!(
            "{:?}\n{stdout}\n{}",
            result.outcome,
            String::from_utf8_lossy(&result.stderr)
        );
    };
    assert_eq!(stdout, format!("{cycles}\t0\t\n"), "cycles handled, errors");
    assert_eq!(done, cycles);
    Soaked {
        resources: result.resources,
        memory: result.memory,
        lua_growth_kib: values[0].parse().unwrap(),
        elapsed,
    }
}

fn soak_and_compare(cycles: usize) {
    let runtime = Runtime::with_cache(Some(cache_dir())).unwrap();
    let short = soak(&runtime, 20);
    let long = soak(&runtime, cycles);
    println!(
        "{cycles} cycles: {:.1} s, {} host handles at the end (after 20 cycles: {}), \
         instance memory {} KiB (after 20 cycles: {} KiB), Lua heap {:+.1} KiB since the \
         warm-up",
        long.elapsed.as_secs_f64(),
        long.resources,
        short.resources,
        long.memory >> 10,
        short.memory >> 10,
        long.lua_growth_kib
    );
    assert_eq!(
        long.resources, short.resources,
        "host handles after {cycles} cycles vs after 20"
    );
    assert!(
        long.memory <= short.memory + (1 << 20),
        "the instance's memory grew from {} to {} bytes",
        short.memory,
        long.memory
    );
    assert!(
        long.lua_growth_kib < 64.0,
        "Lua's heap grew {} KiB after the warm-up",
        long.lua_growth_kib
    );
}

#[test]
fn ten_thousand_cycles_through_a_select_server() {
    soak_and_compare(10_000);
}

#[test]
#[ignore = "long: ./dev long"]
fn two_hundred_thousand_cycles_through_a_select_server() {
    soak_and_compare(200_000);
}
