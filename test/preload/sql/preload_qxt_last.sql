-- shared_preload_libraries = 'pg_stat_statements, qxt_portability': our
-- ProcessUtility hook is the outermost, so a superuser's SET qxt.apikey
-- runs, and what pg_stat_statements (inside) stores is the masked text.
SHOW shared_preload_libraries;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SET qxt.apikey = 'preload_set_key_0000000000000001';
SHOW qxt.apikey;
SET qxt.timeout_ms = 5000; SET qxt.apikey = 'preload_set_key_0000000000000001';
RESET qxt.apikey;
-- statements that would store the key are refused, and not stored either
ALTER SYSTEM SET qxt.apikey = 'preload_set_key_0000000000000001';
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION leak() RETURNS int LANGUAGE sql SET qxt.apikey = 'preload_set_key_0000000000000001' AS 'SELECT 1';
\echo :LAST_ERROR_SQLSTATE
SELECT set_config('qxt.apikey', 'preload_set_key_0000000000000001', false) IS NOT NULL AS set;
RESET qxt.apikey;
-- The key set inside other utility statements, whose whole text
-- pg_stat_statements keeps as sent (utility statements are not normalised):
-- a DO block (SET and set_config()), a CALL passing it, EXPLAIN, COPY.
-- What pg_stat_statements keeps is our copy of the text, with the value
-- masked when it is set.
DO $$ BEGIN SET qxt.apikey = 'preload_set_key_0000000000000001'; END $$;
RESET qxt.apikey;
DO $$ BEGIN PERFORM set_config('qxt.apikey', 'preload_set_key_0000000000000001', false); END $$;
RESET qxt.apikey;
CREATE PROCEDURE set_key(k text) LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('qxt.apikey', k, false); END $$;
CALL set_key('preload_set_key_0000000000000001');
RESET qxt.apikey;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT set_config('qxt.apikey', 'preload_set_key_0000000000000001', false);
RESET qxt.apikey;
COPY (SELECT set_config('qxt.apikey', 'preload_set_key_0000000000000001', false) IS NOT NULL) TO STDOUT;
RESET qxt.apikey;
-- (and several statements in one string share one copy of it)
SET qxt.timeout_ms = 5000 \; CALL set_key('preload_set_key_0000000000000001') \; RESET qxt.apikey;
DROP PROCEDURE set_key(text);
SET SESSION AUTHORIZATION qxt_preload_stats;
SELECT count(*) AS statements_with_a_key FROM pg_stat_statements WHERE preload_has_key(query);
SELECT query, calls FROM pg_stat_statements WHERE query ILIKE '%apikey%' ORDER BY query;
RESET SESSION AUTHORIZATION;
