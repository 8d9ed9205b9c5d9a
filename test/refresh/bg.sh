#!/usr/bin/env bash
# Regression helper: runs one CALL qxt_refresh in another session, in the
# background, slowed by the emulator (300 ms a request of 100 numbers, one
# request at a time), and writes that psql's pid to results/bg_NAME.pid
# (its output goes to results/bg_NAME.out).  Run from the repository root,
# as pg_regress does, with QXT_EMU_URL set.
#
#   test/refresh/bg.sh NAME KEY SOURCE [SQL...]
#
# KEY is the emulator account, SOURCE the source query; each SQL is sent
# before the CALL as a statement of its own.
set -u
name="$1" key="$2" source="$3"
shift 3
args=(-X -q -d contrib_regression
      -c "SET qxt.apikey = '$key'"
      -c "SET qxt.base_url = '$QXT_EMU_URL/_fault/latency=300'"
      -c "SET qxt.batch_size = 100"
      -c "SET qxt.batch_concurrency = 1")
for s in "$@"; do args+=(-c "$s"); done
args+=(-c "CALL qxt_refresh(\$q\$$source\$q\$)")
mkdir -p results
psql "${args[@]}" >"results/bg_$name.out" 2>&1 </dev/null &
echo $! >"results/bg_$name.pid"
