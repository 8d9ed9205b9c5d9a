-- One payment per number per statement: a number asked again within the
-- same SQL statement is answered from memory.
SET qxt.apikey = 'regress_memo_0000000000000000001';
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! test/emulator/emuctl account regress_memo_0000000000000000001 --balance 1000
CREATE TEMP TABLE phones(id int, p text);
INSERT INTO phones VALUES (1, '13972565391'), (2, '+86 139 7256 5397'), (3, '17012345678');

-- The trap: (f(x)).* calls f once per output column (five times a row) ...
SELECT (qxt_carrier(p)).* FROM phones ORDER BY id;
-- ... but each number was sent, and paid, once.
\! test/emulator/emuctl sent regress_memo_0000000000000000001

-- LATERAL over duplicate phones: one request per distinct number.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
INSERT INTO phones VALUES (4, '139-7256-5391'), (5, '0086 13972565391'), (6, '13972565397');
SELECT p.id, r.res, r.now_isp FROM phones p CROSS JOIN LATERAL qxt_carrier(p.p) r ORDER BY p.id;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
-- The same with a batch per row.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
SELECT p.id, r.res FROM phones p CROSS JOIN LATERAL qxt_carrier_batch(ARRAY[p.p]) r ORDER BY p.id;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
-- A single lookup and a batch in one statement share the memory too.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
SELECT (qxt_carrier('13972565391')).now_isp,
       (SELECT count(*) FROM qxt_carrier_batch(ARRAY['13972565391', '13972565397'])) AS batch_rows;
\! test/emulator/emuctl sent regress_memo_0000000000000000001

-- A per-number failure is remembered too (the vendor is not asked twice).
\! test/emulator/emuctl reset regress_memo_0000000000000000001
SELECT qxt_try($$SELECT (qxt_carrier('13800000000')).*$$);
\! test/emulator/emuctl sent regress_memo_0000000000000000001

-- It is not a cache: the next statement asks the vendor again.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
SELECT res FROM qxt_carrier('13972565391');
SELECT res FROM qxt_carrier('13972565391');
\! test/emulator/emuctl sent regress_memo_0000000000000000001

-- Nor does it survive a change of account within a statement.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! test/emulator/emuctl reset regress_memo_0000000000000000002
\! test/emulator/emuctl account regress_memo_0000000000000000002 --balance 1000
SELECT (qxt_carrier('13972565391')).res AS first,
       set_config('qxt.apikey', 'regress_memo_0000000000000000002', false) IS NOT NULL AS switched,
       (qxt_carrier('13972565391')).res AS second;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
\! test/emulator/emuctl sent regress_memo_0000000000000000002
