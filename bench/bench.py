#!/usr/bin/python3
"""qxt_portability benchmark driver (run it through bench/run.sh).

Needs: Debian's python3 with python3-psycopg2 and python3-matplotlib, a
PostgreSQL 15 cluster reachable through the PG* environment (pg_virtualenv
sets it) with qxt_portability and plpython3u installable, and two emulators:
--lat-url (the vendor's latency model) and --zero-url (no latency).

It writes OUT/results.json and OUT/throughput.png, prints a table, the CPU,
latency, memory and cancel figures, and one closing line per target.
Exit 0 when the run completed (met or not), 1 when the run itself broke.
"""

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import psycopg2
import psycopg2.errors

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EMUCTL = os.path.join(ROOT, "test", "emulator", "emuctl")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("--> %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# emulator control (through emuctl, with this interpreter)
# ---------------------------------------------------------------------------
def emuctl(url, *args):
    env = dict(os.environ, QXT_EMU_URL=url)
    p = subprocess.run([sys.executable, EMUCTL] + list(args), env=env,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("emuctl %s failed: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout.strip()


def new_account(url, tag):
    key = ("bench%s" % tag + uuid.uuid4().hex)[:32]
    emuctl(url, "account", key, "--balance", "100000000")
    return key


def emu_sent(url, key):
    """emuctl sent KEY -> dict of its counters (carrier=, numbers=, charged=, ...)."""
    line = emuctl(url, "sent", key)
    return {k: int(v) for k, v in (f.split("=") for f in line.split())}


def emu_stats(url, key):
    return json.loads(emuctl(url, "stats", key))


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
SETUP_SQL = r"""
CREATE EXTENSION IF NOT EXISTS qxt_portability;
CREATE EXTENSION IF NOT EXISTS plpython3u;

-- The inputs: one array per name, so that building them is never timed.
CREATE TABLE bench_input (name text PRIMARY KEY, arr text[] NOT NULL);

-- Wall time of one statement over an array, measured inside the backend.
CREATE FUNCTION bench_time(q text, arr text[], OUT secs float8, OUT answered bigint)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
  t0 := clock_timestamp();
  EXECUTE q INTO answered USING arr;
  secs := extract(epoch FROM clock_timestamp() - t0);
END $$;

-- Per-row lookups, each one timed inside the backend.
CREATE FUNCTION bench_each(fn text, arr text[], OUT secs float8[], OUT answered int)
LANGUAGE plpgsql AS $$
DECLARE t timestamptz; r record; m text;
BEGIN
  secs := '{}'; answered := 0;
  FOREACH m IN ARRAY arr LOOP
    t := clock_timestamp();
    IF fn = 'qxt' THEN
      SELECT * INTO r FROM qxt_carrier(m);
    ELSE
      SELECT * INTO r FROM py_carrier(m);
    END IF;
    secs := array_append(secs, extract(epoch FROM clock_timestamp() - t)::float8);
    IF r.res IS NOT NULL THEN answered := answered + 1; END IF;
  END LOOP;
END $$;

-- ---------------------------------------------------------------------
-- The outside baseline: what a user would write without this extension.
-- PL/Python + requests; configuration read from two custom settings.
-- ---------------------------------------------------------------------
CREATE TYPE py_carrier_result AS
  (res smallint, mobile text, area text, init_isp text, now_isp text);

CREATE FUNCTION py_carrier(mobile text) RETURNS py_carrier_result
LANGUAGE plpython3u VOLATILE STRICT AS $py$
import requests
s = GD.get('qxt_session')
if s is None:
    s = GD['qxt_session'] = requests.Session()   # keep-alive across calls
cfg = plpy.execute("SELECT current_setting('bench.base_url') AS url, "
                   "current_setting('bench.apikey') AS key")[0]
r = s.post(cfg['url'] + '/carrier',
           data={'apikey': cfg['key'], 'mobile': mobile}, timeout=10)
r.raise_for_status()
j = r.json()
if int(j.get('code', -1)) != 0:
    plpy.error('qxt lookup of %s failed: code %s %s'
               % (mobile, j.get('code'), j.get('reason')))
res = {k.lower(): v for k, v in j['result'].items()}      # Init_isp / Init_Isp
return (int(res['res']), res.get('mobile'), res.get('area'),
        res.get('init_isp'), res.get('now_isp'))
$py$;

CREATE FUNCTION py_carrier_batch(mobiles text[]) RETURNS SETOF py_carrier_result
LANGUAGE plpython3u VOLATILE STRICT AS $py$
import requests
s = GD.get('qxt_session')
if s is None:
    s = GD['qxt_session'] = requests.Session()
cfg = plpy.execute("SELECT current_setting('bench.base_url') AS url, "
                   "current_setting('bench.apikey') AS key")[0]
out = []
for i in range(0, len(mobiles), 1000):                  # the vendor's maximum
    chunk = mobiles[i:i + 1000]
    r = s.post(cfg['url'] + '/carrier_batch',
               json={'ApiKey': cfg['key'], 'PhoneNumbers': chunk}, timeout=30)
    r.raise_for_status()
    j = r.json()
    if isinstance(j, dict):                             # a request-level failure
        plpy.error('qxt batch failed: code %s %s' % (j.get('code'), j.get('reason')))
    for m, e in zip(chunk, j):
        if int(e.get('code', -1)) == 0:
            res = {k.lower(): v for k, v in e['result'].items()}
            out.append((int(res['res']), res.get('mobile'), res.get('area'),
                        res.get('init_isp'), res.get('now_isp')))
        else:
            out.append((None, m, None, None, None))
return out
$py$;
"""


def connect(base_url=None, key=None):
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("LOAD 'qxt_portability'")
    cur.execute("SET client_min_messages = error")   # the batch's -4 WARNINGs etc.
    if base_url:
        configure(cur, base_url, key)
    return conn, cur


def configure(cur, base_url, key):
    cur.execute("SELECT set_config('qxt.base_url', %s, false), "
                "set_config('qxt.apikey', %s, false), "
                "set_config('bench.base_url', %s, false), "
                "set_config('bench.apikey', %s, false)",
                (base_url, key, base_url, key))


def backend_pid(cur):
    cur.execute("SELECT pg_backend_pid()")
    return cur.fetchone()[0]


def proc_cpu(pid):
    """(utime+stime in seconds, on-CPU ns from schedstat or None)."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    ticks = int(rest[11]) + int(rest[12])          # fields 14 and 15
    ns = None
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            ns = int(f.read().split()[0])
    except OSError:
        pass
    return ticks / CLK_TCK, ns


def proc_mem(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])        # kB
    return out


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
def make_numbers(n, dup_share, seed):
    """n elements, about dup_share of them repeats of earlier ones; valid
    numbers '139' + 8 digits, never ending in 0000 (the emulator's -4)."""
    n_dup = int(round(n * dup_share))
    distinct = []
    g = 0
    while len(distinct) < n - n_dup:
        g += 1
        if g % 10000 == 0:
            continue
        distinct.append("139%08d" % g)
    rnd = random.Random(seed)
    arr = distinct + [rnd.choice(distinct) for _ in range(n_dup)]
    rnd.shuffle(arr)
    return arr, len(distinct)


def distinct_numbers(n, start):
    out = []
    g = start
    while len(out) < n:
        g += 1
        if g % 10000 == 0:
            continue
        out.append("139%08d" % g)
    return out


def store(cur, name, arr):
    cur.execute("INSERT INTO bench_input VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET arr = excluded.arr", (name, arr))


# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------
def timed(cur, query, name):
    cur.execute("SELECT * FROM bench_time(%s, (SELECT arr FROM bench_input WHERE name = %s))",
                (query, name))
    secs, answered = cur.fetchone()
    return secs, answered


def run_latency(args, res):
    """The side-by-side table: same numbers, vendor latency model."""
    url = args.lat_url
    arr, n_distinct = make_numbers(args.numbers, 0.05, 20240601)
    n = len(arr)
    chunks = math.ceil(n_distinct / 1000)
    bsec = args.batch_ms / 1000.0
    conn, cur = connect()
    store(cur, "main", arr)
    store(cur, "sample", arr[:args.row_sample])
    rows = []
    res["input"] = {"numbers": n, "distinct": n_distinct, "duplicates": n - n_distinct,
                    "chunks_of_1000": chunks, "single_ms": args.single_ms,
                    "batch_ms": args.batch_ms}
    log("input: %d numbers, %d distinct (%d chunks of 1000), latency %d ms single / %d ms batch"
        % (n, n_distinct, chunks, args.single_ms, args.batch_ms))

    for c in (1, 2, 4, 8):
        key = new_account(url, "c%d" % c)
        configure(cur, url, key)
        cur.execute("SET qxt.batch_concurrency = %d" % c)
        cur.execute("SET qxt.batch_size = 1000")
        log("qxt_carrier_batch, concurrency %d ..." % c)
        secs, answered = timed(cur, "SELECT count(res) FROM qxt_carrier_batch($1)", "main")
        sent = emu_sent(url, key)
        bound = math.ceil(chunks / c) * bsec
        rows.append({"method": "qxt_carrier_batch", "concurrency": c, "numbers": n,
                     "wall_s": secs, "answered": answered, "bound_s": bound,
                     "ratio": secs / bound, "paid": sent["charged"],
                     "sent": sent["numbers"], "requests": sent["carrier_batch"],
                     "max_in_flight": emu_stats_small(url, key)})
    cur.execute("RESET qxt.batch_concurrency")
    cur.execute("RESET qxt.batch_size")

    # per-row qxt_carrier, a sample, extrapolated
    key = new_account(url, "row")
    configure(cur, url, key)
    log("qxt_carrier per row, sample of %d ..." % args.row_sample)
    t0 = time.perf_counter()
    cur.execute("SELECT * FROM bench_each('qxt', (SELECT arr FROM bench_input WHERE name='sample'))")
    each, answered = cur.fetchone()
    sample_wall = time.perf_counter() - t0
    sent = emu_sent(url, key)
    rows.append({"method": "qxt_carrier per row", "numbers": n, "sample": args.row_sample,
                 "sample_wall_s": sum(each), "wall_s": sum(each) * n / args.row_sample,
                 "extrapolated": True, "answered_in_sample": answered,
                 "paid_in_sample": sent["charged"], "paid": None,
                 "call_p50_ms": pct(each, 50) * 1000, "call_p90_ms": pct(each, 90) * 1000,
                 "client_wall_s": sample_wall})

    # the PL/Python baseline: per row (sample) and batched (all)
    key = new_account(url, "pyr")
    configure(cur, url, key)
    log("py_carrier (PL/Python + requests) per row, sample of %d ..." % args.row_sample)
    cur.execute("SELECT * FROM bench_each('py', (SELECT arr FROM bench_input WHERE name='sample'))")
    each, answered = cur.fetchone()
    sent = emu_sent(url, key)
    rows.append({"method": "py_carrier per row", "numbers": n, "sample": args.row_sample,
                 "sample_wall_s": sum(each), "wall_s": sum(each) * n / args.row_sample,
                 "extrapolated": True, "answered_in_sample": answered,
                 "paid_in_sample": sent["charged"], "paid": None,
                 "call_p50_ms": pct(each, 50) * 1000, "call_p90_ms": pct(each, 90) * 1000})

    # It does not deduplicate: it sends every element, in ceil(n / 1000)
    # requests one after another, and its bound counts those.
    key = new_account(url, "pyb")
    configure(cur, url, key)
    log("py_carrier_batch (PL/Python + requests, serial chunks of 1000) ...")
    secs, answered = timed(cur, "SELECT count(res) FROM py_carrier_batch($1)", "main")
    sent = emu_sent(url, key)
    bound1 = math.ceil(n / 1000) * bsec
    rows.append({"method": "py_carrier_batch", "concurrency": 1, "numbers": n,
                 "wall_s": secs, "answered": answered, "bound_s": bound1,
                 "ratio": secs / bound1, "paid": sent["charged"], "sent": sent["numbers"],
                 "requests": sent["carrier_batch"]})
    conn.close()
    res["table"] = rows


def emu_stats_small(url, key):
    try:
        return emu_stats(url, key)["max_in_flight"]
    except Exception:          # noqa: BLE001 - a figure for the log only
        return None


def run_cpu(args, res):
    """Backend CPU per number against the zero-latency emulator."""
    url = args.zero_url
    arr = distinct_numbers(args.cpu_numbers, 30000000)
    conn, cur = connect()
    store(cur, "cpu", arr)
    store(cur, "warm", arr[:2000])
    out = {"numbers": len(arr), "clk_tck": CLK_TCK, "repeats": args.repeats}
    for method, q in (("qxt_carrier_batch", "SELECT count(res) FROM qxt_carrier_batch((SELECT arr FROM bench_input WHERE name = %s))"),
                      ("py_carrier_batch", "SELECT count(res) FROM py_carrier_batch((SELECT arr FROM bench_input WHERE name = %s))")):
        conn.close()
        conn, cur = connect()
        pid = backend_pid(cur)
        key = new_account(url, "cpu")
        configure(cur, url, key)
        cur.execute(q, ("warm",))          # library / interpreter / imports / connections
        cur.fetchall()
        reps = []
        for i in range(args.repeats):
            log("CPU: %s over %d numbers, run %d of %d ..." % (method, len(arr), i + 1, args.repeats))
            c0, ns0 = proc_cpu(pid)
            t0 = time.perf_counter()
            cur.execute(q, ("cpu",))
            answered = cur.fetchone()[0]
            wall = time.perf_counter() - t0
            c1, ns1 = proc_cpu(pid)
            reps.append({"cpu_s": c1 - c0, "wall_s": wall, "answered": answered,
                         "us_per_number": (c1 - c0) / len(arr) * 1e6,
                         "sched_us_per_number": ((ns1 - ns0) / 1000.0 / len(arr))
                         if ns0 is not None else None})
        med = statistics.median(r["us_per_number"] for r in reps)
        sched = [r["sched_us_per_number"] for r in reps if r["sched_us_per_number"] is not None]
        out[method] = {"runs": reps, "median_us_per_number": med,
                       "median_sched_us_per_number": statistics.median(sched) if sched else None,
                       "median_wall_s": statistics.median(r["wall_s"] for r in reps)}
    conn.close()
    res["cpu"] = out


def curl_latency(url, key, numbers):
    """The emulator's own latency for /carrier: one curl process, one kept-alive
    connection, libcurl's time_total per transfer."""
    with tempfile.NamedTemporaryFile("w", suffix=".curlrc", delete=False) as f:
        for i, m in enumerate(numbers):
            if i:
                f.write("next\n")
            f.write('url = "%s/carrier"\n' % url)
            f.write('data = "apikey=%s&mobile=%s"\n' % (key, m))
            f.write('output = "/dev/null"\n')
            f.write('silent\nshow-error\nwrite-out = "%{time_total} %{num_connects}\\n"\n')
        path = f.name
    try:
        p = subprocess.run(["curl", "--noproxy", "*", "--config", path],
                           capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        raise RuntimeError("curl failed: %s" % p.stderr.strip())
    lines = [l.split() for l in p.stdout.split("\n") if l.strip()]
    times = [float(a) for a, _ in lines]
    connects = sum(int(b) for _, b in lines)
    return times, connects


def run_single(args, res):
    """Added latency of one qxt_carrier over the emulator's own (zero-latency
    emulator).  The three series are interleaved in rounds (curl, reuse on,
    reuse off) so that drift of a noisy machine hits them alike."""
    url = args.zero_url
    n = args.single_n
    rounds = 10
    per = max(1, n // rounds)
    warm = 10
    out = {"calls": per * rounds, "rounds": rounds}
    nums = iter(distinct_numbers(per * rounds * 3 + rounds + 2 * warm + 10, 50000000))
    take = lambda k: [next(nums) for _ in range(k)]
    curl_key = new_account(url, "curl")
    sessions = {}
    for reuse in ("on", "off"):
        conn, cur = connect()
        key = new_account(url, "one" + reuse)
        configure(cur, url, key)
        cur.execute("SET qxt.reuse_connections = %s" % reuse)
        cur.execute("SELECT * FROM bench_each('qxt', %s)", (take(warm),))   # warm-up
        sessions[reuse] = (conn, cur, key)
    series = {"curl": [], "on": [], "off": []}
    connects = 0
    log("single lookups: %d rounds of %d calls each for curl, reuse_connections on, off ..."
        % (rounds, per))
    for _ in range(rounds):
        t, c = curl_latency(url, curl_key, take(per + 1))
        series["curl"] += t[1:]              # the first transfer of each curl connects
        connects += c
        for reuse in ("on", "off"):
            cur = sessions[reuse][1]
            cur.execute("SELECT * FROM bench_each('qxt', %s)", (take(per),))
            series[reuse] += cur.fetchone()[0]
    out["emulator_curl"] = {"p50_ms": pct(series["curl"], 50) * 1000,
                            "p90_ms": pct(series["curl"], 90) * 1000,
                            "connections": connects}
    for reuse in ("on", "off"):
        conn, cur, key = sessions[reuse]
        st = emu_stats(url, key)
        out["reuse_" + reuse] = {"p50_ms": pct(series[reuse], 50) * 1000,
                                 "p90_ms": pct(series[reuse], 90) * 1000,
                                 "requests": st["requests"]["carrier"],
                                 "raw_ms": [round(x * 1000, 3) for x in series[reuse]]}
        conn.close()
    out["emulator_curl"]["raw_ms"] = [round(x * 1000, 3) for x in series["curl"]]
    base = out["emulator_curl"]["p50_ms"]
    out["added_p50_ms_reuse_on"] = out["reuse_on"]["p50_ms"] - base
    out["added_p50_ms_reuse_off"] = out["reuse_off"]["p50_ms"] - base
    # cross-check at the vendor's latency: the per-row sample against curl there
    row = next(r for r in res["table"] if r["method"] == "qxt_carrier per row")
    key = new_account(args.lat_url, "curl")
    lt, _ = curl_latency(args.lat_url, key, distinct_numbers(args.lat_curl_n + 1, 90000000))
    lt = lt[1:]
    out["latency_emulator"] = {"curl_p50_ms": pct(lt, 50) * 1000, "curl_calls": len(lt),
                               "qxt_p50_ms": row["call_p50_ms"],
                               "added_p50_ms": row["call_p50_ms"] - pct(lt, 50) * 1000}
    res["single"] = out


def run_memory(args, res):
    url = args.zero_url
    n = args.rss_numbers
    top = n + n // 9999          # generate_series(1, top) minus multiples of 10000 = n numbers
    while top - top // 10000 < n:
        top += 1
    while top - top // 10000 > n:
        top -= 1
    arr_sql = ("ARRAY(SELECT '139' || lpad(g::text, 8, '0') FROM generate_series(1, %d) g "
               "WHERE g %% 10000 <> 0)" % top)
    q = "SELECT count(*), count(res) FROM qxt_carrier_batch(%s)" % arr_sql
    conn, cur = connect()
    key = new_account(url, "rss")
    configure(cur, url, key)
    cur.execute("SELECT qxt_normalize_mobile('13972565391')")
    pid = backend_pid(cur)
    m0 = proc_mem(pid)
    log("memory: %d numbers in one call ..." % n)
    t0 = time.perf_counter()
    cur.execute(q)
    rows, answered = cur.fetchone()
    wall1 = time.perf_counter() - t0
    m1 = proc_mem(pid)
    sent1 = emu_sent(url, key)
    out = {"numbers": n, "rows": rows, "answered": answered, "wall_s": wall1,
           "paid": sent1["charged"], "requests": sent1["carrier_batch"],
           "rss_before_kb": m0["VmRSS"], "hwm_before_kb": m0["VmHWM"],
           "hwm_after_kb": m1["VmHWM"], "rss_after_kb": m1["VmRSS"],
           "growth_mb": (m1["VmHWM"] - m0["VmRSS"]) / 1024.0}

    # cancelled about half way: 50 ms per batch request; the call then takes
    # about wall1 (array, normalising, emulator work) + ceil(chunks/c) x 50 ms,
    # of which the requests are most; (wall1 + that) / 2 lands near the middle
    # of them (the report says how many were sent).
    chunks = math.ceil(n / 1000)
    cur.execute("SHOW qxt.batch_concurrency")
    conc = int(cur.fetchone()[0])
    full = math.ceil(chunks / conc) * 0.050
    timeout_ms = int((wall1 + full) / 2 * 1000)
    key2 = new_account(url, "rsc")
    configure(cur, url + "/_fault/latency=50", key2)
    cur.execute("SET statement_timeout = %d" % timeout_ms)
    log("memory: the same call cancelled by statement_timeout = %d ms (about half way) ..." % timeout_ms)
    t0 = time.perf_counter()
    cancelled = False
    try:
        cur.execute(q)
        cur.fetchall()
    except psycopg2.errors.QueryCanceled:
        cancelled = True
    wallc = time.perf_counter() - t0
    cur.execute("RESET statement_timeout")
    m2 = proc_mem(pid)
    sent2 = emu_sent(url, key2)
    out["cancel"] = {"statement_timeout_ms": timeout_ms, "cancelled": cancelled,
                     "wall_s": wallc, "requests_before_cancel": sent2["carrier_batch"],
                     "of_requests": chunks, "rss_after_kb": m2["VmRSS"]}
    # and a full call again, same session
    key3 = new_account(url, "rs2")
    configure(cur, url, key3)
    log("memory: the full call again in the same session ...")
    t0 = time.perf_counter()
    cur.execute(q)
    rows3, answered3 = cur.fetchone()
    wall3 = time.perf_counter() - t0
    m3 = proc_mem(pid)
    out["again"] = {"rows": rows3, "answered": answered3, "wall_s": wall3,
                    "rss_after_kb": m3["VmRSS"], "hwm_after_kb": m3["VmHWM"]}
    conn.close()
    res["memory"] = out


def run_cancel(args, res):
    url = args.zero_url
    conn, cur = connect()
    store(cur, "cancel", distinct_numbers(800, 80000000))
    cur.execute("SET qxt.batch_size = 100")
    cur.execute("SET qxt.batch_concurrency = 8")
    reps = []
    for i in range(args.cancel_reps):
        key = new_account(url, "cxl")
        configure(cur, url + "/_fault/hang", key)
        cur.execute("SET statement_timeout = '500ms'")
        t0 = time.perf_counter()
        err = None
        try:
            cur.execute("SELECT count(*) FROM qxt_carrier_batch((SELECT arr FROM bench_input WHERE name = 'cancel'))")
            cur.fetchall()
        except psycopg2.Error as e:
            err = e.pgcode
        wall = time.perf_counter() - t0
        cur.execute("RESET statement_timeout")
        st = emu_stats(url, key)
        reps.append({"wall_ms": wall * 1000, "cancel_ms": wall * 1000 - 500, "sqlstate": err,
                     "max_in_flight": st["max_in_flight"],
                     "requests": st["requests"]["carrier_batch"]})
        time.sleep(0.3)     # let the emulator's hung handlers see the disconnects
    conn.close()
    lat = [r["cancel_ms"] for r in reps]
    res["cancel"] = {"runs": reps, "max_ms": max(lat), "median_ms": statistics.median(lat)}


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------
def fmt_int(v):
    return "{:,}".format(v)


def print_report(args, res):
    inp = res["input"]
    n = inp["numbers"]
    print()
    print("qxt_portability benchmark: %s numbers (%s distinct, %s duplicates), emulator latency "
          "%d ms single / %d ms per batch request" % (fmt_int(n), fmt_int(inp["distinct"]),
                                                      fmt_int(inp["duplicates"]), args.single_ms,
                                                      args.batch_ms))
    print("pipeline bound = ceil(requests / concurrency) x %.2f s: qxt_carrier_batch sends ceil(%d/1000) "
          "requests (the distinct numbers), py_carrier_batch ceil(%d/1000) (every element)"
          % (args.batch_ms / 1000, inp["distinct"], n))
    print("%d CPUs; load average %s at the start, %s at the end (other work on the machine skews the CPU and latency figures)"
          % (os.cpu_count(), "/".join(res["loadavg_start"]), "/".join(res["loadavg_end"])))
    print()
    hdr = "%-56s %9s %9s %11s %14s %13s" % ("method", "numbers", "wall s", "numbers/s",
                                             "ratio to bound", "numbers paid")
    print(hdr)
    print("-" * len(hdr))
    for r in res["table"]:
        if r.get("extrapolated"):
            name = "%s (extrapolated from a sample of %d)" % (r["method"], r["sample"])
            paid = "~%s est." % fmt_int(int(round(r["paid_in_sample"] * n / r["sample"])))
            ratio = "-"
        elif r["method"] == "py_carrier_batch":
            name = "py_carrier_batch (serial, 1000 per request)"
            paid = fmt_int(r["paid"])
            ratio = "%.2f (c=1)" % r["ratio"]
        else:
            name = "qxt_carrier_batch  concurrency %d" % r["concurrency"]
            paid = fmt_int(r["paid"])
            ratio = "%.3f" % r["ratio"]
        print("%-56s %9s %9.2f %11.0f %14s %13s" % (name,
                                                    fmt_int(n), r["wall_s"], n / r["wall_s"],
                                                    ratio, paid))
    for r in res["table"]:
        if r.get("extrapolated"):
            print("  %s: sample of %d rows took %.2f s (p50 %.1f ms per call), %d paid in the sample"
                  % (r["method"], r["sample"], r["sample_wall_s"], r["call_p50_ms"],
                     r["paid_in_sample"]))
    print("  numbers paid = charged by the emulator; ours sends each distinct number once (%s), "
          "the PL/Python baseline does not dedupe (pays every duplicate); per-row estimates scale the "
          "sample's payments" % fmt_int(inp["distinct"]))
    print("  emulator max_in_flight per batch run: " + ", ".join(
        "c=%d %s" % (r["concurrency"], r["max_in_flight"]) for r in res["table"]
        if r["method"] == "qxt_carrier_batch"))
    print("  pipeline bounds (s): " + ", ".join("c=%d %.1f" % (r["concurrency"], r["bound_s"])
                                               for r in res["table"]
                                               if r["method"] == "qxt_carrier_batch"))

    cpu = res["cpu"]
    print()
    print("Client CPU (backend utime+stime, zero-latency emulator, %s distinct numbers, median of %d):"
          % (fmt_int(cpu["numbers"]), cpu["repeats"]))
    for m in ("qxt_carrier_batch", "py_carrier_batch"):
        c = cpu[m]
        runs = ", ".join("%.2f" % r["us_per_number"] for r in c["runs"])
        sched = c["median_sched_us_per_number"]
        print("  %-18s %7.2f us/number  (runs: %s; schedstat %s us; wall %.2f s)"
              % (m, c["median_us_per_number"], runs,
                 "%.2f" % sched if sched is not None else "n/a", c["median_wall_s"]))
    print("  (1 clock tick = %.0f ms of CPU = %.2f us/number at this size)"
          % (1000.0 / CLK_TCK, 1e6 / CLK_TCK / cpu["numbers"]))

    s = res["single"]
    print()
    print("Single lookup latency (zero-latency emulator, %d sequential calls per series, interleaved in %d rounds):"
          % (s["calls"], s["rounds"]))
    print("  emulator alone (curl, kept-alive, 1 per round): p50 %.3f ms  p90 %.3f ms  (%d connections)"
          % (s["emulator_curl"]["p50_ms"], s["emulator_curl"]["p90_ms"], s["emulator_curl"]["connections"]))
    for reuse in ("on", "off"):
        r = s["reuse_" + reuse]
        print("  qxt_carrier, reuse_connections=%-3s      : p50 %.3f ms  p90 %.3f ms  added p50 %+.3f ms  (%d requests incl. warm-up)"
              % (reuse, r["p50_ms"], r["p90_ms"], s["added_p50_ms_reuse_" + reuse], r["requests"]))
    le = s["latency_emulator"]
    print("  cross-check at the %d ms emulator: curl p50 %.3f ms (%d calls), qxt_carrier p50 %.3f ms "
          "(the per-row sample), added p50 %+.3f ms" % (args.single_ms, le["curl_p50_ms"], le["curl_calls"],
                                                       le["qxt_p50_ms"], le["added_p50_ms"]))

    m = res["memory"]
    print()
    print("Memory (%s numbers in one qxt_carrier_batch, zero-latency emulator):" % fmt_int(m["numbers"]))
    print("  VmRSS before %.1f MB; VmHWM after %.1f MB; peak growth %.1f MB; call %.1f s, %s rows, %s answered, %s paid"
          % (m["rss_before_kb"] / 1024, m["hwm_after_kb"] / 1024, m["growth_mb"], m["wall_s"],
             fmt_int(m["rows"]), fmt_int(m["answered"]), fmt_int(m["paid"])))
    c = m["cancel"]
    print("  cancelled call (50 ms per request, statement_timeout %d ms): %s after %.2f s, %d of %d requests sent; VmRSS after %.1f MB"
          % (c["statement_timeout_ms"], "cancelled" if c["cancelled"] else "NOT cancelled",
             c["wall_s"], c["requests_before_cancel"], c["of_requests"], c["rss_after_kb"] / 1024))
    a = m["again"]
    print("  full call again, same session: %s answered in %.1f s; VmRSS after %.1f MB (VmRSS after first call %.1f MB)"
          % (fmt_int(a["answered"]), a["wall_s"], a["rss_after_kb"] / 1024, m["rss_after_kb"] / 1024))

    c = res["cancel"]
    print()
    print("Cancel (hang fault, batch_size 100, concurrency 8, 800 numbers, statement_timeout 500 ms, %d runs):"
          % len(c["runs"]))
    print("  statement wall - 500 ms: " + ", ".join("%.1f" % r["cancel_ms"] for r in c["runs"])
          + " ms; max %.1f ms, median %.1f ms" % (c["max_ms"], c["median_ms"]))
    print("  SQLSTATE %s; emulator max_in_flight %s" % (
        ",".join(sorted({str(r["sqlstate"]) for r in c["runs"]})),
        ",".join(str(r["max_in_flight"]) for r in c["runs"])))


def targets(args, res):
    out = []

    def line(name, measured, limit, ok, why=""):
        out.append({"target": name, "measured": measured, "limit": limit, "met": ok, "why": why})

    n = res["input"]["numbers"]
    for c in (4, 8):
        r = next(x for x in res["table"] if x["method"] == "qxt_carrier_batch" and x["concurrency"] == c)
        name = "batch_wall_c%d" % c
        why = ""
        ok = r["ratio"] <= 1.10
        if not ok:
            why = "%.2f s against a bound of %.2f s" % (r["wall_s"], r["bound_s"])
        if n != 20000:
            why = (why + "; " if why else "") + "measured at %d numbers, the target is stated at 20,000" % n
            ok = ok if not args.quick else None
        line(name, "%.3f x bound (%.2f s / %.2f s)" % (r["ratio"], r["wall_s"], r["bound_s"]),
             "1.10 x bound", ok, why)
    r = res["table"]
    paid_ok = all(x["paid"] == res["input"]["distinct"] for x in r if x["method"] == "qxt_carrier_batch")
    cpu = res["cpu"]["qxt_carrier_batch"]["median_us_per_number"]
    line("client_cpu", "%.2f us/number" % cpu, "3 us/number", cpu <= 3.0,
         "" if cpu <= 3.0 else "backend CPU per number in qxt_carrier_batch is above the limit")
    add = res["single"]["added_p50_ms_reuse_on"]
    line("single_added_p50", "%.3f ms" % add, "0.5 ms", add <= 0.5,
         "" if add <= 0.5 else "reused-connection p50 over curl's p50")
    m = res["memory"]
    if m["numbers"] >= 1000000:
        ok = m["growth_mb"] <= 128
        line("rss_1m", "%.1f MB" % m["growth_mb"], "128 MB", ok, "" if ok else "peak RSS growth above the limit")
    else:
        line("rss_1m", "%.1f MB at %d numbers" % (m["growth_mb"], m["numbers"]), "128 MB", None,
             "not measured at 1,000,000 numbers (--quick)")
    cx = res["cancel"]
    inflight = all(x["max_in_flight"] == 8 for x in cx["runs"])
    ok = cx["max_ms"] <= 100 and inflight and all(x["sqlstate"] == "57014" for x in cx["runs"])
    why = ""
    if cx["max_ms"] > 100:
        why = "slowest cancel %.1f ms" % cx["max_ms"]
    if not inflight:
        why = (why + "; " if why else "") + "max_in_flight was not 8 in every run"
    if not all(x["sqlstate"] == "57014" for x in cx["runs"]):
        why = (why + "; " if why else "") + "not every run ended with 57014"
    line("cancel", "max %.1f ms (median %.1f ms)" % (cx["max_ms"], cx["median_ms"]), "100 ms", ok, why)
    if not paid_ok:
        line("batch_paid_once", "paid %s" % [x["paid"] for x in r if x["method"] == "qxt_carrier_batch"],
             "%d distinct" % res["input"]["distinct"], False, "a number was paid twice")
    res["targets"] = out
    return out


def print_targets(res):
    print()
    print("Ratios:")
    for r in res["table"]:
        if r["method"] == "qxt_carrier_batch":
            print("  qxt_carrier_batch c=%d: wall / pipeline bound = %.3f" % (r["concurrency"], r["ratio"]))
    t = {r["method"]: r for r in res["table"]}
    best = min(x["wall_s"] for x in res["table"] if x["method"] == "qxt_carrier_batch")
    print("  py_carrier_batch / best qxt_carrier_batch wall = %.1f x" % (t["py_carrier_batch"]["wall_s"] / best))
    print("  py_carrier per row / best qxt_carrier_batch wall = %.0f x (extrapolated)" % (t["py_carrier per row"]["wall_s"] / best))
    print("  qxt_carrier per row / best qxt_carrier_batch wall = %.0f x (extrapolated)" % (t["qxt_carrier per row"]["wall_s"] / best))
    cpu = res["cpu"]
    print("  client CPU py_carrier_batch / qxt_carrier_batch = %.1f x" % (
        cpu["py_carrier_batch"]["median_us_per_number"] / max(cpu["qxt_carrier_batch"]["median_us_per_number"], 1e-9)))
    print()
    for x in res["targets"]:
        if x["met"] is True:
            verdict = "MET"
        elif x["met"] is None:
            verdict = "NOT CHECKED (%s)" % x["why"]
        else:
            verdict = "NOT MET (%s)" % x["why"]
        print("TARGET %s: %s <= %s  %s" % (x["target"], x["measured"], x["limit"], verdict))


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = res["input"]["numbers"]
    rows = [r for r in res["table"] if r["method"] == "qxt_carrier_batch"]
    cs = [r["concurrency"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    ax.plot(cs, [n / r["bound_s"] for r in rows], "s--", color="grey", lw=1, ms=11,
            mfc="none", zorder=2,
            label="ideal pipeline bound ceil(chunks/c) x %.1f s" % (res["input"]["batch_ms"] / 1000))
    ax.plot(cs, [n / r["wall_s"] for r in rows], "o-", color="tab:blue", lw=2, ms=6, zorder=3,
            label="qxt_carrier_batch (measured)")
    for r in rows:
        ax.annotate("%.0f/s\n%.3f x bound" % (n / r["wall_s"], r["ratio"]),
                    (r["concurrency"], n / r["wall_s"]), textcoords="offset points",
                    xytext=(0, 12), ha="center", fontsize=7, color="tab:blue")
    t = {r["method"]: r for r in res["table"]}
    styles = [("py_carrier_batch", "PL/Python + requests, batched (serial)", "tab:red", "-."),
              ("py_carrier per row", "PL/Python + requests, per row (extrapolated)", "tab:orange", ":"),
              ("qxt_carrier per row", "qxt_carrier per row (extrapolated)", "tab:green", ":")]
    for m, label, color, ls in styles:
        ax.axhline(n / t[m]["wall_s"], color=color, ls=ls,
                   label="%s: %.0f/s" % (label, n / t[m]["wall_s"]))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlim(0.8, 10)
    ax.set_ylim(top=ax.get_ylim()[1] * 2.5)
    ax.set_xticks(cs)
    ax.set_xticklabels([str(c) for c in cs])
    ax.set_xlabel("qxt.batch_concurrency (batch requests in flight)")
    ax.set_ylabel("throughput (numbers / s, log scale)")
    ax.set_title("qxt_portability: %s numbers, vendor latency %d ms single / %.1f s per 1000"
                 % ("{:,}".format(n), res["input"]["single_ms"], res["input"]["batch_ms"] / 1000),
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(0.995, 0.1), framealpha=0.95)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lat-url", required=True)
    ap.add_argument("--zero-url", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--numbers", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--single-ms", type=int, default=100)
    ap.add_argument("--batch-ms", type=int, default=1500)
    args = ap.parse_args()
    if args.quick:
        args.numbers = args.numbers or 4000
        args.row_sample, args.cpu_numbers, args.repeats = 20, 20000, 3
        args.single_n, args.rss_numbers, args.cancel_reps = 50, 100000, 3
        args.lat_curl_n = 10
    else:
        args.numbers = args.numbers or 20000
        args.row_sample, args.cpu_numbers, args.repeats = 100, 100000, 3
        args.single_n, args.rss_numbers, args.cancel_reps = 200, 1000000, 5
        args.lat_curl_n = 30
    args.row_sample = min(args.row_sample, args.numbers)
    os.makedirs(args.out, exist_ok=True)

    res = {"args": {k: v for k, v in vars(args).items() if k not in ("lat_url", "zero_url")},
           "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    conn, cur = connect()
    cur.execute(SETUP_SQL)
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'qxt_portability'")
    res["extversion"] = cur.fetchone()[0]
    cur.execute("SELECT version()")
    res["postgres"] = cur.fetchone()[0]
    conn.close()

    res["loadavg_start"] = open("/proc/loadavg").read().split()[:3]
    run_latency(args, res)
    run_cpu(args, res)
    run_single(args, res)
    run_memory(args, res)
    run_cancel(args, res)
    targets(args, res)
    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    res["loadavg_end"] = open("/proc/loadavg").read().split()[:3]

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=2, ensure_ascii=False)
    plot(res, os.path.join(args.out, "throughput.png"))
    print_report(args, res)
    print()
    print("results: %s, plot: %s" % (os.path.join(args.out, "results.json"),
                                     os.path.join(args.out, "throughput.png")))
    print_targets(res)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:      # noqa: BLE001 - the run itself broke
        import traceback
        traceback.print_exc()
        sys.stderr.write("bench: the run broke: %s\n" % e)
        sys.exit(1)
