-- Every SQL entry point of the extension, as a superuser calls it (the
-- search_path attack of test/attack/run.sh runs them in a database whose
-- owner has planted look-alikes of the built-ins, and in a clean one with
-- debug_print_parse on to see what our statements use).  A line
-- "-- entry: NAME" starts each entry; its statements run in one session,
-- each sent on its own, and all must succeed.  Add new entry points here.

-- entry: qxt_normalize_mobile
SELECT qxt_normalize_mobile('+86 139 7256 5391');
-- entry: qxt_carrier
SELECT * FROM qxt_carrier('13972565391');
-- entry: qxt_carrier_batch
SELECT * FROM qxt_carrier_batch(ARRAY['13972565391', '13972565397', 'junk', NULL, '13800000000']);
-- entry: qxt_balance
SELECT * FROM qxt_balance();
-- entry: qxt_estimate
SELECT * FROM qxt_estimate(ARRAY['13972565391', '+86 139 7256 5391', 'junk', NULL, '13800000000']);
-- entry: qxt_refresh
CALL qxt_refresh('SELECT phone FROM qxt_attack_numbers');
CALL qxt_refresh('SELECT phone FROM qxt_attack_numbers', interval '0');
-- entry: qxt_refresh dry run
CALL qxt_refresh('SELECT phone FROM qxt_attack_numbers', interval '0', dry_run => true);
-- entry: qxt_refresh_progress
-- (a run of its own, so the view has rows to compute even if qxt_refresh failed)
INSERT INTO qxt_refresh_runs (source, state, done, to_look_up) VALUES ('attack', 'running', 1, 2);
SELECT * FROM qxt_refresh_progress;
-- entry: qxt_carrier from the cache
-- (rows of its own, so the cache path reads rows even if qxt_refresh failed)
INSERT INTO qxt_lookups (mobile, res, area, init_isp, now_isp) VALUES ('13972565391', 0, 'a', 'b', 'c')
  ON CONFLICT (mobile) DO NOTHING;
INSERT INTO qxt_lookups (mobile, code) VALUES ('13800000000', -4) ON CONFLICT (mobile) DO NOTHING;
SET qxt.cache_max_age = '1h';
SELECT * FROM qxt_carrier('13972565391');
-- entry: qxt_carrier_batch from the cache
SET qxt.cache_max_age = '1h';
SELECT * FROM qxt_carrier_batch(ARRAY['13972565391', '13972565397', '13800000000', '17012345678']);
-- entry: qxt_estimate from the cache
SET qxt.cache_max_age = '1h';
SELECT * FROM qxt_estimate(ARRAY['13972565391', '13972565397', '13800000000', '17012345678']);
