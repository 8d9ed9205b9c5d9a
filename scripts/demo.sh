#!/usr/bin/env bash
# A five-minute tour of qxt_portability against the vendor emulator:
# installs the dependencies, builds and installs the extension, starts the
# emulator (100 ms per single lookup, 300 ms per batch, like the real
# vendor), makes a throwaway PostgreSQL 15 cluster and runs scripts/demo.sql
# in psql.  The psql session is printed on stdout; progress goes to stderr,
# build output to build/logs/.  Everything is cleaned up on exit.
#
# Usage: scripts/demo.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
TMP="$(mktemp -d -t qxt-demo.XXXXXX)"
chmod 755 "$TMP"
cleanup() {
    stop_emulator
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "installing dependencies (if any are missing)"
bash scripts/install-deps.sh </dev/null
say "building and installing the extension (log: build/logs/demo-build.log)"
run_logged "$LOGDIR/demo-build.log" bash -c \
    'make -j2 PG_CONFIG="$1" && $2 make install PG_CONFIG="$1"' _ "$PG_CONFIG" "$SUDO"
say "starting the vendor emulator"
start_emulator "$TMP" --latency-single-ms 100 --latency-batch-ms 300
say "emulator at $QXT_EMU_URL; creating a throwaway cluster and running scripts/demo.sql"
export QXT_EMU_URL
# psql's errors go to the same stream as its output, in order; the line
# pg_virtualenv prints while dropping its cluster is left out.
pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" \
    bash -c 'psql -X -v ON_ERROR_STOP=1 -f scripts/demo.sql 2>&1' </dev/null \
    | grep -v --line-buffered '^Dropping cluster '
say "demo finished"
