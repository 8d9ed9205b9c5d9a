-- Transport failures and malformed answers: each maps to its SQLSTATE,
-- transient ones are retried (and counted), and the session keeps working.
SET qxt.apikey = 'regress_faults_00000000000000001';
\! test/emulator/emuctl reset regress_faults_00000000000000001
\! test/emulator/emuctl account regress_faults_00000000000000001 --balance 100000
\pset format unaligned

-- Retried: HTTP 5xx/429 and vendor -8, max_retries (default 2) more times.
SELECT qxt_try_fault('http500', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
SELECT qxt_try_fault('http503*1', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('http502*2', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('http429*1', $$SELECT * FROM qxt_balance()$$);
SELECT qxt_try_fault('minus8*1', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('minus8*1', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
SELECT qxt_try_fault('minus8*1', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
SELECT qxt_try_fault('minus8', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- qxt.max_retries = 0: one attempt only.
SET qxt.max_retries = 0;
SELECT qxt_try_fault('minus8*1', $$SELECT qxt_carrier('13972565397')$$);
RESET qxt.max_retries;
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- Not retried: a client error status.
SELECT qxt_try_fault('code=1', $$SELECT * FROM qxt_balance()$$);

-- Answers that are not the documented JSON: QX103, never a wrong row.
SELECT qxt_try_fault('html', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('empty', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('notjson', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
SELECT qxt_try_fault('wrongshape', $$SELECT * FROM qxt_balance()$$);
SELECT qxt_try_fault('wrongshape', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
-- Larger than the response cap: QX104, not retried.
SELECT qxt_try_fault('huge', $$SELECT qxt_carrier('13972565391')$$);

-- Broken connections: 08006 after retries.
SELECT qxt_state_fault('truncated', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_state_fault('close', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_state_fault('closemid', $$SELECT * FROM qxt_balance()$$);
-- Nobody listening: 08001.
SELECT set_config('qxt.base_url', 'http://127.0.0.1:1', false) IS NOT NULL AS pointed_at_closed_port;
SELECT qxt_state($$SELECT qxt_carrier('13972565391')$$);
RESET qxt.base_url;
-- A vendor that never answers, or drips: QX101 after qxt.timeout_ms, not retried.
SET qxt.timeout_ms = 300;
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('hang', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('drip', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- Slow but within the limit: fine.
SET qxt.timeout_ms = 2000;
SELECT qxt_try_fault('latency=200', $$SELECT qxt_carrier('13972565391')$$);
RESET qxt.timeout_ms;

-- The vendor documents' own quirks do not break a lookup.
\pset format aligned
SELECT spec,
       qxt_try_fault(spec, $$SELECT qxt_carrier('13972565397')$$) AS single,
       qxt_try_fault(spec, $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565397','13972565391'])$$) AS batch,
       qxt_try_fault(spec, $$SELECT * FROM qxt_balance()$$) AS balance
FROM unnest(ARRAY['textjson', 'trailingcomma', 'doublebrace', 'resnumber', 'codestring',
                  'keycase', 'balancenumber']) AS spec;
SELECT qxt_fault('keycase');
SELECT * FROM qxt_carrier('13972565397');
SELECT * FROM qxt_carrier_batch(ARRAY['13972565397','13972565391']);
SELECT qxt_fault('doublebrace');
SELECT * FROM qxt_carrier('13972565397');
SELECT qxt_fault('trailingcomma');
SELECT * FROM qxt_balance();
SELECT qxt_fault('resnumber');
SELECT * FROM qxt_carrier('17012345678');

-- A batch answer that does not match the request is never attributed to
-- the wrong number: QX105 and no rows.
\pset format unaligned
SELECT qxt_try_fault('batchfew', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565397','13972565391'])$$);
SELECT qxt_try_fault('batchmany', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565397','13972565391'])$$);
SELECT qxt_try_fault('batchunrequested', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565397','13972565391'])$$);
\pset format aligned
-- A reordered answer is matched by its Mobile; one without Mobile by position.
SELECT qxt_fault('batchreorder');
SELECT * FROM qxt_carrier_batch(ARRAY['13972565397','13972565391','17012345678']);
SELECT qxt_fault('batchnomobile');
SELECT * FROM qxt_carrier_batch(ARRAY['13972565397','13972565391']);
SELECT qxt_fault('');

-- After all of it, the session works.
SELECT * FROM qxt_carrier('13972565391');
