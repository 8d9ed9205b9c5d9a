-- qxt_portability 1.2: the SQL surface (a fresh install; 1.0 and 1.1 users get here by the upgrade scripts, 1.0 -> 1.1 -> 1.2).
\echo Use "CREATE EXTENSION qxt_portability" to load this file. \quit

-- search_path safety: this script runs with the caller's rights (a
-- superuser) while the target schema, which other roles may create objects
-- in (PostgreSQL 15: public belongs to the database owner), is on the path.
-- So every built-in function, operator and type in an expression that is
-- stored or run (defaults, CHECK constraints, views) is named through
-- pg_catalog (OPERATOR(pg_catalog.x) for operators), the extension's own
-- objects through @extschema@, and any SQL or PL/pgSQL function carries
-- SET search_path = pg_catalog, pg_temp.

-- One lookup's answer.  res: 0 not ported, 1 ported, 3 virtual operator.
-- mobile is the normalised 11-digit number, so
-- JOIN ... ON r.mobile = qxt_normalize_mobile(c.phone) works.
CREATE TYPE @extschema@.qxt_carrier_result AS (
    res      smallint,
    mobile   text,
    area     text,
    init_isp text,
    now_isp  text
);

CREATE FUNCTION @extschema@.qxt_normalize_mobile(mobile pg_catalog.text)
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'qxt_normalize_mobile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.qxt_normalize_mobile(pg_catalog.text) IS
'The 11-digit form of a Chinese mobile number (+86, 0086, 86, spaces, dashes, dots accepted), or NULL. No network.';

CREATE FUNCTION @extschema@.qxt_carrier(mobile pg_catalog.text)
RETURNS @extschema@.qxt_carrier_result
AS 'MODULE_PATHNAME', 'qxt_carrier'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.qxt_carrier(pg_catalog.text) IS
'One paid portability lookup. Use it with LATERAL, not (qxt_carrier(x)).*.';

CREATE FUNCTION @extschema@.qxt_carrier_batch(mobiles pg_catalog.text[])
RETURNS SETOF @extschema@.qxt_carrier_result
AS 'MODULE_PATHNAME', 'qxt_carrier_batch'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1000;

COMMENT ON FUNCTION @extschema@.qxt_carrier_batch(pg_catalog.text[]) IS
'Paid portability lookups of many numbers: one row per array element, in array order; each distinct valid number is sent once.';

CREATE FUNCTION @extschema@.qxt_balance()
RETURNS TABLE (fee_type pg_catalog.text, balance pg_catalog.int8)
AS 'MODULE_PATHNAME', 'qxt_balance'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1;

COMMENT ON FUNCTION @extschema@.qxt_balance() IS
'The vendor account''s fee type (prepaid or postpaid, in the vendor''s Chinese) and remaining lookups.';

-- What qxt_carrier_batch(the same array) would pay, paying nothing (1.2).
CREATE FUNCTION @extschema@.qxt_estimate(mobiles pg_catalog.text[])
RETURNS TABLE (rows pg_catalog.int8, invalid pg_catalog.int8, duplicates pg_catalog.int8,
               cached pg_catalog.int8, to_pay pg_catalog.int8, balance pg_catalog.int8)
AS 'MODULE_PATHNAME', 'qxt_estimate'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1;

COMMENT ON FUNCTION @extschema@.qxt_estimate(pg_catalog.text[]) IS
'What qxt_carrier_batch(the same array) would send now, sending nothing: rows, invalid (NULL or not a number), duplicates, cached (under qxt.cache_max_age), to_pay, and the balance (free /balance call).';

-- Spending the balance is a privilege (and so is seeing it).
REVOKE EXECUTE ON FUNCTION @extschema@.qxt_carrier(pg_catalog.text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.qxt_carrier_batch(pg_catalog.text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.qxt_balance() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.qxt_estimate(pg_catalog.text[]) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Refresh jobs that keep what they paid for.
-- ---------------------------------------------------------------------------

-- Every answer paid for by qxt_refresh: mobile is the normalised number,
-- code the vendor's per-number code (0 = success; -4 = no information).
-- It is personal data: no access for PUBLIC (see the README for GRANTs).
-- Only qxt_refresh writes it, as the table's owner; the lookup functions
-- read it when qxt.cache_max_age is set.  It refuses rows the vendor cannot
-- have sent: a code other than the per-number ones qxt_refresh stores (0,
-- -2, -3, -4), a time in the future ('infinity' included), and a failure
-- with answer fields.  looked_up_at is checked against clock_timestamp(),
-- the time of writing: qxt_refresh stamps each answer with the time it
-- arrived, which is later than now() (its transaction's start).
CREATE TABLE @extschema@.qxt_lookups (
    mobile       pg_catalog.text PRIMARY KEY,
    res          pg_catalog.int2,
    area         pg_catalog.text,
    init_isp     pg_catalog.text,
    now_isp      pg_catalog.text,
    code         pg_catalog.int4 NOT NULL DEFAULT 0,
    looked_up_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT qxt_lookups_mobile_check
        CHECK (mobile OPERATOR(pg_catalog.~) '^1[3-9][0-9]{9}$'),
    CONSTRAINT qxt_lookups_code_check
        CHECK (code OPERATOR(pg_catalog.=) ANY (ARRAY[0, -2, -3, -4])),
    CONSTRAINT qxt_lookups_looked_up_at_check
        CHECK (looked_up_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()),
    CONSTRAINT qxt_lookups_failure_fields_check
        CHECK (code OPERATOR(pg_catalog.=) 0
               OR (res IS NULL AND area IS NULL AND init_isp IS NULL AND now_isp IS NULL))
);
CREATE INDEX qxt_lookups_looked_up_at ON @extschema@.qxt_lookups (looked_up_at);
COMMENT ON TABLE @extschema@.qxt_lookups IS
'Answers paid for by qxt_refresh (and read by the functions when qxt.cache_max_age is set).';

-- One row per qxt_refresh run, committed with every batch window, so another
-- session can watch it (qxt_refresh_progress).  Only qxt_refresh writes it,
-- as the table's owner; run_by is the role that called it.  A run holds a
-- session-level advisory lock (int4 pair 1903719538, run_id mod 2^32) while
-- it runs, which the view reads from pg_locks to tell a live run from one
-- whose session died.
CREATE TABLE @extschema@.qxt_refresh_runs (
    run_id      bigserial PRIMARY KEY,
    source      pg_catalog.text NOT NULL,
    state       pg_catalog.text NOT NULL CONSTRAINT qxt_refresh_runs_state_check CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'done', 'failed', 'cancelled', 'interrupted', 'estimated']::pg_catalog.text[])),
    pid         pg_catalog.int4 NOT NULL DEFAULT pg_catalog.pg_backend_pid(),
    run_by      pg_catalog.name NOT NULL DEFAULT current_user,
    started_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at pg_catalog.timestamptz,
    total       pg_catalog.int8 NOT NULL DEFAULT 0,  -- rows the source returned
    invalid     pg_catalog.int8 NOT NULL DEFAULT 0,  -- NULL or not a number: never sent
    fresh       pg_catalog.int8 NOT NULL DEFAULT 0,  -- skipped: younger than max_age
    to_look_up  pg_catalog.int8 NOT NULL DEFAULT 0,  -- distinct numbers to look up
    done        pg_catalog.int8 NOT NULL DEFAULT 0,  -- looked up so far
    failed      pg_catalog.int8 NOT NULL DEFAULT 0,  -- answered with a per-number failure
    paid        pg_catalog.int8 NOT NULL DEFAULT 0,  -- answered with success (charged)
    message     pg_catalog.text                      -- why a run failed, was cancelled or interrupted; a dry run's estimate
);

-- The runs with their progress.  A row still 'running' whose run holds no
-- lock any more (its session died) shows as 'interrupted', whoever looks:
-- pg_locks, unlike pg_stat_activity, shows every session to every role.
-- A dry run ('estimated') looked nothing up: no percent, no rate.
-- Built-ins are named in pg_catalog (see the README's Security section).
CREATE VIEW @extschema@.qxt_refresh_progress AS
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

CREATE PROCEDURE @extschema@.qxt_refresh(source pg_catalog.text,
                                         max_age pg_catalog.interval DEFAULT '30 days',
                                         dry_run pg_catalog.bool DEFAULT false)
AS 'MODULE_PATHNAME', 'qxt_refresh'
LANGUAGE C;

COMMENT ON PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval, pg_catalog.bool) IS
'Looks up the numbers of a query (one text column) not looked up within max_age, committing every batch window into qxt_lookups. dry_run => true only counts them (state estimated) and pays nothing.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.qxt_lookups', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.qxt_refresh_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.qxt_refresh_runs_run_id_seq', '');

REVOKE ALL ON @extschema@.qxt_lookups, @extschema@.qxt_refresh_runs, @extschema@.qxt_refresh_progress FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.qxt_refresh_runs_run_id_seq FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval, pg_catalog.bool) FROM PUBLIC;

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
