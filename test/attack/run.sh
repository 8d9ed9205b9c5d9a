#!/usr/bin/env bash
# The search_path attack (issue "No way in", point 1), as a suite of its own.
#
# A database owner who is not a superuser (in PostgreSQL 15 the owner of a
# database owns its schema public) plants in public a better-matching
# variant of every built-in function and operator the extension's SQL uses
# (the list is generated from the code: test/attack/attack.py), and puts
# public before pg_catalog in the database's search_path.  A superuser then
# creates the extension (and also 1.0 + ALTER EXTENSION UPDATE) and runs
# every entry point of test/attack/entry_points.sql against the emulator.
# The suite fails if any planted object ran (each writes QXT-PLANTED-RAN to
# the server log), if the owner became a superuser, or if an entry point
# failed.  A cross-check runs the entry points in a clean database with
# debug_print_parse and fails if our statements (or the extension's stored
# expressions) use a pg_catalog function or operator whose name is not in
# the generated list.  A canary proves the plants work.  Last, the owner
# renames the extension's schema from the source query of a qxt_refresh of
# its own and puts trapped look-alikes under the old name: no trap may run
# and the owner must not become a superuser.  Ends with
# "N passed, M failed"; details in build/attack/.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../scripts/lib.sh"
cd "$ROOT"

OUT="$ROOT/build/attack"
rm -rf "$OUT"; mkdir -p "$OUT"
chmod 755 "$OUT"
TMP="$(mktemp -d -t qxt-attack.XXXXXX)"
chmod 755 "$TMP"
trap 'stop_emulator; rm -rf "$TMP"' EXIT

if ! run_logged "$OUT/build.log" make -j2 PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "attack: build or install failed"; echo "0 passed, 1 failed"; exit 1
fi
start_emulator "$TMP" || { echo "0 passed, 1 failed"; exit 1; }
python3_shim "$TMP"
export QXT_EMU_URL OUT PY

pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" bash "$HERE/inner.sh" </dev/null
