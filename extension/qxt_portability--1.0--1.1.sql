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
