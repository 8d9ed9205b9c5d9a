-- qxt_balance and the account states: prepaid, postpaid (negative),
-- a small balance that runs out, disabled, unknown, malformed key.
\! test/emulator/emuctl reset regress_acct_0000000000000000001
\! test/emulator/emuctl account regress_acct_0000000000000000001 --balance 3
SET qxt.apikey = 'regress_acct_0000000000000000001';
SELECT * FROM qxt_balance();
SELECT res FROM qxt_carrier('13972565391');
SELECT * FROM qxt_balance();
-- A batch larger than what is left is refused whole: -5, QX005, nothing charged.
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY['13972565301','13972565302','13972565303'])$$);
SELECT * FROM qxt_balance();
SELECT count(res) FROM qxt_carrier_batch(ARRAY['13972565301','13972565302']);
SELECT * FROM qxt_balance();
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_acct_0000000000000000001

-- The balance runs out in the middle of a batch: the vendor's -5 stops it at
-- once, no further request is sent (concurrency 1, three numbers a request).
\! test/emulator/emuctl reset regress_acct_0000000000000000002
\! test/emulator/emuctl account regress_acct_0000000000000000002 --balance 4
SET qxt.apikey = 'regress_acct_0000000000000000002';
SET qxt.batch_size = 3;
SET qxt.batch_concurrency = 1;
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY(SELECT '1380013800' || g FROM generate_series(1, 9) g))$$);
\! test/emulator/emuctl sent regress_acct_0000000000000000002
-- The same for a key the vendor rejects (one request, concurrency 1).
\! test/emulator/emuctl reset ffffffffffffffffffffffffffffffff
SET qxt.apikey = 'ffffffffffffffffffffffffffffffff';
SELECT qxt_state($$SELECT * FROM qxt_carrier_batch(ARRAY(SELECT '1380013800' || g FROM generate_series(1, 9) g))$$);
\! test/emulator/emuctl sent ffffffffffffffffffffffffffffffff
-- With four in flight and more chunks than slots (30 numbers, ten requests;
-- every answer comes after 100 ms, so all four slots are taken): the four
-- requests already started end and none follows.  Disabled (-6), unknown
-- (-1) and an empty balance (-5), each as the whole answer.
SET qxt.batch_concurrency = 4;
\! test/emulator/emuctl reset disabled000000000000000000000000
SET qxt.apikey = 'disabled000000000000000000000000';
SELECT qxt_state_fault('latency=100', $$SELECT * FROM qxt_carrier_batch(ARRAY(SELECT '138001380' || lpad(g::text, 2, '0') FROM generate_series(1, 30) g))$$);
\! test/emulator/emuctl sent disabled000000000000000000000000
\! test/emulator/emuctl stats disabled000000000000000000000000 | python3 -c 'import json,sys; print("max_in_flight", json.load(sys.stdin)["max_in_flight"])'
\! test/emulator/emuctl reset ffffffffffffffffffffffffffffffff
SET qxt.apikey = 'ffffffffffffffffffffffffffffffff';
SELECT qxt_state_fault('latency=100', $$SELECT * FROM qxt_carrier_batch(ARRAY(SELECT '138001380' || lpad(g::text, 2, '0') FROM generate_series(1, 30) g))$$);
\! test/emulator/emuctl sent ffffffffffffffffffffffffffffffff
\! test/emulator/emuctl reset regress_acct_0000000000000000004
\! test/emulator/emuctl account regress_acct_0000000000000000004 --balance 0
SET qxt.apikey = 'regress_acct_0000000000000000004';
SELECT qxt_state_fault('latency=100', $$SELECT * FROM qxt_carrier_batch(ARRAY(SELECT '138001380' || lpad(g::text, 2, '0') FROM generate_series(1, 30) g))$$);
\! test/emulator/emuctl sent regress_acct_0000000000000000004
RESET qxt.batch_size;
RESET qxt.batch_concurrency;

-- Postpaid: the balance is negative and keeps going down.
SET qxt.apikey = 'postpaid000000000000000000000000';
SELECT fee_type, balance < 0 AS negative FROM qxt_balance();
\! test/emulator/emuctl reset postpaid000000000000000000000000
\! test/emulator/emuctl account postpaid000000000000000000000000 --balance -2047 --fee-type postpaid
SELECT * FROM qxt_balance();
SELECT res FROM qxt_carrier('13972565391');
SELECT * FROM qxt_balance();

-- Disabled account: QX006, for every function.
SET qxt.apikey = 'disabled000000000000000000000000';
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);

-- A key the vendor does not know: 28000.
SET qxt.apikey = 'ffffffffffffffffffffffffffffffff';
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);

-- A key of the wrong length: the vendor's code 1.
SET qxt.apikey = 'short';
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);

-- No key at all: 28000 and nothing sent.
RESET qxt.apikey;
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
-- ... but a batch with nothing valid to send needs no key.
SELECT count(*) FROM qxt_carrier_batch(ARRAY['x']);
\! test/emulator/emuctl sent ""
