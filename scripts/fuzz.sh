#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (fuzz/, see fuzz/README.md), on the stable
# toolchain: a plain cargo build of fuzz/ with LLVM's sanitizer-coverage flags added to
# the crates under test (fuzz/rustc-cov.sh), in its own target dir (fuzz/target).
#
#   scripts/fuzz.sh ci                  build, replay every committed seed, then fuzz each
#                                       target for a fixed number of executions from a
#                                       fixed libFuzzer seed (FUZZ_SEED, default 1) and a
#                                       fresh corpus, so that a commit's result is the
#                                       same on every run (FUZZ_CI_PERCENT scales the
#                                       executions, default 100)
#   scripts/fuzz.sh long [SECONDS]      exploratory: each target SECONDS (default 600) from
#                                       a fresh random libFuzzer seed, on the growing corpus
#                                       in fuzz/corpus; FUZZ_JOBS=2 runs two targets at a
#                                       time; prints a results table
#   scripts/fuzz.sh build               just build the targets
#   scripts/fuzz.sh replay              replay every committed seed once
#   scripts/fuzz.sh run TARGET [ARGS]   run one target with libFuzzer ARGS on fuzz/corpus
#   scripts/fuzz.sh repro TARGET FILE   run one input (a crash artifact) once
#
# Targets: buffer mime url http wit classes. FUZZ_TARGETS="buffer mime" picks some.
# The wit and classes targets embed the component: it is built first (as ./dev build
# does) if missing. Exits non-zero if any target finds a crash (artifacts in
# fuzz/artifacts/TARGET/), or if a ci run cannot finish its executions in time.
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
    # The vendored C Lua: a fixed string-hash seed (Lua mixes the time and addresses into
    # it), so that the same input walks the same table code on every run; and coverage
    # counters too, when clang is there (gcc lacks libFuzzer's).
    local cc="" triple_var=${triple//-/_} cflags="-Dluai_makeseed(L)=0x5eedu"
    for c in clang-22 clang; do
        if command -v "$c" >/dev/null; then cc=$c; break; fi
    done
    local coverage=""
    if [ -n "$cc" ]; then
        # Through fuzz/cc-cov.sh: only the targets' copy of Lua gets the counters.
        coverage="-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp"
        export FUZZ_CC=$cc FUZZ_CC_COVERAGE=$coverage FUZZ_TRIPLE=$triple
        export "CC_$triple_var=$fuzz/cc-cov.sh"
    fi
    export "CFLAGS_$triple_var=$cflags"
    # Lua's build script (lua-src) does not tell cargo it reads CFLAGS, so new flags
    # would never reach it: rebuild both of its builds (the targets', and the one for the
    # guest's build script) when they change.
    local stamp="$target_dir/lua-cflags"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$cc $cflags $coverage (cc-cov)" ]; then
        CARGO_TARGET_DIR="$target_dir" cargo clean --release --target "$triple" \
            --manifest-path "$fuzz/Cargo.toml" -p mlua-sys
        CARGO_TARGET_DIR="$target_dir" cargo clean --release \
            --manifest-path "$fuzz/Cargo.toml" -p mlua-sys
        mkdir -p "$target_dir"
        printf '%s\n' "$cc $cflags $coverage (cc-cov)" >"$stamp"
    fi
    local start=$SECONDS
    # --target keeps the flags away from build scripts and proc macros.
    CARGO_TARGET_DIR="$target_dir" cargo build --locked --release \
        --manifest-path "$fuzz/Cargo.toml" --target "$triple" --bins
    say "fuzz: built in $((SECONDS - start)) s"
}

# Executions per target in `ci`: about 25 s each on the 2-core machine of fuzz/README.md.
# A count, not a time, so that a faster or slower machine fuzzes the same inputs.
ci_runs() {
    local runs
    case $1 in
        buffer) runs=1000000 ;;
        mime) runs=200000 ;;
        url) runs=80000 ;;
        http) runs=140000 ;;
        wit) runs=10000 ;;
        classes) runs=2000 ;;
        *) runs=10000 ;;
    esac
    echo $((runs * ${FUZZ_CI_PERCENT:-100} / 100))
}

# How the fuzz binaries are started (`launch`): from fuzz/, with paths relative to it, in
# an environment of their own (env -i) and with address-space randomisation off where
# the kernel lets us (setarch -R). Lua places table keys by their addresses, so where
# memory lands decides which collision paths an input takes, and so the coverage. With
# ASLR off, what still moves memory is what the kernel copies onto the stack before
# main (the command line and the environment) and what the process allocates for it;
# relative paths and a fixed environment make those the same in any checkout and any
# shell.
fixed_env=(env -i PATH=/usr/local/bin:/usr/bin:/bin RUST_BACKTRACE=1)
no_aslr=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
    no_aslr=(setarch "$(uname -m)" -R)
fi

# rel PATH: PATH relative to fuzz/, where the binaries run.
rel() {
    realpath -m --relative-to="$fuzz" "$1"
}

# launch TARGET [ARGS]: runs the fuzz binary TARGET as described above. ARGS that are
# paths must already be relative to fuzz/ (see `rel`).
launch() {
    local target=$1
    shift
    (cd "$fuzz" && exec "${fixed_env[@]}" "${no_aslr[@]}" "$(rel "$bin_dir/$target")" "$@")
}

# The committed seeds of TARGET, one per line (relative to fuzz/), in a fixed order (a
# directory would be listed in whatever order the file system keeps it).
seed_files() {
    [ -d "$fuzz/seeds/$1" ] || return 0
    (cd "$fuzz" && find "seeds/$1" -maxdepth 1 -type f | LC_ALL=C sort)
}

# run TARGET CORPUS LOG [libFuzzer args]: one libFuzzer session.
run() {
    local target=$1 corpus=$2 log=$3
    shift 3
    mkdir -p "$corpus" "$fuzz/artifacts/$target" "$(dirname "$log")"
    # -timeout: one input over 10 s is a hang; -rss_limit_mb: a leak or a blow-up. The
    # corpus comes first: libFuzzer writes new inputs to the first directory it is given
    # (the seeds directory `long` adds must stay as committed).
    launch "$target" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" "$(rel "$corpus")" "$@" >"$log" 2>&1
}

# mode_args MODE TARGET LOGS SECONDS: the libFuzzer arguments of one session, a line each.
mode_args() {
    local mode=$1 target=$2 logs=$3 seconds=$4 list
    if [ "$mode" = ci ]; then
        # Seeds by name, as a list; a fixed seed; a count; no rereading of the corpus
        # (which goes by the clock). The time limit only catches a machine far too slow.
        list="$logs/$target.seeds"
        # (No newline at the end: libFuzzer would take it as part of the last name.)
        seed_files "$target" | paste -sd, - | tr -d '\n' >"$list"
        printf '%s\n' -runs="$(ci_runs "$target")" -seed="${FUZZ_SEED:-1}" -reload=0 \
            -max_total_time="${FUZZ_CI_LIMIT:-600}"
        [ -s "$list" ] && printf '%s\n' -seed_inputs=@"$(rel "$list")"
    else
        # -seed=0: libFuzzer picks one and prints it ("Seed: N"), to replay the session.
        printf '%s\n' -max_total_time="$seconds" -seed=0
        [ -d "$fuzz/seeds/$target" ] && printf '%s\n' "seeds/$target"
    fi
    return 0
}

# Replays every committed seed of each target once, `regression-*` inputs included, so
# that an old bug coming back is told apart from a new find.
replay() {
    local logs=$1 failed=0 target files log
    mkdir -p "$logs"
    for target in "${targets[@]}"; do
        mapfile -t files < <(seed_files "$target")
        [ "${#files[@]}" -gt 0 ] || continue
        log="$logs/$target.replay.log"
        # Started as `ci` starts them, so that an input that failed there fails here.
        if launch "$target" -timeout=10 "${files[@]}" >"$log" 2>&1; then
            say "fuzz: $target: ${#files[@]} seeds replayed"
        else
            failed=1
            say "fuzz: $target: a committed seed fails; the end of ${log#"$root"/}:"
            tail -30 "$log" >&2
        fi
    done
    return "$failed"
}

# How a crash becomes a regression input and a test, for each artifact newer than $1.
crash_help() {
    local since=$1 found
    found=$(find "$fuzz/artifacts" -type f -newer "$since" \( -name 'crash-*' -o \
        -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) 2>/dev/null | LC_ALL=C sort)
    [ -n "$found" ] || return 0
    say "fuzz: new crash inputs:"
    printf '  %s\n' ${found//$root\//} >&2
    cat >&2 <<'HELP'
Each one becomes a committed regression input and a test:
  scripts/fuzz.sh repro TARGET fuzz/artifacts/TARGET/crash-...   # see it fail
  cp fuzz/artifacts/TARGET/crash-... fuzz/seeds/TARGET/regression-WHAT-IT-BROKE
  add a test under tests/ that does what the input does through the public API, fix
  the bug, and commit the seed, the test and the fix together (fuzz/README.md, "Bugs")
HELP
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

# campaign MODE CORPUS_ROOT LOGS [SECONDS]: runs the targets (at most $FUZZ_JOBS at a time)
# and prints the table. Fails on a crash, and in ci on a session that stopped short of
# its executions (then its result would depend on the machine).
campaign() {
    local mode=$1 corpus_root=$2 logs=$3 seconds=${4:-} jobs=${FUZZ_JOBS:-1}
    mkdir -p "$logs"
    local pids=() names=() failed=0 args=()
    for target in "${targets[@]}"; do
        mapfile -t args < <(mode_args "$mode" "$target" "$logs" "$seconds")
        say "fuzz: $target ${args[0]} ${args[1]} (log: ${logs#"$root"/}/$target.log)"
        (
            status=0
            run "$target" "$corpus_root/$target" "$logs/$target.log" "${args[@]}" || status=$?
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
        local status execs
        status=$(cat "$logs/$target.status")
        summary "$target" "$logs/$target.log" "$status"
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log" | tail -1)
        if [ "$status" != 0 ]; then
            failed=1
            say "fuzz: $target failed (exit $status); the end of its log:"
            tail -40 "$logs/$target.log" >&2
        elif [ "$mode" = ci ] && [ "${execs:-0}" -lt "$(ci_runs "$target")" ]; then
            failed=1
            say "fuzz: $target stopped at ${execs:-0} of $(ci_runs "$target") executions" \
                "(FUZZ_CI_LIMIT=${FUZZ_CI_LIMIT:-600} s)"
        fi
    done
    return "$failed"
}

case "${1:-}" in
    build)
        build ;;
    replay)
        build
        replay "$fuzz/target/logs/replay" ;;
    ci)
        start=$SECONDS
        build
        logs="$fuzz/target/logs/ci"
        replay "$logs"
        # A fresh corpus each run, at the same path relative to fuzz/ (a mktemp name would
        # change the command line, see `launch`).
        corpus="$target_dir/ci-corpus"
        rm -rf "$corpus"
        mkdir -p "$corpus"
        trap 'rm -rf "$corpus"' EXIT
        touch "$corpus/.start"
        status=0
        campaign ci "$corpus" "$logs" || status=$?
        crash_help "$corpus/.start"
        [ "${#no_aslr[@]}" -gt 0 ] ||
            say "fuzz: address randomisation could not be switched off (setarch -R):" \
                "coverage numbers of the Lua targets may differ slightly between runs"
        say "fuzz: ci done in $((SECONDS - start)) s (libFuzzer seed ${FUZZ_SEED:-1})"
        exit "$status" ;;
    long)
        build
        marker=$(mktemp)
        trap 'rm -f "$marker"' EXIT
        status=0
        campaign long "$fuzz/corpus" "$fuzz/target/logs/long" "${2:-600}" || status=$?
        crash_help "$marker"
        say "fuzz: each log's \"Seed:\" line is its libFuzzer seed; to fuzz that way again:" \
            "scripts/fuzz.sh run TARGET -seed=N -max_total_time=SECONDS"
        exit "$status" ;;
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
        # Started as `ci` starts it: where Lua's tables land, and so what an input does,
        # can depend on the command line and the environment. FUZZ_TRACE still gets in.
        [ -z "${FUZZ_TRACE:-}" ] || fixed_env+=(FUZZ_TRACE="$FUZZ_TRACE")
        launch "$target" "$(rel "$file")"
        ;;
    *)
        sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
        exit 2 ;;
esac
