-- qxt_portability 1.1: the SQL surface (a fresh install; 1.0 users get here by qxt_portability--1.0--1.1.sql).
\echo Use "CREATE EXTENSION qxt_portability" to load this file. \quit

-- One lookup's answer.  res: 0 not ported, 1 ported, 3 virtual operator.
-- mobile is the normalised 11-digit number, so
-- JOIN ... ON r.mobile = qxt_normalize_mobile(c.phone) works.
CREATE TYPE qxt_carrier_result AS (
    res      smallint,
    mobile   text,
    area     text,
    init_isp text,
    now_isp  text
);

CREATE FUNCTION qxt_normalize_mobile(mobile text)
RETURNS text
AS 'MODULE_PATHNAME', 'qxt_normalize_mobile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION qxt_normalize_mobile(text) IS
'The 11-digit form of a Chinese mobile number (+86, 0086, 86, spaces, dashes, dots accepted), or NULL. No network.';

CREATE FUNCTION qxt_carrier(mobile text)
RETURNS qxt_carrier_result
AS 'MODULE_PATHNAME', 'qxt_carrier'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION qxt_carrier(text) IS
'One paid portability lookup. Use it with LATERAL, not (qxt_carrier(x)).*.';

CREATE FUNCTION qxt_carrier_batch(mobiles text[])
RETURNS SETOF qxt_carrier_result
AS 'MODULE_PATHNAME', 'qxt_carrier_batch'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1000;

COMMENT ON FUNCTION qxt_carrier_batch(text[]) IS
'Paid portability lookups of many numbers: one row per array element, in array order; each distinct valid number is sent once.';

CREATE FUNCTION qxt_balance()
RETURNS TABLE (fee_type text, balance bigint)
AS 'MODULE_PATHNAME', 'qxt_balance'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1;

COMMENT ON FUNCTION qxt_balance() IS
'The vendor account''s fee type (prepaid or postpaid, in the vendor''s Chinese) and remaining lookups.';

-- Spending the balance is a privilege.
REVOKE EXECUTE ON FUNCTION qxt_carrier(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION qxt_carrier_batch(text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION qxt_balance() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Refresh jobs that keep what they paid for.
-- ---------------------------------------------------------------------------

-- Every answer paid for by qxt_refresh: mobile is the normalised number,
-- code the vendor's per-number code (0 = success; -4 = no information).
-- It is personal data: no access for PUBLIC (see the README for GRANTs).
CREATE TABLE qxt_lookups (
    mobile       text PRIMARY KEY CHECK (mobile ~ '^1[3-9][0-9]{9}$'),
    res          smallint,
    area         text,
    init_isp     text,
    now_isp      text,
    code         int NOT NULL DEFAULT 0,
    looked_up_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX qxt_lookups_looked_up_at ON qxt_lookups (looked_up_at);
COMMENT ON TABLE qxt_lookups IS
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
    state       pg_catalog.text NOT NULL CONSTRAINT qxt_refresh_runs_state_check CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'done', 'failed', 'cancelled', 'interrupted']::pg_catalog.text[])),
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
    message     pg_catalog.text                      -- why a run failed, was cancelled or interrupted
);

-- The runs with their progress.  A row still 'running' whose run holds no
-- lock any more (its session died) shows as 'interrupted', whoever looks:
-- pg_locks, unlike pg_stat_activity, shows every session to every role.
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

CREATE PROCEDURE @extschema@.qxt_refresh(source pg_catalog.text,
                                         max_age pg_catalog.interval DEFAULT '30 days')
AS 'MODULE_PATHNAME', 'qxt_refresh'
LANGUAGE C;

COMMENT ON PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval) IS
'Looks up the numbers of a query (one text column) not looked up within max_age, committing every batch window into qxt_lookups.';

SELECT pg_catalog.pg_extension_config_dump('qxt_lookups', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.qxt_refresh_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.qxt_refresh_runs_run_id_seq', '');

REVOKE ALL ON qxt_lookups, qxt_refresh_runs, qxt_refresh_progress FROM PUBLIC;
REVOKE ALL ON SEQUENCE qxt_refresh_runs_run_id_seq FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE @extschema@.qxt_refresh(pg_catalog.text, pg_catalog.interval) FROM PUBLIC;
