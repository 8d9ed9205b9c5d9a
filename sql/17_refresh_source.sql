-- qxt_refresh against what its source query (the caller's code, run inside
-- the CALL) and the session can do to it.  Whatever they do, a run never
-- pays for an answer it then loses, and it ends in a final state with the
-- true reason.  One emulator key per scenario; emuctl shows what was paid.
CREATE TABLE refsrc_phones AS
SELECT '139' || lpad(g::text, 8, '0') AS phone FROM generate_series(1, 30) g;
SET qxt.batch_size = 10;
SET qxt.batch_concurrency = 1;
SET client_min_messages = warning;
TRUNCATE qxt_lookups;
CREATE VIEW refsrc_last AS
SELECT state, done, paid, message FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;

-- The source query makes the session's next transactions read-only
-- (default_transaction_read_only): the run's own transactions, one per
-- window, are not the source query's to change.  Every number is paid
-- once and kept.
SET qxt.apikey = 'regress_refsrc_readonly_00000001';
\! test/emulator/emuctl reset regress_refsrc_readonly_00000001
\! test/emulator/emuctl account regress_refsrc_readonly_00000001 --balance 1000 >/dev/null
CALL qxt_refresh($$SELECT phone FROM refsrc_phones
                   WHERE set_config('default_transaction_read_only', 'on', false) IS NOT NULL$$);
SHOW default_transaction_read_only;
RESET default_transaction_read_only;
SELECT * FROM refsrc_last;
SELECT count(*) AS kept FROM qxt_lookups;
\! test/emulator/emuctl charged regress_refsrc_readonly_00000001

-- The key cannot be used (here: both qxt.apikey and qxt.apikey_file set),
-- which is found after the source query ran: nothing is sent, and the run
-- ends failed, with the reason (not left running).
TRUNCATE qxt_lookups;
SET qxt.apikey = 'regress_refsrc_keyfile_000000001';
SET qxt.apikey_file = 'no_such_file.key';
CALL qxt_refresh('SELECT phone FROM refsrc_phones');
RESET qxt.apikey_file;
SELECT state, done, paid, message FROM qxt_refresh_runs ORDER BY run_id DESC LIMIT 1;
\! test/emulator/emuctl sent regress_refsrc_keyfile_000000001

-- The source query pays for numbers itself (here through the (f()).* trap):
-- the CALL is one statement, and the run takes those answers from the
-- statement's memory instead of paying for them again.
TRUNCATE qxt_lookups;
SET qxt.apikey = 'regress_refsrc_paying_0000000001';
\! test/emulator/emuctl reset regress_refsrc_paying_0000000001
\! test/emulator/emuctl account regress_refsrc_paying_0000000001 --balance 1000 >/dev/null
CALL qxt_refresh($$SELECT (qxt_carrier(phone)).mobile FROM refsrc_phones
                   WHERE phone <= '13900000005'
                   UNION ALL SELECT phone FROM refsrc_phones$$);
SELECT state, done, paid FROM refsrc_last;
SELECT count(*) AS kept, count(*) FILTER (WHERE code = 0) AS successes FROM qxt_lookups;
\! test/emulator/emuctl charged regress_refsrc_paying_0000000001

RESET client_min_messages;
RESET qxt.batch_size;
RESET qxt.batch_concurrency;
TRUNCATE qxt_lookups;
DROP VIEW refsrc_last;
DROP TABLE refsrc_phones;
