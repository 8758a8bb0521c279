#!/usr/bin/env python3
"""Benchmarks: the same Lua scripts (bench/lua/) under native Lua 5.4 + Debian's LuaSocket
and under luasocket-wasi, alternating A/B within each repetition, against native peers
in other processes (bench/peer.rs) or nginx. Writes BENCHMARKS.md with medians, spreads
and component/native ratios.

    python3 bench/run.py            full run (a few minutes), writes BENCHMARKS.md
    python3 bench/run.py --quick    tiny sizes, one repetition: a smoke test for CI
                                    (no report unless --out FILE is given)

Run it through `./dev bench` (which builds what it needs first). A scenario that fails
becomes a row saying so (with the first line of the error) and the others still run; the
exit status is then 1. BENCH_FAIL=4,8 makes the scenarios numbered 4 and 8 fail on
purpose, to see that handling at work.
"""
import argparse
import datetime
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import instructions

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
CLI = ROOT / "target" / "release" / "luasocket-wasi"
PEER = ROOT / "target" / "release" / "examples" / "bench_peer"
INSTANCES = ROOT / "target" / "release" / "examples" / "bench_instances"
HOST_CALLS = ROOT / "target" / "release" / "examples" / "bench_host_calls"

# Backtrace capture is a developer setting that makes every host error (a stream reaching
# its end, say) walk the stack: about 15% of the component's CPU in the HTTP scenario. The
# benchmark runs everything as a user would, without it.
for var in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE"):
    os.environ.pop(var, None)

NATIVE = ["lua5.4"]
COMPONENT = [str(CLI), "run", "--allow-net=127.0.0.1"]
RUNTIMES = {"native": NATIVE, "component": COMPONENT}
SOCKETS = {
    "host": "the host's own `wasi:sockets` (host/src/sockets/)",
    "wasmtime": "wasmtime-wasi's `wasi:sockets` (`--sockets wasmtime`)",
}

# Which scenarios also count instructions per operation under callgrind (set in main):
# all of them in a full run, only ping-pong in a quick one (to check that counting works).
# Not host calls in a quick one: the plugin world's component is compiled under callgrind
# first, minutes on a cold cache.
COUNT = {"all": False, "pingpong": False}


def counts(scenario, per_op_of):
    """Instructions per operation for both runtimes, or None when not counted here.
    `per_op_of(runtime)` measures one runtime."""
    if not (COUNT["all"] or COUNT.get(scenario)):
        return None
    return {rt: per_op_of(rt) for rt in ("native", "component")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(line):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.]+)", line)}


class Peer:
    """A bench_peer process, stopped on exit."""

    def __init__(self, *args, wait_ready=True):
        self.proc = subprocess.Popen([str(PEER), *map(str, args)], stdout=subprocess.PIPE, text=True)
        if wait_ready:
            assert self.proc.stdout.readline().strip() == "ready"

    def result(self, timeout=300):
        out, _ = self.proc.communicate(timeout=timeout)
        return parse(out.strip().splitlines()[-1])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run_script(runtime, script, *args, timeout=600):
    cmd = RUNTIMES[runtime] + [str(LUA / script), *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{runtime} {script} failed: {out.stderr.strip()}")
    return parse(out.stdout.strip().splitlines()[-1])


def alternating(reps, measure, runtimes=("native", "component")):
    """Runs measure(runtime) reps times per runtime, alternating which goes first."""
    results = {rt: [] for rt in runtimes}
    for i in range(reps):
        order = runtimes if i % 2 == 0 else tuple(reversed(runtimes))
        for rt in order:
            results[rt].append(measure(rt))
    return results


class Table:
    def __init__(self):
        self.rows = []
        self.failures = []

    def add(self, scenario, metric, results, higher_is_better, target=None, unit="", note="", instr=None):
        def summary(values):
            if not values:
                return None, "n/a"
            med = statistics.median(values)
            spread = f"{min(values):.4g}–{max(values):.4g}" if len(values) > 1 else "—"
            return med, f"{med:.4g} {unit} ({spread})"

        nat, nat_text = summary(results.get("native", []))
        comp, comp_text = summary(results.get("component", []))
        ratio = comp / nat if nat and comp else None
        verdict = note
        if ratio is not None and target is not None:
            ok = ratio >= target if higher_is_better else ratio <= target
            verdict = ("meets" if ok else "misses") + f" {'≥' if higher_is_better else '≤'}{target}×"
        self.rows.append((scenario, metric, nat_text, comp_text, f"{ratio:.2f}" if ratio else "—",
                          instr_text(instr), verdict))
        print(f"{scenario:28} {metric:22} native {nat_text:32} component {comp_text:32} ratio {self.rows[-1][4]} "
              f"instr/op {self.rows[-1][5]} {verdict}", flush=True)

    def fail(self, scenario, error):
        """A scenario that could not be measured: a row that says so, and why."""
        why = first_line(error)
        self.rows.append((scenario, "—", "—", "—", "—", "—", f"**failed**: {why}"))
        self.failures.append(scenario)
        print(f"{scenario:28} FAILED: {why}", flush=True)

    def markdown(self):
        lines = ["| scenario | metric | native Lua 5.4 + LuaSocket | luasocket-wasi | ratio (component/native) "
                 "| instructions per op, native / component (ratio) | target |", "|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def instr_text(instr):
    if not instr:
        return "—"
    nat, comp = instr["native"], instr["component"]
    return f"{nat:,.0f} / {comp:,.0f} ({comp / nat:.1f}×)"


def counted_script(rt, script, *args):
    """Instructions of one run of a bench script under callgrind."""
    return instructions.total(RUNTIMES[rt] + [str(LUA / script), *map(str, args)])


def first_line(error, limit=200):
    """An error's first line, fit for a table cell."""
    lines = str(error).strip().splitlines()
    line = lines[0].strip() if lines else type(error).__name__
    if len(line) > limit:
        line = line[:limit] + "…"
    return line.replace("|", "\\|")


def measure_all(table, scenarios):
    """Runs each (label, run) in turn; one that raises is recorded as failed, and the rest
    still run. BENCH_FAIL lists scenario numbers to fail on purpose."""
    forced = {n.strip() for n in os.environ.get("BENCH_FAIL", "").split(",") if n.strip()}
    for label, run in scenarios:
        try:
            if label.split(".")[0] in forced:
                raise RuntimeError(f"failed on purpose (BENCH_FAIL={os.environ['BENCH_FAIL']})")
            run()
        except Exception as e:  # whatever went wrong is the scenario's: its row reports it
            table.fail(label, e)


def bulk(table, size, reps):
    for mode, label in [("send", "send 64 KiB strings"), ("recvn", "receive(65536)"), ("recva", 'receive("*a")')]:
        port = free_port()
        kind = "sink" if mode == "send" else "source"
        args = (kind, port) if kind == "sink" else (kind, port, size)
        with Peer(*args):
            res = alternating(reps, lambda rt: run_script(rt, "bulk.lua", mode, port, size))
        mbps = {rt: [r["bytes"] / r["seconds"] / 1e6 for r in rs] for rt, rs in res.items()}
        table.add(f"1. bulk TCP, {size >> 20} MiB", label, mbps, True, 1.2, "MB/s",
                  instr=counts("bulk", lambda rt: bulk_per_64k(rt, mode)))


def bulk_per_64k(rt, mode):
    """Instructions per 64 KiB moved (4 and 36 MiB runs)."""
    def at(mib):
        port = free_port()
        kind = "sink" if mode == "send" else "source"
        args = (kind, port) if kind == "sink" else (kind, port, mib << 20)
        with Peer(*args):
            return counted_script(rt, "bulk.lua", mode, port, mib << 20)
    return instructions.per_op(at, 4, 36, ops_per_unit=16)


def pingpong(table, count, reps):
    port = free_port()
    with Peer("echo", port):
        res = alternating(reps, lambda rt: run_script(rt, "pingpong.lua", port, count))
        small, large = (200, 700) if count < 10_000 else (1000, 6000)
        instr = counts("pingpong", lambda rt: instructions.per_op(
            lambda n: counted_script(rt, "pingpong.lua", port, n), small, large))
    table.add(f"2. ping-pong, {count} lines", "p50 latency", {rt: [r["p50_us"] for r in rs] for rt, rs in res.items()}, False, 1.2, "µs",
              instr=instr)
    table.add(f"2. ping-pong, {count} lines", "p99 latency", {rt: [r["p99_us"] for r in rs] for rt, rs in res.items()}, False, None, "µs")


def udp(table, count, reps):
    def send(rt):
        port = free_port()
        with Peer("udp-count", port, 1.0) as peer:
            r = run_script(rt, "udp.lua", "send", port, count, 512)
            got = peer.result()
        return {"rate": count / r["seconds"], "received": got["received"]}

    def recv(rt):
        port = free_port()
        cmd = RUNTIMES[rt] + [str(LUA / "udp.lua"), "recv", port, count, 32]
        proc = subprocess.Popen(list(map(str, cmd)), stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready", f"{rt} udp.lua recv did not start"
            # Windowed (128 ahead of the receiver's acknowledgements, one per 32 datagrams,
            # well within the default socket buffer) so nothing is dropped: what is measured
            # is the receive path, not how fast the kernel discards.
            Peer("udp-window", "127.0.0.1", port, count, 512, 128, wait_ready=False).proc.wait()
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        r = parse(out.strip().splitlines()[-1])
        return {"received": r["received"], "rate": r["received"] / r["seconds"] if r["seconds"] else 0}

    def send_count(rt, n):
        port = free_port()
        with Peer("udp-count", port, 1.0):
            return counted_script(rt, "udp.lua", "send", port, n, 512)

    def recv_count(rt, n):
        port = free_port()
        cmd = RUNTIMES[rt] + [str(LUA / "udp.lua"), "recv", port, n, 32]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "cg.out"
            proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *map(str, cmd)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                    env=dict(os.environ, LUASOCKET_WASI_CACHE=str(instructions.CACHE)))
            assert proc.stdout.readline().strip() == "ready", f"{rt} udp.lua recv did not start under callgrind"
            Peer("udp-window", "127.0.0.1", port, n, 512, 128, wait_ready=False).proc.wait()
            proc.communicate(timeout=600)
            return int(re.search(r"(?:summary|totals):\s*(\d+)", out.read_text()).group(1))

    res = alternating(reps, send)
    table.add(f"3. UDP, {count} × 512 B", "sendto rate", {rt: [r["rate"] for r in rs] for rt, rs in res.items()}, True, 0.8, "dgram/s",
              instr=counts("udp", lambda rt: instructions.per_op(lambda n: send_count(rt, n), 2000, 12000)))
    table.add(f"3. UDP, {count} × 512 B", "received by peer", {rt: [r["received"] for r in rs] for rt, rs in res.items()}, True, None, "dgrams")
    res = alternating(reps, recv)
    table.add(f"3. UDP, {count} × 512 B", "receive rate", {rt: [r["rate"] for r in rs] for rt, rs in res.items()}, True, 0.8, "dgram/s",
              instr=counts("udp", lambda rt: instructions.per_op(lambda n: recv_count(rt, n), 2000, 12000)))
    table.add(f"3. UDP, {count} × 512 B", "received", {rt: [r["received"] for r in rs] for rt, rs in res.items()}, True, None, "dgrams")


def select_loop(table, connections, lines, reps, runtimes=("native", "component")):
    def measure(rt):
        port = free_port()
        cmd = RUNTIMES[rt] + [str(LUA / "select_server.lua"), port, connections, lines]
        server = subprocess.Popen(list(map(str, cmd)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if server.stdout.readline().strip() != "ready":
                server.kill()
                raise RuntimeError(f"{rt} select server did not start: {server.communicate()[1].strip()}")
            with Peer("clients", port, connections, lines, wait_ready=False) as clients:
                clients.result()
            out, err = server.communicate(timeout=600)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        if server.returncode != 0:
            raise RuntimeError(f"{rt} select server failed: {err}")
        r = parse(out.strip().splitlines()[-1])
        return r["echoes"] / r["seconds"]

    def echo_count(rt, n_lines):
        port = free_port()
        cmd = RUNTIMES[rt] + [str(LUA / "select_server.lua"), port, 100, n_lines]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "cg.out"
            server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *map(str, cmd)],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                      env=dict(os.environ, LUASOCKET_WASI_CACHE=str(instructions.CACHE)))
            assert server.stdout.readline().strip() == "ready", f"{rt} select server did not start under callgrind"
            with Peer("clients", port, 100, n_lines, wait_ready=False) as clients:
                clients.result(timeout=900)
            server.communicate(timeout=900)
            return int(re.search(r"(?:summary|totals):\s*(\d+)", out.read_text()).group(1))

    res = alternating(reps, measure, runtimes)
    # The target for this scenario is that it works: all the connections in one select.
    note = f"meets: {connections:,} sockets in one select" if runtimes == ("component",) else ""
    instr = None
    if len(runtimes) == 2:
        # Per echo, 100 connections: 5 and 25 lines each.
        instr = counts("select", lambda rt: instructions.per_op(lambda n: echo_count(rt, n), 5, 25, ops_per_unit=100))
    table.add(f"4. select, {connections} connections", f"echoes/s ({lines} lines each)", res, True, None, "/s", note,
              instr=instr)


def nginx(root, tls=None):
    """nginx serving small.txt and a 1 MiB big.bin; with tls=(cert, key), also HTTPS (and a
    50 MiB huge.bin) on a second port. Returns (process, port, tls_port)."""
    port, tls_port = free_port(), free_port()
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    (root / "www" / "small.txt").write_text("hello from nginx\n")
    (root / "www" / "big.bin").write_bytes(os.urandom(1 << 20))
    files = ["small.txt", "big.bin"]
    listen_tls = ""
    if tls:
        (root / "www" / "huge.bin").write_bytes(os.urandom(50 << 20))
        files.append("huge.bin")
        listen_tls = (f"listen 127.0.0.1:{tls_port} ssl; ssl_certificate {tls[0]}; "
                      f"ssl_certificate_key {tls[1]}; ssl_protocols TLSv1.2 TLSv1.3;")
    # nginx's workers run as an unprivileged user: they must be able to reach the files.
    for p in [root, root / "www", *(root / "www" / f for f in files)]:
        p.chmod(0o755)
    conf = root / "nginx.conf"
    conf.write_text(
        f"daemon off; pid {root}/nginx.pid; error_log {root}/logs/error.log;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{ access_log off; client_body_temp_path {root}/body; keepalive_timeout 0;\n"
        f"  server {{ listen 127.0.0.1:{port}; {listen_tls} root {root}/www; }} }}\n"
    )
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", str(root), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, port, tls_port


def http(table, small, big, reps):
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, _ = nginx(Path(tmp))
        try:
            for path, count, label in [("small.txt", small, "17 B body"), ("big.bin", big, "1 MiB body")]:
                url = f"http://127.0.0.1:{port}/{path}"
                res = alternating(reps, lambda rt: run_script(rt, "http.lua", url, count))
                small, large = (20, 120) if path == "small.txt" else (2, 12)
                instr = counts("http", lambda rt: instructions.per_op(
                    lambda n: counted_script(rt, "http.lua", url, n), small, large))
                table.add("5. socket.http GET (nginx)", label, {rt: [r["requests"] / r["seconds"] for r in rs] for rt, rs in res.items()}, True, 0.8, "req/s",
                          instr=instr)
        finally:
            proc.terminate()
            proc.wait()


HANDLER_BODY = "hello, world\n"


def lua_nginx(root):
    """nginx with Debian's Lua module (OpenResty's engine) answering every request from a
    content_by_lua_block, kept-alive connections. Returns (process, port)."""
    port = free_port()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    modules = Path("/usr/lib/nginx/modules")
    lua = ('ngx.header["Content-Type"] = "text/plain" '
           f'ngx.header["Content-Length"] = {len(HANDLER_BODY)} ngx.print({HANDLER_BODY!r})')
    conf = root / "nginx.conf"
    conf.write_text(
        f"load_module {modules}/ndk_http_module.so; load_module {modules}/ngx_http_lua_module.so;\n"
        f"daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/logs/error.log;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{ access_log off; client_body_temp_path {root}/body; keepalive_requests 1000000;\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ content_by_lua_block {{ {lua} }} }} }} }}\n"
    )
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", str(root), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_listening(proc, port, "nginx + lua")
    return proc, port


def wait_listening(proc, port, what):
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {first_line(proc.communicate()[1] or '')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening")


def serve(app):
    """`luasocket-wasi serve app`, one instance per request. Returns (process, port)."""
    port = free_port()
    proc = subprocess.Popen([str(CLI), "serve", "--listen", f"127.0.0.1:{port}", str(app)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_listening(proc, port, "luasocket-wasi serve")
    return proc, port


WASMTIME = ROOT / "target" / "test-deps" / "wasmtime"


def wasmtime_serve(app, tmp):
    """The same app packed by `luasocket-wasi build`, under the stock `wasmtime serve`
    (one instance per request too). Returns (process, port)."""
    wasm = Path(tmp) / "app.wasm"
    subprocess.run([str(CLI), "build", str(app), "-o", str(wasm)], check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen([str(WASMTIME), "serve", "--addr", f"127.0.0.1:{port}", str(wasm)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # The first start compiles app.wasm (wasmtime caches it for the next).
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError(f"wasmtime serve exited: {first_line(proc.communicate()[1] or '')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("wasmtime serve did not start listening")


# Scenario 10's hosts of the component: the rows compare each with nginx + lua.
HANDLER_HOSTS = {"component": "luasocket-wasi serve", "wasmtime": "wasmtime serve app.wasm"}


def handler(table, requests, reps, instances):
    """Scenario 10: the same small handler as a WSAPI app under `serve` and, packed into
    app.wasm, under `wasmtime serve` (both a fresh instance per request), and in nginx's
    Lua module, driven by bench_peer's keep-alive client; then what instantiating the
    handler component costs per request in our host."""
    with tempfile.TemporaryDirectory() as tmp:
        nginx_proc, nginx_port = lua_nginx(Path(tmp))
        serve_proc, serve_port = serve(LUA / "handler_app.lua")
        wasmtime_proc, wasmtime_port = wasmtime_serve(LUA / "handler_app.lua", tmp)
        ports = {"native": nginx_port, "component": serve_port, "wasmtime": wasmtime_port}
        try:
            for connections in (1, 16):
                res = alternating(reps, lambda rt: Peer("http-load", ports[rt], connections, requests,
                                                        wait_ready=False).result(),
                                  runtimes=("native", "component", "wasmtime"))
                label = f"{connections} connection{'s' if connections > 1 else ''}"
                for host, name in HANDLER_HOSTS.items():
                    pair = {"native": res["native"], "component": res[host]}
                    table.add("10. HTTP handler (Lua)", f"req/s, {label}, {name}",
                              {rt: [r["requests"] / r["seconds"] for r in rs] for rt, rs in pair.items()}, True,
                              None, "req/s", "native: nginx + Debian's lua module")
                    table.add("10. HTTP handler (Lua)", f"p50 latency, {label}, {name}",
                              {rt: [r["p50_us"] for r in rs] for rt, rs in pair.items()}, False, None, "µs",
                              "a new instance and Lua state per request" if connections == 1 else "")
                    table.add("10. HTTP handler (Lua)", f"p99 latency, {label}, {name}",
                              {rt: [r["p99_us"] for r in rs] for rt, rs in pair.items()}, False, None, "µs")
        finally:
            for proc in (nginx_proc, serve_proc, wasmtime_proc):
                proc.terminate()
                proc.wait()
    out = subprocess.run([str(INSTANCES), str(instances), "handler"], capture_output=True, text=True,
                         check=True).stdout
    last = parse(out.strip().splitlines()[-1])
    table.add("10. HTTP handler (Lua)", f"instantiating the handler, per request ({instances} made)",
              {"component": [last["us_per_instance"]]}, False, None, "µs",
              "serve's pooling allocator; before any Lua runs")


def make_certificates(dir):
    """A CA and a server certificate for localhost/127.0.0.1 signed by it, via openssl."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=dir)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=bench CA", "-days", "2")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (dir / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    for f in dir.iterdir():
        f.chmod(0o755)


def https(table, small, huge, reps):
    """HTTPS GETs through ssl.https: LuaSec (OpenSSL) natively, rustls in the component;
    curl on the same server as a second native reference for the 50 MiB download."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        certs = root / "certs"
        certs.mkdir()
        make_certificates(certs)
        proc, _, port = nginx(root / "nginx", (certs / "server.pem", certs / "server.key"))
        ca = certs / "ca.pem"
        cmds = {
            "native": NATIVE,
            "component": [str(CLI), "run", "--allow-net=127.0.0.1,localhost", "--dir", f"{certs}::{certs}"],
        }

        def get(rt, path, count):
            cmd = cmds[rt] + [str(LUA / "https.lua"), f"https://localhost:{port}/{path}", str(count), str(ca)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if out.returncode != 0:
                raise RuntimeError(f"{rt} https.lua failed: {out.stderr.strip()}")
            return parse(out.stdout.strip().splitlines()[-1])

        try:
            res = alternating(reps, lambda rt: get(rt, "small.txt", small))
            table.add("8. HTTPS GET (nginx, TLS 1.3)", "17 B body, new connection each",
                      {rt: [r["requests"] / r["seconds"] for r in rs] for rt, rs in res.items()}, True, None, "req/s",
                      note="native: LuaSec 1.2 (OpenSSL)")
            res = alternating(reps, lambda rt: get(rt, "huge.bin", huge))
            table.add("8. HTTPS GET (nginx, TLS 1.3)", "50 MiB body",
                      {rt: [r["bytes"] / r["seconds"] / 1e6 for r in rs] for rt, rs in res.items()}, True, None, "MB/s",
                      note="native: LuaSec (AES-GCM, AES-NI); component: ChaCha20")
            speeds = []
            for _ in range(reps):
                out = subprocess.run(["curl", "-s", "-o", "/dev/null", "--cacert", str(ca), "-w", "%{speed_download}",
                                      f"https://localhost:{port}/huge.bin"], capture_output=True, text=True, check=True)
                speeds.append(float(out.stdout) / 1e6)
            table.add("8. HTTPS GET (nginx, TLS 1.3)", "50 MiB body, curl", {"native": speeds}, True, None, "MB/s",
                      note="reference: curl (OpenSSL) in the native column")
        finally:
            proc.terminate()
            proc.wait()


def startup(table, runs):
    cmds = {
        "native": NATIVE + ["-e", 'require("socket") print(1)'],
        "component": [str(CLI), "-e", 'require("socket") print(1)'],
    }
    subprocess.run(cmds["component"], capture_output=True)  # fill the compile cache

    def measure(rt):
        t = time.perf_counter()
        subprocess.run(cmds[rt], capture_output=True, check=True)
        return (time.perf_counter() - t) * 1000

    res = alternating(runs, measure)
    # The whole run is the operation here.
    instr = counts("startup", lambda rt: instructions.total(cmds[rt]))
    table.add("6. start-up", "to first line printed", res, False, 1.5, "ms", instr=instr)


def memory(table, instances):
    # Many instances in one host: memory per instance, and the time to make one (start-up
    # once the process and the compiled code are there, as for an embedder).
    out = subprocess.run([str(INSTANCES), str(instances)], capture_output=True, text=True, check=True).stdout
    last = parse(out.strip().splitlines()[-1])
    table.add("6. start-up", f"new instance in a running host ({instances} made)", {"component": [last["us_per_instance"] / 1000]}, False, None, "ms")
    cmds = {
        "native": ["/usr/bin/time", "-f", "%M"] + NATIVE + ["-e", 'require("socket") require("socket").sleep(0.2)'],
        "component": ["/usr/bin/time", "-f", "%M", str(CLI), "-e", 'require("socket") require("socket").sleep(0.2)'],
    }
    res = {rt: [float(subprocess.run(cmd, capture_output=True, text=True).stderr.strip().splitlines()[-1])] for rt, cmd in cmds.items()}
    table.add("7. memory", "idle process RSS", res, False, 2.0, "KiB")
    table.add("7. memory", f"per instance, {instances} in one host", {"component": [last["per_instance_kib"]]}, False, None, "KiB")


def host_calls(table, calls, plugins, reps):
    """Lua calling a Rust function: in a plugin (the plugin world's `host` import) and in a
    native mlua state, the physical limit for a Lua → Rust call (bench/host_calls.rs)."""
    def measure():
        out = subprocess.run([str(HOST_CALLS), str(calls), str(plugins)], capture_output=True, text=True,
                             timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"bench_host_calls failed: {out.stderr.strip()}")
        found = {}
        for line in out.stdout.splitlines():
            found.update(parse(line))
        return found

    runs = [measure() for _ in range(reps)]

    def column(key):
        return [r[key] for r in runs]

    def count(variant):
        """Instructions per call of one variant: 2,000 and 12,000 calls under callgrind."""
        return instructions.per_op(
            lambda n: instructions.total([HOST_CALLS, "--only", variant, n]), 2000, 12000)

    def instr(name):
        return counts("host_calls", lambda rt: count(f"{'native' if rt == 'native' else 'plugin'}_{name}"))

    if COUNT["all"]:
        # Compiles the plugin world's component into the callgrind cache.
        instructions.total([HOST_CALLS, "--only", "plugin_noop", 1])
    scenario = "9. host functions"
    table.add(scenario, f"no-op call from Lua ({calls:,} calls)",
              {"native": column("native_mlua_noop_calls_per_s"), "component": column("plugin_noop_calls_per_s")},
              True, None, "calls/s", note="native: a Rust function in an mlua 0.12 state", instr=instr("noop"))
    table.add(scenario, "echo of a short string",
              {"native": column("native_mlua_echo_calls_per_s"), "component": column("plugin_echo_calls_per_s")},
              True, None, "calls/s", note="native: a Rust function in an mlua 0.12 state", instr=instr("echo"))
    table.add(scenario, "echo, async host function", {"component": column("plugin_echo_async_calls_per_s")},
              True, None, "calls/s")
    table.add(scenario, f"plugin calls (host → Lua), {plugins} plugins at once",
              {"component": column("plugin_calls_per_s")}, True, None, "calls/s")


def machine():
    cpu = "unknown CPU"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    native = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", "lua5.4", "lua-socket"], capture_output=True, text=True).stdout
    native = ", ".join(native.split("\n")[:-1]) or "?"
    return f"{os.cpu_count()} × {cpu}, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}; native: Debian {native}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one repetition (CI smoke test)")
    ap.add_argument("--out", help="where the report goes (default: BENCHMARKS.md; --quick writes one only when given)")
    ap.add_argument("--sockets", choices=("host", "wasmtime"), default="host",
                    help="whose wasi:sockets the component runs on: the host's own (default) or "
                         "wasmtime-wasi's, to measure the two side by side")
    opts = ap.parse_args()
    # The CLI reads it (host/src/main.rs); every component process inherits it.
    os.environ["LUASOCKET_WASI_SOCKETS"] = opts.sockets
    q = opts.quick
    reps = 1 if q else 5
    if instructions.available():
        COUNT["all"], COUNT["pingpong"] = not q, True
        instructions.warm(CLI)
    if not q:
        settle()
    started, load_before, cpu_before = time.monotonic(), os.getloadavg(), CpuUse.now()
    table = Table()
    measure_all(table, [
        ("1. bulk TCP", lambda: bulk(table, (8 if q else 512) << 20, reps)),
        ("2. ping-pong", lambda: pingpong(table, 2000 if q else 100_000, reps)),
        ("3. UDP", lambda: udp(table, 5000 if q else 200_000, reps)),
        ("4. select", lambda: select_loop(table, 100 if q else 1000, 5 if q else 20, reps)),
        ("4. select, component only", lambda: select_loop(table, 500 if q else 10_000, 2 if q else 5, 1, runtimes=("component",))),
        ("5. socket.http GET (nginx)", lambda: http(table, 50 if q else 2000, 10 if q else 200, reps)),
        ("8. HTTPS GET (nginx, TLS 1.3)", lambda: https(table, 20 if q else 500, 1 if q else 4, reps)),
        ("6. start-up", lambda: startup(table, 5 if q else 30)),
        ("7. memory", lambda: memory(table, 50 if q else 1000)),
        ("9. host functions", lambda: host_calls(table, 20_000 if q else 200_000, 10 if q else 100, reps)),
        ("10. HTTP handler (Lua)", lambda: handler(table, 200 if q else 20_000, reps, 20 if q else 2000)),
    ])
    if q and not opts.out:
        print("quick run done (BENCHMARKS.md not written)")
    else:
        write_report(opts.out or ROOT / "BENCHMARKS.md", table, reps, started, load_before, cpu_before)
    if table.failures:
        print(f"{len(table.failures)} scenario(s) failed: {'; '.join(table.failures)}", file=sys.stderr)
        return 1
    return 0


def settle(limit=300):
    """Waits (at most `limit` seconds) for the 1-minute load to fall below 1: the build just
    before the run, or a job just ended, would otherwise count as the machine being busy."""
    deadline = time.monotonic() + limit
    while os.getloadavg()[0] >= 1 and time.monotonic() < deadline:
        time.sleep(5)


class CpuUse:
    """CPU time of the whole machine and of this run (the harness and every process it
    waited for), so what other processes used during the run can be told apart from the
    benchmark's own load, which a load average mixes in."""

    def __init__(self, machine, ours):
        self.machine, self.ours = machine, ours

    @staticmethod
    def now():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for f in ("ru_utime", "ru_stime"))
        return CpuUse(busy, own)

    def others_since(self, before, seconds):
        """Average CPUs other processes kept busy (nginx's workers, which are not waited
        for, count here: an upper bound)."""
        return max(0.0, (self.machine - before.machine) - (self.ours - before.ours)) / seconds


def noisy(before, after, others):
    """What the load says about the wall-clock figures."""
    if before[0] > 1 or others > 0.25:
        return ("**noisy**: other processes competed for the CPUs, so the wall-clock figures (less "
                "so the ratios: runs alternate) are not a quiet machine's.")
    return "quiet (load below 1 at the start, other processes under a quarter of a CPU)."


def write_report(out, table, reps, started, load_before, cpu_before):
    seconds = time.monotonic() - started
    minutes = seconds / 60
    load_after = os.getloadavg()
    others = CpuUse.now().others_since(cpu_before, seconds)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    notes = ROOT / "bench" / "NOTES.md"
    failed = ""
    if table.failures:
        failed = (f"**{len(table.failures)} scenario(s) failed** ({', '.join(table.failures)}): "
                  "their rows say why.\n\n")
    Path(out).write_text(
        "# Benchmarks\n\n"
        "<!-- Generated by `./dev bench` (bench/run.py); the analysis comes from bench/NOTES.md. -->\n\n"
        f"Measured {stamp} on {machine()}, by `./dev bench` (bench/run.py), in {minutes:.1f} minutes.\n"
        f"Load average (1 min) {load_before[0]:.2f} before and {load_after[0]:.2f} after the run (the\n"
        f"benchmark's own processes are in the second); processes outside the benchmark kept\n"
        f"{others:.2f} of the {os.cpu_count()} CPUs busy on average: {noisy(load_before, load_after, others)}\n\n"
        f"The component ran on {SOCKETS[os.environ['LUASOCKET_WASI_SOCKETS']]}.\n\n"
        "Instructions per operation are counted by callgrind (bench/instructions.py): user space\n"
        "only, the same whatever else the machine is doing; they are the figures to compare\n"
        "between runs.\n\n"
        f"Each cell is the median of {reps} runs (start-up: 30) with the range in brackets; runs\n"
        "alternate native and component. Peers are native programs in other processes\n"
        "(bench/peer.rs) or nginx. Ratios are component/native: above 1 is faster for throughput,\n"
        "slower for latency.\n\n"
        + failed
        + table.markdown()
        + "\n"
        + ("\n" + notes.read_text() if notes.exists() else "")
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
