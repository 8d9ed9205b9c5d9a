#!/usr/bin/env bash
# Does a refresh cost time linear in its numbers?  Runs CALL qxt_refresh over
# 1M and then 10M distinct numbers against the emulator with no latency, each
# in a fresh database of one throwaway PostgreSQL 15 cluster, and prints for
# each: seconds per million numbers and the backend's peak memory, then the
# ratio of the two times per million and PASS or FAIL.
#
#   bench/refresh_scale.sh [--small N] [--large N]
#
#   --small N   numbers of the first run (default 1000000)
#   --large N   numbers of the second run (default 10000000)
#
# PASS: time per million at --large is at most 1.2x that at --small, and the
# backend's peak private memory at --large is at most 1.5x that at --small
# plus 16 MB (it does not grow with the input).  Exit 0 on PASS, 1 on FAIL,
# 2 when the run itself broke.  Not part of the test run: at the defaults it
# takes 5 to 15 minutes.  The emulator keeps a counter per number sent; it
# runs with --lean (no per-number bookkeeping) when it has that option.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"

SMALL=1000000
LARGE=10000000
while [ $# -gt 0 ]; do
    case "$1" in
        --small|--large)
            [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
            case "$2" in ''|*[!0-9]*) echo "$1 needs a whole number" >&2; exit 2 ;; esac
            [ "$2" -ge 100000 ] || { echo "$1 must be at least 100000" >&2; exit 2; }
            [ "$1" = --small ] && SMALL="$2" || LARGE="$2"
            shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
TMP="$(mktemp -d -t qxt-scale.XXXXXX)"
chmod 755 "$TMP"
trap 'stop_emulator; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building and installing the extension (log: build/logs/scale-build.log)"
run_logged "$LOGDIR/scale-build.log" make -j2 PG_CONFIG="$PG_CONFIG" || exit 2
run_logged "$LOGDIR/scale-install.log" $SUDO make install PG_CONFIG="$PG_CONFIG" || exit 2

EMU_ARGS=()
if "$PY" "$ROOT/test/emulator/qxt_emulator.py" --help 2>/dev/null | grep -q -- '--lean'; then
    EMU_ARGS+=(--lean)
fi
start_emulator "$TMP" "${EMU_ARGS[@]}" || exit 2
say "emulator at $QXT_EMU_URL, no latency${EMU_ARGS[*]:+, ${EMU_ARGS[*]}}"
EMU_CPU_PID="$EMU_PID"
TICKS="$(getconf CLK_TCK)"
export QXT_EMU_URL SMALL LARGE TMP ROOT EMU_CPU_PID TICKS

pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" bash -c '
set -uo pipefail
KEY=scalebench0000000000000000000001
"$ROOT/test/emulator/emuctl" account "$KEY" --balance 100000000000 >/dev/null || exit 2

# cpu_ticks PID: user + system CPU ticks of a process so far.
cpu_ticks() { awk "{print \$14 + \$15}" "/proc/$1/stat"; }

# run_one N: a fresh database with N distinct valid numbers, one refresh of
# them; prints "N seconds peak_rss_kb peak_anon_kb looked_up backend_cpu_s
# emulator_cpu_s".
run_one() {
    local n="$1" db="scale_$1"
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || return 1
    # 13 followed by g * 7919 mod 10^9 in nine digits: distinct for every g
    # up to 10^9 (7919 is prime to 10^9).
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
        -c "CREATE EXTENSION qxt_portability" \
        -c "CREATE TABLE phones AS SELECT (13000000000 + g::bigint * 7919 % 1000000000)::text AS phone FROM generate_series(1, $n) g" \
        -c "VACUUM ANALYZE phones" || return 1
    local out="$TMP/run_$n.out" emu0 emu1
    emu0=$(cpu_ticks "$EMU_CPU_PID")
    # One session: its pid first, then the refresh, then its clock.
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" \
        -c "SELECT pg_backend_pid()" \
        -c "LOAD '"'"'qxt_portability'"'"'" \
        -c "SET qxt.base_url = '"'"'$QXT_EMU_URL'"'"'" \
        -c "SET qxt.apikey = '"'"'$KEY'"'"'" \
        -c "SET client_min_messages = warning" \
        -c "SELECT extract(epoch FROM clock_timestamp())" \
        -c "CALL qxt_refresh('"'"'SELECT phone FROM phones'"'"')" \
        -c "SELECT extract(epoch FROM clock_timestamp())" \
        -c "SELECT pg_read_file('"'"'/proc/'"'"' || pg_backend_pid() || '"'"'/status'"'"')" \
        -c "SELECT '"'"'cpu '"'"' || pg_read_file('"'"'/proc/'"'"' || pg_backend_pid() || '"'"'/stat'"'"')" \
        >"$out" 2>&1 &
    local psql_pid=$! pid=""
    for i in $(seq 1 100); do
        pid=$(head -n 1 "$out" 2>/dev/null | tr -dc 0-9)
        [ -n "$pid" ] && break
        sleep 0.1
    done
    # Peak private memory (RssAnon), sampled twice a second.
    local anon=0 a
    while kill -0 "$psql_pid" 2>/dev/null; do
        a=$(awk "/^RssAnon:/ {print \$2}" "/proc/$pid/status" 2>/dev/null || echo 0)
        [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
        sleep 0.5
    done
    wait "$psql_pid" || { cat "$out" >&2; return 1; }
    emu1=$(cpu_ticks "$EMU_CPU_PID")
    local t0 t1 hwm paid
    t0=$(sed -n 2p "$out"); t1=$(sed -n 3p "$out")
    hwm=$(awk "/^VmHWM:/ {print \$2}" "$out")
    paid=$(psql -X -At -d "$db" -c "SELECT paid + failed FROM qxt_refresh_runs ORDER BY run_id DESC LIMIT 1")
    local cpu
    cpu=$(awk "/^cpu / {print (\$15 + \$16) / $TICKS}" "$out")
    echo "$n $(awk -v a="$t0" -v b="$t1" "BEGIN {print b - a}") $hwm $anon $paid $cpu $(awk -v a="$emu0" -v b="$emu1" -v t="$TICKS" "BEGIN {print (b - a) / t}")"
    psql -X -q -d postgres -c "DROP DATABASE $db"
}

r1=$(run_one "$SMALL") || { echo "the $SMALL run broke" >&2; exit 2; }
r2=$(run_one "$LARGE") || { echo "the $LARGE run broke" >&2; exit 2; }
python3 - "$r1" "$r2" <<"EOF"
import sys
rows = [r.split() for r in sys.argv[1:3]]
res = []
for n, secs, hwm, anon, looked, cpu, emu in rows:
    n, secs, hwm, anon, looked, cpu, emu = (int(n), float(secs), int(hwm), int(anon),
                                            int(looked), float(cpu), float(emu))
    m = n / 1e6
    per_m = secs / m
    res.append((n, secs, per_m, hwm, anon, looked, cpu / m, emu / m))
    print("%9d numbers: %7.1f s, %6.2f s per million (CPU per million: backend %.2f s, "
          "emulator %.2f s), looked up %d, backend peak RSS %d MB (VmHWM, shared buffers "
          "included), peak private %d MB"
          % (n, secs, per_m, cpu / m, emu / m, looked, hwm // 1024, anon // 1024))
ratio = res[1][2] / res[0][2]
print("CPU per million, %d vs %d: backend ratio %.3f, emulator ratio %.3f (wall time also "
      "depends on what else the machine runs)"
      % (res[1][0], res[0][0], res[1][6] / res[0][6], res[1][7] / max(res[0][7], 1e-9)))
mem_ok = res[1][4] <= 1.5 * res[0][4] + 16 * 1024
lookups_ok = all(r[5] == r[0] for r in res)
print("time per million, %d vs %d: ratio %.3f (goal <= 1.2)" % (res[1][0], res[0][0], ratio))
print("peak private memory: %d MB vs %d MB (goal: bounded, <= 1.5x + 16 MB)"
      % (res[1][4] // 1024, res[0][4] // 1024))
ok = ratio <= 1.2 and mem_ok and lookups_ok
if not lookups_ok:
    print("not every number was looked up")
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
' </dev/null
exit $?
