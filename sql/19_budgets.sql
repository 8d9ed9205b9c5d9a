-- Spending limits and the governor's settings without preload (this suite's
-- server does not preload the library): qxt.statement_budget holds per
-- statement; qxt.daily_budget refuses to run rather than not apply; the
-- governor's settings are server-wide and only superusers set budgets.
LOAD 'qxt_portability';
SELECT name, setting, context FROM pg_settings
WHERE name IN ('qxt.max_inflight', 'qxt.max_requests_per_s', 'qxt.statement_budget', 'qxt.daily_budget')
ORDER BY name;
-- Server-wide only (ALTER SYSTEM + reload): a session cannot change them.
SELECT qxt_state($$SET qxt.max_inflight = 64$$);
SELECT qxt_state($$SET qxt.max_requests_per_s = 0$$);
-- Only a superuser sets a budget (for a role: ALTER ROLE ... SET).
SET ROLE qxt_regress_analyst;
SELECT qxt_state($$SET qxt.statement_budget = 1000000$$);
SELECT qxt_state($$SELECT set_config('qxt.daily_budget', '-1', false)$$);
SELECT qxt_state($$ALTER ROLE qxt_regress_analyst SET qxt.statement_budget = -1$$);
RESET ROLE;

\! test/emulator/emuctl reset regress_budget_00000000000000001
\! test/emulator/emuctl account regress_budget_00000000000000001 --balance 1000
SET qxt.apikey = 'regress_budget_00000000000000001';
SET qxt.batch_size = 10;
SET qxt.batch_concurrency = 1;
-- 40 numbers, a budget of 25: qxt_carrier_batch is all or nothing (a part
-- paid for would be lost with the failing statement): nothing is sent.
SET qxt.statement_budget = 25;
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY(SELECT (13800000100 + g)::text FROM generate_series(1, 40) g))$$);
\! test/emulator/emuctl sent regress_budget_00000000000000001
-- The budget is per statement: the next one starts from zero.
SELECT count(res) FROM qxt_carrier_batch(ARRAY(SELECT (13800000200 + g)::text FROM generate_series(1, 20) g));
\! test/emulator/emuctl sent regress_budget_00000000000000001
-- A cursor is one statement of its own: fetching from another in between
-- does not start its count again (two cursors, budget 5 each).
SET qxt.statement_budget = 5;
BEGIN;
DECLARE c1 CURSOR FOR SELECT (qxt_carrier((13800000800 + g)::text)).res FROM generate_series(1, 20) g;
DECLARE c2 CURSOR FOR SELECT (qxt_carrier((13800000900 + g)::text)).res FROM generate_series(1, 20) g;
FETCH 4 FROM c1;
FETCH 4 FROM c2;
\set VERBOSITY terse
FETCH 4 FROM c1;
\set VERBOSITY default
ROLLBACK;
\! test/emulator/emuctl sent regress_budget_00000000000000001
-- Single lookups count one each; the memo's answers count nothing.
SET qxt.statement_budget = 2;
SELECT qxt_try($$SELECT count((qxt_carrier(p)).res) FROM unnest(ARRAY['13800000301', '13800000302', '13800000302', '13800000303']) p$$);
\! test/emulator/emuctl sent regress_budget_00000000000000001
SELECT (qxt_carrier('13800000401')).*;
\! test/emulator/emuctl sent regress_budget_00000000000000001
-- A budget of 0: nothing paid at all; the free balance call still works.
SET qxt.statement_budget = 0;
SELECT qxt_try($$SELECT qxt_carrier('13800000501')$$);
SELECT balance > 0 AS balance_readable FROM qxt_balance();
\! test/emulator/emuctl sent regress_budget_00000000000000001

-- qxt_refresh stops at the budget, keeps what it paid, and fails with QX201.
SET qxt.statement_budget = 15;
CREATE TABLE qxt_regress_budget_src AS SELECT (13800000600 + g)::text AS phone FROM generate_series(1, 30) g;
CALL qxt_refresh('SELECT phone FROM qxt_regress_budget_src');
SELECT count(*) AS kept FROM qxt_lookups WHERE mobile IN (SELECT phone FROM qxt_regress_budget_src);
SELECT state, done, paid, message ~ 'statement_budget' AS says_why
FROM qxt_refresh_progress WHERE source = 'SELECT phone FROM qxt_regress_budget_src';
\! test/emulator/emuctl sent regress_budget_00000000000000001
RESET qxt.statement_budget;
DELETE FROM qxt_lookups WHERE mobile IN (SELECT phone FROM qxt_regress_budget_src);
DROP TABLE qxt_regress_budget_src;

-- qxt.daily_budget needs the shared memory of a preloaded library: without
-- it, paid lookups refuse (55000) and nothing is sent.
SET qxt.daily_budget = 1000;
SELECT qxt_try($$SELECT qxt_carrier('13800000701')$$);
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY['13800000702'])$$);
\! test/emulator/emuctl sent regress_budget_00000000000000001
RESET qxt.daily_budget;
RESET qxt.apikey;
RESET qxt.batch_size;
RESET qxt.batch_concurrency;
