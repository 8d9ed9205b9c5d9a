-- The key is the superuser's alone (README, "Security"): who can read it,
-- by which route; which statements would store it where others read it;
-- who may change where it is sent; who may spend the balance.

-- Roles: a monitoring role (pg_monitor), a settings reader
-- (pg_read_all_settings), a statistics reader (pg_read_all_stats), and the
-- analyst of 00_setup (granted EXECUTE below).
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_monitor') THEN
    CREATE ROLE qxt_regress_monitor IN ROLE pg_monitor;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_settings') THEN
    CREATE ROLE qxt_regress_settings IN ROLE pg_read_all_settings;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_stats') THEN
    CREATE ROLE qxt_regress_stats IN ROLE pg_read_all_stats;
  END IF;
END $$;

-- The recommended setup: the key in a file of the server's OS user, mode
-- 0600, named by qxt.apikey_file (ALTER SYSTEM in a session where the
-- library is loaded: before that PostgreSQL does not know the setting).
-- Server-side COPY writes a file of the server's OS user (mode 0644: the
-- extension refuses it until chmod 600).
SELECT current_setting('data_directory') || '/qxt_regress_security.key' AS keyfile \gset
\setenv QXT_KEYFILE :keyfile
COPY (SELECT 'regress_security_000000000000001') TO :'keyfile';
\! chmod 600 "$QXT_KEYFILE"
ALTER SYSTEM SET qxt.apikey_file = 'x';
LOAD 'qxt_portability';
ALTER SYSTEM SET qxt.apikey_file = :'keyfile';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c
\! test/emulator/emuctl reset regress_security_000000000000001
\! test/emulator/emuctl account regress_security_000000000000001 --balance 500
-- A new session uses it without any SET.
SELECT * FROM qxt_balance();
\! test/emulator/emuctl sent regress_security_000000000000001

-- qxt_regress_key_routes(): every route by which the current role might
-- read a key, and what it gets: refused (SQLSTATE), the mask, nothing, or
-- rows without a key.  Any route that shows a key says so.
CREATE FUNCTION qxt_regress_key_routes()
RETURNS TABLE (route text, result text) LANGUAGE plpgsql AS $$
DECLARE
  q text; r record; n bigint; v text; first text; st text;
  routes text[] := ARRAY[
    'SHOW qxt.apikey',
    $q$SELECT current_setting('qxt.apikey')$q$,
    $q$SELECT current_setting('qxt.apikey', true)$q$,
    'SELECT * FROM pg_settings',
    'SELECT * FROM pg_show_all_settings()',
    'SHOW ALL',
    'SELECT * FROM pg_file_settings',
    'SELECT * FROM pg_stat_activity',
    'SELECT * FROM pg_db_role_setting',
    'SELECT * FROM pg_roles',
    'SELECT proname, proconfig FROM pg_proc'];
BEGIN
  FOREACH q IN ARRAY routes LOOP
    route := q;
    n := 0; v := ''; first := NULL;
    BEGIN
      -- every column of every row the role gets
      FOR r IN EXECUTE q LOOP
        n := n + 1;
        v := concat(v, E'\n', r::text);
        IF n = 1 THEN first := r::text; END IF;
      END LOOP;
      result := CASE WHEN q LIKE 'SHOW qxt%' OR q LIKE '%current_setting%' THEN first
                     WHEN n = 0 THEN 'no rows' ELSE 'rows, no key' END;
      IF qxt_regress_has_key(v) THEN result := 'THE KEY IS VISIBLE'; END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
      result := 'refused (' || st || ')';
    END;
    RETURN NEXT;
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION qxt_regress_key_routes() TO PUBLIC;

-- A superuser's session value (tests use one) is never shown back either,
-- not even to a superuser: SHOW and current_setting print a mask, and
-- pg_settings has no row for it.
SET qxt.apikey = 'regress_security_000000000000002';
SHOW qxt.apikey;
SELECT current_setting('qxt.apikey') AS plain, current_setting('qxt.apikey', true) AS missing_ok;
SELECT count(*) AS apikey_rows_in_pg_settings FROM pg_settings WHERE name = 'qxt.apikey';
SELECT name, setting = :'keyfile' AS names_the_key_file, context FROM pg_settings WHERE name = 'qxt.apikey_file';
SELECT * FROM qxt_regress_key_routes();

-- pg_stat_activity: another session (dblink) sets the key, after loading
-- the library, with SET, with set_config() and inside a DO block; what
-- every role with pg_read_all_stats sees of that session's statements:
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1)) AS other_conn \gset
SELECT dblink_connect('qxt_other', :'other_conn');
SELECT pid AS other_pid FROM dblink('qxt_other', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_exec('qxt_other', $$LOAD 'qxt_portability'$$);
SELECT dblink_exec('qxt_other', $$SET qxt.apikey = 'regress_security_000000000000002'$$);
SET SESSION AUTHORIZATION qxt_regress_stats;
SELECT query FROM pg_stat_activity WHERE pid = :other_pid;
RESET SESSION AUTHORIZATION;
SELECT * FROM dblink('qxt_other', $$SELECT set_config('qxt.apikey', 'regress_security_000000000000002', false) IS NOT NULL$$) AS t(ok boolean);
SET SESSION AUTHORIZATION qxt_regress_stats;
SELECT query FROM pg_stat_activity WHERE pid = :other_pid;
RESET SESSION AUTHORIZATION;
SELECT dblink_exec('qxt_other', $o$DO $d$ BEGIN SET qxt.apikey = 'regress_security_000000000000002'; END $d$$o$);
SET SESSION AUTHORIZATION qxt_regress_stats;
SELECT query FROM pg_stat_activity WHERE pid = :other_pid;
RESET SESSION AUTHORIZATION;
-- Several statements in one query string: the text stays the same length,
-- only the value is masked.
SELECT dblink_exec('qxt_other', $$SET qxt.timeout_ms = 5000; SET qxt.apikey = 'regress_security_000000000000002'; SET qxt.batch_size = 7$$);
SET SESSION AUTHORIZATION qxt_regress_stats;
SELECT query, length(query) = length($$SET qxt.timeout_ms = 5000; SET qxt.apikey = 'regress_security_000000000000002'; SET qxt.batch_size = 7$$) AS same_length
FROM pg_stat_activity WHERE pid = :other_pid;
RESET SESSION AUTHORIZATION;
-- Two keys in one string, two in one DO block, and a key written with
-- escapes whose plain form also appears: every one stays masked.
SELECT dblink_exec('qxt_other', $$SET qxt.apikey = 'regress_security_000000000000002'; SET qxt.apikey = 'regress_security_000000000000003'$$);
SELECT query FROM pg_stat_activity WHERE pid = :other_pid;
SELECT dblink_exec('qxt_other', $o$DO $d$ BEGIN SET qxt.apikey = 'regress_security_000000000000002'; SET qxt.apikey = 'regress_security_000000000000003'; END $d$$o$);
SELECT query FROM pg_stat_activity WHERE pid = :other_pid;
SELECT dblink_exec('qxt_other', $o$SET qxt.apikey = E'regress_security_000000000000\x30\x30\x32' /* regress_security_000000000000002 */$o$);
SELECT query FROM pg_stat_activity WHERE pid = :other_pid;
-- (A session that has not loaded the library yet is PostgreSQL's alone:
-- there SET qxt.apikey is plain text, shown as sent.  Hence: load it first,
-- or preload it, or use qxt.apikey_file.)
SELECT dblink_disconnect('qxt_other');
SELECT dblink_connect('qxt_other', :'other_conn');
SELECT pid AS other_pid FROM dblink('qxt_other', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_exec('qxt_other', $$SET qxt.apikey = 'regress_security_000000000000002'$$);
SELECT qxt_regress_has_key(query) AS shown_unmasked_before_load FROM pg_stat_activity WHERE pid = :other_pid;
SELECT dblink_disconnect('qxt_other');

-- What each role reads, by every route, while this session holds a key.
SET SESSION AUTHORIZATION qxt_regress_monitor;
SELECT * FROM qxt_regress_key_routes();
SET SESSION AUTHORIZATION qxt_regress_settings;
SELECT * FROM qxt_regress_key_routes();
SET SESSION AUTHORIZATION qxt_regress_stats;
SELECT * FROM qxt_regress_key_routes();
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT * FROM qxt_regress_key_routes();
RESET SESSION AUTHORIZATION;
RESET qxt.apikey;

-- Statements that would store the key where others read it are refused
-- before they run, at top level and nested; ALTER SYSTEM RESET stays
-- allowed.  The server log gets the refusals, never the key: not with the
-- default logging, and not at debug5.
SELECT f AS logfile FROM unnest(ARRAY[
         current_setting('data_directory') || '/../../../log/postgresql-15-regress.log']) AS f
WHERE (pg_stat_file(f, true)).size IS NOT NULL LIMIT 1 \gset
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
SHOW log_min_error_statement;
ALTER SYSTEM SET qxt.apikey = 'regress_security_000000000000003';
ALTER ROLE qxt_regress_analyst SET qxt.apikey = 'regress_security_000000000000003';
ALTER ROLE ALL SET qxt.apikey = 'regress_security_000000000000003';
ALTER ROLE qxt_regress_analyst IN DATABASE contrib_regression SET qxt.apikey = 'regress_security_000000000000003';
ALTER DATABASE contrib_regression SET qxt.apikey = 'regress_security_000000000000003';
SET qxt.apikey = 'regress_security_000000000000003';
ALTER ROLE qxt_regress_analyst SET qxt.apikey FROM CURRENT;
RESET qxt.apikey;
CREATE FUNCTION leak() RETURNS int LANGUAGE sql SET qxt.apikey = 'regress_security_000000000000003' AS 'SELECT 1';
CREATE PROCEDURE leak_p() LANGUAGE sql SET "QXT"."APIKEY" = 'regress_security_000000000000003' AS 'SELECT 1';
CREATE FUNCTION leak() RETURNS int LANGUAGE sql AS 'SELECT 1';
ALTER FUNCTION leak() SET qxt.apikey = 'regress_security_000000000000003';
DO $$ BEGIN ALTER ROLE qxt_regress_analyst SET qxt.apikey = 'regress_security_000000000000003'; END $$;
DO $$ BEGIN EXECUTE 'ALTER SYSTEM SET qxt.apikey = ''regress_security_000000000000003'''; END $$;
-- (no field of the error quotes the refused statement, CONTEXT included)
DO $$
DECLARE msg text; det text; hnt text; ctx text;
BEGIN
  EXECUTE 'ALTER ROLE qxt_regress_analyst SET qxt.apikey = ''regress_security_000000000000003''';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT,
                          ctx = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE 'refused: %; key in its fields: %', msg, qxt_regress_has_key(concat(msg, det, hnt, ctx));
END $$;
ALTER SYSTEM RESET qxt.apikey;
ALTER SYSTEM SET qxt.apikey TO DEFAULT;
ALTER ROLE qxt_regress_analyst RESET qxt.apikey;
DROP FUNCTION leak();
SELECT count(*) AS stored_key_settings FROM pg_db_role_setting
WHERE array_to_string(setconfig, ',') LIKE '%apikey%';
SELECT count(*) AS functions_with_key FROM pg_proc WHERE array_to_string(proconfig, ',') LIKE '%apikey%';
SELECT pg_sleep(0.2);
SELECT (length(regexp_replace(pg_read_file(:'logfile', :log_start, 10000000), '[^\n]', '', 'g'))) > 0 AS log_written,
       (SELECT count(*) FROM regexp_matches(pg_read_file(:'logfile', :log_start, 10000000),
                                             'ERROR:  qxt\.apikey cannot be', 'g')) AS refusals_logged,
       qxt_regress_has_key(pg_read_file(:'logfile', :log_start, 10000000)) AS key_in_log;
-- again with every debug message written to the log
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
SET log_min_messages = debug5;
ALTER SYSTEM SET qxt.apikey = 'regress_security_000000000000003';
ALTER ROLE qxt_regress_analyst SET qxt.apikey = 'regress_security_000000000000003';
ALTER DATABASE contrib_regression SET qxt.apikey = 'regress_security_000000000000003';
CREATE FUNCTION leak() RETURNS int LANGUAGE sql SET qxt.apikey = 'regress_security_000000000000003' AS 'SELECT 1';
DO $$ BEGIN ALTER ROLE qxt_regress_analyst SET qxt.apikey = 'regress_security_000000000000003'; END $$;
RESET log_min_messages;
SELECT pg_sleep(0.2);
SELECT length(pg_read_file(:'logfile', :log_start, 10000000)) > 1000 AS debug5_was_written,
       (SELECT count(*) FROM regexp_matches(pg_read_file(:'logfile', :log_start, 10000000),
                                             'ERROR:  qxt\.apikey cannot be', 'g')) AS refusals_logged,
       qxt_regress_has_key(pg_read_file(:'logfile', :log_start, 10000000)) AS key_in_log;

-- A failing statement's text goes to the server log (STATEMENT:, with the
-- default log_min_error_statement for every ERROR), and PL/pgSQL's CONTEXT
-- may quote one of its statements: neither is written for a text that set
-- the key (a SET followed by an error in the same string, set_config() in a
-- DO block that fails later, an EXECUTEd string).
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
\set VERBOSITY terse
SET qxt.apikey = 'regress_security_000000000000004' \; SELECT qxt_carrier('not a number');
DO $$ BEGIN PERFORM set_config('qxt.apikey', 'regress_security_000000000000004', false); PERFORM 1/0; END $$;
DO $$ BEGIN EXECUTE 'SET qxt.apikey = ''regress_security_000000000000004''; SELECT 1/0'; END $$;
\set VERBOSITY default
RESET qxt.apikey;
SELECT pg_sleep(0.2);
SELECT (SELECT count(*) FROM regexp_matches(pg_read_file(:'logfile', :log_start, 10000000),
                                             'ERROR:  (division by zero|"not a number")', 'g')) AS errors_logged,
       qxt_regress_has_key(pg_read_file(:'logfile', :log_start, 10000000)) AS key_in_log;

-- A non-superuser cannot change where the key is sent, nor weaken TLS,
-- nor point the extension at another key ...
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT qxt_try($$SET qxt.apikey = 'x'$$);
SELECT qxt_try($$SET qxt.apikey_file = 'x'$$);
SELECT qxt_try($$SET qxt.base_url = 'http://127.0.0.1:9'$$);
SELECT qxt_try($$SET qxt.tls_verify = off$$);
SELECT qxt_try($$SET qxt.ca_file = 'evil.pem'$$);
SELECT qxt_try($$SET qxt.proxy = 'http://127.0.0.1:9'$$);
SELECT qxt_try($$SHOW qxt.proxy$$);
SELECT qxt_try($$SHOW qxt.apikey_file$$);
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
-- searched for the key.  The key comes from the file here; then from a
-- superuser's SET (masked in pg_stat_activity; its statement text is
-- PostgreSQL's to log when log_statement asks for it: README, Security).
\! test/emulator/emuctl account regress_logkey_00000000000000001 --balance 100
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
SET log_min_messages = debug5;
SET log_min_error_statement = debug5;
SELECT res FROM qxt_carrier('13972565391');
SELECT fee_type FROM qxt_balance();
RESET log_min_error_statement;
RESET log_min_messages;
ALTER SYSTEM RESET qxt.apikey_file;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c
LOAD 'qxt_portability';
SET qxt.apikey = 'regress_logkey_00000000000000001';
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
-- (a key rejected by the vendor)
SET qxt.apikey = 'ffffffffffffffffffffffffffffffff';
SET log_min_messages = debug5;
SET log_min_error_statement = debug5;
SELECT qxt_state($$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_state($$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
RESET log_min_error_statement;
RESET log_min_messages;
SELECT length(pg_read_file(:'logfile', :log_start, 10000000)) > 1000 AS debug5_was_written,
       position('regress_security_000000000000001' IN pg_read_file(:'logfile', :log_start, 10000000)) = 0 AS file_key_not_in_log,
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
\! rm -f "$QXT_KEYFILE"
