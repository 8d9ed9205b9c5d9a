-- A run whose backend is killed (SIGKILL: no code of ours runs, and the
-- server restarts every session) cannot record its end.  The view then
-- shows it as interrupted, to any watcher, because its advisory lock went
-- with the backend; and the next run records it so.  This test restarts the
-- server's sessions, so it comes last.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_watcher') THEN
    CREATE ROLE qxt_regress_watcher LOGIN;
  END IF;
END $$;
GRANT SELECT ON qxt_refresh_progress TO qxt_regress_watcher;
CREATE TABLE killed_phones AS
SELECT '135' || lpad(g::text, 8, '0') AS phone FROM generate_series(1, 3000) g;
\! test/emulator/emuctl reset regress_st_killed_00000000000001
\! test/emulator/emuctl account regress_st_killed_00000000000001 --balance 100000 >/dev/null
\! test/refresh/bg.sh killed regress_st_killed_00000000000001 "SELECT phone FROM killed_phones"
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    EXIT WHEN EXISTS (SELECT FROM qxt_refresh_progress WHERE state = 'running' AND done >= 200);
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT run_id AS killed_run FROM qxt_refresh_runs WHERE state = 'running' \gset
-- Kill its backend, then wait until the server takes connections again
-- (it restarts every session, this one included, hence the \c).
\! psql -X -At -d contrib_regression -c "SELECT pid FROM qxt_refresh_runs WHERE state = 'running'" | xargs kill -9; sleep 1; for i in $(seq 1 100); do psql -X -At -d contrib_regression -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
\c contrib_regression
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, message IS NULL AS nothing_recorded, done >= 200 AS kept
FROM qxt_refresh_progress WHERE run_id = :killed_run;
RESET SESSION AUTHORIZATION;
SELECT state FROM qxt_refresh_runs WHERE run_id = :killed_run;
-- The next run records it.
SET qxt.apikey = 'regress_st_killed_00000000000001';
SET client_min_messages = warning;
CALL qxt_refresh('SELECT phone FROM killed_phones WHERE false');
RESET client_min_messages;
SELECT state, message FROM qxt_refresh_runs WHERE run_id = :killed_run;
-- Everything committed before the kill is there.
SELECT done = (SELECT count(*) FROM qxt_lookups WHERE mobile LIKE '135%') AS kept_all_committed
FROM qxt_refresh_runs WHERE run_id = :killed_run;
