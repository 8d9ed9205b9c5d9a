#!/usr/bin/env python3
"""Regression helper (sql/10_memory.sql): cancel a backend at a moment when
one of its requests is provably in flight, and report what was seen.

  cancel_in_flight.py watch KEY BALANCE CHARGED PID DB REPORT
      Run in the background.  KEY's account starts at BALANCE; the test
      makes its first requests fast and every later one take 120 s, and the
      fast ones can be charged CHARGED numbers at most.  The emulator charges
      a request when it starts serving it, before its latency, so a balance
      below BALANCE - CHARGED means a slow request is being served: from that
      moment the backend waits on a request the emulator cannot have
      answered.  The watcher polls the balance (a cheap call) every 50 ms
      until then, reads the emulator's counters once (requests sent and in
      flight: the proof), and then, in one statement from another session,
      reads the server's clock and sends pg_cancel_backend(PID).  It waits
      until the backend is idle again (pg_stat_activity.state_change, the
      moment its statement ended) and writes REPORT (JSON, by rename, so a
      reader never sees half of it).  After 600 s without that moment it
      cancels anyway and reports "seen": false.
  cancel_in_flight.py report REPORT
      Waits up to 600 s for REPORT and prints it on one line (for psql's
      \\set NAME `...`).
  cancel_in_flight.py counters KEY
      Prints KEY's /carrier_batch requests and in-flight count, one JSON line
      (emuctl stats would print every number sent).

Only loopback traffic: the emulator at $QXT_EMU_URL and the server through
the PG* environment pg_regress runs with.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

WAIT_S = 600


def get(url, path, key):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    q = urllib.parse.urlencode({"apikey": key})
    with opener.open("%s%s?%s" % (url, path, q), timeout=60) as r:
        return json.loads(r.read())


def stats(url, key):
    return get(url, "/_emu/stats", key)


def psql(db, sql):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("psql: %s" % p.stderr.strip())
    return p.stdout.strip()


def watch(key, balance, charged_above, pid, db, report):
    url = os.environ["QXT_EMU_URL"].rstrip("/")
    deadline = time.monotonic() + WAIT_S
    seen = False
    while time.monotonic() < deadline:
        if balance - get(url, "/_emu/accounts", key)["balance"] > charged_above:
            seen = True
            break
        time.sleep(0.05)
    st = stats(url, key)
    # clock_timestamp() is evaluated before pg_cancel_backend() sends the
    # signal (target list order), so the statement cannot have ended before.
    sent_at, ok = psql(db, "SELECT extract(epoch FROM clock_timestamp()), "
                           "pg_cancel_backend(%d)" % pid).split("|")
    ended_ms = None
    while time.monotonic() < deadline + 120:
        row = psql(db, "SELECT state, 1000 * (extract(epoch FROM state_change) - %s) "
                       "FROM pg_stat_activity WHERE pid = %d" % (sent_at, pid))
        if row:
            state, ms = row.split("|")
            if state == "idle" and float(ms) >= 0:
                ended_ms = float(ms)
                break
        time.sleep(0.02)
    out = {"seen": seen, "requests_at_cancel": st.get("requests", {}).get("carrier_batch"),
           "in_flight_at_cancel": st.get("in_flight"), "cancel_sent": ok == "t",
           "cancel_sent_at": sent_at, "ended_ms": ended_ms}
    tmp = report + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, sort_keys=True)
    os.rename(tmp, report)


def show(report):
    deadline = time.monotonic() + WAIT_S + 150
    while not os.path.exists(report):
        if time.monotonic() > deadline:
            print(json.dumps({"error": "no report from the watcher"}))
            return 1
        time.sleep(0.05)
    with open(report) as f:
        print(f.read().strip())
    return 0


def main(argv):
    if len(argv) == 8 and argv[1] == "watch":
        try:
            watch(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6], argv[7])
        except Exception as e:      # noqa: BLE001 - the report says what broke
            with open(argv[7] + ".tmp", "w") as f:
                json.dump({"error": str(e)}, f)
            os.rename(argv[7] + ".tmp", argv[7])
            return 1
        return 0
    if len(argv) == 3 and argv[1] == "report":
        return show(argv[2])
    if len(argv) == 3 and argv[1] == "counters":
        st = stats(os.environ["QXT_EMU_URL"].rstrip("/"), argv[2])
        print(json.dumps({"carrier_batch": st["requests"]["carrier_batch"],
                          "in_flight": st["in_flight"]}, sort_keys=True))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
