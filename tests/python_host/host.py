#!/usr/bin/env python3
"""A host for the plugin world written in Python, with the `wasmtime` package from PyPI:
what wit/plugin.wit says another language's host has to do, done.

    python3 tests/python_host/host.py PLUGIN.wasm [--cache DIR]

It instantiates the plugin component with WASI 0.2 from the package's own linker
(`Linker.add_wasip2`) and `luasocket:socket/host@0.1.0` defined in Python: `offered`
offers a module `host` with `kv_get`, `kv_set`, `echo` and `fail`, and `call` answers
them, turning the WIT value graphs into Python values and back (shared tables and
cycles included). WASI is the package's: stdout goes to a Python callback, and the
network is denied (its `WasiConfig` has no setting that grants it). It then loads tests/python_host/plugin.lua into a Lua state, calls
its functions, and checks what Lua sent, what it got back and what it printed. Every
failed check is reported; the exit status is 1 if any failed, 0 if all passed.

PYTHON_HOST_SABOTAGE=echo makes `echo` answer wrongly, to see the checks catch it.
"""
import argparse
import hashlib
import importlib.metadata
import os
import re
import socket
import sys
from pathlib import Path

import wasmtime
from wasmtime import component as wc

HERE = Path(__file__).resolve().parent
PACKAGE = "luasocket:socket"
VERSION = "0.1.0"
WASMTIME_VERSION = importlib.metadata.version("wasmtime")
SABOTAGE = os.environ.get("PYTHON_HOST_SABOTAGE", "")


# ---- Lua values as WIT graphs (wit/plugin.wit, `node` and `value`) ----

class Bytes(bytes):
    """A Lua string that is not UTF-8 (the `bytes` case), kept apart from `text`."""


def from_graph(value):
    """A `value` record (nodes, node 0 first) as Python: nil None, tables dicts or lists;
    a node reached twice is one Python object, so cycles come out as cycles."""
    nodes = value.nodes
    made = {}

    def node(i):
        if i in made:
            return made[i]
        n = nodes[i]
        tag, payload = n.tag, n.payload
        if tag == "nil":
            return None
        if tag in ("boolean", "integer", "number", "text"):
            return payload
        if tag == "bytes":
            return Bytes(payload)
        if tag == "sequence":
            out = made[i] = []
            out.extend(node(j) for j in payload)
            return out
        if tag == "table":
            out = made[i] = {}
            for k, v in payload:
                out[hashable(node(k))] = node(v)
            return out
        raise ValueError(f"unknown node {tag}")

    return node(0)


def hashable(key):
    # A table key that is a table: keyed by identity, as Lua does.
    return Key(key) if isinstance(key, (dict, list)) else key


class Key:
    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return isinstance(other, Key) and other.obj is self.obj


def to_graph(obj):
    """Python as a `value` record: the inverse of from_graph. A dict or list reached twice
    becomes one node referred to twice."""
    nodes = []
    seen = {}

    def add(o):
        if isinstance(o, Key):
            o = o.obj
        if isinstance(o, (dict, list)) and id(o) in seen:
            return seen[id(o)]
        i = len(nodes)
        nodes.append(None)
        if o is None:
            nodes[i] = wc.Variant("nil")
        elif isinstance(o, bool):
            nodes[i] = wc.Variant("boolean", o)
        elif isinstance(o, int):
            nodes[i] = wc.Variant("integer", o)
        elif isinstance(o, float):
            nodes[i] = wc.Variant("number", o)
        elif isinstance(o, Bytes) or isinstance(o, bytes):
            nodes[i] = wc.Variant("bytes", bytes(o))
        elif isinstance(o, str):
            nodes[i] = wc.Variant("text", o)
        elif isinstance(o, list):
            seen[id(o)] = i
            nodes[i] = wc.Variant("sequence", [add(v) for v in o])
        elif isinstance(o, dict):
            seen[id(o)] = i
            nodes[i] = wc.Variant("table", [(add(k), add(v)) for k, v in o.items()])
        else:
            raise TypeError(f"{type(o).__name__} does not cross into Lua")
        return i

    add(obj)
    record = wc.Record()
    record.nodes = nodes
    return record


# ---- the host API the plugin calls ----

class HostApi:
    """The functions offered to Lua, and a record of every call made."""

    def __init__(self):
        self.store = {}
        self.calls = []
        self.offered = 0

    def offer(self, _store):
        self.offered += 1
        offer = wc.Record()
        offer.module = "host"
        offer.functions = ["kv_get", "kv_set", "echo", "fail"]
        return offer

    def call(self, _store, name, args):
        """`call`: a list of value records for Ok, a str for Err (the result's cases)."""
        args = [from_graph(a) for a in args]
        self.calls.append((name, args))
        if name == "kv_set":
            key, value = args
            self.store[key] = value
            return []
        if name == "kv_get":
            (key,) = args
            if key not in self.store:
                return f"no such key: {key}"
            return [to_graph(self.store[key])]
        if name == "echo":
            if SABOTAGE == "echo":
                args = list(reversed(args))
            return [to_graph(a) for a in args]
        if name == "fail":
            return f"the host says no: {args[0]}"
        return f"no host function {name}"


# ---- the component ----

def engine():
    config = wasmtime.Config()
    # Lua's error handling in the guest is wasm exceptions (setjmp/longjmp), which
    # wasmtime builds on its GC support.
    config.wasm_exceptions = True
    config.wasm_gc = True
    return wasmtime.Engine(config)


def load_component(eng, path, cache):
    """The compiled component, from `cache` when it holds this component compiled by this
    package version (a cold compile takes a while)."""
    data = Path(path).read_bytes()
    if cache:
        key = hashlib.sha256(data + WASMTIME_VERSION.encode()).hexdigest()[:24]
        cached = Path(cache) / f"plugin-py-{key}.cwasm"
        if cached.exists():
            try:
                return wc.Component.deserialize_file(eng, str(cached))
            except wasmtime.WasmtimeError:
                cached.unlink()
        comp = wc.Component(eng, data)
        Path(cache).mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(comp.serialize())
        tmp.replace(cached)
        return comp
    return wc.Component(eng, data)


class Plugin:
    """One instance of the plugin component with one Lua state, called by name."""

    def __init__(self, eng, comp, api, printed):
        self.store = wasmtime.Store(eng)
        wasi = wasmtime.WasiConfig()
        wasi.stdout_custom = lambda chunk: printed.append(bytes(chunk))
        wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        linker = wc.Linker(eng)
        linker.add_wasip2()
        with linker.root() as root:
            with root.add_instance(f"{PACKAGE}/host@{VERSION}") as host:
                host.add_func("offered", api.offer)
                host.add_func("call", api.call)
        self.instance = linker.instantiate(self.store, comp)
        lua = self.instance.get_export_index(self.store, f"{PACKAGE}/lua@{VERSION}")
        assert lua is not None, "the component exports no lua interface"

        def func(name):
            index = self.instance.get_export_index(self.store, name, lua)
            assert index is not None, f"no export {name}"
            return self.instance.get_func(self.store, index)

        self._new_state = func("new-state")
        self._load = func("[method]state.load")
        self._call = func("[method]state.call")
        self.state = self.invoke(self._new_state)
        if isinstance(self.state, wc.Variant):
            raise RuntimeError(f"new-state failed: {self.state}")

    def invoke(self, f, *args):
        result = f(self.store, *args)
        f.post_return(self.store)
        return result

    def load(self, chunk_name, source):
        result = self.invoke(self._load, self.state, chunk_name, source)
        if isinstance(result, wc.Variant):
            raise RuntimeError(f"load failed: {result.tag}: {result.payload}")

    def call(self, name, *args):
        """Lua's results as Python values, or the failure variant (tag, message)."""
        result = self.invoke(self._call, self.state, name, [to_graph(a) for a in args])
        if isinstance(result, wc.Variant):
            return result
        return [from_graph(v) for v in result]


# ---- the checks ----

class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def __call__(self, what, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed.append(f"{what}: {detail}")
            print(f"FAILED {what}: {detail}", file=sys.stderr)


def run(path, cache):
    eng = engine()
    comp = load_component(eng, path, cache)
    api = HostApi()
    printed = []
    plugin = Plugin(eng, comp, api, printed)
    plugin.load("=plugin.lua", (HERE / "plugin.lua").read_bytes())
    check = Checks()
    check("offered is asked once per Lua state", api.offered == 1, f"asked {api.offered} times")

    # Lua → Python: a nested table, every value type, stored with kv_set.
    got = plugin.call("store_profile")
    check("store_profile returned", got == ["stored"], repr(got))
    profile = api.store.get("profile")
    check("kv_set arrived as a dict", isinstance(profile, dict), repr(profile))
    if isinstance(profile, dict):
        check("text", profile.get("name") == "Ada", repr(profile.get("name")))
        check("integer", profile.get("age") == 36 and type(profile.get("age")) is int, repr(profile.get("age")))
        check("number", profile.get("ratio") == 0.25 and type(profile.get("ratio")) is float, repr(profile.get("ratio")))
        check("boolean", profile.get("admin") is False, repr(profile.get("admin")))
        check("bytes (not UTF-8)", isinstance(profile.get("blob"), Bytes) and profile["blob"] == b"\xff\x00\xfe",
              repr(profile.get("blob")))
        check("sequence of tables", profile.get("langs") == [{"name": "Lua", "year": 1993}, {"name": "Python", "year": 1991}],
              repr(profile.get("langs")))
        check("integer and float keys", profile.get("numbers") == {1: "one", 2.5: "two and a half"},
              repr(profile.get("numbers")))
        check("a table that refers to itself", isinstance(profile.get("me"), dict) and profile["me"] is profile,
              repr(type(profile.get("me"))))

    # Python → Lua: kv_get hands it back; Lua checks it and reports what it saw.
    got = plugin.call("read_profile")
    check("read_profile: Lua saw the same values", got == ["Ada 36 0.25 false ff00fe Lua1993 Python1991 one two and a half true"],
          repr(got))

    # Several values, nil among them, both ways through echo.
    got = plugin.call("echo_many")
    check("echo: several values, nil in the middle", got == ["4 1 nil three true"], repr(got))

    # Host errors become Lua errors with the host's message, caught by pcall.
    got = plugin.call("errors")
    check("kv_get of a missing key raises in Lua, position-prefixed",
          len(got) == 2 and isinstance(got[0], str) and re.fullmatch(r"plugin\.lua:\d+: no such key: nope", got[0]),
          repr(got))
    check("fail's message reaches Lua", len(got) == 2 and isinstance(got[1], str) and got[1].endswith("the host says no: 42"),
          repr(got))

    # Lua errors reach Python as the call's failure.
    got = plugin.call("lua_error", "from Python")
    check("a Lua error is the call's runtime failure",
          isinstance(got, wc.Variant) and got.tag == "runtime" and "boom: from Python" in got.payload, repr(got))

    # Arguments from Python, a table with a cycle, through Lua and back.
    ring = {"name": "ring"}
    ring["next"] = ring
    got = plugin.call("roundtrip", ring, [1, 2, None, 4])
    check("a Python cycle survives Lua", len(got) == 2 and isinstance(got[0], dict) and got[0].get("next") is got[0],
          repr(got))
    check("a list with a hole becomes a table", len(got) == 2 and got[1] == {1: 1, 2: 2, 4: 4}, repr(got))

    # WASI sockets: linked (the guest's socket calls reach them), and the package's
    # WasiConfig grants no network, so a connect to a listening port is refused.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        got = plugin.call("connect", listener.getsockname()[1])
    check("connect is denied: the package's WASI grants no network", got == [None, "permission denied"], repr(got))

    # WASI: print went to the stdout Python gave the instance.
    out = b"".join(printed).decode()
    check("print goes through WASI stdout", out == "hello from Lua inside Python\n", repr(out))

    check("every call reached the host", [c[0] for c in api.calls] == [
        "kv_set", "kv_get", "echo", "kv_get", "fail", "echo"], repr([c[0] for c in api.calls]))
    return check


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("component", help="the plugin-world component (.wasm)")
    ap.add_argument("--cache", help="a directory to keep the compiled component in")
    opts = ap.parse_args()
    check = run(opts.component, opts.cache)
    if check.failed:
        print(f"python host: {len(check.failed)} of {check.passed + len(check.failed)} checks failed", file=sys.stderr)
        return 1
    print(f"python host (wasmtime {WASMTIME_VERSION}): all {check.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
