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
\c contrib_regression
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
