#!/usr/bin/env bash
# The qxt_portability benchmark, in one command:
#
#   bench/run.sh [--numbers N] [--quick] [--single-ms MS] [--batch-ms MS]
#
#   --numbers N      input size of the side-by-side table (default 20000,
#                    5 % of them duplicates)
#   --quick          smaller sizes everywhere, for a smoke run (about a minute)
#   --single-ms MS   the emulator's latency per single lookup (default 100)
#   --batch-ms MS    the emulator's latency per batch request (default 1500)
#
# Installs what it needs, builds and installs the extension and the reference
# client of the added-latency figure (bench/refclient.c), starts two
# emulators on 127.0.0.1 (the vendor's latency model, and zero latency for the
# CPU/latency/memory/cancel figures), makes one throwaway PostgreSQL 15
# cluster (pg_virtualenv) and runs bench/bench.py in it.  Writes
# bench/out/results.json and bench/out/throughput.png, and copies the plot to
# bench/throughput.png (shown by the README).  The closing lines give, per
# target, the measured value, the limit and PASS or FAIL.  Exit 0 when every
# target passed, 1 when one failed, 2 (or another code) when the run itself
# broke.  --quick checks the same limits at its smaller sizes and says so.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"

SINGLE_MS=100
BATCH_MS=1500
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) ARGS+=("$1") ;;
        --numbers|--single-ms|--batch-ms)
            [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
            case "$2" in ''|*[!0-9]*) echo "$1 needs a whole number" >&2; exit 2 ;; esac
            [ "$1" = --single-ms ] && SINGLE_MS="$2"
            [ "$1" = --batch-ms ] && BATCH_MS="$2"
            if [ "$1" = --numbers ] && [ "$2" -lt 100 ]; then
                echo "--numbers must be at least 100" >&2; exit 2
            fi
            ARGS+=("$1" "$2"); shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
ARGS+=(--single-ms "$SINGLE_MS" --batch-ms "$BATCH_MS")

LOGDIR="$ROOT/build/logs"
OUT="$ROOT/bench/out"
mkdir -p "$LOGDIR" "$OUT"
TMP="$(mktemp -d -t qxt-bench.XXXXXX)"
chmod 755 "$TMP"
LAT_PID=""
ZERO_PID=""

cleanup() {
    EMU_PID="$LAT_PID"; stop_emulator; LAT_PID=""
    EMU_PID="$ZERO_PID"; stop_emulator; ZERO_PID=""
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 0. dependencies: the project's, and the benchmark's own (the driver uses
# psycopg2 and plots with matplotlib; the baseline uses plpython3u+requests).
if ! bash "$ROOT/scripts/install-deps.sh" </dev/null; then
    warn "installing dependencies failed"; exit 2
fi
BENCH_PACKAGES=(python3-psycopg2 python3-matplotlib postgresql-plpython3-15 python3-requests)
missing=()
for p in "${BENCH_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] \
        || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "benchmark dependencies: installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
        --no-install-recommends "${missing[@]}" </dev/null >"$LOGDIR/bench-deps.log" 2>&1 || {
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 \
            >>"$LOGDIR/bench-deps.log" 2>&1
        run_logged "$LOGDIR/bench-deps.log" $SUDO env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends \
            "${missing[@]}" </dev/null || exit 2
    }
fi

# 1. the extension
say "building and installing the extension (log: build/logs/bench-build.log)"
run_logged "$LOGDIR/bench-build.log" make -j2 PG_CONFIG="$PG_CONFIG" || exit 2
run_logged "$LOGDIR/bench-install.log" $SUDO make install PG_CONFIG="$PG_CONFIG" || exit 2

# ... and the reference client of the added-latency figure
mkdir -p "$ROOT/build/bench"
run_logged "$LOGDIR/bench-refclient.log" gcc -O2 -Wall -Wextra -o "$ROOT/build/bench/refclient" \
    "$ROOT/bench/refclient.c" || exit 2

# 2. two emulators
mkdir -p "$TMP/lat" "$TMP/zero"
start_emulator "$TMP/lat" --latency-single-ms "$SINGLE_MS" --latency-batch-ms "$BATCH_MS" || exit 2
LAT_PID="$EMU_PID"; LAT_URL="$QXT_EMU_URL"; EMU_PID=""
start_emulator "$TMP/zero" || exit 2
ZERO_PID="$EMU_PID"; ZERO_URL="$QXT_EMU_URL"; EMU_PID=""
say "emulators: $LAT_URL (${SINGLE_MS} ms single, ${BATCH_MS} ms batch), $ZERO_URL (no latency)"

# 3. one throwaway cluster, the driver inside it
say "running bench/bench.py in a pg_virtualenv cluster"
pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" \
    "$PY" "$ROOT/bench/bench.py" --lat-url "$LAT_URL" --zero-url "$ZERO_URL" \
    --refclient "$ROOT/build/bench/refclient" \
    --out "$OUT" "${ARGS[@]}" </dev/null
rc=$?
case "$rc" in
    0) ;;
    1) warn "a benchmark target was missed (see the FAIL lines above)" ;;
    *) warn "the benchmark run broke (exit $rc)"; exit "$rc" ;;
esac
cp "$OUT/throughput.png" "$ROOT/bench/throughput.png"
exit "$rc"
