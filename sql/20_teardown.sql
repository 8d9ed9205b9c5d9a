-- Backend hygiene: each backend tears its client down at exit (the exit
-- hook is registered by the backend itself at first use, so this holds
-- with and without shared_preload_libraries; the preload suite checks the
-- preloaded case).  Observable at log_min_messages = debug1.
SELECT f AS logfile FROM unnest(ARRAY[
         current_setting('data_directory') || '/../../../log/postgresql-15-regress.log']) AS f
WHERE (pg_stat_file(f, true)).size IS NOT NULL LIMIT 1 \gset
\c
SELECT (pg_stat_file(:'logfile')).size AS log_start \gset
\! test/emulator/emuctl account regress_teardown_000000000000001 --balance 10
SET qxt.apikey = 'regress_teardown_000000000000001';
SET log_min_messages = debug1;
SELECT res FROM qxt_carrier('13972565391');
SELECT pg_backend_pid() AS used_pid \gset
\c
-- a backend that never prepared a lookup registers no exit hook (nothing
-- to close): no line
SET log_min_messages = debug1;
SELECT qxt_normalize_mobile('13972565391');
SELECT pg_backend_pid() AS idle_pid \gset
\c
CREATE FUNCTION pg_temp.wait_exit(p int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = p) THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
SELECT pg_temp.wait_exit(:used_pid) AND pg_temp.wait_exit(:idle_pid) AS exited,
       pg_sleep(0.3) IS NOT NULL AS waited;
SELECT regexp_replace(l, '^.*\] ', '') AS teardown
FROM regexp_split_to_table(pg_read_file(:'logfile', :log_start, 10000000), E'\n') AS l
WHERE l LIKE '%qxt_portability: %' AND (l LIKE '%[' || :used_pid || ']%' OR l LIKE '%[' || :idle_pid || ']%')
ORDER BY l LIKE '%[' || :idle_pid || ']%';
