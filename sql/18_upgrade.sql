-- 1.0 -> 1.1 (ALTER EXTENSION UPDATE): qxt_lookups keeps only rows the
-- vendor can have sent (a NOTICE counts the others, deleted), no role but
-- the owner keeps INSERT, UPDATE or TRIGGER on qxt_lookups and
-- qxt_refresh_runs (a NOTICE names each), and the table ends up as a fresh
-- 1.1 install makes it.
DROP DATABASE IF EXISTS qxt_regress_upgrade;
CREATE DATABASE qxt_regress_upgrade;
\c qxt_regress_upgrade
CREATE EXTENSION qxt_portability VERSION '1.0';
CREATE ROLE qxt_regress_upg_writer;
CREATE ROLE qxt_regress_upg_colwriter;
GRANT SELECT, INSERT, UPDATE ON qxt_lookups, qxt_refresh_runs TO qxt_regress_upg_writer;
GRANT TRIGGER ON qxt_lookups TO PUBLIC;
GRANT UPDATE (area) ON qxt_lookups TO qxt_regress_upg_colwriter;
GRANT SELECT ON qxt_lookups TO qxt_regress_analyst;
INSERT INTO qxt_lookups (mobile, res, area, init_isp, now_isp, code, looked_up_at) VALUES
  ('13972565391', 0, 'a', 'b', 'c', 0, now() - interval '1 day'),
  ('13972565392', NULL, NULL, NULL, NULL, -4, now() - interval '1 day'),
  ('13972565393', NULL, NULL, NULL, NULL, 65536, now()),
  ('13972565394', NULL, NULL, NULL, NULL, -5, now()),
  ('13972565395', 0, 'a', 'b', 'c', 0, 'infinity'),
  ('13972565396', 0, 'a', 'b', 'c', 0, now() + interval '1 day'),
  ('13972565397', 1, 'a', NULL, NULL, -4, now());
ALTER EXTENSION qxt_portability UPDATE TO '1.1';
SELECT mobile, code FROM qxt_lookups ORDER BY mobile;
SELECT c.relname, a.grantee::regrole AS grantee, a.privilege_type
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.relname IN ('qxt_lookups', 'qxt_refresh_runs') AND a.grantee <> c.relowner
ORDER BY 1, 2, 3;
SELECT count(*) AS column_grants FROM pg_attribute
WHERE attrelid = 'qxt_lookups'::regclass AND attacl IS NOT NULL;
-- The same constraints and defaults as a fresh 1.1 install.
CREATE TEMP TABLE upgraded AS
SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
WHERE conrelid = 'qxt_lookups'::regclass
UNION ALL
SELECT 'default ' || a.attname, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = 'qxt_lookups'::regclass;
SELECT * FROM upgraded ORDER BY 1;
-- A trigger that a role holding TRIGGER under 1.0 put on qxt_lookups would
-- run as the superuser when the update's cleanup deletes from the table:
-- the update refuses (55000) before anything fires, and changes nothing.
-- (attack round 2: GRANT ALL ON qxt_lookups, a BEFORE DELETE trigger.)
CREATE DATABASE qxt_regress_upgrade_trg;
\c qxt_regress_upgrade_trg
CREATE EXTENSION qxt_portability VERSION '1.0';
CREATE ROLE qxt_regress_upg_trg;
GRANT ALL ON qxt_lookups TO qxt_regress_upg_trg;
GRANT CREATE ON DATABASE qxt_regress_upgrade_trg TO qxt_regress_upg_trg;
SET ROLE qxt_regress_upg_trg;
CREATE SCHEMA upg_trg;
CREATE TABLE upg_trg.fired (who name, super boolean);
CREATE FUNCTION upg_trg.spy() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO upg_trg.fired SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
  RETURN NULL;
END $f$;
CREATE TRIGGER spy BEFORE DELETE ON public.qxt_lookups
  FOR EACH STATEMENT EXECUTE FUNCTION upg_trg.spy();
RESET ROLE;
ALTER EXTENSION qxt_portability UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'qxt_portability';
SELECT count(*) AS trigger_ran FROM upg_trg.fired;
SELECT has_table_privilege('qxt_regress_upg_trg', 'qxt_lookups', 'INSERT') AS still_granted;
-- Dropped, the update goes through.
DROP TRIGGER spy ON qxt_lookups;
ALTER EXTENSION qxt_portability UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'qxt_portability';
SELECT count(*) AS trigger_ran FROM upg_trg.fired;
\c contrib_regression
DROP DATABASE qxt_regress_upgrade_trg;
DROP ROLE qxt_regress_upg_trg;
SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
WHERE conrelid = 'qxt_lookups'::regclass
UNION ALL
SELECT 'default ' || a.attname, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = 'qxt_lookups'::regclass
ORDER BY 1;
DROP DATABASE qxt_regress_upgrade;
DROP ROLE qxt_regress_upg_writer;
DROP ROLE qxt_regress_upg_colwriter;
