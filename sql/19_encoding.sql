-- Encodings: the 1.1 script is pure ASCII and the control file reads the
-- scripts as UTF8, so the extension installs in an EUC_CN database too
-- (EUC_CN holds every text the vendor sends); answers come out right, and
-- the vendor's texts in errors are converted to the database encoding.
-- What the database encoding cannot hold is written as an escape (never a
-- conversion error in place of ours).  (Encodings that cannot hold the
-- vendor's text at all keep 22P05: 12_hostile.)
\getenv emu_url QXT_EMU_URL
DROP DATABASE IF EXISTS qxt_regress_euc_cn;
CREATE DATABASE qxt_regress_euc_cn ENCODING 'EUC_CN' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c qxt_regress_euc_cn
SET client_encoding = 'UTF8';
SHOW server_encoding;
SHOW client_encoding;
CREATE EXTENSION qxt_portability;
\set ECHO none
SELECT set_config('qxt.base_url', :'emu_url', false) IS NOT NULL AS base_url_set;
\set ECHO all
SET qxt.apikey = 'regress_encoding_000000000000001';
\! test/emulator/emuctl account regress_encoding_000000000000001 --balance 100
SELECT * FROM qxt_carrier('13972565397');
SELECT * FROM qxt_carrier_batch(ARRAY['13972565391', '17012345678', '13800000000']);
SELECT * FROM qxt_balance();
-- Stored in EUC_CN, the answers are exactly the vendor's characters.
SELECT convert_to(area, 'UTF8') = convert_to('湖北-宜昌', 'UTF8') AS same_text, octet_length(area) AS euc_cn_bytes
FROM qxt_carrier('13972565397');
-- A vendor -4: its reason in the DETAIL, in the database's encoding.
SELECT qxt_carrier('13800000000');
-- A reason EUC_CN cannot hold (traditional characters, an emoji): the rest
-- is converted, those characters are escaped.
SELECT set_config('qxt.base_url', current_setting('qxt.base_url')
                  || '/_fault/code=-4,reason=%E8%87%BA%E7%81%A3%E5%8F%B0%E6%B9%BE%F0%9F%98%80', false) IS NOT NULL AS fault_set;
SELECT qxt_carrier('13972565391');
\echo :LAST_ERROR_SQLSTATE
-- The cache round trip (qxt_refresh stores, the functions read back).
\set ECHO none
SELECT set_config('qxt.base_url', :'emu_url', false) IS NOT NULL AS base_url_set;
\set ECHO all
SET client_min_messages = warning;
CALL qxt_refresh($$VALUES ('13972565397'), ('13800000000')$$);
RESET client_min_messages;
SET qxt.base_url = 'http://127.0.0.1:9';
SET qxt.cache_max_age = '1h';
SELECT * FROM qxt_carrier('13972565397');
SELECT qxt_carrier('13800000000');
-- The vendor's answers are UTF-8 and may hold what EUC_CN cannot (here an
-- area in traditional characters and an emoji).  The answer was paid for,
-- so it is kept, with those characters written as escapes: never a
-- conversion error in its place (which lost it, and a refresh then paid for
-- that window again at every run).
RESET qxt.cache_max_age;
SET qxt.apikey = 'regress_encoding_000000000000002';
\! test/emulator/emuctl reset regress_encoding_000000000000002
\! test/emulator/emuctl account regress_encoding_000000000000002 --balance 100 >/dev/null
\set ECHO none
SELECT set_config('qxt.base_url', :'emu_url' || '/_fault/area=%E8%87%BA%E5%8C%97-%F0%9F%98%80', false) IS NOT NULL AS area_fault_set;
\set ECHO all
SELECT * FROM qxt_carrier('13972565391');
SELECT * FROM qxt_carrier_batch(ARRAY['13972565391', '13972565397']);
TRUNCATE qxt_lookups;
SET client_min_messages = warning;
CALL qxt_refresh($$VALUES ('13972565391'), ('13972565397')$$);
RESET client_min_messages;
SELECT state, done, paid, message FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1;
SELECT mobile, area, now_isp FROM qxt_lookups ORDER BY mobile;
\! test/emulator/emuctl charged regress_encoding_000000000000002
\c contrib_regression
DROP DATABASE qxt_regress_euc_cn;
-- 1.0 (whose script holds Chinese text) installs there too, and updates.
CREATE DATABASE qxt_regress_euc_cn ENCODING 'EUC_CN' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c qxt_regress_euc_cn
SET client_encoding = 'UTF8';
CREATE EXTENSION qxt_portability VERSION '1.0';
SELECT obj_description('qxt_balance()'::regprocedure) LIKE '%预付费%' AS chinese_comment_of_1_0;
ALTER EXTENSION qxt_portability UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'qxt_portability';
\c contrib_regression
DROP DATABASE qxt_regress_euc_cn;
\! test/emulator/emuctl sent regress_encoding_000000000000001
