-- The key and the balance are safe: who can read the key, change where it
-- is sent, and spend the balance.

-- The documented way to set the key: ALTER SYSTEM, in a session where the
-- library is loaded (before that, PostgreSQL does not know the setting).
ALTER SYSTEM SET qxt.apikey = 'regress_security_000000000000001';
LOAD 'qxt_portability';
ALTER SYSTEM SET qxt.apikey = 'regress_security_000000000000001';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c
\! test/emulator/emuctl reset regress_security_000000000000001
\! test/emulator/emuctl account regress_security_000000000000001 --balance 500
-- A new session uses it without any SET.
SELECT * FROM qxt_balance();

-- Role, database and function settings are readable by every user, so
-- the key is refused there.
SELECT qxt_try($$ALTER ROLE qxt_regress_analyst SET qxt.apikey = 'regress_security_000000000000001'$$);
SELECT qxt_try(format('ALTER DATABASE %I SET qxt.apikey = %L', current_database(), 'regress_security_000000000000001'));
SELECT qxt_try($$ALTER ROLE ALL SET qxt.apikey = 'regress_security_000000000000001'$$);
SELECT qxt_try($$CREATE FUNCTION leak() RETURNS int LANGUAGE sql SET qxt.apikey = 'regress_security_000000000000001' AS 'SELECT 1'$$);
SELECT count(*) AS stored_key_settings FROM pg_db_role_setting
WHERE array_to_string(setconfig, ',') LIKE '%apikey%';

-- A non-superuser cannot read the key by any route ...
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT qxt_try($$SHOW qxt.apikey$$);
SELECT qxt_try($$SELECT current_setting('qxt.apikey')$$);
SELECT qxt_try($$SELECT current_setting('qxt.apikey', true)$$);
SELECT count(*) AS visible_in_pg_settings FROM pg_settings WHERE name = 'qxt.apikey';
SELECT count(*) AS key_in_show_all FROM (SELECT (pg_show_all_settings()).*) s WHERE name = 'qxt.apikey';
SELECT qxt_try($$SELECT * FROM pg_file_settings$$);
SELECT count(*) AS key_in_role_settings FROM pg_roles WHERE array_to_string(rolconfig, ',') LIKE '%apikey%';
-- ... cannot change where it is sent, nor weaken TLS ...
SELECT qxt_try($$SET qxt.apikey = 'x'$$);
SELECT qxt_try($$SET qxt.base_url = 'http://127.0.0.1:9'$$);
SELECT qxt_try($$SET qxt.tls_verify = off$$);
SELECT qxt_try($$SET qxt.ca_file = '/tmp/evil.pem'$$);
SELECT qxt_try($$SET qxt.proxy = 'http://127.0.0.1:9'$$);
SELECT qxt_try($$SELECT set_config('qxt.base_url', 'http://127.0.0.1:9', false)$$);
-- ... may tune its own calls ...
SET qxt.timeout_ms = 5000;
SET qxt.batch_size = 500;
-- ... and cannot spend the balance without a grant.
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_normalize_mobile('+86 139 7256 5391');
RESET SESSION AUTHORIZATION;

-- With the grant, it can (using the key it cannot see).
GRANT EXECUTE ON FUNCTION qxt_carrier(text), qxt_carrier_batch(text[]), qxt_balance()
  TO qxt_regress_analyst;
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT * FROM qxt_carrier('13972565391');
SELECT count(*) FROM qxt_carrier_batch(ARRAY['13972565391', '13972565397']);
SELECT * FROM qxt_balance();
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION qxt_carrier(text), qxt_carrier_batch(text[]), qxt_balance()
  FROM qxt_regress_analyst;

-- The key travelled only in POST bodies, never in a URL.
\! test/emulator/emuctl stats regress_security_000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("key_in_url", s["key_in_url"], "requests", sum(s["requests"].values()))'
\! test/emulator/emuctl requests regress_security_000000000000001 | python3 -c 'import json,sys; print(sorted({json.loads(l)["method"] for l in sys.stdin}))'

-- The server log, even at debug5, never receives the key from us: every
-- path (success, vendor error, HTML page, timeout, batch, balance) is
-- taken with the most verbose logging, and the log written meanwhile is
-- searched for the key.  (A superuser's own statement that spells the key,
-- such as SET qxt.apikey, is logged by PostgreSQL like any statement when
-- log_statement or log_min_error_statement asks for it; and a configuration
-- reload logs a changed value: see the README's Security section.)
SET qxt.apikey = 'regress_logkey_00000000000000001';
\! test/emulator/emuctl account regress_logkey_00000000000000001 --balance 100 > /dev/null
-- (the cluster's log: pg_virtualenv -t keeps it beside the data directory)
SELECT f AS logfile FROM unnest(ARRAY[
         current_setting('data_directory') || '/../../../log/postgresql-15-regress.log',
         '/var/log/postgresql/postgresql-15-regress.log']) AS f
WHERE (pg_stat_file(f, true)).size IS NOT NULL LIMIT 1 \gset
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
SET log_min_messages = debug5;
SET log_min_error_statement = debug5;
SELECT res FROM qxt_carrier('13972565391');
SELECT count(*) FROM qxt_carrier_batch(ARRAY['13972565391', '13972565397', 'junk']);
SELECT fee_type FROM qxt_balance();
SELECT qxt_state($$SELECT qxt_carrier('13800000000')$$);
SELECT qxt_state_fault('html', $$SELECT qxt_carrier('13972565392')$$);
SELECT qxt_state_fault('minus8', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565393'])$$);
SET qxt.timeout_ms = 200;
SELECT qxt_state_fault('hang', $$SELECT * FROM qxt_balance()$$);
RESET qxt.timeout_ms;
RESET log_min_error_statement;
RESET log_min_messages;
-- (a key rejected by the vendor; our own SET statement is not logged: only
-- the lookups run with debug5)
SET qxt.apikey = 'ffffffffffffffffffffffffffffffff';
SET log_min_messages = debug5;
SET log_min_error_statement = debug5;
SELECT qxt_state($$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_state($$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
RESET log_min_error_statement;
RESET log_min_messages;
SELECT length(pg_read_file(:'logfile', :log_start, 10000000)) > 1000 AS debug5_was_written,
       position('regress_logkey_00000000000000001' IN pg_read_file(:'logfile', :log_start, 10000000)) = 0 AS key_not_in_log,
       position('ffffffffffffffffffffffffffffffff' IN pg_read_file(:'logfile', :log_start, 10000000)) = 0 AS rejected_key_not_in_log;

-- Where the library is not loaded, PostgreSQL stores a role setting without
-- asking the extension; such a key is then never used (and a WARNING says
-- why) when the library loads in that role's session.
\c
ALTER ROLE qxt_regress_analyst PASSWORD 'regress-only';
ALTER ROLE qxt_regress_analyst SET qxt.apikey = 'regress_rolekey_0000000000000001';
GRANT EXECUTE ON FUNCTION qxt_balance() TO qxt_regress_analyst;
\c "dbname=contrib_regression user=qxt_regress_analyst password=regress-only host=localhost"
SELECT current_user;
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
\c - postgres
ALTER ROLE qxt_regress_analyst RESET qxt.apikey;
ALTER ROLE qxt_regress_analyst PASSWORD NULL;
REVOKE EXECUTE ON FUNCTION qxt_balance() FROM qxt_regress_analyst;
\! test/emulator/emuctl sent regress_rolekey_0000000000000001

ALTER SYSTEM RESET qxt.apikey;
SELECT pg_reload_conf();
