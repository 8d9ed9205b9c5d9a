#!/usr/bin/env bash
# make check-valgrind: the pg_regress suite (the same `make installcheck` as
# scripts/test.sh, against the emulator and the network fixtures) with every
# PostgreSQL process under valgrind's Memcheck.
#
# A throwaway cluster (initdb as the postgres OS user, in a temporary
# directory, Unix socket only) is started as
#   valgrind --trace-children=yes --leak-check=full … postgres -D …
# PostgreSQL forks its backends without exec, so the one valgrind of the
# postmaster covers every backend; each process writes its own log
# (vg.PID.log), with a leak check when it exits.  No --error-exitcode:
# a backend exiting with it would make the postmaster restart everything.
#
# Usage: scripts/checks/valgrind.sh
#   QXT_REGRESS="02_carrier 03_batch"   run only these tests (00_setup is
#                                       always added first)
#   QXT_REGRESS_SKIP="10_memory"        leave these out (default: none)
#   QXT_VALGRIND_OPTS="…"               extra valgrind options, e.g.
#                                       --track-origins=yes
#   QXT_VALGRIND_TIMEOUT=N              limit for the whole suite (default
#                                       5400 s)
#
# The verdict is valgrind's: zero Memcheck errors (after
# test/valgrind/postgres.supp, which only hides PostgreSQL's, glibc's and
# OpenSSL's own known reports; each entry says why), and no "definitely lost"
# block allocated under a frame of qxt_portability.so or src/.  Leaks are
# not made errors (--errors-for-leak-kinds=none): PostgreSQL itself leaks a
# few definite blocks on purpose (PostmasterMain's strdup of its options,
# save_ps_display_args), and a suppression broad enough for those would hide
# ours too, since every backend runs below PostmasterMain.  Instead every
# definite loss record is shown (--show-leak-kinds=definite) and this script
# fails on any whose stack has a frame of ours; the rest is reported as
# PostgreSQL's.
#
# Regress tests: valgrind's 20-50x slowdown and its own heap can turn a few
# time and memory assertions false.  scripts/checks/valgrind_allow.py names
# each of them (test, column, why); a failed test passes as "timing-only"
# when its result differs from its expected file only in those cells, from
# t to f.  Any other difference fails it.  Before anything runs, the
# allow-list is checked against the tests (an entry whose column no longer
# exists fails the run at once) and the comparison's self-test runs (it must
# reject, among others, a flipped key_not_in_log, public_can_execute,
# rejected or in_order).
#
# Logs: build/logs/valgrind/ (vg.PID.log per process, postmaster.log,
# regress/ with regression.diffs, summary.txt, allow.txt).  Last line:
# "N passed, M failed" over the regress tests plus the two valgrind checks
# and the allow-list check.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
cd "$ROOT"

OUT="$ROOT/build/logs/valgrind"
SUPP="$ROOT/test/valgrind/postgres.supp"
LIMIT="${QXT_VALGRIND_TIMEOUT:-5400}"
t0=$(now_s)

if ! command -v valgrind >/dev/null; then
    echo "valgrind: not installed (scripts/install-deps.sh installs it)"
    echo "0 passed, 1 failed"
    exit 1
fi

# The test list: the Makefile's REGRESS, or QXT_REGRESS, minus QXT_REGRESS_SKIP.
all_tests=()
for f in sql/*.sql; do
    b="$(basename "$f" .sql)"
    case "$b" in qxt_portability--*) continue ;; esac
    all_tests+=("$b")
done
if [ -n "${QXT_REGRESS:-}" ]; then
    read -r -a chosen <<<"$QXT_REGRESS"
    [ "${chosen[0]}" = 00_setup ] || chosen=(00_setup "${chosen[@]}")
else
    chosen=("${all_tests[@]}")
fi
tests=()
for t in "${chosen[@]}"; do
    [ -f "sql/$t.sql" ] || { echo "valgrind: no test sql/$t.sql" >&2; exit 2; }
    case " ${QXT_REGRESS_SKIP:-} " in *" $t "*) continue ;; esac
    tests+=("$t")
done

rm -rf "$OUT"
mkdir -p "$OUT/regress"

# The allow-list first: stale, or a comparison that cannot fail, ends the
# run before the slow part.
ALLOW="$ROOT/scripts/checks/valgrind_allow.py"
if ! "$PY" "$ALLOW" check "$ROOT" || ! "$PY" "$ALLOW" self-test "$ROOT" >"$OUT/allow-selftest.txt" 2>&1; then
    [ -s "$OUT/allow-selftest.txt" ] && cat "$OUT/allow-selftest.txt"
    echo "valgrind: the allow-list of timing and memory columns is stale or its self-test failed"
    echo "0 passed, 1 failed"
    exit 1
fi
say "valgrind: allow-list checked, its self-test passed (build/logs/valgrind/allow-selftest.txt)"
TMP="$(mktemp -d -t qxt-valgrind.XXXXXX)"
chmod 755 "$TMP"
cleanup() {
    cluster_stop 300
    stop_fixtures
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "valgrind: building and installing the extension (log: build/logs/valgrind/build.log)"
if ! run_logged "$OUT/build.log" make -j"$(nproc)" PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "valgrind: build or install failed"
    echo "0 passed, 1 failed"
    exit 1
fi

say "valgrind: starting the emulator (HTTP, HTTPS) and the blackhole listener"
if ! start_fixtures "$TMP"; then
    echo "valgrind: the fixtures did not start"
    echo "0 passed, 1 failed"
    exit 1
fi

say "valgrind: creating the cluster and starting postgres under valgrind"
# Small shared memory and few processes: valgrind makes each of them slow
# and big.  No autovacuum, JIT or fsync: less noise, less time.  One line
# per disconnection with pg_regress's application_name ("pg_regress/TEST")
# and the pid, to tell which test each vg.PID.log belongs to.  The prefix
# ends as Debian's default does ("[PID] user@db "), which the tests that
# read the server log (08_security, 20_teardown) strip up to the last "] ".
CLUSTER_CONF=("shared_buffers = 16MB" "max_connections = 20" "autovacuum = off"
              "jit = off" "fsync = off" "synchronous_commit = off"
              "max_worker_processes = 4" "max_parallel_workers_per_gather = 0"
              "log_disconnections = on" "log_line_prefix = '%a [%p] %q%u@%d '")
cluster_init "$TMP/pg" || { echo "0 passed, 1 failed"; exit 1; }
VGLOG="$TMP/pg/vg"
mkdir -p "$VGLOG"
[ "$(id -u)" -eq 0 ] && chown postgres: "$VGLOG"
cp "$SUPP" "$TMP/pg/postgres.supp"
chmod 644 "$TMP/pg/postgres.supp"
# shellcheck disable=SC2086
VG=(valgrind --tool=memcheck --trace-children=yes --child-silent-after-fork=no
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=none
    --num-callers=40 --gen-suppressions=all
    --suppressions="$TMP/pg/postgres.supp" --log-file="$VGLOG/vg.%p.log"
    ${QXT_VALGRIND_OPTS:-})
CLUSTER_WAIT=300
if ! cluster_start "$TMP/pg" "${VG[@]}"; then
    cp -R "$VGLOG" "$OUT/" 2>/dev/null
    echo "valgrind: postgres did not start under valgrind"
    echo "0 passed, 1 failed"
    exit 1
fi
PM_PID="$CLUSTER_PID"
say "valgrind: postgres (pid $CLUSTER_PID) on $PGHOST port $PGPORT; emulator at $QXT_EMU_URL"

say "valgrind: make installcheck with ${#tests[@]} tests (limit ${LIMIT}s; log: build/logs/valgrind/regress.log)"
tr0=$(now_s)
(
    python3_shim "$TMP"
    export QXT_EMU_URL QXT_EMU_TLS_URL QXT_EMU_CA QXT_BLACKHOLE_URL
    # No pg_regress timeout exists; psql waits as long as the server takes.
    # REGRESS_OPTS given here replaces the Makefile's and PGXS's, so it
    # repeats both (plpgsql, contrib_regression) and adds the output dir.
    timeout -k 30 "$LIMIT" make installcheck PG_CONFIG="$PG_CONFIG" \
        REGRESS="${tests[*]}" \
        REGRESS_OPTS="--load-extension=plpgsql --dbname=contrib_regression --outputdir=$OUT/regress" </dev/null
) >"$OUT/regress.log" 2>&1
regress_rc=$?
tr1=$(now_s)
[ "$regress_rc" -eq 124 ] && warn "valgrind: the suite hit the ${LIMIT}s limit"

say "valgrind: stopping postgres (each process runs its leak check as it exits)"
cluster_stop 600
cp "$CLUSTER_LOG" "$OUT/postmaster.log"
cp "$VGLOG"/vg.*.log "$OUT/" 2>/dev/null
stop_fixtures
cp "$TMP/emulator.log" "$OUT/emulator.log" 2>/dev/null

# --------------------------------------------------------------------------
# valgrind's reports
# --------------------------------------------------------------------------
# pid -> application_name from the disconnection lines.
declare -A APP
while read -r pid app; do
    APP[$pid]="$app"
done < <(sed -nE 's/^([^ []*) \[([0-9]+)\] .*LOG:  disconnection:.*/\2 \1/p' "$OUT/postmaster.log")

# One line per process: pid errors our_errors def_bytes def_blocks our_leaks
"$PY" - "$OUT" >"$OUT/per-process.tsv" <<'EOF'
import glob, os, re, sys
out = sys.argv[1]
ours = re.compile(r'qxt_portability\.so|/src/(core|pg)/|qxt::')
for path in sorted(glob.glob(os.path.join(out, 'vg.*.log')),
                   key=lambda p: int(re.search(r'vg\.(\d+)\.log', p).group(1))):
    pid = re.search(r'vg\.(\d+)\.log', path).group(1)
    text = open(path, errors='replace').read()
    m = re.findall(r'ERROR SUMMARY: (\d+) errors from (\d+) contexts \(suppressed: (\d+) from (\d+)\)', text)
    errors = int(m[-1][0]) if m else -1          # -1: the process did not finish
    suppressed = int(m[-1][2]) if m else 0
    m = re.findall(r'definitely lost: ([\d,]+) bytes in ([\d,]+) blocks', text)
    dbytes = int(m[-1][0].replace(',', '')) if m else 0
    dblocks = int(m[-1][1].replace(',', '')) if m else 0
    # Report blocks: an error or loss record starts with "==PID== <text>" after
    # an empty "==PID==" line and runs to the next empty one.
    blocks = re.split(r'\n==\d+== *\n', text)
    our_err = our_leak = 0
    for b in blocks:
        lines = [l for l in b.splitlines() if l.startswith('==')]
        if not lines:
            continue
        head = lines[0]
        if 'definitely lost in loss record' in head:
            if ours.search(b):
                our_leak += 1
        elif re.search(r'==\d+== (Invalid|Conditional jump|Use of uninit|Syscall param|'
                       r'Mismatched|Source and destination|Argument|Jump to|Process terminating)', head):
            if ours.search(b):
                our_err += 1
    print(pid, errors, suppressed, our_err, dbytes, dblocks, our_leak, sep='\t')
EOF

printf '%-8s %-24s %7s %10s %8s %12s %9s\n' pid process errors suppressed ours_err "def.lost(B)" ours_leak \
    >"$OUT/summary.txt"
tot_err=0 tot_ours_err=0 tot_def=0 tot_def_blocks=0 tot_ours_leak=0 nproc=0 unfinished=0
while IFS=$'\t' read -r pid errors suppressed our_err dbytes dblocks our_leak; do
    nproc=$((nproc + 1))
    name="${APP[$pid]:-}"
    if [ -z "$name" ]; then
        if [ "$pid" = "$PM_PID" ]; then
            name="postmaster"
        else
            name="(auxiliary)"
        fi
    fi
    if [ "$errors" -lt 0 ]; then
        unfinished=$((unfinished + 1)); errors=0
        name="$name, no summary"
    fi
    printf '%-8s %-24s %7s %10s %8s %12s %9s\n' "$pid" "$name" "$errors" "$suppressed" \
        "$our_err" "$dbytes/$dblocks" "$our_leak" >>"$OUT/summary.txt"
    tot_err=$((tot_err + errors))
    tot_ours_err=$((tot_ours_err + our_err))
    tot_def=$((tot_def + dbytes))
    tot_def_blocks=$((tot_def_blocks + dblocks))
    tot_ours_leak=$((tot_ours_leak + our_leak))
done <"$OUT/per-process.tsv"

# --------------------------------------------------------------------------
# the regress tests
# --------------------------------------------------------------------------
# A test that failed only in allow-listed time/memory cells (t -> f) is
# timing-only; scripts/checks/valgrind_allow.py decides, and says which.
declare -A T_STATE
while read -r name state; do
    T_STATE[$name]="$state"
done < <(sed -nE 's/^(test| ) *([0-9A-Za-z_]+) +\.\.\. (ok|FAILED|failed \(ignored\)).*/\2 \3/p' \
            "$OUT/regress.log")
: >"$OUT/allow.txt"
r_pass=0 r_fail=0 r_timing=()
r_other=()
for t in "${tests[@]}"; do
    st="${T_STATE[$t]:-missing}"
    if [ "$st" = ok ]; then
        r_pass=$((r_pass + 1))
    elif [ "$st" != missing ] && "$PY" "$ALLOW" judge "$ROOT" "$OUT/regress/results" "$t" >>"$OUT/allow.txt"; then
        r_pass=$((r_pass + 1)); r_timing+=("$t")
    else
        r_fail=$((r_fail + 1)); r_other+=("$t ($st)")
    fi
done

echo
echo "valgrind: per process (all in build/logs/valgrind/summary.txt; errors = after suppressions):"
awk 'NR == 1 || $3 != 0 || $5 != 0 || $7 != 0 || $2 ~ /^pg_regress\// || $2 == "postmaster"' \
    "$OUT/summary.txt" | head -n 80
echo
echo "valgrind: $nproc processes, $tot_err errors ($tot_ours_err with a frame of ours)," \
     "definitely lost $tot_def bytes in $tot_def_blocks blocks" \
     "($tot_ours_leak loss records with a frame of ours)${unfinished:+, $unfinished without a summary}"
echo "valgrind: regress $r_pass/${#tests[@]} ok or timing-only in $((tr1 - tr0))s (pg_regress exit $regress_rc)"
[ "${#r_timing[@]}" -gt 0 ] && echo "valgrind: timing-only diffs (allow-listed cells only): ${r_timing[*]}"
[ -s "$OUT/allow.txt" ] && sed 's/^/  /' "$OUT/allow.txt"
[ "${#r_other[@]}" -gt 0 ] && echo "valgrind: real diffs: ${r_other[*]} (build/logs/valgrind/regress/regression.diffs)"
echo "valgrind: logs in build/logs/valgrind/ (vg.PID.log, postmaster.log, regress/); wall time $(( $(now_s) - t0 ))s"

checks_fail=0
if [ "$tot_err" -gt 0 ]; then
    checks_fail=$((checks_fail + 1))
    warn "valgrind: Memcheck errors; the first reports:"
    grep -l -E 'ERROR SUMMARY: [1-9]' "$OUT"/vg.*.log | head -n 3 | while read -r f; do
        warn "$f"; sed -n '/^==[0-9]*== [A-Z]/,/^==[0-9]*== *$/p' "$f" | head -n 60 >&2
    done
fi
if [ "$tot_ours_leak" -gt 0 ]; then
    checks_fail=$((checks_fail + 1))
    warn "valgrind: definitely lost blocks from our code:"
    grep -h -A40 'definitely lost in loss record' "$OUT"/vg.*.log \
        | grep -B5 -A30 -E 'qxt_portability\.so|/src/(core|pg)/' | head -n 80 >&2
fi
if [ "$unfinished" -gt 0 ]; then
    warn "valgrind: $unfinished processes wrote no ERROR SUMMARY (killed, or still running at the end)"
fi
# + 3: Memcheck errors, our leaks, and the allow-list (checked at the start).
echo "$((r_pass + 3 - checks_fail)) passed, $((r_fail + checks_fail)) failed"
[ "$r_fail" -eq 0 ] && [ "$checks_fail" -eq 0 ]
