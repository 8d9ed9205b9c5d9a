-- qxt_portability 1.1 -> 1.2 (ALTER EXTENSION qxt_portability UPDATE TO '1.2').
-- After it runs, the catalog equals that of a fresh 1.2 install
-- (qxt_portability--1.2.sql); a regression test compares the two.
\echo Use "ALTER EXTENSION qxt_portability UPDATE TO '1.2'" to load this file. \quit
