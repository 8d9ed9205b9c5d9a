#!/usr/bin/env bash
# The mutation check (make check-mutants): deliberate bugs, one at a time,
# each of which some test must catch.
#
# Every test/mutants/NN-name.patch is a small unified diff against the
# repository -- a bug a careless developer could write -- preceded by a
# header that says what it breaks and which tests must catch it:
#
#   Mutant: batch retry turned into a stop
#   Breaks: a vendor -8 on a batch request ends the job instead of a retry
#   Unit: NeverPayTwice.BatchMinus8IsRetried       (a gtest filter)
#   Regress: 06_faults 13_statement_memo           (pg_regress tests)
#   Suite: attack                                  (scripts/test.sh suites)
#
# For each mutant, in a copy of the tree (build/mutants/tree; the checkout
# itself is never patched), the patch is applied, the copy is built
# incrementally, and the named tests run in the order Unit, Regress, Suite
# until one fails: the mutant is KILLED by it.  If all of them pass it
# SURVIVED.  The copy is synced back to the checkout after every mutant, on
# failure and on interrupt too, and a PostgreSQL install of a mutant is
# replaced by the unmutated build at the end.
#
# Before the mutants, the unmutated copy runs every named test once (the
# baseline): a test that fails without a bug would "kill" mutants for
# nothing, so a failing baseline stops the check.
#
# Usage: scripts/check-mutants.sh [--no-baseline] [NAME...]
#   NAME  a mutant's file name or a part of it (default: every mutant)
# A mutant is KILLED only by a named test that failed (a unit test, a
# pg_regress test, a suite's check); a run that could not start (a
# throwaway cluster losing a port race) is tried again, twice at most, and
# then reported as ERROR.  BROKEN: the patch did not apply or build.
# Logs: build/mutants/logs/.  The last line is "N killed, M survived"
# (SURVIVED, BROKEN and ERROR all count as survived); the exit status is 1
# if a mutant was not killed, 2 if the baseline failed.  The regression
# runs "make install": on a shared machine, run it in a private mount
# namespace.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

BASELINE=1
PICK=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-baseline) BASELINE=0 ;;
        -h|--help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
        *) PICK+=("$1") ;;
    esac
    shift
done

MUTDIR="$ROOT/test/mutants"
WORK="$ROOT/build/mutants"
TREE="$WORK/tree"
LOGS="$WORK/logs"
mkdir -p "$TREE" "$LOGS"
UNIT_TIMEOUT=600
SUITE_TIMEOUT=1200

MUTANTS=()
for p in "$MUTDIR"/*.patch; do
    [ -e "$p" ] || continue
    if [ "${#PICK[@]}" -gt 0 ]; then
        keep=0
        for w in "${PICK[@]}"; do [[ "$(basename "$p")" == *"$w"* ]] && keep=1; done
        [ "$keep" -eq 1 ] || continue
    fi
    MUTANTS+=("$p")
done
if [ "${#MUTANTS[@]}" -eq 0 ]; then
    echo "no mutant in test/mutants matches" >&2; exit 2
fi

# header FILE FIELD: a header field of a mutant ("" when absent).
header() {
    sed -n '/^diff --git /q; /^--- /q; p' "$1" | sed -n "s/^$2:[[:space:]]*//p" | head -n 1
}

# ---------------------------------------------------------------------------
# The copy of the tree.  sync_tree makes it equal to the checkout (tracked
# files and untracked ones git does not ignore), writing only the files that
# differ, so that make and cmake rebuild exactly what a mutant changed.
# ---------------------------------------------------------------------------
sync_tree() {
    local list="$WORK/files.lst" f
    git -C "$ROOT" ls-files -co --exclude-standard | grep -v '^build/' | sort >"$list"
    while IFS= read -r f; do
        [ -f "$ROOT/$f" ] || continue
        if ! cmp -s "$ROOT/$f" "$TREE/$f"; then
            mkdir -p "$(dirname "$TREE/$f")"
            cp -p --no-preserve=timestamps "$ROOT/$f" "$TREE/$f" || return 1
        fi
    done <"$list"
    # Source files the checkout no longer has (build products stay).
    (cd "$TREE" && find src sql expected extension test scripts -type f \
        ! -name '*.o' ! -name '*.so' ! -name '*.bc' ! -path '*/__pycache__/*' 2>/dev/null) |
        sort | comm -23 - "$list" | while IFS= read -r f; do rm -f "$TREE/$f"; done
    return 0
}

# tree_is_clean: the copy's sources equal the checkout's.
tree_is_clean() {
    local f
    while IFS= read -r f; do
        [ -f "$ROOT/$f" ] || continue
        cmp -s "$ROOT/$f" "$TREE/$f" || return 1
    done <"$WORK/files.lst"
}

INSTALLED_MUTANT=0
CURRENT=""
restore() {
    if [ -n "$CURRENT" ]; then
        sync_tree && tree_is_clean || warn "could not restore build/mutants/tree; remove it"
        CURRENT=""
    fi
}
reinstall_clean() {
    if [ "$INSTALLED_MUTANT" -eq 1 ]; then
        say "installing the unmutated build again (log: build/mutants/logs/reinstall.log)"
        (cd "$TREE" && make -j2 PG_CONFIG="$PG_CONFIG" && $SUDO make install PG_CONFIG="$PG_CONFIG") \
            >"$LOGS/reinstall.log" 2>&1 || warn "reinstalling the unmutated build failed"
        INSTALLED_MUTANT=0
    fi
}
# fg DIR LOG CMD...: runs CMD in DIR (output to LOG) as a job of its own
# and waits for it, so that a Ctrl-C reaches the traps below at once (bash
# runs a trap during "wait", not while a foreground command runs), which
# then stop the job.
CHILD=""
fg() {
    local dir="$1" log="$2"; shift 2
    (cd "$dir" && exec "$@") >"$log" 2>&1 </dev/null &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}
stop_child() {
    if [ -n "$CHILD" ]; then
        # timeout(1) passes the signal on to the suite it runs, whose own
        # traps stop its clusters and emulators.
        kill -TERM "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
        CHILD=""
    fi
}
on_exit() {
    stop_child
    restore
    reinstall_clean
}
trap on_exit EXIT
trap 'echo; warn "interrupted: stopping the run and restoring the copy"; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Running the named tests in the copy.  Each sets KILLER (what failed) and
# returns 0 when everything passed, 1 when something failed, 2 when it could
# not run (a build failure).
# ---------------------------------------------------------------------------
KILLER=""
UNIT_CONFIGURED=0

run_unit() {  # FILTER LOG
    local filter="$1" log="$2"
    if [ "$UNIT_CONFIGURED" -eq 0 ]; then
        cmake -S "$TREE" -B "$TREE/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log.cmake" 2>&1 ||
            { KILLER="cmake failed"; return 2; }
        UNIT_CONFIGURED=1
    fi
    if ! cmake --build "$TREE/build" -j2 --target qxt_unit_tests >"$log.build" 2>&1; then
        KILLER="unit tests did not build (see ${log#$ROOT/}.build)"; return 2
    fi
    fg "$TREE/build" "$log" env QXT_SOURCE_DIR="$TREE" timeout -k 10 "$UNIT_TIMEOUT" \
        ./qxt_unit_tests --gtest_filter="$filter" --gtest_color=no
    local rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^\[  PASSED  \]' "$log"; then
        if grep -q '^\[==========\] 0 tests' "$log"; then
            KILLER="the unit filter '$filter' matches no test"; return 2
        fi
        return 0
    fi
    local failed
    failed="$(sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_]*\.[A-Za-z0-9_]*\).*/\1/p' "$log" | sort -u | paste -sd, -)"
    [ "$rc" -eq 124 ] && failed="${failed:+$failed, }timeout after ${UNIT_TIMEOUT}s"
    KILLER="unit ${failed:-qxt_unit_tests exit $rc}"
    return 1
}

run_regress() {  # "TESTS" LOG
    local tests="$1" log="$2"
    INSTALLED_MUTANT=1
    rm -f "$TREE/build/logs/regress.log"
    fg "$TREE" "$log" env QXT_REGRESS="$tests" timeout -k 10 "$SUITE_TIMEOUT" \
        bash scripts/test.sh --only regress
    local rc=$?
    local last; last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
    if grep -qE '^==> regress: 0 passed, 1 failed \((PGXS build failed|make install failed)\)' "$log"; then
        KILLER="the extension did not build (see ${log#$ROOT/})"; return 2
    fi
    if [ "$rc" -eq 0 ] && [ -n "$last" ] && [ "${last#* passed, }" = "0 failed" ]; then
        return 0
    fi
    # A kill names the tests that failed; anything else (a cluster that did
    # not start, an emulator that did not answer) is the machine, not the
    # mutant.
    local failed
    failed="$(grep -E '^(test| ) .*\.\.\. FAILED' "$TREE/build/logs/regress.log" 2>/dev/null |
              sed -E 's/^(test| ) +([^ ]+).*/\2/' | sort -u | paste -sd, -)"
    if [ -z "$failed" ]; then
        [ "$rc" -eq 124 ] && { KILLER="regress: timeout after ${SUITE_TIMEOUT}s"; return 1; }
        KILLER="pg_regress did not run (see ${log#$ROOT/})"; return 3
    fi
    KILLER="regress $failed"
    return 1
}

run_suite() {  # SUITE LOG
    local suite="$1" log="$2"
    INSTALLED_MUTANT=1
    rm -f "$TREE/build/logs/$suite.log"
    fg "$TREE" "$log" timeout -k 10 "$SUITE_TIMEOUT" bash scripts/test.sh --only "$suite"
    local rc=$?
    local last; last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
    if [ "$rc" -eq 0 ] && [ -n "$last" ] && [ "${last#* passed, }" = "0 failed" ]; then
        return 0
    fi
    if grep -qE "^==> $suite: 0 passed, 1 failed \(did not run\)" "$log"; then
        KILLER="$suite did not run (see ${log#$ROOT/})"; return 3
    fi
    # The checks that failed: the suite's "FAILED  name" lines.
    local failed
    failed="$(grep -E '^FAILED ' "$TREE/build/logs/$suite.log" 2>/dev/null | head -n 3 |
              sed -E 's/^FAILED +//; s/ \(see .*//' | paste -sd';' -)"
    if [ -z "$failed" ]; then
        if grep -qiE 'build or install failed' "$TREE/build/logs/$suite.log" 2>/dev/null; then
            KILLER="the extension did not build (see ${log#$ROOT/})"; return 2
        fi
        [ "$rc" -eq 124 ] && { KILLER="$suite: timeout after ${SUITE_TIMEOUT}s"; return 1; }
        KILLER="$suite failed without naming a check (see ${log#$ROOT/})"; return 3
    fi
    KILLER="$suite: $failed"
    return 1
}

# with_retry CMD...: runs CMD again (up to twice more) while it could not
# run (status 3): on a shared machine a throwaway cluster can lose a port
# race.  Status 3 at the end is reported as an error, never as a kill.
with_retry() {
    local rc i
    for i in 1 2 3; do
        "$@"; rc=$?
        [ "$rc" -ne 3 ] && return "$rc"
        warn "$KILLER; trying again"
        sleep 5
    done
    return 3
}

# run_named NAME PATCH: the tests a mutant names, until one fails.
run_named() {
    local name="$1" patch="$2" unit regress suites s rc
    unit="$(header "$patch" Unit)"
    regress="$(header "$patch" Regress)"
    suites="$(header "$patch" Suite)"
    if [ -n "$unit" ]; then
        run_unit "$unit" "$LOGS/$name.unit.log"; rc=$?
        [ "$rc" -ne 0 ] && return "$rc"
    fi
    if [ -n "$regress" ]; then
        with_retry run_regress "$regress" "$LOGS/$name.regress.log"; rc=$?
        [ "$rc" -ne 0 ] && return "$rc"
    fi
    for s in $suites; do
        with_retry run_suite "$s" "$LOGS/$name.$s.log"; rc=$?
        [ "$rc" -ne 0 ] && return "$rc"
    done
    return 0
}

t0=$(now_s)
say "copying the tree to build/mutants/tree"
sync_tree || { warn "could not copy the tree"; exit 2; }

# ---------------------------------------------------------------------------
# Baseline: the union of every named test, unmutated.
# ---------------------------------------------------------------------------
if [ "$BASELINE" -eq 1 ]; then
    u_all=""; r_all=""; s_all=""
    for p in "${MUTANTS[@]}"; do
        u="$(header "$p" Unit)"; r="$(header "$p" Regress)"; s="$(header "$p" Suite)"
        [ -n "$u" ] && u_all="${u_all:+$u_all:}$u"
        r_all="$r_all $r"; s_all="$s_all $s"
    done
    r_all="$(tr ' ' '\n' <<<"$r_all" | grep -v '^$' | sort -u | paste -sd' ' -)"
    s_all="$(tr ' ' '\n' <<<"$s_all" | grep -v '^$' | sort -u | paste -sd' ' -)"
    base="$WORK/baseline.hdr"
    printf 'Unit: %s\nRegress: %s\nSuite: %s\n' "$u_all" "$r_all" "$s_all" >"$base"
    say "baseline: the unmutated tree runs every named test (unit, regress: $r_all; suites: $s_all)"
    bt=$(now_s)
    run_named baseline "$base"; rc=$?
    if [ "$rc" -ne 0 ]; then
        warn "baseline failed: $KILLER"
        warn "the unmutated tree must pass every test a mutant names; logs in build/mutants/logs/"
        echo "0 killed, ${#MUTANTS[@]} survived"
        exit 2
    fi
    say "baseline: passed ($(( $(now_s) - bt ))s)"
fi

# ---------------------------------------------------------------------------
# The mutants.
# ---------------------------------------------------------------------------
declare -A RESULT BY TIME
killed=0; survived=0
for p in "${MUTANTS[@]}"; do
    name="$(basename "$p" .patch)"
    mt=$(now_s)
    CURRENT="$name"
    say "$name: $(header "$p" Mutant)"
    # patch(1), not git apply: the copy lies inside the checkout's work tree,
    # and git apply run there would resolve paths against the checkout.
    if ! patch -d "$TREE" -p1 --fuzz=0 --batch --forward --no-backup-if-mismatch \
            -r - <"$p" >"$LOGS/$name.apply.log" 2>&1; then
        RESULT[$name]=BROKEN; BY[$name]="the patch does not apply (see build/mutants/logs/$name.apply.log)"
    else
        run_named "$name" "$p"; rc=$?
        case "$rc" in
            0) RESULT[$name]=SURVIVED; BY[$name]="every named test passed" ;;
            1) RESULT[$name]=KILLED; BY[$name]="$KILLER" ;;
            2) RESULT[$name]=BROKEN; BY[$name]="$KILLER" ;;
            *) RESULT[$name]=ERROR; BY[$name]="$KILLER" ;;
        esac
    fi
    restore
    TIME[$name]="$(( $(now_s) - mt ))s"
    if [ "${RESULT[$name]}" = KILLED ]; then
        killed=$((killed + 1))
    else
        survived=$((survived + 1))
    fi
    say "$name: ${RESULT[$name]} (${BY[$name]}) in ${TIME[$name]}"
done
reinstall_clean

echo
printf '%-34s %-8s %6s  %s\n' mutant result time "killed by"
for p in "${MUTANTS[@]}"; do
    name="$(basename "$p" .patch)"
    printf '%-34s %-8s %6s  %s\n' "$name" "${RESULT[$name]}" "${TIME[$name]}" "${BY[$name]}"
done
echo "total time: $(( $(now_s) - t0 ))s"
echo "$killed killed, $survived survived"
[ "$survived" -eq 0 ] || exit 1
exit 0
