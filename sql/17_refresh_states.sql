-- Every way a qxt_refresh run ends leaves a final state with the true
-- reason, committed before the error reaches anyone, and
-- qxt_refresh_progress shows it to a watcher that may not see the other
-- session in pg_stat_activity.  The runs go on in other sessions
-- (test/refresh/bg.sh: 300 ms a request of 100 numbers); this one watches.
-- One emulator key per scenario.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_watcher') THEN
    CREATE ROLE qxt_regress_watcher LOGIN;
  END IF;
END $$;
GRANT SELECT ON qxt_refresh_progress TO qxt_regress_watcher;
CREATE TABLE states_phones AS
SELECT '137' || lpad(g::text, 8, '0') AS phone FROM generate_series(1, 3000) g;
GRANT SELECT ON states_phones TO PUBLIC;
SELECT coalesce(max(run_id), 0) AS first_run FROM qxt_refresh_runs \gset

-- Waits (at most 30 s) until a run is running with at least min_done
-- numbers looked up.
CREATE FUNCTION wait_running(min_done int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..300 LOOP
    IF EXISTS (SELECT FROM qxt_refresh_progress WHERE state = 'running' AND done >= min_done) THEN
      RETURN 'running';
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN 'no run got going';
END $$;
-- Waits (at most 30 s) until a running run waits for a lock.
CREATE FUNCTION wait_blocked() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..300 LOOP
    IF EXISTS (SELECT FROM pg_locks l JOIN qxt_refresh_runs r ON r.pid = l.pid
               WHERE r.state = 'running' AND NOT l.granted) THEN
      RETURN 'blocked';
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN 'no run got blocked';
END $$;
-- Waits (at most 30 s) until no run is running.
CREATE FUNCTION wait_ended() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..300 LOOP
    IF NOT EXISTS (SELECT FROM qxt_refresh_progress WHERE state = 'running') THEN
      RETURN 'ended';
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN 'still running';
END $$;
-- The newest run, as whoever calls it sees it.
CREATE VIEW newest_run AS
SELECT p.state, split_part(p.message, ';', 1) AS reason,
       p.message LIKE '%abandoned%' AS in_flight_abandoned,
       p.done, p.paid, p.finished_at IS NOT NULL AS finished
FROM qxt_refresh_progress p ORDER BY p.run_id DESC LIMIT 1;
GRANT SELECT ON newest_run TO qxt_regress_watcher;

-- ---------------------------------------------------------------------------
-- done
SET qxt.apikey = 'regress_st_done_0000000000000001';
\! test/emulator/emuctl reset regress_st_done_0000000000000001
\! test/emulator/emuctl account regress_st_done_0000000000000001 --balance 100000 >/dev/null
SET client_min_messages = warning;
CALL qxt_refresh('SELECT phone FROM states_phones WHERE phone < ''13700000101''');
RESET client_min_messages;
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT * FROM newest_run;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------
-- failed: the vendor refuses (a disabled account, -6).  (14_refresh shows
-- a failure after some windows: what was answered before is kept.)
TRUNCATE qxt_lookups;
SET qxt.apikey = 'regress_st_failed_00000000000001';
\! test/emulator/emuctl reset regress_st_failed_00000000000001
\! test/emulator/emuctl account regress_st_failed_00000000000001 --balance 100000 --disabled >/dev/null
SET client_min_messages = warning;
CALL qxt_refresh('SELECT phone FROM states_phones WHERE phone < ''13700000101''');
RESET client_min_messages;
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT * FROM newest_run;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------
-- cancelled by a query cancel (pg_cancel_backend; Ctrl-C in psql sends the
-- same).  While it runs, the watcher does not see the session in
-- pg_stat_activity, and still sees the run as running.
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_st_cancel_00000000000001
\! test/emulator/emuctl account regress_st_cancel_00000000000001 --balance 100000 >/dev/null
\! test/refresh/bg.sh cancel regress_st_cancel_00000000000001 "SELECT phone FROM states_phones"
SELECT wait_running(200);
-- A second run at the same time, from this session under another key:
-- 55P03, before anything is recorded (the newest run below is still the
-- first) or sent.
\! test/emulator/emuctl reset regress_st_second_00000000000001
SET qxt.apikey = 'regress_st_second_00000000000001';
CALL qxt_refresh('SELECT phone FROM states_phones');
\echo :LAST_ERROR_SQLSTATE
\! test/emulator/emuctl sent regress_st_second_00000000000001
SELECT count(*) AS running_runs FROM qxt_refresh_progress WHERE state = 'running';
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT p.state, a.backend_start IS NULL AS session_hidden_from_watcher
FROM qxt_refresh_progress p LEFT JOIN pg_stat_activity a ON a.pid = p.pid
ORDER BY p.run_id DESC LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT pg_cancel_backend(pid) FROM qxt_refresh_runs WHERE state = 'running';
SELECT wait_ended();
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, reason, done >= 200 AS kept, finished FROM newest_run;
RESET SESSION AUTHORIZATION;
SELECT done = (SELECT count(*) FROM qxt_lookups) AS all_answers_kept FROM newest_run;
-- The requests in flight at the cancel were waited for: every answer the
-- vendor charged is in qxt_lookups.
\! psql -X -At -d contrib_regression -c "SELECT count(*) FROM qxt_lookups WHERE code = 0" >results/bg_cancel.kept; test/emulator/emuctl stats regress_st_cancel_00000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); kept=int(open("results/bg_cancel.kept").read()); print("charged == kept:", s["charged"] == kept, "| in flight now:", s["in_flight"])'

-- ---------------------------------------------------------------------------
-- cancelled by statement_timeout, told apart from a cancel.
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_st_timeout_0000000000001
\! test/emulator/emuctl account regress_st_timeout_0000000000001 --balance 100000 >/dev/null
\! test/refresh/bg.sh timeout regress_st_timeout_0000000000001 "SELECT phone FROM states_phones" "SET statement_timeout = '3s'"
SELECT wait_running(0);
SELECT wait_ended();
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, reason, done > 0 AS kept, finished FROM newest_run;
RESET SESSION AUTHORIZATION;
SELECT done = (SELECT count(*) FROM qxt_lookups) AS all_answers_kept FROM newest_run;
-- The requests in flight at the timeout were waited for: every answer the
-- vendor charged is in qxt_lookups.
\! psql -X -At -d contrib_regression -c "SELECT count(*) FROM qxt_lookups WHERE code = 0" >results/bg_timeout.kept; test/emulator/emuctl stats regress_st_timeout_0000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); kept=int(open("results/bg_timeout.kept").read()); print("charged == kept:", s["charged"] == kept, "| in flight now:", s["in_flight"])'

-- ---------------------------------------------------------------------------
-- cancelled by a terminate (pg_terminate_backend; a fast shutdown sends the
-- same): the backend records it, commits, and only then ends.
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_st_terminate_00000000001
\! test/emulator/emuctl account regress_st_terminate_00000000001 --balance 100000 >/dev/null
\! test/refresh/bg.sh terminate regress_st_terminate_00000000001 "SELECT phone FROM states_phones"
SELECT wait_running(200);
SELECT pg_terminate_backend(pid) FROM qxt_refresh_runs WHERE state = 'running';
SELECT wait_ended();
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, reason, done >= 200 AS kept, finished FROM newest_run;
RESET SESSION AUTHORIZATION;
SELECT done = (SELECT count(*) FROM qxt_lookups) AS all_answers_kept FROM newest_run;
-- The requests in flight at the terminate were waited for: every answer the
-- vendor charged is in qxt_lookups.
\! psql -X -At -d contrib_regression -c "SELECT count(*) FROM qxt_lookups WHERE code = 0" >results/bg_terminate.kept; test/emulator/emuctl stats regress_st_terminate_00000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); kept=int(open("results/bg_terminate.kept").read()); print("charged == kept:", s["charged"] == kept, "| in flight now:", s["in_flight"])'

-- ---------------------------------------------------------------------------
-- interrupted: the client went away (psql killed).  The run stops within
-- one window, and every answer charged is in qxt_lookups.
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_st_client_00000000000001
\! test/emulator/emuctl account regress_st_client_00000000000001 --balance 100000 >/dev/null
\! test/refresh/bg.sh client regress_st_client_00000000000001 "SELECT phone FROM states_phones"
SELECT wait_running(300);
\! kill -9 $(cat results/bg_client.pid) && test/emulator/emuctl stats regress_st_client_00000000000001 >results/bg_client.at_kill
SELECT wait_ended();
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, reason, finished FROM newest_run;
RESET SESSION AUTHORIZATION;
-- Sent after the kill: at most one window (100 numbers); charged: exactly
-- what qxt_lookups holds; and far from everything was paid for.
\! psql -X -At -d contrib_regression -c "SELECT count(*) FROM qxt_lookups WHERE code = 0" >results/bg_client.kept; test/emulator/emuctl stats regress_st_client_00000000000001 | python3 -c 'import json,sys; a=json.load(open("results/bg_client.at_kill")); s=json.load(sys.stdin); kept=int(open("results/bg_client.kept").read()); print("sent after the kill <= one window:", s["numbers_sent"] - a["numbers_sent"] <= 100, "| charged == kept:", s["charged"] == kept, "| stopped early:", s["numbers_sent"] < 2000)'

-- ---------------------------------------------------------------------------
-- Interrupts that arrive while an internal statement runs.  To catch one
-- there, this session holds qxt_lookups locked: the run's to-do query
-- (which reads it) waits, and is interrupted while it waits.  Nothing is
-- paid.
\! test/emulator/emuctl reset regress_st_locked_00000000000001
\! test/emulator/emuctl account regress_st_locked_00000000000001 --balance 100000 >/dev/null
-- a cancel ...
BEGIN;
LOCK qxt_lookups IN ACCESS EXCLUSIVE MODE;
\! test/refresh/bg.sh locked1 regress_st_locked_00000000000001 "SELECT phone FROM states_phones"
SELECT wait_blocked();
SELECT pg_cancel_backend(pid) FROM qxt_refresh_runs WHERE state = 'running';
SELECT wait_ended();
COMMIT;
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, reason, in_flight_abandoned, done, finished FROM newest_run;
RESET SESSION AUTHORIZATION;
-- ... a statement_timeout ...
BEGIN;
LOCK qxt_lookups IN ACCESS EXCLUSIVE MODE;
\! test/refresh/bg.sh locked2 regress_st_locked_00000000000001 "SELECT phone FROM states_phones" "SET statement_timeout = '4s'"
SELECT wait_blocked();
SELECT wait_ended();
COMMIT;
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, reason, in_flight_abandoned, done, finished FROM newest_run;
RESET SESSION AUTHORIZATION;
-- ... and a terminate.
BEGIN;
LOCK qxt_lookups IN ACCESS EXCLUSIVE MODE;
\! test/refresh/bg.sh locked3 regress_st_locked_00000000000001 "SELECT phone FROM states_phones"
SELECT wait_blocked();
SELECT pg_terminate_backend(pid) FROM qxt_refresh_runs WHERE state = 'running';
SELECT wait_ended();
COMMIT;
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT state, reason, in_flight_abandoned, done, finished FROM newest_run;
RESET SESSION AUTHORIZATION;
\! test/emulator/emuctl sent regress_st_locked_00000000000001

-- Every run has ended, in a final state.
SELECT state, count(*) FROM qxt_refresh_progress WHERE run_id > :first_run
GROUP BY state ORDER BY state;
