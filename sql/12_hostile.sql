-- Hostile input of every odd kind gives clear errors or NULL rows, never a
-- crash, a wrong row or a request.
SET qxt.apikey = 'regress_hostile_0000000000000001';
\! test/emulator/emuctl reset regress_hostile_0000000000000001
\! test/emulator/emuctl account regress_hostile_0000000000000001 --balance 1000

-- Junk of every shape: control characters, quotes, JSON and URL syntax, very
-- long strings, lookalike digits: rejected locally and never sent (a trailing
-- newline is only surrounding whitespace, so that one number is valid).
CREATE TEMP TABLE junk AS
SELECT j FROM (VALUES
  (E'\x01\x02\x03'), (E'13972565391\n'), (E'139\t7256\t5391'), ('13972565391"'),
  ('"13972565391"'), ('["13972565391"]'), ('13972565391&apikey=x'), ('13972565391%00'),
  ('١٣٩٧٢٥٦٥٣٩١'), ('１３９７２５６５３９１'), ('13972565391' || repeat(' ', 100)),
  (repeat('13972565391', 10000)), (repeat('x', 1000000)), ('-13972565391'),
  ('+86-+86-13972565391'), ('1.3972565391e10'), ('0x33FC1F3CF'), ('NaN')
) AS t(j);
SELECT left(j, 20) AS input, qxt_normalize_mobile(j) AS normalised,
       qxt_state(format('SELECT qxt_carrier(%L)', j)) AS single
FROM junk;
SELECT count(*) AS rows, count(mobile) AS with_mobile
FROM qxt_carrier_batch(ARRAY(SELECT j FROM junk));
\! test/emulator/emuctl sent regress_hostile_0000000000000001

-- A million NULLs: a million NULL rows, one WARNING, nothing sent.
SELECT count(*), count(mobile) FROM qxt_carrier_batch(array_fill(NULL::text, ARRAY[1000000]));
\! test/emulator/emuctl sent regress_hostile_0000000000000001

-- Arrays of other shapes.
SELECT qxt_state($$SELECT * FROM qxt_carrier_batch('{{13972565391},{13972565397}}'::text[])$$);
SELECT qxt_state($$SELECT * FROM qxt_carrier_batch('{{{1}}}'::text[])$$);
SELECT count(*) FROM qxt_carrier_batch('[-3:-2]={13972565391,13972565397}'::text[]);

-- A SQL_ASCII database accepts any bytes: they are rejected as numbers with
-- a readable error, and vendor text (UTF-8) passes through unchanged.
\getenv emu_url QXT_EMU_URL
DROP DATABASE IF EXISTS qxt_regress_ascii;
CREATE DATABASE qxt_regress_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c qxt_regress_ascii
SET client_encoding = 'SQL_ASCII';
CREATE EXTENSION qxt_portability;
\set ECHO none
SELECT set_config('qxt.base_url', :'emu_url', false) IS NOT NULL AS base_url_set;
\set ECHO all
SET qxt.apikey = 'regress_hostile_0000000000000001';
SELECT qxt_normalize_mobile(E'139\xff\xfe72565391') IS NULL AS rejected;
SELECT qxt_normalize_mobile(E'\xe4\xb8\x80 13972565391') IS NULL AS rejected;
SELECT count(*), count(mobile) FROM qxt_carrier_batch(ARRAY[E'\xff\xfe', E'\x80abc', '13972565397']);
SELECT res, mobile, area = convert_from('\xe6b996e58c972de5ae9ce6988c'::bytea, 'SQL_ASCII') AS area_is_utf8_bytes
FROM qxt_carrier('13972565397');
\c contrib_regression
DROP DATABASE qxt_regress_ascii;
\! test/emulator/emuctl sent regress_hostile_0000000000000001

-- A database whose encoding cannot hold the vendor's Chinese text: refused
-- before anything is sent (the answers could not be stored after paying).
DROP DATABASE IF EXISTS qxt_regress_latin1;
CREATE DATABASE qxt_regress_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c qxt_regress_latin1
CREATE EXTENSION qxt_portability;
\set ECHO none
SELECT set_config('qxt.base_url', :'emu_url', false) IS NOT NULL AS base_url_set;
\set ECHO all
SET qxt.apikey = 'regress_hostile_0000000000000001';
\! test/emulator/emuctl reset regress_hostile_0000000000000001
SELECT qxt_carrier('13972565397');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM qxt_carrier_batch(ARRAY['13972565397']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM qxt_balance();
\echo :LAST_ERROR_SQLSTATE
SELECT qxt_normalize_mobile('+86 139 7256 5397');
\! test/emulator/emuctl sent regress_hostile_0000000000000001
\c contrib_regression
DROP DATABASE qxt_regress_latin1;
