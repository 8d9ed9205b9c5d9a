#!/usr/bin/env python3
"""The money suite: every cost scenario under every emulator model.

The vendor's documents leave three questions open, and the emulator answers
each both ways, per key (test/emulator/README.md, "Models"):

  account codes   envelope | elements   (-5 as a whole answer, or as
                                         elements after a partial charge)
  failed lookups  free | charged        (-2/-3/-4 cost a unit or not)
  lost answers    started | yes | no    (is an answer lost after processing
                                         charged)

Each scenario below runs under each of the 12 combinations, with a fresh
emulator key (so its counters are its own), and asserts from the emulator's
per-number counters (charged_numbers, sent) and from qxt_lookups:

  payments   a batch with duplicates, invalid numbers and -4 numbers;
             single lookups in a LATERAL join over duplicates; the (f()).*
             trap (also on a -4 number); a single lookup and a batch in one
             statement: every distinct number is sent once, and charged
             exactly what the model charges for one lookup of it.
  resume     qxt_refresh over 1000 distinct numbers on a balance of 437:
             QX005 (under elements after a partial charge), top-up, rerun:
             each number charged at most once across both runs, every
             charged number in qxt_lookups.
  cancel     qxt_refresh cancelled (pg_cancel_backend) while requests are
  terminate  in flight, or terminated (pg_terminate_backend): the requests
             in flight are waited for and kept; rerun: each number charged
             at most once, every charged number in qxt_lookups.
  lost:F     an answer lost after the request was sent (F = chargedrop,
             close, empty, truncated, closemid, hang): qxt_refresh raises
             (08006; QX103 for an empty body, QX101 for a hang), sends
             nothing twice, keeps the other answers; the rerun asks again
             exactly the numbers of the lost request, and those are charged
             twice exactly when the model charges that fault.

Prints a table of payments per distinct number (max / mean over the
scenario's numbers) per model and scenario, and ends with
"N passed, M failed" (one test per model and scenario).  Needs QXT_EMU_URL
(the emulator) and a PostgreSQL server with the extension installed, where
the libpq environment points (pg_virtualenv), as a superuser.  Standard
library only.

    test/money/money.py [--models envelope/free/started,...] [--scenarios payments,resume,...]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

EMU = os.environ.get("QXT_EMU_URL", "")
DB = "qxt_money"
# Scenarios run in WORKERS threads, each on a database of its own (one
# qxt_refresh per database at a time, and qxt_lookups is per database);
# most of a scenario's time is spent waiting for the emulator.
WORKERS = 2
_local = threading.local()


def current_db():
    return getattr(_local, "db", DB)
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

ACCOUNT_CODES = ("envelope", "elements")
FAILED = (("free", False), ("charged", True))
DROPS = ("started", "yes", "no")
MODELS = [(a, f, d) for a in ACCOUNT_CODES for f in FAILED for d in DROPS]

LOST_FAULTS = ("chargedrop", "close", "empty", "truncated", "closemid", "hang")
SCENARIOS = ("payments", "resume", "cancel", "terminate") + tuple(
    "lost:" + f for f in LOST_FAULTS)


# ---------------------------------------------------------------------------
# The emulator's control API
# ---------------------------------------------------------------------------

def emu(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(EMU + path, data=data, method=method)
    with OPENER.open(req, timeout=30) as r:
        return json.loads(r.read().decode("utf-8"))


def stats(key):
    return emu("GET", "/_emu/stats?apikey=" + key)


def fresh_key(scenario, model_index):
    """A key of its own per scenario and model (32 characters)."""
    tag = re.sub(r"[^a-z]", "", scenario)[:14]
    return ("money%s%02d" % (tag, model_index)).ljust(32, "0")


def prepare_key(key, model, balance):
    codes, (_, failed_charged), drops = model
    emu("POST", "/_emu/reset", {"apikey": key})
    emu("POST", "/_emu/accounts", {"apikey": key, "balance": balance,
                                   "fee_type": "prepaid", "disabled": False})
    # After the reset: a reset puts the model back to the defaults.
    got = emu("POST", "/_emu/model", {"apikey": key, "defaults": True,
                                      "account_codes": codes,
                                      "failed_charged": failed_charged,
                                      "drop_charges": drops})
    assert got["account_codes"] == codes and got["drop_charges"] == drops, got


# ---------------------------------------------------------------------------
# psql
# ---------------------------------------------------------------------------

def psql_args():
    return ["psql", "-X", "-q", "-At", "-d", current_db(), "-v", "VERBOSITY=verbose"]


def session(key, fault="", batch_size=None, concurrency=None, extra=()):
    """The statements that set a session up for one scenario."""
    lines = ["LOAD 'qxt_portability';",
             "SET client_min_messages = warning;",
             "SET qxt.apikey = '%s';" % key]
    if fault:
        lines.append("SET qxt.base_url = '%s/_fault/%s';" % (EMU, fault))
    if batch_size:
        lines.append("SET qxt.batch_size = %d;" % batch_size)
    if concurrency:
        lines.append("SET qxt.batch_concurrency = %d;" % concurrency)
    lines.extend(extra)
    return "\n".join(lines) + "\n"


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def states(self):
        """SQLSTATEs of the ERRORs and FATALs psql printed."""
        # psql -f prefixes "psql:FILE:LINE: "
        return re.findall(r"^(?:psql:.*?:\d+: )?(?:ERROR|FATAL):\s+([0-9A-Z]{5}):",
                          self.err, re.M)


LEAKS = []


def psql(script, key=None, timeout=180):
    p = subprocess.run(psql_args(), input=script, text=True, capture_output=True,
                       timeout=timeout)
    r = Result(p.returncode, p.stdout, p.stderr)
    if key and (key in p.stdout or key in p.stderr):
        LEAKS.append(key)
    return r


def query(sql):
    r = psql(sql + ";\n")
    if r.rc != 0 or r.states():
        raise RuntimeError("query failed: %s\n%s" % (sql, r.err))
    return [line for line in r.out.splitlines() if line != ""]


# Appended to a script after its CALL: the run's final state and what
# qxt_lookups holds, read by the same psql (one process less per run).
REPORT = """
SELECT 'run|' || state || '|' || coalesce(message, '') FROM qxt_refresh_runs
ORDER BY run_id DESC LIMIT 1;
SELECT 'row|' || mobile || '|' || code FROM qxt_lookups;
"""


def report(out):
    """(state, message, {mobile: code}) from the lines REPORT printed."""
    state = message = None
    rows = {}
    for line in out.splitlines():
        if line.startswith("run|"):
            _, state, message = line.split("|", 2)
        elif line.startswith("row|"):
            _, m, c = line.split("|")
            rows[m] = int(c)
    return state, message, rows


# ---------------------------------------------------------------------------
# What the vendor charges, per model
# ---------------------------------------------------------------------------

def fails(n):
    """The emulator answers -4 for a number ending in 0000."""
    return n.endswith("0000")


def chargeable(n, model):
    return not fails(n) or model[1][1]


def fault_charged(fault, model):
    """Whether the emulator charges a request lost to `fault` (its README's
    table "Faults and charges")."""
    drops = model[2]
    if fault == "chargedrop":
        return True
    if fault in ("close", "empty", "hang"):
        return drops == "yes"
    if fault in ("truncated", "closemid"):
        return drops != "no"
    raise ValueError(fault)


# The SQLSTATE qxt_refresh raises for each lost answer.
LOST_STATE = {"chargedrop": "08006", "close": "08006", "truncated": "08006",
              "closemid": "08006", "empty": "QX103", "hang": "QX101"}


class Check:
    """Collects the failed assertions of one scenario."""

    def __init__(self):
        self.problems = []

    def that(self, ok, what):
        if not ok:
            self.problems.append(what)
        return ok

    def equal(self, got, want, what):
        return self.that(got == want, "%s: got %r, want %r" % (what, got, want))


def charges_match(check, charged, expected, what):
    """charged_numbers must be exactly `expected` (numbers charged 0 times
    left out of both)."""
    want = {n: c for n, c in expected.items() if c}
    got = {n: c for n, c in charged.items() if c}
    if got == want:
        return True
    wrong = sorted(set(got) | set(want), key=lambda n: (got.get(n, 0) == want.get(n, 0), n))
    detail = ", ".join("%s charged %d, expected %d" % (n, got.get(n, 0), want.get(n, 0))
                       for n in wrong[:6] if got.get(n, 0) != want.get(n, 0))
    n_wrong = sum(1 for n in wrong if got.get(n, 0) != want.get(n, 0))
    check.that(False, "%s: %d numbers charged other than expected (%s)" % (what, n_wrong, detail))
    return False


# ---------------------------------------------------------------------------
# Number sets (each scenario's own prefix; 0000 at the end means -4)
# ---------------------------------------------------------------------------

def numbers(prefix, count, fail_every):
    out = []
    for g in range(1, count + 1):
        tail = "0000" if g % fail_every == 0 else "%04d" % (g % 9000 + 1000)
        out.append("%s%04d%s" % (prefix, g, tail))
    return out


RESUME_NUMBERS = numbers("150", 1000, 40)
CANCEL_NUMBERS = numbers("151", 1000, 50)
LOST_NUMBERS = numbers("152", 400, 30)


def setup_database(db):
    subprocess.run(["dropdb", "--if-exists", db], check=True, capture_output=True)
    subprocess.run(["createdb", db], check=True, capture_output=True)

    def values(ns):
        return ",".join("('%s')" % n for n in ns)
    script = """
CREATE EXTENSION qxt_portability;
ALTER DATABASE %(db)s SET qxt.base_url = '%(emu)s';
-- resume: 1000 distinct numbers, 50 of them again as +86, a NULL and junk
CREATE TABLE resume_phones (phone text);
INSERT INTO resume_phones VALUES %(resume)s;
INSERT INTO resume_phones SELECT '+86 ' || phone FROM resume_phones LIMIT 50;
INSERT INTO resume_phones VALUES (NULL), ('n/a');
CREATE TABLE cancel_phones (phone text);
INSERT INTO cancel_phones VALUES %(cancel)s;
CREATE TABLE lost_phones (phone text);
INSERT INTO lost_phones VALUES %(lost)s;
-- payments: LATERAL over duplicates, and the (f()).* trap
CREATE TABLE lateral_phones (id int, phone text);
INSERT INTO lateral_phones
SELECT g, (ARRAY['1392222000', '+86 139 2222 000', '0086-1392222000'])[g %% 3 + 1] || (g %% 4 + 1)
FROM generate_series(1, 12) g;
CREATE TABLE trap_phones (phone text);
INSERT INTO trap_phones VALUES ('13933330001'), ('13933330002'), ('139 3333 0003'),
  ('13933330004'), ('+86 13933330001');
""" % {"db": db, "emu": EMU, "resume": values(RESUME_NUMBERS),
       "cancel": values(CANCEL_NUMBERS), "lost": values(LOST_NUMBERS)}
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db],
                       input=script, text=True, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("setup failed:\n" + r.stderr)


# ---------------------------------------------------------------------------
# Scenarios.  Each returns (check, the scenario's distinct numbers, the
# emulator's charged_numbers at the end).
# ---------------------------------------------------------------------------

# The batch: 15 numbers answered, 3 answered -4, each twice in another
# format; invalid inputs (never sent).
BATCH_OK = ["139123400%02d" % i for i in range(1, 16)]
BATCH_FAIL = ["13912350000", "13912360000", "13912370000"]
BATCH_INPUT = ([n for n in BATCH_OK + BATCH_FAIL]
               + ["+86 %s %s %s" % (n[:3], n[3:7], n[7:]) for n in BATCH_OK + BATCH_FAIL]
               + ["n/a", "123", "12972565391", ""])
LATERAL = ["1392222000%d" % i for i in range(1, 5)]
TRAP = ["1393333000%d" % i for i in range(1, 5)]
TRAP_FAIL = "13944440000"
STATEMENT = ["13955550001", "13955550002"]


def scenario_payments(model, key):
    check = Check()
    prepare_key(key, model, 1000000)
    arr = "ARRAY[%s, NULL]" % ",".join("'%s'" % x for x in BATCH_INPUT)
    script = session(key) + """
SELECT 'batch', count(*), count(res) FROM qxt_carrier_batch(%(arr)s);
SELECT 'lateral', count(*), count(DISTINCT r.mobile)
FROM lateral_phones p CROSS JOIN LATERAL qxt_carrier(p.phone) r;
SELECT 'trap', count(*) FROM (SELECT (qxt_carrier(phone)).* FROM trap_phones) t;
SELECT 'statement', (qxt_carrier('%(s0)s')).now_isp IS NOT NULL,
       (SELECT count(res) FROM qxt_carrier_batch(ARRAY['%(s0)s', '%(s1)s']));
SELECT 'trapfail', (qxt_carrier('%(tf)s')).*;
""" % {"arr": arr, "s0": STATEMENT[0], "s1": STATEMENT[1], "tf": TRAP_FAIL}
    r = psql(script, key)
    out = r.out.splitlines()
    check.that("batch|%d|%d" % (len(BATCH_INPUT) + 1, 2 * len(BATCH_OK)) in out,
               "batch rows: %r" % [x for x in out if x.startswith("batch")])
    check.that("lateral|12|4" in out, "lateral rows: %r" % [x for x in out if x.startswith("lateral")])
    check.that("trap|5" in out, "trap rows: %r" % [x for x in out if x.startswith("trap|")])
    check.that("statement|t|2" in out, "statement row: %r" % [x for x in out if x.startswith("statement")])
    check.equal(r.states(), ["QX004"], "errors (only the -4 number's single lookup)")
    s = stats(key)
    asked = BATCH_OK + BATCH_FAIL + LATERAL + TRAP + [TRAP_FAIL] + STATEMENT
    check.equal(s["sent"], {n: 1 for n in asked},
                "numbers sent (each distinct valid number once, nothing invalid)")
    charges_match(check, s["charged_numbers"],
                  {n: int(chargeable(n, model)) for n in asked}, "payments")
    return check, asked, s["charged_numbers"]


def scenario_resume(model, key):
    check = Check()
    balance = 437
    prepare_key(key, model, balance)
    call = "CALL qxt_refresh('SELECT phone FROM resume_phones');\n"
    r1 = psql("TRUNCATE qxt_lookups;\n" + session(key, batch_size=100, concurrency=4) + call
              + REPORT, key)
    check.equal(r1.states(), ["QX005"], "first run's error")
    state, _, rows1 = report(r1.out)
    check.equal(state, "failed", "first run's state")
    s1 = stats(key)
    charged1 = {n for n, c in s1["charged_numbers"].items() if c}
    check.that(charged1 <= set(rows1),
               "after the first run, %d charged numbers have no row in qxt_lookups"
               % len(charged1 - set(rows1)))
    if model[0] == "elements":
        # The -5 came as elements after a partial charge: every unit of the
        # balance was spent, and those answers are kept.
        check.equal(s1["balance"], 0, "balance after the first run (elements: partial charge)")
    else:
        check.that(s1["balance"] > 0,
                   "envelope: the refused request charged nothing (balance %r)" % s1["balance"])
    emu("POST", "/_emu/accounts", {"apikey": key, "balance": 1000000})
    r2 = psql(session(key, batch_size=100, concurrency=4) + call + REPORT, key)
    check.equal(r2.states(), [], "second run's errors")
    state, _, rows = report(r2.out)
    check.equal(state, "done", "second run's state")
    s = stats(key)
    check.equal(len(rows), len(RESUME_NUMBERS), "rows in qxt_lookups after both runs")
    check.that(set(s["charged_numbers"]) <= set(rows), "a charged number has no row")
    resent = [n for n in charged1 if s["sent"].get(n, 0) > 1]
    check.equal(resent, [], "numbers charged in the first run and sent again")
    charges_match(check, s["charged_numbers"],
                  {n: int(chargeable(n, model)) for n in RESUME_NUMBERS}, "resume")
    return check, RESUME_NUMBERS, s["charged_numbers"]


def scenario_interrupt(model, key, how):
    """cancel or terminate a run while requests are in flight, then rerun."""
    check = Check()
    prepare_key(key, model, 1000000)
    query("TRUNCATE qxt_lookups")
    call = "CALL qxt_refresh('SELECT phone FROM cancel_phones');\n"
    # 4 requests of 50 numbers in flight at a time, 400 ms each: five
    # windows of 200 numbers.
    script = session(key, fault="latency=400", batch_size=50, concurrency=4) + call
    # From a file, statement by statement (one -c string would be one
    # transaction, where qxt_refresh cannot run).
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    proc = subprocess.Popen(psql_args() + ["-f", f.name], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt just after the second window's requests went out (the
    # emulator counts a request, and has it in flight, once it is read).
    deadline = time.monotonic() + 60
    seen = None
    while time.monotonic() < deadline:
        s = stats(key)
        if s["requests"]["carrier_batch"] >= 5 and s["in_flight"] >= 1:
            seen = s
            break
        time.sleep(0.005)
    if not check.that(seen is not None, "the run never had its second window in flight"):
        proc.kill()
        proc.communicate()
        os.unlink(f.name)
        return check, CANCEL_NUMBERS, stats(key)["charged_numbers"]
    fn = "pg_cancel_backend" if how == "cancel" else "pg_terminate_backend"
    query("SELECT %s(pid) FROM qxt_refresh_runs WHERE state = 'running'" % fn)
    out, err = proc.communicate(timeout=60)
    os.unlink(f.name)
    r1 = Result(proc.returncode, out, err)
    if key in out or key in err:
        LEAKS.append(key)
    check.equal(r1.states(), ["57014"] if how == "cancel" else ["57P01"], "the run's error")
    state, message, rows1 = report(psql(REPORT).out)
    check.equal(state, "cancelled", "the run's state")
    reason = ("cancelled by a query cancel" if how == "cancel" else "cancelled by a terminate")
    check.that(message.startswith(reason), "the run's message: %r" % message)
    # The proof that requests were in flight, and that they were waited for.
    check.that(re.search(r"; the (request|\d+ requests) in flight (was|were) waited for and "
                         r"(its|their) answers kept$", message) is not None,
               "the requests in flight were not waited for: %r" % message)
    s1 = stats(key)
    check.equal(s1["in_flight"], 0, "requests in flight at the emulator after the run")
    charged1 = {n for n, c in s1["charged_numbers"].items() if c}
    check.that(charged1 <= set(rows1),
               "after the %s, %d charged numbers have no row in qxt_lookups"
               % (how, len(charged1 - set(rows1))))
    check.that(len(s1["sent"]) < len(CANCEL_NUMBERS), "the run was not stopped early")
    # The rerun, at full speed.
    r2 = psql(session(key, batch_size=50, concurrency=4) + call + REPORT, key)
    check.equal(r2.states(), [], "the rerun's errors")
    state, _, rows = report(r2.out)
    check.equal(state, "done", "the rerun's state")
    s = stats(key)
    check.equal(len(rows), len(CANCEL_NUMBERS), "rows in qxt_lookups after both runs")
    check.that(set(s["charged_numbers"]) <= set(rows), "a charged number has no row")
    charges_match(check, s["charged_numbers"],
                  {n: int(chargeable(n, model)) for n in CANCEL_NUMBERS}, how)
    return check, CANCEL_NUMBERS, s["charged_numbers"]


def scenario_lost(model, key, fault):
    check = Check()
    prepare_key(key, model, 1000000)
    call = "CALL qxt_refresh('SELECT phone FROM lost_phones');\n"
    # Four requests of 25 numbers in flight; the first the emulator serves
    # loses its answer.
    extra = ("SET qxt.timeout_ms = 500;",) if fault == "hang" else ()
    r1 = psql("TRUNCATE qxt_lookups;\n"
              + session(key, fault=fault + "*1", batch_size=25, concurrency=4, extra=extra)
              + call + REPORT, key)
    check.equal(r1.states(), [LOST_STATE[fault]], "the first run's error")
    state, _, rows1 = report(r1.out)
    check.equal(state, "failed", "the first run's state")
    s1 = stats(key)
    log = emu("GET", "/_emu/requests?apikey=" + key)
    check.equal(len(log), 4, "requests of the first run (one window, nothing after the loss)")
    check.equal([e["numbers"] for e in log], [25, 25, 25, 25], "numbers per request")
    check.equal(max(s1["sent"].values()), 1, "numbers sent twice in the first run")
    lost = set(s1["sent"]) - set(rows1)
    check.equal(len(lost), 25, "numbers sent in the first run without a row (the lost request)")
    charged1 = {n for n, c in s1["charged_numbers"].items() if c}
    check.that(charged1 - lost <= set(rows1),
               "%d numbers charged in the first run (outside the lost request) have no row"
               % len(charged1 - lost - set(rows1)))
    check.equal(len(rows1), 75, "answers kept from the other requests in flight")
    # The rerun.
    r2 = psql(session(key, batch_size=25, concurrency=4) + call + REPORT, key)
    check.equal(r2.states(), [], "the rerun's errors")
    state, _, rows = report(r2.out)
    check.equal(state, "done", "the rerun's state")
    s = stats(key)
    check.equal(len(rows), len(LOST_NUMBERS), "rows in qxt_lookups after both runs")
    resent = {n for n, c in s["sent"].items() if c > 1}
    check.equal(sorted(resent), sorted(lost),
                "numbers the rerun asked again (exactly those of the lost request)")
    twice = fault_charged(fault, model)
    expected = {n: int(chargeable(n, model)) * (2 if twice and n in lost else 1)
                for n in LOST_NUMBERS}
    charges_match(check, s["charged_numbers"], expected, "lost:" + fault)
    return check, LOST_NUMBERS, s["charged_numbers"]


def run_scenario(name, model, key):
    if name == "payments":
        return scenario_payments(model, key)
    if name == "resume":
        return scenario_resume(model, key)
    if name in ("cancel", "terminate"):
        return scenario_interrupt(model, key, name)
    if name.startswith("lost:"):
        return scenario_lost(model, key, name[5:])
    raise ValueError(name)


def model_name(model):
    return "%s/%s/%s" % (model[0], model[1][0], model[2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="", help="comma-separated, e.g. elements/charged/yes")
    ap.add_argument("--scenarios", default="", help="comma-separated, e.g. resume,lost:close")
    args = ap.parse_args()
    if not EMU:
        sys.exit("QXT_EMU_URL is not set")
    models = [m for m in MODELS if not args.models or model_name(m) in args.models.split(",")]
    scenarios = [s for s in SCENARIOS if not args.scenarios or s in args.scenarios.split(",")]
    if not models or not scenarios:
        sys.exit("no model or scenario selected")
    dbs = ["%s_%d" % (DB, w) for w in range(WORKERS)]
    for db in dbs:
        setup_database(db)

    todo = [(mi, model, scen) for mi, model in enumerate(MODELS) if model in models
            for scen in scenarios]
    table = {}
    lock = threading.Lock()
    started = time.monotonic()

    def worker(w):
        _local.db = dbs[w]
        # Whole models to each worker, so each model's table row comes from
        # one database.
        for mi, model, scen in todo:
            if mi % WORKERS != w % WORKERS:
                continue
            key = fresh_key(scen, mi)
            t0 = time.monotonic()
            try:
                check, nums, charged = run_scenario(scen, model, key)
            except Exception as e:  # a broken scenario is a failed test
                check, nums, charged = Check(), [], {}
                check.that(False, "scenario raised %s: %s" % (type(e).__name__, e))
            counts = [charged.get(n, 0) for n in nums]
            cell = (max(counts) if counts else 0,
                    sum(counts) / len(counts) if counts else 0.0, not check.problems)
            with lock:
                table[(model, scen)] = cell
                print("%-4s %-26s %-16s max %d mean %.3f  (%.1f s)"
                      % ("ok" if cell[2] else "FAIL", model_name(model), scen, cell[0], cell[1],
                         time.monotonic() - t0), flush=True)
                for p in check.problems:
                    print("       - " + p, flush=True)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    passed = sum(1 for c in table.values() if c[2])
    failed = len(todo) - passed  # a scenario that left no cell failed too

    print()
    print("Payments per distinct number, max/mean over each scenario's numbers "
          "(! marks a failed scenario):")
    print("  model: account codes / failed lookups / lost answers charged")
    head = "%-26s" % "model" + "".join(" %13s" % s for s in scenarios)
    print(head)
    for model in models:
        line = "%-26s" % model_name(model)
        for scen in scenarios:
            mx, mean, ok = table[(model, scen)]
            line += " %13s" % ("%d/%.3f%s" % (mx, mean, "" if ok else "!"))
        print(line)
    print()
    if LEAKS:
        print("THE APIKEY APPEARED IN psql OUTPUT for: " + ", ".join(sorted(set(LEAKS))))
        failed += 1
    print("%d scenario runs in %.0f s" % (passed + failed, time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
