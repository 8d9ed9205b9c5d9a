-- qxt_carrier_batch: one row per element, in order; each distinct valid
-- number sent once; failures become NULL rows and one closing WARNING.
\set key 'regress_batch_000000000000000001'
\! test/emulator/emuctl reset regress_batch_000000000000000001
\! test/emulator/emuctl account regress_batch_000000000000000001 --balance 100000
SET qxt.apikey = :'key';

-- NULLs, junk, a number the vendor does not know, duplicates in different
-- formats, a virtual operator: rows line up with WITH ORDINALITY.
SELECT r.*
FROM qxt_carrier_batch(ARRAY[
  '13972565391', NULL, 'not a phone', '13800000000', '+86 139 7256 5391',
  '17012345678', '', '0086-139-7256-5397', '13972565391', '19212345678'
]) WITH ORDINALITY AS r(res, mobile, area, init_isp, now_isp, n);
-- One request, each distinct valid number once (5 distinct; 13800000000
-- answered -4 is sent but not charged).
\! test/emulator/emuctl sent regress_batch_000000000000000001
\! test/emulator/emuctl count regress_batch_000000000000000001 13972565391

-- NULL array and empty array: no rows, nothing sent.
SELECT count(*) FROM qxt_carrier_batch(NULL);
SELECT count(*) FROM qxt_carrier_batch('{}'::text[]);
SELECT count(*) FROM qxt_carrier_batch(ARRAY[]::text[]);
-- Only invalid numbers: rows of NULLs, a WARNING, nothing sent.
SELECT * FROM qxt_carrier_batch(ARRAY[NULL, 'x', '123']);
\! test/emulator/emuctl sent regress_batch_000000000000000001

-- More than 1000 distinct numbers are split into requests of at most 1000.
\! test/emulator/emuctl reset regress_batch_000000000000000001
SELECT count(*) AS rows, count(res) AS answered,
       bool_and(mobile = '139' || lpad(g::text, 8, '0')) AS in_order
FROM qxt_carrier_batch(ARRAY(SELECT '139' || lpad(g::text, 8, '0')
                             FROM generate_series(1, 2500) g)) WITH ORDINALITY AS r(res, mobile, area, init_isp, now_isp, g);
\! test/emulator/emuctl sent regress_batch_000000000000000001

-- Duplicates across chunk boundaries are still sent once.
\! test/emulator/emuctl reset regress_batch_000000000000000001
SELECT count(*) AS rows, count(DISTINCT mobile) AS distinct_numbers
FROM qxt_carrier_batch(ARRAY(SELECT '139' || lpad((g % 1200)::text, 8, '0')
                             FROM generate_series(1, 3000) g));
\! test/emulator/emuctl sent regress_batch_000000000000000001

-- qxt.batch_size sets the numbers per request.
\! test/emulator/emuctl reset regress_batch_000000000000000001
SET qxt.batch_size = 3;
SELECT count(*) FROM qxt_carrier_batch(ARRAY(SELECT '1357000000' || g FROM generate_series(1, 7) g));
\! test/emulator/emuctl sent regress_batch_000000000000000001
RESET qxt.batch_size;

-- A multi-dimensional array is refused with a clear error.
SELECT qxt_try($$SELECT * FROM qxt_carrier_batch(ARRAY[['13972565391'],['13972565397']])$$);
-- An array with non-default lower bound is read in order.
SELECT mobile FROM qxt_carrier_batch('[5:6]={13972565397,13972565391}'::text[]);

-- 20,000 NULL elements: rows of NULLs, nothing sent, one WARNING.
\! test/emulator/emuctl reset regress_batch_000000000000000001
SELECT count(*), count(mobile) FROM qxt_carrier_batch(array_fill(NULL::text, ARRAY[20000]));
\! test/emulator/emuctl sent regress_batch_000000000000000001

-- An enrichment UPDATE job in one statement.
CREATE TEMP TABLE customers(id int PRIMARY KEY, phone text, now_isp text, ported boolean);
INSERT INTO customers(id, phone) VALUES
  (1, '139 7256 5391'), (2, '+86 139 7256 5397'), (3, 'unknown'), (4, '13800000000');
UPDATE customers c SET now_isp = r.now_isp, ported = (r.res = 1)
FROM qxt_carrier_batch(ARRAY(SELECT phone FROM customers ORDER BY id)) r
WHERE r.mobile = qxt_normalize_mobile(c.phone) AND r.res IS NOT NULL;
SELECT * FROM customers ORDER BY id;
