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
-- Here the vendor charges failed lookups, so a second ask would pay again.
-- The first raise ends a plain statement, so the number is asked again
-- where the first answer does not end it: two batch rows (a -4 element is
-- a row of NULLs) ...
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! test/emulator/emuctl model regress_memo_0000000000000000001 --failed-charged yes >/dev/null
SELECT v.id, r.mobile, r.res IS NULL AS no_information
FROM (VALUES (1, '13800000000'), (2, '138 0000 0000')) AS v(id, p)
     CROSS JOIN LATERAL qxt_carrier_batch(ARRAY[v.p]) r ORDER BY v.id;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
-- ... a single lookup whose QX004 is caught, asked twice in one DO (the
-- second raise comes from memory) ...
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! test/emulator/emuctl model regress_memo_0000000000000000001 --failed-charged yes >/dev/null
DO $$
BEGIN
  FOR i IN 1..2 LOOP
    BEGIN
      PERFORM qxt_carrier('13800000000');
    EXCEPTION WHEN SQLSTATE 'QX004' THEN
      RAISE NOTICE 'attempt %: QX004 caught', i;
    END;
  END LOOP;
END $$;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
-- ... and a batch row, then a single lookup of the same number.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! test/emulator/emuctl model regress_memo_0000000000000000001 --failed-charged yes >/dev/null
SELECT (SELECT count(*) FROM qxt_carrier_batch(ARRAY['13800000000'])) AS batch_rows,
       qxt_try($$SELECT (qxt_carrier('13800000000')).*$$) AS single;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
\! test/emulator/emuctl reset regress_memo_0000000000000000001

-- A batch of more than 10,000 numbers neither reads nor feeds the memory.
-- 13972565397 in a batch of 10,000, then a single lookup in the same
-- statement: sent once; in a batch of 10,001: sent twice.
\! test/emulator/emuctl reset regress_memo_0000000000000000003
\! test/emulator/emuctl account regress_memo_0000000000000000003 --balance 100000 >/dev/null
SET qxt.apikey = 'regress_memo_0000000000000000003';
WITH b AS MATERIALIZED (
  SELECT count(*) AS batch_rows FROM qxt_carrier_batch(
    ARRAY['13972565397'] || ARRAY(SELECT (13500000000 + g)::text FROM generate_series(1, 9999) g)))
SELECT b.batch_rows, (qxt_carrier('13972565397')).now_isp FROM b;
\! test/emulator/emuctl count regress_memo_0000000000000000003 13972565397
\! test/emulator/emuctl reset regress_memo_0000000000000000003
WITH b AS MATERIALIZED (
  SELECT count(*) AS batch_rows FROM qxt_carrier_batch(
    ARRAY['13972565397'] || ARRAY(SELECT (13500000000 + g)::text FROM generate_series(1, 10000) g)))
SELECT b.batch_rows, (qxt_carrier('13972565397')).now_isp FROM b;
\! test/emulator/emuctl count regress_memo_0000000000000000003 13972565397
-- ... and the other way round: a number answered first is asked again by a
-- batch of 10,001 (a batch of 10,000 would take it from memory).
\! test/emulator/emuctl reset regress_memo_0000000000000000003
WITH s AS MATERIALIZED (SELECT (qxt_carrier('13972565397')).now_isp)
SELECT s.now_isp, (SELECT count(*) FROM qxt_carrier_batch(
    ARRAY['13972565397'] || ARRAY(SELECT (13500000000 + g)::text FROM generate_series(1, 10000) g))) AS batch_rows
FROM s;
\! test/emulator/emuctl count regress_memo_0000000000000000003 13972565397
\! test/emulator/emuctl reset regress_memo_0000000000000000003
WITH s AS MATERIALIZED (SELECT (qxt_carrier('13972565397')).now_isp)
SELECT s.now_isp, (SELECT count(*) FROM qxt_carrier_batch(
    ARRAY['13972565397'] || ARRAY(SELECT (13500000000 + g)::text FROM generate_series(1, 9999) g))) AS batch_rows
FROM s;
\! test/emulator/emuctl count regress_memo_0000000000000000003 13972565397
SET qxt.apikey = 'regress_memo_0000000000000000001';

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

SET qxt.apikey = 'regress_memo_0000000000000000001';
-- The unit is the outermost statement being executed, however statements
-- are grouped into query messages.  psql -c sends its string as one
-- message: two statements in it each pay once (the library was loaded by
-- an earlier message, as with shared_preload_libraries).
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! psql -X -q -At -d contrib_regression -c "LOAD 'qxt_portability'" -c "SET qxt.apikey = 'regress_memo_0000000000000000001'; SELECT (qxt_carrier('13972565391')).now_isp; SELECT (qxt_carrier('13972565391')).now_isp"
\! test/emulator/emuctl sent regress_memo_0000000000000000001
-- The documented limit: when the library is loaded by the message itself,
-- that message began untracked, and its statements share one memo.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! psql -X -q -At -d contrib_regression -c "SET qxt.apikey = 'regress_memo_0000000000000000001'; SELECT (qxt_carrier('13972565391')).now_isp; SELECT (qxt_carrier('13972565391')).now_isp"
\! test/emulator/emuctl sent regress_memo_0000000000000000001

-- Statements inside PL/pgSQL belong to the statement that runs them: a
-- loop over six phones (three distinct numbers) pays three times ...
\! test/emulator/emuctl reset regress_memo_0000000000000000001
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT p FROM phones ORDER BY id LOOP
    PERFORM qxt_carrier(r.p);
  END LOOP;
END $$;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
-- ... as does a function called once per row ...
CREATE FUNCTION now_carrier(p text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (qxt_carrier(p)).now_isp;
END $$;
\! test/emulator/emuctl reset regress_memo_0000000000000000001
SELECT id, now_carrier(p) FROM phones ORDER BY id;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
-- ... and a procedure, across its COMMITs.
CREATE PROCEDURE look_twice() LANGUAGE plpgsql AS $$
BEGIN
  PERFORM qxt_carrier('13972565391');
  COMMIT;
  PERFORM qxt_carrier('13972565391');
END $$;
\! test/emulator/emuctl reset regress_memo_0000000000000000001
CALL look_twice();
\! test/emulator/emuctl sent regress_memo_0000000000000000001

-- A cursor is one unit from DECLARE to CLOSE: its FETCHes (and MOVEs)
-- share it, even with another statement in between, which is a unit of
-- its own.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
BEGIN;
DECLARE c CURSOR FOR SELECT id, (qxt_carrier(p)).now_isp FROM phones ORDER BY id;
FETCH 2 FROM c;
SELECT (qxt_carrier('13972565397')).now_isp AS in_between;
MOVE 1 IN c;
FETCH ALL FROM c;
CLOSE c;
COMMIT;
-- Three distinct numbers in the cursor, one in the statement between:
-- 13972565397 was paid by each unit once.
\! test/emulator/emuctl sent regress_memo_0000000000000000001
\! test/emulator/emuctl count regress_memo_0000000000000000001 13972565397

-- An extended-protocol portal is one statement across its Execute messages
-- (PostgreSQL gives each message a statement start time of its own):
-- four rows, one per Execute, two distinct numbers, two payments.
\! test/emulator/emuctl reset regress_memo_0000000000000000001
\! PGDATABASE=contrib_regression python3 test/refresh/portal.py "LOAD 'qxt_portability'; SET qxt.apikey = 'regress_memo_0000000000000000001'" "SELECT (qxt_carrier(p)).now_isp FROM (VALUES ('13972565391'), ('13972565391'), ('13972565397'), ('13972565391')) AS v(p)"
\! test/emulator/emuctl sent regress_memo_0000000000000000001

-- Deferred triggers fire at COMMIT, outside every statement: they belong to
-- the COMMIT (for a statement sent on its own, to that statement), so a
-- deferred trigger over five rows of one number pays once, whether the
-- trigger's lookup is a plain expression or a query.
CREATE TABLE orders(id serial, phone text);
CREATE FUNCTION orders_enrich() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r qxt_carrier_result;
BEGIN
  SELECT * INTO r FROM qxt_carrier(NEW.phone);
  PERFORM qxt_carrier(NEW.phone);
  r := qxt_carrier(NEW.phone);
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER orders_enrich AFTER INSERT ON orders
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION orders_enrich();
\! test/emulator/emuctl reset regress_memo_0000000000000000001
INSERT INTO orders(phone) SELECT '13972565391' FROM generate_series(1, 5);
\! test/emulator/emuctl sent regress_memo_0000000000000000001
\! test/emulator/emuctl reset regress_memo_0000000000000000001
BEGIN;
INSERT INTO orders(phone) SELECT '13972565397' FROM generate_series(1, 3);
INSERT INTO orders(phone) SELECT '13972565397' FROM generate_series(1, 2);
COMMIT;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
DROP TABLE orders;
DROP FUNCTION orders_enrich();

-- The memory is per key and URL, each kept for the whole statement: a
-- statement that asks through two URLs in turn (here a superuser's
-- function with its own qxt.base_url) pays once per number and URL, not
-- once per switch.
\set ECHO none
SELECT format('CREATE FUNCTION carrier_elsewhere(p text) RETURNS qxt_carrier_result LANGUAGE sql '
              'SET qxt.base_url = %L AS $f$ SELECT qxt_carrier(p) $f$',
              current_setting('qxt.base_url') || '/_fault/latency=0') \gexec
\set ECHO all
\! test/emulator/emuctl reset regress_memo_0000000000000000001
SELECT v.id, (qxt_carrier(v.p)).now_isp AS here, (carrier_elsewhere(v.p)).now_isp AS elsewhere
FROM (VALUES (1, '13972565391'), (2, '13972565391'), (3, '13972565397'), (4, '13972565391')) AS v(id, p)
ORDER BY v.id;
\! test/emulator/emuctl sent regress_memo_0000000000000000001
DROP FUNCTION carrier_elsewhere(text);
