-- The settings: defaults, bounds, who may change them, and their effect.
SELECT qxt_normalize_mobile('13972565391') IS NOT NULL AS library_loaded;
SELECT name, setting, unit, context, min_val, max_val
FROM pg_settings WHERE name LIKE 'qxt.%' AND name <> 'qxt.base_url' ORDER BY name;
SELECT boot_val FROM pg_settings WHERE name = 'qxt.base_url';

-- Bounds.
SELECT qxt_try($$SET qxt.batch_size = 0$$);
SELECT qxt_try($$SET qxt.batch_size = 1001$$);
SELECT qxt_try($$SET qxt.batch_concurrency = 17$$);
SELECT qxt_try($$SET qxt.max_retries = -1$$);
SELECT qxt_try($$SET qxt.timeout_ms = 50$$);
SET qxt.timeout_ms = '2s';
SHOW qxt.timeout_ms;
RESET qxt.timeout_ms;

-- The base URL must be an http(s) URL.
SELECT qxt_try($$SET qxt.base_url = 'ftp://example.invalid'$$);
SELECT qxt_try($$SET qxt.base_url = 'http://127.0.0.1:1/?x=1'$$);
-- The prefix is reserved: a misspelt setting is an error, not silently ignored.
SELECT qxt_try($$SET qxt.apikye = 'x'$$);

-- batch_concurrency: several requests in flight at once (the emulator
-- records the most it saw for the key).
SET qxt.apikey = 'regress_settings_000000000000001';
\! test/emulator/emuctl reset regress_settings_000000000000001
\! test/emulator/emuctl account regress_settings_000000000000001 --balance 100000
SET qxt.batch_size = 10;
SET qxt.batch_concurrency = 4;
SELECT qxt_fault('latency=200');
SELECT count(res) FROM qxt_carrier_batch(ARRAY(SELECT '1390000' || lpad(g::text, 4, '0') FROM generate_series(1, 80) g));
SELECT qxt_fault('');
\! test/emulator/emuctl stats regress_settings_000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("requests", s["requests"]["carrier_batch"], "max_in_flight", s["max_in_flight"])'
SET qxt.batch_concurrency = 1;
\! test/emulator/emuctl reset regress_settings_000000000000001
SELECT count(res) FROM qxt_carrier_batch(ARRAY(SELECT '1390000' || lpad(g::text, 4, '0') FROM generate_series(1, 30) g));
\! test/emulator/emuctl stats regress_settings_000000000000001 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("requests", s["requests"]["carrier_batch"], "max_in_flight", s["max_in_flight"])'
