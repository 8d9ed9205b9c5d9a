-- Usage statistics with the library preloaded: qxt_stat_errors counts the
-- errors the extension raises, by database, role and SQLSTATE; qxt_stat
-- counts requests (the HTTP pool feeds it through qxt_stats_add; a
-- test-only C function puts exact values in too); reset, rights, no
-- key anywhere, full tables, parallel workers.
-- (Persistence across restarts and concurrent sessions: test/preload/restart.sh.)
\set SHOW_CONTEXT never
\set VERBOSITY terse
SELECT qxt_stat_reset();
SELECT count(*) FROM qxt_stat;
SELECT count(*) FROM qxt_stat_errors;

-- Errors of the boundary: a vendor that cannot be reached (08001), an
-- account the vendor refuses (three times, once caught by the caller).
SET qxt.max_retries = 0;
SET qxt.base_url = 'http://127.0.0.1:1';
SELECT * FROM qxt_carrier('13972565391');
\echo :LAST_ERROR_SQLSTATE
RESET qxt.base_url;
\! test/emulator/emuctl account preload_file_key_000000000000001 --disabled >/dev/null
SELECT * FROM qxt_carrier('13972565391');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM qxt_carrier_batch(ARRAY['13972565391']);
\echo :LAST_ERROR_SQLSTATE
-- caught by the caller: still raised, still counted
DO $$ BEGIN PERFORM qxt_balance(); EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
\! test/emulator/emuctl account preload_file_key_000000000000001 --enabled >/dev/null
-- a cancel (statement_timeout while the vendor is slow) counts as 57014
\! test/emulator/emuctl config --latency-single-ms 3000 >/dev/null
SET statement_timeout = '300ms';
SELECT * FROM qxt_carrier('13972565391');
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
\! test/emulator/emuctl config --latency-single-ms 0 >/dev/null
SELECT datname = current_database() AS this_db, rolname, sqlstate, count
FROM qxt_stat_errors ORDER BY sqlstate;

-- The role is current_user at the time of the error.
CREATE ROLE qxt_stat_caller;
GRANT EXECUTE ON FUNCTION qxt_carrier(text) TO qxt_stat_caller;
SET qxt.base_url = 'http://127.0.0.1:1';
SET ROLE qxt_stat_caller;
SELECT * FROM qxt_carrier('13972565391');
RESET ROLE;
RESET qxt.base_url;
SELECT rolname, sqlstate, count FROM qxt_stat_errors WHERE rolname = 'qxt_stat_caller';

-- The HTTP pool's own counts of those calls: the unreachable vendor was
-- never reached (no request, one failed attempt each); the disabled account
-- and the lookup cancelled while the vendor was slow were (one request
-- each, a failure; nothing paid).
SELECT rolname, endpoint, requests, numbers_sent, numbers_paid, errors, retries
FROM qxt_stat ORDER BY rolname, endpoint;

-- qxt_stat: a test-only function puts chosen values in (a superuser
-- creates it; not part of the extension).
SELECT qxt_stat_reset();
CREATE FUNCTION qxt_stat_test_add(endpoint int4, userid oid, requests int8, numbers_sent int8,
    numbers_paid int8, memo_hits int8, cache_hits int8, errors int8, retries int8, waits int8,
    wait_ms float8, latency_ms float8) RETURNS void
AS '$libdir/qxt_portability', 'qxt_stat_test_add' LANGUAGE C STRICT;
CREATE FUNCTION qxt_stat_test_error(sqlstate text, userid oid) RETURNS void
AS '$libdir/qxt_portability', 'qxt_stat_test_error' LANGUAGE C STRICT;
-- (the reset cleared the errors too: qxt_stat_caller's is put back, for the
-- checks below)
SELECT qxt_stat_test_error('08001', 'qxt_stat_caller'::regrole::oid);
-- every column lands where it belongs
SELECT qxt_stat_test_add(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9.5, 100);
SELECT qxt_stat_test_add(1, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90.5, -1);
SELECT qxt_stat_test_add(2, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 5);
-- latencies 1..1000 ms on carrier_batch: the percentiles within 5 %
SELECT count(qxt_stat_test_add(1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, i)) FROM generate_series(1, 1000) i;
-- negative counts (a caller's bug) are ignored, never subtracted
SELECT qxt_stat_test_add(2, 0, -100, -1, -1, -1, -1, -1, -1, -1, -1, -1);
SELECT datname = current_database() AS this_db, rolname, endpoint, requests, numbers_sent,
       numbers_paid, memo_hits, cache_hits, errors, retries, waits, wait_ms
FROM qxt_stat ORDER BY endpoint;
SELECT endpoint, p50_ms, p95_ms, p99_ms FROM qxt_stat WHERE endpoint IN ('carrier', 'balance')
ORDER BY endpoint;
SELECT abs(p50_ms - 500) / 500 < 0.05 AS p50_ok, abs(p95_ms - 950) / 950 < 0.05 AS p95_ok,
       abs(p99_ms - 990) / 990 < 0.05 AS p99_ok
FROM qxt_stat WHERE endpoint = 'carrier_batch';
-- an unknown endpoint is ignored
SELECT qxt_stat_test_add(3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, -1);
SELECT qxt_stat_test_add(-1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, -1);
SELECT count(*) FROM qxt_stat;

-- No key in any column: not in the rows, not in their text.
SELECT count(*) FILTER (WHERE preload_has_key(s::text)) AS rows_with_key FROM qxt_stat s;
SELECT count(*) FILTER (WHERE preload_has_key(e::text)) AS rows_with_key FROM qxt_stat_errors e;

-- Who may read: superusers and pg_read_all_stats (also through
-- pg_monitor); a plain role gets 42501, from the views and from the
-- functions behind them; only a superuser resets.
SET ROLE qxt_preload_stats;
SELECT count(*) > 0 AS reads FROM qxt_stat;
SELECT count(*) > 0 AS reads FROM qxt_stat_errors;
SELECT qxt_stat_reset();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE qxt_preload_monitor;
SELECT count(*) > 0 AS reads FROM qxt_stat_errors;
RESET ROLE;
SET ROLE qxt_stat_caller;
SELECT * FROM qxt_stat;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM qxt_stat_errors;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM qxt_stat_rows();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM qxt_stat_error_rows();
\echo :LAST_ERROR_SQLSTATE
SELECT qxt_stat_reset();
\echo :LAST_ERROR_SQLSTATE
SELECT qxt_stat_test_add(0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, -1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- a test-only function handed to a plain role still refuses it (checked in C)
GRANT EXECUTE ON FUNCTION qxt_stat_test_add(int4, oid, int8, int8, int8, int8, int8, int8, int8, int8, float8, float8) TO qxt_stat_caller;
SET ROLE qxt_stat_caller;
SELECT qxt_stat_test_add(0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, -1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A dropped role's rows stay, with a NULL name.
DROP OWNED BY qxt_stat_caller;
DROP ROLE qxt_stat_caller;
SELECT rolname IS NULL AS dropped_role, sqlstate, count FROM qxt_stat_errors
WHERE rolname IS NULL OR rolname NOT IN ('postgres') ORDER BY sqlstate;

-- Parallel workers and EXPLAIN: the views read the same shared memory.
SET force_parallel_mode = regress;
SELECT sum(count) > 0 AS reads_in_worker FROM qxt_stat_errors;
SELECT count(*) AS rows_in_worker FROM qxt_stat;
RESET force_parallel_mode;
EXPLAIN (COSTS OFF) SELECT * FROM qxt_stat_errors;

-- Reset empties both views.
SELECT qxt_stat_reset();
SELECT count(*) FROM qxt_stat;
SELECT count(*) FROM qxt_stat_errors;

-- Full tables: 1024 error rows, 4096 request rows (here with made-up role
-- OIDs).  A row that does not fit is dropped and counted, the rows that fit
-- keep counting, reading warns, and nothing fails.
SELECT count(qxt_stat_test_error('QX999', (100000 + i)::oid)) FROM generate_series(1, 1030) i;
SELECT count(*), sum(count) FROM qxt_stat_errors;
SELECT qxt_stat_test_error('QX999', 100001::oid);
SELECT count(*), sum(count) FROM qxt_stat_errors;
SELECT count(qxt_stat_test_add(i % 3, (100000 + i / 3)::oid, 1, 0, 0, 0, 0, 0, 0, 0, 0, i))
FROM generate_series(0, 4099) i;
SELECT count(*), sum(requests) FROM qxt_stat;
-- the boundary's own counting with the table full: the error is raised as before
SET qxt.base_url = 'http://127.0.0.1:1';
SELECT * FROM qxt_carrier('13972565391');
\echo :LAST_ERROR_SQLSTATE
RESET qxt.base_url;
SELECT qxt_stat_reset();
SELECT count(*) FROM qxt_stat;
SELECT count(*) FROM qxt_stat_errors;
-- an invalid SQLSTATE is counted as XX000
SELECT qxt_stat_test_error('bad', 0);
SELECT qxt_stat_test_error('', 0);
SELECT sqlstate, count FROM qxt_stat_errors;
SELECT qxt_stat_reset();
DROP FUNCTION qxt_stat_test_add(int4, oid, int8, int8, int8, int8, int8, int8, int8, int8, float8, float8);
DROP FUNCTION qxt_stat_test_error(text, oid);
