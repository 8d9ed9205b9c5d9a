#!/usr/bin/env bash
# make check-sanitize: the C++ unit tests (ctest: GoogleTest + the DNS
# sandbox test) built with AddressSanitizer + UndefinedBehaviorSanitizer
# (CMake option QXT_SANITIZE=ON) into build-asan/, run with leak detection
# on and every sanitizer report fatal.
#
# Usage: scripts/checks/sanitize.sh
#   QXT_SANITIZE_CXX=g++|clang++-14   compiler (default g++)
#
# Prints the sanitizer reports counted in the ctest log (AddressSanitizer,
# LeakSanitizer, UBSan "runtime error"), the wall time, and as last line
# "N passed, M failed" (ctest's tests; a sanitizer report fails its test,
# and any report also counts as one failure of the check).  Logs:
# build/logs/sanitize-build.log, build/logs/sanitize-ctest.log.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"

CXX_SAN="${QXT_SANITIZE_CXX:-g++}"
case "$CXX_SAN" in
    g++*) CC_SAN="${CXX_SAN/g++/gcc}" ;;
    clang++*) CC_SAN="${CXX_SAN/clang++/clang}" ;;
    *) echo "QXT_SANITIZE_CXX must be g++ or clang++[-N]" >&2; exit 2 ;;
esac
LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
t0=$(now_s)

# The same settings as in the issue: leaks are reported (LSan at exit),
# the first ASan error aborts, the first UBSan report stops the test.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

say "sanitize: building the unit tests with -DQXT_SANITIZE=ON ($CXX_SAN) into build-asan/ (log: build/logs/sanitize-build.log)"
if ! run_logged "$LOGDIR/sanitize-build.log" env CC="$CC_SAN" CXX="$CXX_SAN" bash -c '
        cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
              -DCMAKE_CXX_COMPILER="$CXX" -DQXT_SANITIZE=ON &&
        cmake --build build-asan -j"$(nproc)"'; then
    echo "sanitize: build failed ($(( $(now_s) - t0 ))s)"
    echo "0 passed, 1 failed"
    exit 1
fi
tb=$(now_s)

say "sanitize: running ctest under ASan+UBSan (log: build/logs/sanitize-ctest.log)"
(cd build-asan && ctest -j2 --output-on-failure --timeout 600) \
    >"$LOGDIR/sanitize-ctest.log" 2>&1
rc=$?
tt=$(now_s)

log="$LOGDIR/sanitize-ctest.log"
asan=$(grep -cE '^==[0-9]+==ERROR: AddressSanitizer' "$log")
# (also LSan's own failure to run, e.g. where ptrace is forbidden: then no
# leak check happened, which must not pass silently)
lsan=$(grep -cE '^==[0-9]+==ERROR: LeakSanitizer|LeakSanitizer has encountered a fatal error' "$log")
ubsan=$(grep -cE 'runtime error:' "$log")
errors=$((asan + lsan + ubsan))

line="$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)"
if [ -z "$line" ]; then
    tail -n 60 "$log" >&2
    echo "sanitize: ctest ran no tests (exit $rc)"
    echo "0 passed, 1 failed"
    exit 1
fi
failed="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
total="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ] || [ "$errors" -gt 0 ]; then
    sed -n '/The following tests FAILED/,$p' "$log" >&2
    grep -n -B2 -A40 -E '==ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -n 200 >&2
    [ "$failed" -eq 0 ] && failed=1
fi
passed=$((total - failed))

echo
echo "sanitize: compiler $CXX_SAN, ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
echo "sanitize: ctest $passed/$total tests passed"
echo "sanitize: sanitizer reports: $errors (AddressSanitizer $asan, LeakSanitizer $lsan, UBSan $ubsan)"
echo "sanitize: wall time $((tt - t0))s (build $((tb - t0))s, ctest $((tt - tb))s)"
echo "$passed passed, $((failed + (errors > 0 ? 1 : 0))) failed"
[ "$failed" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$rc" -eq 0 ]
