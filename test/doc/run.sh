#!/usr/bin/env bash
# The README doc test: every SQL example of README.md (psql sessions and
# ```sql blocks) run in one throwaway cluster (pg_virtualenv, with pg_cron
# preloaded as the README's pg_cron recipe says) against the vendor
# emulator on 127.0.0.1, its output compared with what the README shows
# (test/doc/doctest.py says how).  Examples marked
# "<!-- doctest: skip (why) -->" are listed as skipped by mark.  Builds and
# installs the extension first.  Details in build/doc/ (psql.out: all psql
# printed).  Ends with "N passed, M failed", one count per executed example.
#
#   test/doc/run.sh            run the examples
#   test/doc/run.sh --list     only list how each block is treated
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../scripts/lib.sh"
cd "$ROOT"

if [ "${1:-}" = "--list" ]; then
    exec "$PY" "$HERE/doctest.py" --list "$ROOT/README.md"
fi

OUT="$ROOT/build/doc"
rm -rf "$OUT"; mkdir -p "$OUT"
TMP="$(mktemp -d -t qxt-doc.XXXXXX)"
chmod 755 "$TMP" "$OUT"
trap 'stop_emulator; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! run_logged "$OUT/build.log" make -j2 PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "doc: build or install failed"; echo "0 passed, 1 failed"; exit 1
fi
start_emulator "$TMP" || { echo "doc: the emulator did not start"; echo "0 passed, 1 failed"; exit 1; }
python3_shim "$TMP"
export QXT_EMU_URL
export QXT_DOC_WORKDIR="$OUT"

# The README's pg_cron settings; the cluster's own database is the one the
# examples use, so it is pg_cron's database too.
pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" \
    -o "shared_preload_libraries=pg_cron" -o "cron.database_name=postgres" \
    -o "cron.use_background_workers=on" -o "max_worker_processes=16" \
    "$PY" "$HERE/doctest.py" "$ROOT/README.md" </dev/null >"$OUT/result.txt" 2>"$OUT/pg_virtualenv.log"
rc=$?
cat "$OUT/result.txt"
if ! grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$OUT/result.txt"; then
    echo "doc: the doc test did not run (exit $rc); last lines of build/doc/pg_virtualenv.log:"
    tail -n 30 "$OUT/pg_virtualenv.log"
    echo "0 passed, 1 failed"
    exit 1
fi
exit "$rc"
