#!/bin/sh
# CC for the fuzz build's C (scripts/fuzz.sh), called as: cc-cov.sh ARGS... The vendored
# Lua is compiled twice: for the fuzz targets (out dir under the target triple's
# directory), with libFuzzer's coverage counters added, and for the guest's build script
# (which compiles the Lua modules to bytecode), plain: that one links without libFuzzer's
# runtime.
for arg in "$@"; do
    case "$arg" in
    *"/$FUZZ_TRIPLE/"*) exec "$FUZZ_CC" $FUZZ_CC_COVERAGE "$@" ;;
    esac
done
exec "$FUZZ_CC" "$@"
