#!/usr/bin/env bash
# Usage statistics across server restarts, in a throwaway cluster of its own
# (pg_virtualenv, shared_preload_libraries = 'qxt_portability'):
#   - four sessions update the statistics at once: no update is lost;
#   - a clean restart (pg_ctlcluster ... restart -m fast) keeps every row,
#     percentiles included, and the file is gone while the server runs;
#   - a file in pg_stat that is not ours (bad magic, empty, truncated, a
#     flipped byte, a negative count with a valid checksum, another layout)
#     is ignored with a LOG line: the server starts, the views are empty;
#     so is a FIFO or a directory in its place (never opened: a FIFO would
#     block the postmaster at start);
#     a huge count with a valid checksum loads and saturates, never wraps;
#   - an immediate stop (the postmaster still saves), and a backend killed
#     with SIGKILL (crash and reinitialisation: the statistics start from
#     empty), break nothing: the server starts, the views read, counting
#     goes on.
# Called by test/preload/run.sh (which installed the extension and exported
# QXT_EMU_URL); prints one "ok"/"not ok" line per check and ends with
# "N passed, M failed".
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ "${1:-}" != "--inside" ]; then
    . "$HERE/../../scripts/lib.sh"
    pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" -o "shared_preload_libraries=qxt_portability" \
        bash "$HERE/restart.sh" --inside </dev/null
    exit $?
fi

# --- inside the virtual environment ------------------------------------------
passed=0; failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() {  # check NAME WANT GOT
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (want [$2], got [$3])"; fi
}
q() { psql -XAtq -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
export PGDATABASE=postgres

DATA="$(q 'SHOW data_directory')"
LOG="$(pg_lsclusters -h | awk '$1 == 15 && $2 == "regress" {print $7}')"
FILE="$DATA/pg_stat/qxt_portability.stat"
# (stop then start, never "restart": pg_ctlcluster decides whether to stop
# from /var/run/postgresql/15-regress.pid, which every cluster named regress
# on the machine shares)
ctl() { pg_ctlcluster 15 regress "$@" >/dev/null 2>&1; }
wait_up() {
    local i
    for i in $(seq 1 100); do q 'SELECT 1' >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

q "CREATE EXTENSION qxt_portability" >/dev/null
q "CREATE FUNCTION qxt_stat_test_add(endpoint int4, userid oid, requests int8, numbers_sent int8,
     numbers_paid int8, memo_hits int8, cache_hits int8, errors int8, retries int8, waits int8,
     wait_ms float8, latency_ms float8) RETURNS void
   AS '\$libdir/qxt_portability', 'qxt_stat_test_add' LANGUAGE C STRICT" >/dev/null
q "ALTER DATABASE postgres SET qxt.base_url = 'http://127.0.0.1:1'" >/dev/null
q "ALTER DATABASE postgres SET qxt.max_retries = 0" >/dev/null
printf 'restart_key_00000000000000000001\n' >"$DATA/qxt_restart.key"
chown postgres: "$DATA/qxt_restart.key"; chmod 600 "$DATA/qxt_restart.key"
q "ALTER SYSTEM SET qxt.apikey_file = 'qxt_restart.key'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3

# 1. four sessions at once, each 250 request updates and 25 errors
for s in 1 2 3 4; do
    psql -XAtq -v ON_ERROR_STOP=1 -c "
      SELECT count(qxt_stat_test_add(1, 0, 1, 1000, 990, 0, 0, 0, 0, 1, 0.5, i)) FROM generate_series(1, 250) i;
      DO \$\$ BEGIN FOR i IN 1..25 LOOP
        BEGIN PERFORM qxt_carrier('13972565391'); EXCEPTION WHEN OTHERS THEN NULL; END;
      END LOOP; END \$\$;" >/dev/null 2>&1 &
done
wait
check "4 concurrent sessions: no request update lost" "1000|1000000|990000|1000|500" \
    "$(q "SELECT requests, numbers_sent, numbers_paid, waits, wait_ms FROM qxt_stat WHERE endpoint = 'carrier_batch'")"
check "4 concurrent sessions: no error lost" "08001|100" \
    "$(q "SELECT sqlstate, count FROM qxt_stat_errors")"

snapshot() {
    q "SELECT string_agg(format('%s/%s/%s/%s/%s/%s/%s/%s', datname, rolname, endpoint, requests,
               numbers_sent, wait_ms, p50_ms, p99_ms), ';' ORDER BY endpoint) FROM qxt_stat" 2>&1
    q "SELECT string_agg(format('%s/%s/%s/%s', datname, rolname, sqlstate, count), ';' ORDER BY sqlstate)
       FROM qxt_stat_errors" 2>&1
}
before="$(snapshot)"
check "the percentiles of 1..250 ms" "t" \
    "$(q "SELECT abs(p50_ms - 125) / 125 < 0.05 AND abs(p99_ms - 248) / 248 < 0.05 FROM qxt_stat")"

# 2. a clean restart keeps everything; the file is gone while the server runs
ctl stop -m fast && ctl start && wait_up
check "clean restart: every row and percentile kept" "$before" "$(snapshot)"
if [ -e "$FILE" ]; then not_ok "the file is removed once loaded"; else ok "the file is removed once loaded"; fi
q "SELECT 1 FROM qxt_carrier('13972565391')" >/dev/null 2>&1
check "counting goes on after the restart" "08001|101" "$(q "SELECT sqlstate, count FROM qxt_stat_errors")"

# 3. files that are not ours: each ignored with a LOG line
ctl stop -m fast
if [ -s "$FILE" ]; then ok "a clean stop writes the file"; else not_ok "a clean stop writes the file"; fi
cp "$FILE" "$DATA/../good.stat"
GOOD="$DATA/../good.stat"

# recrc FILE: rewrites the checksum at the end of FILE (Castagnoli, as PostgreSQL's).
recrc() {
    python3 - "$1" <<'EOF'
import struct, sys
p = sys.argv[1]
data = open(p, "rb").read()[:-4]
table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    table.append(c)
crc = 0xFFFFFFFF
for b in data:
    crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
open(p, "wb").write(data + struct.pack("<I", crc ^ 0xFFFFFFFF))
EOF
}
# set_last_count FILE VALUE: writes VALUE into the last error record's count
# (the 8 bytes before the checksum).
set_last_count() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
p, v = sys.argv[1], int(sys.argv[2])
data = bytearray(open(p, "rb").read())
data[-12:-4] = struct.pack("<q", v)
open(p, "wb").write(bytes(data))
EOF
}
try_file() {  # try_file NAME WANT-LOG-SUBSTRING WANT-ERRORS   (file already in place)
    chown postgres: "$FILE" 2>/dev/null
    local mark; mark="$(wc -l <"$LOG")"
    # (a bounded start: a postmaster blocked in open() of a FIFO never comes up)
    if ! timeout 60 pg_ctlcluster 15 regress start >/dev/null 2>&1 || ! wait_up; then
        not_ok "$1: the server starts"; return; fi
    ok "$1: the server starts"
    if tail -n +"$((mark + 1))" "$LOG" | grep -q "qxt_portability: ignoring statistics file.*$2"; then
        ok "$1: LOG line"
    elif [ -z "$2" ]; then ok "$1: loaded"
    else not_ok "$1: LOG line ($2) missing"; tail -n 5 "$LOG"; fi
    check "$1: what the views show" "$3" "$(q "SELECT coalesce(string_agg(sqlstate || '|' || count, ';'), 'none') FROM qxt_stat_errors")"
    ctl stop -m immediate
}
head -c 4096 /dev/urandom >"$FILE";                    try_file "random bytes" "not a qxt_portability statistics file" none
: >"$FILE";                                            try_file "empty file" "shorter than its header" none
head -c 100 "$GOOD" >"$FILE";                          try_file "truncated file" "size does not match" none
cp "$GOOD" "$FILE"; printf 'X' | dd of="$FILE" bs=1 seek=200 conv=notrunc 2>/dev/null
                                                       try_file "flipped byte" "checksum does not match" none
cp "$GOOD" "$FILE"; set_last_count "$FILE" -5; recrc "$FILE"
                                                       try_file "negative count, valid checksum" "impossible values" none
cp "$GOOD" "$FILE"; printf '\x02' | dd of="$FILE" bs=1 seek=4 conv=notrunc 2>/dev/null; recrc "$FILE"
                                                       try_file "another format version" "another version" none
cp "$GOOD" "$FILE"; printf '\xff\xff' | dd of="$FILE" bs=1 seek=20 conv=notrunc 2>/dev/null; recrc "$FILE"
                                                       try_file "more rows than the tables" "more rows than the tables" none
cp "$GOOD" "$FILE"; cat "$GOOD" >>"$FILE";              try_file "file twice its size" "size does not match" none
rm -f "$FILE"; mkfifo "$FILE";                         try_file "a FIFO" "not a regular file" none
rm -rf "$FILE"; mkdir "$FILE";                         try_file "a directory" "not a regular file" none
if [ -d "$FILE" ]; then not_ok "a directory in the file's place is removed"; rm -rf "$FILE"
else ok "a directory in the file's place is removed"; fi
cp "$GOOD" "$FILE"; set_last_count "$FILE" 9223372036854775806; recrc "$FILE"
chown postgres: "$FILE"; ctl start && wait_up
check "huge count, valid checksum: loaded" "08001|9223372036854775806" "$(q "SELECT sqlstate || '|' || count FROM qxt_stat_errors")"
q "SELECT 1 FROM qxt_carrier('13972565391')" >/dev/null 2>&1
q "SELECT 1 FROM qxt_carrier('13972565391')" >/dev/null 2>&1
check "huge count: saturates at the largest int8, never wraps" "08001|9223372036854775807" \
    "$(q "SELECT sqlstate || '|' || count FROM qxt_stat_errors")"
# (its row, and the row of the two lookups' own failed requests)
check "huge count: qxt_stat still reads" "2" "$(q "SELECT count(*) FROM qxt_stat")"

# 4. an immediate stop: the server starts, the views read.  The postmaster
# still exits normally, so it saves what it has (as pg_stat_statements).
ctl stop -m immediate
ctl start && wait_up
check "immediate stop: the server starts, the views read, the rows are kept" "2|1" \
    "$(q "SELECT (SELECT count(*) FROM qxt_stat) || '|' || (SELECT count(*) FROM qxt_stat_errors)")"

# 5. a backend killed with SIGKILL: the postmaster reinitialises the shared
# memory; the statistics start again from empty, and counting works.
q "SELECT 1 FROM qxt_carrier('13972565391')" >/dev/null 2>&1
psql -XAtq -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
sleep 0.5
victim="$(q "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND pid <> pg_backend_pid()")"
[ -n "$victim" ] && kill -9 "$victim"
wait
sleep 1; wait_up
check "after a crash: the views read" "0" "$(q "SELECT count(*) FROM qxt_stat_errors")"
q "SELECT 1 FROM qxt_carrier('13972565391')" >/dev/null 2>&1
check "after a crash: counting works" "08001|1" "$(q "SELECT sqlstate || '|' || count FROM qxt_stat_errors")"
if grep -q "qxt_portability: ignoring" <(tail -n 20 "$LOG"); then not_ok "after a crash: no LOG about the file"; else ok "after a crash: no LOG about the file"; fi

# 6. the key is in no column, and the file never holds it
ctl stop -m fast && ctl start && wait_up
ctl stop -m fast
if grep -qa "restart_key_00000000000000000001" "$FILE"; then not_ok "the file holds no key"; else ok "the file holds no key"; fi
ctl start && wait_up

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
