-- Transport failures and malformed answers: each maps to its SQLSTATE, and
-- the session keeps working.  Whether a failure is sent again follows what
-- it may have cost: the paid endpoints (/carrier, /carrier_batch) only when
-- nothing can have reached the vendor or the vendor refused explicitly
-- (HTTP 429/503, code -8); /balance is free and also retried when an answer
-- was lost or on other 5xx.  Each case resets the key's counters and shows
-- what the emulator received (emuctl sent): that is what was paid for.
SET qxt.apikey = 'regress_faults_00000000000000001';
\! test/emulator/emuctl reset regress_faults_00000000000000001
\! test/emulator/emuctl account regress_faults_00000000000000001 --balance 100000
\pset format unaligned
-- A failure shown the way a user sees it, libcurl's own words masked.
CREATE FUNCTION qxt_try_fault_masked(spec text, q text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(qxt_try_fault(spec, q), 'libcurl: [^(]*\(', 'libcurl: ... (')
$$;

-- HTTP 503 and 429 are refusals that charge nothing: retried, on every
-- endpoint (qxt.max_retries, default 2, further attempts).
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http503*1', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http429*1', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http503*1', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http429*1', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http429*1', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http503', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- Other 5xx may come after the vendor charged: final on the paid endpoints,
-- retried on /balance.
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http500', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http502*1', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http502*2', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http500', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- Vendor -8 is an explicit refusal: retried everywhere.
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8*1', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8*1', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8*1', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- qxt.max_retries = 0: one attempt only, on every endpoint (each case meets
-- a real -8: the key's fault counts start over at each reset).
SET qxt.max_retries = 0;
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8*1', $$SELECT qxt_carrier('13972565397')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8*1', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565397'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8*1', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- qxt.max_retries = 1: two attempts, then QX008 (a batch whose -8 persists).
SET qxt.max_retries = 1;
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('minus8', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565397'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
RESET qxt.max_retries;
-- Not retried: a refusal of the request itself.
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('code=1', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- HTTP 4xx: sending again cannot fix it; QX102, one request, on every
-- endpoint (/balance too, though it is free).
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http400', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http403', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('http404', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001

-- Answers that are not the documented JSON: QX103, never a wrong row, not
-- retried (the vendor answered; it may have charged).
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('html', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('empty', $$SELECT qxt_carrier('13972565391')$$);
SELECT qxt_try_fault('notjson', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
SELECT qxt_try_fault('wrongshape', $$SELECT * FROM qxt_balance()$$);
SELECT qxt_try_fault('wrongshape', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- Larger than the response cap: QX104, not retried (one request each, on
-- the free /balance too).
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('huge', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_state_fault('huge', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
SELECT qxt_state_fault('huge', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001

-- An answer lost after the request was sent (closed unanswered, truncated,
-- cut mid-chunk): 08006 on the paid endpoints, not sent again, saying the
-- vendor may have charged it; /balance is retried.
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault_masked('close', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault_masked('truncated', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391','13972565397'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_state_fault('closemid', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault_masked('closemid', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('close*1', $$SELECT * FROM qxt_balance()$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
-- Nobody listening: 08001, nothing was sent (retried; the attempts are
-- counted by the unit tests, nothing here can count them).
SELECT set_config('qxt.base_url', 'http://127.0.0.1:1', false) IS NOT NULL AS pointed_at_closed_port;
SELECT qxt_try_fault_masked('', $$SELECT qxt_carrier('13972565391')$$);
RESET qxt.base_url;
-- A vendor that never answers, or drips: QX101 after qxt.timeout_ms, never
-- retried (on a reused kept-alive connection too: see the unit tests).
SET qxt.timeout_ms = 300;
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('hang', $$SELECT qxt_carrier('13972565391')$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
SELECT qxt_try_fault('hang', $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565391'])$$);
\! test/emulator/emuctl sent regress_faults_00000000000000001
\! test/emulator/emuctl reset regress_faults_00000000000000001
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
-- the wrong number: QX105 and no rows (the elements whose Mobile names a
-- number asked are still kept by the core, for qxt_refresh).
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
