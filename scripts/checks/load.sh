#!/usr/bin/env bash
# make check-load: pgbench against the emulator, 8 clients for a bounded time,
# with the memory of every client backend sampled from /proc.
#
#   emulator   --latency-single-ms 5 --latency-batch-ms 20: the vendor's
#              ~100 ms / ~1.5 s scaled down 20-75x, so that in one minute
#              each backend makes thousands of calls (a per-call leak shows
#              up) while every request still waits on the network with the
#              connection held, as with the vendor.  With 0 ms the test
#              measures only the CPU of the box; with the real latencies it
#              makes too few calls to see a small leak.
#   cluster    a throwaway one (scripts/checks/cluster.sh), Unix socket only
#   settings   the documented way: LOAD 'qxt_portability'; ALTER SYSTEM SET
#              qxt.apikey_file (a key file of the server's OS user, mode
#              0600); pg_reload_conf(); ALTER DATABASE … SET
#              qxt.base_url (and qxt.batch_size = 20, so a 50-element batch
#              is 2 requests in flight on the connection pool)
#   pgbench    -n -c 8 -j 2 -T QXT_LOAD_SECONDS
#              -f test/load/single.sql@9 -f test/load/batch.sql@1
#   sampling   every QXT_LOAD_SAMPLE seconds, VmRSS and RssAnon of every
#              backend whose application_name is 'pgbench'; "start" is the
#              first sample at or after QXT_LOAD_WARMUP seconds, "end" the
#              last one taken while pgbench was still running.
#
# Pass: pgbench exits 0 with 0 failed transactions, all 8 backends were
# sampled at start and end, and no backend's RssAnon (its private memory:
# heap, curl/OpenSSL state, caches; VmRSS also counts the shared buffers it
# happens to touch, which is not ours to grow) grew by more than
# QXT_LOAD_MAX_GROWTH_KB (default 2048) from start to end.  2 MB: after
# warm-up the catalog and plan caches, the kept-alive connections and the
# TLS-free curl handles are all made, so nothing of ours should grow.  On a
# 2-CPU machine each backend makes about 35 000 lookups (single and batch
# elements) after the warm-up of a 60 s run, so a leak of about 60 bytes per
# lookup (a lost response buffer or curl header list is far more) passes
# 2 MB, while glibc's arena trimming and PostgreSQL's memory context reuse
# move RssAnon by a few hundred kB at most (measured: +12 kB at most).
#
# Usage: scripts/checks/load.sh
#   QXT_LOAD_SECONDS=N       pgbench duration (default 60)
#   QXT_LOAD_WARMUP=N        warm-up before the start sample (default 10)
#   QXT_LOAD_SAMPLE=N        sampling period (default 5)
#   QXT_LOAD_MAX_GROWTH_KB=N per-backend growth allowed (default 2048)
#
# Logs: build/logs/load/ (pgbench.log, rss.tsv, postmaster.log,
# emulator.log).  Last line: "N passed, M failed" over the checks: pgbench
# ran without error, the backends were sampled, and one per backend for its
# RSS growth.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
cd "$ROOT"

DURATION="${QXT_LOAD_SECONDS:-60}"
WARMUP="${QXT_LOAD_WARMUP:-10}"
SAMPLE="${QXT_LOAD_SAMPLE:-5}"
MAX_GROWTH="${QXT_LOAD_MAX_GROWTH_KB:-2048}"
CLIENTS=8
for v in DURATION WARMUP SAMPLE MAX_GROWTH; do
    case "${!v}" in ''|*[!0-9]*) echo "$v must be a whole number" >&2; exit 2 ;; esac
done
if [ "$DURATION" -lt $((WARMUP + 2 * SAMPLE)) ]; then
    echo "QXT_LOAD_SECONDS must be at least warm-up + 2 samples ($((WARMUP + 2 * SAMPLE)))" >&2
    exit 2
fi
KEY=0123456789abcdef0123456789abcdef     # the emulator's prepaid account (10^9 lookups)
OUT="$ROOT/build/logs/load"
rm -rf "$OUT"; mkdir -p "$OUT"
TMP="$(mktemp -d -t qxt-load.XXXXXX)"
chmod 755 "$TMP"
SAMPLER=""
cleanup() {
    [ -n "$SAMPLER" ] && { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; }
    cluster_stop 60
    stop_emulator
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$(now_s)

say "load: building and installing the extension (log: build/logs/load/build.log)"
if ! run_logged "$OUT/build.log" make -j"$(nproc)" PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "load: build or install failed"; echo "0 passed, 1 failed"; exit 1
fi

say "load: starting the emulator (5 ms single, 20 ms batch)"
start_emulator "$TMP" --latency-single-ms 5 --latency-batch-ms 20 ||
    { echo "load: the emulator did not start"; echo "0 passed, 1 failed"; exit 1; }

say "load: starting a throwaway cluster"
CLUSTER_CONF=("max_connections = 20")
if ! cluster_init "$TMP/pg" || ! cluster_start "$TMP/pg"; then
    echo "load: the cluster did not start"; echo "0 passed, 1 failed"; exit 1
fi
PSQL=("$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -q)
if ! "${PSQL[@]}" >"$OUT/setup.log" 2>&1 <<EOF
CREATE EXTENSION qxt_portability;
COPY (SELECT '$KEY') TO PROGRAM 'cat > qxt_load.key';
LOAD 'qxt_portability';
ALTER SYSTEM SET qxt.apikey_file = 'qxt_load.key';
SELECT pg_reload_conf();
ALTER DATABASE postgres SET qxt.base_url = '$QXT_EMU_URL';
ALTER DATABASE postgres SET qxt.batch_size = 20;
EOF
then
    cat "$OUT/setup.log" >&2
    echo "load: setup failed"; echo "0 passed, 1 failed"; exit 1
fi
# The reload is asynchronous: wait until a new session sees the key work.
for i in $(seq 1 50); do
    "${PSQL[@]}" -Atc "SELECT mobile FROM qxt_carrier('13972565391')" >"$OUT/smoke.log" 2>&1 && break
    sleep 0.2
done
if ! grep -q 13972565391 "$OUT/smoke.log"; then
    cat "$OUT/smoke.log" >&2
    echo "load: a lookup through the emulator failed"; echo "0 passed, 1 failed"; exit 1
fi
sent0="$("$PY" "$ROOT/test/emulator/emuctl" stats "$KEY" 2>/dev/null |
         "$PY" -c 'import json,sys; print(json.load(sys.stdin)["numbers_sent"])' 2>/dev/null || echo 0)"

# The sampler: "SECONDS PID VmRSS_kB RssAnon_kB" lines.
sampler() {
    local start="$1" pid t
    while :; do
        t=$(( $(now_s) - start ))
        for pid in $("$PG_BIN/psql" -X -Atc \
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'" 2>/dev/null); do
            awk -v t="$t" -v p="$pid" '
                /^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
                END { if (r != "") print t, p, r, a }' "/proc/$pid/status" 2>/dev/null
        done
        sleep "$SAMPLE"
    done
}

say "load: pgbench -c $CLIENTS -j 2 -T $DURATION (single@9, batch@1; log: build/logs/load/pgbench.log)"
tb=$(now_s)
sampler "$tb" >"$OUT/rss.tsv" &
SAMPLER=$!
"$PG_BIN/pgbench" -n -c "$CLIENTS" -j 2 -T "$DURATION" -P 10 \
    -f test/load/single.sql@9 -f test/load/batch.sql@1 postgres \
    </dev/null >"$OUT/pgbench.log" 2>&1
pgbench_rc=$?
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=""
te=$(now_s)
sent1="$("$PY" "$ROOT/test/emulator/emuctl" stats "$KEY" 2>/dev/null |
         "$PY" -c 'import json,sys; print(json.load(sys.stdin)["numbers_sent"])' 2>/dev/null || echo 0)"
cluster_stop 60
cp "$CLUSTER_LOG" "$OUT/postmaster.log" 2>/dev/null
stop_emulator
cp "$TMP/emulator.log" "$OUT/emulator.log" 2>/dev/null

# --------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------
log="$OUT/pgbench.log"
num() { grep -oE "$1" "$log" | head -n 1 | grep -oE '[0-9.]+' | head -n 1; }
tps="$(grep -oE 'tps = [0-9.]+ \(without initial connection time\)' "$log" | grep -oE '[0-9.]+' | head -n 1)"
processed="$(num 'number of transactions actually processed: [0-9]+')"
failed_tx="$(num 'number of failed transactions: [0-9]+')"
lat="$(num 'latency average = [0-9.]+')"
# Per script: "SQL script N: test/load/X.sql" then " - NNN transactions (…, tps = …)".
single_tx="$(awk '/SQL script [0-9]+: .*single\.sql/ { f = 1; next }
                  f && /transactions/ { match($0, /[0-9]+ transactions/); print substr($0, RSTART, RLENGTH) + 0; exit }' "$log")"
batch_tx="$(awk '/SQL script [0-9]+: .*batch\.sql/ { f = 1; next }
                 f && /transactions/ { match($0, /[0-9]+ transactions/); print substr($0, RSTART, RLENGTH) + 0; exit }' "$log")"
single_tx="${single_tx:-0}"; batch_tx="${batch_tx:-0}"
secs=$((te - tb))
lookups=$((single_tx + batch_tx * 40))       # distinct numbers per call
lookups_s="$(awk -v l="$lookups" -v d="$DURATION" 'BEGIN { printf "%.0f", l / d }')"
vendor_numbers=$((sent1 - sent0))

passed=0 failed=0
echo
echo "load: pgbench $CLIENTS clients, ${DURATION}s, exit $pgbench_rc"
echo "load: ${processed:-?} transactions ($single_tx single, $batch_tx batch of 50/40 distinct)," \
     "failed ${failed_tx:-?}, tps ${tps:-?}, latency average ${lat:-?} ms"
echo "load: lookups ${lookups} (${lookups_s}/s; numbers the emulator received: $vendor_numbers)"
if [ "$pgbench_rc" -eq 0 ] && [ "${failed_tx:-x}" = 0 ] && [ "${processed:-0}" -gt 0 ] &&
   ! grep -qE '^(pgbench: error|.*ERROR:)' "$log"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    warn "load: pgbench reported errors (build/logs/load/pgbench.log):"
    grep -E 'error|ERROR|FATAL|failed' "$log" | head -n 20 >&2
fi

# RSS per backend: first sample at or after the warm-up, and the last.
"$PY" - "$OUT/rss.tsv" "$WARMUP" "$MAX_GROWTH" "$CLIENTS" >"$OUT/rss-summary.txt" <<'EOF'
import sys
path, warmup, limit, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
samples = {}
for line in open(path):
    f = line.split()
    if len(f) != 4:
        continue
    t, pid, rss, anon = int(f[0]), f[1], int(f[2]), int(f[3])
    samples.setdefault(pid, []).append((t, rss, anon))
rows = []
for pid, s in samples.items():
    after = [x for x in s if x[0] >= warmup]
    if len(after) < 2:
        continue
    a, b = after[0], after[-1]
    rows.append((pid, a, b))
print("backends %d" % len(rows))
worst = None
for pid, a, b in sorted(rows, key=lambda r: int(r[0])):
    g_anon, g_rss = b[2] - a[2], b[1] - a[1]
    ok = g_anon <= limit
    print("pid %s t %d->%ds VmRSS %d->%d kB (%+d) RssAnon %d->%d kB (%+d) %s"
          % (pid, a[0], b[0], a[1], b[1], g_rss, a[2], b[2], g_anon, "ok" if ok else "GREW"))
    if worst is None or g_anon > worst:
        worst = g_anon
print("max_growth %s" % (worst if worst is not None else "?"))
EOF
nb="$(sed -nE 's/^backends ([0-9]+)/\1/p' "$OUT/rss-summary.txt")"
echo "load: RSS per pgbench backend (start = first sample at >= ${WARMUP}s, end = last sample; limit +${MAX_GROWTH} kB RssAnon):"
grep '^pid ' "$OUT/rss-summary.txt" | sed 's/^/  /'
echo "load: max RssAnon growth $(sed -nE 's/^max_growth //p' "$OUT/rss-summary.txt") kB over ${nb:-0} backends"
if [ "${nb:-0}" -eq "$CLIENTS" ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    warn "load: sampled ${nb:-0} backends at start and end, expected $CLIENTS (build/logs/load/rss.tsv)"
fi
ok_b="$(grep -c '^pid .* ok$' "$OUT/rss-summary.txt")"
grew_b="$(grep -c '^pid .* GREW$' "$OUT/rss-summary.txt")"
passed=$((passed + ok_b)); failed=$((failed + grew_b))
echo "load: wall time $(( $(now_s) - t0 ))s; logs in build/logs/load/"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
