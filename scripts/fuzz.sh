#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (fuzz/, see fuzz/README.md), on the stable
# toolchain: a plain cargo build of fuzz/ with LLVM's sanitizer-coverage flags added to
# the crates under test (fuzz/rustc-cov.sh), in its own target dir (fuzz/target).
#
#   scripts/fuzz.sh ci                  build, replay the seeds, run each target briefly
#                                       (FUZZ_CI_SECONDS, default 25) from a fresh corpus
#   scripts/fuzz.sh long [SECONDS]      run each target SECONDS (default 600) on the
#                                       growing corpus in fuzz/corpus; FUZZ_JOBS=2 runs two
#                                       targets at a time; prints a results table
#   scripts/fuzz.sh build               just build the targets
#   scripts/fuzz.sh run TARGET [ARGS]   run one target with libFuzzer ARGS on fuzz/corpus
#   scripts/fuzz.sh repro TARGET FILE   run one input (a crash artifact) once
#
# Targets: buffer mime url http wit classes. FUZZ_TARGETS="buffer mime" picks some.
# The wit and classes targets embed the component: it is built first (as ./dev build
# does) if missing.
# Exits non-zero if any target finds a crash (artifacts in fuzz/artifacts/TARGET/).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz="$root/fuzz"
cd "$root"

read -r -a targets <<<"${FUZZ_TARGETS:-buffer mime url http wit classes}"
triple=$(rustc -vV | sed -n 's/^host: //p')
# FUZZ_TARGET_DIR: where to build (default fuzz/target), e.g. to time a cold build.
target_dir=${FUZZ_TARGET_DIR:-$fuzz/target}
bin_dir="$target_dir/$triple/release"
component="$root/target/wasm32-wasip2/guest/luasocket_wasi.wasm"

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }

build() {
    if [ ! -f "$component" ]; then
        say "fuzz: building the component (the wit target embeds it)"
        scripts/bootstrap.sh
        eval "$(./dev env)"
        cargo build --profile guest --target wasm32-wasip2 -p luasocket-wasi
    fi
    say "fuzz: building the targets (instrumented, in fuzz/target)"
    # Crates whose code the fuzzer should see: ours, and the host side of the sockets.
    export FUZZ_INSTRUMENT="luasocket_wasi luasocket_wasi_host luasocket_wasi_fuzz
        buffer mime url http wit classes mlua wasmtime_wasi wasmtime_wasi_io"
    export RUSTC_WRAPPER="$fuzz/rustc-cov.sh"
    # The vendored C Lua too, when clang is there (gcc lacks libFuzzer's counters).
    local cc="" triple_var=${triple//-/_}
    for c in clang-22 clang; do
        if command -v "$c" >/dev/null; then cc=$c; break; fi
    done
    if [ -n "$cc" ]; then
        export "CC_$triple_var=$cc"
        export "CFLAGS_$triple_var=-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp"
    fi
    local start=$SECONDS
    # --target keeps the flags away from build scripts and proc macros.
    CARGO_TARGET_DIR="$target_dir" cargo build --locked --release \
        --manifest-path "$fuzz/Cargo.toml" --target "$triple" --bins
    say "fuzz: built in $((SECONDS - start)) s"
}

# run TARGET SECONDS CORPUS LOG [extra libFuzzer args]: one libFuzzer session.
run() {
    local target=$1 seconds=$2 corpus=$3 log=$4
    shift 4
    mkdir -p "$corpus" "$fuzz/artifacts/$target" "$(dirname "$log")"
    local seeds=()
    [ -d "$fuzz/seeds/$target" ] && seeds=("$fuzz/seeds/$target")
    # -timeout: one input over 10 s is a hang; -rss_limit_mb: a leak or a blow-up.
    "$bin_dir/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$fuzz/artifacts/$target/" \
        "$@" "$corpus" "${seeds[@]}" >"$log" 2>&1
}

# One line of the results table from a libFuzzer log.
summary() {
    local target=$1 log=$2 status=$3
    local execs rate cov ft corp crashes
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(grep -c 'Test unit written to' "$log" || true)
    [ "$status" = 0 ] || crashes="${crashes} (exit $status)"
    printf '| %-7s | %12s | %7s | %6s | %6s | %-12s | %s |\n' \
        "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
}

table_head() {
    printf '| %-7s | %12s | %7s | %6s | %6s | %-12s | %s |\n' \
        target executions exec/s cov ft corpus crashes
    printf '|%s|%s|%s|%s|%s|%s|%s|\n' --------- -------------- --------- -------- -------- \
        -------------- ---------
}

# Runs the targets (at most $FUZZ_JOBS at a time) and prints the table; fails on a crash.
campaign() {
    local seconds=$1 corpus_root=$2 logs=$3 jobs=${FUZZ_JOBS:-1}
    mkdir -p "$logs"
    local pids=() names=() failed=0
    for target in "${targets[@]}"; do
        say "fuzz: $target for ${seconds} s (log: ${logs#"$root"/}/$target.log)"
        (
            status=0
            run "$target" "$seconds" "$corpus_root/$target" "$logs/$target.log" || status=$?
            echo "$status" >"$logs/$target.status"
        ) &
        pids+=($!)
        names+=("$target")
        if [ "${#pids[@]}" -ge "$jobs" ]; then
            wait "${pids[0]}"
            pids=("${pids[@]:1}")
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    table_head
    for target in "${names[@]}"; do
        local status
        status=$(cat "$logs/$target.status")
        summary "$target" "$logs/$target.log" "$status"
        if [ "$status" != 0 ]; then
            failed=1
            say "fuzz: $target failed (exit $status); the end of its log:"
            tail -40 "$logs/$target.log" >&2
        fi
    done
    return "$failed"
}

case "${1:-}" in
    build)
        build ;;
    ci)
        start=$SECONDS
        build
        corpus=$(mktemp -d)
        trap 'rm -rf "$corpus"' EXIT
        status=0
        campaign "${FUZZ_CI_SECONDS:-25}" "$corpus" "$fuzz/target/logs/ci" || status=$?
        say "fuzz: ci done in $((SECONDS - start)) s"
        exit "$status" ;;
    long)
        build
        campaign "${2:-600}" "$fuzz/corpus" "$fuzz/target/logs/long" ;;
    run)
        target=${2:?target}
        shift 2
        build
        mkdir -p "$fuzz/corpus/$target" "$fuzz/artifacts/$target"
        seeds=()
        [ -d "$fuzz/seeds/$target" ] && seeds=("$fuzz/seeds/$target")
        exec "$bin_dir/$target" -artifact_prefix="$fuzz/artifacts/$target/" "$@" \
            "$fuzz/corpus/$target" "${seeds[@]}" ;;
    repro)
        target=${2:?target}
        file=${3:?file}
        build
        exec "$bin_dir/$target" "$file" ;;
    *)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
        exit 2 ;;
esac
