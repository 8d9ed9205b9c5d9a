#!/usr/bin/env bash
# The governor suite (issue 12): two throwaway clusters up at once, one with
# shared_preload_libraries = 'qxt_portability' (the governor, the daily
# budget, the statistics) and one without (the comparison), and the
# emulator (batch latency 150 ms) as the vendor.  test/governor/governor.py
# holds the checks; it ends with "N passed, M failed".
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../scripts/lib.sh"
cd "$ROOT"

OUT="$ROOT/build/governor"
rm -rf "$OUT"; mkdir -p "$OUT"
TMP="$(mktemp -d -t qxt-governor.XXXXXX)"
chmod 755 "$TMP"
trap 'stop_emulator; rm -rf "$TMP"' EXIT

if ! run_logged "$OUT/build.log" make -j2 PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "governor: build or install failed"; echo "0 passed, 1 failed"; exit 1
fi
start_emulator "$TMP" --latency-batch-ms 150 || { echo "0 passed, 1 failed"; exit 1; }
export QXT_EMU_URL GOV_BATCH_MS=150

inner_port="$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
export INNER_PORT="$inner_port" HERE PY
OPTS="${PG_VIRTUALENV_OPTS[*]}"
export OPTS
# The outer cluster preloads the library; inside it, a second cluster
# without preload (PG* then name the inner one, PRE_* the outer).
pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" -o "shared_preload_libraries=qxt_portability" \
    bash -c '
        export PRE_PGHOST="$PGHOST" PRE_PGPORT="$PGPORT" PRE_PGUSER="$PGUSER" \
               PRE_PGPASSWORD="${PGPASSWORD:-}" PRE_PG_CLUSTER_CONF_ROOT="$PG_CLUSTER_CONF_ROOT"
        psql -X -q -d postgres -c "CREATE EXTENSION qxt_portability" >/dev/null || exit 1
        PGPORT="$INNER_PORT" pg_virtualenv $OPTS bash -c "
            psql -X -q -d postgres -c \"CREATE EXTENSION qxt_portability\" >/dev/null || exit 1
            \"\$PY\" \"\$HERE/governor.py\""
    ' </dev/null 2>"$OUT/pg_virtualenv.log"
rc=$?
cp "$TMP/emulator.log" "$OUT/emulator.log" 2>/dev/null
if [ "$rc" -ne 0 ] && ! grep -q ' passed, ' "$OUT/pg_virtualenv.log" 2>/dev/null; then
    tail -n 30 "$OUT/pg_virtualenv.log"
fi
exit "$rc"
