-- qxt.cache_max_age: the functions answer from qxt_lookups when its row is
-- young enough.  Off by default; the functions only read the table.
SET qxt.apikey = 'regress_cache_000000000000000001';
\! test/emulator/emuctl reset regress_cache_000000000000000001
\! test/emulator/emuctl account regress_cache_000000000000000001 --balance 1000
SET client_min_messages = warning;
TRUNCATE qxt_lookups;
CALL qxt_refresh($$SELECT unnest(ARRAY['13972565391', '13972565397', '13800000000'])$$);
RESET client_min_messages;
UPDATE qxt_lookups SET looked_up_at = now() - interval '2 hours' WHERE mobile = '13972565391';
SELECT mobile, res, now_isp, code FROM qxt_lookups ORDER BY mobile;
\! test/emulator/emuctl reset regress_cache_000000000000000001

-- Off (the default): every call is live and paid.
SHOW qxt.cache_max_age;
SELECT res FROM qxt_carrier('13972565397');
\! test/emulator/emuctl sent regress_cache_000000000000000001

-- On: a young enough row answers, nothing is sent ...
SET qxt.cache_max_age = '1h';
\! test/emulator/emuctl reset regress_cache_000000000000000001
SELECT * FROM qxt_carrier('+86 139 7256 5397');
SELECT qxt_try($$SELECT qxt_carrier('13800000000')$$);
\! test/emulator/emuctl sent regress_cache_000000000000000001
-- ... a row older than qxt.cache_max_age, or none, is looked up live.
SELECT res FROM qxt_carrier('13972565391');
SELECT r.* FROM qxt_carrier_batch(ARRAY['13972565397', '13972565391', '13800000000', '17012345678']) r;
\! test/emulator/emuctl sent regress_cache_000000000000000001
-- The functions never write the table.
SELECT count(*), max(looked_up_at) < now() - interval '1 hour' AS old_row_untouched
FROM qxt_lookups WHERE mobile = '13972565391';
SELECT count(*) FROM qxt_lookups WHERE mobile = '17012345678';

-- Read-only transactions (and standbys) work: the cache is only read.
BEGIN READ ONLY;
SELECT now_isp FROM qxt_carrier('13972565397');
SELECT count(res) FROM qxt_carrier_batch(ARRAY['13972565397', '17012345678']);
COMMIT;

-- The cache is personal data: using it needs SELECT on qxt_lookups.
GRANT EXECUTE ON FUNCTION qxt_carrier(text) TO qxt_regress_analyst;
SET SESSION AUTHORIZATION qxt_regress_analyst;
SET qxt.cache_max_age = '1h';
SELECT qxt_try($$SELECT qxt_carrier('13972565397')$$);
RESET qxt.cache_max_age;
SELECT res FROM qxt_carrier('13972565397');
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION qxt_carrier(text) FROM qxt_regress_analyst;
RESET qxt.cache_max_age;
