#!/usr/bin/env bash
# ALTER EXTENSION qxt_portability UPDATE from 1.0 must not run a trigger a
# non-superuser left on qxt_lookups (the 1.0->1.1 script DELETEs from it as
# the superuser).  Run: pg_virtualenv -t -v 15 bash test/upgrade/trigger_escalation.sh
# (extension installed).  Exits 1 when the role became superuser.
set -uo pipefail
export PGDATABASE=postgres
psql -Xq <<'SQL'
CREATE EXTENSION qxt_portability VERSION '1.0';
CREATE ROLE app LOGIN;
GRANT ALL ON qxt_lookups TO app;
GRANT CREATE ON DATABASE postgres TO app;
SET ROLE app;
CREATE SCHEMA app_s;
CREATE FUNCTION app_s.pwn() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'ALTER ROLE app SUPERUSER';
  END IF;
  RETURN NULL;
END $f$;
CREATE TRIGGER pwn BEFORE DELETE ON public.qxt_lookups FOR EACH STATEMENT EXECUTE FUNCTION app_s.pwn();
RESET ROLE;
ALTER EXTENSION qxt_portability UPDATE TO '1.2';
SQL
su="$(psql -XAtq -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'")"
if [ "$su" = "t" ]; then echo "not ok - the upgrade ran app's trigger as superuser"; exit 1; fi
echo "ok - app is not superuser (version $(psql -XAtq -c "SELECT extversion FROM pg_extension WHERE extname = 'qxt_portability'"))"
