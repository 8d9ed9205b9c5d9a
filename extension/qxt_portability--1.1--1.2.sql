-- qxt_portability 1.1 -> 1.2 (ALTER EXTENSION qxt_portability UPDATE TO '1.2').
-- After it runs, the catalog equals that of a fresh 1.2 install
-- (qxt_portability--1.2.sql); a regression test compares the two.
\echo Use "ALTER EXTENSION qxt_portability UPDATE TO '1.2'" to load this file. \quit

-- The same search_path rule as the fresh script (see its header): every
-- built-in is named through pg_catalog, the extension's objects through
-- @extschema@, and each DO block fixes its own path (and gives the
-- script's back at its end).

-- ---------------------------------------------------------------------------
-- qxt_estimate (issue 12: a dry run).
-- ---------------------------------------------------------------------------
-- What qxt_carrier_batch(the same array) would pay, paying nothing (1.2).
CREATE FUNCTION @extschema@.qxt_estimate(mobiles pg_catalog.text[])
RETURNS TABLE (rows pg_catalog.int8, invalid pg_catalog.int8, duplicates pg_catalog.int8,
               cached pg_catalog.int8, to_pay pg_catalog.int8, balance pg_catalog.int8)
AS 'MODULE_PATHNAME', 'qxt_estimate'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1;

COMMENT ON FUNCTION @extschema@.qxt_estimate(pg_catalog.text[]) IS
'What qxt_carrier_batch(the same array) would send now, sending nothing: rows, invalid (NULL or not a number), duplicates, cached (under qxt.cache_max_age), to_pay, and the balance (free /balance call).';

REVOKE EXECUTE ON FUNCTION @extschema@.qxt_estimate(pg_catalog.text[]) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- qxt_refresh(source, max_age, dry_run): a dry run records its run as
-- 'estimated'; the progress view shows no percent or rate for it.
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.qxt_refresh_runs
  DROP CONSTRAINT qxt_refresh_runs_state_check,
  ADD CONSTRAINT qxt_refresh_runs_state_check CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'done', 'failed', 'cancelled', 'interrupted', 'estimated']::pg_catalog.text[]));

-- Same columns and types as in 1.1, so grants on the view are kept.
CREATE OR REPLACE VIEW @extschema@.qxt_refresh_progress AS
SELECT r.run_id,
       CASE WHEN r.state OPERATOR(pg_catalog.=) 'running' AND NOT EXISTS (
                 SELECT FROM pg_catalog.pg_locks l
                 WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory'
                   AND l.database OPERATOR(pg_catalog.=) (
                         SELECT d.oid FROM pg_catalog.pg_database d
                         WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                   AND l.classid OPERATOR(pg_catalog.=) 1903719538::pg_catalog.oid
                   AND l.objid OPERATOR(pg_catalog.=) (r.run_id OPERATOR(pg_catalog.%) 4294967296)::pg_catalog.oid
                   AND l.objsubid OPERATOR(pg_catalog.=) 2
                   AND l.pid OPERATOR(pg_catalog.=) r.pid
                   AND l.granted)
            THEN 'interrupted' ELSE r.state END AS state,
       r.done, r.to_look_up,
       pg_catalog.round(100.0 OPERATOR(pg_catalog.*) r.done OPERATOR(pg_catalog./)
                        CASE WHEN r.to_look_up OPERATOR(pg_catalog.>) 0
                                  AND r.state OPERATOR(pg_catalog.<>) 'estimated' THEN r.to_look_up END, 1) AS percent,
       r.total, r.fresh, r.invalid, r.failed, r.paid,
       pg_catalog.round(r.done OPERATOR(pg_catalog./)
                        CASE WHEN e.secs OPERATOR(pg_catalog.>) 0
                                  AND r.state OPERATOR(pg_catalog.<>) 'estimated' THEN e.secs END) AS numbers_per_s,
       CASE WHEN r.state OPERATOR(pg_catalog.=) 'running' AND r.done OPERATOR(pg_catalog.>) 0
            THEN (r.to_look_up OPERATOR(pg_catalog.-) r.done)
                 OPERATOR(pg_catalog.*) (r.updated_at OPERATOR(pg_catalog.-) r.started_at)
                 OPERATOR(pg_catalog./) r.done END AS eta,
       r.started_at, r.updated_at, r.finished_at, r.source, r.message, r.pid, r.run_by
FROM @extschema@.qxt_refresh_runs r
CROSS JOIN LATERAL (
  SELECT EXTRACT(epoch FROM r.updated_at OPERATOR(pg_catalog.-) r.started_at) AS secs) e;

-- The procedure gains a third argument, so it is a new procedure: the old
-- one is dropped and the new one created, and every privilege a DBA granted
-- on the old one is granted again on the new one (the grants made by the
-- owner first, then those of grantees holding GRANT OPTION, as each of
-- them).  The old privileges are carried from the first block to the second
-- in a transaction-local setting.
DO $qxt$
DECLARE
  script_path pg_catalog.text := pg_catalog.current_setting('search_path');
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  PERFORM pg_catalog.set_config('qxt_upgrade.refresh_acl',
    COALESCE((SELECT p.proacl::pg_catalog.text FROM pg_catalog.pg_proc p
                         WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval)'::pg_catalog.regprocedure), ''),
    true);
  PERFORM pg_catalog.set_config('qxt_upgrade.refresh_owner',
    (SELECT p.proowner::pg_catalog.text FROM pg_catalog.pg_proc p
     WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval)'::pg_catalog.regprocedure),
    true);
  PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$qxt$;

DROP PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval);

CREATE PROCEDURE @extschema@.qxt_refresh(source pg_catalog.text,
                                         max_age pg_catalog.interval DEFAULT '30 days',
                                         dry_run pg_catalog.bool DEFAULT false)
AS 'MODULE_PATHNAME', 'qxt_refresh'
LANGUAGE C;

COMMENT ON PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval, pg_catalog.bool) IS
'Looks up the numbers of a query (one text column) not looked up within max_age, committing every batch window into qxt_lookups. dry_run => true only counts them (state estimated) and pays nothing.';

REVOKE EXECUTE ON PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval, pg_catalog.bool) FROM PUBLIC;

-- The grants again.  Grants made inside an extension script are recorded as
-- the extension's initial privileges (pg_init_privs), which pg_dump leaves
-- out of a dump: the block sets them back to those of a fresh install, so
-- that the carried-over grants are dumped as the DBA's own.
DO $qxt$
DECLARE
  script_path pg_catalog.text := pg_catalog.current_setting('search_path');
  script_role pg_catalog.text := pg_catalog.current_setting('role');
  proc pg_catalog.oid := '@extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval, pg_catalog.bool)'::pg_catalog.regprocedure;
  acl_text pg_catalog.text := pg_catalog.current_setting('qxt_upgrade.refresh_acl', true);
  owner_text pg_catalog.text := pg_catalog.current_setting('qxt_upgrade.refresh_owner', true);
  old_owner pg_catalog.oid;
  fresh_init pg_catalog.aclitem[];
  grantors pg_catalog.oid[];
  grantees pg_catalog.oid[];
  privs pg_catalog.text[];
  grantable pg_catalog.bool[];
  done pg_catalog.bool[];
  n pg_catalog.int4;
  pending pg_catalog.int4;
  progress pg_catalog.bool;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  IF COALESCE(acl_text, '') OPERATOR(pg_catalog.<>) '' THEN
    old_owner := owner_text::pg_catalog.oid;
    SELECT i.initprivs INTO fresh_init FROM pg_catalog.pg_init_privs i
    WHERE i.objoid OPERATOR(pg_catalog.=) proc
      AND i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND i.objsubid OPERATOR(pg_catalog.=) 0;
    SELECT pg_catalog.array_agg(a.grantor ORDER BY a.grantor, a.grantee, a.privilege_type),
           pg_catalog.array_agg(a.grantee ORDER BY a.grantor, a.grantee, a.privilege_type),
           pg_catalog.array_agg(a.privilege_type ORDER BY a.grantor, a.grantee, a.privilege_type),
           pg_catalog.array_agg(a.is_grantable ORDER BY a.grantor, a.grantee, a.privilege_type)
      INTO grantors, grantees, privs, grantable
    FROM pg_catalog.aclexplode(acl_text::pg_catalog.aclitem[]) a
    WHERE a.grantee OPERATOR(pg_catalog.<>) old_owner;
    n := COALESCE(pg_catalog.cardinality(grantors), 0);
    done := pg_catalog.array_fill(false, ARRAY[n]);
    -- Passes until every grant is made: a grantee's own grants need its
    -- GRANT OPTION, given in an earlier pass.
    LOOP
      progress := false;
      FOR k IN 1 .. n LOOP
        CONTINUE WHEN done[k];
        -- The owner's grants first; a grantee's, once it holds GRANT OPTION.
        CONTINUE WHEN grantors[k] OPERATOR(pg_catalog.<>) old_owner
          AND NOT pg_catalog.has_function_privilege(grantors[k], proc, 'EXECUTE WITH GRANT OPTION');
        IF grantors[k] OPERATOR(pg_catalog.<>) old_owner THEN
          PERFORM pg_catalog.set_config('role', pg_catalog.pg_get_userbyid(grantors[k])::pg_catalog.text, true);
        END IF;
        EXECUTE pg_catalog.format('GRANT %s ON PROCEDURE %s TO %s%s', privs[k],
                                  proc::pg_catalog.regprocedure::pg_catalog.text,
                                  CASE WHEN grantees[k] OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                       ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantees[k])::pg_catalog.text) END,
                                  CASE WHEN grantable[k] THEN ' WITH GRANT OPTION' ELSE '' END);
        PERFORM pg_catalog.set_config('role', script_role, true);
        done[k] := true;
        progress := true;
      END LOOP;
      EXIT WHEN NOT progress;
    END LOOP;
    SELECT pg_catalog.count(*) INTO pending FROM pg_catalog.unnest(done) d WHERE NOT d;
    IF pending OPERATOR(pg_catalog.>) 0 THEN
      RAISE WARNING 'qxt_portability 1.2: % grant(s) on qxt_refresh could not be carried over', pending
        USING HINT = 'Compare the privileges of qxt_refresh with the grants you gave, and grant them again.';
    END IF;
    UPDATE pg_catalog.pg_init_privs i SET initprivs = fresh_init
    WHERE i.objoid OPERATOR(pg_catalog.=) proc
      AND i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND i.objsubid OPERATOR(pg_catalog.=) 0;
  END IF;
  PERFORM pg_catalog.set_config('qxt_upgrade.refresh_acl', '', true);
  PERFORM pg_catalog.set_config('qxt_upgrade.refresh_owner', '', true);
  PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$qxt$;

-- ---------------------------------------------------------------------------
-- 1.2: usage statistics (qxt_stat, qxt_stat_errors, qxt_stat_reset).
-- Counted in shared memory, so only when the library is in
-- shared_preload_libraries; without it the backing functions raise 55000.
-- Readable by superusers and pg_read_all_stats (EXECUTE on the backing
-- functions and SELECT on the views; a view's functions run with the
-- reader's rights).  qxt_stat_reset() is for superusers and whoever they
-- grant EXECUTE to.  No column can hold the key.
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.qxt_stat_rows()
RETURNS TABLE(dbid pg_catalog.oid, userid pg_catalog.oid, endpoint pg_catalog.text,
              requests pg_catalog.int8, numbers_sent pg_catalog.int8,
              numbers_paid pg_catalog.int8, memo_hits pg_catalog.int8,
              cache_hits pg_catalog.int8, errors pg_catalog.int8, retries pg_catalog.int8,
              waits pg_catalog.int8, wait_ms pg_catalog.float8, p50_ms pg_catalog.float8,
              p95_ms pg_catalog.float8, p99_ms pg_catalog.float8)
AS 'MODULE_PATHNAME', 'qxt_stat_rows'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION @extschema@.qxt_stat_error_rows()
RETURNS TABLE(dbid pg_catalog.oid, userid pg_catalog.oid, sqlstate pg_catalog.text,
              count pg_catalog.int8)
AS 'MODULE_PATHNAME', 'qxt_stat_error_rows'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION @extschema@.qxt_stat_reset()
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'qxt_stat_reset'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.qxt_stat_rows() IS
'The rows behind the view qxt_stat (database and role as OIDs).';
COMMENT ON FUNCTION @extschema@.qxt_stat_error_rows() IS
'The rows behind the view qxt_stat_errors (database and role as OIDs).';
COMMENT ON FUNCTION @extschema@.qxt_stat_reset() IS
'Empties qxt_stat and qxt_stat_errors.';

-- LEFT JOINs: the rows of a dropped database or role stay, with a NULL name.
CREATE VIEW @extschema@.qxt_stat AS
SELECT d.datname, r.rolname, s.endpoint, s.requests, s.numbers_sent, s.numbers_paid,
       s.memo_hits, s.cache_hits, s.errors, s.retries, s.waits, s.wait_ms,
       s.p50_ms, s.p95_ms, s.p99_ms
FROM @extschema@.qxt_stat_rows() s
LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid
LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) s.userid;

CREATE VIEW @extschema@.qxt_stat_errors AS
SELECT d.datname, r.rolname, s.sqlstate, s.count
FROM @extschema@.qxt_stat_error_rows() s
LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid
LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) s.userid;

COMMENT ON VIEW @extschema@.qxt_stat IS
'Vendor requests per database, role (current_user) and endpoint since the last qxt_stat_reset(); needs shared_preload_libraries.';
COMMENT ON VIEW @extschema@.qxt_stat_errors IS
'Errors qxt_portability raised to SQL, per database, role and SQLSTATE; needs shared_preload_libraries.';

REVOKE ALL ON @extschema@.qxt_stat, @extschema@.qxt_stat_errors FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.qxt_stat_rows(), @extschema@.qxt_stat_error_rows(),
                           @extschema@.qxt_stat_reset() FROM PUBLIC;
GRANT SELECT ON @extschema@.qxt_stat, @extschema@.qxt_stat_errors TO pg_read_all_stats;
GRANT EXECUTE ON FUNCTION @extschema@.qxt_stat_rows(), @extschema@.qxt_stat_error_rows()
  TO pg_read_all_stats;
