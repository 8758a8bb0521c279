"""Instructions per operation, counted by callgrind: a figure a noisy machine cannot move.

Each scenario is run at two sizes under `valgrind --tool=callgrind`, and the difference in
instructions divided by the difference in operations is the cost of one operation, with
start-up and teardown cancelled out. callgrind counts user-space instructions only (the
kernel's work, the system calls, is not in it; `perf stat` could add it, but this machine's
perf has no hardware counters), and it counts each iteration of a `rep` string instruction
as one (so a 4 KiB zero-fill weighs 4,096): the counts compare like with like, they are
not cycles.
"""
import os
import re
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The component's compiled code under valgrind: valgrind reports other CPU features, so the
# compile cache needs its own directory (a cold compile is billions of instructions).
CACHE = ROOT / "target" / "bench-callgrind-cache"


def available():
    try:
        return subprocess.run(["valgrind", "--version"], capture_output=True).returncode == 0
    except OSError:
        return False


def total(cmd, timeout=1800):
    """Instructions the command executed (user space), or raises with its stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        out_file = Path(tmp) / "callgrind.out"
        env = dict(os.environ, LUASOCKET_WASI_CACHE=str(CACHE))
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *map(str, cmd)],
            capture_output=True, text=True, timeout=timeout, env=env)
        if run.returncode != 0:
            raise RuntimeError(f"under callgrind, {cmd[0]} failed: {run.stderr.strip()[-300:]}")
        for line in out_file.read_text().splitlines():
            m = re.match(r"(?:summary|totals):\s*(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError("callgrind wrote no total")


def per_op(count_at, small, large, ops_per_unit=1.0):
    """(instructions at `large` - at `small`) per operation; `count_at(n)` runs the
    scenario with size n and returns its total; an operation is `ops_per_unit` of n."""
    return (count_at(large) - count_at(small)) / ((large - small) * ops_per_unit)


def warm(cli):
    """Compiles the component once into the callgrind cache."""
    total([cli, "-e", "return 1"])
