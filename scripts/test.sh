#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test suite of
# qxt_portability:
#
#   unit      the C++ core's GoogleTest tests (CMake + ctest)
#   regress   pg_regress against a throwaway PostgreSQL 15 cluster
#             (pg_virtualenv) and the vendor emulator on 127.0.0.1
#   emulator  the emulator's own unittest suite
#   preload   pg_regress in clusters with shared_preload_libraries
#   doc       every SQL example of README.md run against the emulator in a
#             throwaway cluster, its output compared with the README's
#             (test/doc/run.sh; one count per example)
#   attack    a database owner's search_path attack on every entry point
#   money     every cost scenario under every emulator model (test/money):
#             payments per number, resume, cancel, lost answers
#   cluster   a server of its own (test/cluster): proxies in the server's
#             environment are never used, qxt.proxy routes every endpoint,
#             a streaming standby (pg_basebackup) serves the functions
#   governor  one key for a whole cluster (test/governor): a preloaded and a
#             plain cluster side by side; load under a vendor that refuses
#             above 8 in flight, fairness, waits, throttling, rate, daily
#             budget, estimate, statistics against the vendor's counters
#             and across a restart; prints the load figures
#   fuzz      a short run of scripts/checks/fuzz.sh (every test/fuzz/fuzz_*.cpp)
#   repo      the repository itself (scripts/check-repo.py --self-test):
#             META.json, run bits, no outside paths, debian/control,
#             the test/mutants patches still apply
#   package   the Debian package: build, install, the regression suite
#             against it (pg_buildext installcheck), removal
#             (scripts/test-package.sh); runs last
#
# Usage: scripts/test.sh [--quick] [--only SUITE[,SUITE...]]
#   --quick              skip the fuzz smoke run
#   --only LIST          run only these suites (e.g. --only unit,regress)
#   QXT_FUZZ_SECONDS=N   seconds per fuzzer (default 20)
#   QXT_REGRESS="02_carrier 03_batch"  a subset of the regression tests
#                        (00_setup is always run first)
#
# Build and test logs go to build/logs/.  The last line of the output is
# "N passed, M failed" over all suites; the exit status is 1 if anything
# failed or a suite could not run.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

QUICK=0
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --only) shift; ONLY=",${1:-},"; [ -n "${1:-}" ] || { echo "--only needs a list" >&2; exit 2; } ;;
        --only=*) ONLY=",${1#--only=}," ;;
        -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
# wanted SUITE: true when SUITE is to run (--only, --quick).
wanted() {
    [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]
}
FUZZ_SECONDS="${QXT_FUZZ_SECONDS:-20}"
case "$FUZZ_SECONDS" in
    ''|*[!0-9]*|0) echo "QXT_FUZZ_SECONDS must be a positive whole number" >&2; exit 2 ;;
esac

LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
TMP="$(mktemp -d -t qxt-test.XXXXXX)"
chmod 755 "$TMP"

cleanup() {
    stop_fixtures
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Per-suite results, in run order.
SUITES=()
declare -A S_PASS S_FAIL S_TIME S_NOTE

# record NAME PASSED FAILED START NOTE
record() {
    SUITES+=("$1")
    S_PASS[$1]="$2"
    S_FAIL[$1]="$3"
    S_TIME[$1]="$(( $(now_s) - $4 ))s"
    S_NOTE[$1]="$5"
    say "$1: $2 passed, $3 failed${5:+ ($5)}"
}

# --------------------------------------------------------------------------
# 0. dependencies
# --------------------------------------------------------------------------
t0=$(now_s)
DEPS_OK=1
if ! bash "$ROOT/scripts/install-deps.sh" </dev/null; then
    DEPS_OK=0
    warn "installing dependencies failed; the suites will run with what is there"
fi

# --------------------------------------------------------------------------
# 1. unit: CMake + GoogleTest
# --------------------------------------------------------------------------
run_unit() {
    local start; start=$(now_s)
    say "unit: building the core and its tests (log: build/logs/unit-build.log)"
    if ! run_logged "$LOGDIR/unit-build.log" bash -c '
            cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
            cmake --build build -j2'; then
        record unit 0 1 "$start" "build failed"
        return
    fi
    say "unit: running ctest (log: build/logs/unit-ctest.log)"
    (cd build && ctest -j2 --output-on-failure --timeout 300) \
        >"$LOGDIR/unit-ctest.log" 2>&1
    local rc=$?
    local line total failed
    line="$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' \
            "$LOGDIR/unit-ctest.log" | tail -n 1)"
    if [ -z "$line" ]; then
        tail -n 60 "$LOGDIR/unit-ctest.log" >&2
        record unit 0 1 "$start" "ctest ran no tests"
        return
    fi
    failed="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
    total="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        # The failing tests' output, as ctest printed it.
        sed -n '/The following tests FAILED/,$p' "$LOGDIR/unit-ctest.log" >&2
        grep -B2 -A30 -E '\*\*\*Failed|\*\*\*Exception|Failed  ' \
            "$LOGDIR/unit-ctest.log" | head -n 200 >&2
        [ "$failed" -eq 0 ] && failed=1   # ctest failed without saying why
    fi
    record unit "$((total - failed))" "$failed" "$start" ""
}

# --------------------------------------------------------------------------
# 2. regress: PGXS build + install, emulator, pg_regress in pg_virtualenv
# --------------------------------------------------------------------------
run_regress() {
    local start; start=$(now_s)
    say "regress: building and installing the extension (log: build/logs/pgxs-build.log)"
    if ! run_logged "$LOGDIR/pgxs-build.log" make -j2 PG_CONFIG="$PG_CONFIG"; then
        record regress 0 1 "$start" "PGXS build failed"
        return
    fi
    if ! run_logged "$LOGDIR/pgxs-install.log" \
            $SUDO make install PG_CONFIG="$PG_CONFIG"; then
        record regress 0 1 "$start" "make install failed"
        return
    fi
    say "regress: starting the emulator (HTTP and HTTPS) and the blackhole listener"
    if ! start_fixtures "$TMP"; then
        record regress 0 1 "$start" "emulator did not start"
        return
    fi
    say "regress: emulator at $QXT_EMU_URL; running pg_regress in pg_virtualenv (log: build/logs/regress.log)"
    rm -f regression.diffs regression.out
    # emuctl ("#!/usr/bin/env python3") runs with the emulator's python.
    (
        python3_shim "$TMP"
        export QXT_EMU_URL QXT_EMU_TLS_URL QXT_EMU_CA QXT_BLACKHOLE_URL
        subset=()
        if [ -n "${QXT_REGRESS:-}" ]; then
            subset=("REGRESS=00_setup ${QXT_REGRESS//00_setup/}")
        fi
        pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" \
            make installcheck PG_CONFIG="$PG_CONFIG" "${subset[@]}" </dev/null
    ) >"$LOGDIR/regress.log" 2>&1
    local rc=$?
    stop_fixtures
    cp "$TMP/emulator.log" "$LOGDIR/emulator-regress.log" 2>/dev/null

    local total="" failed=""
    local all ofn
    all="$(grep -oE 'All [0-9]+ tests passed' "$LOGDIR/regress.log" | tail -n 1)"
    ofn="$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$LOGDIR/regress.log" | tail -n 1)"
    if [ -n "$all" ]; then
        total="$(grep -oE '[0-9]+' <<<"$all")"; failed=0
    elif [ -n "$ofn" ]; then
        failed="$(awk '{print $1}' <<<"$ofn")"; total="$(awk '{print $3}' <<<"$ofn")"
    fi
    # The per-test lines, for the log reader.
    grep -E '^(test| ) .*\.\.\. ' "$LOGDIR/regress.log" >&2
    if [ -z "$total" ]; then
        warn "pg_regress gave no summary (exit $rc); last 80 lines of build/logs/regress.log:"
        tail -n 80 "$LOGDIR/regress.log" >&2
        record regress 0 1 "$start" "pg_regress did not run"
        return
    fi
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        if [ -f regression.diffs ]; then
            cp regression.diffs "$LOGDIR/regression.diffs"
            warn "regression.diffs (first 200 lines; all in build/logs/regression.diffs):"
            head -n 200 regression.diffs >&2
        else
            tail -n 80 "$LOGDIR/regress.log" >&2
        fi
        [ "$failed" -eq 0 ] && failed=1
    fi
    record regress "$((total - failed))" "$failed" "$start" ""
}

# --------------------------------------------------------------------------
# 3. emulator: its own unittest suite
# --------------------------------------------------------------------------
run_emulator_tests() {
    local start; start=$(now_s)
    say "emulator: running its unittest suite with $PY (log: build/logs/emulator-tests.log)"
    (python3_shim "$TMP"; unset QXT_EMU_URL
     "$PY" -m unittest discover -s test/emulator -p 'test_*.py' -v </dev/null) \
        >"$LOGDIR/emulator-tests.log" 2>&1
    local rc=$?
    local ran failures errors skipped
    ran="$(grep -oE '^Ran [0-9]+ tests?' "$LOGDIR/emulator-tests.log" | tail -n 1 | grep -oE '[0-9]+')"
    if [ -z "$ran" ] || [ "$ran" -eq 0 ]; then
        tail -n 60 "$LOGDIR/emulator-tests.log" >&2
        record emulator 0 1 "$start" "no tests ran"
        return
    fi
    local last; last="$(grep -E '^(OK|FAILED)' "$LOGDIR/emulator-tests.log" | tail -n 1)"
    failures="$(grep -oE 'failures=[0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)"
    errors="$(grep -oE 'errors=[0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)"
    skipped="$(grep -oE 'skipped=[0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)"
    failures=${failures:-0}; errors=${errors:-0}; skipped=${skipped:-0}
    local failed=$((failures + errors))
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        sed -n '/^======/,$p' "$LOGDIR/emulator-tests.log" | head -n 200 >&2
        [ "$failed" -eq 0 ] && failed=1
    fi
    local note=""
    [ "$skipped" -gt 0 ] && note="$skipped skipped"
    record emulator "$((ran - failed - skipped))" "$failed" "$start" "$note"
}

# --------------------------------------------------------------------------
# 4. fuzz smoke: scripts/checks/fuzz.sh (make fuzz), briefly
# --------------------------------------------------------------------------
run_fuzz() {
    local start; start=$(now_s)
    say "fuzz: scripts/checks/fuzz.sh, ${FUZZ_SECONDS}s per fuzzer (log: build/logs/fuzz.log; per fuzzer: build/logs/fuzz-long/)"
    QXT_FUZZ_SECONDS="$FUZZ_SECONDS" QXT_FUZZ_JOBS="${QXT_FUZZ_JOBS:-1}" \
        bash scripts/checks/fuzz.sh </dev/null >"$LOGDIR/fuzz.log" 2>&1
    local rc=$?
    # Its last line: "N passed, M failed", one per fuzzer.
    local last passed failed
    last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGDIR/fuzz.log" | tail -n 1)"
    if [ -z "$last" ]; then
        tail -n 60 "$LOGDIR/fuzz.log" >&2
        record fuzz 0 1 "$start" "fuzz.sh gave no summary (exit $rc)"
        return
    fi
    passed="$(awk '{print $1}' <<<"$last")"
    failed="$(awk '{print $3}' <<<"$last")"
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        tail -n 80 "$LOGDIR/fuzz.log" >&2
        [ "$failed" -eq 0 ] && failed=1
    fi
    record fuzz "$passed" "$failed" "$start" "${FUZZ_SECONDS}s each"
}

# --------------------------------------------------------------------------
# Suites that are a script of their own ending with "N passed, M failed":
# run_script_suite NAME NOTE SCRIPT [ARGS...] -- runs it (bash, or python for
# a .py), logs to build/logs/NAME.log,
# and records its counts (a script that printed no such line failed).
# --------------------------------------------------------------------------
run_script_suite() {
    local name="$1" note="$2" script="$3"; shift 3
    local start; start=$(now_s)
    run_script "$name" "$script" "$@"
    collect_script_suite "$name" "$note" "$?" "$start"
}

# run_script NAME SCRIPT [ARGS...]: runs it with its output in
# build/logs/NAME.log; returns its exit status.
run_script() {
    local name="$1" script="$2"; shift 2
    case "$script" in
        *.py) "$PY" "$script" "$@" </dev/null >"$LOGDIR/$name.log" 2>&1 ;;
        *) bash "$script" "$@" </dev/null >"$LOGDIR/$name.log" 2>&1 ;;
    esac
}

# collect_script_suite NAME NOTE RC START: records the counts of the last
# "N passed, M failed" line of build/logs/NAME.log (none: the suite failed).
collect_script_suite() {
    local name="$1" note="$2" rc="$3" start="$4"
    local log="$LOGDIR/$name.log"
    local last; last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
    if [ -z "$last" ]; then
        tail -n 60 "$log" >&2
        record "$name" 0 1 "$start" "did not run"
        return
    fi
    local p f; p="$(awk '{print $1}' <<<"$last")"; f="$(awk '{print $3}' <<<"$last")"
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
        tail -n 80 "$log" >&2
        [ "$f" -eq 0 ] && f=1
    fi
    record "$name" "$p" "$f" "$start" "$note"
}

# 5. sanitize: the unit tests again under AddressSanitizer + UBSan
run_sanitize() {
    say "sanitize: unit tests under ASan + UBSan (log: build/logs/sanitize.log)"
    run_script_suite sanitize "ASan+UBSan" scripts/checks/sanitize.sh
}

# cluster: environment proxies, qxt.proxy, a standby (test/cluster/run.sh)
run_cluster_suite() {
    say "cluster: proxies and a standby in a server of its own (log: build/logs/cluster.log)"
    run_script_suite cluster "" test/cluster/run.sh
}

run_governor() {
    say "governor: the shared governor, budgets and statistics (log: build/logs/governor.log)"
    run_script_suite governor "" test/governor/run.sh
    sed -n '/^figures:/,/ passed, /p' "$LOGDIR/governor.log" >&2
}

# 6. cron: the README's pg_cron recipe, run once in a cluster with pg_cron.
# It spends most of its minute waiting for pg_cron's next tick, so it runs
# in the background beside the suites after it (each cluster and emulator
# has ports of its own) and is collected before the package suite, which
# replaces the installed extension it uses.
CRON_PID="" CRON_START=""
start_cron() {
    say "cron: the README's pg_cron recipe in a throwaway cluster, in the background (up to a minute; log: build/logs/cron.log)"
    CRON_START=$(now_s)
    run_script cron test/cron/run.sh &
    CRON_PID=$!
}
finish_cron() {
    [ -n "$CRON_PID" ] || return 0
    local rc=0
    wait "$CRON_PID" || rc=$?
    CRON_PID=""
    collect_script_suite cron "in the background" "$rc" "$CRON_START"
}

# 0b. repo: the repository's own checks (quick, no build)
run_repo() {
    say "repo: META.json, run bits, outside paths, debian/control, mutant patches (log: build/logs/repo.log)"
    run_script_suite repo "" scripts/check-repo.py --self-test
}

# 7. package: the .deb built, installed, tested and removed.  It replaces the
# "make install"ed files while installed, so it runs after every suite that
# uses them, and puts the source build back when it is done.
run_package() {
    say "package: build, install, installcheck and removal of the .deb (about 2 minutes; log: build/logs/package.log)"
    run_script_suite package "" scripts/test-package.sh
}


# 8. preload: the checks that need the library in shared_preload_libraries
# (with pg_stat_statements before and after it), two throwaway clusters
run_preload() {
    say "preload: two clusters with shared_preload_libraries (log: build/logs/preload.log)"
    run_script_suite preload "" test/preload/run.sh
}

# 8b. doc: the README's SQL examples, run and compared (under half a minute)
run_doc() {
    say "doc: every SQL example of README.md against the emulator (log: build/logs/doc.log)"
    run_script_suite doc "" test/doc/run.sh
    S_NOTE[doc]="$(grep -oE '[0-9]+ executed, [0-9]+ skipped by mark' "$LOGDIR/doc.log" | tail -n 1)"
    grep -E '^skip ' "$LOGDIR/doc.log" >&2
}

# 9. attack: the search_path attack of a database owner on every entry point
run_attack() {
    say "attack: planted look-alikes of every built-in our SQL uses (log: build/logs/attack.log)"
    run_script_suite attack "" test/attack/run.sh
}

# 10. money: every cost scenario under every model of the emulator; the
# per-model table of payments per distinct number is shown here too
run_money() {
    say "money: cost scenarios under the emulator's 12 models (about 2 minutes; log: build/logs/money.log)"
    run_script_suite money "12 models" test/money/run.sh
    sed -n '/^Payments per distinct number/,/^$/p' "$LOGDIR/money.log" >&2
}

wanted repo && run_repo
wanted unit && run_unit
wanted sanitize && run_sanitize
wanted regress && run_regress
wanted preload && run_preload
wanted doc && run_doc
wanted attack && run_attack
wanted money && run_money
wanted cluster && run_cluster_suite
wanted governor && run_governor
# cron after the last suite that runs "make install" (money, cluster): it
# loads the installed library while the suites below run
wanted cron && start_cron
wanted emulator && run_emulator_tests
SKIPPED_FUZZ=0
if wanted fuzz; then
    if [ "$QUICK" -eq 1 ]; then
        SKIPPED_FUZZ=1
    else
        run_fuzz
    fi
fi
finish_cron
wanted package && run_package

# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------
TOTAL_PASS=0
TOTAL_FAIL=0
if [ "$DEPS_OK" -eq 0 ]; then
    SUITES=("deps" "${SUITES[@]}")
    S_PASS[deps]=0; S_FAIL[deps]=1; S_TIME[deps]="-"; S_NOTE[deps]="install-deps.sh failed"
fi
echo
printf '%-10s %7s %7s %7s  %s\n' suite passed failed time note
for s in "${SUITES[@]}"; do
    printf '%-10s %7s %7s %7s  %s\n' "$s" "${S_PASS[$s]}" "${S_FAIL[$s]}" \
        "${S_TIME[$s]}" "${S_NOTE[$s]}"
    TOTAL_PASS=$((TOTAL_PASS + S_PASS[$s]))
    TOTAL_FAIL=$((TOTAL_FAIL + S_FAIL[$s]))
done
if [ "$SKIPPED_FUZZ" -eq 1 ]; then
    printf '%-10s %7s %7s %7s  %s\n' fuzz - - - "skipped (--quick)"
fi
printf '%-10s %7s %7s %7s\n' total "$TOTAL_PASS" "$TOTAL_FAIL" "$(( $(now_s) - t0 ))s"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ] || exit 1
exit 0
