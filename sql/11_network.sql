-- TLS and connection-level failures, all on 127.0.0.1: an HTTPS emulator
-- with a throwaway self-signed certificate, and a listener that never
-- accepts a connection.
LOAD 'qxt_portability';
SET qxt.apikey = 'regress_network_0000000000000001';
\getenv tls_url QXT_EMU_TLS_URL
\getenv ca_file QXT_EMU_CA
\getenv blackhole_url QXT_BLACKHOLE_URL
SELECT :'tls_url' ~ '^https://127\.0\.0\.1:[0-9]+$' AS tls_emulator_is_local,
       :'blackhole_url' ~ '^http://127\.0\.0\.1:[0-9]+$' AS blackhole_is_local;
\set ECHO none
SELECT set_config('qxt.base_url', :'tls_url', false) IS NOT NULL AS https_base_url;
\set ECHO all
-- (the HTTPS emulator has its own counters; this key lives there)
\! QXT_EMU_URL="$QXT_EMU_TLS_URL" test/emulator/emuctl account regress_network_0000000000000001 --balance 1000

-- Verification is on by default: a certificate nobody vouches for is refused.
SHOW qxt.tls_verify;
SELECT qxt_try($$SELECT * FROM qxt_balance()$$) ~ '^08001: could not establish a trusted TLS connection to the vendor' AS refused;
SELECT qxt_state($$SELECT qxt_carrier('13972565391')$$);
-- With the CA configured by a superuser, it is accepted.
\set ECHO none
SELECT set_config('qxt.ca_file', :'ca_file', false) IS NOT NULL AS ca_file_set;
\set ECHO all
SELECT * FROM qxt_carrier('13972565397');
SELECT count(res) FROM qxt_carrier_batch(ARRAY['13972565391', '13972565397']);
SELECT fee_type FROM qxt_balance();
RESET qxt.ca_file;
SELECT qxt_state($$SELECT * FROM qxt_balance()$$);
-- A superuser may also turn verification off (never a non-superuser: see 08_security).
SET qxt.tls_verify = off;
SELECT fee_type FROM qxt_balance();
RESET qxt.tls_verify;

-- Nobody accepts the connection: 08001 after qxt.connect_timeout_ms (retried,
-- since nothing was sent).  The attempts are counted by the backend itself:
-- at exit it writes to the server log how many connections it opened (an
-- attempt that timed out counts), so this runs in a backend of its own.
SELECT f AS logfile FROM unnest(ARRAY[
         current_setting('data_directory') || '/../../../log/postgresql-15-regress.log']) AS f
WHERE (pg_stat_file(f, true)).size IS NOT NULL LIMIT 1 \gset
\c
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
LOAD 'qxt_portability';
SET qxt.apikey = 'regress_network_0000000000000001';
\set ECHO none
SELECT set_config('qxt.base_url', :'blackhole_url', false) IS NOT NULL AS blackhole_base_url;
\set ECHO all
SET qxt.connect_timeout_ms = 200;
SET log_min_messages = debug1;
SHOW qxt.max_retries;
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
SELECT pg_backend_pid() AS blackhole_pid \gset
\c
CREATE FUNCTION pg_temp.wait_exit(p int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = p) THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
SELECT pg_temp.wait_exit(:blackhole_pid) AS exited, pg_sleep(0.3) IS NOT NULL AS waited;
-- 1 + qxt.max_retries attempts:
SELECT substring(l from '\((\d+) connection\(s\) opened') AS connection_attempts
FROM regexp_split_to_table(pg_read_file(:'logfile', :log_start, 10000000), E'\n') AS l
WHERE l LIKE '%qxt_portability: closed the vendor client%' AND l LIKE '%[' || :blackhole_pid || ']%';

-- The session still works against the plain emulator.
LOAD 'qxt_portability';
SET qxt.apikey = '0123456789abcdef0123456789abcdef';
SELECT res FROM qxt_carrier('13972565391');
