-- A parallel worker never pays.  The paid functions are PARALLEL
-- RESTRICTED, so PostgreSQL runs them in the leader only; but a wrapper
-- that the user declares PARALLEL SAFE runs them in parallel workers, and
-- with the library preloaded a worker has the key.  Each worker has a
-- statement memo of its own, so one number asked by two workers of one
-- statement was paid twice (three times with the leader).  They refuse to
-- run in a worker (25000), before anything is sent.
\set SHOW_CONTEXT never
\! test/emulator/emuctl reset preload_file_key_000000000000001
\! test/emulator/emuctl account preload_file_key_000000000000001 --balance 100
CREATE FUNCTION par_now_isp(p text) RETURNS text LANGUAGE plpgsql PARALLEL SAFE
AS $$ BEGIN RETURN (qxt_carrier(p)).now_isp; END $$;
CREATE FUNCTION par_batch(p text) RETURNS bigint LANGUAGE plpgsql PARALLEL SAFE
AS $$ BEGIN RETURN (SELECT count(*) FROM qxt_carrier_batch(ARRAY[p])); END $$;
CREATE TABLE par_phones AS SELECT '13972565391'::text AS phone FROM generate_series(1, 100000);
ANALYZE par_phones;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT count(par_now_isp(phone)) FROM par_phones;
-- one number, 100000 rows, two workers: refused, nothing sent
SELECT count(par_now_isp(phone)) FROM par_phones;
SELECT count(par_batch(phone)) FROM par_phones;
\! test/emulator/emuctl sent preload_file_key_000000000000001
-- the whole query in one worker
SET force_parallel_mode = regress;
SELECT par_now_isp('13972565397');
SELECT par_batch('13972565397');
RESET force_parallel_mode;
\! test/emulator/emuctl sent preload_file_key_000000000000001
-- in the leader (the functions themselves, PARALLEL RESTRICTED): paid once
SELECT count((qxt_carrier(phone)).now_isp) FROM par_phones;
\! test/emulator/emuctl sent preload_file_key_000000000000001
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
DROP TABLE par_phones;
DROP FUNCTION par_now_isp(text), par_batch(text);
