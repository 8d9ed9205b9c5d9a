-- qxt_portability 1.1 -> 1.2 (ALTER EXTENSION qxt_portability UPDATE TO '1.2').
-- After it runs, the catalog equals that of a fresh 1.2 install
-- (qxt_portability--1.2.sql); a regression test compares the two.
\echo Use "ALTER EXTENSION qxt_portability UPDATE TO '1.2'" to load this file. \quit

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
