-- The preload suite's setup (both clusters): the extension, the emulator's
-- URL, roles that read statistics, and the key in a file (the recommended
-- setup; no LOAD needed: the library is loaded at server start).
CREATE EXTENSION qxt_portability;
CREATE EXTENSION pg_stat_statements;
\getenv emu_url QXT_EMU_URL
\set ECHO none
SELECT format('ALTER DATABASE %I SET qxt.base_url = %L', current_database(), :'emu_url') \gexec
\set ECHO all
CREATE ROLE qxt_preload_stats IN ROLE pg_read_all_stats;
CREATE ROLE qxt_preload_monitor LOGIN PASSWORD 'preload-only' IN ROLE pg_monitor;
-- The keys these tests use, to recognise one wherever it might show up.
CREATE TABLE preload_keys (key text PRIMARY KEY);
INSERT INTO preload_keys VALUES ('preload_file_key_000000000000001'), ('preload_set_key_0000000000000001'),
  ('preload_conf_key_000000000000001');
GRANT SELECT ON preload_keys TO PUBLIC;
CREATE FUNCTION preload_has_key(t text) RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT EXISTS (SELECT FROM preload_keys k WHERE position(k.key IN coalesce(t, '')) > 0) $$;
GRANT EXECUTE ON FUNCTION preload_has_key(text) TO PUBLIC;
\! test/emulator/emuctl account preload_file_key_000000000000001 --balance 100
\! test/emulator/emuctl account preload_conf_key_000000000000001 --balance 100
-- the key file, written by the server's OS user (umask 077: mode 0600)
COPY (SELECT 'preload_file_key_000000000000001') TO PROGRAM 'cat > qxt_preload.key';
ALTER SYSTEM SET qxt.apikey_file = 'qxt_preload.key';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c
SELECT fee_type, balance FROM qxt_balance();
