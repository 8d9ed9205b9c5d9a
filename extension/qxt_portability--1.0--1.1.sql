-- qxt_portability 1.0 -> 1.1 (ALTER EXTENSION qxt_portability UPDATE TO '1.1').
-- After it runs, the catalog equals that of a fresh 1.1 install
-- (qxt_portability--1.1.sql); a regression test compares the two.
\echo Use "ALTER EXTENSION qxt_portability UPDATE TO '1.1'" to load this file. \quit

-- The 1.1 scripts are pure ASCII, so that CREATE EXTENSION works in every
-- database encoding (the control file reads them as UTF8); lookups in an
-- encoding that cannot hold the vendor's Chinese answers are refused (22P05).
COMMENT ON FUNCTION @extschema@.qxt_balance() IS
'The vendor account''s fee type (prepaid or postpaid, in the vendor''s Chinese) and remaining lookups.';

-- qxt_refresh records every way a run ends: 'interrupted' joins the states,
-- and the progress view tells a live run from a dead one by the run's
-- advisory lock (pg_locks) instead of pg_stat_activity, which hides other
-- sessions from roles without pg_read_all_stats.  Built-ins are named in
-- pg_catalog.  The definitions equal those of qxt_portability--1.1.sql.
ALTER TABLE @extschema@.qxt_refresh_runs
  DROP CONSTRAINT qxt_refresh_runs_state_check,
  ADD CONSTRAINT qxt_refresh_runs_state_check CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'done', 'failed', 'cancelled', 'interrupted']::pg_catalog.text[]));

-- Same columns and types as in 1.0, so grants on the view are kept.
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
                        CASE WHEN r.to_look_up OPERATOR(pg_catalog.>) 0 THEN r.to_look_up END, 1) AS percent,
       r.total, r.fresh, r.invalid, r.failed, r.paid,
       pg_catalog.round(r.done OPERATOR(pg_catalog./)
                        CASE WHEN e.secs OPERATOR(pg_catalog.>) 0 THEN e.secs END) AS numbers_per_s,
       CASE WHEN r.state OPERATOR(pg_catalog.=) 'running' AND r.done OPERATOR(pg_catalog.>) 0
            THEN (r.to_look_up OPERATOR(pg_catalog.-) r.done)
                 OPERATOR(pg_catalog.*) (r.updated_at OPERATOR(pg_catalog.-) r.started_at)
                 OPERATOR(pg_catalog./) r.done END AS eta,
       r.started_at, r.updated_at, r.finished_at, r.source, r.message, r.pid, r.run_by
FROM @extschema@.qxt_refresh_runs r
CROSS JOIN LATERAL (
  SELECT EXTRACT(epoch FROM r.updated_at OPERATOR(pg_catalog.-) r.started_at) AS secs) e;

COMMENT ON PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval) IS
'Looks up the numbers of a query (one text column) not looked up within max_age, committing every batch window into qxt_lookups.';

-- ---------------------------------------------------------------------------
-- qxt_lookups: rows only the vendor can have sent, written only by its owner.
-- ---------------------------------------------------------------------------
-- The block fixes its own search_path (and restores the script's at the
-- end): this runs as a superuser while other roles may own objects in the
-- extension's schema.  Its messages are WARNINGs: PostgreSQL runs extension
-- scripts with client_min_messages and log_min_messages at least WARNING,
-- so a NOTICE would never be seen.
DO $qxt$
DECLARE
  script_path pg_catalog.text := pg_catalog.current_setting('search_path');
  n pg_catalog.int8;
  r record;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

  -- The DELETE below runs as the superuser doing the update: a trigger on
  -- these tables (a role holding TRIGGER under 1.0 may have made one) would
  -- run its function with the superuser's rights.  Refuse, as qxt_refresh
  -- does, before anything fires.
  IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
             WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY (ARRAY[
                     pg_catalog.to_regclass('@extschema@.qxt_lookups'),
                     pg_catalog.to_regclass('@extschema@.qxt_refresh_runs')]::pg_catalog.oid[])
               AND NOT t.tgisinternal) THEN
    RAISE EXCEPTION 'qxt_portability 1.1: qxt_lookups or qxt_refresh_runs has a user trigger'
      USING ERRCODE = '55000',
            DETAIL = 'The update deletes from qxt_lookups as the superuser running it; a trigger would run with its rights. Nothing was changed.',
            HINT = 'Drop the trigger(s) (SELECT tgname, tgrelid::regclass FROM pg_trigger WHERE NOT tgisinternal), then update again.';
  END IF;

  -- In 1.1 only qxt_refresh writes these tables, as their owner: no other
  -- role needs INSERT, UPDATE or TRIGGER (a cached answer is served to every
  -- caller as the vendor's).  Revoking the table privilege also revokes the
  -- column privileges; CASCADE also takes what a grantee granted on.
  FOR r IN
    SELECT DISTINCT c.oid::pg_catalog.regclass::pg_catalog.text AS tbl, a.grantee, a.privilege_type
    FROM pg_catalog.pg_class c
    CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
    WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY[
            pg_catalog.to_regclass('@extschema@.qxt_lookups'),
            pg_catalog.to_regclass('@extschema@.qxt_refresh_runs')]::pg_catalog.oid[])
      AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
      AND a.privilege_type OPERATOR(pg_catalog.=) ANY (ARRAY['INSERT', 'UPDATE', 'TRIGGER'])
    UNION
    SELECT DISTINCT c.oid::pg_catalog.regclass::pg_catalog.text, a.grantee, a.privilege_type
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_attribute att ON att.attrelid OPERATOR(pg_catalog.=) c.oid
    CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
    WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY[
            pg_catalog.to_regclass('@extschema@.qxt_lookups'),
            pg_catalog.to_regclass('@extschema@.qxt_refresh_runs')]::pg_catalog.oid[])
      AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
      AND a.privilege_type OPERATOR(pg_catalog.=) ANY (ARRAY['INSERT', 'UPDATE'])
    ORDER BY 1, 2, 3
  LOOP
    EXECUTE pg_catalog.format('REVOKE %s ON TABLE %s FROM %s CASCADE', r.privilege_type, r.tbl,
                              CASE WHEN r.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                   ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) END);
    RAISE WARNING 'qxt_portability 1.1: revoked % on % from %', r.privilege_type, r.tbl,
      CASE WHEN r.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
           ELSE pg_catalog.pg_get_userbyid(r.grantee)::pg_catalog.text END;
  END LOOP;

  -- Rows the vendor cannot have sent go before the constraints come.
  DELETE FROM @extschema@.qxt_lookups
  WHERE NOT (code OPERATOR(pg_catalog.=) ANY (ARRAY[0, -2, -3, -4])
             AND looked_up_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()
             AND (code OPERATOR(pg_catalog.=) 0
                  OR (res IS NULL AND area IS NULL AND init_isp IS NULL AND now_isp IS NULL)));
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n OPERATOR(pg_catalog.>) 0 THEN
    RAISE WARNING 'qxt_portability 1.1: deleted % row(s) of qxt_lookups that the vendor cannot have sent', n
      USING DETAIL = 'A code other than 0, -2, -3 or -4, a time in the future, or answer fields with a failure code.';
  END IF;

  PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$qxt$;

-- The same table as a fresh 1.1 install: expressions named through
-- pg_catalog (the 1.0 ones were resolved along the installer's search_path)
-- and the new constraints.
ALTER TABLE @extschema@.qxt_lookups
    ALTER COLUMN looked_up_at SET DEFAULT pg_catalog.now(),
    DROP CONSTRAINT qxt_lookups_mobile_check,
    ADD CONSTRAINT qxt_lookups_mobile_check
        CHECK (mobile OPERATOR(pg_catalog.~) '^1[3-9][0-9]{9}$'),
    ADD CONSTRAINT qxt_lookups_code_check
        CHECK (code OPERATOR(pg_catalog.=) ANY (ARRAY[0, -2, -3, -4])),
    ADD CONSTRAINT qxt_lookups_looked_up_at_check
        CHECK (looked_up_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()),
    ADD CONSTRAINT qxt_lookups_failure_fields_check
        CHECK (code OPERATOR(pg_catalog.=) 0
               OR (res IS NULL AND area IS NULL AND init_isp IS NULL AND now_isp IS NULL));

-- ---------------------------------------------------------------------------
-- A warning when roles that are not superusers may create objects in the
-- extension's schema (in PostgreSQL 15, public belongs to the database's
-- owner): such a role can add overloads of the extension's own functions
-- (e.g. qxt_carrier_batch(varchar[])) that a superuser's call with
-- differently-typed arguments would run instead.  The extension's own SQL
-- is not affected (it names everything through pg_catalog and its schema).
-- ---------------------------------------------------------------------------
DO $qxt$
DECLARE
  script_path pg_catalog.text := pg_catalog.current_setting('search_path');
  writers pg_catalog.text;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  SELECT pg_catalog.string_agg(DISTINCT w.name, ', ' ORDER BY w.name) INTO writers
  FROM (
    SELECT CASE WHEN c.who OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(r.rolname::pg_catalog.text) END AS name,
           c.who OPERATOR(pg_catalog.=) 0 OR NOT r.rolsuper AS untrusted
    FROM (
      SELECT CASE WHEN o.who OPERATOR(pg_catalog.=) 'pg_database_owner'::pg_catalog.regrole
                  THEN (SELECT d.datdba FROM pg_catalog.pg_database d
                        WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                  ELSE o.who END AS who
      FROM (
        SELECT n.nspowner AS who FROM pg_catalog.pg_namespace n
        WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
        UNION ALL
        SELECT a.grantee FROM pg_catalog.pg_namespace n
        CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
        WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
          AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
      ) o
    ) c
    LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.who
  ) w
  WHERE w.untrusted;
  IF writers IS NOT NULL THEN
    RAISE WARNING 'qxt_portability is installed in schema %, where % may create objects',
                  '@extschema@', writers
      USING DETAIL = 'Such a role can add overloads of the extension''s functions (for example '
                     'qxt_carrier_batch(varchar[])) that a superuser''s call with arguments of '
                     'another type would run instead, with the superuser''s rights.',
            HINT = 'If those roles are not trusted, ALTER SCHEMA @extschema@ OWNER TO a superuser; '
                   'and call the functions with arguments of their declared types (text, text[]).';
  END IF;
  PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$qxt$;
