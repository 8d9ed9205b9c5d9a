#!/usr/bin/env bash
# Runs the README's pg_cron recipe once, for real: a throwaway cluster with
# pg_cron (Debian's postgresql-15-cron) preloaded, the emulator as vendor,
# a customers table, and the job scheduled every minute until it has run.
# Prints "N passed, M failed" (one test) and exits non-zero on failure.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../scripts/lib.sh"

TMP="$(mktemp -d -t qxt-cron.XXXXXX)"
chmod 755 "$TMP"
trap 'stop_emulator; rm -rf "$TMP"' EXIT
start_emulator "$TMP" || { echo "0 passed, 1 failed"; exit 1; }
python3_shim "$TMP"
export QXT_EMU_URL HERE

pg_virtualenv "${PG_VIRTUALENV_OPTS[@]}" \
    -o "shared_preload_libraries=pg_cron" -o "cron.database_name=postgres" \
    -o "cron.use_background_workers=on" -o "max_worker_processes=16" \
    bash -c '
set -euo pipefail
KEY=cronrecipe0000000000000000000001
"$HERE/../emulator/emuctl" account "$KEY" --balance 1000 >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
CREATE EXTENSION pg_cron;
CREATE EXTENSION qxt_portability;
-- The key and URL the way the README says: the key in a file of the
-- server OS user, mode 0600 (written here by the server itself, umask 077),
-- named by qxt.apikey_file; ALTER SYSTEM, library loaded first.
COPY (SELECT '"'"'$KEY'"'"') TO PROGRAM '"'"'cat > qxt_cron.key'"'"';
LOAD '"'"'qxt_portability'"'"';
ALTER SYSTEM SET qxt.apikey_file = '"'"'qxt_cron.key'"'"';
ALTER SYSTEM SET qxt.base_url = '"'"'$QXT_EMU_URL'"'"';
SELECT pg_reload_conf();
CREATE TABLE customers (id int PRIMARY KEY, phone text, carrier text, ported boolean,
                        carrier_checked_at timestamptz);
INSERT INTO customers (id, phone)
SELECT g, CASE WHEN g % 50 = 0 THEN '"'"'n/a'"'"' ELSE '"'"'+86 139'"'"' || lpad(g::text, 8, '"'"'0'"'"') END
FROM generate_series(1, 500) g;
SQL
psql -X -q -v ON_ERROR_STOP=1 -d postgres -f "$HERE/recipe.sql" >/dev/null
echo "cron: job scheduled every minute; waiting for its first run (up to 150 s)"
for i in $(seq 1 150); do
  st=$(psql -X -At -d postgres -c "SELECT status FROM cron.job_run_details ORDER BY runid DESC LIMIT 1")
  case "$st" in succeeded|failed) break ;; esac
  sleep 1
done
psql -X -d postgres -c "SELECT status, return_message FROM cron.job_run_details ORDER BY runid"
psql -X -d postgres -c "SELECT state, total, invalid, to_look_up, done, paid FROM qxt_refresh_progress"
psql -X -d postgres -c "SELECT count(*) AS customers, count(carrier) AS with_carrier, count(*) FILTER (WHERE ported) AS ported FROM customers"
"$HERE/../emulator/emuctl" sent "$KEY"
ok=$(psql -X -At -d postgres -c "SELECT (SELECT status FROM cron.job_run_details ORDER BY runid DESC LIMIT 1) = '"'"'succeeded'"'"'
  AND (SELECT count(carrier) FROM customers) = 490
  AND (SELECT count(*) FROM customers WHERE carrier IS NULL AND phone <> '"'"'n/a'"'"') = 0
  AND (SELECT state FROM qxt_refresh_progress ORDER BY run_id DESC LIMIT 1) = '"'"'done'"'"'")
psql -X -q -d postgres -c "SELECT cron.unschedule('"'"'qxt-refresh-customers'"'"')" >/dev/null
psql -X -q -d postgres -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null
[ "$ok" = t ]
'
rc=$?
if [ "$rc" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$rc"
