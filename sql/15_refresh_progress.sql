-- qxt_refresh's progress: NOTICEs while it runs and at the end, and its row
-- in qxt_refresh_progress, visible from another session while it runs.
SET qxt.apikey = 'regress_progress_000000000000001';
\! test/emulator/emuctl reset regress_progress_000000000000001
\! test/emulator/emuctl account regress_progress_000000000000001 --balance 100000
CREATE TABLE progress_phones AS
SELECT '138' || lpad(g::text, 8, '0') AS phone FROM generate_series(1, 2000) g;
INSERT INTO progress_phones VALUES ('junk'), (NULL);

-- The NOTICEs of a run (another psql session; digits masked), with a
-- progress line after every window.
\! psql -X -q -d contrib_regression -c "SET qxt.apikey = 'regress_progress_000000000000001'" -c "SET qxt.batch_size = 100" -c "SET qxt.progress_interval_ms = 0" -c "CALL qxt_refresh('SELECT phone FROM progress_phones WHERE phone < ''13800000500'' OR phone = ''junk''')" 2>&1 | sed -E 's/[0-9]+(\.[0-9]+)?/N/g' | uniq
-- Throttling, counted: 500 numbers in five windows (100 numbers, one
-- request at a time) give a progress NOTICE after every window at
-- qxt.progress_interval_ms = 0, and none between the first and the last
-- line at one hour.
\! for ms in 0 3600000; do psql -X -q -d contrib_regression -c "SET qxt.apikey = 'regress_progress_000000000000001'" -c "SET qxt.batch_size = 100" -c "SET qxt.batch_concurrency = 1" -c "SET qxt.progress_interval_ms = $ms" -c "CALL qxt_refresh('SELECT phone FROM progress_phones WHERE phone <= ''13800000500''', '0 seconds')" 2>&1 | awk -v ms=$ms '/NOTICE/ {n++} /looked up \(/ {p++} END {printf "progress_interval_ms = %s: %d NOTICEs, %d progress lines\n", ms, n, p}'; done
TRUNCATE qxt_lookups;

-- A run in another session, slowed by the emulator (300 ms a request,
-- 100 numbers a request, one at a time: about 6 s), watched from here.
\! (psql -X -q -d contrib_regression -c "SET qxt.apikey = 'regress_progress_000000000000001'" -c "SET qxt.base_url = '$QXT_EMU_URL/_fault/latency=300'" -c "SET qxt.batch_size = 100" -c "SET qxt.batch_concurrency = 1" -c "CALL qxt_refresh('SELECT phone FROM progress_phones')" >/dev/null 2>&1 &)
SELECT pg_sleep(2);
SELECT state, to_look_up, done > 0 AS started, done < to_look_up AS not_finished,
       numbers_per_s > 0 AS has_rate, eta > interval '0' AS has_eta,
       pid <> pg_backend_pid() AS other_session
FROM qxt_refresh_progress WHERE finished_at IS NULL;
-- So does a role with nothing but SELECT on the view, which may not see
-- the other session in pg_stat_activity: the run's advisory lock, in
-- pg_locks, tells it that the run is alive.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_watcher') THEN
    CREATE ROLE qxt_regress_watcher LOGIN;
  END IF;
END $$;
GRANT SELECT ON qxt_refresh_progress TO qxt_regress_watcher;
SET SESSION AUTHORIZATION qxt_regress_watcher;
SELECT p.state, a.backend_start IS NULL AS session_hidden_from_watcher
FROM qxt_refresh_progress p LEFT JOIN pg_stat_activity a ON a.pid = p.pid
WHERE p.finished_at IS NULL;
RESET SESSION AUTHORIZATION;
-- Committed windows are already visible in qxt_lookups too.
SELECT count(*) BETWEEN 100 AND 1900 AS partly_there FROM qxt_lookups;
-- Wait for the end (at most 20 s).
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM qxt_refresh_progress WHERE state = 'running');
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT state, total, invalid, to_look_up, done, paid, percent
FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
SELECT count(*) AS kept FROM qxt_lookups;
