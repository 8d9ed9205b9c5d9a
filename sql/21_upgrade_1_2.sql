-- 1.2 by ALTER EXTENSION ... UPDATE equals a fresh 1.2, whatever the way:
-- 1.0 -> 1.1 -> 1.2 and 1.1 -> 1.2.  The whole catalog of the extension's
-- objects is compared (test/upgrade/catalog.sql: every member in pg_depend,
-- with signatures, flags, settings, ACLs, initial privileges, comments,
-- columns, defaults, constraints, indexes, view definitions, config_dump);
-- only differences are printed, so the expected output is none, and the
-- number of objects compared is checked so that an empty comparison fails.
-- Grants a DBA gave on the 1.1 qxt_refresh(text, interval) are carried
-- over to the 1.2 qxt_refresh(text, interval, boolean), and pg_dump still
-- dumps them as the DBA's own.
DROP DATABASE IF EXISTS qxt_regress_fresh12;
DROP DATABASE IF EXISTS qxt_regress_from10;
DROP DATABASE IF EXISTS qxt_regress_from11;
CREATE DATABASE qxt_regress_fresh12;
CREATE DATABASE qxt_regress_from10;
CREATE DATABASE qxt_regress_from11;
CREATE ROLE qxt_regress_upg12_caller;
CREATE ROLE qxt_regress_upg12_lead;
CREATE ROLE qxt_regress_upg12_deputy;

-- The reference: a fresh install of the default version.
\c qxt_regress_fresh12
CREATE EXTENSION qxt_portability;
SELECT extversion FROM pg_extension WHERE extname = 'qxt_portability';
\set ECHO none
\i test/upgrade/catalog.sql
SELECT json_agg(json_build_array(object, property, value))::text AS fresh_catalog,
       count(*) FILTER (WHERE property = 'member') AS fresh_members
FROM pg_temp.qxt_regress_catalog() \gset
\set ECHO all
SELECT :fresh_members >= 11 AS enough_objects_compared;

-- 1.0 -> 1.2 (through 1.1), as a DBA updates.
\c qxt_regress_from10
CREATE EXTENSION qxt_portability VERSION '1.0';
ALTER EXTENSION qxt_portability UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'qxt_portability';
\set ECHO none
\i test/upgrade/catalog.sql
\set ECHO all
WITH f AS (SELECT e->>0 AS object, e->>1 AS property, e->>2 AS value
           FROM json_array_elements(:'fresh_catalog'::json) e),
     u AS (SELECT * FROM pg_temp.qxt_regress_catalog())
SELECT coalesce(f.object, u.object) AS object, coalesce(f.property, u.property) AS property,
       f.value AS fresh, u.value AS upgraded
FROM f FULL JOIN u ON f.object = u.object AND f.property = u.property
WHERE f.value IS DISTINCT FROM u.value
ORDER BY 1, 2;
SELECT count(*) FILTER (WHERE property = 'member') = :fresh_members AS same_objects,
       count(*) FILTER (WHERE property = 'member') >= 11 AS enough_objects_compared
FROM pg_temp.qxt_regress_catalog();

-- 1.1 -> 1.2, with grants on the old procedure: one from the owner, one
-- WITH GRANT OPTION, and one made by that grantee.
\c qxt_regress_from11
CREATE EXTENSION qxt_portability VERSION '1.1';
GRANT EXECUTE ON PROCEDURE qxt_refresh(text, interval) TO qxt_regress_upg12_caller;
GRANT EXECUTE ON PROCEDURE qxt_refresh(text, interval) TO qxt_regress_upg12_lead WITH GRANT OPTION;
SET ROLE qxt_regress_upg12_lead;
GRANT EXECUTE ON PROCEDURE qxt_refresh(text, interval) TO qxt_regress_upg12_deputy;
RESET ROLE;
SELECT a.grantor::regrole, a.grantee::regrole, a.privilege_type, a.is_grantable
FROM pg_proc p, aclexplode(p.proacl) a WHERE p.proname = 'qxt_refresh' ORDER BY 2;
ALTER EXTENSION qxt_portability UPDATE TO '1.2';
SELECT p.oid::regprocedure AS procedure, a.grantor::regrole, a.grantee::regrole, a.privilege_type, a.is_grantable
FROM pg_proc p, aclexplode(p.proacl) a WHERE p.proname = 'qxt_refresh' ORDER BY 3;
SELECT has_function_privilege('qxt_regress_upg12_deputy', 'qxt_refresh(text, interval, boolean)', 'EXECUTE') AS deputy_can_call,
       has_function_privilege('public', 'qxt_refresh(text, interval, boolean)', 'EXECUTE') AS public_can_call;
-- The carried-over grants are not recorded as the extension's initial
-- privileges, so pg_dump dumps them (a restore gets them back).
SELECT i.initprivs FROM pg_init_privs i WHERE i.objoid = 'qxt_refresh(text, interval, boolean)'::regprocedure;
\! pg_dump --schema-only qxt_regress_from11 | grep -E '^GRANT .*qxt_refresh' | sort
-- Without the grants, the catalog equals a fresh install's.
REVOKE EXECUTE ON PROCEDURE qxt_refresh(text, interval, boolean) FROM qxt_regress_upg12_lead CASCADE;
REVOKE EXECUTE ON PROCEDURE qxt_refresh(text, interval, boolean) FROM qxt_regress_upg12_caller;
\set ECHO none
\i test/upgrade/catalog.sql
\set ECHO all
WITH f AS (SELECT e->>0 AS object, e->>1 AS property, e->>2 AS value
           FROM json_array_elements(:'fresh_catalog'::json) e),
     u AS (SELECT * FROM pg_temp.qxt_regress_catalog())
SELECT coalesce(f.object, u.object) AS object, coalesce(f.property, u.property) AS property,
       f.value AS fresh, u.value AS upgraded
FROM f FULL JOIN u ON f.object = u.object AND f.property = u.property
WHERE f.value IS DISTINCT FROM u.value
ORDER BY 1, 2;
SELECT count(*) FILTER (WHERE property = 'member') = :fresh_members AS same_objects
FROM pg_temp.qxt_regress_catalog();

\c contrib_regression
DROP DATABASE qxt_regress_fresh12;
DROP DATABASE qxt_regress_from10;
DROP DATABASE qxt_regress_from11;
DROP ROLE qxt_regress_upg12_caller;
DROP ROLE qxt_regress_upg12_lead;
DROP ROLE qxt_regress_upg12_deputy;
