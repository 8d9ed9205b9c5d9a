-- qxt_portability 1.0 -> 1.1 (ALTER EXTENSION qxt_portability UPDATE TO '1.1').
-- After it runs, the catalog equals that of a fresh 1.1 install
-- (qxt_portability--1.1.sql); a regression test compares the two.
\echo Use "ALTER EXTENSION qxt_portability UPDATE TO '1.1'" to load this file. \quit

-- The 1.1 scripts are pure ASCII, so that CREATE EXTENSION works in every
-- database encoding (the control file reads them as UTF8); lookups in an
-- encoding that cannot hold the vendor's Chinese answers are refused (22P05).
COMMENT ON FUNCTION @extschema@.qxt_balance() IS
'The vendor account''s fee type (prepaid or postpaid, in the vendor''s Chinese) and remaining lookups.';
