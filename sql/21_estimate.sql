-- qxt_estimate(text[]) and CALL qxt_refresh(..., dry_run => true): what a
-- lookup would pay, paying nothing.  to_pay is what qxt_carrier_batch of
-- the same array then sends, and a dry run's to_look_up what the real run
-- then pays; the emulator's counters say what was sent and charged.
SET qxt.apikey = 'regress_estimate_000000000000001';
\! test/emulator/emuctl reset regress_estimate_000000000000001
\! test/emulator/emuctl account regress_estimate_000000000000001 --balance 1000
SET qxt.batch_size = 2;
TRUNCATE qxt_lookups;
-- A young success, a young failure (-4: answered from the cache too) and a
-- stale success (older than qxt.cache_max_age: asked again).
INSERT INTO qxt_lookups (mobile, res, area, init_isp, now_isp, code, looked_up_at) VALUES
  ('13972565391', 0, '湖北-宜昌', '移动', '移动', 0, now() - interval '1 hour'),
  ('13972565392', NULL, NULL, NULL, NULL, -4, now() - interval '1 hour'),
  ('13972565393', 0, '湖北-宜昌', '移动', '移动', 0, now() - interval '2 days');
SET qxt.cache_max_age = '1d';
-- 12 elements: 4 invalid (2 NULL, 'junk', '123'), 8 valid of which 3
-- repeat an earlier number in another spelling, 2 cached, 3 to pay.
CREATE TEMP TABLE est_input AS SELECT ARRAY[
  '13972565391', '+86 139 7256 5391', '13972565392', '13972565393', NULL,
  '139-7256-5394', 'junk', '0086 13972565394', '123', NULL, '13972565395',
  '8613972565395'] AS a;
SELECT e.* FROM est_input, qxt_estimate(a) e;
-- Only the free /balance was asked.
\! test/emulator/emuctl sent regress_estimate_000000000000001
SELECT e.to_pay AS to_pay FROM est_input, qxt_estimate(a) e \gset
SELECT count(*) AS rows, count(res) AS answered FROM est_input, qxt_carrier_batch(a);
\set sent `test/emulator/emuctl stats regress_estimate_000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["numbers_sent"])'`
\set charged `test/emulator/emuctl stats regress_estimate_000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["charged"])'`
SELECT :to_pay AS to_pay, :sent AS batch_sent, :charged AS charged, :to_pay = :sent AND :sent = :charged AS equal;

-- Without qxt.cache_max_age nothing is cached: every distinct valid number
-- is to pay, as the batch then sends.
RESET qxt.cache_max_age;
\! test/emulator/emuctl reset regress_estimate_000000000000001
SELECT e.* FROM est_input, qxt_estimate(a) e;
SELECT count(*) FROM est_input, qxt_carrier_batch(a);
\! test/emulator/emuctl sent regress_estimate_000000000000001

-- Inside one statement, numbers the statement already paid for are in its
-- memo: the batch would not send them again, and the estimate says so.
\! test/emulator/emuctl reset regress_estimate_000000000000001
DO $$
DECLARE e record;
BEGIN
  PERFORM qxt_carrier('13972565396');
  SELECT * INTO e FROM qxt_estimate(ARRAY['13972565396', '13972565397']);
  RAISE NOTICE 'in the statement: cached %, to_pay %', e.cached, e.to_pay;
  PERFORM qxt_carrier_batch(ARRAY['13972565396', '13972565397']);
END $$;
\! test/emulator/emuctl sent regress_estimate_000000000000001

-- Edge cases: an empty array (the balance still comes), NULL (STRICT: no
-- row, as the batch), two dimensions (the batch's error).
SELECT * FROM qxt_estimate('{}');
SELECT count(*) FROM qxt_estimate(NULL);
SELECT qxt_try($$SELECT * FROM qxt_estimate('{{13972565391},{13972565392}}')$$);

-- The balance call fails: a WARNING with the vendor's text (the key masked,
-- even where the vendor echoes it), the counts, and a NULL balance.
SELECT qxt_fault('code=-1,reason=bad%20key%20regress_estimate_000000000000001');
SELECT e.* FROM est_input, qxt_estimate(a) e;
-- (terse: the DETAIL names the emulator's port)
SELECT qxt_fault('http503');
\set VERBOSITY terse
SELECT e.* FROM est_input, qxt_estimate(a) e;
\set VERBOSITY default
SELECT qxt_fault('');
\! test/emulator/emuctl sent regress_estimate_000000000000001

-- No key: 28000, as every function that needs one; nothing sent.
RESET qxt.apikey;
SELECT qxt_try($$SELECT * FROM qxt_estimate(ARRAY['13972565391'])$$);
SET qxt.apikey = 'regress_estimate_000000000000001';

-- Rights: EXECUTE is revoked from PUBLIC; with it, the cache still needs
-- SELECT on qxt_lookups (as for the batch).
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT qxt_try($$SELECT * FROM qxt_estimate(ARRAY['13972565391'])$$);
RESET SESSION AUTHORIZATION;
GRANT EXECUTE ON FUNCTION qxt_estimate(text[]) TO qxt_regress_analyst;
SET SESSION AUTHORIZATION qxt_regress_analyst;
SET qxt.cache_max_age = '1d';
SELECT qxt_try($$SELECT * FROM qxt_estimate(ARRAY['13972565391'])$$);
RESET qxt.cache_max_age;
SELECT rows, to_pay, balance IS NOT NULL AS has_balance FROM qxt_estimate(ARRAY['13972565391']);
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION qxt_estimate(text[]) FROM qxt_regress_analyst;

-- ---------------------------------------------------------------------------
-- CALL qxt_refresh(..., dry_run => true)
-- ---------------------------------------------------------------------------
DELETE FROM qxt_refresh_runs;
SELECT setval('qxt_refresh_runs_run_id_seq', 1200, false);  -- run ids the output can show
TRUNCATE qxt_lookups;
CREATE TABLE est_phones(id int, phone text);
INSERT INTO est_phones SELECT g, '137' || lpad((g * 7919 % 100000000)::text, 8, '0') FROM generate_series(1, 25) g;
INSERT INTO est_phones SELECT 100 + id, '+86 ' || phone FROM est_phones WHERE id <= 5;
INSERT INTO est_phones VALUES (201, NULL), (202, 'junk');
-- Two of them fresh in qxt_lookups, one stale.
INSERT INTO qxt_lookups (mobile, res, code, looked_up_at)
SELECT phone, 0, 0, now() - interval '1 day' FROM est_phones WHERE id IN (1, 2);
INSERT INTO qxt_lookups (mobile, res, code, looked_up_at)
SELECT phone, 0, 0, now() - interval '40 days' FROM est_phones WHERE id = 3;
\! test/emulator/emuctl reset regress_estimate_000000000000001
\! test/emulator/emuctl account regress_estimate_000000000000001 --balance 1000
CALL qxt_refresh('SELECT phone FROM est_phones', dry_run => true);
\! test/emulator/emuctl sent regress_estimate_000000000000001
SELECT state, total, invalid, fresh, to_look_up, done, paid, failed, percent, numbers_per_s, eta,
       finished_at IS NOT NULL AS finished, message
FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
SELECT count(*) AS lookups_unchanged FROM qxt_lookups;
SELECT to_look_up AS dry_to_look_up FROM qxt_refresh_runs ORDER BY run_id DESC LIMIT 1 \gset
-- The real run then pays exactly that.
SET client_min_messages = warning;
CALL qxt_refresh('SELECT phone FROM est_phones');
RESET client_min_messages;
SELECT state, to_look_up, paid, paid = :dry_to_look_up AS as_estimated
FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
\! test/emulator/emuctl sent regress_estimate_000000000000001

-- Errors: a clear SQLSTATE each, the run recorded, nothing sent.
\! test/emulator/emuctl reset regress_estimate_000000000000001
CALL qxt_refresh('SELECT id FROM est_phones', dry_run => true);
\echo :LAST_ERROR_SQLSTATE
CALL qxt_refresh('SELECT phone FROM no_such_table', dry_run => true);
\echo :LAST_ERROR_SQLSTATE
CALL qxt_refresh('SELECT phone FROM est_phones', dry_run => NULL);
\echo :LAST_ERROR_SQLSTATE
BEGIN;
CALL qxt_refresh('SELECT phone FROM est_phones', dry_run => true);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET qxt.apikey;
CALL qxt_refresh('SELECT phone FROM est_phones', '0 seconds', true);
\echo :LAST_ERROR_SQLSTATE
SET qxt.apikey = 'regress_estimate_000000000000001';
-- The balance cannot be read: a WARNING, and the run is still estimated.
SELECT qxt_fault('http503');
\set VERBOSITY terse
CALL qxt_refresh('SELECT phone FROM est_phones', '0 seconds', true);
\set VERBOSITY default
SELECT qxt_fault('');
SELECT state, to_look_up, message FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 6;
\! test/emulator/emuctl sent regress_estimate_000000000000001

-- A dry run tells, for free, which numbers qxt_lookups holds fresh: a role
-- that may run refreshes but not read the table gets 42501 before
-- anything (no run recorded, nothing sent); with SELECT, it runs.
GRANT EXECUTE ON PROCEDURE qxt_refresh(text, interval, boolean) TO qxt_regress_analyst;
GRANT SELECT ON est_phones TO qxt_regress_analyst;
SELECT has_table_privilege('qxt_regress_analyst', 'qxt_lookups', 'SELECT') AS analyst_reads_lookups;
SELECT count(*) AS runs_before FROM qxt_refresh_runs \gset
SET SESSION AUTHORIZATION qxt_regress_analyst;
CALL qxt_refresh('SELECT phone FROM est_phones', dry_run => true);
\echo :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SELECT count(*) - :runs_before AS runs_recorded FROM qxt_refresh_runs;
GRANT SELECT ON qxt_lookups TO qxt_regress_analyst;
SET SESSION AUTHORIZATION qxt_regress_analyst;
CALL qxt_refresh('SELECT phone FROM est_phones', dry_run => true);
RESET SESSION AUTHORIZATION;
SELECT state, to_look_up FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
\! test/emulator/emuctl sent regress_estimate_000000000000001
REVOKE SELECT ON qxt_lookups FROM qxt_regress_analyst;
REVOKE EXECUTE ON PROCEDURE qxt_refresh(text, interval, boolean) FROM qxt_regress_analyst;
REVOKE SELECT ON est_phones FROM qxt_regress_analyst;

DROP TABLE est_phones;
TRUNCATE qxt_lookups;
DELETE FROM qxt_refresh_runs;
RESET qxt.batch_size;
RESET qxt.apikey;
