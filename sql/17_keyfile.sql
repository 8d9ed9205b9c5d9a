-- qxt.apikey_file: the key in a file of the server's OS user, mode 0600,
-- read when a key is needed and read again when it changes; every problem
-- is a clear F0000 that never shows the file's content.
LOAD 'qxt_portability';
\! test/emulator/emuctl account regress_keyfile_a000000000000001 --balance 100
\! test/emulator/emuctl account regress_keyfile_b000000000000001 --balance 100
\! test/emulator/emuctl reset regress_keyfile_a000000000000001
\! test/emulator/emuctl reset regress_keyfile_b000000000000001
-- Key files are written by the server's OS user (COPY TO PROGRAM runs in
-- the data directory with the server's umask, so: mode 0600), with ~ ^ |
-- standing for CR, TAB and LF; their modes and owners are changed from the
-- client (\!).  A relative qxt.apikey_file is relative to the data directory.
SELECT current_setting('data_directory') AS keydir \gset
\setenv QXT_KEYDIR :keydir
CREATE FUNCTION qxt_regress_write_key(file text, content text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('COPY (SELECT %L) TO PROGRAM %L', content,
                 format('tr "~^|" "\r\t\n" > %s', file));
  RETURN file || ' written';
END $$;
SELECT qxt_regress_write_key('qxt_k1', 'regress_keyfile_a000000000000001');

-- Used when it is the server user's own and mode 0600 or 0400 ...
SET qxt.apikey_file = 'qxt_k1';
SELECT fee_type, balance FROM qxt_balance();
\! chmod 400 "$QXT_KEYDIR/qxt_k1"
SELECT fee_type, balance FROM qxt_balance();
-- ... refused while group or others have any access.
\! chmod 640 "$QXT_KEYDIR/qxt_k1"
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
\! chmod 604 "$QXT_KEYDIR/qxt_k1"
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
\! chmod 620 "$QXT_KEYDIR/qxt_k1"
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
\! chmod 600 "$QXT_KEYDIR/qxt_k1"
SELECT balance FROM qxt_balance();
\! test/emulator/emuctl sent regress_keyfile_a000000000000001

-- Rotation needs no restart: the file is read again when it changes, in
-- place (same inode, same size) ...
SELECT qxt_regress_write_key('qxt_k1', 'regress_keyfile_b000000000000001');
SELECT balance FROM qxt_balance();
-- ... or replaced by another file (a new inode of the same size).
SELECT qxt_regress_write_key('qxt_k2', 'regress_keyfile_a000000000000001');
\! mv "$QXT_KEYDIR/qxt_k2" "$QXT_KEYDIR/qxt_k1"
SELECT balance FROM qxt_balance();
-- Surrounding white space (a CRLF line end too) is not part of the key.
SELECT qxt_regress_write_key('qxt_k1', '  regress_keyfile_b000000000000001 ~');
SELECT balance FROM qxt_balance();
\! test/emulator/emuctl sent regress_keyfile_a000000000000001
\! test/emulator/emuctl sent regress_keyfile_b000000000000001

-- It must belong to the server's OS user (here: readable, but another's).
SELECT qxt_regress_write_key('qxt_bad', 'regress_keyfile_a000000000000001');
\! test/security/chown_other.sh "$QXT_KEYDIR/qxt_bad"
\! chmod 644 "$QXT_KEYDIR/qxt_bad"
SET qxt.apikey_file = 'qxt_bad';
SELECT regexp_replace(qxt_try($$SELECT * FROM qxt_balance()$$), 'user ID [0-9]+', 'user ID N', 'g');
\! rm -f "$QXT_KEYDIR/qxt_bad"
-- Missing; a directory; empty; blank; two lines; a control character; a
-- line too long to be a key; a file too large.  No error shows the content
-- (qxt_try checks that no key of the tests appears in its texts).
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SET qxt.apikey_file = '.';
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SET qxt.apikey_file = 'qxt_bad';
SELECT qxt_regress_write_key('qxt_bad', '');
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
-- (a role that may not read settings sees the error, not the file's path)
GRANT EXECUTE ON FUNCTION qxt_balance() TO qxt_regress_analyst;
SET SESSION AUTHORIZATION qxt_regress_analyst;
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION qxt_balance() FROM qxt_regress_analyst;
SELECT qxt_regress_write_key('qxt_bad', '  ^ ~');
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_regress_write_key('qxt_bad', 'regress_keyfile_a000000000000001|regress_keyfile_b000000000000001');
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_regress_write_key('qxt_bad', 'regress_keyfile_a000000000000001~regress_keyfile_b000000000000001');
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_regress_write_key('qxt_bad', E'regress_keyfile_a0000000\x01000000001');
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_regress_write_key('qxt_bad', 'regress_keyfile_a000000000000001^regress_keyfile_a000000000000001');
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_regress_write_key('qxt_bad', repeat('regress_keyfile_a000000000000001', 9));
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_regress_write_key('qxt_bad', repeat('regress_keyfile_a000000000000001 ', 200));
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
-- Nothing was sent with any of them.
\! test/emulator/emuctl sent regress_keyfile_a000000000000001
-- A broken file does not stick: once fixed, it is used at once.
SELECT qxt_regress_write_key('qxt_bad', 'regress_keyfile_a000000000000001');
SELECT balance FROM qxt_balance();

-- Both settings set: an error, never a silent choice.
SET qxt.apikey = 'regress_keyfile_b000000000000001';
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
SELECT qxt_try($$SELECT qxt_carrier('13972565391')$$);
RESET qxt.apikey;
RESET qxt.apikey_file;

-- Why a key file: PostgreSQL shows a key set in a configuration file
-- (postgresql.conf, or ALTER SYSTEM's postgresql.auto.conf) to every role,
-- with SHOW, in a session that has not loaded the library (a placeholder
-- setting, unprotected).  So, unless the library is loaded at server or
-- session start, the extension refuses to use such a key (F0000).
SELECT current_setting('config_file') AS conf \gset
\setenv QXT_CONF :conf
\! printf "qxt.apikey = 'regress_keyconf_0000000000000001'\n" >> "$QXT_CONF"
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
ALTER ROLE qxt_regress_analyst PASSWORD 'regress-only';
\c "dbname=contrib_regression user=qxt_regress_analyst password=regress-only host=localhost"
SELECT qxt_regress_has_key(current_setting('qxt.apikey')) AS readable_before_load;
SELECT qxt_normalize_mobile('13972565391');
SELECT qxt_try($$SHOW qxt.apikey$$);
\c - postgres
SELECT qxt_try($$SELECT * FROM qxt_balance()$$);
-- Loaded at session start (session_preload_libraries, superuser-only), the
-- library replaces the placeholder before any statement: the key is
-- protected in every session, and used.
\! test/emulator/emuctl account regress_keyconf_0000000000000001 --balance 10
ALTER SYSTEM SET session_preload_libraries = 'qxt_portability';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c "dbname=contrib_regression user=qxt_regress_analyst password=regress-only host=localhost"
SELECT qxt_try($$SHOW qxt.apikey$$);
\c - postgres
SELECT balance FROM qxt_balance();
ALTER SYSTEM RESET session_preload_libraries;
\! sed -i '/regress_keyconf_/d' "$QXT_CONF"
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
ALTER ROLE qxt_regress_analyst PASSWORD NULL;
DROP FUNCTION qxt_regress_write_key(text, text);
\! rm -f "$QXT_KEYDIR/qxt_k1" "$QXT_KEYDIR/qxt_bad"
