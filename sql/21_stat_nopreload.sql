-- Usage statistics (qxt_stat, qxt_stat_errors, qxt_stat_reset) live in
-- shared memory, which exists only when the library is in
-- shared_preload_libraries.  This suite's server does not preload it:
-- every one of them refuses with 55000 and a HINT, never an empty result
-- that would look like "nothing happened".  (The counting itself is tested
-- preloaded: test/preload/sql/preload_stats.sql, test/preload/restart.sh.)
SHOW shared_preload_libraries;
SELECT * FROM qxt_stat;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM qxt_stat_errors;
\echo :LAST_ERROR_SQLSTATE
SELECT qxt_stat_reset();
\echo :LAST_ERROR_SQLSTATE
-- the columns, as the interface names them
SELECT attrelid::regclass AS view, attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute WHERE attrelid IN ('qxt_stat'::regclass, 'qxt_stat_errors'::regclass)
  AND attnum > 0
ORDER BY attrelid::regclass::text, attnum;
-- who may read and reset: superusers and pg_read_all_stats read, nobody
-- else; only superusers reset (EXECUTE revoked from PUBLIC)
SELECT r AS role, v AS view, has_table_privilege(r, v, 'SELECT') AS can_select
FROM unnest(ARRAY['public', 'pg_read_all_stats', 'pg_monitor', 'qxt_regress_analyst']) r,
     unnest(ARRAY['qxt_stat', 'qxt_stat_errors']) v
ORDER BY 1, 2;
SELECT r AS role, f AS function, has_function_privilege(r, f, 'EXECUTE') AS can_execute
FROM unnest(ARRAY['public', 'pg_read_all_stats', 'pg_monitor']) r,
     unnest(ARRAY['qxt_stat_rows()', 'qxt_stat_error_rows()', 'qxt_stat_reset()']) f
ORDER BY 1, 2;
