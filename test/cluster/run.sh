#!/usr/bin/env bash
# The checks that need a PostgreSQL server of their own (not pg_regress's):
#
#   env_proxy   the postmaster runs with http_proxy, https_proxy and
#               ALL_PROXY (both cases) pointing at a counting proxy on
#               127.0.0.1, and NO no_proxy: every lookup still goes straight
#               to the vendor (the proxy counts 0 requests)
#   qxt_proxy   SET qxt.proxy routes every endpoint through that proxy
#               (it counts each request)
#   standby     a streaming standby made by pg_basebackup -R: the functions
#               work there (live, and from the replicated qxt_lookups with
#               qxt.cache_max_age, sending nothing), qxt_refresh is refused
#
# Builds and installs the extension first.  Everything listens on
# 127.0.0.1 or a Unix socket.  Ends with "N passed, M failed".
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../scripts/lib.sh"
. "$ROOT/scripts/checks/cluster.sh"
cd "$ROOT"

OUT="$ROOT/build/cluster"
rm -rf "$OUT"; mkdir -p "$OUT"
TMP="$(mktemp -d -t qxt-cluster.XXXXXX)"
chmod 755 "$TMP"
PROXY_PID="" STANDBY_PID="" STANDBY_LAUNCHER=""
cleanup() {
    if [ -n "$STANDBY_PID" ]; then  # the standby's postmaster: fast shutdown
        kill -INT "$STANDBY_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$STANDBY_PID" 2>/dev/null || break; sleep 0.2; done
        wait "$STANDBY_LAUNCHER" 2>/dev/null
    fi
    cluster_stop 30
    [ -n "$PROXY_PID" ] && { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; }
    stop_emulator
    rm -rf "$TMP"
}
trap cleanup EXIT

if ! run_logged "$OUT/build.log" make -j2 PG_CONFIG="$PG_CONFIG" ||
   ! run_logged "$OUT/install.log" $SUDO make install PG_CONFIG="$PG_CONFIG"; then
    echo "cluster: build or install failed"; echo "0 passed, 1 failed"; exit 1
fi
start_emulator "$TMP" || { echo "0 passed, 1 failed"; exit 1; }
python3_shim "$TMP"
export QXT_EMU_URL
EMUCTL="$ROOT/test/emulator/emuctl"

"$PY" "$HERE/count_proxy.py" --port-file "$TMP/proxy.port" --log "$OUT/proxy.log" \
    </dev/null >"$OUT/proxy.stderr" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 100); do [ -s "$TMP/proxy.port" ] && break; sleep 0.1; done
PROXY_URL="http://127.0.0.1:$(tr -dc 0-9 <"$TMP/proxy.port")"
proxied() { wc -l <"$OUT/proxy.log" | tr -d ' '; }

passed=0 failed=0
check() {  # check NAME GOT WANT
    if [ "$2" = "$3" ]; then
        echo "ok - $1: $2"; passed=$((passed + 1))
    else
        echo "FAIL - $1: got '$2', want '$3'"; failed=$((failed + 1))
    fi
}

# The primary, started with proxies in its environment and no no_proxy.
CLUSTER_CONF=("wal_level = replica" "max_wal_senders = 4")
cluster_init "$TMP/primary" || { echo "0 passed, 1 failed"; exit 1; }
saved_no_proxy="${no_proxy:-}" saved_NO_PROXY="${NO_PROXY:-}"
unset no_proxy NO_PROXY
export http_proxy="$PROXY_URL" https_proxy="$PROXY_URL" ALL_PROXY="$PROXY_URL" all_proxy="$PROXY_URL"
export HTTP_PROXY="$PROXY_URL" HTTPS_PROXY="$PROXY_URL"
cluster_start "$TMP/primary"
started=$?
# The control: with that environment, a client that honours it (urllib)
# does go through the proxy.
"$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/_emu/health", timeout=5).read()' \
    "$QXT_EMU_URL" 2>>"$OUT/proxy.stderr"
env_seen=$(tr '\0' '\n' <"/proc/$CLUSTER_PID/environ" 2>/dev/null |
           grep -cE '^(http_proxy|https_proxy|ALL_PROXY|all_proxy)=')
env_noproxy=$(tr '\0' '\n' <"/proc/$CLUSTER_PID/environ" 2>/dev/null | grep -ciE '^no_proxy=')
unset http_proxy https_proxy ALL_PROXY all_proxy HTTP_PROXY HTTPS_PROXY
export no_proxy="$saved_no_proxy" NO_PROXY="$saved_NO_PROXY"
[ "$started" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
check "precondition: the postmaster's environment has the proxy variables" "$env_seen" 4
check "precondition: and no no_proxy" "$env_noproxy" 0
check "precondition: a client honouring that environment uses the proxy" "$(proxied)" 1

PRIMARY_HOST="$PGHOST" PRIMARY_PORT="$PGPORT"
psql -X -q -d postgres -c "CREATE EXTENSION qxt_portability" >"$OUT/setup.log" 2>&1

# qxt_session KEY [SQL...]: one session against the emulator under KEY.
qxt_session() {
    local key="$1"; shift
    local args=(-X -q -At -d postgres -c "LOAD 'qxt_portability'"
                -c "SET qxt.base_url = '$QXT_EMU_URL'" -c "SET qxt.apikey = '$key'")
    local s; for s in "$@"; do args+=(-c "$s"); done
    psql "${args[@]}" 2>&1
}
LOOKUPS=("SELECT res FROM qxt_carrier('13972565391')"
         "SELECT count(res) FROM qxt_carrier_batch(ARRAY['13972565397','13163320753'])"
         "SELECT fee_type FROM qxt_balance()")

# env_proxy: straight to the vendor, whatever the environment says.
KEY=clusterenvproxy00000000000000001
"$EMUCTL" account "$KEY" --balance 1000 >/dev/null
before=$(proxied)
qxt_session "$KEY" "${LOOKUPS[@]}" >"$OUT/env_proxy.out"
check "env_proxy: answers" "$(tr '\n' ' ' <"$OUT/env_proxy.out")" "0 2 预付费 "
check "env_proxy: requests the proxy saw" "$(( $(proxied) - before ))" 0
check "env_proxy: requests the emulator saw" "$("$EMUCTL" sent "$KEY" | cut -d' ' -f1-3)" \
      "carrier=1 carrier_batch=1 balance=1"

# qxt_proxy: every endpoint through the configured proxy.
KEY=clusterqxtproxy00000000000000001
"$EMUCTL" account "$KEY" --balance 1000 >/dev/null
before=$(proxied)
qxt_session "$KEY" "SET qxt.proxy = '$PROXY_URL'" "${LOOKUPS[@]}" >"$OUT/qxt_proxy.out"
check "qxt_proxy: answers" "$(tr '\n' ' ' <"$OUT/qxt_proxy.out")" "0 2 预付费 "
check "qxt_proxy: requests the proxy saw" "$(( $(proxied) - before ))" 3
check "qxt_proxy: requests the emulator saw" "$("$EMUCTL" sent "$KEY" | cut -d' ' -f1-3)" \
      "carrier=1 carrier_batch=1 balance=1"

# standby: a refresh on the primary, then a standby from pg_basebackup.
KEY=clusterstandby000000000000000001
"$EMUCTL" account "$KEY" --balance 1000 >/dev/null
qxt_session "$KEY" "SET client_min_messages = warning" \
    "CREATE TABLE phones AS SELECT '1397256539' || g AS phone FROM generate_series(1, 5) g" \
    "CALL qxt_refresh('SELECT phone FROM phones')" >"$OUT/refresh.out"
check "standby: the primary's refresh" "$(psql -X -At -d postgres -c 'SELECT count(*) FROM qxt_lookups')" 5
SB="$TMP/standby"
mkdir -p "$SB/sock"; chmod 755 "$SB"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$SB"
as_pg "$PG_BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres \
    -D "$SB/data" -R -X stream >"$OUT/basebackup.log" 2>&1 ||
    { warn "pg_basebackup failed"; cat "$OUT/basebackup.log" >&2; }
SB_PORT="$(free_port)"
as_pg bash -c 'exec "$@"' _ "$PG_BIN/postgres" -D "$SB/data" -p "$SB_PORT" \
    -c listen_addresses= -c unix_socket_directories="$SB/sock" -c hot_standby=on \
    -c logging_collector=off </dev/null >"$OUT/standby.log" 2>&1 &
STANDBY_LAUNCHER=$!
for _ in $(seq 1 150); do
    [ -z "$STANDBY_PID" ] && [ -s "$SB/data/postmaster.pid" ] &&
        STANDBY_PID="$(head -n 1 "$SB/data/postmaster.pid" | tr -dc 0-9)"
    [ -n "$STANDBY_PID" ] && "$PG_BIN/pg_isready" -q -h "$SB/sock" -p "$SB_PORT" && break
    sleep 0.2
done
export PGHOST="$SB/sock" PGPORT="$SB_PORT"
check "standby: in recovery" "$(psql -X -At -d postgres -c 'SELECT pg_is_in_recovery()')" t
check "standby: streaming from the primary" \
      "$(psql -X -At -d postgres -c 'SELECT status FROM pg_stat_wal_receiver')" streaming
"$EMUCTL" reset "$KEY" >/dev/null
qxt_session "$KEY" "${LOOKUPS[@]}" >"$OUT/standby_live.out"
check "standby: live lookups" "$(tr '\n' ' ' <"$OUT/standby_live.out")" "0 2 预付费 "
check "standby: live requests" "$("$EMUCTL" sent "$KEY" | cut -d' ' -f1-3)" \
      "carrier=1 carrier_batch=1 balance=1"
"$EMUCTL" reset "$KEY" >/dev/null
qxt_session "$KEY" "SET qxt.cache_max_age = '1h'" \
    "SELECT now_isp FROM qxt_carrier('13972565393')" \
    "SELECT count(res) FROM qxt_carrier_batch(ARRAY['13972565391','13972565392'])" >"$OUT/standby_cache.out"
check "standby: answers from the replicated qxt_lookups" "$(tr '\n' ' ' <"$OUT/standby_cache.out")" "移动 2 "
check "standby: cached answers send nothing" "$("$EMUCTL" sent "$KEY" | cut -d' ' -f1-3)" \
      "carrier=0 carrier_batch=0 balance=0"
"$EMUCTL" reset "$KEY" >/dev/null
qxt_session "$KEY" "CALL qxt_refresh('SELECT phone FROM phones')" "\\echo :LAST_ERROR_SQLSTATE" \
    >"$OUT/standby_refresh.out"
check "standby: qxt_refresh refused" "$(tail -n 1 "$OUT/standby_refresh.out")" 25006
check "standby: the refusal says why" "$(head -n 1 "$OUT/standby_refresh.out")" \
      "ERROR:  qxt_refresh cannot run on a standby"
check "standby: no internal statement in CONTEXT" "$(grep -c CONTEXT "$OUT/standby_refresh.out")" 0
check "standby: the refused refresh sent nothing" "$("$EMUCTL" sent "$KEY" | cut -d' ' -f1-3)" \
      "carrier=0 carrier_batch=0 balance=0"
head -n 3 "$OUT/standby_refresh.out" | sed 's/^/  /'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
