#!/usr/bin/env bash
# make fuzz: the long libFuzzer run.  Builds every test/fuzz/fuzz_*.cpp
# target with clang-14 (CMake option QXT_FUZZ=ON: libFuzzer + ASan + UBSan)
# into build-fuzz/ and runs each for QXT_FUZZ_SECONDS on a temporary copy of
# its seed corpus test/fuzz/corpus/<name>/ (the repository is not touched).
#
# Usage: scripts/checks/fuzz.sh
#   QXT_FUZZ_SECONDS=N   seconds per fuzzer (default 300)
#   QXT_FUZZ_JOBS=N      parallel fuzzers (default: number of CPUs, at most
#                        the number of targets)
#   QXT_FUZZ_KEEP=DIR    keep the grown corpora in DIR/<name>/ (to review and
#                        add interesting inputs to the seed corpus by hand)
#
# Per fuzzer: executions, executions/s, crashes (0 or 1: libFuzzer stops at
# the first), seed corpus size and the corpus size at the end, coverage
# (cov/ft).  Crash inputs are kept as build/logs/fuzz-long/<name>-crash-*.
# Last line: "N passed, M failed" (one per fuzzer).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"

SECONDS_EACH="${QXT_FUZZ_SECONDS:-300}"
case "$SECONDS_EACH" in
    ''|*[!0-9]*|0) echo "QXT_FUZZ_SECONDS must be a positive whole number" >&2; exit 2 ;;
esac
LOGDIR="$ROOT/build/logs/fuzz-long"
mkdir -p "$LOGDIR"
TMP="$(mktemp -d -t qxt-fuzz.XXXXXX)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$(now_s)

targets=()
for src in test/fuzz/fuzz_*.cpp; do
    [ -e "$src" ] && targets+=("$(basename "$src" .cpp)")
done
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz: no test/fuzz/fuzz_*.cpp target"
    echo "0 passed, 1 failed"
    exit 1
fi
JOBS="${QXT_FUZZ_JOBS:-$(nproc)}"
[ "$JOBS" -gt "${#targets[@]}" ] && JOBS="${#targets[@]}"
[ "$JOBS" -lt 1 ] && JOBS=1

say "fuzz: building ${targets[*]} with clang-14 into build-fuzz/ (log: build/logs/fuzz-long/build.log)"
if ! run_logged "$LOGDIR/build.log" bash -c '
        CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz \
            -DCMAKE_CXX_COMPILER=clang++-14 \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQXT_FUZZ=ON &&
        cmake --build build-fuzz -j"$(nproc)" --target "$@"' _ "${targets[@]}"; then
    echo "fuzz: build failed"
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

# run_one NAME: runs one fuzzer in the background; its exit status goes to
# $TMP/NAME.rc.
run_one() {
    local name="$1" short="${1#fuzz_}" d dict=""
    local corpus="$TMP/corpus/$short"
    mkdir -p "$corpus"
    [ -d "test/fuzz/corpus/$short" ] && cp -R "test/fuzz/corpus/$short/." "$corpus/"
    find "$corpus" -type f | wc -l >"$TMP/$name.seeds"
    for d in "test/fuzz/$short.dict" "test/fuzz/$name.dict" "test/fuzz/dict/$short.dict"; do
        [ -f "$d" ] && { dict="-dict=$d"; break; }
    done
    rm -f "$LOGDIR/$name-"*
    (
        timeout -k 10 $((SECONDS_EACH + SECONDS_EACH / 2 + 120)) \
            "build-fuzz/$name" -max_total_time="$SECONDS_EACH" -timeout=10 \
                -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$LOGDIR/$name-" $dict "$corpus" \
                </dev/null >"$LOGDIR/$name.log" 2>&1
        echo $? >"$TMP/$name.rc"
    ) &
    PIDS+=($!)
}

say "fuzz: ${SECONDS_EACH}s per fuzzer, $JOBS at a time (logs: build/logs/fuzz-long/NAME.log)"
running=0
for name in "${targets[@]}"; do
    if [ ! -x "build-fuzz/$name" ]; then
        warn "fuzz: build-fuzz/$name was not built"
        echo 1 >"$TMP/$name.rc"; echo 0 >"$TMP/$name.seeds"
        continue
    fi
    run_one "$name"
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n 2>/dev/null || true
        running=$((running - 1))
    fi
done
wait
PIDS=()

passed=0 failed=0 total_execs=0 total_crashes=0
echo
printf '%-16s %6s %12s %9s %7s %7s %7s %7s %s\n' \
    fuzzer secs executions execs/s crashes seeds corpus growth coverage
for name in "${targets[@]}"; do
    log="$LOGDIR/$name.log"
    rc="$(cat "$TMP/$name.rc" 2>/dev/null || echo 1)"
    seeds="$(cat "$TMP/$name.seeds" 2>/dev/null || echo 0)"
    fstat() { grep -oE "stat::$1: *[0-9]+" "$log" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+$'; }
    execs="$(fstat number_of_executed_units)"; execs="${execs:-0}"
    eps="$(fstat average_exec_per_sec)"; eps="${eps:-0}"
    short="${name#fuzz_}"
    corpus_end="$(find "$TMP/corpus/$short" -type f 2>/dev/null | wc -l)"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" 2>/dev/null | tail -n 1)"
    crashes=0
    if [ "$rc" -ne 0 ] || ls "$LOGDIR/$name-"* >/dev/null 2>&1; then
        crashes=1
    fi
    printf '%-16s %6s %12s %9s %7s %7s %7s %7s %s\n' "$name" "$SECONDS_EACH" \
        "$execs" "$eps" "$crashes" "$seeds" "$corpus_end" "+$((corpus_end - seeds))" "${cov:-?}"
    total_execs=$((total_execs + execs))
    total_crashes=$((total_crashes + crashes))
    if [ "$crashes" -eq 0 ] && [ "$execs" -gt 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        warn "fuzz: $name failed (exit $rc); input in build/logs/fuzz-long/$name-* ; log build/logs/fuzz-long/$name.log:"
        grep -n -m1 -A40 -E 'ERROR: |runtime error:|==ERROR|deadly signal|timeout' "$log" >&2 \
            || tail -n 60 "$log" >&2
    fi
    if [ -n "${QXT_FUZZ_KEEP:-}" ]; then
        mkdir -p "$QXT_FUZZ_KEEP/$short"
        cp -R "$TMP/corpus/$short/." "$QXT_FUZZ_KEEP/$short/"
    fi
done
echo "fuzz: total $total_execs executions, $total_crashes crashes, wall time $(( $(now_s) - t0 ))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
