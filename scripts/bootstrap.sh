#!/usr/bin/env bash
# Takes a Debian bookworm machine with rustup to one that can build and test luasocket-wasi.
# Idempotent: every step checks first and does nothing when its result is already there, so a
# second run finishes in seconds. Sourced by ./dev; may also be run on its own.
#
#   scripts/bootstrap.sh           toolchain only (Rust target, clang 22, WASI sysroot)
#   scripts/bootstrap.sh demo      + nginx, which the demo fetches from
#   scripts/bootstrap.sh test      + what the test suite talks to (native Lua, servers)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The sysroot lives in the build directory, never in the source tree.
toolchain_dir="$root/target/toolchain"

# Pinned WASI sysroot: the npm package ships wasi-libc with libsetjmp, which Debian's lacks.
yowasp_pkg="@yowasp/clang@22.0.0-git20542-10"
yowasp_tgz="yowasp-clang-22.0.0-git20542-10.tgz"
yowasp_sha512="V31/z9GrJECKeACTDUyvg2llbEUiFi3bxtL5HSg7H/6sydSxdI/AoVAD9F5ozrfLjotWl0B9rghR87m+DUM/zg=="

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*" >&2; }

sudo_if_needed() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ $apt_updated = 0 ]; then
        say "apt-get update"
        sudo_if_needed apt-get update -qq
        apt_updated=1
    fi
    say "installing ${missing[*]}"
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

rust_target() {
    rustup target list --installed | grep -qx wasm32-wasip2 && return 0
    say "rustup target add wasm32-wasip2"
    rustup target add wasm32-wasip2
}

wasi_sysroot() {
    local sysroot="$toolchain_dir/sysroot" libs="$toolchain_dir/lib"
    [ -f "$libs/libsetjmp.a" ] && [ -f "$libs/libwasi-emulated-signal.a" ] \
        && [ -d "$sysroot/include/wasm32-wasip2" ] && return 0
    command -v npm >/dev/null || apt_install npm
    mkdir -p "$toolchain_dir"
    local tgz="$toolchain_dir/$yowasp_tgz"
    if [ ! -f "$tgz" ]; then
        say "fetching $yowasp_pkg"
        (cd "$toolchain_dir" && npm pack --silent "$yowasp_pkg" >/dev/null)
    fi
    local got
    got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
    if [ "$got" != "$yowasp_sha512" ]; then
        rm -f "$tgz"
        say "integrity check failed for $yowasp_tgz (got sha512-$got)"
        exit 1
    fi
    say "extracting the WASI sysroot"
    rm -rf "$sysroot" "$libs" && mkdir -p "$sysroot" "$libs"
    tar -xzf "$tgz" -O package/gen/llvm-resources.tar | tar -x -C "$sysroot"
    # Headers ship for wasip1 only; they are the same for p2.
    ln -sfn wasm32-wasip1 "$sysroot/include/wasm32-wasip2"
    # Only these two archives: the p1 libc.a beside them would shadow Rust's p2 libc.
    cp "$sysroot/lib/wasm32-wasip1/libsetjmp.a" "$sysroot/lib/wasm32-wasip1/libwasi-emulated-signal.a" "$libs/"
}

toolchain() {
    command -v rustup >/dev/null || { say "rustup is required (https://rustup.rs)"; exit 1; }
    apt_install clang-22 llvm-22 lld-22 openssl ca-certificates
    rust_target
    wasi_sysroot
}

# Pinned PyPI packages the tests run: an SMTP server and an FTP server the protocol tests
# start, and wasmtime's Python bindings, with which tests/python_host/ hosts the plugin
# world from Python (tests/python_host.rs).
python_packages="aiosmtpd==1.4.6 pyftpdlib==2.2.0 wasmtime==51.0.0"

# Whether every one of $python_packages is installed at its pinned version.
python_packages_present() {
    python3 - $python_packages <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    sys.exit(any(version(n) != v for n, v in (a.split("==") for a in sys.argv[1:])))
except PackageNotFoundError:
    sys.exit(1)
PY
}

# Debian's lua-redis: redis.lua, a pure-Lua Redis client written against LuaSocket, which
# tests/redis.rs runs unmodified inside the component. It is extracted from the .deb into
# the build directory rather than installed, so the system's Lua never sees it and the
# tests load exactly this copy (the package keeps the file under usr/share/lua/5.1).
lua_redis_dir="$root/target/test-deps/lua-redis"
lua_redis() {
    [ -f "$lua_redis_dir/usr/share/lua/5.1/redis.lua" ] && return 0
    local scratch
    scratch=$(mktemp -d)
    say "fetching lua-redis (apt-get download)"
    # A fresh machine may have no package lists yet: update once, then try again.
    if ! (cd "$scratch" && apt-get download -qq lua-redis); then
        [ $apt_updated = 1 ] || { sudo_if_needed apt-get update -qq; apt_updated=1; }
        (cd "$scratch" && apt-get download -qq lua-redis)
    fi
    # Extracted beside the final place and moved in whole, so an interrupted run never
    # leaves a half-extracted tree that the check above would take for done.
    rm -rf "$lua_redis_dir.partial"
    mkdir -p "$lua_redis_dir.partial"
    dpkg-deb -x "$scratch"/lua-redis_*.deb "$lua_redis_dir.partial"
    rm -rf "$scratch" "$lua_redis_dir"
    mv "$lua_redis_dir.partial" "$lua_redis_dir"
}

# The stock `wasmtime serve`, which the edge tests and the handler benchmark run app.wasm
# under (tests/edge.rs, bench/run.py): wasmtime-cli from crates.io, pinned to the wasmtime
# release the host is built on, with only the commands and features those use. It is built
# once into the user's cache, outside the checkout, so a fresh clone does not build it
# again; target/test-deps/wasmtime points at it.
wasmtime_version=48.0.8
wasmtime_features=run,serve,compile,cache,component-model-async,cranelift,parallel-compilation,pooling-allocator
wasmtime_root="${XDG_CACHE_HOME:-$HOME/.cache}/luasocket-wasi/wasmtime-cli-$wasmtime_version"
wasmtime_cli() {
    if [ ! -x "$wasmtime_root/bin/wasmtime" ]; then
        say "building wasmtime-cli $wasmtime_version (once, into $wasmtime_root; some minutes)"
        # Built beside its final place and moved in whole, as lua-redis is extracted.
        rm -rf "$wasmtime_root.partial"
        cargo install --quiet --locked wasmtime-cli --version "$wasmtime_version" \
            --no-default-features --features "$wasmtime_features" --root "$wasmtime_root.partial"
        rm -rf "$wasmtime_root"
        mv "$wasmtime_root.partial" "$wasmtime_root"
    fi
    mkdir -p "$root/target/test-deps"
    ln -sfn "$wasmtime_root/bin/wasmtime" "$root/target/test-deps/wasmtime"
}

# What the test suite and benchmarks run against: native Lua + LuaSocket for
# comparisons, nginx for HTTP, aiosmtpd for SMTP, pyftpdlib for FTP, redis-server for
# the lua-redis client, luarocks to install rocks into local trees, wasmtime (PyPI) for
# the Python host, and the wasmtime CLI for `wasmtime serve`.
test_deps() {
    # curl and lua-sec: the TLS tests' client and the HTTPS benchmark's native baseline.
    # luarocks, with Lua 5.4's headers and gcc for its C rock: tests/rocks.rs.
    # libnginx-mod-http-lua (OpenResty's engine in Debian's nginx): the native anchor of
    # the HTTP handler benchmark.
    apt_install lua5.4 lua-socket lua-sec nginx python3 redis-server openssl curl \
        luarocks liblua5.4-dev gcc libc6-dev libnginx-mod-http-lua
    if ! python_packages_present; then
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        say "pip install $python_packages"
        # Debian's own python3 refuses pip installs outside a venv (PEP 668); these
        # packages are only ever run by the tests, so that is fine here.
        python3 -m pip install --quiet --disable-pip-version-check $python_packages 2>/dev/null \
            || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages $python_packages
    fi
    lua_redis
    wasmtime_cli
}

main() {
    toolchain
    case "${1:-}" in
        test) test_deps ;;
        demo) apt_install nginx python3 ;;
        "") ;;
        *) say "unknown argument: $1"; exit 2 ;;
    esac
}

main "$@"
