#!/usr/bin/env bash
# The money suite (test/money/money.py): every cost scenario under every
# model of the emulator, in a throwaway cluster (pg_virtualenv) with the
# emulator as vendor.  Builds and installs the extension first.  Prints the
# per-model table of payments per distinct number and ends with
# "N passed, M failed".  Arguments are passed to money.py (--models,
# --scenarios).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../scripts/lib.sh"
cd "$ROOT"

OUT="$ROOT/build/money"
rm -rf "$OUT"; mkdir -p "$OUT"
TMP="$(mktemp -d -t qxt-money.XXXXXX)"
chmod 755 "$TMP"
trap 'stop_emulator; rm -rf "$TMP"' EXIT

if ! run_logged "$OUT/build.log" make -j2 PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "money: build or install failed"; echo "0 passed, 1 failed"; exit 1
fi
start_emulator "$TMP" || { echo "0 passed, 1 failed"; exit 1; }
export QXT_EMU_URL

pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" "$PY" "$HERE/money.py" "$@" </dev/null
rc=$?
cp "$TMP/emulator.log" "$OUT/emulator.log" 2>/dev/null
exit "$rc"
