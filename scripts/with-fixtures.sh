#!/usr/bin/env bash
# Runs a command with the vendor emulator fixtures of the regression tests
# running on 127.0.0.1, then stops them:
#
#   scripts/with-fixtures.sh CMD [ARGS...]
#
# The fixtures (scripts/lib.sh, start_fixtures): the emulator over HTTP, a
# second one over HTTPS with a throwaway self-signed certificate, and a
# listener that never accepts.  CMD sees QXT_EMU_URL, QXT_EMU_TLS_URL,
# QXT_EMU_CA and QXT_BLACKHOLE_URL, and Debian's python3 first on PATH (for
# test/emulator/emuctl).  "make installcheck" runs pg_regress through this
# script when QXT_EMU_URL is not set.  Exits with CMD's status.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || { echo "usage: scripts/with-fixtures.sh CMD [ARGS...]" >&2; exit 2; }

FIX_TMP="$(mktemp -d -t qxt-fixtures.XXXXXX)"
chmod 755 "$FIX_TMP"
trap 'stop_fixtures; rm -rf "$FIX_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! start_fixtures "$FIX_TMP"; then
    warn "could not start the emulator fixtures"
    exit 1
fi
say "emulator fixtures for this run: $QXT_EMU_URL, $QXT_EMU_TLS_URL, blackhole $QXT_BLACKHOLE_URL (stopped at the end)"
python3_shim "$FIX_TMP"
"$@"
