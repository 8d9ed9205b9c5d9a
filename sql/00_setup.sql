-- Setup shared by the regression tests: the extension, the emulator's URL
-- for this database, and a helper that shows an error as a user sees it.
CREATE EXTENSION qxt_portability;

-- The objects the extension creates, with their exact signatures and flags.
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
       pg_get_function_result(p.oid) AS result,
       p.provolatile, p.proisstrict, p.proparallel, p.proretset
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'qxt_portability'
ORDER BY 1;
SELECT attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute WHERE attrelid = 'qxt_carrier_result'::regclass AND attnum > 0
ORDER BY attnum;
-- EXECUTE on the paid functions is revoked from PUBLIC.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
FROM pg_proc p WHERE p.proname LIKE 'qxt\_%' ORDER BY 1;

-- Load the library (any call does), then point every later session of this
-- database at the emulator.  Role/database settings are fine for the URL;
-- only the key is refused there (see security.sql).
SELECT qxt_normalize_mobile('13972565391');
\getenv emu_url QXT_EMU_URL
SELECT :'emu_url' ~ '^http://127\.0\.0\.1:[0-9]+$' AS emulator_is_local;
\set ECHO none
SELECT format('ALTER DATABASE %I SET qxt.base_url = %L', current_database(), :'emu_url') \gexec
\set ECHO all

-- Every vendor key the tests use (test/security/regress_keys.sh lists the
-- 32-character literals of sql/*.sql).  The server never shows a key back
-- (SHOW qxt.apikey prints a mask), so this is how the tests recognise one.
CREATE TABLE qxt_regress_keys (key text PRIMARY KEY);
\copy qxt_regress_keys FROM PROGRAM 'sh test/security/regress_keys.sh'
SELECT count(*) >= 20 AS keys_known FROM qxt_regress_keys;
GRANT SELECT ON qxt_regress_keys TO PUBLIC;
-- qxt_regress_has_key(text): true when the text holds one of those keys.
CREATE FUNCTION qxt_regress_has_key(t text) RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT EXISTS (SELECT FROM qxt_regress_keys k WHERE position(k.key IN coalesce(t, '')) > 0) $$;

-- qxt_try(sql): runs a statement and shows its error the way a user sees
-- it (SQLSTATE, message, DETAIL, HINT), with the emulator's port and
-- curl's timings masked.  It also proves that no error text contains a
-- vendor key.
CREATE FUNCTION qxt_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; det text; hnt text; out text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                          det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  IF qxt_regress_has_key(concat(msg, det, hnt)) THEN
    RETURN 'THE APIKEY LEAKED INTO AN ERROR';
  END IF;
  out := st || ': ' || msg;
  IF coalesce(det, '') <> '' THEN
    out := out || E'\n  DETAIL: ' || regexp_replace(regexp_replace(regexp_replace(det,
             '127\.0\.0\.1(:| port )[0-9]+', '127.0.0.1\1PORT', 'g'),
             '(after|timed out after|Timeout was reached after|with) [0-9]+ (ms|milliseconds|out of [0-9-]+ bytes received|bytes)', '\1 N \2', 'g'),
             -- libcurl words a connect timeout two ways, by when the timer
             -- fires: shown here in its shorter wording.
             'Failed to connect to 127\.0\.0\.1 port PORT after N ms: Timeout was reached', 'Connection timeout after N ms', 'g');
  END IF;
  IF coalesce(hnt, '') <> '' THEN
    out := out || E'\n  HINT: ' || hnt;
  END IF;
  RETURN out;
END $$;

-- qxt_state(sql): only the SQLSTATE (for errors whose DETAIL is libcurl's
-- own wording).
CREATE FUNCTION qxt_state(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
  RETURN st || ': ' || msg;
END $$;

-- A role without privileges, for the permission tests.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qxt_regress_analyst') THEN
    CREATE ROLE qxt_regress_analyst LOGIN;
  END IF;
END $$;

-- qxt_fault(spec): points this session at one of the emulator's fault
-- scenarios (see test/emulator/README.md); '' goes back to normal.
CREATE FUNCTION qxt_fault(spec text) RETURNS text LANGUAGE sql AS $$
  SELECT set_config('qxt.base_url',
                    regexp_replace(current_setting('qxt.base_url'), '/_fault/.*$', '')
                    || CASE WHEN spec = '' THEN '' ELSE '/_fault/' || spec END, false);
  SELECT 'fault: ' || CASE WHEN spec = '' THEN 'none' ELSE spec END;
$$;

-- qxt_try_fault(spec, sql): qxt_try under a fault scenario, then back to normal.
CREATE FUNCTION qxt_try_fault(spec text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE out text;
BEGIN
  PERFORM qxt_fault(spec);
  out := qxt_try(q);
  PERFORM qxt_fault('');
  RETURN out;
END $$;

-- qxt_state_fault(spec, sql): qxt_state under a fault scenario.
CREATE FUNCTION qxt_state_fault(spec text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE out text;
BEGIN
  PERFORM qxt_fault(spec);
  out := qxt_state(q);
  PERFORM qxt_fault('');
  RETURN out;
END $$;
