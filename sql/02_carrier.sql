-- qxt_carrier: one paid lookup.
\set key 'regress_carrier_0000000000000001'
\! test/emulator/emuctl reset regress_carrier_0000000000000001
\! test/emulator/emuctl account regress_carrier_0000000000000001 --balance 1000
SET qxt.apikey = :'key';

-- Not ported, ported, virtual operator, China Broadnet (192).
SELECT * FROM qxt_carrier('13972565391');
SELECT * FROM qxt_carrier('13972565397');
SELECT * FROM qxt_carrier('17012345678');
SELECT * FROM qxt_carrier('19212345678');
-- Any accepted format; mobile is the normalised number.
SELECT * FROM qxt_carrier('+86 139-7256-5391');
SELECT (r).mobile = qxt_normalize_mobile('0086 139 7256 5397') AS joinable
FROM (SELECT qxt_carrier('0086 139 7256 5397') AS r) s;
\! test/emulator/emuctl sent regress_carrier_0000000000000001

-- STRICT: NULL in, NULL out, nothing sent.
SELECT qxt_carrier(NULL) IS NULL AS null_in_null_out;

-- A number that cannot be valid raises 22023 and sends nothing (costs nothing).
SELECT qxt_try($$SELECT qxt_carrier('12345')$$);
SELECT qxt_try($$SELECT qxt_carrier('')$$);
SELECT qxt_try($$SELECT qxt_carrier('+1 415 555 0100')$$);
SELECT qxt_try($$SELECT qxt_carrier(repeat('9', 100000))$$);
\! test/emulator/emuctl sent regress_carrier_0000000000000001

-- The vendor knows nothing of this number: -4.
SELECT qxt_try($$SELECT qxt_carrier('13800000000')$$);

-- The balance counts one lookup per successful answer (failures are free).
\! test/emulator/emuctl sent regress_carrier_0000000000000001
SELECT * FROM qxt_balance();

-- LATERAL: one lookup per row, and a JOIN on the normalised number.
CREATE TEMP TABLE customers(id int, phone text);
INSERT INTO customers VALUES (1, '139 7256 5391'), (2, '+86 170 1234 5678');
SELECT c.id, r.* FROM customers c CROSS JOIN LATERAL qxt_carrier(c.phone) r ORDER BY c.id;
SELECT c.id, r.now_isp
FROM customers c
JOIN qxt_carrier_batch(ARRAY(SELECT phone FROM customers)) r
  ON r.mobile = qxt_normalize_mobile(c.phone)
ORDER BY c.id;

-- Every call of this session went over one kept-alive connection.
\! test/emulator/emuctl stats regress_carrier_0000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("requests", sum(s["requests"].values()), "connections", s["connections"])'
-- qxt.reuse_connections = off: every request on a connection of its own.
SET qxt.reuse_connections = off;
SELECT res FROM qxt_carrier('13972565391');
SELECT res FROM qxt_carrier('13972565391');
RESET qxt.reuse_connections;
\! test/emulator/emuctl stats regress_carrier_0000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("requests", sum(s["requests"].values()), "connections", s["connections"])'
