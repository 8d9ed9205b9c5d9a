#!/usr/bin/env bash
# A five-minute tour of qxt_portability against the vendor emulator:
# installs the dependencies, builds and installs the extension, starts the
# emulator (100 ms per single lookup, 300 ms per batch request, like the
# real vendor but faster), makes a throwaway PostgreSQL 15 cluster and runs
# scripts/demo.sql in psql.
#
# Standard output is the psql session and nothing else.  Progress lines go
# to standard error; what apt, the build, the emulator and pg_virtualenv
# print goes to build/logs/demo.log.  Everything is cleaned up on exit.
#
# Usage: scripts/demo.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
LOG="$LOGDIR/demo.log"
: >"$LOG"
TMP="$(mktemp -d -t qxt-demo.XXXXXX)"
chmod 755 "$TMP"
cleanup() {
    stop_emulator
    cat "$TMP/emulator.log" >>"$LOG" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step LABEL CMD...: runs CMD with its output appended to the log; on
# failure shows the log's tail on stderr and stops the demo.
step() {
    local label="$1"; shift
    say "$label"
    if ! "$@" </dev/null >>"$LOG" 2>&1; then
        warn "failed: $label; last 40 lines of build/logs/demo.log:"
        tail -n 40 "$LOG" >&2
        exit 1
    fi
}

say "the psql session follows on stdout; installs, build and cluster messages go to build/logs/demo.log"
step "installing dependencies (if any are missing)" bash scripts/install-deps.sh
step "building and installing the extension" bash -c \
    'make -j2 PG_CONFIG="$1" && $2 make install PG_CONFIG="$1"' _ "$PG_CONFIG" "$SUDO"
say "starting the vendor emulator"
start_emulator "$TMP" --latency-single-ms 100 --latency-batch-ms 300
say "emulator at $QXT_EMU_URL; creating a throwaway cluster and running scripts/demo.sql"
export QXT_EMU_URL
# psql writes to descriptor 3, the demo's stdout (its errors and NOTICEs
# too, in order); pg_virtualenv's own messages go to the log.
rc=0
pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" \
    bash -c 'psql -X -v ON_ERROR_STOP=1 -f scripts/demo.sql >&3 2>&3' \
    3>&1 </dev/null >>"$LOG" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
    warn "the demo failed (exit $rc); last 40 lines of build/logs/demo.log:"
    tail -n 40 "$LOG" >&2
    exit "$rc"
fi
say "demo finished; the cluster and the emulator are gone"
