-- A million numbers in bounded memory: the backend's peak RSS grows by less
-- than 128 MB (rows spill through a tuplestore under work_mem); a call
-- cancelled half way frees everything and the next call works.
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

-- Cancelled about a third of the way (20 ms per batch request).
SELECT qxt_fault('latency=20');
SET statement_timeout = '1500ms';
SELECT count(*) FROM qxt_carrier_batch(ARRAY(SELECT (13000000001 + g * 7)::text FROM generate_series(1, 1000000) g));
RESET statement_timeout;
SELECT qxt_fault('');

-- The same call again completes, and the backend has not grown.
SELECT count(res) AS answered
FROM qxt_carrier_batch(ARRAY(SELECT (13000000001 + g * 7)::text FROM generate_series(1, 1000000) g));
SELECT rss_kb('VmRSS') - :rss_after_first < 16 * 1024 AS no_growth_across_calls;
