#!/usr/bin/env bash
# The preload suite: the checks that need the library loaded at server
# start, each in its own throwaway cluster (pg_virtualenv) with the
# emulator as vendor:
#   qxt_first  shared_preload_libraries = 'qxt_portability, pg_stat_statements'
#              (pg_stat_statements wraps our hook: SET qxt.apikey refused,
#              so is the key set inside DO, CALL, EXPLAIN or COPY; no key
#              in pg_stat_statements; a key in postgresql.conf is
#              used and its reload line masked; teardown runs in backends)
#   qxt_last   shared_preload_libraries = 'pg_stat_statements, qxt_portability'
#              (our hook is outermost: SET qxt.apikey runs, so does the
#              key set inside DO, CALL, EXPLAIN or COPY, and
#              pg_stat_statements stores only masked texts)
# Each is a pg_regress schedule of test/preload/sql (expected output in
# test/preload/expected).  Then test/preload/restart.sh: the usage
# statistics across clean restarts, foreign files, an immediate stop and a
# crash, in a cluster of its own.  Builds and installs the extension first.
# Ends with "N passed, M failed" (pg_regress tests over both clusters, plus
# restart.sh's checks).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../scripts/lib.sh"
cd "$ROOT"

OUT="$ROOT/build/preload"
rm -rf "$OUT"; mkdir -p "$OUT"
TMP="$(mktemp -d -t qxt-preload.XXXXXX)"
chmod 755 "$TMP"
trap 'stop_emulator; rm -rf "$TMP"' EXIT

if ! run_logged "$OUT/build.log" make -j2 PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "preload: build or install failed"; echo "0 passed, 1 failed"; exit 1
fi
start_emulator "$TMP" || { echo "0 passed, 1 failed"; exit 1; }
python3_shim "$TMP"
export QXT_EMU_URL

PG_REGRESS="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
passed=0; failed=0
run_cluster() {
    local name="$1" libs="$2"; shift 2
    mkdir -p "$OUT/$name"
    echo "preload: $name (shared_preload_libraries = '$libs')"
    pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" -o "shared_preload_libraries=$libs" \
        "$PG_REGRESS" --inputdir=test/preload --outputdir="$OUT/$name" \
            --bindir="$("$PG_CONFIG" --bindir)" --dbname=contrib_regression "$@" \
        </dev/null >"$OUT/$name/run.log" 2>&1
    local rc=$? line n f
    grep -E '^(test| ) .*\.\.\. ' "$OUT/$name/run.log"
    if line="$(grep -oE 'All [0-9]+ tests passed' "$OUT/$name/run.log")"; then
        n="$(grep -oE '[0-9]+' <<<"$line")"; f=0
    elif line="$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$OUT/$name/run.log")"; then
        f="$(awk '{print $1}' <<<"$line")"; n="$(awk '{print $3}' <<<"$line")"
    else
        tail -n 40 "$OUT/$name/run.log"; n=1; f=1
    fi
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
        [ -f "$OUT/$name/regression.diffs" ] && head -n 150 "$OUT/$name/regression.diffs"
        [ "$f" -eq 0 ] && f=1
    fi
    passed=$((passed + n - f)); failed=$((failed + f))
}
run_cluster qxt_first "qxt_portability, pg_stat_statements" preload_setup preload_qxt_first
run_cluster qxt_last "pg_stat_statements, qxt_portability" preload_setup preload_qxt_last preload_parallel preload_stats
echo "preload: restart (test/preload/restart.sh)"
bash "$HERE/restart.sh" </dev/null >"$OUT/restart.log" 2>&1
grep -E '^(ok|not ok) ' "$OUT/restart.log"
if line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/restart.log" | tail -n 1)"; then
    passed=$((passed + $(awk '{print $1}' <<<"$line")))
    failed=$((failed + $(awk '{print $3}' <<<"$line")))
else
    tail -n 40 "$OUT/restart.log"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
