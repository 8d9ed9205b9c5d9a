-- A cancel or statement_timeout interrupts a transfer in progress at once
-- and raises PostgreSQL's own 57014; the session keeps working.
--
-- How soon: cancel_after() runs a statement under statement_timeout, catches
-- its 57014, and returns how long after the timeout was due the statement
-- ended, measured inside the backend from the statement's start (the
-- timeout's own clock), so psql's round trips do not count.  The README's
-- bound is 100 ms: the transfer is abandoned at the next 10 ms poll (the
-- benchmark measures about 1 ms on a quiet machine), and 100 ms leaves room
-- for a loaded 2-core machine's scheduling delays.  Without the cancel check
-- the hang would last qxt.timeout_ms (60 s).
CREATE FUNCTION cancel_after(q text, OUT error text, OUT late_ms float8)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  error := 'no error';
EXCEPTION WHEN query_canceled THEN
  error := SQLSTATE || ': ' || SQLERRM;
  late_ms := 1000 * extract(epoch FROM clock_timestamp() - statement_timestamp()
                                       - current_setting('statement_timeout')::interval);
END $$;

SET qxt.apikey = 'regress_cancel_00000000000000001';
\! test/emulator/emuctl reset regress_cancel_00000000000000001
\! test/emulator/emuctl account regress_cancel_00000000000000001 --balance 100000
SET qxt.timeout_ms = 60000;
SELECT qxt_fault('hang');

-- A single lookup, hanging at the emulator.
SET statement_timeout = '300ms';
SELECT error, late_ms >= 0 AS not_before_the_timeout, late_ms < 100 AS cancelled_within_100ms
FROM cancel_after($$SELECT * FROM qxt_carrier('13972565391')$$);
RESET statement_timeout;

-- Eight batch requests in flight, all abandoned (under a key of their own,
-- so the single hang above cannot count).
SET qxt.apikey = 'regress_cancel_00000000000000002';
\! test/emulator/emuctl reset regress_cancel_00000000000000002
\! test/emulator/emuctl account regress_cancel_00000000000000002 --balance 100000
SET qxt.batch_size = 100;
SET qxt.batch_concurrency = 8;
SET statement_timeout = '300ms';
SELECT error, late_ms >= 0 AS not_before_the_timeout, late_ms < 100 AS cancelled_within_100ms
FROM cancel_after($$SELECT count(*) FROM qxt_carrier_batch(ARRAY(SELECT '1390000' || lpad(g::text, 4, '0') FROM generate_series(1, 800) g))$$);
RESET statement_timeout;
\! test/emulator/emuctl stats regress_cancel_00000000000000002 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("batch requests", s["requests"]["carrier_batch"], "max_in_flight", s["max_in_flight"])'

-- The balance endpoint.
SET statement_timeout = '300ms';
SELECT error, late_ms >= 0 AS not_before_the_timeout, late_ms < 100 AS cancelled_within_100ms
FROM cancel_after($$SELECT * FROM qxt_balance()$$);
RESET statement_timeout;

-- The same at top level, as a client sees it: PostgreSQL's own error.
SET statement_timeout = '300ms';
SELECT * FROM qxt_carrier('13972565391');
RESET statement_timeout;

-- The interrupted connections are not reused: the next calls work.
SELECT qxt_fault('');
SELECT * FROM qxt_carrier('13972565391');
SELECT count(res) FROM qxt_carrier_batch(ARRAY(SELECT '1390000' || lpad(g::text, 4, '0') FROM generate_series(1, 800) g));
DROP FUNCTION cancel_after(text);
