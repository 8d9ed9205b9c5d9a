-- A million numbers in bounded memory: the backend's peak RSS grows by less
-- than 128 MB (rows spill through a tuplestore under work_mem); a call
-- cancelled a third of the way, with requests in flight, frees everything
-- and the next call works.
SET qxt.apikey = 'regress_memory_00000000000000001';
\! test/emulator/emuctl reset regress_memory_00000000000000001
\! test/emulator/emuctl account regress_memory_00000000000000001 --balance 100000000
CREATE FUNCTION rss_kb(field text) RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                       field || ':\s+(\d+)'))[1]::bigint $$;
SELECT qxt_normalize_mobile('13972565391') IS NOT NULL AS loaded;
SELECT rss_kb('VmRSS') AS rss_before \gset

SELECT count(*) AS rows, count(res) AS answered, count(DISTINCT mobile) AS distinct_numbers
FROM qxt_carrier_batch(ARRAY(SELECT (13000000001 + g * 7)::text FROM generate_series(1, 1000000) g));
SELECT rss_kb('VmHWM') - :rss_before < 128 * 1024 AS peak_growth_under_128mb;
\! test/emulator/emuctl sent regress_memory_00000000000000001
SELECT rss_kb('VmRSS') AS rss_after_first \gset

-- Cancelled a third of the way, with requests in flight.  Under a key of its
-- own, the first 333 batch requests are answered after 20 ms and every later
-- one only after 120 s (latency=120000, which latency=20*333 overrides for
-- the first 333); qxt.timeout_ms is longer still.  So once request 334 is
-- sent, the call waits on requests the emulator cannot have answered.  A
-- watcher in another process (test/cancel/cancel_in_flight.py) sees that
-- moment (the balance drops below what the first 333 can charge: 333,000),
-- reads the emulator's counters, cancels this backend from another session
-- (pg_cancel_backend), and reports what it saw and when the statement ended
-- (pg_stat_activity.state_change).
SET qxt.apikey = 'regress_memory_00000000000000002';
\! test/emulator/emuctl reset regress_memory_00000000000000002
\! test/emulator/emuctl account regress_memory_00000000000000002 --balance 100000000
SELECT pg_backend_pid() AS memory_pid \gset
\setenv QXT_MEMORY_PID :memory_pid
\setenv QXT_MEMORY_DB :DBNAME
SET qxt.timeout_ms = 600000;
SELECT qxt_fault('latency=120000,latency=20*333');
\! mkdir -p results && rm -f results/10_memory_cancel.json && python3 test/cancel/cancel_in_flight.py watch regress_memory_00000000000000002 100000000 333000 "$QXT_MEMORY_PID" "$QXT_MEMORY_DB" results/10_memory_cancel.json >/dev/null 2>&1 &
SELECT count(*) FROM qxt_carrier_batch(ARRAY(SELECT (13000000001 + g * 7)::text FROM generate_series(1, 1000000) g));
\set cancel_report `python3 test/cancel/cancel_in_flight.py report results/10_memory_cancel.json`
\set cancel_stats `python3 test/cancel/cancel_in_flight.py counters regress_memory_00000000000000002`
-- At the cancel: request 334 or later had been sent, and one was in flight.
-- The statement ended within a second of pg_cancel_backend: this bound only
-- says the cancel was not left waiting on the 120 s requests; the README's
-- 100 ms for abandoning a transfer is 09_cancel's (this one also frees a
-- third of a million rows; about 15-45 ms on a loaded 2-core machine).
-- Afterwards: no request after the four slots' slow ones (at most 337), and
-- the emulator still holds the abandoned ones (they sleep on, unanswered).
SELECT (r ->> 'requests_at_cancel')::int > 333 AS a_slow_request_was_sent,
       (r ->> 'in_flight_at_cancel')::int >= 1 AS in_flight_at_cancel,
       (r ->> 'ended_ms')::float8 < 1000 AS ended_within_1s
FROM (SELECT :'cancel_report'::json AS r) s;
SELECT (s ->> 'carrier_batch')::int BETWEEN 334 AND 337 AS stopped_after_the_slow_ones,
       (s ->> 'in_flight')::int BETWEEN 1 AND 4 AS abandoned_in_flight
FROM (SELECT :'cancel_stats'::json AS s) t;
RESET qxt.timeout_ms;
SELECT qxt_fault('');
SET qxt.apikey = 'regress_memory_00000000000000001';

-- The same call again completes, and the backend has not grown.
SELECT count(res) AS answered
FROM qxt_carrier_batch(ARRAY(SELECT (13000000001 + g * 7)::text FROM generate_series(1, 1000000) g));
SELECT rss_kb('VmRSS') - :rss_after_first < 16 * 1024 AS no_growth_across_calls;
