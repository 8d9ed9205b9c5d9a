#!/usr/bin/env bash
# The search_path attack, inside a pg_virtualenv cluster (see run.sh).
# Uses OUT (a directory for its files), QXT_EMU_URL and PY from run.sh.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EMUCTL="$HERE/../emulator/emuctl"
ENTRIES="$HERE/entry_points.sql"
KEY=attack_key_000000000000000000001

pass=0; fail=0
# check NAME CMD...: runs CMD (output to $OUT/checks.log), counts the result.
check() {
    local name="$1"; shift
    echo "=== $name" >>"$OUT/checks.log"
    if "$@" >>"$OUT/checks.log" 2>&1; then
        echo "ok      $name"; pass=$((pass + 1))
    else
        echo "FAILED  $name (see build/attack/checks.log)"; fail=$((fail + 1))
    fi
}
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
val() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

LOG="$(val -d postgres -c "SELECT f FROM unnest(ARRAY[
         current_setting('data_directory') || '/../../../log/postgresql-15-regress.log']) AS f
       WHERE (pg_stat_file(f, true)).size IS NOT NULL LIMIT 1")"
log_size() { val -d postgres -c "SELECT (pg_stat_file('$LOG')).size"; }
log_since() { val -d postgres -c "SELECT pg_read_file('$LOG', $1, 100000000)"; }

# run_entries DB: every entry point of entry_points.sql, each a check.
run_entries() {
    local db="$1" suffix="$2" name file
    local dir="$OUT/entries"; mkdir -p "$dir"
    rm -f "$dir"/*.sql
    awk -v dir="$dir" '
        /^-- entry: / { n++; name = substr($0, 11); file = sprintf("%s/%02d.sql", dir, n);
                        print "-- " name > file; next }
        file != "" && !/^--/ && NF { print >> file }' "$ENTRIES"
    for file in "$dir"/*.sql; do
        name="$(head -n 1 "$file" | cut -c4-)"
        check "entry point: $name$suffix" sql -d "$db" -f "$file"
    done
}

# --------------------------------------------------------------------------
# The key (a key file), the attacker, an attacked and a clean database.
# --------------------------------------------------------------------------
"$EMUCTL" account "$KEY" --balance 1000000 >/dev/null
sql -d postgres <<SQL
COPY (SELECT '$KEY') TO PROGRAM 'cat > qxt_attack.key';
LOAD 'qxt_portability';
ALTER SYSTEM SET qxt.apikey_file = 'qxt_attack.key';
SELECT pg_reload_conf();
CREATE ROLE qxt_attacker LOGIN;
CREATE DATABASE qxt_attack OWNER qxt_attacker;
CREATE DATABASE qxt_clean;
ALTER DATABASE qxt_attack SET qxt.base_url = '$QXT_EMU_URL';
ALTER DATABASE qxt_clean SET qxt.base_url = '$QXT_EMU_URL';
SQL
for db in qxt_attack qxt_clean; do
    sql -d "$db" -c "CREATE TABLE public.qxt_attack_numbers AS
        SELECT unnest(ARRAY['13972565391', '+86 139 7256 5397', '13800000000', 'junk', NULL,
                            '17012345678', '13972565391']) AS phone"
done
sleep 0.5

# --------------------------------------------------------------------------
# The names our SQL uses, from the code, and the pg_catalog rows behind them.
# --------------------------------------------------------------------------
CAT="$OUT/catalog"; mkdir -p "$CAT"
"$PY" "$HERE/attack.py" names >"$OUT/names.tsv"
sql -d qxt_clean <<SQL
CREATE TEMP TABLE names (kind text, name text);
\copy names FROM '$OUT/names.tsv'
\copy (SELECT oid, format_type(oid, NULL), typtype, typelem, typarray FROM pg_type) TO '$CAT/types.tsv'
\copy (SELECT castsource, casttarget FROM pg_cast WHERE castcontext = 'i') TO '$CAT/casts.tsv'
\copy (SELECT p.oid, p.proname, p.prokind, p.proargtypes::text, p.provariadic, p.proretset, p.prorettype, pg_get_function_result(p.oid) FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname IN (SELECT name FROM names WHERE kind = 'f') ORDER BY p.oid) TO '$CAT/procs.tsv'
\copy (SELECT o.oid, o.oprname, o.oprleft, o.oprright, o.oprresult FROM pg_operator o WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprname IN (SELECT name FROM names WHERE kind = 'o') ORDER BY o.oid) TO '$CAT/ops.tsv'
SQL
echo "attack: $(cut -f2 "$CAT/procs.tsv" | sort -u | wc -l) function names ($(wc -l <"$CAT/procs.tsv") pg_catalog overloads) and $(cut -f2 "$CAT/ops.tsv" | sort -u | wc -l) operator symbols ($(wc -l <"$CAT/ops.tsv") overloads) found in the code"
"$PY" "$HERE/attack.py" plants "$CAT" >"$OUT/plants.sql" 2>"$OUT/plants.count"
cat "$OUT/plants.count"

# --------------------------------------------------------------------------
# Cross-check: what our statements really use.  Everything runs once in the
# clean database with debug_print_parse on; every pg_catalog function and
# operator in those parse trees (and in the extension's stored
# expressions: CHECK, DEFAULT, views) must be named in the generated list,
# or the extractor missed it and the attack would not cover it.
# --------------------------------------------------------------------------
sql -d postgres -c "ALTER DATABASE qxt_clean SET debug_print_parse = on"
start="$(log_size)"
check "clean database: CREATE EXTENSION" sql -d qxt_clean -c "CREATE EXTENSION qxt_portability"
run_entries qxt_clean " (clean database)"
check "clean database: 1.0 + ALTER EXTENSION UPDATE" sql -d qxt_clean \
    -c "DROP EXTENSION qxt_portability" -c "CREATE EXTENSION qxt_portability VERSION '1.0'" \
    -c "ALTER EXTENSION qxt_portability UPDATE"
sql -d postgres -c "ALTER DATABASE qxt_clean RESET debug_print_parse"
log_since "$start" >"$OUT/parse.log"
sql -d qxt_clean <<SQL
\copy (SELECT conbin::text FROM pg_constraint c JOIN pg_depend d ON d.objid = c.conrelid AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'qxt_portability' WHERE c.conbin IS NOT NULL UNION ALL SELECT ad.adbin::text FROM pg_attrdef ad JOIN pg_depend d ON d.objid = ad.adrelid AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'qxt_portability' UNION ALL SELECT r.ev_action::text FROM pg_rewrite r JOIN pg_depend d ON d.objid = r.ev_class AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'qxt_portability') TO '$OUT/stored.txt'
SQL
cat "$OUT/stored.txt" >>"$OUT/parse.log"
sql -d qxt_clean -c "\\copy (SELECT oid, 'f', pronamespace::regnamespace, proname FROM pg_proc UNION ALL SELECT oid, 'o', oprnamespace::regnamespace, oprname FROM pg_operator) TO '$CAT/oids.tsv'"
"$PY" "$HERE/attack.py" used "$OUT/parse.log" "$CAT/oids.tsv" >"$OUT/used.tsv"
# PostgreSQL names these through pg_catalog itself: a serial column's
# default is built as pg_catalog.nextval(...) by the parser.
BUILT_QUALIFIED="f nextval"
crosscheck() {
    local missing=0 kind nsp name
    echo "pg_catalog functions and operators our statements use:"
    while IFS=$'\t' read -r kind nsp name; do
        [ "$nsp" = pg_catalog ] || continue
        if [[ " $BUILT_QUALIFIED " == *" $kind $name "* ]]; then
            echo "  $kind $name   (named pg_catalog.$name by PostgreSQL itself)"
        elif grep -qxF "$(printf '%s\t%s' "$kind" "$name")" "$OUT/names.tsv"; then
            echo "  $kind $name"
        else
            echo "  $kind $name   NOT IN THE GENERATED LIST"; missing=$((missing + 1))
        fi
    done <"$OUT/used.tsv"
    echo "others (the extension's own): $(awk -F'\t' '$2 != "pg_catalog" {printf "%s.%s ", $2, $3}' "$OUT/used.tsv")"
    [ "$(grep -c pg_catalog "$OUT/used.tsv")" -gt 5 ] || { echo "too few parse trees seen"; return 1; }
    [ "$missing" -eq 0 ]
}
check "cross-check: every pg_catalog function/operator used is in the planted list" crosscheck

# --------------------------------------------------------------------------
# The attacker plants, as the database owner (not a superuser), and puts
# public first in the database's search_path.
# --------------------------------------------------------------------------
sql -d qxt_attack -c "SET SESSION AUTHORIZATION qxt_attacker" \
    -c "ALTER DATABASE qxt_attack SET search_path = public, pg_catalog"
psql -X -q -d qxt_attack -f "$OUT/plants.sql" >"$OUT/plants.out" 2>&1
# (harness queries in the attacked database fix their own search_path)
planted="$(val -d qxt_attack -c "SET search_path = pg_catalog" -c "SELECT count(*) FROM pg_proc WHERE proowner = 'qxt_attacker'::regrole AND pronamespace = 'public'::regnamespace")"
operators="$(val -d qxt_attack -c "SET search_path = pg_catalog" -c "SELECT count(*) FROM pg_operator WHERE oprowner = 'qxt_attacker'::regrole")"
echo "attack: planted $planted functions (with $operators operators); $(grep -c ERROR "$OUT/plants.out") variants could not be created (build/attack/plants.out)"
check "the database owner planted (at least 500 functions, 100 operators)" \
    test "$planted" -ge 500 -a "$operators" -ge 100

# --------------------------------------------------------------------------
# The attack: a superuser creates the extension and runs every entry point.
# --------------------------------------------------------------------------
start="$(log_size)"
check "attacked database: CREATE EXTENSION" sql -d qxt_attack -c "CREATE EXTENSION qxt_portability"
# The owner may also shadow the extension's own functions (e.g.
# qxt_carrier_batch(varchar[])) for callers passing other argument types:
# nothing the extension can prevent from inside, so it says so.
warns() {
    local out
    out="$(sql -d qxt_attack -c "DROP EXTENSION qxt_portability" -c "CREATE EXTENSION qxt_portability" 2>&1)"
    echo "$out"
    grep -q 'installed in schema public, where qxt_attacker may create objects' <<<"$out"
}
check "CREATE EXTENSION warns that the database owner may create objects in its schema" warns
run_entries qxt_attack ""
# With grants on the old qxt_refresh (one by the owner WITH GRANT OPTION,
# one by that grantee), so that 1.1 -> 1.2 carries them over under attack.
check "attacked database: 1.0 + ALTER EXTENSION UPDATE" sql -d qxt_attack \
    -c "DROP EXTENSION qxt_portability" -c "CREATE EXTENSION qxt_portability VERSION '1.0'" \
    -c "GRANT EXECUTE ON PROCEDURE public.qxt_refresh(pg_catalog.text, pg_catalog.interval) TO qxt_attacker WITH GRANT OPTION" \
    -c "SET ROLE qxt_attacker" \
    -c "GRANT EXECUTE ON PROCEDURE public.qxt_refresh(pg_catalog.text, pg_catalog.interval) TO PUBLIC" \
    -c "RESET ROLE" \
    -c "ALTER EXTENSION qxt_portability UPDATE"
grants_carried() {
    local out
    out="$(val -d qxt_attack -c "SET search_path = pg_catalog; SELECT pg_catalog.has_function_privilege('public', 'public.qxt_refresh(pg_catalog.text, pg_catalog.interval, pg_catalog.bool)', 'EXECUTE')::pg_catalog.text")"
    echo "PUBLIC may call the 1.2 qxt_refresh: $out"
    [ "$out" = true ]
}
check "attacked database: the grants on qxt_refresh survive 1.1 -> 1.2" grants_carried
sql -d qxt_attack -c "REVOKE EXECUTE ON PROCEDURE public.qxt_refresh(pg_catalog.text, pg_catalog.interval, pg_catalog.bool) FROM qxt_attacker CASCADE" >/dev/null
run_entries qxt_attack " (after 1.0 -> 1.1)"
log_since "$start" >"$OUT/attack.log"
no_plant_ran() {
    if grep -n "QXT-PLANTED-RAN" "$OUT/attack.log" | sort -u -t' ' -k4 | head -n 20; then return 1; fi
    return 0
}
check "no planted object ran" no_plant_ran
check "the database owner is still not a superuser" \
    test "$(val -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'qxt_attacker'")" = f
# ... nor reads the key
owner_reads() {
    local q out bad=0
    for q in "SHOW qxt.apikey" "SHOW qxt.apikey_file" \
             "SELECT pg_catalog.current_setting('qxt.apikey', true)" \
             "SELECT s.* FROM pg_catalog.pg_settings s" \
             "SELECT pg_catalog.pg_read_file(pg_catalog.current_setting('data_directory') OPERATOR(pg_catalog.||) '/qxt_attack.key')" \
             "COPY public.qxt_attack_numbers FROM 'qxt_attack.key'" \
             "SELECT a.query FROM pg_catalog.pg_stat_activity a"; do
        # before and after the library is loaded in the owner's session
        for load in "SELECT 1" "SELECT public.qxt_normalize_mobile('1')"; do
            out="$(val -d qxt_attack -c "SET SESSION AUTHORIZATION qxt_attacker" -c "$load" -c "$q" 2>&1)"
            if grep -qF "$KEY" <<<"$out"; then echo "KEY SHOWN: $q"; bad=1; fi
            echo "$q (after: $load): $(head -c 200 <<<"$out")"
        done
    done
    [ "$bad" -eq 0 ]
}
check "the database owner cannot read the key" owner_reads

# The canary: the plants do work on SQL that names built-ins unqualified.
canary() {
    local out
    out="$(val -d qxt_attack -c "SELECT now()" 2>&1)" && return 1
    echo "$out"
    grep -q "QXT-PLANTED-RAN now()" <<<"$out" || return 1
    out="$(val -d qxt_attack -c "SELECT 100.0 * 5::bigint" 2>&1)" && return 1
    echo "$out"
    grep -q "QXT-PLANTED-RAN operator \*" <<<"$out"
}
check "canary: an unqualified now() and numeric * bigint hit the plants" canary

# --------------------------------------------------------------------------
# The schema's name swapped.  Our statements name the extension's objects
# through its schema, and the owner of that schema (the database's owner)
# may rename it and create another schema under the old name.  A statement
# of ours planned after that would read and write the owner's look-alikes,
# with their triggers and view functions, and qxt_refresh's writes run as
# the extension's owner (a superuser).  Here the database owner, granted
# EXECUTE on qxt_refresh (all a refresher needs), swaps the schema from its
# own source query, between the refresh's checks and its writes; a
# concurrent session can do the same to a superuser's nightly run.  No trap
# may run: the refresh refuses, and the owner is still no superuser.
# --------------------------------------------------------------------------
swap_attack() {
    local out rc
    sql -d qxt_attack <<'SQL'
SET search_path = pg_catalog;
GRANT EXECUTE ON PROCEDURE public.qxt_refresh(text, interval, boolean) TO qxt_attacker;
GRANT SELECT ON public.qxt_attack_numbers TO qxt_attacker;
SET SESSION AUTHORIZATION qxt_attacker;
CREATE FUNCTION public.qxt_swap_trap() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  RAISE LOG 'QXT-SWAP-RAN trigger as %', current_user;
  EXECUTE 'ALTER ROLE qxt_attacker SUPERUSER';
  RETURN NULL;
END $$;
CREATE FUNCTION public.qxt_swap_view_trap() RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  RAISE LOG 'QXT-SWAP-RAN view as %', current_user;
  EXECUTE 'ALTER ROLE qxt_attacker SUPERUSER';
  RETURN true;
END $$;
-- Renames the extension's schema and puts look-alikes under its name, once.
CREATE FUNCTION public.qxt_swap() RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'qxt_swapped') THEN RETURN true; END IF;
  ALTER SCHEMA public RENAME TO qxt_swapped;
  CREATE SCHEMA public;
  CREATE TABLE public.qxt_refresh_runs (run_id bigint, source text, state text, pid int,
    run_by name, started_at timestamptz, updated_at timestamptz, finished_at timestamptz,
    total bigint, invalid bigint, fresh bigint, to_look_up bigint, done bigint, failed bigint,
    paid bigint, message text);
  CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON public.qxt_refresh_runs
    FOR EACH STATEMENT EXECUTE FUNCTION qxt_swapped.qxt_swap_trap();
  CREATE VIEW public.qxt_refresh_progress AS
    SELECT r.* FROM public.qxt_refresh_runs r WHERE qxt_swapped.qxt_swap_view_trap();
  CREATE TABLE public.qxt_lookups_t (mobile text PRIMARY KEY, res int2, area text, init_isp text,
    now_isp text, code int4, looked_up_at timestamptz);
  CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON public.qxt_lookups_t
    FOR EACH STATEMENT EXECUTE FUNCTION qxt_swapped.qxt_swap_trap();
  CREATE VIEW public.qxt_lookups AS
    SELECT l.* FROM public.qxt_lookups_t l WHERE qxt_swapped.qxt_swap_view_trap();
  RAISE LOG 'QXT-SWAP-DONE';
  RETURN true;
END $$;
SQL
    # the refresh, as the owner: its source query makes the swap
    out="$(sql -d qxt_attack -c "SET search_path = pg_catalog" \
        -c "SET SESSION AUTHORIZATION qxt_attacker" \
        -c "CALL public.qxt_refresh('SELECT n.phone FROM public.qxt_attack_numbers n WHERE public.qxt_swap()', NULL)" 2>&1)"
    rc=$?
    echo "$out"
    local swapped super
    # (a refused refresh rolls the swap back with its phase: the log tells)
    swapped="$(log_since "$start" | grep -c "QXT-SWAP-DONE")"
    super="$(val -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'qxt_attacker'")"
    # put everything back (and take back what a trap gave)
    sql -d qxt_attack <<'SQL' >/dev/null 2>&1
SET search_path = pg_catalog;
ALTER ROLE qxt_attacker NOSUPERUSER;
DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'qxt_swapped') THEN
    DROP SCHEMA public CASCADE;
    ALTER SCHEMA qxt_swapped RENAME TO public;
  END IF;
END $$;
DROP FUNCTION public.qxt_swap(), public.qxt_swap_trap(), public.qxt_swap_view_trap();
SQL
    echo "schema swapped: $swapped; the owner became a superuser: $super; CALL exit status: $rc"
    [ "$swapped" -ge 1 ] || { echo "the swap did not happen: the test tested nothing"; return 1; }
    [ "$super" = f ] || return 1
    [ "$rc" -ne 0 ] || { echo "the refresh went on after its schema's name was taken"; return 1; }
    grep -q "42501" <<<"$out" || grep -q "outside the extension's schema" <<<"$out"
}
start="$(log_size)"
check "a swap of the schema's name redirects none of our statements (qxt_refresh)" swap_attack
no_swap_trap() {
    if log_since "$start" | grep -n "QXT-SWAP-RAN"; then return 1; fi
    return 0
}
check "no look-alike under the swapped name ran" no_swap_trap


# --------------------------------------------------------------------------
# The same swap, with look-alikes whose code the planner runs: a function
# declared IMMUTABLE (a lie) in a look-alike view's WHERE is folded, that is
# called, while our statement is planned, before any ExecutorStart hook can
# refuse the plan; there it ran as the extension's owner (a superuser), and
# a COPY TO PROGRAM in it (a second connection, outside the transaction
# that is rolled back) made the database owner a superuser.  Our
# statements must be refused before they are planned.
# --------------------------------------------------------------------------
swap_attack_plan_time() {
    local out rc
    sql -d qxt_attack <<'SQL'
SET search_path = pg_catalog;
GRANT EXECUTE ON PROCEDURE public.qxt_refresh(text, interval, boolean) TO qxt_attacker;
GRANT SELECT ON public.qxt_attack_numbers TO qxt_attacker;
SET SESSION AUTHORIZATION qxt_attacker;
CREATE FUNCTION public.qxt_fold_trap() RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  RAISE LOG 'QXT-FOLD-RAN as %', current_user;
  EXECUTE 'ALTER ROLE qxt_attacker SUPERUSER';
  RETURN true;
END $$;
-- IMMUTABLE, so the planner calls it; it calls the volatile trap (an
-- IMMUTABLE function may not run ALTER ROLE itself).
CREATE FUNCTION public.qxt_fold_trap_imm() RETURNS boolean LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog AS $$
BEGIN
  RETURN qxt_swapped.qxt_fold_trap();
END $$;
CREATE FUNCTION public.qxt_swap2() RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'qxt_swapped') THEN RETURN true; END IF;
  ALTER SCHEMA public RENAME TO qxt_swapped;
  CREATE SCHEMA public;
  CREATE TABLE public.qxt_refresh_runs_t (run_id bigint, source text, state text, pid int,
    run_by name, started_at timestamptz, updated_at timestamptz, finished_at timestamptz,
    total bigint, invalid bigint, fresh bigint, to_look_up bigint, done bigint, failed bigint,
    paid bigint, message text);
  CREATE VIEW public.qxt_refresh_runs AS
    SELECT r.* FROM public.qxt_refresh_runs_t r WHERE qxt_swapped.qxt_fold_trap_imm();
  CREATE VIEW public.qxt_refresh_progress AS
    SELECT r.* FROM public.qxt_refresh_runs_t r WHERE qxt_swapped.qxt_fold_trap_imm();
  CREATE TABLE public.qxt_lookups_t (mobile text PRIMARY KEY, res int2, area text, init_isp text,
    now_isp text, code int4, looked_up_at timestamptz);
  CREATE VIEW public.qxt_lookups AS
    SELECT l.* FROM public.qxt_lookups_t l WHERE qxt_swapped.qxt_fold_trap_imm();
  RAISE LOG 'QXT-SWAP2-DONE';
  RETURN true;
END $$;
SQL
    out="$(sql -d qxt_attack -c "SET search_path = pg_catalog" \
        -c "SET SESSION AUTHORIZATION qxt_attacker" \
        -c "CALL public.qxt_refresh('SELECT n.phone FROM public.qxt_attack_numbers n WHERE public.qxt_swap2()', NULL)" 2>&1)"
    rc=$?
    echo "$out"
    local swapped super ran
    swapped="$(log_since "$start2" | grep -c "QXT-SWAP2-DONE")"
    ran="$(log_since "$start2" | grep -c "QXT-FOLD-RAN")"
    super="$(val -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'qxt_attacker'")"
    sql -d qxt_attack <<'SQL' >/dev/null 2>&1
SET search_path = pg_catalog;
ALTER ROLE qxt_attacker NOSUPERUSER;
DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'qxt_swapped') THEN
    DROP SCHEMA public CASCADE;
    ALTER SCHEMA qxt_swapped RENAME TO public;
  END IF;
END $$;
DROP FUNCTION public.qxt_swap2(), public.qxt_fold_trap_imm(), public.qxt_fold_trap();
SQL
    echo "schema swapped: $swapped; planner-run trap ran: $ran; superuser: $super; CALL exit status: $rc"
    [ "$swapped" -ge 1 ] || { echo "the swap did not happen: the test tested nothing"; return 1; }
    [ "$ran" -eq 0 ] || { echo "a look-alike's function ran while our statement was planned"; return 1; }
    [ "$super" = f ] || return 1
    [ "$rc" -ne 0 ] || { echo "the refresh went on after its schema's name was taken"; return 1; }
    grep -q "outside the extension's schema" <<<"$out"
}
start2="$(log_size)"
check "a swap of the schema's name runs no look-alike code while our statements are planned" \
    swap_attack_plan_time

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
