-- A cancel or statement_timeout interrupts a transfer in progress at once
-- and raises PostgreSQL's own 57014; the session keeps working.
SET qxt.apikey = 'regress_cancel_00000000000000001';
\! test/emulator/emuctl reset regress_cancel_00000000000000001
\! test/emulator/emuctl account regress_cancel_00000000000000001 --balance 100000
SET qxt.timeout_ms = 60000;
SELECT qxt_fault('hang');

SET statement_timeout = '300ms';
SELECT clock_timestamp() AS t0 \gset
SELECT * FROM qxt_carrier('13972565391');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.5 s' AS cancelled_promptly;

-- Eight batch requests in flight, all abandoned (under a key of their own,
-- so the single hang above cannot count).
SET qxt.apikey = 'regress_cancel_00000000000000002';
\! test/emulator/emuctl reset regress_cancel_00000000000000002
\! test/emulator/emuctl account regress_cancel_00000000000000002 --balance 100000
SET qxt.batch_size = 100;
SET qxt.batch_concurrency = 8;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM qxt_carrier_batch(ARRAY(SELECT '1390000' || lpad(g::text, 4, '0') FROM generate_series(1, 800) g));
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.5 s' AS cancelled_promptly;
\! test/emulator/emuctl stats regress_cancel_00000000000000002 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("batch requests", s["requests"]["carrier_batch"], "max_in_flight", s["max_in_flight"])'

SELECT clock_timestamp() AS t0 \gset
SELECT * FROM qxt_balance();
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.5 s' AS cancelled_promptly;
RESET statement_timeout;

-- The interrupted connections are not reused: the next calls work.
SELECT qxt_fault('');
SELECT * FROM qxt_carrier('13972565391');
SELECT count(res) FROM qxt_carrier_batch(ARRAY(SELECT '1390000' || lpad(g::text, 4, '0') FROM generate_series(1, 800) g));
