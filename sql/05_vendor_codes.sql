-- Every vendor code of the table, on every endpoint, maps to its SQLSTATE
-- (each endpoint asks its own number: this is one statement, and a number
-- answered once in a statement is not asked again)
-- with the vendor's code and reason in DETAIL and a HINT.
-- Here each code is the whole answer (code=N), on /carrier_batch too: a
-- refusal of the request, so even -2, -3 and -4 are raised there, naming no
-- number.  As elements of a batch answer they give NULL rows (03_batch).
SET qxt.apikey = 'regress_codes_000000000000000001';
\! test/emulator/emuctl reset regress_codes_000000000000000001
\! test/emulator/emuctl account regress_codes_000000000000000001 --balance 1000
SET qxt.max_retries = 0;
\pset format unaligned
SELECT c AS code, e AS endpoint, qxt_try_fault('code=' || c, q) AS error
FROM unnest(ARRAY[1, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, 42]) WITH ORDINALITY AS codes(c, o),
     (VALUES ('carrier', 1, $$SELECT qxt_carrier('13972565391')$$),
             ('carrier_batch', 2, $$SELECT * FROM qxt_carrier_batch(ARRAY['13972565392'])$$),
             ('balance', 3, $$SELECT * FROM qxt_balance()$$)) AS q(e, eo, q)
ORDER BY o, eo;
-- The 2020 edition used -9 for "IP address not authorised": told apart by its reason.
SELECT qxt_try_fault('code=-9,reason=ip%E5%9C%B0%E5%9D%80%E9%89%B4%E6%9D%83%E5%A4%B1%E8%B4%A5',
                     $$SELECT qxt_carrier('13972565391')$$);
\pset format aligned
-- None of it was charged.
\! test/emulator/emuctl sent regress_codes_000000000000000001
SELECT * FROM qxt_balance();
