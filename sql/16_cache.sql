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
-- As psql shows it: ERROR, DETAIL and the HINT naming the grant, and no
-- CONTEXT line (no internal query is shown).
SELECT qxt_carrier('13972565397');
\echo :LAST_ERROR_SQLSTATE
RESET qxt.cache_max_age;
SELECT res FROM qxt_carrier('13972565397');
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION qxt_carrier(text) FROM qxt_regress_analyst;
RESET qxt.cache_max_age;

-- Who a cached caller trusts: superusers, the table's owner (a superuser),
-- members of pg_write_all_data, and the vendor (through qxt_refresh).  The
-- table refuses rows the vendor cannot have sent ...
SET qxt.cache_max_age = '1h';
SELECT qxt_state($$INSERT INTO qxt_lookups (mobile, code) VALUES ('13900000001', 65536)$$);
SELECT qxt_state($$INSERT INTO qxt_lookups (mobile, code) VALUES ('13900000001', -5)$$);
SELECT qxt_state($$INSERT INTO qxt_lookups (mobile, code) VALUES ('13900000001', 1)$$);
SELECT qxt_state($$INSERT INTO qxt_lookups (mobile, res, area, init_isp, now_isp, code, looked_up_at)
                   VALUES ('13900000001', 0, 'a', 'b', 'c', 0, 'infinity')$$);
SELECT qxt_state($$INSERT INTO qxt_lookups (mobile, res, area, init_isp, now_isp, code, looked_up_at)
                   VALUES ('13900000001', 0, 'a', 'b', 'c', 0, now() + interval '1 hour')$$);
SELECT qxt_state($$INSERT INTO qxt_lookups (mobile, res, area, code) VALUES ('13900000001', 1, 'a', -4)$$);
SELECT qxt_state($$INSERT INTO qxt_lookups (mobile, code) VALUES ('1390000000', 0)$$);
SELECT qxt_state($$UPDATE qxt_lookups SET looked_up_at = 'infinity' WHERE mobile = '13972565397'$$);

-- ... and a role granted INSERT/UPDATE on it (trusted with that table
-- only) cannot have its rows served: a valid-looking forged row is
-- ignored, with one WARNING per statement, and the number is looked up
-- live (the emulator counts it).
CREATE ROLE qxt_regress_writer;
GRANT SELECT, INSERT, UPDATE ON qxt_lookups TO qxt_regress_writer;
SET SESSION AUTHORIZATION qxt_regress_writer;
UPDATE qxt_lookups SET area = 'FORGED', now_isp = 'FORGED', res = 1 WHERE mobile = '13972565397';
INSERT INTO qxt_lookups (mobile, res, area, init_isp, now_isp, code)
VALUES ('17012345678', 0, 'FORGED', 'FORGED', 'FORGED', 0);
RESET SESSION AUTHORIZATION;
\! test/emulator/emuctl reset regress_cache_000000000000000001
SELECT * FROM qxt_carrier('13972565397');
SELECT * FROM qxt_carrier_batch(ARRAY['13972565397', '17012345678']);
-- (qxt_carrier per row: one WARNING for the statement, not one per row)
SELECT count(r.res) FROM unnest(ARRAY['13972565397', '17012345678', '13972565397']) AS m(x),
  LATERAL qxt_carrier(m.x) r;
\! test/emulator/emuctl sent regress_cache_000000000000000001
-- Column privileges count too; so do user triggers and an owner that is
-- not a superuser.
REVOKE INSERT, UPDATE ON qxt_lookups FROM qxt_regress_writer;
GRANT UPDATE (area) ON qxt_lookups TO qxt_regress_writer;
SELECT now_isp FROM qxt_carrier('13972565397');
REVOKE UPDATE (area) ON qxt_lookups FROM qxt_regress_writer;
GRANT TRIGGER ON qxt_lookups TO PUBLIC;
SELECT now_isp FROM qxt_carrier('13972565397');
REVOKE TRIGGER ON qxt_lookups FROM PUBLIC;
CREATE FUNCTION qxt_regress_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER qxt_regress_touch BEFORE INSERT ON qxt_lookups
  FOR EACH ROW EXECUTE FUNCTION qxt_regress_touch();
SELECT now_isp FROM qxt_carrier('13972565397');
DROP TRIGGER qxt_regress_touch ON qxt_lookups;
ALTER TABLE qxt_lookups OWNER TO qxt_regress_writer;
SELECT now_isp FROM qxt_carrier('13972565397');
ALTER TABLE qxt_lookups OWNER TO postgres;
-- A grant to pg_write_all_data adds nobody: its members may write every
-- table anyway, and are trusted (README).  (Trust is about who can write
-- now: rows written under a grant since revoked, like the forged ones
-- here, are served again; cleaning them is the owner's job.  The 1.0 ->
-- 1.1 upgrade revokes such grants: 18_upgrade.)
GRANT INSERT ON qxt_lookups TO pg_write_all_data;
\! test/emulator/emuctl reset regress_cache_000000000000000001
SELECT area, now_isp FROM qxt_carrier('13972565397');
\! test/emulator/emuctl sent regress_cache_000000000000000001
REVOKE INSERT ON qxt_lookups FROM pg_write_all_data;
DELETE FROM qxt_lookups WHERE area = 'FORGED';

-- Every row is checked again in C before it is served, whatever the
-- table's constraints say (here dropped for a moment by the owner): a code
-- other than 0, -2, -3, -4 (at full width: 65536 is not 0), a time in the
-- future, a success without its fields, a failure with fields.  Each such
-- number is looked up live, with one WARNING.
BEGIN;
ALTER TABLE qxt_lookups DROP CONSTRAINT qxt_lookups_code_check,
  DROP CONSTRAINT qxt_lookups_looked_up_at_check,
  DROP CONSTRAINT qxt_lookups_failure_fields_check;
DELETE FROM qxt_lookups;
INSERT INTO qxt_lookups (mobile, res, area, init_isp, now_isp, code, looked_up_at) VALUES
  ('13972565391', NULL, NULL, NULL, NULL, 65536, now()),
  ('13972565392', NULL, NULL, NULL, NULL, -5, now()),
  ('13972565393', NULL, NULL, NULL, NULL, 1, now()),
  ('13972565394', 0, 'FORGED', 'FORGED', 'FORGED', 0, 'infinity'),
  ('13972565395', 0, 'FORGED', 'FORGED', 'FORGED', 0, clock_timestamp() + interval '1 hour'),
  ('13972565396', 0, NULL, NULL, NULL, 0, now()),
  ('13972565397', 2, 'FORGED', 'FORGED', 'FORGED', 0, now()),
  ('13972565398', 1, 'FORGED', NULL, NULL, -4, now()),
  ('13972565399', 0, 'cached', 'cached', 'cached', 0, now());
\! test/emulator/emuctl reset regress_cache_000000000000000001
SELECT * FROM qxt_carrier_batch(ARRAY['13972565391', '13972565392', '13972565393', '13972565394',
  '13972565395', '13972565396', '13972565397', '13972565398', '13972565399']);
SELECT res, area FROM qxt_carrier('13972565391');
\! test/emulator/emuctl sent regress_cache_000000000000000001
ROLLBACK;
DROP FUNCTION qxt_regress_touch();
DROP ROLE qxt_regress_writer;
RESET qxt.cache_max_age;
