-- qxt_portability demo (run by scripts/demo.sh against the vendor emulator).
\set QUIET on
\pset format aligned
\pset null '∅'
\set VERBOSITY default
\set QUIET off
\set ECHO all

-- 1. Install the extension and point it at the vendor.
CREATE EXTENSION qxt_portability;

-- The URL and key are superuser-only settings.  SET lasts for this session;
-- for a real deployment put the key in a file only the server can read and
-- name it in qxt.apikey_file (see Security in the README).  The key itself
-- is refused in ALTER SYSTEM, ALTER ROLE/DATABASE and function settings.
\getenv emu_url QXT_EMU_URL
SET qxt.base_url = :'emu_url';
SET qxt.apikey = '0123456789abcdef0123456789abcdef';

-- 2. The account: fee type and remaining lookups.
SELECT * FROM qxt_balance();

-- 3. One number, any common format.  res: 0 not ported, 1 ported,
--    3 virtual operator.
\timing on
SELECT * FROM qxt_carrier('139 7256 5391');
\timing off

-- A number that cannot be a Chinese mobile number is a readable error
-- (nothing is sent, nothing is charged).
\set ON_ERROR_STOP 0
SELECT * FROM qxt_carrier('not a phone');
\set ON_ERROR_STOP 1

-- No network at all: the 11-digit form, or NULL.
SELECT qxt_normalize_mobile('+86 139 7256 5391') AS plus86,
       qxt_normalize_mobile('0086-13972565397')  AS zero086,
       qxt_normalize_mobile('not a phone')       AS junk;

-- 4. A customer table with numbers as people type them.
CREATE TABLE customers (
    id    int PRIMARY KEY,
    name  text NOT NULL,
    phone text
);
INSERT INTO customers (id, name, phone) VALUES
    ( 1, 'Wang Wei',    '+86 139 7256 5391'),
    ( 2, 'Li Na',       '0086-13972565397'),
    ( 3, 'Zhang Min',   '13800000000'),        -- unknown to the vendor
    ( 4, 'Liu Yang',    'not a phone'),
    ( 5, 'Chen Jie',    NULL),
    ( 6, 'Yang Fang',   '170 1234 5678'),      -- virtual operator
    ( 7, 'Zhao Lei',    '192 0000 1111'),      -- China Broadnet
    ( 8, 'Huang Li',    '133.5291.8995'),
    ( 9, 'Zhou Tao',    '137-9836-1236'),
    (10, 'Wu Xia',      '13163320753'),
    (11, 'Xu Qiang',    '+8613972565391'),     -- same number as Wang Wei
    (12, 'Sun Yu',      '86 186 1234 5678');

-- 5. Enrichment: ONE batch call for the whole table (one request, each
--    distinct valid number sent once).  The batch returns one row per array
--    element, in order, so WITH ORDINALITY lines the answers up with the ids.
\timing on
SELECT c.id, c.name, c.phone, r.res, r.mobile, r.area, r.init_isp, r.now_isp
FROM (SELECT array_agg(id ORDER BY id)    AS ids,
             array_agg(phone ORDER BY id) AS phones
      FROM customers) AS a
CROSS JOIN LATERAL qxt_carrier_batch(a.phones)
     WITH ORDINALITY AS r(res, mobile, area, init_isp, now_isp, n)
JOIN customers c ON c.id = a.ids[r.n]
ORDER BY c.id;
\timing off

-- For a handful of rows, LATERAL with the single lookup reads well (one
-- lookup per row; never write (qxt_carrier(phone)).*).
SELECT c.id, c.phone, r.now_isp
FROM customers c CROSS JOIN LATERAL qxt_carrier(c.phone) AS r
WHERE c.id IN (1, 2);

-- 6. A scheduled UPDATE job: store the current carrier and whether the
--    number was ported, again with one batch call.
ALTER TABLE customers ADD COLUMN carrier text, ADD COLUMN ported boolean;
\timing on
UPDATE customers c
SET carrier = r.now_isp,
    ported  = (r.res = 1)
FROM (SELECT array_agg(id ORDER BY id)    AS ids,
             array_agg(phone ORDER BY id) AS phones
      FROM customers) AS a
CROSS JOIN LATERAL qxt_carrier_batch(a.phones)
     WITH ORDINALITY AS r(res, mobile, area, init_isp, now_isp, n)
WHERE c.id = a.ids[r.n] AND r.res IS NOT NULL;
\timing off
SELECT * FROM customers ORDER BY id;

-- 7. A refresh job, as a nightly schedule would run it.  CALL qxt_refresh
--    looks the numbers of a query up one window at a time (qxt.batch_size
--    x qxt.batch_concurrency numbers), commits every window into
--    qxt_lookups, and reports its progress.  Small windows and a short
--    progress interval here, so that a few thousand numbers show it.
CREATE TABLE subscribers AS
SELECT i AS id,
       CASE WHEN i % 1000 = 0 THEN 'unknown'                 -- not a number
            ELSE '1397' || lpad((i % 2900)::text, 7, '0')     -- a few repeats
       END AS phone
FROM generate_series(1, 3000) AS i;
SET qxt.batch_size = 250;
SET qxt.batch_concurrency = 2;
SET qxt.progress_interval_ms = 400;
\timing on
CALL qxt_refresh('SELECT phone FROM subscribers');
\timing off

--    The run's row in qxt_refresh_progress: another session can watch it
--    while the job runs.
\x on
SELECT run_id, state, done, to_look_up, percent, total, fresh, invalid,
       failed, paid, numbers_per_s, source
FROM qxt_refresh_progress;
\x off

--    What was paid for, kept in qxt_lookups.
SELECT code, count(*) AS numbers, count(*) FILTER (WHERE res = 1) AS ported
FROM qxt_lookups GROUP BY code ORDER BY code;
SELECT mobile, res, area, init_isp, now_isp, code
FROM qxt_lookups ORDER BY mobile LIMIT 5;

--    The next night's run: every number was looked up less than max_age
--    ago (30 days by default), so nothing is paid for twice.
CALL qxt_refresh('SELECT phone FROM subscribers');

-- 8. What the tour cost.
SELECT * FROM qxt_balance();
