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
SET SESSION AUTHORIZATION qxt_preload_stats;
SELECT count(*) AS statements_with_a_key FROM pg_stat_statements WHERE preload_has_key(query);
SELECT query, calls FROM pg_stat_statements WHERE query ILIKE '%apikey%' ORDER BY query;
RESET SESSION AUTHORIZATION;
