-- CALL qxt_refresh: a refresh job that commits after every batch window and
-- so keeps everything it paid for.
SET qxt.apikey = 'regress_refresh_0000000000000001';
\! test/emulator/emuctl reset regress_refresh_0000000000000001
\! test/emulator/emuctl account regress_refresh_0000000000000001 --balance 600
SET qxt.batch_size = 100;
SET qxt.batch_concurrency = 2;
CREATE TABLE customers(id int PRIMARY KEY, phone text);
-- 1000 distinct numbers, plus duplicates in other formats, NULLs and junk.
INSERT INTO customers SELECT g, '139' || lpad((g * 7919 % 100000000)::text, 8, '0') FROM generate_series(1, 1000) g;
INSERT INTO customers SELECT 1000 + id, '+86 ' || phone FROM customers WHERE id <= 50;
INSERT INTO customers VALUES (2001, NULL), (2002, 'not a phone'), (2003, '123');

-- Inside a transaction block: a clear error, nothing sent.
BEGIN;
CALL qxt_refresh('SELECT phone FROM customers');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A source of the wrong shape: one text column is wanted (text, varchar,
-- char, name, or a domain over one of them); the run records why it failed.
CALL qxt_refresh('SELECT id, phone FROM customers');
CALL qxt_refresh('SELECT id FROM customers');
\echo :LAST_ERROR_SQLSTATE
SELECT state, message FROM qxt_refresh_progress ORDER BY run_id;
DELETE FROM qxt_refresh_runs;
-- The progress NOTICEs carry timings; here the counts are read from
-- qxt_refresh_progress instead (15_refresh_progress shows the NOTICEs).
SET client_min_messages = warning;

-- The balance runs out at 60 %: the run fails with QX005, but what was
-- answered before is committed.
CALL qxt_refresh('SELECT phone FROM customers');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS kept, count(*) FILTER (WHERE code = 0) AS successes FROM qxt_lookups;
SELECT state, total, invalid, fresh, to_look_up, done, paid, failed, message
FROM qxt_refresh_progress ORDER BY run_id;
\! test/emulator/emuctl sent regress_refresh_0000000000000001

-- Top up and run again: only the rest is looked up and paid.
\! test/emulator/emuctl account regress_refresh_0000000000000001 --balance 1000
CALL qxt_refresh('SELECT phone FROM customers');
SELECT count(*) AS kept, count(*) FILTER (WHERE code = 0) AS successes FROM qxt_lookups;
SELECT state, total, invalid, fresh, to_look_up, done, paid, failed
FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
-- Across both runs, every number was paid exactly once (1000 successes for
-- 1000 distinct numbers; the rejected request of the first run was free).
\! test/emulator/emuctl stats regress_refresh_0000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("charged", s["charged"], "distinct", s["distinct_numbers"], "sent more than once", sum(1 for v in s["sent"].values() if v > 1))'

-- Everything fresh: nothing to look up, nothing sent.
\! test/emulator/emuctl reset regress_refresh_0000000000000001
CALL qxt_refresh('SELECT phone FROM customers');
\! test/emulator/emuctl sent regress_refresh_0000000000000001
-- max_age decides what is fresh: with 0 seconds, everything is looked up again.
UPDATE qxt_lookups SET looked_up_at = now() - interval '40 days' WHERE mobile IN
  (SELECT mobile FROM qxt_lookups ORDER BY mobile LIMIT 10);
CALL qxt_refresh('SELECT phone FROM customers');
\! test/emulator/emuctl sent regress_refresh_0000000000000001
CALL qxt_refresh('SELECT phone FROM customers WHERE id <= 5', '0 seconds');
\! test/emulator/emuctl sent regress_refresh_0000000000000001

-- Cancel mid-run keeps the committed windows (200 ms a window here).
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_refresh_0000000000000001
\! test/emulator/emuctl account regress_refresh_0000000000000001 --balance 10000
SELECT qxt_fault('latency=200');
SET statement_timeout = '700ms';
CALL qxt_refresh('SELECT phone FROM customers');
RESET statement_timeout;
SELECT qxt_fault('');
SELECT count(*) > 0 AS some_kept, count(*) < 1000 AS not_all FROM qxt_lookups;
-- (The reason is told apart from a query cancel; the rest of the message
-- says whether a window was in flight.)
SELECT state, split_part(message, ';', 1) AS reason,
       done = (SELECT count(*) FROM qxt_lookups) AS row_counts_match
FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
-- ... and the next run completes the rest without asking again for any of
-- them.  The requests in flight at the cancel were waited for and their
-- answers kept, so across both runs every number was paid exactly once.
CALL qxt_refresh('SELECT phone FROM customers');
SELECT count(*) AS kept FROM qxt_lookups;
\! test/emulator/emuctl stats regress_refresh_0000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("distinct", s["distinct_numbers"], "charged", s["charged"], "charged twice", sum(1 for v in s["charged_numbers"].values() if v > 1), "sent twice", sum(1 for v in s["sent"].values() if v > 1))'

RESET client_min_messages;
-- The answers join back to the customers.
SELECT count(*) AS customers_with_answer
FROM customers c JOIN qxt_lookups l ON l.mobile = qxt_normalize_mobile(c.phone);
SELECT l.res, l.area, l.init_isp, l.now_isp, l.code
FROM qxt_lookups l WHERE l.mobile = '13900007919';

-- Personal data: no access without a grant.
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT qxt_try($$SELECT count(*) FROM qxt_lookups$$);
SELECT qxt_try($$SELECT count(*) FROM qxt_refresh_progress$$);
SELECT qxt_try($$CALL qxt_refresh('SELECT 1')$$);
RESET SESSION AUTHORIZATION;
GRANT SELECT ON qxt_lookups TO qxt_regress_analyst;
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT count(*) FROM qxt_lookups;
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON qxt_lookups FROM qxt_regress_analyst;

-- pg_dump keeps the paid-for data: qxt_lookups is an extension
-- configuration table, so its rows are dumped with the database.
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'qxt_portability';
DROP DATABASE IF EXISTS qxt_regress_restore;
CREATE DATABASE qxt_regress_restore;
\! pg_dump -d contrib_regression -Fc -f /tmp/qxt_regress_dump.$PPID && pg_restore -d qxt_regress_restore /tmp/qxt_regress_dump.$PPID; echo "restore exit $?"; rm -f /tmp/qxt_regress_dump.$PPID
\c qxt_regress_restore
SELECT count(*) AS restored_lookups, count(*) FILTER (WHERE code = 0) AS successes FROM qxt_lookups;
SELECT count(*) AS restored_runs FROM qxt_refresh_runs;
\c contrib_regression
DROP DATABASE qxt_regress_restore;

-- ---------------------------------------------------------------------------
-- A window that ends with an error keeps what it was answered.  Two requests
-- are in flight; one hangs past qxt.timeout_ms (QX101), the other is
-- answered, and charged: its 100 answers are committed before the error is
-- raised, and the next run does not pay for them again.  (Fresh connections:
-- a reused one must not matter here, but that is the client's own test.)
SET qxt.apikey = 'regress_refresh_0000000000000001';
SET qxt.batch_size = 100;
SET qxt.batch_concurrency = 2;
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_refresh_0000000000000001
SET client_min_messages = warning;
SET qxt.reuse_connections = off;
SET qxt.timeout_ms = 500;
SELECT qxt_fault('hang*1');
\set VERBOSITY sqlstate
CALL qxt_refresh('SELECT phone FROM customers');
\set VERBOSITY default
SELECT qxt_fault('');
RESET qxt.timeout_ms;
RESET qxt.reuse_connections;
SELECT count(*) AS kept FROM qxt_lookups;
SELECT state, done, paid FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
\! test/emulator/emuctl sent regress_refresh_0000000000000001
CALL qxt_refresh('SELECT phone FROM customers');
SELECT count(*) AS kept FROM qxt_lookups;
-- 1000 charged for 1000 numbers: the hung request was not charged, the
-- answered one was kept.
\! test/emulator/emuctl stats regress_refresh_0000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("charged", s["charged"], "distinct", s["distinct_numbers"], "sent twice", sum(1 for v in s["sent"].values() if v > 1))'

-- The same window, stopped by statement_timeout while the hung request
-- waits: the answered request's 100 answers are stored with the cancel
-- pending.  (qxt_lookups checks mobile with a regular expression, which
-- PostgreSQL abandons when a cancel is pending even while interrupts are
-- held: the answers were lost that way.)  The hung request was in flight at
-- the cancel: it is waited for until qxt.timeout_ms (1.5 s) after it was
-- sent, then abandoned, and a WARNING says that the vendor may have charged
-- it.
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_refresh_0000000000000001
SET qxt.reuse_connections = off;
SET qxt.timeout_ms = 1500;
SELECT qxt_fault('hang*1');
SET statement_timeout = '1s';
CALL qxt_refresh('SELECT phone FROM customers');
RESET statement_timeout;
SELECT qxt_fault('');
RESET qxt.timeout_ms;
RESET qxt.reuse_connections;
SELECT count(*) AS kept FROM qxt_lookups;
SELECT state, split_part(message, ';', 1) AS reason, split_part(message, '; ', 2) AS in_flight,
       done, paid
FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
\! test/emulator/emuctl sent regress_refresh_0000000000000001
RESET client_min_messages;

-- ---------------------------------------------------------------------------
-- Rights.  A role needs only EXECUTE on qxt_refresh (and what its own query
-- needs): qxt_refresh writes qxt_lookups and qxt_refresh_runs as their
-- owner.  The source query runs as the caller, with the caller's
-- search_path.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_refresher') THEN
    CREATE ROLE qxt_regress_refresher LOGIN;
  END IF;
END $$;
GRANT EXECUTE ON PROCEDURE qxt_refresh(text, interval, boolean) TO qxt_regress_refresher;
GRANT SELECT ON qxt_refresh_progress TO qxt_regress_refresher;
CREATE SCHEMA refresher_data;
CREATE DOMAIN refresher_data.phone_text AS varchar(30);
CREATE TABLE refresher_data.phones (phone refresher_data.phone_text);
INSERT INTO refresher_data.phones VALUES ('136 0000 0001'), ('13600000002'), ('13600000002'), ('no');
CREATE TABLE refresher_data.seen_as (who name, path text);
CREATE FUNCTION refresher_data.traced(p refresher_data.phone_text)
RETURNS refresher_data.phone_text LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO refresher_data.seen_as VALUES (current_user, current_setting('search_path'));
  RETURN p;
END $$;
GRANT USAGE ON SCHEMA refresher_data TO qxt_regress_refresher;
GRANT SELECT ON refresher_data.phones TO qxt_regress_refresher;
GRANT INSERT ON refresher_data.seen_as TO qxt_regress_refresher;
\! test/emulator/emuctl reset regress_refresh_0000000000000001
SET SESSION AUTHORIZATION qxt_regress_refresher;
SET search_path = refresher_data, public;
SET client_min_messages = warning;
CALL qxt_refresh('SELECT traced(phone) FROM phones');
SELECT run_by, state, total, invalid, to_look_up, paid FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
-- It cannot read what it paid for (that needs SELECT on qxt_lookups) ...
SELECT qxt_state($$SELECT count(*) FROM qxt_lookups$$);
-- ... nor write the tables itself.
SELECT qxt_state($$DELETE FROM qxt_refresh_runs$$);
-- A query it may not run fails before anything is sent, and the run says why.
CALL qxt_refresh('SELECT phone FROM customers');
SELECT run_by, state, message FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
RESET client_min_messages;
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT DISTINCT who, path FROM refresher_data.seen_as;
SELECT mobile, code FROM qxt_lookups WHERE mobile LIKE '136%' ORDER BY 1;
\! test/emulator/emuctl sent regress_refresh_0000000000000001

-- Nor can its query get a write of ours to run its code.  A query that
-- drops our temporary tables (DISCARD TEMP) and puts its own in their
-- place, with a trigger, is stopped before anything is written there ...
CREATE TABLE refresher_data.trap_log (who name);
GRANT INSERT ON refresher_data.trap_log TO qxt_regress_refresher;
CREATE FUNCTION refresher_data.trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO refresher_data.trap_log VALUES (current_user);
  RETURN NEW;
END $$;
CREATE FUNCTION refresher_data.swap(p text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_class WHERE oid = to_regclass('pg_temp.qxt_refresh_stage')
                 AND relowner = current_user::regrole) THEN
    DISCARD TEMP;
    CREATE TEMP TABLE qxt_refresh_stage (k bigint NOT NULL);
    CREATE TEMP TABLE qxt_refresh_todo (k bigint PRIMARY KEY);
    CREATE TRIGGER trap BEFORE INSERT ON pg_temp.qxt_refresh_stage
      FOR EACH ROW EXECUTE FUNCTION refresher_data.trap();
  END IF;
  RETURN p;
END $$;
SET SESSION AUTHORIZATION qxt_regress_refresher;
SET search_path = refresher_data, public;
SET client_min_messages = warning;
CALL qxt_refresh('SELECT swap(phone) FROM phones');
\echo :LAST_ERROR_SQLSTATE
SELECT state, message FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
-- ... and a query that releases the session's advisory locks does not get
-- a second run going beside it: the run takes them back.
CALL qxt_refresh('SELECT phone FROM phones, (SELECT pg_advisory_unlock_all()) AS x', '0 seconds');
SELECT state FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
SELECT count(*) AS run_lock_held FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND classid = 1903719538;
RESET client_min_messages;
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS trap_fired FROM refresher_data.trap_log;
DISCARD TEMP;

-- A trigger on our tables would run with the owner's rights: refused (42501)
-- before the run starts, whoever made it.
CREATE FUNCTION refresher_data.planted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEW;
END $$;
CREATE TRIGGER planted BEFORE INSERT ON qxt_lookups
  FOR EACH ROW EXECUTE FUNCTION refresher_data.planted();
CALL qxt_refresh('SELECT phone FROM customers', '0 seconds');
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER planted ON qxt_lookups;
-- So is a role that may create one.
GRANT TRIGGER ON qxt_refresh_runs TO qxt_regress_analyst;
CALL qxt_refresh('SELECT phone FROM customers', '0 seconds');
\echo :LAST_ERROR_SQLSTATE
REVOKE TRIGGER ON qxt_refresh_runs FROM qxt_regress_analyst;
\! test/emulator/emuctl sent regress_refresh_0000000000000001
DROP SCHEMA refresher_data CASCADE;
REVOKE ALL ON PROCEDURE qxt_refresh(text, interval, boolean) FROM qxt_regress_refresher;
REVOKE ALL ON qxt_refresh_progress FROM qxt_regress_refresher;

-- A per-number failure (-4: the vendor has nothing for the numbers ending
-- 0000) is stored like an answer and counted as failed, not as paid.
SET qxt.apikey = 'regress_refresh_0000000000000001';
TRUNCATE qxt_lookups;
\! test/emulator/emuctl reset regress_refresh_0000000000000001
CREATE TABLE failing_phones(phone text);
INSERT INTO failing_phones VALUES ('13900000000'), ('13900010000'), ('13972565391');
SET client_min_messages = warning;
CALL qxt_refresh('SELECT phone FROM failing_phones');
RESET client_min_messages;
SELECT state, to_look_up, done, failed, paid FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
SELECT mobile, code FROM qxt_lookups ORDER BY mobile;
\! test/emulator/emuctl sent regress_refresh_0000000000000001
DROP TABLE failing_phones;
TRUNCATE qxt_lookups;
