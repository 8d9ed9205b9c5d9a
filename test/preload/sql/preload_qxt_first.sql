-- shared_preload_libraries = 'qxt_portability, pg_stat_statements':
-- pg_stat_statements is loaded after us and wraps our ProcessUtility hook,
-- so it sees a statement's text before we could mask it.
SELECT f AS logfile FROM unnest(ARRAY[
         current_setting('data_directory') || '/../../../log/postgresql-15-regress.log']) AS f
WHERE (pg_stat_file(f, true)).size IS NOT NULL LIMIT 1 \gset
SHOW shared_preload_libraries;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
-- So SET qxt.apikey is refused (55000), and so are the statements that
-- would store the key; pg_stat_statements keeps none of them.
SET qxt.apikey = 'preload_set_key_0000000000000001';
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET qxt.apikey = 'preload_set_key_0000000000000001';
\echo :LAST_ERROR_SQLSTATE
ALTER ROLE qxt_preload_stats SET qxt.apikey = 'preload_set_key_0000000000000001';
\echo :LAST_ERROR_SQLSTATE
-- set_config() is no utility statement: pg_stat_statements stores it with
-- its constants replaced, and pg_stat_activity shows it masked.
SELECT set_config('qxt.apikey', 'preload_set_key_0000000000000001', false) IS NOT NULL AS set \;
SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid();
RESET qxt.apikey;
-- Inside another utility statement (DO, CALL, EXPLAIN, COPY), whose whole
-- text pg_stat_statements (wrapping our hook) sees first and keeps as sent,
-- set_config() of the key is refused (55000) like SET.
DO $$ BEGIN PERFORM set_config('qxt.apikey', 'preload_set_key_0000000000000001', false); END $$;
\echo :SQLSTATE
CREATE PROCEDURE set_key(k text) LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('qxt.apikey', k, false); END $$;
CALL set_key('preload_set_key_0000000000000001');
\echo :SQLSTATE
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT set_config('qxt.apikey', 'preload_set_key_0000000000000001', false);
\echo :SQLSTATE
COPY (SELECT set_config('qxt.apikey', 'preload_set_key_0000000000000001', false) IS NOT NULL) TO STDOUT;
\echo :SQLSTATE
DROP PROCEDURE set_key(text);
SHOW qxt.apikey;
SET SESSION AUTHORIZATION qxt_preload_stats;
SELECT count(*) AS statements_with_a_key FROM pg_stat_statements WHERE preload_has_key(query);
SELECT query FROM pg_stat_statements WHERE query LIKE '%set_config%' AND query NOT LIKE '%pg_stat%';
RESET SESSION AUTHORIZATION;

-- Loaded at server start, the library knows qxt.apikey in every session
-- from the first statement on: a role setting is refused even in a fresh
-- session (and a configured key is never an unprotected placeholder:
-- below).
\c
ALTER ROLE qxt_preload_monitor SET qxt.apikey = 'preload_set_key_0000000000000001';
\echo :LAST_ERROR_SQLSTATE

-- Preloaded, a key in postgresql.conf is used (no session ever holds it as
-- an unprotected placeholder), and the postmaster's reload line shows a
-- mask instead of it.
ALTER SYSTEM RESET qxt.apikey_file;
SELECT current_setting('config_file') AS conf \gset
\setenv QXT_CONF :conf
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
\! printf "qxt.apikey = 'preload_conf_key_000000000000001'\n" >> "$QXT_CONF"
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c
SELECT balance FROM qxt_balance();
\! test/emulator/emuctl sent preload_conf_key_000000000000001
\c "dbname=contrib_regression user=qxt_preload_monitor password=preload-only host=localhost"
SHOW qxt.apikey;
SELECT current_setting('qxt.apikey');
SELECT count(*) AS rows_with_the_key FROM pg_settings s WHERE preload_has_key(s::text);
\c - postgres
SELECT regexp_replace(l, '^.*LOG:  ', '') AS reload_line
FROM regexp_split_to_table(pg_read_file(:'logfile', :log_start, 10000000), E'\n') AS l
WHERE l LIKE '%parameter "qxt.apikey"%';
SELECT preload_has_key(pg_read_file(:'logfile', :log_start, 10000000)) AS key_in_log;
\! sed -i '/preload_conf_key_/d' "$QXT_CONF"
ALTER SYSTEM SET qxt.apikey_file = 'qxt_preload.key';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c

-- Teardown runs in every backend although _PG_init ran in the postmaster
-- (whose exit hooks a forked backend drops): the backend registers its own.
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
SET log_min_messages = debug1;
SELECT res FROM qxt_carrier('13972565391');
SELECT pg_backend_pid() AS used_pid \gset
\c
CREATE FUNCTION pg_temp.wait_exit(p int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = p) THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
SELECT pg_temp.wait_exit(:used_pid) AS exited, pg_sleep(0.3) IS NOT NULL AS waited;
SELECT regexp_replace(l, '^.*\] ', '') AS teardown
FROM regexp_split_to_table(pg_read_file(:'logfile', :log_start, 10000000), E'\n') AS l
WHERE l LIKE '%qxt_portability: %' AND l LIKE '%[' || :used_pid || ']%';
