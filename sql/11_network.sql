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
-- since nothing was sent).
\set ECHO none
SELECT set_config('qxt.base_url', :'blackhole_url', false) IS NOT NULL AS blackhole_base_url;
\set ECHO all
SET qxt.connect_timeout_ms = 200;
SELECT clock_timestamp() AS t0 \gset
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 s' AS gave_up_in_time;
RESET qxt.connect_timeout_ms;

-- The session still works against the plain emulator.
RESET qxt.base_url;
SET qxt.apikey = '0123456789abcdef0123456789abcdef';
SELECT res FROM qxt_carrier('13972565391');
