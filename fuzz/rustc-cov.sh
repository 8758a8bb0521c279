#!/bin/sh
# RUSTC_WRAPPER for the fuzz build (scripts/fuzz.sh). Called as: rustc-cov.sh RUSTC ARGS...
#
# 1. Adds libFuzzer's coverage instrumentation (LLVM sanitizer-coverage: edge counters, PC
#    table, comparison tracing) to the crates named in $FUZZ_INSTRUMENT only: instrumenting
#    wasmtime's compiler or tokio would slow the build and the runs and only add noise.
# 2. Builds the guest crate (luasocket_wasi) as an rlib only: its cdylib exports
#    component-model names ("...:socket/dns@0.1.0#...") that no native linker accepts in a
#    version script, and the targets need the rlib alone. An empty file stands in for the
#    .so so that cargo sees the unit as up to date.
#
# Only units built for the fuzz target are instrumented (cargo passes them --target): a
# crate also built for a build script (mlua, which compiles the guest's Lua modules to
# bytecode) would otherwise link without libFuzzer's runtime.
rustc="$1"
shift
crate=""
prev=""
out_dir=""
cdylib=""
targeted=""
for arg in "$@"; do
    case "$prev" in
    --target) targeted=1 ;;
    --crate-name) crate="$arg" ;;
    --out-dir) out_dir="$arg" ;;
    --crate-type) [ "$arg" = cdylib ] && cdylib=1 ;;
    esac
    prev="$arg"
done

if [ "$crate" = luasocket_wasi ] && [ -n "$cdylib" ]; then
    # Rebuild the argument list without "--crate-type cdylib".
    skip=""
    for arg in "$@"; do
        shift
        if [ -n "$skip" ]; then
            skip=""
            [ "$arg" = cdylib ] && continue
            set -- "$@" --crate-type
        elif [ "$arg" = --crate-type ]; then
            skip=1
            continue
        fi
        set -- "$@" "$arg"
    done
fi

flags=""
case " $(echo ${FUZZ_INSTRUMENT:-}) " in
*" $crate "*)
    [ -n "$crate" ] && [ -n "$targeted" ] && flags=1 ;;
esac

if [ -n "$flags" ]; then
    "$rustc" "$@" \
        -Cpasses=sancov-module \
        -Cllvm-args=-sanitizer-coverage-level=4 \
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
        -Cllvm-args=-sanitizer-coverage-pc-table \
        -Cllvm-args=-sanitizer-coverage-trace-compares \
        --cfg fuzzing
else
    "$rustc" "$@"
fi
status=$?
if [ "$status" = 0 ] && [ -n "$cdylib" ] && [ "$crate" = luasocket_wasi ] && [ -n "$out_dir" ]; then
    : >"$out_dir/libluasocket_wasi.so"
fi
exit "$status"
