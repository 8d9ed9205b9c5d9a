-- pgbench script for scripts/checks/load.sh (make check-load): a small
-- batch of 50 elements, 40 distinct valid numbers (the last 10 repeat the
-- first 10, written with +86, so deduplication and normalisation run), sent
-- as requests of qxt.batch_size (set to 20 for the load database: 2 requests
-- in flight at once on the pool).  Never a 0000 ending: no -4 rows.
-- (bigint: :base * 100 does not fit an integer.)
\set base random(130000000, 199999990)
SELECT count(res) AS answered, count(*) AS rows
FROM qxt_carrier_batch(ARRAY(
  SELECT CASE WHEN g <= 40 THEN ((:base::bigint + g) * 100 + 11 + g % 80)::text
              ELSE '+86' || ((:base::bigint + g - 40) * 100 + 11 + (g - 40) % 80)::text END
  FROM generate_series(1, 50) g));
