#!/usr/bin/env bash
# The transcript of the README's Refresh jobs section, made again:
#
#   bench/refresh_transcript.sh
#
# Builds and installs the extension, starts the emulator on 127.0.0.1 with
# the vendor's latency (100 ms per single lookup, 1.5 s per batch request),
# makes a throwaway PostgreSQL 15 cluster (pg_virtualenv) and, in one psql
# session at the defaults (qxt.batch_size 1000, qxt.batch_concurrency 4,
# qxt.progress_interval_ms 5000):
#   - creates the table customers: 102,000 rows, phone NULL in every
#     thousandth row (102), the first 99,999 rows otherwise distinct valid
#     numbers (99,900), and rows 100,001 to 101,999 repeating the numbers of
#     rows 1 to 1,999 (1,998 duplicates);
#   - gives the account a balance of 60,000 lookups and runs
#     CALL qxt_refresh('SELECT phone FROM customers'), which stops at 60,000;
#   - tops the account up (to 100,000) and runs the same CALL again;
#   - turns on expanded output (\x) and lists qxt_refresh_progress.
# Prints that session as a transcript ("=# " before each statement) on
# stdout; the setup (settings, the top-up) is described on stderr.  Checks
# that the runs ended as the README says (failed at 60,000 paid, then done
# with the 39,900 left): exit 0 when they did, 1 when not, 2 when the run
# broke.  About a minute.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"

case "${1:-}" in
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    '') ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
esac

LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
TMP="$(mktemp -d -t qxt-transcript.XXXXXX)"
chmod 755 "$TMP"
trap 'stop_emulator; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building and installing the extension (log: build/logs/transcript-build.log)"
run_logged "$LOGDIR/transcript-build.log" make -j2 PG_CONFIG="$PG_CONFIG" || exit 2
run_logged "$LOGDIR/transcript-install.log" $SUDO make install PG_CONFIG="$PG_CONFIG" || exit 2
start_emulator "$TMP" --latency-single-ms 100 --latency-batch-ms 1500 || exit 2
python3_shim "$TMP"
KEY=transcript0000000000000000000001
"$ROOT/test/emulator/emuctl" account "$KEY" --balance 60000 >/dev/null || exit 2
say "emulator at $QXT_EMU_URL (100 ms single, 1500 ms per batch request); account $KEY, balance 60000"

# The session.  Each statement shown is echoed with "=# " first; the
# settings before them are not shown (QUIET).
cat >"$TMP/session.sql" <<'EOF'
\set QUIET on
LOAD 'qxt_portability';
SELECT set_config('qxt.base_url', :'emu_url', false), set_config('qxt.apikey', :'key', false) \g /dev/null
\set QUIET off
\echo '=# CREATE TABLE customers AS'
\echo '   SELECT g AS id,'
\echo '          CASE WHEN g % 1000 = 0 THEN NULL       -- every thousandth row: no number (102 rows)'
\echo '               ELSE \'139\' || lpad((CASE WHEN g > 100000 THEN g - 100000  -- rows 100,001 on repeat'
\echo '                                         ELSE g END)::text, 8, \'0\') END AS phone'
\echo '   FROM generate_series(1, 102000) g;'
CREATE TABLE customers AS
   SELECT g AS id,
          CASE WHEN g % 1000 = 0 THEN NULL
               ELSE '139' || lpad((CASE WHEN g > 100000 THEN g - 100000
                                         ELSE g END)::text, 8, '0') END AS phone
   FROM generate_series(1, 102000) g;
\echo
\echo '=# CALL qxt_refresh(\'SELECT phone FROM customers\');'
CALL qxt_refresh('SELECT phone FROM customers');
\! test/emulator/emuctl account "$KEY" --balance 100000 >/dev/null
\echo
\echo '=# CALL qxt_refresh(\'SELECT phone FROM customers\');   -- after topping up'
CALL qxt_refresh('SELECT phone FROM customers');
\echo
\echo '=# \\x'
\x
\echo '=# SELECT * FROM qxt_refresh_progress;   -- from any session, while it runs or after'
SELECT * FROM qxt_refresh_progress;
EOF

cat >"$TMP/inner.sh" <<'EOF'
set -uo pipefail
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qxt_portability" >&2 || exit 2
# stdout line-buffered, so that results (stdout) and NOTICEs (stderr) come
# out in the order psql printed them.
stdbuf -oL psql -X -v VERBOSITY=default -v emu_url="$QXT_EMU_URL" -v key="$KEY" \
    -f "$TMP/session.sql" >"$TMP/transcript.txt" 2>&1
psql -X -At -c "SELECT string_agg(concat_ws(' ', state, paid, done, to_look_up, invalid, total), ', '
                                  ORDER BY run_id) FROM qxt_refresh_runs" >"$TMP/runs.txt" || exit 2
EOF

export QXT_EMU_URL KEY TMP
pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" bash "$TMP/inner.sh" </dev/null >&2
rc=$?
[ "$rc" -eq 0 ] || { warn "the run broke (exit $rc)"; cat "$TMP/transcript.txt" >&2 2>/dev/null; exit 2; }
sed -e 's/^psql:[^ ]*: //' -e 's/ *$//' "$TMP/transcript.txt"
runs="$(cat "$TMP/runs.txt")"
want="failed 60000 60000 99900 102 102000, done 39900 39900 39900 102 102000"
if [ "$runs" = "$want" ]; then
    echo "PASS: the two runs ended as the README says (state paid done to_look_up invalid total: $runs)" >&2
    exit 0
fi
echo "FAIL: the runs ended as '$runs'; the README says '$want'" >&2
exit 1
